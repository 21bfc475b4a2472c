// json-min for process and socket records: the segment writer (KflowdMinWriter.record: cached
// Info*/Proc* segments, Event*/Sock* keys as parts) against the Map writer it replaced
// (toMinJson(kflowdRecord(...))), in alternated rounds of one run, on the records of a process
// storm (FORK, EXEC, MMAP, EXIT per child) and of a connection storm (a CLIENT and a SERVER TCP
// record per connection). Records are decoded once; only encoding is timed. No root.
// Usage: node dist/bench/json-min-records.js [records per kind=80000] [rounds=7]
import { decodeRecords } from '../src/sensor/decode.js';
import type { KernelRecord } from '../src/model/records.js';
import { KflowdMinWriter } from '../src/format/kflowd-min.js';
import { kflowdRecord } from '../src/format/kflowd.js';
import { toMinJson } from '../src/format/json.js';
import type { KflowdFacts } from '../src/format/context.js';
import { procRecord, sockRecord } from '../test/unit/stream-builder.js';

const N = Number(process.argv[2] ?? 80_000);
const ROUNDS = Number(process.argv[3] ?? 7);
const facts: KflowdFacts = {
  host: { hostName: 'vm', hostIP: '192.0.2.2', system: 'Linux', kernel: '6.18', version: 'falconet-bench', bootToRealNs: 1_712_244_873_000_000_000n, startBootNs: 1_000_000_000n },
  users: { user: 'root', group: 'root', fileUser: '', fileGroup: '' },
  interfaces: { tx: '1:lo:00:00:00:00:00:00', rx: '1:lo:00:00:00:00:00:00' },
};

function storm(): KernelRecord[] {
  const out: KernelRecord[] = [];
  let ts = 2_000_000_000n;
  for (let i = 0; out.length < N; i++) {
    const child = 10_000 + i;
    ts += 100_000n;
    const c = { pid: child, ppid: 500, exe: 'true', comm: 'true', procStart: ts };
    for (const b of [
      procRecord({ pid: 500, ppid: 400, exe: 'storm', ts, event: 'FORK', ret: BigInt(child), args: [BigInt(child), BigInt(child), 0x1200011n, ts] }),
      procRecord({ ...c, ts: ts + 50_000n, event: 'EXEC', args: [BigInt(child), 1n], strs: ['/usr/bin/true', '/bin/true', '', '/bin/true\0'] }),
      procRecord({ ...c, ts: ts + 60_000n, event: 'MMAP', ret: 0x7f0000000000n, args: [0n, 4096n, 5n, 0x802n, 3n, 0n], strs: ['/usr/lib/x86_64-linux-gnu/libc.so.6'] }),
      procRecord({ ...c, ts: ts + 90_000n, event: 'EXIT', args: [0n, 1n] }),
    ]) out.push(decodeRecords(b)[0]!);
  }
  return out;
}

function connections(): KernelRecord[] {
  const out: KernelRecord[] = [];
  let ts = 2_000_000_000n;
  for (let i = 0; out.length < N; i++) {
    ts += 100_000n;
    const port = 30_000 + (i % 30_000);
    for (const [role, l, r, lp, rp] of [[0, [127, 9, 0, 1], [127, 0, 0, 1], port, 39153], [1, [127, 0, 0, 1], [127, 9, 0, 1], 39153, port]] as const) {
      const rec = decodeRecords(sockRecord({ pid: 700, exe: 'storm', ts, laddr: [...l] as [number, number, number, number], raddr: [...r] as [number, number, number, number], lport: lp, rport: rp, role, txBytes: 1, rxBytes: 1 }))[0]!;
      if (rec.type === 'sock') {
        rec.tx.flags = role ? [['SYN-ACK', 1], ['ACK', 2], ['PSH-ACK', 1], ['FIN-ACK', 1]] : [['SYN', 1], ['ACK', 2], ['PSH-ACK', 1], ['FIN-ACK', 1]];
        rec.rx.flags = role ? [['SYN', 1], ['ACK', 2], ['PSH-ACK', 1], ['FIN-ACK', 1]] : [['SYN-ACK', 1], ['ACK', 2], ['PSH-ACK', 1], ['FIN-ACK', 1]];
      }
      out.push(rec);
    }
  }
  return out;
}

/** CPU µs per record of encoding recs with enc (the lines' lengths are summed so none is dropped). */
function time(recs: KernelRecord[], enc: (r: KernelRecord, seq: number) => string | null): number {
  let bytes = 0;
  const c = process.cpuUsage();
  for (let i = 0; i < recs.length; i++) bytes += enc(recs[i]!, i + 1)?.length ?? 0;
  const u = process.cpuUsage(c);
  if (bytes === 0) throw new Error('nothing encoded');
  return (u.user + u.system) / recs.length;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;

const w = new KflowdMinWriter();
const kinds = [['process storm (FORK, EXEC, MMAP, EXIT)', storm()], ['connection storm (TCP CLIENT + SERVER)', connections()]] as const;
const segment = (r: KernelRecord, seq: number) => w.record(r, seq, facts);
const map = (r: KernelRecord, seq: number) => { const o = kflowdRecord(r, seq, facts); return o ? toMinJson(o) : null; };
console.log(`json-min of ${N} records per kind, ${ROUNDS} alternated rounds (the first, JIT warm-up, not counted); CPU µs per record, median (min)\n`);
console.log('| records | Map writer (toMinJson(kflowdRecord)) | segment writer (KflowdMinWriter) | ratio |');
console.log('|---|---|---|---|');
for (const [name, recs] of kinds) {
  for (let k = 0; k < recs.length; k++) if (segment(recs[k]!, k) !== map(recs[k]!, k)) throw new Error(`outputs differ at record ${k}`);
  const a: number[] = [], b: number[] = [];
  for (let i = 0; i <= ROUNDS; i++) {
    const first = i % 2 ? [map, segment] : [segment, map];
    const t = first.map((f) => time(recs as KernelRecord[], f));
    if (i === 0) continue;
    (first[0] === map ? a : b).push(t[0]!);
    (first[0] === map ? b : a).push(t[1]!);
  }
  console.log(`| ${name} | ${median(a).toFixed(2)} (${Math.min(...a).toFixed(2)}) | ${median(b).toFixed(2)} (${Math.min(...b).toFixed(2)}) | ${(median(b) / median(a)).toFixed(2)} |`);
}
console.log('\n(outputs compared record by record before timing: identical)');
