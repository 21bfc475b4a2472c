// Record types no sample contains (NetworkEvent, ProcessFlow) and a trace with all 12 types:
// written, read back by us and by avsc, joined, and printed with sysprint's values.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { encodeSysFlowTrace } from '../../src/sysflow/ocf-writer.js';
import { openSysFlow } from '../../src/sysflow/reader.js';
import { EntityTable } from '../../src/sysflow/entities.js';
import { SYSPRINT_FLAT_KEYS, compileJsonLine, flatten } from '../../src/sysflow/print-format.js';
import { pyJson, pyJsonString } from '../../src/sysflow/pyfmt.js';
import { computeFoid } from '../../src/sysflow/oid.js';
import { ipStringToInt } from '../../src/sysflow/ip.js';
import { OP } from '../../src/sysflow/flags.js';
import type { SfObject } from '../../src/sysflow/types.js';
import { avscDecodeContainer, officialV5Type } from './helpers.js';

const TS = 1_700_000_000_123_456_789n;
const oid = { createTS: TS - 1000n, hpid: 4242n };
const poid = { createTS: 0n, hpid: 1n };
const foid = computeFoid('/etc/hosts', 'cafe00000001');

const objs: SfObject[] = [
  { type: 'H', rec: { version: 5n, exporter: 'all-types', ip: '10.0.0.9', filename: '/tmp/x' } },
  { type: 'POD', rec: { ts: TS, id: 'pod-1', name: 'web-0', nodeName: 'n1', hostIP: [BigInt(ipStringToInt('192.168.59.100'))], internalIP: [], namespace: 'default', restartCount: 2n, labels: { app: 'web' }, selectors: {}, services: [{ name: 'svc', id: 's1', namespace: 'default', portList: [{ port: 80, targetPort: 8080, nodePort: 0, proto: 'TCP' }], clusterIP: [BigInt(ipStringToInt('10.96.0.10'))] }] } },
  { type: 'C', rec: { id: 'cafe00000001', name: 'web', image: 'nginx', imageid: 'sha256:ab', type: 'CT_CRIO', privileged: true, podId: 'pod-1' } },
  { type: 'P', rec: { state: 'CREATED', oid: poid, poid: null, ts: TS, exe: '/sbin/init', exeArgs: '', uid: 0, userName: 'root', gid: 0, groupName: 'root', tty: false, containerId: null, entry: true, cwd: '/', env: [] } },
  { type: 'P', rec: { state: 'CREATED', oid, poid, ts: TS, exe: '/usr/bin/nginx', exeArgs: '-g daemon off;', uid: 101, userName: 'nginx', gid: 101, groupName: 'nginx', tty: false, containerId: 'cafe00000001', entry: false, cwd: '/srv', env: ['A=1', '', '=', 'B=2'] } },
  { type: 'F', rec: { state: 'CREATED', oid: foid, ts: TS, restype: 102, path: '/etc/hosts', containerId: 'cafe00000001' } },
  { type: 'PE', rec: { procOID: oid, ts: TS + 1n, tid: 4242n, opFlags: OP.EXEC, args: [], ret: 0 } },
  { type: 'PF', rec: { procOID: oid, ts: TS + 2n, numThreadsCloned: 3n, opFlags: OP.CLONE | OP.EXIT, endTs: TS + 1_000_000n, numThreadsExited: 1n, numCloneErrors: 0n } },
  { type: 'FF', rec: { procOID: oid, ts: TS + 3n, tid: 4243n, opFlags: OP.OPEN | OP.READ_RECV | OP.CLOSE, openFlags: 1, endTs: TS + 4n, fileOID: foid, fd: 7, numRRecvOps: 1n, numWSendOps: 0n, numRRecvBytes: 512n, numWSendBytes: 0n } },
  { type: 'FE', rec: { procOID: oid, ts: TS + 5n, tid: 4242n, opFlags: OP.UNLINK, fileOID: foid, ret: -2, newFileOID: null } },
  { type: 'NF', rec: { procOID: oid, ts: TS + 6n, tid: 4242n, opFlags: OP.ACCEPT | OP.WRITE_SEND, endTs: TS + 7n, sip: ipStringToInt('200.1.2.3'), sport: 50000, dip: ipStringToInt('10.0.0.9'), dport: 443, proto: 6, fd: 9, numRRecvOps: 0n, numWSendOps: 2n, numRRecvBytes: 0n, numWSendBytes: 9000n } },
  { type: 'NE', rec: { procOID: oid, ts: TS + 8n, tid: 4242n, opFlags: OP.CONNECT, sip: ipStringToInt('10.0.0.9'), sport: 40000, dip: ipStringToInt('1.1.1.1'), dport: 53, proto: 17, ret: 0 } },
  { type: 'KE', rec: { kind: 'K8S_PODS', action: 'K8S_COMPONENT_ADDED', ts: TS + 9n, message: '{"type":"ADDED"}' } },
];

describe('all 12 record types', () => {
  const buf = encodeSysFlowTrace(objs);

  it('round trip through our writer and reader, and avsc reads the same count', async () => {
    assert.deepStrictEqual([...openSysFlow(buf)], objs);
    const { records } = await avscDecodeContainer(buf, officialV5Type());
    assert.deepEqual(
      records.map((r) => Object.keys(r.rec as object)[0]!.split('.').pop()),
      ['SFHeader', 'Pod', 'Container', 'Process', 'Process', 'File', 'ProcessEvent', 'ProcessFlow', 'FileFlow', 'FileEvent', 'NetworkFlow', 'NetworkEvent', 'K8sEvent'],
    );
  });

  it('joins and sysprint values for PF, NE, KE and pods', () => {
    const t = new EntityTable();
    const rows = [...openSysFlow(buf)].map((o) => t.push(o)).filter((v) => v !== null);
    assert.deepEqual(rows.map((r) => r.type), ['PE', 'PF', 'FF', 'FE', 'NF', 'NE', 'KE']);
    const get = (i: number, keys: string[]) => Object.fromEntries(flatten(rows[i]!, keys));
    assert.deepEqual(get(1, ['proc.tid', 'pf.nthreads', 'pf.nexits', 'opflags', 'file.fd', 'endts']), {
      'proc.tid': null, 'pf.nthreads': 3n, 'pf.nexits': 1n, opflags: 'CLONEEXIT', 'file.fd': '', endts: '2023-11-14T22:13:20.124457',
    });
    assert.deepEqual(get(0, ['proc.env', 'pproc.exe', 'container.type', 'container.privileged', 'pod.name', 'pod.hostip', 'node.ip']), {
      'proc.env': 'A=1;B=2', 'pproc.exe': '/sbin/init', 'container.type': 'CT_CRIO', 'container.privileged': true, 'pod.name': 'web-0', 'pod.hostip': ['192.168.59.100'], 'node.ip': '10.0.0.9',
    });
    assert.deepEqual(get(0, ['pod.services'])['pod.services'], [{ name: 'svc', id: 's1', namespace: 'default', portList: [{ port: 80, targetPort: 8080, nodePort: 0, proto: 'TCP' }], clusterIP: ['10.96.0.10'] }]);
    assert.deepEqual(get(3, ['opflags', 'ret', 'res', 'file.type']), { opflags: 'UNLINK', ret: -2, res: '/etc/hosts', 'file.type': 'f' });
    assert.deepEqual(get(4, ['res', 'net.sip', 'flow.wbytes', 'opflags']), { res: '200.1.2.3:50000-10.0.0.9:443', 'net.sip': '200.1.2.3', 'flow.wbytes': 9000n, opflags: ' A W       ' });
    // sysprint fills net.* for NetworkFlow only; a NetworkEvent shows its ret
    assert.deepEqual(get(5, ['type', 'ret', 'net.dport', 'res', 'opflags']), { type: 'NE', ret: 0, 'net.dport': null, res: '', opflags: '  C        ' });
    assert.deepEqual(get(6, ['proc.pid', 'k8s.action', 'k8s.kind', 'k8s.msg', 'opflags', 'ts_uts']), {
      'proc.pid': null, 'k8s.action': 'K8S_COMPONENT_ADDED', 'k8s.kind': 'K8S_PODS', 'k8s.msg': '{"type":"ADDED"}', opflags: '', ts_uts: TS + 9n,
    });
    assert.equal(t.missing.process + t.missing.file + t.missing.container + t.missing.pod, 0);
  });

  it('the generated JSON writers equal json.dumps of the flat record for every type', () => {
    const t = new EntityTable();
    const flat = compileJsonLine(null, false);
    const some = compileJsonLine(['ts', 'proc.tid', 'res', 'pf.nthreads', 'net.sport', 'file.fd', 'k8s.kind', 'pod.rstrtcnt'], false);
    for (const o of openSysFlow(buf)) {
      const v = t.push(o);
      if (!v) continue;
      const ref = (keys: readonly string[]) => '{' + flatten(v, keys).map(([k, x]) => `${pyJsonString(k)}: ${pyJson(x)}`).join(', ') + '}';
      assert.equal(flat(v, new Set()), ref(SYSPRINT_FLAT_KEYS), v.type);
      assert.equal(some(v, new Set()), ref(['ts', 'proc.tid', 'res', 'pf.nthreads', 'net.sport', 'file.fd', 'k8s.kind', 'pod.rstrtcnt']), v.type);
    }
  });
});
