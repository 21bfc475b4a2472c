// Builds SfRecordViews for tests through the real EntityTable, from a compact description.
import { EntityTable } from '../../src/sysflow/entities.js';
import type { Container, File, Process, SfObject } from '../../src/sysflow/types.js';
import type { SfRecordView } from '../../src/sysflow/view.js';

export interface ProcSpec {
  pid: number;
  exe: string;
  args?: string;
  uid?: number;
  user?: string;
  gid?: number;
  group?: string;
  tty?: boolean;
  entry?: boolean;
  createTS?: bigint;
}

export interface ViewSpec {
  type?: 'PE' | 'FF' | 'FE' | 'NF' | 'KE';
  opFlags?: number;
  ret?: number;
  ts?: bigint;
  /** Process chain, the process itself first, then parent, grandparent, ... */
  procs?: ProcSpec[];
  container?: Partial<Container> | null;
  file?: { path: string; restype?: string };
  newFile?: { path: string };
  openFlags?: number;
  fd?: number;
  net?: { sip: number; sport: number; dip: number; dport: number; proto: number };
  flow?: { rbytes?: bigint; rops?: bigint; wbytes?: bigint; wops?: bigint };
  ke?: { kind: string; action: string; message: string };
}

let foidSeq = 0;
const foid = (): string => (++foidSeq).toString(16).padStart(40, '0');

/** A fresh table per view, so per-entity caches never leak between tests. */
export function makeView(spec: ViewSpec): SfRecordView {
  const t = new EntityTable();
  const objs: SfObject[] = [{ type: 'H', rec: { version: 5n, exporter: 'node-a', ip: '10.0.0.1', filename: '/traces/test.sf' } }];
  const cid = spec.container === null || spec.container === undefined ? null : (spec.container.id ?? 'c0ffee000001');
  if (cid !== null) {
    objs.push({
      type: 'C',
      rec: { id: cid, name: 'web', image: 'nginx:latest', imageid: 'sha256:abc', type: 'CT_DOCKER', privileged: false, podId: null, ...spec.container },
    });
  }
  const procs = spec.procs ?? [{ pid: 100, exe: '/bin/bash', args: '-c ls' }];
  const procRecs: Process[] = procs.map((p, i) => ({
    state: 'CREATED', oid: { hpid: BigInt(p.pid), createTS: p.createTS ?? BigInt(1000 + p.pid) }, poid: null, ts: 1n,
    exe: p.exe, exeArgs: p.args ?? '', uid: p.uid ?? 0, userName: p.user ?? 'root', gid: p.gid ?? 0, groupName: p.group ?? 'root',
    tty: p.tty ?? false, containerId: i === 0 ? cid : null, entry: p.entry ?? false, cwd: '/', env: [],
  }));
  for (let i = 0; i + 1 < procRecs.length; i++) procRecs[i]!.poid = procRecs[i + 1]!.oid;
  for (const p of [...procRecs].reverse()) objs.push({ type: 'P', rec: p });
  let fileRec: File | null = null;
  if (spec.file) {
    fileRec = { state: 'CREATED', oid: foid(), ts: 1n, restype: (spec.file.restype ?? 'f').charCodeAt(0), path: spec.file.path, containerId: cid };
    objs.push({ type: 'F', rec: fileRec });
  }
  let newFileRec: File | null = null;
  if (spec.newFile) {
    newFileRec = { state: 'CREATED', oid: foid(), ts: 1n, restype: 102, path: spec.newFile.path, containerId: cid };
    objs.push({ type: 'F', rec: newFileRec });
  }
  const procOID = procRecs[0]!.oid;
  const ts = spec.ts ?? 1_700_000_000_000_000_000n;
  const type = spec.type ?? 'PE';
  const fl = spec.flow ?? {};
  switch (type) {
    case 'PE':
      objs.push({ type: 'PE', rec: { procOID, ts, tid: procOID.hpid, opFlags: spec.opFlags ?? 2, args: [], ret: spec.ret ?? 0 } });
      break;
    case 'FF':
      objs.push({
        type: 'FF',
        rec: {
          procOID, ts, tid: procOID.hpid, opFlags: spec.opFlags ?? (1 << 7) | (1 << 8) | (1 << 10), openFlags: spec.openFlags ?? 1,
          endTs: ts + 1000n, fileOID: fileRec?.oid ?? foid(), fd: spec.fd ?? 3, numRRecvOps: fl.rops ?? 0n, numWSendOps: fl.wops ?? 0n,
          numRRecvBytes: fl.rbytes ?? 0n, numWSendBytes: fl.wbytes ?? 0n,
        },
      });
      break;
    case 'FE':
      objs.push({
        type: 'FE',
        rec: { procOID, ts, tid: procOID.hpid, opFlags: spec.opFlags ?? 1 << 20, fileOID: fileRec?.oid ?? foid(), ret: spec.ret ?? 0, newFileOID: newFileRec?.oid ?? null },
      });
      break;
    case 'NF': {
      const n = spec.net ?? { sip: 16777343, sport: 40000, dip: 16777343, dport: 80, proto: 6 };
      objs.push({
        type: 'NF',
        rec: {
          procOID, ts, tid: procOID.hpid, opFlags: spec.opFlags ?? (1 << 6) | (1 << 8) | (1 << 10), endTs: ts + 1000n, ...n, fd: spec.fd ?? 5,
          numRRecvOps: fl.rops ?? 0n, numWSendOps: fl.wops ?? 0n, numRRecvBytes: fl.rbytes ?? 0n, numWSendBytes: fl.wbytes ?? 0n,
        },
      });
      break;
    }
    case 'KE': {
      const k = spec.ke ?? { kind: 'K8S_PODS', action: 'K8S_COMPONENT_ADDED', message: '{}' };
      objs.push({ type: 'KE', rec: { kind: k.kind, action: k.action, ts, message: k.message } as never });
      break;
    }
  }
  let view: SfRecordView | null = null;
  for (const o of objs) view = t.push(o) ?? view;
  if (!view) throw new Error('no view built');
  return view;
}
