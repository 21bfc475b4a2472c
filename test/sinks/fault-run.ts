// The fault-injection scenario shared by the CI test (test/sinks/faults.test.ts) and the bench
// (bench/spool-faults.ts). A sequenced generator (gen.ts) feeds real sinks, each behind its
// own spool: a file (written through a FIFO whose reader can be stopped: fifo-file.ts), rsyslog
// over TCP, nats-server with JetStream (Nats-Msg-Id = record id), and rsyslog over RELP (the
// same rsyslogd as TCP, so the same outages; acknowledged per record). While it runs: SIGKILLs of
// the generator at random moments, torn writes appended to the last segment of each spool while
// it is down (partial frames, frames with a bad CRC, garbage: all of them writes that never
// committed), and outages of every server (each on its own random schedule, so they overlap).
// Afterwards every sink is audited: delivered-unique + dropped-by-reason = produced, exactly,
// and every duplicate lies in a range the generator reported.
import { appendFileSync, closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, readSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { encodeFrame } from '../../src/sinks/record-frame.js';
import { FifoFile } from './fifo-file.js';
import type { NatsServer } from './nats-harness.js';
import { parseSeq, record } from './gen.js';
import { reportedResends, runGen, tally, type GenResult } from './gen-run.js';
import { haveRelp, type Rsyslog } from './rsyslog-harness.js';
import { rng } from '../lib/rng.js';

export type FaultSink = 'file' | 'syslog' | 'nats' | 'relp';
/** every sink the machine can run (relp needs rsyslog-relp) */
export function allFaultSinks(): FaultSink[] {
  return haveRelp() ? ['file', 'syslog', 'nats', 'relp'] : ['file', 'syslog', 'nats'];
}

export interface FaultPlan {
  /** which sinks (default allFaultSinks()); servers of sinks not chosen have no outages */
  sinks?: FaultSink[];
  dir: string;
  rsyslog: Rsyslog;
  nats: NatsServer;
  total: number;
  rate: number;
  kills: number;
  /** outages of each server (file, rsyslog, nats-server): count per server and length */
  outages: number;
  outageMs: number;
  /** how rsyslog is taken down */
  outageSignal: NodeJS.Signals;
  /** confirm window of the syslog sink */
  confirmMs: number;
  seed: number;
  /** records per send (default 16) */
  batch?: number;
  /** how long the last generator run may take to deliver what the spools hold (default 120 s) */
  drainMs?: number;
  /**
   * unanswered records of the relp sink (default: the sink's, 128). After a SIGKILL of the
   * agent they are sent again, and rsyslog has usually written them: duplicates per kill are
   * about this plus a batch
   */
  relpWindow?: number;
  /** spool cap for both sinks; small enough and the cap is hit */
  spoolMax?: string;
  /** gap between SIGKILLs instead of random moments (the bench: "SIGKILL every 10 s") */
  killEveryMs?: number;
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
  /** the first missing ranges (neither delivered nor counted), for diagnosis */
  missing: string[];
  /** the first duplicated seqs outside every reported range, for diagnosis */
  unreportedSample: number[];
  /** when the accounting fails: the first output lines that hold a record but are not exactly one
   * (a torn write joined to the next), for diagnosis */
  malformed: string[];
}

export interface FaultReport {
  sinks: SinkAudit[];
  /** outages that happened, per server */
  outagesDone: Record<string, number>;
  kills: number;
  tornInjected: number;
  truncatedBytes: number;
  /** spool open (recovery) times of every start, ms */
  recoveryMs: number[];
  wallMs: number;
  /** the generators' restarts and spool recoveries (log lines), for diagnosis of a failed audit */
  restarts: string[];
  /** per file outage: bytes the output file grew by while its reader was stopped (0: the sink's
   * writes really went through the stopped reader, so the records waited in the spool) */
  fileGrowthWhileDown: number[];
}


const sizeOf = (p: string): number => (existsSync(p) ? statSync(p).size : 0);
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

/** The record seqs in a file's lines (that contain `mark`), read in chunks: files may exceed a string. */
export function seqsInFile(path: string, mark?: string): number[] {
  const out: number[] = [];
  if (!existsSync(path)) return out;
  const fd = openSync(path, 'r');
  try {
    const buf = Buffer.allocUnsafe(16 << 20);
    let rest = '';
    for (;;) {
      const n = readSync(fd, buf, 0, buf.length, null);
      if (n === 0) break;
      const text = rest + buf.toString('utf8', 0, n);
      const lines = text.split('\n');
      rest = lines.pop()!;
      for (const l of lines) {
        if (mark && !l.includes(mark)) continue;
        const q = parseSeq(l);
        if (q !== null) out.push(q);
      }
    }
    if (rest && (!mark || rest.includes(mark))) {
      const q = parseSeq(rest);
      if (q !== null) out.push(q);
    }
  } finally {
    closeSync(fd);
  }
  return out;
}

/** Lines of a sink's output file (with mark, when given) that mention a record but are not
 * exactly one record line: at most `max`, each cut to 240 characters. */
export function malformedLines(path: string, mark?: string, max = 5): string[] {
  const out: string[] = [];
  if (!existsSync(path)) return out;
  for (const l of readFileSync(path, 'utf8').split('\n')) {
    if (out.length >= max) break;
    if ((mark && !l.includes(mark)) || !l.includes('"seq":')) continue;
    const m = /\{"seq":\d{10},"pad":"x*"\}/.exec(l);
    if (!m || l.indexOf('"seq":') !== l.lastIndexOf('"seq":') || !l.endsWith(m[0])) out.push(l.slice(0, 240));
  }
  return out;
}

export async function runFaults(p: FaultPlan): Promise<FaultReport> {
  const log = p.log ?? (() => {});
  const r = rng(p.seed);
  const rs = p.rsyslog;
  const fileOut = join(p.dir, `${p.tag}-file.jsonl`);
  const file = new FifoFile(join(p.dir, `${p.tag}-file.fifo`), fileOut);
  file.start();
  const app = `${p.tag}-syslog`;
  const stream = `${p.tag.toUpperCase()}_FAULTS`;
  // small batches: a SIGKILL during a send re-sends at most one batch (duplicates ≤ batch per kill)
  const cap = `&batch=${p.batch ?? 16}` + (p.spoolMax ? `&spool_max=${p.spoolMax}` : '');
  const chosen = p.sinks ?? allFaultSinks();
  const relpApp = `${p.tag}-relp`;
  const all = [
    // the sink writes into the FIFO (file.fifo); the reader copies it to fileOut, which is audited
    { name: 'file', url: `file://${file.fifo}?spool=${join(p.dir, `${p.tag}-spool-file`)}&spool_segment=1MB${cap}` },
    {
      name: 'syslog',
      url: `syslog+tcp://127.0.0.1:${rs.tcpPort}?app=${app}&spool=${join(p.dir, `${p.tag}-spool-syslog`)}&spool_segment=1MB&confirm_ms=${p.confirmMs}&retry_min=20ms&retry_max=200ms${cap}`,
    },
    {
      name: 'nats',
      url: `nats://127.0.0.1:${p.nats.port}/${p.tag}?stream=${stream}&dup_window=10m&ack_timeout=2s&spool=${join(p.dir, `${p.tag}-spool-nats`)}&spool_segment=1MB&retry_min=20ms&retry_max=200ms${cap}`,
    },
    {
      name: 'relp',
      url: `relp://127.0.0.1:${rs.relpPort}?app=${relpApp}${p.relpWindow ? `&window=${p.relpWindow}` : ''}&spool=${join(p.dir, `${p.tag}-spool-relp`)}&spool_segment=1MB&retry_min=20ms&retry_max=200ms${cap}`,
    },
  ];
  const sinks = all.filter((s) => chosen.includes(s.name as FaultSink));
  const uses = (s: FaultSink): boolean => chosen.includes(s);
  const ckptDir = join(p.dir, `${p.tag}-ckpt`);
  mkdirSync(ckptDir, { recursive: true });
  const cfg = { sinks, total: p.total, rate: p.rate, ckptDir, pad: 60, host: p.tag, boot: 'b1', drainMs: p.drainMs ?? 120_000 };
  const runMs = (p.total / p.rate) * 1000;
  const killAt = p.killEveryMs
    ? Array.from({ length: p.kills }, (_, i) => (i + 1) * p.killEveryMs!)
    : Array.from({ length: p.kills }, () => 300 + r() * runMs * 0.9).sort((a, b) => a - b);
  // each server's outages on its own schedule, never overlapping themselves
  const schedule = (): number[] => {
    const at: number[] = [];
    for (let i = 0; i < p.outages; i++) {
      const slot = runMs / Math.max(1, p.outages);
      at.push(i * slot + r() * Math.max(0, slot - p.outageMs) * 0.9 + 300);
    }
    return at;
  };
  // rsyslog serves both syslog and relp; a server no chosen sink uses has no outages (all three
  // are drawn, so a seed gives the same schedules whichever sinks run)
  const drawn = { file: schedule(), syslog: schedule(), nats: schedule() };
  const outageAt = { file: uses('file') ? drawn.file : [], syslog: uses('syslog') || uses('relp') ? drawn.syslog : [], nats: uses('nats') ? drawn.nats : [] };

  const start = Date.now();
  let stderr = '';
  let torn = 0;
  let kills = 0;
  if (p.downAtStartMs) await rs.stop(p.outageSignal);
  else await rs.start();
  await p.nats.start();
  const outagesDone: Record<string, number> = { file: 0, syslog: 0, nats: 0 };
  let fileAtPause = 0;
  const fileGrowthWhileDown: number[] = [];
  // outages run beside the generator's life and deaths, each server on its own schedule
  const outage = async (name: 'file' | 'syslog' | 'nats', down: () => Promise<void>, up: () => Promise<void>): Promise<void> => {
    for (const at of outageAt[name]) {
      await sleep(Math.max(0, start + at - Date.now()));
      await down();
      log(`${name} down at ${Date.now() - start} ms`);
      await sleep(p.outageMs);
      await up();
      outagesDone[name]!++;
      log(`${name} up at ${Date.now() - start} ms`);
    }
  };
  const outages = Promise.all([
    (async () => {
      if (p.downAtStartMs) {
        await sleep(p.downAtStartMs);
        await rs.start();
        log(`rsyslog up after ${p.downAtStartMs} ms down from the start`);
      }
      await outage('syslog', () => rs.stop(p.outageSignal), () => rs.start());
    })(),
    outage(
      'file',
      async () => {
        await file.pause();
        fileAtPause = sizeOf(fileOut);
      },
      async () => {
        fileGrowthWhileDown.push(sizeOf(fileOut) - fileAtPause);
        file.resume();
      },
    ),
    outage('nats', () => p.nats.stop(), () => p.nats.start()),
  ]);
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
    for (const s of chosen) torn += injectTorn(join(p.dir, `${p.tag}-spool-${s}`), r) > 0 ? 1 : 0;
    log(`generator SIGKILLed at ${Date.now() - start} ms (${kills}/${p.kills}); torn writes injected`);
  }
  await outages;
  await rs.start();
  await p.nats.start();
  file.resume();
  const wallMs = Date.now() - start;
  // the generators' logs (re-sent ranges, recoveries, sink up/down) for diagnosis
  writeFileSync(join(p.dir, `${p.tag}-gen.log`), stderr);

  // what arrived
  const ckpt = (name: string) => JSON.parse(readFileSync(join(ckptDir, `${name}.ckpt`), 'utf8')) as { dropped: Record<string, number> };
  const droppedOf = (name: string) => Object.values(ckpt(name).dropped).reduce((a, b) => a + b, 0);
  const uniqueAtLeast = async (name: string, f: () => Promise<number[]> | number[]): Promise<number[]> => {
    const n = p.total - droppedOf(name);
    let got = await f();
    const end = Date.now() + 15_000;
    while (new Set(got).size < n && Date.now() < end) {
      await sleep(200);
      got = await f();
    }
    return got;
  };
  const fileSeqs = uses('file') ? await uniqueAtLeast('file', () => seqsInFile(fileOut)) : [];
  await file.stop();
  const sysAll = uses('syslog') ? await uniqueAtLeast('syslog', () => seqsInFile(rs.outFile, `|${app}|`)) : [];
  const natsSeqs = uses('nats') ? await uniqueAtLeast('nats', () => p.nats.streamSeqs(stream, parseSeq)) : [];
  const relpSeqs = uses('relp') ? await uniqueAtLeast('relp', () => seqsInFile(rs.relpOutFile, `|${relpApp}|`)) : [];
  const reported = reportedResends(stderr);
  const outputOf: Partial<Record<FaultSink, [string, string?]>> = { file: [fileOut], syslog: [rs.outFile, `|${app}|`], relp: [rs.relpOutFile, `|${relpApp}|`] };
  const audit = (sink: FaultSink, seqs: number[]): SinkAudit => {
    const counts = tally(seqs);
    const mine = reported.filter((x) => x.sink === sink);
    let unreported = 0;
    let outOfRange = 0;
    const unreportedSample: number[] = [];
    for (const [q, n] of counts) {
      if (q < 1 || q > p.total) outOfRange++;
      if (n > 1 && !mine.some((x) => q >= x.from && q <= x.to)) {
        unreported++;
        if (unreportedSample.length < 10) unreportedSample.push(q);
      }
    }
    const missing: string[] = [];
    for (let q = 1; q <= p.total && missing.length < 10; q++) {
      if (counts.has(q)) continue;
      let e = q;
      while (e + 1 <= p.total && !counts.has(e + 1)) e++;
      missing.push(q === e ? `${q}` : `${q}-${e}`);
      q = e;
    }
    return {
      sink,
      missing,
      produced: p.total,
      unique: counts.size,
      arrivals: seqs.length,
      duplicates: seqs.length - counts.size,
      dropped: ckpt(sink).dropped,
      reportedResent: mine.reduce((n, x) => n + x.n, 0),
      unreportedDuplicates: unreported,
      unreportedSample: unreportedSample.sort((a, b) => a - b),
      outOfRange,
      // only where the accounting fails (the cap run's syslog misses what it dropped)
      malformed: counts.size + droppedOf(sink) !== p.total && outputOf[sink] ? malformedLines(...outputOf[sink]!) : [],
    };
  };
  // torn tails cut, and segments whose header never made it to disk (a kill while creating it)
  const truncatedBytes = [...stderr.matchAll(/truncated (\d+) bytes of torn or corrupt tail|has a bad header; removed (\d+) bytes/g)].reduce((n, m) => n + Number(m[1] ?? m[2]), 0);
  const recoveryMs = [...stderr.matchAll(/gen: spools opened in ([\d.]+) ms/g)].map((m) => Number(m[1]));
  void results;
  const seqsOf: Record<FaultSink, number[]> = { file: fileSeqs, syslog: sysAll, nats: natsSeqs, relp: relpSeqs };
  const restarts = stderr.split('\n').filter((l) => /gen: resuming at|truncated \d+ bytes|bad header/.test(l)).slice(0, 40);
  return { sinks: chosen.map((s) => audit(s, seqsOf[s])), outagesDone, kills, tornInjected: torn, truncatedBytes, recoveryMs, wallMs, restarts, fileGrowthWhileDown };
}

