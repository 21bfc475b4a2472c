// Compiles condition ASTs to closures, once. Field lookups, list expansion, literal parsing,
// regex/glob construction and set building all happen here; the closures only read fields and
// compare. Semantics that differ between sf-processor and Falco are selected by `dialect`
// (see docs/policy-language.md).
import type { Expr, FieldRef, ListValue, Literal, Operand } from './ast.js';
import type { DiagnosticSink, SourceText } from './errors.js';
import { isUnavailableFalcoField, lookupField, type FieldDef } from './fields.js';
import type { SfRecordView } from '../sysflow/view.js';
import { needOfAnd, needOfOr, pathPartOf, pathTestOf, type PathNeed } from './path-need.js';
import { PredicateInterner } from './predicate-interner.js';
import {
  cacheScoped, combine, costOf, FALSE, joinScope, mark, opsNeedOf, opsOfAnd, opsOfOr, pathNeedOf, PROC_GATE, PROC_SCOPED,
  scopeOfPred, SlotCache, TRUE, withCost, withNeed, type Dialect, type Getter, type Predicate, type Scope,
} from './predicates.js';
import {
  asStringsGetter, existsPredicate, intsCheck, jsonPath, lenientNumeric, LIST_NAME_LIKE, LIST_OPS_SET, NUM_OPS, numCheck,
  numComparator, STRING_OPS, stringCheck, stringOp, stringsCheck,
} from './operators.js';

export { opsNeedOf, pathNeedOf, procGateOf, type Dialect, type Predicate } from './predicates.js';

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
      const p = withNeed(this.interner.cons(`C${this.interner.idOf(inner)}`, () => {
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
        return this.interner.cons(`N${this.interner.idOf(a)}`, () => mark(withCost((v: SfRecordView) => !a(v), costOf(a)), scopeOfPred(a)));
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
    if (scope !== 'record') return this.interner.cons(`J${j}${this.interner.idsOf(preds)}`, () => mark(withCost(combine(preds, isAnd), preds.reduce((n, p) => n + costOf(p), 0)), scope));
    const procParts = preds.filter((p) => { const sc = scopeOfPred(p); return sc === 'proc' || sc === 'const'; });
    const fileParts = preds.filter((p) => scopeOfPred(p) === 'file');
    const units: Predicate[] = preds.filter((p) => scopeOfPred(p) === 'record');
    let procUnit: Predicate | null = null;
    if (procParts.length > 0) units.push((procUnit = this.interner.cons(`P${j}${this.interner.idsOf(procParts)}`, () => withCost(cacheScoped(mark(combine(procParts, isAnd), 'proc'), this.slots), 1.5))));
    if (fileParts.length > 0) units.push(this.interner.cons(`F${j}${this.interner.idsOf(fileParts)}`, () => withCost(cacheScoped(mark(combine(fileParts, isAnd), 'file'), this.slots), 1.6)));
    units.sort((a, b) => costOf(a) - costOf(b));
    const u = this.interner.cons(`U${j}${this.interner.idsOf(units)}`, () => withCost(combine(units, isAnd), units.reduce((n, p) => n + costOf(p), 0)));
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
    return withNeed(this.interner.cons(this.checkKey, () => marked), this.checkNeed, this.checkOps);
  }

  // ---- shared sub-conditions (predicate-interner.ts) ----------------------------------------
  private readonly interner = new PredicateInterner();
  /** key of the check being compiled (set once its right-hand side is resolved) */
  private checkKey: string | null = null;
  /** path need of the check being compiled (path-need.ts) */
  private checkNeed: PathNeed | null = null;
  /** opflags mask the check being compiled needs */
  private checkOps: number | null = null;

  private static getterKey(g: Getter | null | undefined): string | null {
    return g === undefined ? '-' : g === null ? null : g.literal ? `lit:${g.name}:${String(g.get(null as unknown as SfRecordView))}` : g.name;
  }

  /** Scope of the right-hand field of the last check (field-vs-field comparisons). */
  private rhsScope: Scope = 'const';

  private checkInner(g: Getter | null, f: FieldRef, op: string, opOffset: number, rhs: Operand | ListValue): Predicate {
    this.rhsScope = 'const';
    // Resolve the right-hand side first so its errors are reported even for unavailable fields.
    const { values, rhsField } = this.resolveRhs(f, op, rhs);
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
    if (g.def?.domain) this.checkDomain(g.def, f, rhs, vals);
    const bitTest = this.bitsCheck(g, op, vals);
    if (bitTest) return bitTest;
    const atOp = (message: string): never => this.fail(opOffset, message, op);
    const literalAt = rhs.offset;
    switch (g.type) {
      case 'string':
        return stringCheck(g.get as (v: SfRecordView) => string, op, vals, this.opts.dialect, atOp, (m) => this.fail(literalAt, m, vals.join(', ')), g.scope === 'record');
      case 'strings':
        return stringsCheck(g.get as (v: SfRecordView) => readonly string[], op, vals, this.opts.dialect, atOp, (m) => this.fail(literalAt, m, vals.join(', ')), g.scope === 'record');
      case 'int':
      case 'ints':
      case 'int64':
        return this.numericCheck(g, f, op, vals, rhs, atOp);
      case 'bool':
        return this.boolCheck(g, f, op, vals, literalAt, atOp);
    }
  }

  /** The right-hand side: literal values (a list expanded), or a field to compare with. */
  private resolveRhs(f: FieldRef, op: string, rhs: Operand | ListValue): { values: string[] | null; rhsField: Getter | null | undefined } {
    if (rhs.kind === 'list') {
      const first = rhs.items[0];
      if (rhs.bareName && first && !this.lists.has(first.value)) this.fail(first.offset, `unknown list '${first.value}'`, first.value);
      return { values: this.expandItems(rhs.items), rhsField: undefined };
    }
    if (rhs.kind === 'field') return { values: null, rhsField: this.field(rhs) };
    if (rhs.bare && this.opts.dialect === 'sysflow' && lookupField(rhs.value) && !LIST_OPS_SET.has(op)) {
      return { values: null, rhsField: this.field({ kind: 'field', name: rhs.value, arg: null, offset: rhs.offset, text: rhs.value }) };
    }
    if (rhs.bare && LIST_OPS_SET.has(op)) {
      // `in list_name` without parentheses: must name a list.
      if (!this.lists.has(rhs.value)) this.fail(rhs.offset, `unknown list '${rhs.value}'`, rhs.value);
      return { values: this.expandItems([rhs]), rhsField: undefined };
    }
    if (rhs.bare && this.lists.has(rhs.value) && !lookupField(f.name)?.domain) {
      this.warn(rhs.offset, `'${rhs.value}' is a list, but '${op}' compares with the literal text; use 'in (${rhs.value})'`, rhs.value);
    }
    if (this.opts.dialect === 'sysflow' && rhs.value.includes(',') && (op === '=' || op === '!=')) {
      this.warn(rhs.offset, "sf-processor splits this value on ',' and matches any part; falconet compares it whole (use 'in (a, b)')", rhs.value);
    }
    return { values: [rhs.value], rhsField: undefined };
  }

  /** Values outside a closed field's domain: an error (a warning when lenient, or when Falco
   * knows the value but SysFlow never records it). */
  private checkDomain(def: FieldDef, f: FieldRef, rhs: Operand | ListValue, vals: readonly string[]): void {
    const domain = def.domain!;
    for (const [i, val] of vals.entries()) {
      const off = rhs.kind === 'list' ? (rhs.items[i]?.offset ?? rhs.offset) : rhs.offset;
      if (def.unavailable?.has(val)) {
        this.warn(off, `'${val}' is a valid ${f.name} value in Falco but SysFlow never records it; it never matches`, val);
      } else if (!domain.has(val)) {
        const known = [...domain];
        const hint = this.lists.has(val) && rhs.kind !== 'list' ? `; '${val}' is a list: use 'in (${val})'` : '';
        const msg = `'${val}' is not a valid value of ${f.name} (expected one of ${known.length > 30 ? known.slice(0, 30).join(', ') + ', ...' : known.join(', ')})${hint}`;
        if (this.opts.lenient) this.warn(off, msg, val);
        else this.softFail(off, msg, val);
      }
    }
  }

  /** Flag-set fields (opflags, openflags) compared by name: bit tests, not a list scan. */
  private bitsCheck(g: Getter, op: string, vals: readonly string[]): Predicate | null {
    const bits = g.def?.bits;
    if (!bits || !(op === '=' || op === '!=' || op === 'in' || op === 'intersects')) return null;
    const tests = vals.map((x) => bits.test(x));
    if (!tests.every((t) => t !== undefined)) return null;
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

  private numericCheck(g: Getter, f: FieldRef, op: string, vals: string[], rhs: Operand | ListValue, atOp: (m: string) => never): Predicate {
    const literalAt = rhs.offset;
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
      return g.type === 'ints'
        ? stringsCheck((v) => (get(v) as readonly number[]).map(String), op, vals, this.opts.dialect, atOp, (m) => this.fail(literalAt, m, ''), true)
        : stringCheck((v) => String(get(v)), op, vals, this.opts.dialect, atOp, (m) => this.fail(literalAt, m, ''), true);
    }
    if (g.type === 'ints') return intsCheck(g.get as (v: SfRecordView) => readonly number[], op, nums as number[], atOp);
    return numCheck(g.get as (v: SfRecordView) => number | bigint, op, nums, atOp);
  }

  private boolCheck(g: Getter, f: FieldRef, op: string, vals: readonly string[], literalAt: number, atOp: (m: string) => never): Predicate {
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
