// The fault-injection scenario shared by the CI test (test/sinks/faults.test.ts) and the bench
// (bench/spool-faults.ts). A sequenced generator (gen.ts) feeds a file sink and rsyslog over TCP,
// each behind its own spool. While it runs: SIGKILLs of the generator at random moments, torn
// writes appended to the last segment of each spool while it is down (partial frames, frames
// with a bad CRC, garbage: all of them writes that never committed), and rsyslog outages.
// Afterwards every sink is audited: delivered-unique + dropped-by-reason = produced, exactly,
// and every duplicate lies in a range the generator reported.
import { appendFileSync, existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { encodeFrame } from '../../src/sinks/record-frame.js';
import { parseSeq, record } from './gen.js';
import { reportedResends, runGen, tally, type GenResult } from './gen-run.js';
import type { Rsyslog } from './rsyslog-harness.js';
import { rng } from '../lib/rng.js';

export interface FaultPlan {
  dir: string;
  rsyslog: Rsyslog;
  total: number;
  rate: number;
  kills: number;
  /** rsyslog outages: count and length */
  outages: number;
  outageMs: number;
  /** how rsyslog is taken down */
  outageSignal: NodeJS.Signals;
  /** confirm window of the syslog sink */
  confirmMs: number;
  seed: number;
  /** records per send (default 16) */
  batch?: number;
  /** spool cap for both sinks; small enough and the cap is hit */
  spoolMax?: string;
  /** rsyslog stays down from the start for this long (to fill the spool) */
  downAtStartMs?: number;
  tag: string;
  log?: (line: string) => void;
}

export interface SinkAudit {
  sink: string;
  produced: number;
  unique: number;
  arrivals: number;
  duplicates: number;
  dropped: Record<string, number>;
  reportedResent: number;
  unreportedDuplicates: number;
  outOfRange: number;
}

export interface FaultReport {
  sinks: SinkAudit[];
  kills: number;
  tornInjected: number;
  truncatedBytes: number;
  /** spool open (recovery) times of every start, ms */
  recoveryMs: number[];
  wallMs: number;
}


const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Appends a write that never committed to the newest segment of a spool; returns its size. */
function injectTorn(spoolDir: string, r: () => number): number {
  if (!existsSync(spoolDir)) return 0;
  const segs = readdirSync(spoolDir).filter((f) => f.endsWith('.seg')).sort();
  if (!segs.length) return 0;
  const path = join(spoolDir, segs.at(-1)!);
  const fake = encodeFrame(record(900_000_000 + Math.floor(r() * 1000), 60, 'torn', 'torn'));
  let piece: Buffer;
  switch (Math.floor(r() * 3)) {
    case 0: // a frame cut short
      piece = fake.subarray(0, 1 + Math.floor(r() * (fake.length - 1)));
      break;
    case 1: {
      // a whole frame whose body did not all reach the disk (CRC fails)
      piece = Buffer.from(fake);
      piece[8 + Math.floor(r() * (piece.length - 8))]! ^= 1 + Math.floor(r() * 255);
      break;
    }
    default: // garbage
      piece = Buffer.from(Array.from({ length: 1 + Math.floor(r() * 200) }, () => Math.floor(r() * 256)));
  }
  appendFileSync(path, piece);
  return piece.length;
}

export async function runFaults(p: FaultPlan): Promise<FaultReport> {
  const log = p.log ?? (() => {});
  const r = rng(p.seed);
  const rs = p.rsyslog;
  const fileOut = join(p.dir, `${p.tag}-file.jsonl`);
  const app = `${p.tag}-syslog`;
  // small batches: a SIGKILL during a send re-sends at most one batch (duplicates ≤ batch per kill)
  const cap = `&batch=${p.batch ?? 16}` + (p.spoolMax ? `&spool_max=${p.spoolMax}` : '');
  const sinks = [
    { name: 'file', url: `file://${fileOut}?spool=${join(p.dir, `${p.tag}-spool-file`)}&spool_segment=1MB${cap}` },
    {
      name: 'syslog',
      url: `syslog+tcp://127.0.0.1:${rs.tcpPort}?app=${app}&spool=${join(p.dir, `${p.tag}-spool-syslog`)}&spool_segment=1MB&confirm_ms=${p.confirmMs}&retry_min=20ms&retry_max=200ms${cap}`,
    },
  ];
  const ckptDir = join(p.dir, `${p.tag}-ckpt`);
  mkdirSync(ckptDir, { recursive: true });
  const cfg = { sinks, total: p.total, rate: p.rate, ckptDir, pad: 60, host: p.tag, boot: 'b1', drainMs: 120_000 };
  const runMs = (p.total / p.rate) * 1000;
  const killAt = Array.from({ length: p.kills }, () => 300 + r() * runMs * 0.9).sort((a, b) => a - b);
  const outageAt = Array.from({ length: p.outages }, () => 300 + r() * runMs * 0.8).sort((a, b) => a - b);

  const start = Date.now();
  let stderr = '';
  let torn = 0;
  let kills = 0;
  if (p.downAtStartMs) await rs.stop(p.outageSignal);
  else await rs.start();
  // rsyslog outages run beside the generator's life and deaths
  const outages = (async () => {
    if (p.downAtStartMs) {
      await sleep(p.downAtStartMs);
      await rs.start();
      log(`rsyslog up after ${p.downAtStartMs} ms down from the start`);
    }
    for (const at of outageAt) {
      await sleep(Math.max(0, start + at - Date.now()));
      await rs.stop(p.outageSignal);
      log(`rsyslog down (${p.outageSignal}) at ${Date.now() - start} ms`);
      await sleep(p.outageMs);
      await rs.start();
      log(`rsyslog up at ${Date.now() - start} ms`);
    }
  })();
  let results: GenResult[] = [];
  for (;;) {
    const g = runGen({ ...cfg, host: p.tag });
    const next = killAt[kills];
    let timer: NodeJS.Timeout | undefined;
    const killNow = new Promise<boolean>((res) => {
      if (next !== undefined) timer = setTimeout(() => res(false), Math.max(0, start + next - Date.now()));
    });
    const ended = await Promise.race([g.done.then(() => true), killNow]);
    clearTimeout(timer);
    if (ended) {
      const d = await g.done;
      stderr += g.stderr;
      if (d.code !== 0) throw new Error(`generator failed (${d.code}): ${g.stderr.slice(-2000)}`);
      results = d.results;
      break;
    }
    await g.kill();
    stderr += g.stderr;
    kills++;
    for (const s of ['file', 'syslog']) torn += injectTorn(join(p.dir, `${p.tag}-spool-${s}`), r) > 0 ? 1 : 0;
    log(`generator SIGKILLed at ${Date.now() - start} ms (${kills}/${p.kills}); torn writes injected`);
  }
  await outages;
  await rs.start();
  const wallMs = Date.now() - start;

  // what arrived
  const fileSeqs = existsSync(fileOut) ? readFileSync(fileOut, 'utf8').split('\n').map(parseSeq).filter((q): q is number => q !== null) : [];
  const want = (n: number, f: () => number[]) => waitFor(() => f().length >= n, 10_000).then(f);
  const ckpt = (name: string) => JSON.parse(readFileSync(join(ckptDir, `${name}.ckpt`), 'utf8')) as { dropped: Record<string, number> };
  const droppedOf = (name: string) => Object.values(ckpt(name).dropped).reduce((a, b) => a + b, 0);
  const sysSeqs = await want(new Set(fileSeqs).size, () => rs.lines().filter((l) => l.includes(`|${app}|`)).map(parseSeq).filter((q): q is number => q !== null));
  void sysSeqs;
  const expectSys = p.total - droppedOf('syslog');
  const sysAll = await want(expectSys, () => rs.lines().filter((l) => l.includes(`|${app}|`)).map(parseSeq).filter((q): q is number => q !== null));
  const reported = reportedResends(stderr);
  const audit = (sink: string, seqs: number[]): SinkAudit => {
    const counts = tally(seqs);
    const mine = reported.filter((x) => x.sink === sink);
    let unreported = 0;
    let outOfRange = 0;
    for (const [q, n] of counts) {
      if (q < 1 || q > p.total) outOfRange++;
      if (n > 1 && !mine.some((x) => q >= x.from && q <= x.to)) unreported++;
    }
    return {
      sink,
      produced: p.total,
      unique: counts.size,
      arrivals: seqs.length,
      duplicates: seqs.length - counts.size,
      dropped: ckpt(sink).dropped,
      reportedResent: mine.reduce((n, x) => n + x.n, 0),
      unreportedDuplicates: unreported,
      outOfRange,
    };
  };
  // torn tails cut, and segments whose header never made it to disk (a kill while creating it)
  const truncatedBytes = [...stderr.matchAll(/truncated (\d+) bytes of torn or corrupt tail|has a bad header; removed (\d+) bytes/g)].reduce((n, m) => n + Number(m[1] ?? m[2]), 0);
  const recoveryMs = [...stderr.matchAll(/gen: spools opened in ([\d.]+) ms/g)].map((m) => Number(m[1]));
  void results;
  return { sinks: [audit('file', fileSeqs), audit('syslog', sysAll)], kills, tornInjected: torn, truncatedBytes, recoveryMs, wallMs };
}

async function waitFor(cond: () => boolean, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!cond() && Date.now() < end) await sleep(50);
}
