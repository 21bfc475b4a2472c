// Compiled conditions (closures over a record view) and what the compiler knows of each: its
// scope (process, file, record or constant), its cost, what it needs of the file path and which
// operations it can match; and the per-process (and per-file) cache of scoped sub-conditions.
import type { FieldDef, FieldType, FieldValueMap } from './fields.js';
import type { SfRecordView } from '../sysflow/view.js';
import type { PathNeed } from './path-need.js';

export type Predicate = (v: SfRecordView) => boolean;

export type Dialect = 'sysflow' | 'falco';

export const TRUE: Predicate = () => true;
export const FALSE: Predicate = () => false;

// ---- per-process caching ----------------------------------------------------------------------
// Most of a rule set looks only at the process (name, exe, ancestry, user, container), and a
// trace has many records per process. Sub-conditions whose fields are all process-scoped are
// evaluated once per Process entity and cached in a slot array attached to it, so the global
// whitelist and most PE/FF rule prefixes cost one array read per record. (sf-processor likewise
// caches the process tree per OID.) Records without a process are evaluated directly.
// The same holds for file-only sub-conditions (path, name, directory, type) and File entities.
export const PROC_SCOPED = new WeakSet<Predicate>([TRUE, FALSE]);
const FILE_SCOPED = new WeakSet<Predicate>([TRUE, FALSE]);
// Slot values: 0 unknown, 1 false, 2 true. Typed arrays keep lookups dense and monomorphic.
// Slots belong to one compilation (one policy set, or one filter expression), so reloading
// policies does not grow every entity's array; old slots go away with the old predicates.
// The array hangs on the entity under a symbol of this compilation: a property read instead of
// a WeakMap look-up and an ephemeron per entity (live records bring a new File entity each).
// It names its owner, so a copy of the entity made by a spread does not inherit stale results.
// Frozen entities (none today) fall back to the WeakMap.
/** An entity's slot array and the entity it was made for. */
interface SlotHolder { readonly owner: object; readonly slots: Int8Array }

export class SlotCache {
  private readonly map = new WeakMap<object, Int8Array>();
  private readonly key = Symbol('policy slots');
  // proc and file slots are counted apart: an entity is one or the other, and a short array
  // stays on V8's heap (typed arrays up to 64 bytes), which is what a new File entity costs
  private procNext = 0;
  private fileNext = 0;
  // Consecutive records usually share their process (and often their file), so the entity's
  // array is remembered and the WeakMap consulted only when the entity changes. `undefined`
  // means unknown (a record without a process/file has null, which must not match it).
  lastProc: object | null | undefined = undefined;
  lastProcSlots: Int8Array | null = null;
  lastFile: object | null | undefined = undefined;
  lastFileSlots: Int8Array | null = null;

  slotsFor(entity: object, kind: 'proc' | 'file'): Int8Array {
    const need = kind === 'proc' ? this.procNext : this.fileNext;
    const holder = entity as { [k: symbol]: SlotHolder | undefined };
    const extensible = Object.isExtensible(entity);
    const h = extensible ? holder[this.key] : undefined;
    // a holder copied onto another entity by a spread ({ ...proc, uid }) belongs to the original
    let s = h !== undefined && h.owner === entity ? h.slots : extensible ? undefined : this.map.get(entity);
    if (s === undefined || s.length < need) {
      const n = new Int8Array(Math.max(need, 16));
      if (s !== undefined) n.set(s);
      s = n;
      // a plain property (defineProperty costs four times as much per new entity)
      if (extensible) holder[this.key] = { owner: entity, slots: s };
      else this.map.set(entity, s);
    }
    return s;
  }

  /** A new slot invalidates the remembered arrays (they may be too short now). */
  newSlot(kind: 'proc' | 'file'): number {
    this.lastProc = undefined;
    this.lastFile = undefined;
    return kind === 'proc' ? this.procNext++ : this.fileNext++;
  }
}

export function cacheScoped(p: Predicate, c: SlotCache): Predicate {
  if (p === TRUE || p === FALSE) return p;
  if (PROC_SCOPED.has(p)) {
    const id = c.newSlot('proc');
    return (v) => {
      const e = v.proc;
      if (e !== c.lastProc) {
        c.lastProc = e;
        c.lastProcSlots = e === null ? null : c.slotsFor(e, 'proc');
      }
      const s = c.lastProcSlots;
      if (s === null) return p(v);
      const r = s[id]!;
      if (r !== 0) return r === 2;
      const x = p(v);
      s[id] = x ? 2 : 1;
      return x;
    };
  }
  if (FILE_SCOPED.has(p)) {
    // File slots are looked up only when a file-scoped unit is reached, which many records
    // never do (their cheaper operands already decided the rule).
    const id = c.newSlot('file');
    return (v) => {
      const e = v.file;
      if (e !== c.lastFile) {
        c.lastFile = e;
        c.lastFileSlots = e === null ? null : c.slotsFor(e, 'file');
      }
      const s = c.lastFileSlots;
      if (s === null) return p(v);
      const r = s[id]!;
      if (r !== 0) return r === 2;
      const x = p(v);
      s[id] = x ? 2 : 1;
      return x;
    };
  }
  return p;
}

// What a predicate requires of the file path (path-need.ts); absent: nothing known.
const NEED = new WeakMap<Predicate, PathNeed | null>();

// The process-scoped conjunct of an `and` (its cached unit): true whenever the whole condition
// is, and the same for every record of one process entity (as the unit's cache has it).
export const PROC_GATE = new WeakMap<Predicate, Predicate>();

/**
 * A predicate of the record's process entity alone (cached per entity) that is true whenever
 * `p` is: `p` itself when it reads only process-scoped fields, the process unit of a top-level
 * `and`; null when there is none. The live prefilter asks it once per process entity.
 */
export function procGateOf(p: Predicate): Predicate | null {
  if (p === TRUE || p === FALSE) return null;
  if (PROC_SCOPED.has(p)) return p;
  return PROC_GATE.get(p) ?? null;
}

/** The path need of a compiled condition: null when it has none (path-need.ts). */
export function pathNeedOf(p: Predicate): PathNeed | null {
  if (p === TRUE) return null;
  if (p === FALSE) return [];
  return NEED.get(p) ?? null;
}

export function withNeed(p: Predicate, need: PathNeed | null, ops: number | null = null): Predicate {
  if (p !== TRUE && p !== FALSE && !NEED.has(p)) {
    NEED.set(p, need);
    if (ops !== null) OPS_NEED.set(p, ops);
  }
  return p;
}

// What a predicate requires of the record's operation flags: true only if (opflags & mask) != 0.
// From positive checks on sf.opflags / evt.type (`= EXEC`, `in (…)`); `and` keeps one operand's
// mask, `or` joins them. Absent: nothing known.
const OPS_NEED = new WeakMap<Predicate, number>();

/** The opflags mask a compiled condition needs (one of its bits set), or null. */
export function opsNeedOf(p: Predicate): number | null {
  if (p === TRUE) return null;
  if (p === FALSE) return 0;
  return OPS_NEED.get(p) ?? null;
}

export function opsOfAnd(ms: readonly (number | null)[]): number | null {
  let best: number | null = null;
  const bits = (m: number) => { let n = 0; for (let x = m >>> 0; x !== 0; x &= x - 1) n++; return n; };
  for (const m of ms) if (m !== null && (best === null || bits(m) < bits(best))) best = m;
  return best;
}

export function opsOfOr(ms: readonly (number | null)[]): number | null {
  let mask = 0;
  for (const m of ms) {
    if (m === null) return null;
    mask |= m;
  }
  return mask;
}

// Estimated evaluation cost, used only to order and/or operands.
const COST = new WeakMap<Predicate, number>();
export function costOf(p: Predicate): number {
  return COST.get(p) ?? 3;
}
export function withCost<P extends Predicate>(p: P, c: number): P {
  COST.set(p, Math.min(c, 20));
  return p;
}

export function combine(ps: readonly Predicate[], isAnd: boolean): Predicate {
  const [a, b, c, d] = ps;
  if (ps.length === 1) return a!;
  if (isAnd) {
    if (ps.length === 2) return (v) => a!(v) && b!(v);
    if (ps.length === 3) return (v) => a!(v) && b!(v) && c!(v);
    if (ps.length === 4) return (v) => a!(v) && b!(v) && c!(v) && d!(v);
    return (v) => {
      for (let i = 0; i < ps.length; i++) if (!ps[i]!(v)) return false;
      return true;
    };
  }
  if (ps.length === 2) return (v) => a!(v) || b!(v);
  if (ps.length === 3) return (v) => a!(v) || b!(v) || c!(v);
  if (ps.length === 4) return (v) => a!(v) || b!(v) || c!(v) || d!(v);
  return (v) => {
    for (let i = 0; i < ps.length; i++) if (ps[i]!(v)) return true;
    return false;
  };
}

export function scopeOfPred(p: Predicate): Scope {
  const pr = PROC_SCOPED.has(p);
  const fi = FILE_SCOPED.has(p);
  return pr && fi ? 'const' : pr ? 'proc' : fi ? 'file' : 'record';
}

export function joinScope(a: Scope, b: Scope): Scope {
  if (a === 'const') return b;
  if (b === 'const') return a;
  return a === b ? a : 'record';
}

export function mark<P extends Predicate>(p: P, scope: Scope): P {
  if (scope === 'proc' || scope === 'const') PROC_SCOPED.add(p);
  if (scope === 'file' || scope === 'const') FILE_SCOPED.add(p);
  return p;
}


export type Scope = 'proc' | 'file' | 'record' | 'const';

export interface Getter {
  readonly scope: Scope;
  readonly type: FieldType;
  readonly get: (v: SfRecordView) => FieldValueMap[FieldType];
  readonly def: FieldDef | null;
  readonly name: string;
  /** Lenient mode: an unknown field standing for its own name (sf-processor's attribute mapper). */
  readonly literal?: true;
}
