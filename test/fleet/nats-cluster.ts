// A JetStream cluster of real nats-server processes on 127.0.0.1, with private ports, configs
// and store dirs under a temp dir. Nodes can be killed and restarted with the same identity.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePorts } from '../lib/ports.js';

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

interface Node { name: string; client: number; cluster: number; http: number; conf: string; proc?: ChildProcess; log: string[] }

export class NatsCluster {
  readonly dir = mkdtempSync(join(tmpdir(), 'falconet-nats-'));
  readonly nodes: Node[] = [];

  static async start(size: number): Promise<NatsCluster> {
    const c = new NatsCluster();
    const ports = await freePorts(3 * size);
    for (let i = 0; i < size; i++) {
      const [client, cluster, http] = ports.slice(3 * i, 3 * i + 3) as [number, number, number];
      c.nodes.push({ name: `n${i + 1}`, client, cluster, http, conf: '', log: [] });
    }
    for (const n of c.nodes) {
      const store = join(c.dir, n.name);
      mkdirSync(store, { recursive: true });
      const routes = c.nodes.filter((m) => m !== n).map((m) => `"nats-route://127.0.0.1:${m.cluster}"`);
      n.conf = join(c.dir, `${n.name}.conf`);
      writeFileSync(n.conf, [
        `server_name: ${n.name}`,
        `listen: "127.0.0.1:${n.client}"`,
        `http: "127.0.0.1:${n.http}"`,
        `jetstream { store_dir: "${store}", max_memory_store: 64MB, max_file_store: 1GB }`,
        size > 1 ? `cluster { name: falconet-test, listen: "127.0.0.1:${n.cluster}", routes: [${routes.join(', ')}] }` : '',
      ].join('\n'));
    }
    for (const n of c.nodes) c.spawn(n);
    await c.ready();
    return c;
  }

  get servers(): string[] {
    return this.nodes.map((n) => `127.0.0.1:${n.client}`);
  }

  url(path: string, query: string): string {
    return `nats://${this.servers.join(',')}/${path}?${query}`;
  }

  private spawn(n: Node): void {
    const p = spawn('nats-server', ['-c', n.conf], { stdio: ['ignore', 'pipe', 'pipe'] });
    n.log = [];
    const keep = (b: Buffer) => { n.log.push(b.toString()); if (n.log.length > 200) n.log.shift(); };
    p.stdout!.on('data', keep);
    p.stderr!.on('data', keep);
    n.proc = p;
    p.once('exit', (code, sig) => { if (n.proc === p) process.stderr.write(`nats node ${n.name} exited by itself (${code ?? sig}):\n${n.log.slice(-5).join('')}\n`); });
  }

  /**
   * Every running node answers /healthz. `assets` (the default): its streams and consumers are
   * current too; false: only the server's JetStream (`js-server-only`: enabled, current with the
   * meta leader), enough to serve the JetStream API. Catching up a replica that missed writes
   * can take more than 30 s on a loaded 2-core guest, so a test that waits for its records
   * anyway asks for the server only.
   */
  async ready(timeoutMs = 60_000, assets = true): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    const query = assets ? '' : '?js-server-only=true';
    for (const n of this.nodes) {
      if (!n.proc) continue;
      for (;;) {
        try {
          const r = await fetch(`http://127.0.0.1:${n.http}/healthz${query}`);
          if (r.ok) break;
        } catch { /* not listening yet */ }
        if (Date.now() > deadline) throw new Error(`nats node ${n.name} not healthy:\n${n.log.join('')}`);
        await sleep(100);
      }
    }
  }

  /** The JetStream meta leader as a running node's monitoring port says (undefined: none). */
  async metaLeader(): Promise<string | undefined> {
    for (const n of this.nodes) {
      if (!n.proc) continue;
      try {
        const jsz = await (await fetch(`http://127.0.0.1:${n.http}/jsz`)).json() as { meta_cluster?: { leader?: string } };
        return jsz.meta_cluster?.leader || undefined;
      } catch { /* try the next node */ }
    }
    return undefined;
  }

  async kill(name: string): Promise<void> {
    const n = this.nodes.find((x) => x.name === name);
    if (!n?.proc) throw new Error(`no running node ${name}`);
    const p = n.proc;
    n.proc = undefined;
    if (p.exitCode !== null || p.signalCode !== null) return;
    const gone = new Promise<void>((r) => p.once('exit', () => r()));
    p.kill('SIGKILL');
    await gone;
  }

  async restart(name: string): Promise<void> {
    const n = this.nodes.find((x) => x.name === name)!;
    if (n.proc) throw new Error(`node ${name} is running`);
    this.spawn(n);
  }

  async stopAll(): Promise<void> {
    for (const n of this.nodes) if (n.proc) await this.kill(n.name);
  }

  async startAll(): Promise<void> {
    for (const n of this.nodes) if (!n.proc) this.spawn(n);
    await this.ready();
  }

  async close(): Promise<void> {
    await this.stopAll();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
