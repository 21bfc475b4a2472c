// A private nats-server with JetStream for the delivery fault tests: 127.0.0.1, a port chosen
// free at run time, its store under the test's temp dir (file storage: a restart keeps what the
// stream holds). It can be SIGKILLed and restarted on the same port and store.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect, AckPolicy, DeliverPolicy } from 'nats';
import { sleep } from '../fleet/nats-cluster.js';
import { freePorts } from '../lib/ports.js';

export function haveNatsServer(): boolean {
  return existsSync('/usr/sbin/nats-server') || existsSync('/usr/bin/nats-server');
}

export class NatsServer {
  private proc: ChildProcess | null = null;
  private log: string[] = [];
  private constructor(
    readonly port: number,
    private readonly http: number,
    private readonly conf: string,
  ) {}

  static async make(dir: string): Promise<NatsServer> {
    const [port, http] = (await freePorts(2)) as [number, number];
    const store = join(dir, 'nats-store');
    mkdirSync(store, { recursive: true });
    const conf = join(dir, 'nats.conf');
    writeFileSync(conf, [`server_name: faults`, `listen: "127.0.0.1:${port}"`, `http: "127.0.0.1:${http}"`, `jetstream { store_dir: "${store}", max_memory_store: 64MB, max_file_store: 2GB }`].join('\n'));
    return new NatsServer(port, http, conf);
  }

  get running(): boolean {
    return this.proc !== null;
  }

  async start(): Promise<void> {
    if (this.proc) return;
    const p = spawn('nats-server', ['-c', this.conf], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.log = [];
    const keep = (b: Buffer) => {
      this.log.push(b.toString());
      if (this.log.length > 100) this.log.shift();
    };
    p.stdout!.on('data', keep);
    p.stderr!.on('data', keep);
    this.proc = p;
    const deadline = Date.now() + 30_000;
    for (;;) {
      try {
        if ((await fetch(`http://127.0.0.1:${this.http}/healthz`)).ok) return;
      } catch {
        /* not listening yet */
      }
      if (Date.now() > deadline) throw new Error(`nats-server not healthy:\n${this.log.join('')}`);
      await sleep(100);
    }
  }

  /** SIGKILL: the server is gone at once (what it acknowledged is on disk). */
  async stop(): Promise<void> {
    const p = this.proc;
    this.proc = null;
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    const gone = new Promise<void>((r) => p.once('exit', () => r()));
    p.kill('SIGKILL');
    await gone;
  }

  /** The `seq` field of every message the stream holds, in stream order (duplicates included). */
  async streamSeqs(stream: string, parse: (line: string) => number | null): Promise<number[]> {
    const nc = await connect({ servers: `127.0.0.1:${this.port}`, timeout: 5000 });
    try {
      const jsm = await nc.jetstreamManager();
      let total: number;
      try {
        total = (await jsm.streams.info(stream)).state.messages;
      } catch (e) {
        if (/stream not found/i.test((e as Error).message)) return [];
        throw e;
      }
      const js = nc.jetstream();
      await jsm.consumers.add(stream, { durable_name: 'audit', ack_policy: AckPolicy.None, deliver_policy: DeliverPolicy.All });
      const c = await js.consumers.get(stream, 'audit');
      const out: number[] = [];
      while (out.length < total) {
        const batch = await c.fetch({ max_messages: 10_000, expires: 5000 });
        let got = 0;
        for await (const m of batch) {
          got++;
          const q = parse(m.string());
          if (q !== null) out.push(q);
          else out.push(-1);
        }
        if (got === 0) break;
      }
      await jsm.consumers.delete(stream, 'audit');
      return out;
    } finally {
      await nc.close();
    }
  }
}
