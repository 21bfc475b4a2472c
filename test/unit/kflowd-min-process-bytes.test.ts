// The byte writer of json-min process records (a process storm's FORK, EXEC, MMAP and EXIT, and
// every other event type) is byte-identical to the string writer, which
// test/unit/kflowd-min.test.ts ties to the reference formatter: failed calls, THROTTLED records,
// odd strings (quotes, control characters, non-ASCII, lone surrogates), numbers beyond 2^53,
// bigints beyond 64 bits, stamps beyond Number's exact range; and no record outgrows the room
// it reserved, so none straddles two slabs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeRecords } from '../../src/sensor/decode.js';
import type { ProcEventRecord, ProcRecord, ProcThrottleRecord, SockAddr } from '../../src/model/process-record.js';
import { KflowdMinWriter } from '../../src/format/kflowd-min.js';
import { KflowdMinBytes } from '../../src/format/kflowd-min-bytes.js';
import type { KflowdFacts } from '../../src/format/context.js';
import { PF, PROC_EVENTS, type ProcEventName } from '../../src/sensor/layout.js';
import { kflowdEncoder } from '../../src/pipeline/encoders/kflowd.js';
import type { Envelope } from '../../src/pipeline/types.js';
import { procRecord } from './stream-builder.js';
import { Rng } from '../policy/fuzz-lib.js';

const host = { hostName: 'h"x', hostIP: '10.0.0.1', system: 'Linux', kernel: '6.18', version: 'falconet-test', bootToRealNs: 1_712_244_873_123_456_789n, startBootNs: 1_000_000_000n };
const EVENTS = PROC_EVENTS.filter((e) => e !== 'THROTTLED');
/** strings the decoder can give (surrogate escapes of invalid UTF-8 included) and worse */
const odd = ['/usr/bin/x', 'a"b', 'ctl\u0001\u001f', 'é日本', '\ud800lone', '\udcff', '', 'back\\slash', 'tab\tnl\n', '\u2028',
  '😀', 'x'.repeat(70), '\u0001'.repeat(200), '\u0001'.repeat(1000), '日本'.repeat(500), '/usr/lib/x86_64-linux-gnu/libc.so.6'];
const BIG_NUMS = [2 ** 53 + 2, 1e21, -5, 1.5, 2 ** 31, 2 ** 32 + 7, -(2 ** 40)];
const BIG_INTS = [0n, 1n, 2n ** 53n - 1n, 2n ** 53n, 2n ** 53n + 1n, 2n ** 63n - 1n, -(2n ** 63n), 2n ** 64n - 1n, -1n, 2n ** 80n, -(10n ** 30n)];

function arg(rng: Rng): bigint {
  switch (rng.int(6)) {
    case 0: return -1n;
    case 1: return BigInt(rng.int(100));
    case 2: return BigInt(rng.int(2 ** 31)) * BigInt(1 + rng.int(1 << 16));
    case 3: return rng.pick([2n ** 63n - 1n, -(2n ** 63n), 2n ** 53n + 1n, 0x7f0000000000n, 0x1200011n]);
    default: return BigInt(rng.int(1 << 30));
  }
}

function ret(rng: Rng): bigint {
  switch (rng.int(5)) {
    case 0: return -BigInt(1 + rng.int(120));
    case 1: return rng.pick([-4095n, -4096n, -(2n ** 63n), 2n ** 62n, 0x7f0000000000n]);
    default: return BigInt(rng.int(5));
  }
}

const num = (rng: Rng, n: number): number => (rng.int(8) === 0 ? rng.pick(BIG_NUMS) : rng.int(n));
/** non-finite numbers too: the Map writer's events write them as null */
const anyNum = (rng: Rng, n: number): number => (rng.int(10) === 0 ? rng.pick([NaN, Infinity, -Infinity]) : num(rng, n));
const str = (rng: Rng, s: string): string => (rng.int(4) === 0 ? rng.pick(odd) : s);
const opt = <T>(rng: Rng, v: T): T | undefined => (rng.int(5) === 0 ? undefined : v);

const ADDRS: (SockAddr | undefined)[] = [undefined, { family: 'AF_INET', ip: '10.0.0.1', port: 80 }, { family: 'AF_INET6', ip: 'fe80::1' },
  { family: 'AF_UNIX', path: '@a"b\u0001' }, { family: 'AF_UNIX', path: '/run/é.sock' }, { family: 'AF_99' }, { family: '', ip: '\ud800', port: 2 ** 53 + 2 }];

/** Odd values where the decoder's views could hold them, by event. */
function mutate(rng: Rng, r: ProcEventRecord): void {
  if (rng.int(3) === 0) r.syscallName = rng.pick([undefined, 'clone', 'x"y\u0001é']);
  if (rng.int(3) === 0) r.syscall = rng.pick([0, 59, 2 ** 32 - 1]);
  // beyond what the sensor's 64 bits can hold: the room of a record's digits
  if (rng.int(40) === 0) r.ret = rng.pick([2n ** 80n, -(10n ** 30n)]);
  if (rng.int(4)) return;
  const f = r.file;
  switch (r.event) {
    case 'FORK': Object.assign(r.fork!, { childPid: num(rng, 9), childTid: num(rng, 9), cloneFlags: rng.pick(BIG_INTS) }); break;
    case 'EXEC': Object.assign(r.exec!, {
      exePath: str(rng, ''), filename: str(rng, 'f'), interpreter: opt(rng, rng.pick(odd)), argc: num(rng, 9), oldTid: num(rng, 9),
      argv: Array.from({ length: rng.int(6) }, () => rng.pick(odd)),
    }); break;
    case 'EXIT': Object.assign(r.exit!, { status: num(rng, 256), signal: rng.pick([0, 9, 32, 40, 64, 65, -1]), coreDump: rng.int(2) === 0 }); break;
    case 'KILL': Object.assign(r.kill!, { target: anyNum(rng, 9), tgid: opt(rng, anyNum(rng, 9)), signal: rng.pick([0, 9, 40, 100, -1, NaN]) }); break;
    case 'PTRACE': Object.assign(r.ptrace!, { request: rng.pick([0, 0x4206, 99, -1]), target: anyNum(rng, 9), addr: rng.pick(BIG_INTS), data: rng.pick(BIG_INTS) }); break;
    case 'MMAP': case 'MPROTECT': Object.assign(r.mmap!, {
      length: rng.pick(BIG_INTS), offset: opt(rng, rng.pick(BIG_INTS)), path: opt(rng, rng.pick(odd)), flags: opt(rng, rng.pick([-1, 0x22, 2 ** 40])),
    }); break;
    case 'PIPE': Object.assign(r.pipe!, { fds: [anyNum(rng, 9), anyNum(rng, 9)], flags: rng.pick([-1, 0, 0x80000]) }); break;
    case 'CONNECT': case 'ACCEPT': case 'GETPEERNAME': case 'BIND': case 'LISTEN':
      Object.assign(r.net!, { fd: anyNum(rng, 9), remote: rng.pick(ADDRS), local: rng.pick(ADDRS), backlog: opt(rng, anyNum(rng, 9)) }); break;
    default:
      if (f) Object.assign(f, {
        path: opt(rng, rng.pick(odd)), newPath: opt(rng, rng.pick(odd)), target: opt(rng, rng.pick(odd)), mode: opt(rng, rng.pick([-1, 0o104755, 2 ** 40 + 0o644])),
        fd: opt(rng, anyNum(rng, 9)), newFd: opt(rng, anyNum(rng, 9)), flags: opt(rng, rng.pick([0, -1, 0x200])), uid: opt(rng, anyNum(rng, 9)),
        gid: opt(rng, anyNum(rng, 9)), length: opt(rng, rng.pick(BIG_INTS)),
      });
      if (r.ns && rng.int(2)) r.ns.path = rng.pick(odd);
  }
}

function throttled(rng: Rng, r: ProcRecord): ProcThrottleRecord {
  const counts = (): Partial<Record<ProcEventName, number>> =>
    Object.fromEntries(Array.from({ length: rng.int(5) }, () => [rng.pick(PROC_EVENTS), num(rng, 1e6)]));
  const start = rng.pick([5_000_000_000n, 2n ** 63n]);
  return {
    type: 'proc', hdr: r.hdr, truncated: false, incomplete: false, event: 'THROTTLED', exited: rng.int(2) === 0,
    windowStart: start, windowEnd: start + BigInt(rng.int(2e9)) - (rng.int(10) ? 0n : 3_000_000_000n),
    suppressedTotal: num(rng, 1e6), lostTotal: num(rng, 1e3), suppressed: counts(), lost: counts(),
  };
}

test('json-min process byte writer equals the string writer on 24,000 random process records', () => {
  const rng = new Rng(23);
  const w = new KflowdMinWriter();
  const bw = new KflowdMinBytes();
  // every record must fit the room it reserved (else it could straddle two slabs)
  let reserved = 0;
  const reserve = bw.reserve.bind(bw);
  bw.reserve = (n: number): void => { reserved = n; reserve(n); };
  const byEvent = new Map<string, number>();
  const seen = { failed: 0, truncated: 0, incomplete: 0, escaped: 0, nonAscii: 0, bigInt: 0, bigTs: 0, nonFinite: 0, generic: 0 };
  for (let i = 0; i < 24_000; i++) {
    const pid = 100 + rng.int(20);
    const ts = rng.int(200) === 0 ? 2n ** 62n + BigInt(rng.int(1e9)) : BigInt(1_000_000_000 + rng.int(2_000_000_000)) * (rng.int(50) === 0 ? 10_000_000n : 1n);
    const buf = procRecord({
      pid, tid: rng.int(3) ? pid : pid + 1 + rng.int(5), ppid: rng.int(3), uid: rng.int(3), gid: rng.int(3),
      flags: rng.pick([0, 0, PF.THREAD, PF.ANON, PF.STR_TRUNC, PF.NO_PENDING, 0x4, PF.ANON | PF.STR_TRUNC | PF.NO_PENDING]),
      exe: rng.pick(['bash', 'python3', 'x"y', 'é']), comm: rng.pick(['bash', 'py', '']), parentExe: rng.pick(['sshd', 'init']),
      procStart: rng.int(40) === 0 ? ts + 5n : BigInt(rng.int(900_000_000)), ts,
      event: rng.pick(EVENTS), ret: ret(rng), args: Array.from({ length: 6 }, () => arg(rng)),
      strs: Array.from({ length: rng.int(5) }, () => rng.pick(odd)), idNew: [rng.int(5), -1, rng.int(5)],
    });
    let r = decodeRecords(buf)[0] as ProcRecord;
    assert.equal(r.type, 'proc');
    if (rng.int(34) === 0) r = throttled(rng, r); else mutate(rng, r as ProcEventRecord);
    const facts: KflowdFacts = rng.int(5) === 0 ? { host } : {
      host: rng.int(2) ? host : { ...host, token: 'tok"en' },
      users: { user: rng.pick(['root', 'dirk', '', 'ü"']), group: rng.pick(['g', 'é']), fileUser: 'u', fileGroup: '' },
    };
    const seq = rng.int(20) === 0 ? 2 ** 53 + 2 : 1 + rng.int(1e6);
    const want = w.record(r, seq, facts)!;
    const got = bw.process(r, seq, facts);
    assert.equal(Buffer.from(got).toString('utf8'), want, `record ${i} (${r.event})`);
    assert.equal(new Uint8Array(got.buffer, got.byteOffset + got.length, 1)[0], 0x0a, 'a newline follows the record in the slab');
    assert.ok(got.length + 1 <= reserved, `record ${i} (${r.event}): ${got.length + 1} bytes in a room of ${reserved}`);
    JSON.parse(want);

    byEvent.set(r.event, (byEvent.get(r.event) ?? 0) + 1);
    if (r.event === 'THROTTLED' || /"EventType": "(SET|UNSHARE|SOCKETPAIR)/.test(want)) seen.generic++;
    if (want.includes('"EventError"')) seen.failed++;
    if (want.includes('"EventTruncated"')) seen.truncated++;
    if (want.includes('"EventIncomplete"')) seen.incomplete++;
    if (/\\[u"\\tn]/.test(want.slice(want.indexOf('"EventType"')))) seen.escaped++;
    if (/[^\x00-\x7f]/.test(want.slice(want.indexOf('"EventType"')))) seen.nonAscii++;
    if (/": "-?\d{16,}"/.test(want)) seen.bigInt++;
    if (r.hdr.ts > BigInt(Number.MAX_SAFE_INTEGER)) seen.bigTs++;
    if (/": null/.test(want)) seen.nonFinite++;
  }
  if (process.env.FALCONET_TEST_COUNTS) console.log(Object.fromEntries(byEvent), seen);
  for (const e of PROC_EVENTS) assert.ok((byEvent.get(e) ?? 0) > 400, `${e}: ${byEvent.get(e) ?? 0} records`);
  for (const [k, n] of Object.entries(seen)) assert.ok(n > 200, `${k}: ${n} records`);
});

test('process records written earlier keep their bytes while the writer fills new slabs', () => {
  const bw = new KflowdMinBytes();
  const facts: KflowdFacts = { host };
  const kept: { bytes: Uint8Array; text: string }[] = [];
  for (let i = 0; i < 600; i++) {
    // ~24 KB of escapes each: a slab holds ~40
    const r = decodeRecords(procRecord({ pid: 100 + i, event: 'EXEC', args: [100n, 2n], strs: ['/bin/x', '/bin/x', '', `a\u0001${i}`] }))[0] as ProcEventRecord;
    r.exec!.argv = [r.exec!.argv[0]!, '\u0001'.repeat(4000)];
    const bytes = bw.process(r, i + 1, facts);
    kept.push({ bytes, text: Buffer.from(bytes).toString('utf8') });
  }
  for (const k of kept) assert.equal(Buffer.from(k.bytes).toString('utf8'), k.text);
  assert.ok(new Set(kept.map((k) => k.bytes.buffer)).size > 1, 'more than one slab was used');
});

test('the json-min Encoder writes process records as bytes, enriched ones through the generic path', () => {
  const enc = kflowdEncoder('json-min');
  const w = new KflowdMinWriter();
  const r = decodeRecords(procRecord({ pid: 300, event: 'EXEC', args: [300n, 1n], strs: ['/usr/bin/true', '/bin/true', '', 'true'] }))[0] as ProcRecord;
  const env: Envelope = { kind: 'process', rec: r, id: { host: 'h', boot: 'b', seq: 7n }, enrich: { host } };
  const out = enc.encode(env);
  assert.ok(out instanceof Uint8Array);
  assert.equal(Buffer.from(out).toString('utf8'), w.record(r, 7, { host }));
  const enriched = enc.encode({ ...env, enrich: { host, packages: { procVersion: '9.2-1' } } });
  assert.equal(typeof enriched, 'string');
  assert.match(enriched as string, /"ProcVersion": "9.2-1"/);
});
