// Compiles condition ASTs to closures, once. Field lookups, list expansion, literal parsing,
// regex/glob construction and set building all happen here; the closures only read fields and
// compare. Semantics that differ between sf-processor and Falco are selected by `dialect`
// (see docs/policy-language.md).
import type { Expr, FieldRef, ListValue, Literal, Operand } from './ast.js';
import type { DiagnosticSink, SourceText } from './errors.js';
import { isUnavailableFalcoField, lookupField, type FieldDef, type FieldType, type FieldValueMap } from './fields.js';
import type { SfRecordView } from '../sysflow/view.js';
import { needOfAnd, needOfOr, pathPartOf, pathTestOf, type PathNeed } from './path-need.js';

export type Predicate = (v: SfRecordView) => boolean;

export type Dialect = 'sysflow' | 'falco';

export interface CompileOptions {
  /**
   * `sysflow` (default): `pmatch` is substring containment (sf-processor) and a bare
   * right-hand operand naming a field is that field's value (`sf.proc.exe = sf.pproc.exe`).
   * `falco`: `pmatch` is a path-prefix match and right-hand operands are literals unless
   * written `val(field)`.
   */
  readonly dialect: Dialect;
  /**
   * sf-processor compatibility for broken policies: an unknown field becomes a literal string
   * (its own name) and an unknown macro is false, each with a warning instead of an error.
   */
  readonly lenient: boolean;
}

export const DEFAULT_COMPILE_OPTIONS: CompileOptions = { dialect: 'sysflow', lenient: false };

export interface ListDef {
  readonly name: string;
  readonly items: readonly Literal[];
  readonly src: SourceText;
  readonly offset: number;
}

export interface MacroDef {
  readonly name: string;
  readonly expr: Expr | null; // null when its condition failed to parse (already reported)
  readonly src: SourceText;
  readonly offset: number;
  compiled?: Predicate;
  state?: 'compiling' | 'done';
  used?: boolean;
}

/** Thrown inside compilation to abandon one condition after its first error. */
class CompileAbort extends Error {}

const TRUE: Predicate = () => true;
const FALSE: Predicate = () => false;

// ---- per-process caching ----------------------------------------------------------------------
// Most of a rule set looks only at the process (name, exe, ancestry, user, container), and a
// trace has many records per process. Sub-conditions whose fields are all process-scoped are
// evaluated once per Process entity and cached in a slot array attached to it, so the global
// whitelist and most PE/FF rule prefixes cost one array read per record. (sf-processor likewise
// caches the process tree per OID.) Records without a process are evaluated directly.
// The same holds for file-only sub-conditions (path, name, directory, type) and File entities.
const PROC_SCOPED = new WeakSet<Predicate>([TRUE, FALSE]);
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

class SlotCache {
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

function cacheScoped(p: Predicate, c: SlotCache): Predicate {
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
const PROC_GATE = new WeakMap<Predicate, Predicate>();

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

function withNeed(p: Predicate, need: PathNeed | null, ops: number | null = null): Predicate {
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

function opsOfAnd(ms: readonly (number | null)[]): number | null {
  let best: number | null = null;
  const bits = (m: number) => { let n = 0; for (let x = m >>> 0; x !== 0; x &= x - 1) n++; return n; };
  for (const m of ms) if (m !== null && (best === null || bits(m) < bits(best))) best = m;
  return best;
}

function opsOfOr(ms: readonly (number | null)[]): number | null {
  let mask = 0;
  for (const m of ms) {
    if (m === null) return null;
    mask |= m;
  }
  return mask;
}

// Estimated evaluation cost, used only to order and/or operands.
const COST = new WeakMap<Predicate, number>();
function costOf(p: Predicate): number {
  return COST.get(p) ?? 3;
}
function withCost<P extends Predicate>(p: P, c: number): P {
  COST.set(p, Math.min(c, 20));
  return p;
}

function combine(ps: readonly Predicate[], isAnd: boolean): Predicate {
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

function scopeOfPred(p: Predicate): Scope {
  const pr = PROC_SCOPED.has(p);
  const fi = FILE_SCOPED.has(p);
  return pr && fi ? 'const' : pr ? 'proc' : fi ? 'file' : 'record';
}

function joinScope(a: Scope, b: Scope): Scope {
  if (a === 'const') return b;
  if (b === 'const') return a;
  return a === b ? a : 'record';
}

function mark<P extends Predicate>(p: P, scope: Scope): P {
  if (scope === 'proc' || scope === 'const') PROC_SCOPED.add(p);
  if (scope === 'file' || scope === 'const') FILE_SCOPED.add(p);
  return p;
}


type Scope = 'proc' | 'file' | 'record' | 'const';

interface Getter {
  readonly scope: Scope;
  readonly type: FieldType;
  readonly get: (v: SfRecordView) => FieldValueMap[FieldType];
  readonly def: FieldDef | null;
  readonly name: string;
  /** Lenient mode: an unknown field standing for its own name (sf-processor's attribute mapper). */
  readonly literal?: true;
}

export class Compiler {
  readonly lists: Map<string, ListDef>;
  readonly macros: Map<string, MacroDef>;
  readonly opts: CompileOptions;
  private readonly sink: DiagnosticSink;
  private readonly slots = new SlotCache();
  private src!: SourceText;

  constructor(lists: Map<string, ListDef>, macros: Map<string, MacroDef>, sink: DiagnosticSink, opts: CompileOptions) {
    this.lists = lists;
    this.macros = macros;
    this.sink = sink;
    this.opts = opts;
  }

  /** Compiles one condition; returns null (after reporting) if it has errors. */
  compile(expr: Expr, src: SourceText): Predicate | null {
    const saved = this.src;
    const savedErrors = this.softErrors;
    this.src = src;
    this.softErrors = 0;
    try {
      const inner = this.expr(expr);
      const p = withNeed(this.cons(`C${this.idOf(inner)}`, () => {
        const w = cacheScoped(inner, this.slots);
        // a macro used in a junction keeps the scope and cost of its cached unit, so a
        // process-only macro joins the process unit and is tried before file tests
        return w === inner ? w : mark(withCost(w, PROC_SCOPED.has(inner) ? 1.5 : 1.6), scopeOfPred(inner));
      }), pathNeedOf(inner), opsNeedOf(inner));
      return this.softErrors > 0 ? null : p;
    } catch (e) {
      if (e instanceof CompileAbort) return null;
      throw e;
    } finally {
      this.src = saved;
      this.softErrors = savedErrors;
    }
  }

  /** Errors that do not stop compiling the condition, so one pass reports all of them. */
  private softErrors = 0;
  private softFail(offset: number, message: string, text: string): void {
    this.sink.error(this.src, offset, message, text);
    this.softErrors++;
  }

  private fail(offset: number, message: string, text: string): never {
    this.sink.error(this.src, offset, message, text);
    throw new CompileAbort(message);
  }
  private warn(offset: number, message: string, text: string): void {
    this.sink.warn(this.src, offset, message, text);
  }

  private expr(e: Expr): Predicate {
    switch (e.kind) {
      case 'const':
        return e.value ? TRUE : FALSE;
      case 'and':
      case 'or':
        return this.junction(e);
      case 'not': {
        const a = this.expr(e.expr);
        if (a === TRUE) return FALSE;
        if (a === FALSE) return TRUE;
        return this.cons(`N${this.idOf(a)}`, () => mark(withCost((v: SfRecordView) => !a(v), costOf(a)), scopeOfPred(a)));
      }
      case 'macro':
        return this.macroRef(e.name, e.offset);
      case 'scoped': {
        const saved = this.src;
        this.src = e.src;
        try {
          return this.expr(e.expr);
        } finally {
          this.src = saved;
        }
      }
      case 'exists': {
        const g = this.field(e.field);
        if (g === null) return FALSE;
        return mark(existsPredicate(g), g.scope);
      }
      case 'check':
        return this.check(e.field, e.op, e.opOffset, e.rhs);
    }
  }

  /**
   * n-ary and/or. Operands are pure, so they may be reordered: entity-scoped operands are
   * grouped into one cached unit per entity (process, file), and the rest are ordered by an
   * estimated cost so cheap, selective tests (opflags bit tests) run first.
   */
  private junction(e: Extract<Expr, { kind: 'and' | 'or' }>): Predicate {
    const isAnd = e.kind === 'and';
    // Iterative flattening: `a and b and … ` parses left-deep, and long chains must not
    // exhaust the stack.
    const parts: Expr[] = [];
    const stack: Expr[] = [e];
    while (stack.length > 0) {
      const x = stack.pop()!;
      if (x.kind === e.kind) stack.push(x.right, x.left);
      else parts.push(x);
    }
    const neutral = isAnd ? TRUE : FALSE;
    const absorbing = isAnd ? FALSE : TRUE;
    let absorbed = false;
    const preds: Predicate[] = [];
    for (const x of parts) {
      const p = this.expr(x); // compile every operand, so all problems are reported
      if (p === absorbing) absorbed = true;
      else if (p !== neutral) preds.push(p);
    }
    if (absorbed) return absorbing;
    if (preds.length === 0) return neutral;
    if (preds.length === 1) return preds[0]!;
    const needs = preds.map(pathNeedOf);
    const ops = preds.map(opsNeedOf);
    return withNeed(this.junctionOf(preds, isAnd), isAnd ? needOfAnd(needs) : needOfOr(needs), isAnd ? opsOfAnd(ops) : opsOfOr(ops));
  }

  private junctionOf(preds: Predicate[], isAnd: boolean): Predicate {
    const scope = preds.map(scopeOfPred).reduce(joinScope);
    const j = isAnd ? '&' : '|';
    if (scope !== 'record') return this.cons(`J${j}${this.idsOf(preds)}`, () => mark(withCost(combine(preds, isAnd), preds.reduce((n, p) => n + costOf(p), 0)), scope));
    const procParts = preds.filter((p) => { const sc = scopeOfPred(p); return sc === 'proc' || sc === 'const'; });
    const fileParts = preds.filter((p) => scopeOfPred(p) === 'file');
    const units: Predicate[] = preds.filter((p) => scopeOfPred(p) === 'record');
    let procUnit: Predicate | null = null;
    if (procParts.length > 0) units.push((procUnit = this.cons(`P${j}${this.idsOf(procParts)}`, () => withCost(cacheScoped(mark(combine(procParts, isAnd), 'proc'), this.slots), 1.5))));
    if (fileParts.length > 0) units.push(this.cons(`F${j}${this.idsOf(fileParts)}`, () => withCost(cacheScoped(mark(combine(fileParts, isAnd), 'file'), this.slots), 1.6)));
    units.sort((a, b) => costOf(a) - costOf(b));
    const u = this.cons(`U${j}${this.idsOf(units)}`, () => withCost(combine(units, isAnd), units.reduce((n, p) => n + costOf(p), 0)));
    if (isAnd && procUnit !== null && u !== procUnit && !PROC_GATE.has(u)) PROC_GATE.set(u, procUnit);
    return u;
  }

  private macroRef(name: string, offset: number): Predicate {
    const m = this.macros.get(name);
    if (!m) {
      const hint = this.lists.has(name) ? ` ('${name}' is a list; use it as 'FIELD in (${name})')` : '';
      if (this.opts.lenient && !hint) {
        this.warn(offset, `unknown macro '${name}' (treated as false, as sf-processor does)`, name);
        return FALSE;
      }
      this.fail(offset, `unknown macro${hint ? '' : ' or field'} '${name}'${hint}`, name);
    }
    m.used = true;
    if (m.state === 'done') {
      if (!m.compiled) return this.brokenMacro();
      return m.compiled;
    }
    if (m.state === 'compiling') this.fail(offset, `macro '${name}' references itself`, name);
    // A macro whose own condition is broken was reported where it is defined; the rule using
    // it is abandoned without repeating the message.
    if (m.expr === null) return this.brokenMacro();
    m.state = 'compiling';
    const p = this.compile(m.expr, m.src);
    m.state = 'done';
    m.compiled = p ?? undefined;
    if (p === null) return this.brokenMacro();
    // Indirection so a shared macro keeps one closure identity but callers stay monomorphic.
    return p;
  }

  /** A macro whose errors were reported at its definition: fail the caller without a repeat. */
  private brokenMacro(): Predicate {
    this.softErrors++;
    return FALSE;
  }

  /** Compiles a macro that no rule uses, so `rules check` still reports its problems. */
  compileUnusedMacro(m: MacroDef): void {
    if (m.state || m.expr === null) return;
    m.state = 'compiling';
    m.compiled = this.compile(m.expr, m.src) ?? undefined;
    m.state = 'done';
  }

  private field(f: FieldRef): Getter | null {
    const def = lookupField(f.name);
    if (!def) {
      if (isUnavailableFalcoField(f.name)) {
        this.warn(f.offset, `Falco field '${f.name}' is not available in SysFlow records; checks on it are never true`, f.text);
        return null;
      }
      if (this.opts.lenient) {
        this.warn(f.offset, `unknown field '${f.name}' (treated as the literal string '${f.text}', as sf-processor does)`, f.text);
        const lit = f.text;
        return { scope: 'const', type: 'string', get: () => lit, def: null, name: f.name, literal: true };
      }
      this.softFail(f.offset, `unknown field '${f.name}'`, f.text);
      return null;
    }
    const scope: Scope = def.scope;
    if (f.arg === null) return { scope, type: def.type, get: def.get, def, name: f.name };
    if (def.arg === 'index') {
      if (!/^\d+$/.test(f.arg.trim())) this.fail(f.offset, `field '${f.name}' takes a numeric index, not '${f.arg}'`, f.text);
      const i = Number(f.arg.trim());
      if (def.type === 'ints') {
        const g = def.get as (v: SfRecordView) => readonly number[];
        return { scope, type: 'int', get: (v) => g(v)[i] ?? 0, def: null, name: f.text };
      }
      const g = def.get as (v: SfRecordView) => readonly string[];
      return { scope, type: 'string', get: (v) => g(v)[i] ?? '', def: null, name: f.text };
    }
    if (def.arg === 'jsonpath') {
      const path = f.arg.split('.').filter((s) => s !== '');
      const g = def.get as (v: SfRecordView) => string;
      return { scope, type: 'string', get: (v) => jsonPath(g(v), path), def: null, name: f.text };
    }
    this.fail(f.offset, `field '${f.name}' does not take an argument`, f.text);
  }

  /** Expands list references recursively; returns the literal values. */
  private expandItems(items: readonly Literal[], seen: Set<string> = new Set()): string[] {
    const out: string[] = [];
    for (const it of items) {
      const l = it.bare ? this.lists.get(it.value) : undefined;
      if (l) {
        if (seen.has(l.name)) {
          this.fail(it.offset, `list '${l.name}' includes itself`, it.value);
        }
        seen.add(l.name);
        const saved = this.src;
        this.src = l.src;
        out.push(...this.expandItems(l.items, seen));
        this.src = saved;
        seen.delete(l.name);
      } else {
        if (it.bare && LIST_NAME_LIKE.test(it.value)) {
          this.warn(it.offset, `'${it.value}' looks like a list name but no such list is defined; it is compared as a literal string`, it.value);
        }
        out.push(it.value);
      }
    }
    return out;
  }

  private check(f: FieldRef, op: string, opOffset: number, rhs: Operand | ListValue): Predicate {
    const g = this.field(f);
    this.checkKey = null;
    this.checkNeed = null;
    this.checkOps = null;
    const p = this.checkInner(g, f, op, opOffset, rhs);
    const marked = mark(p, g === null ? 'const' : joinScope(g.scope, this.rhsScope));
    // compiled in full above (every diagnostic reported), then shared with its equals
    if (this.checkKey === null || p === TRUE || p === FALSE) return marked;
    return withNeed(this.cons(this.checkKey, () => marked), this.checkNeed, this.checkOps);
  }

  // ---- shared sub-conditions ------------------------------------------------------------------
  // Policy sets repeat conditions (ttps.yaml restates most of runtimeintegrity.yaml's rules).
  // Equal checks (same field, operator and values) compile to one predicate, and so do
  // junctions, negations and cached units of the same operands, so a repeated unit is evaluated
  // once per entity (its cached slot) and a repeated rule is the same predicate. Predicates are
  // pure, so sharing them changes no result.
  private readonly consed = new Map<string, Predicate>();
  private readonly predIds = new WeakMap<Predicate, number>();
  private nextPredId = 1;
  /** key of the check being compiled (set once its right-hand side is resolved) */
  private checkKey: string | null = null;
  /** path need of the check being compiled (path-need.ts) */
  private checkNeed: PathNeed | null = null;
  /** opflags mask the check being compiled needs */
  private checkOps: number | null = null;

  private idOf(p: Predicate): number {
    let i = this.predIds.get(p);
    if (i === undefined) {
      i = this.nextPredId++;
      this.predIds.set(p, i);
    }
    return i;
  }

  private idsOf(ps: readonly Predicate[]): string {
    return ps.map((p) => this.idOf(p)).join(',');
  }

  private cons(key: string, make: () => Predicate): Predicate {
    let p = this.consed.get(key);
    if (p === undefined) {
      p = make();
      this.consed.set(key, p);
    }
    return p;
  }

  private static getterKey(g: Getter | null | undefined): string | null {
    return g === undefined ? '-' : g === null ? null : g.literal ? `lit:${g.name}:${String(g.get(null as unknown as SfRecordView))}` : g.name;
  }

  /** Scope of the right-hand field of the last check (field-vs-field comparisons). */
  private rhsScope: Scope = 'const';

  private checkInner(g: Getter | null, f: FieldRef, op: string, opOffset: number, rhs: Operand | ListValue): Predicate {
    this.rhsScope = 'const';
    // Resolve the right-hand side first so its errors are reported even for unavailable fields.
    let values: string[] | null = null;
    let rhsField: Getter | null | undefined;
    if (rhs.kind === 'list') {
      const first = rhs.items[0];
      if (rhs.bareName && first && !this.lists.has(first.value)) this.fail(first.offset, `unknown list '${first.value}'`, first.value);
      values = this.expandItems(rhs.items);
    } else if (rhs.kind === 'field') {
      rhsField = this.field(rhs);
    } else if (rhs.bare && this.opts.dialect === 'sysflow' && lookupField(rhs.value) && !LIST_OPS_SET.has(op)) {
      rhsField = this.field({ kind: 'field', name: rhs.value, arg: null, offset: rhs.offset, text: rhs.value });
    } else if (rhs.bare && LIST_OPS_SET.has(op)) {
      // `in list_name` without parentheses: must name a list.
      if (!this.lists.has(rhs.value)) this.fail(rhs.offset, `unknown list '${rhs.value}'`, rhs.value);
      values = this.expandItems([rhs]);
    } else {
      values = [rhs.value];
      if (rhs.bare && this.lists.has(rhs.value) && !lookupField(f.name)?.domain) {
        this.warn(rhs.offset, `'${rhs.value}' is a list, but '${op}' compares with the literal text; use 'in (${rhs.value})'`, rhs.value);
      }
      if (this.opts.dialect === 'sysflow' && rhs.value.includes(',') && (op === '=' || op === '!=')) {
        this.warn(rhs.offset, "sf-processor splits this value on ',' and matches any part; falconet compares it whole (use 'in (a, b)')", rhs.value);
      }
    }
    this.checkKey = JSON.stringify([Compiler.getterKey(g), f.arg, op, values, Compiler.getterKey(rhsField)]);
    const part = g !== null && !g.literal && f.arg === null && rhsField === undefined && values !== null ? pathPartOf(g.name) : null;
    const ptest = part !== null ? pathTestOf(op, this.opts.dialect) : null;
    if (part !== null && ptest !== null) this.checkNeed = [{ part, test: ptest, values: values! }];
    if (g === null) return FALSE;
    if (g.literal && NUM_OPS.has(op)) return lenientNumeric(op, rhsField, values);
    if (rhsField !== undefined) {
      if (rhsField === null) return FALSE;
      this.rhsScope = rhsField.scope;
      return this.fieldVsField(g, op, opOffset, rhsField);
    }
    const vals = values!;
    if (g.def?.domain) {
      for (const [i, val] of vals.entries()) {
        if (g.def.unavailable?.has(val)) {
          const off = rhs.kind === 'list' ? (rhs.items[i]?.offset ?? rhs.offset) : (rhs as Literal).offset;
          this.warn(off, `'${val}' is a valid ${f.name} value in Falco but SysFlow never records it; it never matches`, val);
        } else if (!g.def.domain.has(val)) {
          const off = rhs.kind === 'list' ? (rhs.items[i]?.offset ?? rhs.offset) : (rhs as Literal).offset;
          const known = [...g.def.domain];
          const hint = this.lists.has(val) && rhs.kind !== 'list' ? `; '${val}' is a list: use 'in (${val})'` : '';
          const msg = `'${val}' is not a valid value of ${f.name} (expected one of ${known.length > 30 ? known.slice(0, 30).join(', ') + ', ...' : known.join(', ')})${hint}`;
          if (this.opts.lenient) this.warn(off, msg, val);
          else this.softFail(off, msg, val);
        }
      }
    }
    const bits = g.def?.bits;
    if (bits && (op === '=' || op === '!=' || op === 'in' || op === 'intersects')) {
      const tests = vals.map((x) => bits.test(x));
      if (tests.every((t) => t !== undefined)) {
        const raw = bits.raw;
        const ts = tests as ((x: number) => boolean)[];
        if (op !== '!=' && (g.name === 'sf.opflags' || g.name === 'evt.type')) {
          // each test is (x & m) !== 0: probing the single bits recovers m
          let mask = 0;
          for (let b = 0; b < 32; b++) if (ts.some((t) => t(1 << b))) mask |= 1 << b;
          this.checkOps = mask;
        }
        const any: Predicate = ts.length === 1 ? ((t) => (v: SfRecordView) => t(raw(v)))(ts[0]!) : (v) => {
          const x = raw(v);
          for (let i = 0; i < ts.length; i++) if (ts[i]!(x)) return true;
          return false;
        };
        return withCost(op === '!=' ? (v: SfRecordView) => !any(v) : any, 1);
      }
    }
    const atOp = (message: string): never => this.fail(opOffset, message, op);
    const literalAt = rhs.kind === 'list' ? rhs.offset : rhs.offset;
    switch (g.type) {
      case 'string':
        return stringCheck(g.get as (v: SfRecordView) => string, op, vals, this.opts.dialect, atOp, (m) => this.fail(literalAt, m, vals.join(', ')), g.scope === 'record');
      case 'strings':
        return stringsCheck(g.get as (v: SfRecordView) => readonly string[], op, vals, this.opts.dialect, atOp, (m) => this.fail(literalAt, m, vals.join(', ')), g.scope === 'record');
      case 'int':
      case 'ints':
      case 'int64': {
        const nums: (number | bigint)[] = [];
        const isBig = g.type === 'int64';
        for (const s of vals) {
          const t = s.trim();
          const sym = g.def?.symbols?.get(t);
          if (sym !== undefined) nums.push(isBig ? BigInt(sym) : sym);
          else if (/^[+-]?\d+$/.test(t)) nums.push(isBig ? BigInt(t) : Number(t));
          else if (/^0x[0-9a-f]+$/i.test(t)) nums.push(isBig ? BigInt(t) : Number(t));
          else if (STRING_OPS.has(op)) nums.push(NaN); // compared as text below
          else if (this.opts.lenient) {
            // sf-processor: ordering operators read a non-number as 0; equality compares text,
            // which a decimal never equals.
            const at = rhs.kind === 'list' ? (rhs.items.find((it) => it.value === s)?.offset ?? literalAt) : literalAt;
            const ord = NUM_OPS.has(op);
            this.warn(at, `field '${f.name}' is numeric; '${s}' is not a number (${ord ? 'read as 0' : 'never equal'}, as sf-processor does)`, s);
            nums.push(ord ? (isBig ? 0n : 0) : NaN);
          } else {
            this.softFail(rhs.kind === 'list' ? (rhs.items.find((it) => it.value === s)?.offset ?? literalAt) : literalAt, `field '${f.name}' is numeric; '${s}' is not a number`, s);
            return FALSE;
          }
        }
        if (STRING_OPS.has(op)) {
          // e.g. `fd.sport startswith 80`: compare the decimal text.
          const get = g.get;
          const sg = g.type === 'ints'
            ? stringsCheck((v) => (get(v) as readonly number[]).map(String), op, vals, this.opts.dialect, atOp, (m) => this.fail(literalAt, m, ''), true)
            : stringCheck((v) => String(get(v)), op, vals, this.opts.dialect, atOp, (m) => this.fail(literalAt, m, ''), true);
          return sg;
        }
        if (g.type === 'ints') return intsCheck(g.get as (v: SfRecordView) => readonly number[], op, nums as number[], atOp);
        return numCheck(g.get as (v: SfRecordView) => number | bigint, op, nums, atOp);
      }
      case 'bool': {
        const bools: boolean[] = [];
        for (const s of vals) {
          const t = s.trim().toLowerCase();
          if (t === 'true' || t === '1') bools.push(true);
          else if (t === 'false' || t === '0') bools.push(false);
          // sf-processor compares the text "true"/"false" with the literal: never equal
          else if (this.opts.lenient) this.warn(literalAt, `field '${f.name}' is boolean; '${s}' is not true or false (never equal, as sf-processor does)`, s);
          else {
            this.softFail(literalAt, `field '${f.name}' is boolean; '${s}' is not true or false`, s);
            bools.push(false);
          }
        }
        const get = g.get as (v: SfRecordView) => boolean;
        if (op === '=' || op === 'in' || op === 'intersects') {
          if (bools.length === 1) {
            const b = bools[0];
            return (v) => get(v) === b;
          }
          const hasT = bools.includes(true);
          const hasF = bools.includes(false);
          return (v) => (get(v) ? hasT : hasF);
        }
        if (op === '!=') {
          const hasT = bools.includes(true);
          const hasF = bools.includes(false);
          return (v) => !(get(v) ? hasT : hasF);
        }
        return atOp(`operator '${op}' cannot be applied to boolean field '${f.name}'`);
      }
    }
  }

  private fieldVsField(a: Getter, op: string, opOffset: number, b: Getter): Predicate {
    if (op !== '=' && op !== '!=' && !STRING_OPS.has(op) && !['<', '<=', '>', '>='].includes(op)) {
      this.fail(opOffset, `operator '${op}' needs a list on the right-hand side, not field '${b.name}'`, op);
    }
    if ((a.type === 'int' || a.type === 'int64') && (b.type === 'int' || b.type === 'int64')) {
      const ga = a.get as (v: SfRecordView) => number | bigint;
      const gb = b.get as (v: SfRecordView) => number | bigint;
      const cmp = numComparator(op);
      if (!cmp) this.fail(opOffset, `operator '${op}' cannot compare numeric fields`, op);
      return (v) => cmp(ga(v), gb(v));
    }
    if (['<', '<=', '>', '>='].includes(op)) this.fail(opOffset, `operator '${op}' needs numeric fields`, op);
    const sa = asStringsGetter(a);
    const sb = asStringsGetter(b);
    if (a.type === 'string' && b.type === 'string') {
      const ga = a.get as (v: SfRecordView) => string;
      const gb = b.get as (v: SfRecordView) => string;
      if (op === '=') return (v) => ga(v) === gb(v);
      if (op === '!=') return (v) => ga(v) !== gb(v);
      const f = stringOp(op);
      return (v) => f(ga(v), gb(v));
    }
    const f = op === '!=' ? stringOp('=') : stringOp(op);
    const any = (v: SfRecordView): boolean => {
      const xs = sa(v);
      const ys = sb(v);
      for (const x of xs) for (const y of ys) if (f(x, y)) return true;
      return false;
    };
    return op === '!=' ? (v) => !any(v) : any;
  }
}

const LIST_NAME_LIKE = /^[a-z0-9]+(_[a-z0-9]+)*_(binaries|files|directories|dirs|tools|paths|processes|names|users|containers|images|programs|commands|ports|scripts|utils)$/;
const LIST_OPS_SET: ReadonlySet<string> = new Set(['in', 'intersects', 'pmatch']);
const NUM_OPS: ReadonlySet<string> = new Set(['<', '<=', '>', '>=']);

/** Go's strconv.ParseInt(s, 10, 64) or 0, as sf-processor's MapInt reads a non-field operand. */
function goIntOrZero(s: string): bigint {
  return /^[+-]?\d+$/.test(s) ? BigInt(s) : 0n;
}

/**
 * Lenient mode, an unknown field under an ordering operator: sf-processor's MapInt gives 0 for
 * it (its name is no number), and the right side is a field's integer value or the literal
 * read as an integer (0 if it is none).
 */
function lenientNumeric(op: string, rhsField: Getter | null | undefined, values: string[] | null): Predicate {
  const cmp = numComparator(op)!;
  if (rhsField === undefined) return cmp(0n, goIntOrZero((values ?? [])[0]?.trim() ?? '')) ? TRUE : FALSE;
  if (rhsField === null) return FALSE;
  const get = rhsField.get;
  switch (rhsField.type) {
    case 'int':
    case 'int64':
      return (v) => cmp(0, get(v) as number | bigint);
    case 'bool':
      return (v) => cmp(0, (get(v) as boolean) ? 1 : 0);
    default:
      return cmp(0, 0) ? TRUE : FALSE; // a string field, or another unknown one: MapInt gives 0
  }
}
const STRING_OPS: ReadonlySet<string> = new Set([
  'contains', 'icontains', 'bcontains', 'startswith', 'istartswith', 'bstartswith', 'endswith', 'iendswith', 'glob', 'iglob', 'regex',
]);

function asStringsGetter(g: Getter): (v: SfRecordView) => readonly string[] {
  const get = g.get;
  if (g.type === 'strings') return get as (v: SfRecordView) => readonly string[];
  if (g.type === 'ints') return (v) => (get(v) as readonly number[]).map(String);
  return (v) => [String(get(v))];
}

function existsPredicate(g: Getter): Predicate {
  const get = g.get;
  switch (g.type) {
    case 'string':
      return (v) => (get(v) as string) !== '';
    case 'int':
      return (v) => (get(v) as number) !== 0;
    case 'int64':
      return (v) => (get(v) as bigint) !== 0n;
    case 'bool':
      return (v) => get(v) as boolean;
    case 'strings':
    case 'ints':
      return (v) => (get(v) as readonly unknown[]).length > 0;
  }
}

// ---- string operators -----------------------------------------------------------------------

type StrOp = (value: string, lit: string) => boolean;

function globToRegExp(glob: string, flags: string): RegExp {
  let re = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === '*') re += '.*';
    else if (c === '?') re += '.';
    else if (c === '[') {
      const close = glob.indexOf(']', i + 2);
      if (close < 0) re += '\\[';
      else {
        let cls = glob.slice(i + 1, close);
        if (cls.startsWith('!')) cls = '^' + cls.slice(1);
        re += `[${cls.replace(/\\/g, '\\\\')}]`;
        i = close;
      }
    } else if (c === '\\' && i + 1 < glob.length) re += '\\' + glob[++i];
    else re += c.replace(/[.+^${}()|\\/]/g, '\\$&');
  }
  return new RegExp(`^(?:${re})$`, flags + 's');
}

function stringOp(op: string): StrOp {
  switch (op) {
    case '=':
      return (a, b) => a === b;
    case 'contains':
      return (a, b) => a.includes(b);
    case 'icontains':
      return (a, b) => a.toLowerCase().includes(b.toLowerCase());
    case 'startswith':
      return (a, b) => a.startsWith(b);
    case 'istartswith':
      return (a, b) => a.toLowerCase().startsWith(b.toLowerCase());
    case 'endswith':
      return (a, b) => a.endsWith(b);
    case 'iendswith':
      return (a, b) => a.toLowerCase().endsWith(b.toLowerCase());
    default:
      return (a, b) => a === b;
  }
}

/** Falco pmatch: the value is the prefix path itself or lies below it. */
function pathPrefix(value: string, prefix: string): boolean {
  if (!value.startsWith(prefix)) return false;
  return value.length === prefix.length || prefix.endsWith('/') || value.charCodeAt(prefix.length) === 47;
}

/** Builds a predicate over one string value: true if it matches ANY literal (for `!=`: none). */
function stringTest(op: string, vals: readonly string[], dialect: Dialect, atOp: (m: string) => never, atLit: (m: string) => never): (s: string) => boolean {
  switch (op) {
    case '=':
    case 'in':
    case 'intersects': {
      if (vals.length === 1) {
        const lit = vals[0]!;
        return (s) => s === lit;
      }
      const set = new Set(vals);
      return (s) => set.has(s);
    }
    case '!=': {
      if (vals.length === 1) {
        const lit = vals[0]!;
        return (s) => s !== lit;
      }
      const set = new Set(vals);
      return (s) => !set.has(s);
    }
    case 'pmatch': {
      const items = [...new Set(vals)];
      if (dialect === 'falco') return (s) => items.some((p) => pathPrefix(s, p));
      return (s) => {
        for (let i = 0; i < items.length; i++) if (s.includes(items[i]!)) return true;
        return false;
      };
    }
    case 'contains':
    case 'startswith':
    case 'endswith': {
      const f = stringOp(op);
      if (vals.length === 1) {
        const lit = vals[0]!;
        return op === 'contains' ? (s) => s.includes(lit) : op === 'startswith' ? (s) => s.startsWith(lit) : (s) => s.endsWith(lit);
      }
      return (s) => vals.some((l) => f(s, l));
    }
    case 'icontains':
    case 'istartswith':
    case 'iendswith': {
      const lows = vals.map((l) => l.toLowerCase());
      const base = op === 'icontains' ? 'contains' : op === 'istartswith' ? 'startswith' : 'endswith';
      const f = stringOp(base);
      return (s) => {
        const low = s.toLowerCase();
        for (const l of lows) if (f(low, l)) return true;
        return false;
      };
    }
    case 'bcontains':
    case 'bstartswith': {
      const bins = vals.map((l) => {
        const hex = l.replace(/\s+/g, '');
        if (!/^([0-9a-fA-F]{2})+$/.test(hex)) atLit(`operator '${op}' needs a hex byte string, not '${l}'`);
        return Buffer.from(hex, 'hex').toString('latin1');
      });
      return (s) => {
        const b = Buffer.from(s, 'utf8').toString('latin1');
        return bins.some((x) => (op === 'bcontains' ? b.includes(x) : b.startsWith(x)));
      };
    }
    case 'glob':
    case 'iglob': {
      const res = vals.map((l) => globToRegExp(l, op === 'iglob' ? 'i' : ''));
      return (s) => res.some((r) => r.test(s));
    }
    case 'regex': {
      const res = vals.map((l) => {
        try {
          return new RegExp(`^(?:${l})$`, 's');
        } catch (e) {
          return atLit(`invalid regular expression: ${(e as Error).message}`);
        }
      });
      return (s) => res.some((r) => r.test(s));
    }
    default:
      return atOp(`operator '${op}' cannot be applied to a string field`);
  }
}

/**
 * Memoises an expensive string test by value. Values repeat heavily (process names, paths),
 * so a bounded map beats re-running a 60-item substring scan or a regex on every record.
 */
function memoize(t: (s: string) => boolean): (s: string) => boolean {
  let cache = new Map<string, boolean>();
  return (s) => {
    let r = cache.get(s);
    if (r === undefined) {
      r = t(s);
      if (cache.size >= 4096) cache = new Map();
      cache.set(s, r);
    }
    return r;
  };
}

const CHEAP_OPS: ReadonlySet<string> = new Set(['=', '!=', 'in', 'intersects']);

/**
 * `memo` is false for process- and file-scoped fields: their results are already cached per
 * entity, and hashing a fresh string for the memo costs more than most tests.
 */
function stringTestMemo(op: string, vals: readonly string[], dialect: Dialect, atOp: (m: string) => never, atLit: (m: string) => never, memo: boolean): (s: string) => boolean {
  const t = stringTest(op, vals, dialect, atOp, atLit);
  if (!memo || CHEAP_OPS.has(op)) return t;
  if (vals.length <= 2 && (op === 'contains' || op === 'startswith' || op === 'endswith')) return t;
  return memoize(t);
}

function stringCheck(get: (v: SfRecordView) => string, op: string, vals: readonly string[], dialect: Dialect, atOp: (m: string) => never, atLit: (m: string) => never, memo: boolean): Predicate {
  if (op === '=' && vals.length === 1) {
    const lit = vals[0]!;
    return withCost((v: SfRecordView) => get(v) === lit, 2);
  }
  const t = stringTestMemo(op, vals, dialect, atOp, atLit, memo);
  return withCost((v: SfRecordView) => t(get(v)), CHEAP_OPS.has(op) ? 2 : 4);
}

/** List-valued fields: positive operators match if ANY element matches; `!=` if NONE equals. */
function stringsCheck(get: (v: SfRecordView) => readonly string[], op: string, vals: readonly string[], dialect: Dialect, atOp: (m: string) => never, atLit: (m: string) => never, memo: boolean): Predicate {
  const negate = op === '!=';
  const t = stringTestMemo(negate ? '=' : op, vals, dialect, atOp, atLit, memo);
  const any = (v: SfRecordView): boolean => {
    const xs = get(v);
    for (let i = 0; i < xs.length; i++) if (t(xs[i]!)) return true;
    return false;
  };
  return negate ? (v) => !any(v) : any;
}

// ---- numeric operators ----------------------------------------------------------------------

function numComparator(op: string): ((a: number | bigint, b: number | bigint) => boolean) | null {
  switch (op) {
    case '=':
    case 'in':
    case 'intersects':
      return (a, b) => a == b; // eslint-disable-line eqeqeq -- number vs bigint compares by value
    case '!=':
      return (a, b) => a != b; // eslint-disable-line eqeqeq
    case '<':
      return (a, b) => a < b;
    case '<=':
      return (a, b) => a <= b;
    case '>':
      return (a, b) => a > b;
    case '>=':
      return (a, b) => a >= b;
    default:
      return null;
  }
}

function numCheck(get: (v: SfRecordView) => number | bigint, op: string, nums: readonly (number | bigint)[], atOp: (m: string) => never): Predicate {
  const cmp = numComparator(op);
  if (!cmp) return atOp(`operator '${op}' cannot be applied to a numeric field`);
  if (nums.length === 1) {
    const n = nums[0]!;
    switch (op) {
      case '=':
      case 'in':
      case 'intersects':
        return (v) => get(v) === n;
      case '!=':
        return (v) => get(v) !== n;
      case '<':
        return (v) => get(v) < n;
      case '<=':
        return (v) => get(v) <= n;
      case '>':
        return (v) => get(v) > n;
      case '>=':
        return (v) => get(v) >= n;
    }
  }
  if (op === '!=') return (v) => {
    const x = get(v);
    return !nums.some((n) => n === x);
  };
  return (v) => {
    const x = get(v);
    for (const n of nums) if (cmp(x, n)) return true;
    return false;
  };
}

function intsCheck(get: (v: SfRecordView) => readonly number[], op: string, nums: readonly number[], atOp: (m: string) => never): Predicate {
  const negate = op === '!=';
  const cmp = numComparator(negate ? '=' : op);
  if (!cmp) return atOp(`operator '${op}' cannot be applied to a numeric field`);
  const any = (v: SfRecordView): boolean => {
    const xs = get(v);
    for (let i = 0; i < xs.length; i++) for (let j = 0; j < nums.length; j++) if (cmp(xs[i]!, nums[j]!)) return true;
    return false;
  };
  return negate ? (v) => !any(v) : any;
}

// ---- JSON path (GJSON subset: dot-separated keys and array indexes) ---------------------------

function jsonPath(json: string, path: readonly string[]): string {
  if (json === '') return '';
  let cur: unknown;
  try {
    // Collector messages end in "\n\0" (a C string); GJSON ignores trailing bytes, so do we.
    cur = JSON.parse(json.replace(/[\s\u0000]+$/, ''));
  } catch {
    return '';
  }
  for (const seg of path) {
    if (cur === null || typeof cur !== 'object') return '';
    if (Array.isArray(cur)) {
      if (!/^\d+$/.test(seg)) return '';
      cur = cur[Number(seg)];
    } else {
      cur = (cur as Record<string, unknown>)[seg];
    }
  }
  if (cur === undefined || cur === null) return '';
  return typeof cur === 'string' ? cur : JSON.stringify(cur);
}
