// ECS encoder: exact documents for known records, and every emitted field checked against the
// ECS field reference (shared/data/ecs/ecs-fields.csv + our falconet.* custom fields) by type.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EcsEncoder, ecsDocument, type EcsDoc } from '../../src/format/ecs/encoder.js';
import type { AlertRecord } from '../../src/format/ecs/alert.js';
import type { SfRecordView } from '../../src/sysflow/view.js';
import type { Envelope } from '../../src/pipeline/types.js';
import { CTX, PID_EXIT, PROC_EVENTS_SAMPLE, THROTTLE, env, file, sock } from './ecs-records.js';
import { validate } from './ecs-validate.js';

function alertView(): SfRecordView {
  return {
    type: 'PE',
    obj: { type: 'PE', rec: { ts: 1_700_000_123_000_000_000n } },
    proc: { oid: { hpid: 900n, createTS: 1_700_000_100_000_000_000n }, exe: '/bin/sh', exeArgs: '-c id', uid: 0, userName: 'root', cwd: '/root' },
    pproc: { oid: { hpid: 899n, createTS: 1n }, exe: '/usr/sbin/sshd' },
    file: null,
  } as unknown as SfRecordView;
}

const alert: AlertRecord = {
  view: alertView(),
  alerts: [
    { name: 'Low one', desc: 'low', priority: { name: 'low', level: 1 }, tags: ['a'] },
    { name: 'Shell spawned', desc: 'a shell ran', priority: { name: 'high', level: 3 }, tags: ['mitre:T1059', 'a'], file: 'policies/shell.yaml' },
  ],
};

function allEnvelopes(): Envelope[] {
  const enrich = { users: { user: 'alice', group: 'staff', fileUser: 'alice', fileGroup: 'staff' }, process: { args: ['curl', '-s', 'x'] } };
  return [
    env('socket', sock(), 1, enrich),
    env('socket', sock({ role: 'SERVER', localIP: '2001:db8::2', localPort: 443, remoteIP: '2001:db8::1', remotePort: 50000, family: 'AF_INET6' }), 2),
    env('socket', sock({ protocol: 'UDP', state: 'UDP_ESTABLISHED', sockType: 'SOCK_DGRAM', reason: 'idle' }), 3),
    env('socket', sock({ family: 'AF_UNIX', protocol: '', state: '', path: '/run/x.sock', localIP: '', remoteIP: '', localPort: 0, remotePort: 0 }), 4),
    env('socket', sock({ noOwner: true }), 5),
    env('file', file(), 6, enrich),
    env('file', file({ hdr: { ...file().hdr, flags: 1 }, origin: 'old.txt', event: [0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0] }), 7),
    ...PROC_EVENTS_SAMPLE.map((r, i) => env('process', r, 10 + i, enrich)),
    env('process', THROTTLE, 30),
    env('pid_exit', PID_EXIT, 31),
    env('alert', alert, 32),
  ];
}

test('ecs: every emitted field is in the ECS reference with the right type', () => {
  const seen = new Set<string>();
  let docs = 0;
  for (const e of allEnvelopes()) {
    const doc = ecsDocument(e, CTX);
    assert.ok(doc, `${e.kind} has a document`);
    docs++;
    const problems = validate(doc, '', [], seen);
    assert.deepEqual(problems, [], `${e.kind} #${e.id?.seq}`);
  }
  assert.equal(docs, 21);
  // the check really covers what the issue names
  for (const f of ['source.ip', 'destination.port', 'network.community_id', 'process.pid', 'user.name', 'event.action',
    'host.name', 'agent.type', 'file.path', 'rule.name', 'process.args', 'process.exit_code', 'file.target_path']) {
    assert.ok(seen.has(f), `${f} emitted by some record`);
  }
});

test('ecs: the validator rejects unknown fields and wrong types', () => {
  assert.deepEqual(validate({ source: { ip: 'not-an-ip', port: '80' }, nonsense: 1, event: { start: 'yesterday' } } as EcsDoc), [
    'source.ip: "not-an-ip" is not a ip', 'source.port: "80" is not a long', 'nonsense: not an ECS field',
    'event.start: "yesterday" is not a date',
  ]);
});

test('ecs: TCP client flow maps like Auditbeat socket (exact document)', () => {
  const doc = ecsDocument(env('socket', sock(), 1, { users: { user: 'alice', group: 'staff' } }), CTX)!;
  assert.deepEqual(doc, {
    '@timestamp': '2023-11-14T22:13:27.500000000Z',
    ecs: { version: '8.17.0' },
    agent: { type: 'falconet', name: 'web-1', version: '0.1.0' },
    host: { name: 'web-1', hostname: 'web-1', ip: ['192.0.2.10'], os: { type: 'linux', kernel: '6.1.0-test', family: 'linux', name: 'Linux' } },
    event: {
      kind: 'event', module: 'falconet', dataset: 'falconet.socket', id: 'web-1:b00t:1', sequence: 1,
      category: ['network'], type: ['connection', 'end'], action: 'network_flow', reason: 'close',
      start: '2023-11-14T22:13:25.000000000Z', end: '2023-11-14T22:13:27.500000000Z', duration: 2_500_000_000,
    },
    source: { ip: '128.232.110.120', port: 34855, address: '128.232.110.120', packets: 6, bytes: 400 },
    destination: { ip: '66.35.250.204', port: 80, address: '66.35.250.204', packets: 5, bytes: 1200 },
    client: { ip: '128.232.110.120', port: 34855, address: '128.232.110.120', packets: 6, bytes: 400 },
    server: { ip: '66.35.250.204', port: 80, address: '66.35.250.204', packets: 5, bytes: 1200 },
    network: { type: 'ipv4', transport: 'tcp', iana_number: '6', direction: 'egress', packets: 11, bytes: 1600, community_id: '1:LQU9qZlK+B5F3KDmev6m5PMibrg=' },
    related: { ip: ['128.232.110.120', '66.35.250.204'], user: ['alice'] },
    process: {
      pid: 4242, name: 'curl', thread: { id: 4243 }, executable: '/usr/bin/curl', start: '2023-11-14T22:13:21.000000000Z', uptime: 6,
      parent: { pid: 1, executable: '/usr/bin/bash', name: 'bash' },
      user: { id: '1000', name: 'alice' }, group: { id: '1000', name: 'staff' },
    },
    user: { id: '1000', name: 'alice' },
    group: { id: '1000', name: 'staff' },
    falconet: { socket: { family: 'AF_INET', role: 'client', state: 'TCP_CLOSE', type: 'SOCK_STREAM', cookie: '4097', retransmitted_packets: 1, retransmitted_bytes: 37, rtt_us: 12345 } },
  });
});

test('ecs: a server flow has the remote side as source and the same community id', () => {
  const doc = ecsDocument(env('socket', sock({ role: 'SERVER', localIP: '66.35.250.204', localPort: 80, remoteIP: '128.232.110.120', remotePort: 34855 }), 2), CTX)!;
  assert.equal((doc['network'] as EcsDoc)['community_id'], '1:LQU9qZlK+B5F3KDmev6m5PMibrg=');
  assert.equal((doc['network'] as EcsDoc)['direction'], 'ingress');
  assert.equal((doc['source'] as EcsDoc)['ip'], '128.232.110.120');
  assert.equal((doc['destination'] as EcsDoc)['port'], 80);
});

test('ecs: file record → file.* and the most consequential event.action', () => {
  const doc = ecsDocument(env('file', file(), 6, { users: { fileUser: 'alice', fileGroup: 'staff' } }), CTX)!;
  assert.deepEqual(doc['file'], {
    path: '/home/u/notes.txt', name: 'notes.txt', directory: '/home/u', type: 'file', inode: '131077', device: '8:1',
    mode: '0644', uid: '1000', gid: '1000', size: 2048, mtime: '2023-11-14T22:13:20.000000006Z',
    ctime: '2023-11-14T22:13:20.000000007Z', accessed: '2023-11-14T22:13:20.000000005Z', extension: 'txt', owner: 'alice', group: 'staff',
  });
  const ev = doc['event'] as EcsDoc;
  assert.equal(ev['action'], 'created');
  assert.deepEqual(ev['type'], ['creation', 'change', 'access']);
  assert.deepEqual((doc['falconet'] as EcsDoc)['file'], { events: { create: 1, open: 1, modify: 3, close_write: 1 }, bytes_read: 0, bytes_written: 2048, size_change: 2048 });
  const moved = ecsDocument(env('file', file({ event: [0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0] }), 7), CTX)!;
  assert.equal((moved['event'] as EcsDoc)['action'], 'renamed');
});

test('ecs: process events → process.* (exec args, exit code, outcome)', () => {
  const exec = ecsDocument(env('process', PROC_EVENTS_SAMPLE[0]!, 10), CTX)!;
  const p = exec['process'] as EcsDoc;
  assert.deepEqual([p['executable'], p['args'], p['args_count'], p['command_line']], ['/usr/bin/curl', ['curl', '-s', 'http://x'], 3, 'curl -s http://x']);
  assert.deepEqual((exec['event'] as EcsDoc)['type'], ['start']);
  const exit = ecsDocument(env('process', PROC_EVENTS_SAMPLE[2]!, 11), CTX)!;
  assert.equal((exit['process'] as EcsDoc)['exit_code'], 1);
  const unlink = ecsDocument(env('process', PROC_EVENTS_SAMPLE[4]!, 12), CTX)!;
  assert.equal((unlink['event'] as EcsDoc)['outcome'], 'failure');
  assert.deepEqual(unlink['file'], { path: '/tmp/gone', name: 'gone', directory: '/tmp' });
  const connect = ecsDocument(env('process', PROC_EVENTS_SAMPLE[9]!, 13), CTX)!;
  assert.deepEqual(connect['destination'], { ip: '2001:db8::1', port: 443, address: '2001:db8::1' });
});

test('ecs: alert → rule.* of the most severe rule, all tags', () => {
  const doc = ecsDocument(env('alert', alert, 32), CTX)!;
  assert.deepEqual(doc['rule'], { name: 'Shell spawned', description: 'a shell ran', ruleset: 'policies/shell.yaml', category: 'high' });
  assert.equal((doc['event'] as EcsDoc)['kind'], 'alert');
  assert.equal((doc['event'] as EcsDoc)['severity'], 3);
  assert.deepEqual(doc['tags'], ['a', 'mitre:T1059']);
  assert.equal((doc['process'] as EcsDoc)['command_line'], '/bin/sh -c id');
  assert.equal(doc['@timestamp'], '2023-11-14T22:15:23.000000000Z');
});

test('ecs: the encoder is pure and skips kinds it has no mapping for', () => {
  const enc = new EcsEncoder(CTX);
  const e = env('socket', sock(), 1);
  assert.equal(enc.encode(e), enc.encode(e));
  assert.equal(enc.encode({ kind: 'payload', rec: {} }), null);
  assert.equal(typeof JSON.parse(enc.encode(e)!), 'object');
});

test('ecs: reads the runtime enrichment: host (with its clock), mounts, users', () => {
  const enrich = { host: { ...CTX.host, hostName: 'relay-7', bootToRealNs: CTX.bootToRealNs + 1_000_000_000n }, mounts: { dir: '/srv/data/', device: '8:1' }, users: { fileUser: 'bob' } };
  const doc = ecsDocument(env('file', file({ dir: 'data/' }), 9, enrich), CTX)!;
  assert.equal(doc['@timestamp'], '2023-11-14T22:13:28.500000000Z');
  assert.equal((doc['host'] as EcsDoc)['name'], 'relay-7');
  const f = doc['file'] as EcsDoc;
  assert.deepEqual([f['path'], f['directory'], f['owner']], ['/srv/data/notes.txt', '/srv/data', 'bob']);
});
