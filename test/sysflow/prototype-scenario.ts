// One small, hand-made capture written in each writer layout (v5 and the prototypes P4, P7, P8):
// a container, a parent shell that clones, a child that execs and exits, a process whose state
// changes to MODIFIED and one re-announced as REUP, and — where the layout has those records —
// a file flow, a file event and a network flow. Fields a layout cannot carry hold the value the
// reader gives back for them (the writer refuses anything else), so every layout reads back to
// exactly these objects. The expected sysprint output of each trace is in
// fixtures/prototypes/ (see make-prototype-fixtures.ts for how it was produced).
import { OP, OPEN } from '../../src/sysflow/flags.js';
import { computeFoid } from '../../src/sysflow/oid.js';
import type { SysFlowLayout } from '../../src/sysflow/schema.js';
import type { OID, Process, SfObject } from '../../src/sysflow/types.js';

export const PROTOTYPE_LAYOUTS: readonly SysFlowLayout[] = ['P4', 'P7', 'P8', 'v5'];

/** Fixed sync marker: the traces are byte-identical on every run. */
export const SCENARIO_SYNC = Buffer.from('00112233445566778899aabbccddeeff', 'hex');

const T0 = 1548965896_000000000n;
const CID = 'c0ffee123456';

export function scenario(layout: SysFlowLayout): SfObject[] {
  const v5 = layout === 'v5';
  const hasFiles = layout !== 'P4';
  const hasFileEvents = layout === 'P8' || v5;
  const oid = (hpid: number, at: bigint): OID => ({ createTS: T0 + at, hpid: BigInt(hpid) });
  const shell = oid(100, 0n);
  const child = oid(101, 2_000_000n);
  const daemon = oid(50, -9_000_000_000n);
  const proc = (o: OID, poid: OID | null, state: Process['state'], ts: bigint, exe: string, exeArgs: string, extra: Partial<Process> = {}): SfObject => ({
    type: 'P',
    rec: {
      state, oid: o, poid, ts, exe, exeArgs, uid: 1000, userName: 'alice', gid: 1000, groupName: 'staff',
      tty: v5 && exe === '/bin/bash', containerId: CID, entry: false, cwd: '', env: [], ...extra,
    },
  });
  const pe = (o: OID, ts: bigint, tid: number, opFlags: number, args: string[], ret: number): SfObject => ({
    type: 'PE', rec: { procOID: o, ts, tid: BigInt(tid), opFlags, args, ret },
  });
  const objs: SfObject[] = [
    { type: 'H', rec: { version: v5 ? 5n : 1000n, exporter: `proto-${layout}`, ip: v5 ? '10.0.0.7' : 'NA', filename: v5 ? 'mon.1548965896' : '' } },
    { type: 'C', rec: { id: CID, name: 'web', image: 'nginx:1.15', imageid: '5f70bf18a086', type: 'CT_DOCKER', privileged: v5, podId: null } },
    proc(daemon, null, 'REUP', T0 + 1_000n, '/usr/sbin/sshd', '-D'),
    proc(shell, daemon, 'CREATED', T0, '/bin/bash', '-c "python3 x.py, y"',
      v5 ? { entry: true, cwd: '/srv/app', env: ['PATH=/usr/local/bin:/usr/bin:/bin', 'HOME=/home/alice', 'LANG=C.UTF-8'] } : {}),
    pe(shell, T0 + 1_500_000n, 100, OP.CLONE, [], 101),
    proc(child, shell, 'CREATED', T0 + 2_000_000n, '/bin/bash', '-c "python3 x.py, y"'),
    pe(child, T0 + 2_500_000n, 101, OP.CLONE, [], 0),
    proc(child, shell, 'MODIFIED', T0 + 3_000_000n, '/usr/bin/python3', 'x.py, y', v5 ? { cwd: '/srv/app', env: ['LANG=C.UTF-8'] } : {}),
    pe(child, T0 + 3_000_000n, 101, OP.EXEC, ['/usr/bin/python3', 'x.py, y'], 0),
  ];
  if (hasFiles) {
    const path = '/srv/app/data.csv';
    const foid = computeFoid(path, CID);
    objs.push(
      { type: 'F', rec: { state: 'CREATED', oid: foid, ts: T0 + 3_500_000n, restype: 'f'.charCodeAt(0), path, containerId: CID } },
      {
        type: 'FF',
        rec: {
          procOID: child, ts: T0 + 3_600_000n, tid: 101n, opFlags: OP.OPEN | OP.READ_RECV | OP.CLOSE,
          // P7's FileFlow has no openFlags: the reader's value for it is 0.
          openFlags: layout === 'P7' ? 0 : OPEN.RDONLY | OPEN.CLOEXEC,
          endTs: T0 + 3_900_000n, fileOID: foid, fd: 3, numRRecvOps: 2n, numWSendOps: 0n, numRRecvBytes: 4096n, numWSendBytes: 0n,
        },
      },
      {
        type: 'NF',
        rec: {
          procOID: child, ts: T0 + 4_000_000n, tid: 101n, opFlags: OP.CONNECT | OP.WRITE_SEND | OP.READ_RECV | OP.CLOSE, endTs: T0 + 4_500_000n,
          // 10.0.0.7:40000 -> 93.184.216.34:443 (first octet in the low byte)
          sip: 0x0700000a, sport: 40000, dip: 0x22d8b85d, dport: 443, proto: 6,
          // P7 and P8 network flows have no fd: the reader's value for it is -1.
          fd: layout === 'P7' || layout === 'P8' ? -1 : 4,
          numRRecvOps: 3n, numWSendOps: 1n, numRRecvBytes: 1200n, numWSendBytes: 310n,
        },
      },
    );
    if (hasFileEvents) {
      objs.push({ type: 'FE', rec: { procOID: child, ts: T0 + 4_600_000n, tid: 101n, opFlags: OP.UNLINK, fileOID: foid, ret: 0, newFileOID: null } });
    }
  }
  objs.push(
    pe(child, T0 + 5_000_000n, 101, OP.EXIT, [], 0),
    pe(daemon, T0 + 6_000_000n, 50, OP.CLONE, [], 102),
  );
  return objs;
}
