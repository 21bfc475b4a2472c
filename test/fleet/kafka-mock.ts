// Builds and runs test/fleet/kafka-mock.c: librdkafka's mock cluster (Debian librdkafka-dev),
// which speaks the Kafka protocol on 127.0.0.1. It is a stand-in, not a Kafka broker.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createInterface, type Interface } from 'node:readline';

const SRC = fileURLToPath(new URL('../../../test/fleet/kafka-mock.c', import.meta.url));

export class KafkaMock {
  private lines: string[] = [];
  private waiters: ((l: string) => void)[] = [];
  private rl: Interface;
  private constructor(private readonly proc: ChildProcess, private readonly dir: string, readonly bootstrap: string[]) {
    this.rl = createInterface({ input: proc.stdout! });
    this.rl.on('line', (l) => { const w = this.waiters.shift(); if (w) w(l); else this.lines.push(l); });
  }

  static async start(brokers: number): Promise<KafkaMock> {
    const dir = mkdtempSync(join(tmpdir(), 'falconet-kmock-'));
    const bin = join(dir, 'kafka-mock');
    execFileSync('gcc', ['-O1', '-o', bin, SRC, '-lrdkafka']);
    const proc = spawn(bin, [String(brokers)], { stdio: ['pipe', 'pipe', 'inherit'] });
    const first = await new Promise<string>((resolve, reject) => {
      const rl = createInterface({ input: proc.stdout! });
      rl.once('line', (l) => { rl.close(); resolve(l); });
      proc.once('exit', (c) => reject(new Error(`kafka mock exited ${c}`)));
    });
    return new KafkaMock(proc, dir, first.split(','));
  }

  async command(cmd: string): Promise<void> {
    const reply = new Promise<string>((r) => { const l = this.lines.shift(); if (l !== undefined) r(l); else this.waiters.push(r); });
    this.proc.stdin!.write(`${cmd}\n`);
    const l = await reply;
    if (l !== 'ok') throw new Error(`kafka mock '${cmd}': ${l}`);
  }

  /** Delays every broker's responses by `ms` (requests are still handled as they arrive). */
  async rtt(ms: number): Promise<void> {
    for (let broker = 1; broker <= this.bootstrap.length; broker++) await this.command(`rtt ${broker} ${ms}`);
  }

  /**
   * Runs `join` (a second member joining a group) with every response 250 ms late. The mock ends
   * a rebalance as soon as the leader's SyncGroup arrives and refuses a follower's later SyncGroup
   * (INVALID_REQUEST, where a Kafka broker hands the follower its assignment). kafkajs's leader
   * fetches metadata before it syncs and a follower syncs at once, so the two SyncGroups came a
   * millisecond or two apart, and a follower in a process just started (cold code) lost that race
   * in most tries here. Each loss restarts its consumer and leaves the old member in the group
   * until its session times out, so rebalances followed one another (a CI run timed out). Late
   * responses put the leader's metadata round trip between the two SyncGroups.
   */
  async whileJoining<T>(join: () => Promise<T>): Promise<T> {
    await this.rtt(250);
    try {
      return await join();
    } finally {
      await this.rtt(0);
    }
  }

  async close(): Promise<void> {
    const gone = new Promise<void>((r) => this.proc.once('exit', () => r()));
    this.proc.stdin!.end('quit\n');
    const t = setTimeout(() => this.proc.kill('SIGKILL'), 3000);
    await gone;
    clearTimeout(t);
    this.rl.close();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
