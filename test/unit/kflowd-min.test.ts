// The generated json-min writer is byte-identical to the reference path (kflowdRecord → Map →
// toMinJson) on file records of every shape: moved, size/mtime changes, tokens, odd names,
// fs-relative paths, missing enrichment, boot stamps beyond Number's exact range.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeRecords } from '../../src/sensor/decode.js';
import type { FileRecord } from '../../src/model/records.js';
import { FF } from '../../src/sensor/layout.js';
import { KflowdMinWriter } from '../../src/format/kflowd-min.js';
import { kflowdRecord } from '../../src/format/kflowd.js';
import { toMinJson } from '../../src/format/json.js';
import type { KflowdFacts } from '../../src/format/context.js';
import { fileRecord, procRecord, sockRecord } from './stream-builder.js';
import { PROC_EVENTS } from '../../src/sensor/layout.js';
import type { ProcRecord } from '../../src/model/process-record.js';
import { Rng } from '../policy/fuzz-lib.js';

const host = { hostName: 'h"x', hostIP: '10.0.0.1', system: 'Linux', kernel: '6.18', version: 'falconet-test', bootToRealNs: 1_712_244_873_123_456_789n, startBootNs: 1_000_000_000n };

test('json-min writer equals toMinJson(kflowdRecord) on 3,000 random file records', () => {
  const rng = new Rng(42);
  const w = new KflowdMinWriter();
  const names = ['a', 'file with space', 'quote"d', 'back\\slash', 'ctl\u0001x', 'é日本', '\ud800lone', ''];
  for (let i = 0; i < 3000; i++) {
    const moved = rng.int(4) === 0;
    const buf = fileRecord({
      pid: 100 + rng.int(20), uid: rng.int(3), gid: rng.int(3), flags: (moved ? FF.MOVED : 0) | (rng.int(5) === 0 ? FF.PATH_FSREL : 0),
      exe: rng.pick(['bash', 'python3', 'x']), comm: rng.pick(['bash', 'py', 'worker']), parentExe: rng.pick(['sshd', 'init']),
      tsFirst: BigInt(rng.int(1_000_000_000)), ts: BigInt(1_000_000_000 + rng.int(2_000_000_000)) * (rng.int(50) === 0 ? 10_000_000n : 1n),
      procStart: BigInt(rng.int(900_000_000)),
      events: Array.from({ length: 11 }, () => (rng.int(3) === 0 ? rng.int(5) : 0)),
      ino: rng.int(1e9), mode: rng.pick([0o100644, 0o120777, 0o104755]), size: rng.int(5000), sizeFirst: rng.int(2) ? 0 : 4999,
      mtime: 1_712_244_875_154_106_191n + BigInt(rng.int(1000)), mtimeFirst: 1_712_244_875_154_106_191n,
      path: `/d${rng.int(3)}/${rng.pick(names)}`, origin: moved ? rng.pick(names) : '',
    });
    const r = decodeRecords(buf)[0] as FileRecord;
    const facts: KflowdFacts = rng.int(5) === 0 ? { host } : {
      host: rng.int(2) ? host : { ...host, token: 'tok"en' },
      users: { user: rng.pick(['root', 'dirk', '']), group: 'g', fileUser: 'u\u00e9', fileGroup: '' },
      mounts: rng.int(2) ? { device: 'fe00h:/dev/vda:/:ext4' } : { dir: '/mnt/x/', device: 'fe01h:::' },
    };
    const seq = 1 + rng.int(1e6);
    assert.equal(w.record(r, seq, facts), toMinJson(kflowdRecord(r, seq, facts)!), `record ${i}`);
  }
});

test('json-min writer equals toMinJson(kflowdRecord) on 3,000 random process and socket records', () => {
  const rng = new Rng(7);
  const w = new KflowdMinWriter();
  const strs = ['/usr/bin/x', 'a"b', 'ctl\u0001', 'é日本', '\ud800lone', '', 'arg0\u0000arg1\u0000'];
  let procs = 0, socks = 0;
  for (let i = 0; i < 3000; i++) {
    const hdr = {
      pid: 100 + rng.int(20), uid: rng.int(3), gid: rng.int(3), exe: rng.pick(['bash', 'python3', 'x"y']),
      comm: rng.pick(['bash', 'py']), parentExe: rng.pick(['sshd', 'init']), procStart: BigInt(rng.int(900_000_000)),
      ts: BigInt(1_000_000_000 + rng.int(2_000_000_000)) * (rng.int(50) === 0 ? 10_000_000n : 1n),
    };
    const buf = rng.int(2)
      ? procRecord({
        ...hdr, event: rng.pick(PROC_EVENTS.filter((e) => e !== 'THROTTLED')), ret: BigInt(rng.int(3) === 0 ? -rng.int(120) : rng.int(5)),
        args: Array.from({ length: 6 }, () => BigInt(rng.int(3) === 0 ? -1 : rng.int(1 << 30))),
        strs: Array.from({ length: rng.int(5) }, () => rng.pick(strs)), idNew: [rng.int(5), rng.int(5), rng.int(5)],
      })
      : sockRecord({ ...hdr, protocol: rng.pick([6, 17]), laddr: [127, 0, 0, 1], raddr: [10, 0, rng.int(255), 1], lport: rng.int(65536),
        rport: rng.int(65536), role: rng.int(2), txBytes: rng.int(10_000), rxBytes: rng.int(3) ? rng.int(10_000) : 0 });
    let r = decodeRecords(buf)[0]!;
    if (r.type === 'proc' && rng.int(30) === 0) {
      r = { type: 'proc', hdr: r.hdr, truncated: false, incomplete: false, event: 'THROTTLED', exited: rng.int(2) === 0, windowStart: 5_000_000_000n,
        windowEnd: 6_250_000_000n + BigInt(rng.int(1000)), suppressedTotal: 7, lostTotal: 2, suppressed: { EXEC: 5, EXIT: 2 }, lost: { CONNECT: 2 } } satisfies ProcRecord;
    }
    if (r.type === 'sock') {
      socks++;
      if (rng.int(3) === 0) r.remoteNames = ['example.org', 'a"b'];
      if (rng.int(3) === 0) r.appKeys = [['App', 'HTTP'], ['AppTxMethod', 'GET'], ['AppTxCount', 3]];
      if (rng.int(2) === 0) r.tx.flags = [['SYN', 1 + rng.int(3)], ['ACK-FIN', rng.int(4)]];
      if (rng.int(2) === 0) r.rx.flags = [['SYN-ACK', 1], ['FIN', rng.int(2)]];
      if (rng.int(3) === 0) r.tx.packets = 0;
      if (rng.int(6) === 0) Object.assign(r, { family: 'AF_UNIX', protocol: '', path: rng.pick(['/run/a"b.sock', '@abstract', '']) });
    } else {
      assert.equal(r.type, 'proc');
      procs++;
    }
    const facts: KflowdFacts = rng.int(5) === 0 ? { host } : {
      host: rng.int(2) ? host : { ...host, token: 'tok"en' },
      users: { user: rng.pick(['root', 'dirk', '']), group: 'g', fileUser: 'u', fileGroup: '' },
      ...(rng.int(2) ? { interfaces: { tx: '1:lo:00:00:00:00:00:00', rx: rng.pick(['2:eth"0:', '']) } } : {}),
    };
    const seq = 1 + rng.int(1e6);
    const ref = kflowdRecord(r, seq, facts)!;
    assert.equal(w.record(r, seq, facts), toMinJson(ref), `record ${i}`);
  }
  assert.ok(procs > 1000 && socks > 1000);
});
