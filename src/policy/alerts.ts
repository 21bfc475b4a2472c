// Alert encoders.
//  - SysFlow: the exporter's `format: json` shape (sf-processor core/exporter/encoders/json.go):
//    one object per record, sections in sf-processor's order, then `policies` and `tags`.
//  - Falco: Falco's JSON alert (`json_output: true`), one object per matched rule.
import type { SfRecordView } from '../sysflow/view.js';
import type { EngineRecord } from './engine.js';
import { JSON_SCHEMA_VERSION, lookupField, type FieldDef } from './fields.js';
import { openflagDisplay, opflagDisplay } from './flag-names.js';
import type { Rule } from './loader.js';
import { toJson, type JsonValue } from './json.js';

function f(name: string): FieldDef {
  const d = lookupField(name);
  if (!d) throw new Error(`internal: field ${name} missing`);
  return d;
}
const get = (name: string): ((v: SfRecordView) => JsonValue) => f(name).get as (v: SfRecordView) => JsonValue;

const G = {
  endts: get('sf.endts'), ret: get('sf.ret'), ts: get('sf.ts'), type: get('sf.type'),
  cid: get('sf.container.id'), cimage: get('sf.container.image'), cimageid: get('sf.container.image.id'),
  cname: get('sf.container.name'), ctype: get('sf.container.type'), cpriv: get('sf.container.privileged'),
  fdir: get('sf.file.directory'), ffd: get('sf.file.fd'), fread: get('sf.file.is_open_read'),
  fwrite: get('sf.file.is_open_write'), fname: get('sf.file.name'), fnewdir: get('sf.file.newdirectory'),
  fnewname: get('sf.file.newname'), fnewoid: get('sf.file.newoid'), fnewpath: get('sf.file.newpath'),
  foid: get('sf.file.oid'), fpath: get('sf.file.path'), ftype: get('sf.file.type'),
  rbytes: get('sf.flow.rbytes'), rops: get('sf.flow.rops'), wbytes: get('sf.flow.wbytes'), wops: get('sf.flow.wops'),
  schema: get('sf.meta.schema'), trace: get('sf.meta.tracename'),
  dip: get('sf.net.dip'), dport: get('sf.net.dport'), ip: get('sf.net.ip'), port: get('sf.net.port'),
  proto: get('sf.net.proto'), sip: get('sf.net.sip'), sport: get('sf.net.sport'),
  nodeid: get('sf.node.id'), nodeip: get('sf.node.ip'),
  pargs: get('sf.pproc.args'), pcmd: get('sf.pproc.cmdline'), pcts: get('sf.pproc.createts'), pentry: get('sf.pproc.entry'),
  poid: get('sf.pproc.oid'), oid: get('sf.proc.oid'),
  pexe: get('sf.pproc.exe'), pgid: get('sf.pproc.gid'), pgroup: get('sf.pproc.group'), pname: get('sf.pproc.name'),
  ppid: get('sf.pproc.pid'), ptty: get('sf.pproc.tty'), puid: get('sf.pproc.uid'), puser: get('sf.pproc.user'),
  acmd: get('sf.proc.acmdline'), aexe: get('sf.proc.aexe'), aname: get('sf.proc.aname'), apid: get('sf.proc.apid'),
  args: get('sf.proc.args'), cmd: get('sf.proc.cmdline'), cts: get('sf.proc.createts'), entry: get('sf.proc.entry'),
  exe: get('sf.proc.exe'), gid: get('sf.proc.gid'), group: get('sf.proc.group'), name: get('sf.proc.name'),
  pid: get('sf.proc.pid'), tid: get('sf.proc.tid'), tty: get('sf.proc.tty'), uid: get('sf.proc.uid'), user: get('sf.proc.user'),
  kaction: get('sf.ke.action'), kkind: get('sf.ke.kind'), kmsg: get('sf.ke.message'),
};

function opflags(v: SfRecordView): string[] {
  const o = v.obj;
  return o.type === 'KE' ? [] : opflagDisplay(o.rec.opFlags, o.type === 'NF' || o.type === 'NE');
}

/** The record in sf-processor's exported JSON shape (without policies). */
export function sysflowRecordObject(v: SfRecordView): Record<string, JsonValue> {
  const out: Record<string, JsonValue> = {
    version: JSON_SCHEMA_VERSION,
    endts: G.endts(v), opflags: opflags(v), ret: G.ret(v), ts: G.ts(v), type: G.type(v),
  };
  if (v.type === 'KE') {
    out['k8s'] = { action: G.kaction(v), kind: G.kkind(v), message: G.kmsg(v) };
    out['meta'] = { schema: G.schema(v), tracename: G.trace(v) };
    out['node'] = { id: G.nodeid(v), ip: G.nodeip(v) };
    return out;
  }
  if (G.cid(v) !== '') {
    out['container'] = {
      id: G.cid(v), image: G.cimage(v), imageid: G.cimageid(v), name: G.cname(v),
      privileged: G.cpriv(v) ? 1 : 0, type: G.ctype(v),
    };
  }
  if (v.type === 'FF' || v.type === 'FE') {
    out['file'] = {
      directory: G.fdir(v), fd: G.ffd(v), is_open_read: G.fread(v), is_open_write: G.fwrite(v), name: G.fname(v),
      newdirectory: G.fnewdir(v), newname: G.fnewname(v), newoid: G.fnewoid(v), newpath: G.fnewpath(v),
      oid: G.foid(v), openflags: v.obj.type === 'FF' ? openflagDisplay(v.obj.rec.openFlags) : [], path: G.fpath(v),
      type: G.ftype(v),
    };
  }
  if (v.type === 'FF' || v.type === 'NF') {
    out['flow'] = { rbytes: G.rbytes(v), rops: G.rops(v), wbytes: G.wbytes(v), wops: G.wops(v) };
  }
  out['meta'] = { schema: G.schema(v), tracename: G.trace(v) };
  if (v.type === 'NF' || v.type === 'NE') {
    out['net'] = {
      dip: G.dip(v), dport: G.dport(v), ip: G.ip(v), port: G.port(v), proto: G.proto(v), sip: G.sip(v), sport: G.sport(v),
    };
  }
  out['node'] = { id: G.nodeid(v), ip: G.nodeip(v) };
  if (G.ppid(v) !== 0) {
    out['pproc'] = {
      args: G.pargs(v), cmdline: G.pcmd(v), createts: G.pcts(v), entry: G.pentry(v), exe: G.pexe(v), gid: G.pgid(v),
      group: G.pgroup(v), name: G.pname(v), oid: G.poid(v), pid: G.ppid(v), tty: G.ptty(v), uid: G.puid(v), user: G.puser(v),
    };
  }
  out['proc'] = {
    acmdline: G.acmd(v), aexe: G.aexe(v), aname: G.aname(v), apid: G.apid(v), args: G.args(v), cmdline: G.cmd(v),
    createts: G.cts(v), entry: G.entry(v), exe: G.exe(v), gid: G.gid(v), group: G.group(v), name: G.name(v),
    oid: G.oid(v), pid: G.pid(v), tid: G.tid(v), tty: G.tty(v), uid: G.uid(v), user: G.user(v),
  };
  return out;
}

/** One line of SysFlow JSON for an engine record: the record plus `policies` and `tags`. */
export function toSysFlowJson(rec: EngineRecord): string {
  const o = sysflowRecordObject(rec.view);
  if (rec.alerts.length > 0) {
    o['policies'] = rec.alerts.map((r) => ({ id: r.name, desc: r.desc, priority: r.priority.level }));
  }
  if (rec.tags.length > 0) o['tags'] = [...rec.tags];
  return toJson(o);
}

/** RFC 3339 with nanoseconds, UTC, from epoch nanoseconds. */
export function rfc3339Nano(ns: bigint): string {
  const ms = ns / 1_000_000n;
  const frac = (((ns % 1_000_000_000n) + 1_000_000_000n) % 1_000_000_000n).toString().padStart(9, '0');
  return new Date(Number(ms)).toISOString().replace(/\.\d{3}Z$/, `.${frac}Z`);
}

function fieldText(v: SfRecordView, spec: string): JsonValue {
  const m = /^([^[]+)(?:\[(.*)\])?$/.exec(spec);
  const d = m ? lookupField(m[1]!) : undefined;
  if (!d || !m) return null;
  let x = d.get(v) as JsonValue;
  if (m[2] !== undefined && Array.isArray(x)) x = (x as JsonValue[])[Number(m[2])] ?? null;
  if (x === '' ) return null;
  return x;
}

/** Renders a Falco output template: `%field` → value, `<NA>` when unavailable. */
export function renderOutput(template: string, v: SfRecordView): string {
  return template.replace(/%([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z0-9_]+)+(?:\[[^\]\s]*\])?)/g, (_m, spec: string) => {
    const x = fieldText(v, spec);
    if (x === null) return '<NA>';
    return Array.isArray(x) ? x.join(',') : String(x);
  });
}

/** Falco's JSON alert for one matched rule. */
export function toFalcoJson(v: SfRecordView, rule: Rule, hostname: string): string {
  const fields: Record<string, JsonValue> = {};
  for (const spec of rule.outputFields) fields[spec] = fieldText(v, spec);
  const output = rule.output ? renderOutput(rule.output, v) : `${rule.name} (${rule.desc})`;
  return toJson({
    hostname,
    output: `${rfc3339Nano(v.obj.rec.ts)}: ${rule.priority.falco} ${output}`,
    output_fields: fields,
    priority: rule.priority.falco,
    rule: rule.name,
    source: 'syscall',
    tags: [...rule.tags],
    time: rfc3339Nano(v.obj.rec.ts),
  });
}
