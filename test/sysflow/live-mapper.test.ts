// SysFlowMapper: live facts → SysFlow objects, checked field by field, then end to end through
// the trace sink, the reader and sysprint formatting.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SysFlowMapper } from '../../src/sysflow/live-mapper.js';
import type { LiveProcessInfo } from '../../src/sysflow/live-mapper.js';
import { OP, OPEN, linuxOpenFlagsToSysFlow, openFlagNames, opFlagNames, opFlagsSysprint } from '../../src/sysflow/flags.js';
import { computeFoid } from '../../src/sysflow/oid.js';
import { ipIntToString, ipStringToInt } from '../../src/sysflow/ip.js';
import { createSysFlowTraceSink } from '../../src/sysflow/trace-sink.js';
import { readSysFlowFile } from '../../src/sysflow/reader.js';
import { EntityTable } from '../../src/sysflow/entities.js';
import { flatten } from '../../src/sysflow/print-format.js';
import type { SfObject } from '../../src/sysflow/types.js';
import { sampleTraces, tracePath } from './helpers.js';

const T0 = 1_700_000_000_000_000_000n;
const bash: LiveProcessInfo = {
  pid: 100,
  ppid: 1,
  exe: '/bin/bash',
  args: ['-l'],
  uid: 1000,
  gid: 1000,
  user: 'alice',
  group: 'alice',
  startTimeNs: T0,
  tty: true,
  containerId: null,
  cwd: '/home/alice',
  env: ['HOME=/home/alice'],
};

const types = (objs: SfObject[]): string[] => objs.map((o) => o.type);

describe('live mapper: vocabularies', () => {
  it('FOID = SHA-1(container id + path) on every File of every sample', () => {
    let n = 0;
    for (const rel of sampleTraces()) {
      for (const o of readSysFlowFile(tracePath(rel))) {
        if (o.type === 'F') {
          assert.equal(computeFoid(o.rec.path, o.rec.containerId), o.rec.oid, `${rel} ${o.rec.path}`);
          n++;
        }
      }
    }
    assert.equal(n, 9_569); // every File record of the 30 samples (§2.4 F counts)
  });

  it('IPv4 int encoding: first octet in the low byte, signed int32', () => {
    assert.equal(ipIntToString(16777343), '127.0.0.1');
    assert.equal(ipIntToString(1681631424n), '192.168.59.100');
    assert.equal(ipStringToInt('127.0.0.1'), 16777343);
    assert.equal(ipStringToInt('10.187.39.243'), -215500022);
    assert.equal(ipIntToString(ipStringToInt('200.1.2.3')), '200.1.2.3');
    assert.throws(() => ipStringToInt('::1'), /not an IPv4/);
  });

  it('op flags and open flags use SysFlow numbering', () => {
    assert.equal(OP.OPEN | OP.READ_RECV | OP.CLOSE, 1408);
    assert.equal(opFlagsSysprint(OP.OPEN | OP.READ_RECV | OP.MMAP | OP.CLOSE), 'O   R M C  ');
    assert.deepEqual(opFlagNames(OP.CONNECT | OP.READ_RECV | OP.CLOSE, true), ['CONNECT', 'RECV', 'CLOSE']);
    assert.deepEqual(opFlagNames(OP.OPEN | OP.WRITE_SEND), ['OPEN', 'WRITE']);
    // Linux O_WRONLY|O_CREAT|O_TRUNC|O_CLOEXEC → PPM WRONLY|CREAT|TRUNC|CLOEXEC
    assert.equal(linuxOpenFlagsToSysFlow(0o1 | 0o100 | 0o1000 | 0o2000000), OPEN.WRONLY | OPEN.CREAT | OPEN.TRUNC | OPEN.CLOEXEC);
    assert.equal(linuxOpenFlagsToSysFlow(0), OPEN.RDONLY);
    assert.deepEqual(openFlagNames(4097), ['RDONLY', 'CLOEXEC']);
  });
});

describe('live mapper: mappings', () => {
  it('process seen: created once with OID {createTS, hpid}; MODIFIED only on change', () => {
    const m = new SysFlowMapper();
    const a = m.processSeen(bash, T0 + 5n);
    assert.deepEqual(types(a), ['P']);
    const p = a[0]!;
    assert.ok(p.type === 'P');
    assert.deepEqual(p.rec.oid, { createTS: T0, hpid: 100n });
    assert.equal(p.rec.state, 'CREATED');
    assert.equal(p.rec.exeArgs, '-l');
    assert.equal(p.rec.poid, null); // parent 1 never seen
    assert.deepEqual(m.processSeen(bash, T0 + 6n), []);
    const b = m.processSeen({ ...bash, cwd: '/tmp' }, T0 + 7n);
    assert.ok(b.length === 1 && b[0]!.type === 'P' && b[0]!.rec.state === 'MODIFIED' && b[0]!.rec.cwd === '/tmp');
    assert.deepEqual((b[0]!.rec as { oid: unknown }).oid, { createTS: T0, hpid: 100n });
    // pid reuse: another start time is another process
    const c = m.processSeen({ ...bash, startTimeNs: T0 + 1000n }, T0 + 8n);
    assert.ok(c[0]!.type === 'P' && c[0]!.rec.state === 'CREATED');
  });

  it('lifecycle: clone (parent + child CLONE), exec (MODIFIED + EXEC), setuid, exit', () => {
    const m = new SysFlowMapper();
    m.processSeen(bash, T0);
    const clone = m.lifecycle({ kind: 'clone', ts: T0 + 10n, parentPid: 100, parentTid: 100, child: { ...bash, pid: 200, startTimeNs: null } });
    assert.deepEqual(types(clone), ['PE', 'P', 'PE']);
    const [pc, child, cc] = clone as [SfObject, SfObject, SfObject];
    assert.ok(pc.type === 'PE' && pc.rec.opFlags === OP.CLONE && pc.rec.ret === 200 && pc.rec.procOID.hpid === 100n);
    assert.ok(child.type === 'P' && child.rec.oid.createTS === T0 + 10n && child.rec.poid?.hpid === 100n);
    assert.ok(cc.type === 'PE' && cc.rec.ret === 0 && cc.rec.procOID.hpid === 200n);

    const exec = m.lifecycle({ kind: 'exec', ts: T0 + 20n, pid: 200, tid: 200, process: { ...bash, pid: 200, exe: '/usr/bin/curl', args: ['-s', 'http://x'], startTimeNs: null } });
    assert.deepEqual(types(exec), ['P', 'PE']);
    assert.ok(exec[0]!.type === 'P' && exec[0]!.rec.state === 'MODIFIED' && exec[0]!.rec.exe === '/usr/bin/curl');
    assert.ok(exec[0]!.type === 'P' && exec[0]!.rec.oid.createTS === T0 + 10n, 'exec keeps the OID');
    assert.ok(exec[1]!.type === 'PE' && exec[1]!.rec.opFlags === OP.EXEC);

    const su = m.lifecycle({ kind: 'setuid', ts: T0 + 30n, pid: 200, tid: 200, uid: 0, user: 'root' });
    assert.deepEqual(types(su), ['P', 'PE']);
    assert.ok(su[0]!.type === 'P' && su[0]!.rec.uid === 0 && su[0]!.rec.userName === 'root');
    assert.ok(su[1]!.type === 'PE' && su[1]!.rec.opFlags === OP.SETUID && su[1]!.rec.args[0] === '0');

    const exit = m.lifecycle({ kind: 'exit', ts: T0 + 40n, pid: 200, tid: 200, ret: 3 });
    assert.ok(exit.length === 1 && exit[0]!.type === 'PE' && exit[0]!.rec.opFlags === OP.EXIT && exit[0]!.rec.ret === 3);
    assert.equal(m.process(200), null, 'exited process forgotten');
  });

  it('file record → File (once) + FileFlow with op flags, counters, PPM open flags', () => {
    const m = new SysFlowMapper();
    // unknown container metadata → a minimal Container, emitted before the process
    assert.deepEqual(types(m.processSeen({ ...bash, containerId: 'c0ffee000001' }, T0)), ['C', 'P']);
    const rec = {
      pid: 100,
      tid: 101,
      path: '/etc/passwd',
      fd: 3,
      firstTs: T0 + 1n,
      lastTs: T0 + 2n,
      opens: 1,
      reads: 2,
      closes: 1,
      bytesRead: 4096,
      openFlagsLinux: 0o2000000,
    };
    const a = m.fileRecord(rec);
    assert.deepEqual(types(a), ['F', 'FF']);
    const [f, ff] = a as [SfObject, SfObject];
    assert.ok(f.type === 'F' && f.rec.oid === computeFoid('/etc/passwd', 'c0ffee000001') && f.rec.restype === 102);
    assert.ok(ff.type === 'FF');
    assert.equal(ff.rec.opFlags, 1408);
    assert.equal(ff.rec.openFlags, OPEN.RDONLY | OPEN.CLOEXEC);
    assert.equal(ff.rec.numRRecvOps, 2n);
    assert.equal(ff.rec.numRRecvBytes, 4096n);
    assert.equal(ff.rec.tid, 101n);
    assert.equal(ff.rec.fileOID, f.rec.oid);
    assert.deepEqual(types(m.fileRecord({ ...rec, writes: 1, bytesWritten: 10n, truncated: true })), ['FF']);
  });

  it('network record → NetworkFlow: initiator is the source, IPv4 ints, IPv6 unmappable', () => {
    const m = new SysFlowMapper();
    const base = { pid: 7, tid: 7, proto: 'tcp' as const, localIp: '10.0.0.1', localPort: 8080, remoteIp: '::ffff:10.0.0.2', remotePort: 51000, firstTs: T0, lastTs: T0 + 9n, bytesSent: 100, bytesReceived: 50, sendOps: 1, recvOps: 2, closed: true };
    const acc = m.networkRecord({ ...base, role: 'accept' });
    assert.deepEqual(types(acc), ['P', 'NF']); // placeholder process for an unseen pid
    const nf = acc[1]!;
    assert.ok(nf.type === 'NF');
    assert.equal(ipIntToString(nf.rec.sip), '10.0.0.2');
    assert.equal(nf.rec.sport, 51000);
    assert.equal(ipIntToString(nf.rec.dip), '10.0.0.1');
    assert.equal(nf.rec.dport, 8080);
    assert.equal(nf.rec.opFlags, OP.ACCEPT | OP.READ_RECV | OP.WRITE_SEND | OP.CLOSE);
    assert.equal(nf.rec.proto, 6);
    assert.equal(nf.rec.numWSendBytes, 100n);
    const con = m.networkRecord({ ...base, role: 'connect' })[0]!;
    assert.ok(con.type === 'NF' && ipIntToString(con.rec.sip) === '10.0.0.1' && con.rec.opFlags & OP.CONNECT);
    assert.deepEqual(m.networkRecord({ ...base, remoteIp: '2001:db8::1' }), []);
    assert.equal(m.stats.unmappable, 1);
    assert.equal(m.stats.placeholderProcesses, 1);
  });

  it('file ops → FileEvent (rename with new file), chmod unmappable', () => {
    const m = new SysFlowMapper();
    m.processSeen(bash, T0);
    const r = m.fileOp({ op: 'rename', ts: T0 + 1n, pid: 100, tid: 100, path: '/tmp/a', newPath: '/tmp/b' });
    assert.deepEqual(types(r), ['F', 'F', 'FE']);
    const fe = r[2]!;
    assert.ok(fe.type === 'FE' && fe.rec.opFlags === OP.RENAME && fe.rec.newFileOID === computeFoid('/tmp/b', null));
    const d = m.fileOp({ op: 'mkdir', ts: T0 + 2n, pid: 100, tid: 100, path: '/tmp/dir' });
    assert.ok(d[0]!.type === 'F' && d[0]!.rec.restype === 'd'.charCodeAt(0));
    assert.deepEqual(m.fileOp({ op: 'chmod', ts: T0 + 3n, pid: 100, tid: 100, path: '/tmp/b' }), []);
  });
});

describe('live mapper: end to end through the sink, reader and print', () => {
  it('mapped objects write, read back self-contained, and print with sysprint fields', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sfmap-'));
    try {
      const m = new SysFlowMapper();
      const sink = createSysFlowTraceSink({ output: join(dir, 'live.sf'), exporterId: 'host-1', flushIntervalMs: 0 });
      const emit = (objs: SfObject[]): void => objs.forEach((o) => sink.write(o));
      emit(m.containerSeen({ id: 'abc123abc123', name: 'web', image: 'nginx:1', imageId: 'sha256:1', runtime: 'containerd', privileged: false }));
      emit(m.processSeen({ ...bash, containerId: 'abc123abc123' }, T0));
      emit(m.lifecycle({ kind: 'clone', ts: T0 + 1n, parentPid: 100, parentTid: 100, child: { ...bash, pid: 101, startTimeNs: null, containerId: 'abc123abc123' } }));
      emit(m.fileRecord({ pid: 101, tid: 101, path: '/var/log/x', firstTs: T0 + 2n, lastTs: T0 + 3n, opens: 1, writes: 1, closes: 1, bytesWritten: 12, openFlagsLinux: 0o101 }));
      emit(m.networkRecord({ pid: 101, tid: 101, proto: 'udp', localIp: '10.1.1.1', localPort: 5353, remoteIp: '10.1.1.53', remotePort: 53, firstTs: T0 + 4n, lastTs: T0 + 5n, bytesSent: 30, sendOps: 1 }));
      emit(m.fileOp({ op: 'unlink', ts: T0 + 6n, pid: 101, tid: 101, path: '/var/log/x', ret: 0 }));
      emit(m.lifecycle({ kind: 'exit', ts: T0 + 7n, pid: 101, tid: 101 }));
      sink.close();
      const objs = [...readSysFlowFile(join(dir, 'live.sf'))];
      assert.deepEqual(types(objs), ['H', 'C', 'P', 'PE', 'P', 'PE', 'F', 'FF', 'NF', 'FE', 'PE']);
      const t = new EntityTable();
      const rows = objs.map((o) => t.push(o)).filter((v) => v !== null);
      assert.equal(t.missing.process + t.missing.file + t.missing.container, 0);
      const ff = rows.find((v) => v.type === 'FF')!;
      assert.deepEqual(Object.fromEntries(flatten(ff, ['proc.pid', 'pproc.pid', 'container.type', 'file.path', 'opflags', 'flow.wbytes', 'node.id'])), {
        'proc.pid': 101n,
        'pproc.pid': 100n,
        'container.type': 'CT_CONTAINERD',
        'file.path': '/var/log/x',
        opflags: 'O  W    C  ',
        'flow.wbytes': 12n,
        'node.id': 'host-1',
      });
      const nf = rows.find((v) => v.type === 'NF')!;
      assert.equal(Object.fromEntries(flatten(nf, ['res']))['res'], '10.1.1.1:5353-10.1.1.53:53');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
