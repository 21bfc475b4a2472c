// sysprint's json and flatjson lines, compiled per key list and record type: constant text is
// folded, runs of keys of one entity (a process, a file) are rendered once per entity and
// cached, and hot record-level keys are written by generated straight-line code.
import { opFlagsSysprint } from './flags.js';
import { ipIntToString } from './ip.js';
import { isoFromNs, pyJson, pyJsonString } from './pyfmt.js';
import type { PyValue } from './pyfmt.js';
import { ByteSink } from './avro-encode.js';
import type { SfRecordView } from './view.js';
import type { SfEventFlowType } from './types.js';
import { FLAT_GETTERS, SYSPRINT_FLAT_KEYS, type AbsentFields, type Getter } from './print-fields.js';

/** What a key's value depends on: the record, one joined entity, or nothing. */
type Dep = 'const' | 'record' | 'proc' | 'pproc' | 'file' | 'newFile' | 'container' | 'pod' | 'header';

function depOf(k: string): Dep {
  if (k === 'version' || k === 'tags') return 'const';
  if (k === 'proc.tid' || k === 'proc.apid' || k === 'proc.aname') return 'record';
  if (k.startsWith('proc.')) return 'proc';
  if (k.startsWith('pproc.')) return 'pproc';
  if (k === 'file.path' || k === 'file.type' || k === 'file.name' || k === 'file.directory') return 'file';
  if (k === 'file.newpath') return 'newFile';
  if (k.startsWith('container.')) return 'container';
  if (k.startsWith('pod.')) return 'pod';
  if (k === 'node.id' || k === 'node.ip' || k === 'filename' || k === 'schema') return 'header';
  return 'record';
}

const entityOf = (v: SfRecordView, d: Dep): object | null =>
  d === 'proc' ? v.proc : d === 'pproc' ? v.pproc : d === 'file' ? v.file : d === 'newFile' ? v.newFile : d === 'container' ? v.container : d === 'pod' ? v.pod : d === 'header' ? v.header : null;

type Token = { s: string } | { slot: number };
// Constant bytes, or a writer for one record-level value or one cached entity run.
type Piece = Buffer | ((v: SfRecordView, a: AbsentFields, out: ByteSink) => void);

/**
 * Compiled JSON line writer for a fixed key list: nested (sysprint json, dotted keys expanded
 * like dotty_dict) or flat. Runs of consecutive keys that depend on the same entity (e.g. all of
 * proc.* but tid, or pproc.*) are rendered once per entity object and cached: rows share
 * their process's JSON text, which is most of the bytes (env strings can be kilobytes).
 */
export function compileJsonLine(fields: readonly string[] | null, nested: boolean): (v: SfRecordView, absent: AbsentFields) => string {
  const w = compileJsonLineBytes(fields, nested);
  const sink = new ByteSink(4096);
  return (v, a) => {
    sink.reset();
    w(v, a, sink);
    return sink.view().toString('latin1');
  };
}

/**
 * The same, appending the line's bytes to `out`. json.dumps output is pure ASCII (ensure_ascii),
 * so strings are written as latin1 and cached runs are kept as Buffers (memcpy per row).
 */
export function compileJsonLineBytes(
  fields: readonly string[] | null,
  nested: boolean,
): (v: SfRecordView, absent: AbsentFields, out: ByteSink) => void {
  const keys = fields ?? SYSPRINT_FLAT_KEYS;
  const getters = keys.map((k) => FLAT_GETTERS.get(k) ?? (() => ''));
  const tokens: Token[] = [];
  if (!nested) {
    keys.forEach((k, i) => {
      tokens.push({ s: (i === 0 ? '{' : ', ') + pyJsonString(k) + ': ' }, { slot: i });
    });
    tokens.push({ s: keys.length ? '}' : '{}' });
  } else {
    // A tree in first-appearance order; a later key colliding with a leaf/subtree replaces it,
    // as dict assignment would.
    interface Node {
      kids: Map<string, Node | number>;
    }
    const root: Node = { kids: new Map() };
    keys.forEach((k, i) => {
      const parts = k.split('.');
      let n = root;
      for (let j = 0; j < parts.length - 1; j++) {
        const p = parts[j]!;
        let next = n.kids.get(p);
        if (next === undefined || typeof next === 'number') {
          next = { kids: new Map() };
          n.kids.set(p, next);
        }
        n = next;
      }
      n.kids.set(parts[parts.length - 1]!, i);
    });
    const walk = (n: Node): void => {
      tokens.push({ s: '{' });
      let first = true;
      for (const [k, c] of n.kids) {
        tokens.push({ s: (first ? '' : ', ') + pyJsonString(k) + ': ' });
        first = false;
        if (typeof c === 'number') tokens.push({ slot: c });
        else walk(c);
      }
      tokens.push({ s: '}' });
    };
    walk(root);
  }
  // Pieces are compiled per (absent-field set, record type): a record-level key whose value is
  // fixed for that type (e.g. net.* on a FileFlow) is folded into the constant text.
  const compiled = new WeakMap<AbsentFields, Map<SfEventFlowType, RowWriter>>();
  const compileFor = (v: SfRecordView, absent: AbsentFields): RowWriter => {
    const steps: Step[] = [];
    let text = '';
    const depOfTok = (t: Token): Dep | null => {
      if (!('slot' in t)) return null;
      const d = depOf(keys[t.slot]!);
      if (d === 'record') return constantFor(keys[t.slot]!, v.type) ? 'const' : d;
      // Entities a record type never has are constant (null) for it: fold them, which also
      // lets e.g. file.path and file.type of a FileFlow form one cached run.
      if ((d === 'file' && v.type !== 'FF' && v.type !== 'FE') || (d === 'newFile' && v.type !== 'FE')) return 'const';
      if ((d === 'proc' || d === 'pproc') && v.type === 'KE') return 'const';
      return d;
    };
    let i = 0;
    while (i < tokens.length) {
      const t = tokens[i]!;
      const d = depOfTok(t);
      if (d === null || d === 'const') {
        text += 'slot' in t ? pyJson(getters[t.slot]!(v, absent)) : t.s;
        i++;
        continue;
      }
      // The constant text before a record slot is written by the slot's step.
      const prefix = Buffer.from(text, 'latin1');
      text = '';
      if (d === 'record') {
        steps.push({ k: 'rec', slot: (t as { slot: number }).slot, prefix });
        i++;
        continue;
      }
      if (prefix.length) steps.push({ k: 'const', b: prefix });
      // Extend the run over text tokens and slots of the same entity; it must end on a slot.
      let j = i;
      let lastSlot = i;
      while (j < tokens.length) {
        const dj = depOfTok(tokens[j]!);
        if (dj === null || dj === 'const') {
          j++;
          continue;
        }
        if (dj !== d) break;
        lastSlot = j;
        j++;
      }
      steps.push({ k: 'run', piece: entityRun(tokens.slice(i, lastSlot + 1), d) });
      i = lastSlot + 1;
    }
    if (text) steps.push({ k: 'const', b: Buffer.from(text, 'latin1') });
    return generateRowWriter(steps, v.type, keys, getters);
  };
  // Entity runs are cached per entity object (and absent set), shared by all record types.
  const runCache = new Map<string, Piece>();
  const entityRun = (run: Token[], d: Dep): Piece => {
    const id = d + ':' + run.map((t) => ('slot' in t ? `#${t.slot}` : t.s)).join('\u0000');
    const hit = runCache.get(id);
    if (hit) return hit;
    const renderRun = (v: SfRecordView, a: AbsentFields): Buffer => {
      let s = '';
      for (const r of run) s += 'slot' in r ? pyJson(getters[r.slot]!(v, a)) : r.s;
      return Buffer.from(s, 'latin1');
    };
    const caches = new WeakMap<AbsentFields, WeakMap<object, Buffer>>();
    const nullCache = new WeakMap<AbsentFields, Buffer>();
    let lastE: object | null = null;
    let lastA: AbsentFields | null = null;
    let lastB: Buffer | null = null;
    const piece: Piece = (v, a, out) => {
      const e = entityOf(v, d);
      // Consecutive rows usually share their process/file: check the last one first.
      if (e === lastE && a === lastA && lastB !== null) {
        out.raw(lastB);
        return;
      }
      let b: Buffer | undefined;
      if (e === null) {
        b = nullCache.get(a);
        if (b === undefined) nullCache.set(a, (b = renderRun(v, a)));
      } else {
        let m = caches.get(a);
        if (!m) caches.set(a, (m = new WeakMap()));
        b = m.get(e);
        if (b === undefined) m.set(e, (b = renderRun(v, a)));
      }
      lastE = e;
      lastA = a;
      lastB = b;
      out.raw(b);
    };
    runCache.set(id, piece);
    return piece;
  };
  return (v, a, out) => {
    let byType = compiled.get(a);
    if (!byType) compiled.set(a, (byType = new Map()));
    let w = byType.get(v.type);
    if (!w) byType.set(v.type, (w = compileFor(v, a)));
    w(v, a, out);
  };
}

type RowWriter = (v: SfRecordView, a: AbsentFields, out: ByteSink) => void;
/** One step of a row: constant bytes, a record-level value (after its prefix), an entity run. */
type Step = { k: 'const'; b: Buffer } | { k: 'rec'; slot: number; prefix: Buffer } | { k: 'run'; piece: Piece };

/**
 * Direct JSON expressions for hot record-level keys, per record type, over `r` (the record) —
 * no PyValue boxing, no type dispatch, no escaping for values that are ASCII-safe by
 * construction. Keys not listed use the generic getter + json.dumps emulation.
 */
const DIRECT: Readonly<Record<string, string>> = {
  ts: `out.byte(34); H.iso(out, r.ts); out.byte(34);`,
  ts_uts: `H.big(out, r.ts);`,
  endts: `out.byte(34); H.iso(out, r.endTs); out.byte(34);`,
  endts_uts: `H.big(out, r.endTs);`,
  opflags: `out.raw(H.opf(r.opFlags));`,
  opflags_bitmap: `out.int10(r.opFlags);`,
  ret: `out.int10(r.ret);`,
  'proc.tid': `H.big(out, r.tid);`,
  'file.openflags': `out.int10(r.openFlags);`,
  'flow.rbytes': `H.big(out, r.numRRecvBytes);`,
  'flow.rops': `H.big(out, r.numRRecvOps);`,
  'flow.wbytes': `H.big(out, r.numWSendBytes);`,
  'flow.wops': `H.big(out, r.numWSendOps);`,
  'pf.nthreads': `H.big(out, r.numThreadsCloned);`,
  'pf.nexits': `H.big(out, r.numThreadsExited);`,
  'pf.nerrors': `H.big(out, r.numCloneErrors);`,
  'net.proto': `out.int10(r.proto);`,
  'net.sport': `out.int10(r.sport);`,
  'net.dport': `out.int10(r.dport);`,
  'net.sip': `out.byte(34); out.ascii(H.ip(r.sip)); out.byte(34);`,
  'net.dip': `out.byte(34); out.ascii(H.ip(r.dip)); out.byte(34);`,
};
/** `file.fd` is direct for FileFlow only (a P8 NetworkFlow has none: generic path). */
const directFor = (key: string, t: SfEventFlowType): string | undefined => (key === 'file.fd' ? (t === 'FF' ? `out.int10(r.fd);` : undefined) : DIRECT[key]);

const opfCache = new Map<number, Buffer>();
const SAFE = BigInt(Number.MAX_SAFE_INTEGER);
const E9 = 1_000_000_000n;
// Consecutive timestamps share their seconds: the ISO date part is cached per second.
let isoSec = NaN;
let isoBuf = Buffer.alloc(0);

const HELPERS = {
  /** bigint decimal digits: safe values without a string; larger ones via BigInt#toString
   * (measured faster here than splitting off a cached seconds prefix). */
  big(out: ByteSink, x: bigint): void {
    if (x <= SAFE && x >= -SAFE) out.int10(Number(x));
    else out.ascii(x.toString());
  },
  /** isoFromNs written straight into the buffer (same arithmetic as pyfmt.isoFromNs). */
  iso(out: ByteSink, ns: bigint): void {
    const d = Number(ns) / 1e9;
    if (!(d >= 0)) return out.ascii(isoFromNs(ns)); // before 1970: the general path
    let intpart = Math.trunc(d);
    // Python's half-even rounding of the fraction to microseconds (x >= 0 here).
    const x = (d - intpart) * 1e6;
    let us = Math.round(x);
    if (us - x === 0.5 && us % 2 === 1) us -= 1;
    if (us >= 1e6) {
      us -= 1e6;
      intpart += 1;
    } else if (us < 0) {
      us += 1e6;
      intpart -= 1;
    }
    if (intpart !== isoSec) {
      const full = isoFromNs(BigInt(intpart) * E9);
      if (full.length !== 19) return out.ascii(isoFromNs(ns)); // out-of-range years: generic
      isoSec = intpart;
      isoBuf = Buffer.from(full, 'latin1');
    }
    out.raw(isoBuf);
    if (us !== 0) {
      out.byte(0x2e);
      out.int10pad(us, 6);
    }
  },
  ip: ipIntToString,
  opf(f: number): Buffer {
    let b = opfCache.get(f);
    if (b === undefined) opfCache.set(f, (b = Buffer.from(pyJsonString(opFlagsSysprint(f)), 'latin1')));
    return b;
  },
};


/**
 * Generate straight-line code for one record type: each call site is monomorphic (one record
 * shape, one getter), which V8 inlines; constants are copied, entity runs come from their cache.
 * The generated source only contains indices and the fixed expressions above, never data.
 */
function generateRowWriter(
  steps: readonly Step[],
  type: SfEventFlowType,
  keys: readonly string[],
  getters: readonly Getter[],
): RowWriter {
  const C: Buffer[] = [];
  const R: Piece[] = [];
  const G: ((v: SfRecordView, a: AbsentFields) => string)[] = [];
  const lines: string[] = ['const r = v.obj.rec;'];
  // Short constants become inline byte stores (no call, no loop); long ones a copy.
  const emitConst = (b: Buffer): void => {
    if (b.length === 0) return;
    if (b.length > 64) {
      lines.push(`out.raw(C[${C.length}]);`);
      C.push(b);
      return;
    }
    const stores = Array.from(b, (x, i) => `b[p + ${i}] = ${x};`).join(' ');
    lines.push(`out.ensure(${b.length}); { const b = out.buf; const p = out.len; ${stores} out.len = p + ${b.length}; }`);
  };
  for (const st of steps) {
    if (st.k === 'const') {
      emitConst(st.b);
    } else if (st.k === 'run') {
      lines.push(`R[${R.length}](v, a, out);`);
      R.push(st.piece);
    } else {
      emitConst(st.prefix);
      const stmt = directFor(keys[st.slot]!, type);
      if (stmt !== undefined) lines.push(stmt);
      else {
        // Generic: getter, then json.dumps with a memo of the previous row's value.
        const g = getters[st.slot]!;
        let lastV: PyValue | undefined;
        let lastJ = '';
        G.push((row, a) => {
          const x = g(row, a);
          if (x !== lastV || typeof x === 'object') {
            lastV = x;
            lastJ = pyJson(x);
          }
          return lastJ;
        });
        lines.push(`out.ascii(G[${G.length - 1}](v, a));`);
      }
    }
  }
  const body = `return function row(v, a, out) {\n${lines.join('\n')}\n};`;
  return new Function('C', 'R', 'G', 'H', body)(C, R, G, HELPERS) as RowWriter;
}

/** Record types for which a record-level key varies; for all other types it is a constant. */
const VARYING: Readonly<Record<string, readonly SfEventFlowType[]>> = {
  type: [],
  opflags: ['PE', 'NF', 'FF', 'FE', 'NE', 'PF'],
  opflags_bitmap: ['PE', 'NF', 'FF', 'FE', 'NE', 'PF'],
  ret: ['PE', 'FE', 'NE'],
  endts: ['FF', 'NF', 'PF'],
  endts_uts: ['FF', 'NF', 'PF'],
  'proc.tid': ['PE', 'NF', 'FF', 'FE', 'NE'],
  'file.fd': ['FF', 'NF'],
  'file.openflags': ['FF'],
  'file.is_open_write': ['FF'],
  'file.is_open_read': ['FF'],
  'net.proto': ['NF'],
  'net.sport': ['NF'],
  'net.dport': ['NF'],
  'net.sip': ['NF'],
  'net.dip': ['NF'],
  'net.port': ['NF'],
  'net.ip': ['NF'],
  res: ['FF', 'FE', 'NF'],
  'flow.rbytes': ['FF', 'NF'],
  'flow.rops': ['FF', 'NF'],
  'flow.wbytes': ['FF', 'NF'],
  'flow.wops': ['FF', 'NF'],
  'pf.nthreads': ['PF'],
  'pf.nexits': ['PF'],
  'pf.nerrors': ['PF'],
  'k8s.action': ['KE'],
  'k8s.kind': ['KE'],
  'k8s.msg': ['KE'],
};

function constantFor(key: string, t: SfEventFlowType): boolean {
  const v = VARYING[key];
  return v !== undefined && !v.includes(t);
}

