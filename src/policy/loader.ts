// Loads policy files (or directories of them) into a compiled PolicySet. Lists and macros are
// collected from every file first (a later definition replaces an earlier one, `append: true`
// extends it), then every rule, filter and macro is compiled, so references work regardless of
// file order. All problems are collected; `loadPolicies` throws a PolicyError if any is an error.
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Expr, Literal } from './ast.js';
import { Compiler, DEFAULT_COMPILE_OPTIONS, type CompileOptions, type ListDef, type MacroDef, type Predicate } from './compiler.js';
import { scanDocument, type KeySpan, type RawItem } from './document.js';
import { DiagnosticSink, PolicyError, SourceText, type Diagnostic } from './errors.js';
import { RECORD_TYPES } from './fields.js';
import { ScanError, parseCondition, parseSequence, unquoteScalar } from './parser.js';
import { DEFAULT_PRIORITY, PRIORITY_NAMES, parsePriority, type Priority } from './priority.js';

export type ActionName = 'alert' | 'tag';

export interface Rule {
  readonly name: string;
  readonly desc: string;
  readonly condition: string;
  readonly output: string;
  readonly priority: Priority;
  readonly tags: readonly string[];
  /** Record types the rule applies to; empty = all. */
  readonly prefilter: readonly string[];
  readonly actions: readonly ActionName[];
  readonly enabled: boolean;
  readonly file: string;
  readonly line: number;
  readonly predicate: Predicate;
  /** Fields referenced as `%field` in `output` (for Falco-shaped alerts). */
  readonly outputFields: readonly string[];
}

export interface Filter {
  readonly name: string;
  readonly enabled: boolean;
  readonly file: string;
  readonly line: number;
  readonly predicate: Predicate;
}

export interface PolicySet {
  readonly rules: readonly Rule[];
  readonly filters: readonly Filter[];
  readonly lists: ReadonlyMap<string, readonly string[]>;
  readonly macros: ReadonlySet<string>;
  readonly files: readonly string[];
  readonly diagnostics: readonly Diagnostic[];
}

export interface LoadOptions extends Partial<CompileOptions> {}

export interface LoadResult {
  /** null when there were errors. */
  readonly policy: PolicySet | null;
  readonly diagnostics: readonly Diagnostic[];
}

/** Expands directories (recursively, lexical order, .yaml/.yml) into file paths. */
export function expandPolicyPaths(paths: readonly string[]): string[] {
  const out: string[] = [];
  const walk = (p: string): void => {
    const st = statSync(p);
    if (st.isDirectory()) {
      for (const e of readdirSync(p).sort()) {
        const q = join(p, e);
        if (statSync(q).isDirectory()) walk(q);
        else if (/\.ya?ml$/i.test(e)) out.push(q);
      }
    } else out.push(p);
  };
  for (const p of paths) walk(p);
  return out;
}

interface SourceInput {
  readonly name: string;
  readonly text: string;
}

/** Loads and compiles policy files/directories; never throws for policy problems. */
export function checkPolicies(paths: readonly string[], opts: LoadOptions = {}): LoadResult {
  const sink = new DiagnosticSink();
  const inputs: SourceInput[] = [];
  let files: string[] = [];
  try {
    files = expandPolicyPaths(paths);
  } catch (e) {
    const src = new SourceText(paths.join(','), '');
    sink.error(src, 0, `cannot read policy path: ${(e as Error).message}`, '');
    return { policy: null, diagnostics: sink.list };
  }
  for (const f of files) {
    try {
      inputs.push({ name: f, text: readFileSync(f, 'utf8') });
    } catch (e) {
      sink.error(new SourceText(f, ''), 0, `cannot read file: ${(e as Error).message}`, '');
    }
  }
  return compileSources(inputs, opts, sink);
}

/** Like checkPolicies but throws PolicyError on errors. */
export function loadPolicies(paths: readonly string[], opts: LoadOptions = {}): PolicySet {
  const r = checkPolicies(paths, opts);
  if (!r.policy) throw new PolicyError(r.diagnostics);
  return r.policy;
}

/** Compiles in-memory policy texts (used by tests and the fuzzer). */
export function compilePolicyText(sources: readonly SourceInput[], opts: LoadOptions = {}): LoadResult {
  return compileSources(sources, opts, new DiagnosticSink());
}

interface PendingRule {
  name: string;
  desc: string;
  condition: Expr | null;
  conditionText: string;
  output: string;
  priority: Priority;
  tags: string[];
  prefilter: string[];
  actions: ActionName[];
  enabled: boolean;
  src: SourceText;
  offset: number;
}

interface PendingFilter {
  name: string;
  condition: Expr | null;
  enabled: boolean;
  src: SourceText;
  offset: number;
}

function compileSources(inputs: readonly SourceInput[], opts: LoadOptions, sink: DiagnosticSink): LoadResult {
  const copts: CompileOptions = { ...DEFAULT_COMPILE_OPTIONS, ...opts };
  const lists = new Map<string, ListDef>();
  const macros = new Map<string, MacroDef>();
  const rules: PendingRule[] = [];
  const filters: PendingFilter[] = [];
  // Macros replaced by a later definition: never used, but still checked so `rules check`
  // reports problems in every definition a file contains.
  const shadowed: MacroDef[] = [];

  for (const input of inputs) {
    const doc = scanDocument(input.name, input.text, sink);
    const src = doc.src;
    for (const item of doc.items) {
      readItem(item, src, sink, lists, macros, rules, filters, shadowed);
    }
  }

  const compiler = new Compiler(lists, macros, sink, copts);
  const outRules: Rule[] = [];
  for (const r of rules) {
    if (!r.condition) continue;
    const p = compiler.compile(r.condition, r.src);
    if (!p) continue;
    const { line } = r.src.position(r.offset);
    outRules.push({
      name: r.name, desc: r.desc, condition: r.conditionText, output: r.output, priority: r.priority,
      tags: r.tags, prefilter: r.prefilter, actions: r.actions, enabled: r.enabled, file: r.src.name, line,
      predicate: p, outputFields: outputFieldNames(r.output),
    });
  }
  const outFilters: Filter[] = [];
  for (const f of filters) {
    if (!f.condition) continue;
    const p = compiler.compile(f.condition, f.src);
    if (!p) continue;
    outFilters.push({ name: f.name, enabled: f.enabled, file: f.src.name, line: f.src.position(f.offset).line, predicate: p });
  }
  for (const m of macros.values()) compiler.compileUnusedMacro(m);
  for (const m of shadowed) compiler.compileUnusedMacro(m);

  const diagnostics = sortDiagnostics(sink.list, inputs.map((i) => i.name));
  if (sink.hasErrors) return { policy: null, diagnostics };
  // Expanded lists are exposed for tooling (e.g. `rules check --verbose`).
  const listValues = new Map<string, readonly string[]>();
  for (const [name, l] of lists) listValues.set(name, l.items.map((i) => i.value));
  return {
    policy: {
      rules: outRules, filters: outFilters, lists: listValues, macros: new Set(macros.keys()),
      files: inputs.map((i) => i.name), diagnostics,
    },
    diagnostics,
  };
}

function sortDiagnostics(list: readonly Diagnostic[], order: readonly string[]): Diagnostic[] {
  const rank = new Map(order.map((n, i) => [n, i]));
  const seen = new Set<string>();
  const out: Diagnostic[] = [];
  for (const d of list) {
    const k = `${d.file}:${d.line}:${d.col}:${d.message}`;
    if (seen.has(k)) continue; // a macro's problem is reported once, not per use
    seen.add(k);
    out.push(d);
  }
  return out.sort((a, b) => (rank.get(a.file) ?? 0) - (rank.get(b.file) ?? 0) || a.line - b.line || a.col - b.col);
}

/** `%field` and `%field[arg]` references in a Falco output template. */
function outputFieldNames(output: string): string[] {
  const out = new Set<string>();
  for (const m of output.matchAll(/%([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z0-9_]+)+(?:\[[^\]\s]*\])?)/g)) out.add(m[1]!);
  return [...out];
}

// ---- item readers ---------------------------------------------------------------------------

function textValue(src: SourceText, k: KeySpan): string {
  const raw = src.text.slice(k.start, k.end);
  // Fold lines: YAML plain and folded scalars both join lines with single spaces.
  const folded = raw.split('\n').map((l) => l.trim()).filter((l) => l !== '').join(' ');
  return unquoteScalar(folded);
}

function valueOffset(src: SourceText, k: KeySpan): number {
  let p = k.start;
  while (p < k.end && /\s/.test(src.text[p]!)) p++;
  return p;
}

function isBlank(src: SourceText, k: KeySpan): boolean {
  return src.text.slice(k.start, k.end).trim() === '';
}

function parseCond(src: SourceText, k: KeySpan, sink: DiagnosticSink): Expr | null {
  try {
    return parseCondition(src, k.start, k.end);
  } catch (e) {
    if (e instanceof ScanError) {
      sink.error(src, e.offset, e.message, e.text);
      return null;
    }
    throw e;
  }
}

function parseSeq(src: SourceText, k: KeySpan, sink: DiagnosticSink): Literal[] | null {
  try {
    return parseSequence(src, k.start, k.end);
  } catch (e) {
    if (e instanceof ScanError) {
      sink.error(src, e.offset, e.message, e.text);
      return null;
    }
    throw e;
  }
}

function parseBool(src: SourceText, k: KeySpan, sink: DiagnosticSink): boolean {
  const t = unquoteScalar(src.text.slice(k.start, k.end).trim()).toLowerCase();
  if (t === 'true' || t === 'yes' || t === 'on' || t === '1') return true;
  if (t === 'false' || t === 'no' || t === 'off' || t === '0') return false;
  sink.error(src, valueOffset(src, k), `${k.key} must be true or false`, t);
  return true;
}

const ALLOWED: Record<string, ReadonlySet<string>> = {
  rule: new Set(['rule', 'desc', 'condition', 'output', 'action', 'actions', 'priority', 'tags', 'prefilter', 'enabled', 'append', 'override', 'exceptions', 'source', 'warn_evttypes', 'skip-if-unknown-filter']),
  macro: new Set(['macro', 'condition', 'append', 'override', 'desc']),
  list: new Set(['list', 'items', 'append', 'override']),
  filter: new Set(['filter', 'condition', 'enabled', 'desc']),
  drop: new Set(['drop', 'condition', 'enabled', 'desc']),
  required_engine_version: new Set(['required_engine_version']),
  required_plugin_versions: new Set(['required_plugin_versions']),
};

function readItem(
  item: RawItem,
  src: SourceText,
  sink: DiagnosticSink,
  lists: Map<string, ListDef>,
  macros: Map<string, MacroDef>,
  rules: PendingRule[],
  filters: PendingFilter[],
  shadowed: MacroDef[],
): void {
  const keys = new Map<string, KeySpan>();
  for (const k of item.keys) {
    if (!ALLOWED[item.kind]!.has(k.key)) {
      sink.error(src, k.keyOffset, `key '${k.key}' is not valid in a ${item.kind}`, k.key);
      continue;
    }
    if (keys.has(k.key)) sink.error(src, k.keyOffset, `duplicate key '${k.key}'`, k.key);
    keys.set(k.key, k);
  }
  const head = item.head;
  const name = textValue(src, head);
  if (item.kind === 'required_engine_version' || item.kind === 'required_plugin_versions') return;
  if (name === '') {
    sink.error(src, head.keyOffset, `${item.kind} has no name`, item.kind);
    return;
  }
  const append = keys.has('append') ? parseBool(src, keys.get('append')!, sink) : false;
  const need = (key: string): KeySpan | undefined => {
    const k = keys.get(key);
    if (!k) sink.error(src, head.keyOffset, `${item.kind} '${name}' has no '${key}'`, name);
    else if (isBlank(src, k)) sink.error(src, k.keyOffset, `${item.kind} '${name}' has an empty '${key}'`, key);
    else return k;
    return undefined;
  };

  switch (item.kind) {
    case 'list': {
      if (!/^[A-Za-z0-9_.\-]+$/.test(name)) sink.error(src, valueOffset(src, head), 'invalid list name', name);
      const k = keys.get('items');
      if (!k) {
        sink.error(src, head.keyOffset, `list '${name}' has no 'items'`, name);
        return;
      }
      const raw = parseSeq(src, k, sink);
      if (!raw) return;
      // List items are unquoted twice, as YAML and then the condition language would:
      // `'"(systemd)"'` is the item `(systemd)`.
      const items = raw.map((l) => (l.bare ? l : { ...l, value: unquoteScalar(l.value) }));
      const prev = lists.get(name);
      if (append && prev) {
        lists.set(name, { ...prev, items: [...prev.items, ...items] });
        return;
      }
      if (prev && prev.src === src) {
        sink.warn(src, valueOffset(src, head), `list '${name}' is defined again; this definition replaces the one at line ${src.position(prev.offset).line}`, name);
      }
      lists.set(name, { name, items, src, offset: valueOffset(src, head) });
      return;
    }
    case 'macro': {
      if (!/^[A-Za-z_][A-Za-z0-9_\-]*$/.test(name)) sink.error(src, valueOffset(src, head), 'invalid macro name', name);
      const k = need('condition');
      if (!k) return;
      const prev = macros.get(name);
      if (append) {
        // Falco appends the text (`prev + " " + fragment`); fragments start with `or`/`and`.
        // We combine the parsed trees: (prev) or (rest) / (prev) and (rest).
        const at = valueOffset(src, k);
        const m = /^(or|and)\b/.exec(src.text.slice(at, k.end));
        if (!prev) {
          sink.error(src, head.keyOffset, `macro '${name}' appends to a macro that is not defined`, name);
          return;
        }
        if (!m) {
          sink.error(src, at, "an appended macro condition must start with 'or' or 'and'", src.text.slice(at, k.end).trim().split(/\s+/)[0] ?? '');
          return;
        }
        const rest = parseCond(src, { ...k, start: at + m[1]!.length }, sink);
        if (!rest || !prev.expr) return;
        macros.set(name, {
          name, src: prev.src, offset: prev.offset,
          expr: { kind: m[1] as 'or' | 'and', left: { kind: 'scoped', src: prev.src, expr: prev.expr }, right: { kind: 'scoped', src, expr: rest } },
        });
        return;
      }
      const expr = parseCond(src, k, sink);
      if (prev && prev.src === src) {
        sink.warn(src, valueOffset(src, head), `macro '${name}' is defined again; this definition replaces the one at line ${src.position(prev.offset).line}`, name);
      }
      if (prev) shadowed.push(prev);
      macros.set(name, { name, expr, src, offset: valueOffset(src, head) });
      return;
    }
    case 'filter':
    case 'drop': {
      const k = need('condition');
      if (!k) return;
      const expr = parseCond(src, k, sink);
      const enabled = keys.has('enabled') ? parseBool(src, keys.get('enabled')!, sink) : true;
      filters.push({ name, condition: expr, enabled, src, offset: item.offset });
      return;
    }
    case 'rule': {
      if (append) {
        sink.warn(src, head.keyOffset, `rule '${name}' uses append; appending to rules is not supported, the item is ignored`, name);
        return;
      }
      const k = need('condition');
      const expr = k ? parseCond(src, k, sink) : null;
      let priority = DEFAULT_PRIORITY;
      const pk = keys.get('priority');
      if (pk) {
        const text = unquoteScalar(src.text.slice(pk.start, pk.end).trim());
        const p = parsePriority(text);
        if (!p) sink.error(src, valueOffset(src, pk), `bad priority (expected one of ${PRIORITY_NAMES.join(', ')})`, text);
        else priority = p;
      }
      const seq = (key: string): string[] => {
        const sk = keys.get(key);
        if (!sk) return [];
        return (parseSeq(src, sk, sink) ?? []).map((l) => l.value);
      };
      const tags = seq('tags');
      const pfk = keys.get('prefilter');
      const pfItems = pfk ? (parseSeq(src, pfk, sink) ?? []) : [];
      const prefilter = pfItems.map((l) => l.value);
      for (const l of pfItems) {
        if (!RECORD_TYPES.has(l.value)) sink.error(src, l.offset, `prefilter: unknown record type '${l.value}' (expected ${[...RECORD_TYPES].join(', ')})`, l.value);
      }
      const actions: ActionName[] = [];
      for (const key of ['action', 'actions']) {
        const ak = keys.get(key);
        if (!ak) continue;
        for (const l of parseSeq(src, ak, sink) ?? []) {
          const a = l.value.toLowerCase();
          if (a === 'alert' || a === 'tag') {
            if (!actions.includes(a)) actions.push(a);
          } else {
            sink.warn(src, l.offset, `action '${l.value}' is not built in (alert, tag); it is ignored`, l.value);
          }
        }
      }
      if (actions.length === 0) actions.push('alert');
      const enabled = keys.has('enabled') ? parseBool(src, keys.get('enabled')!, sink) : true;
      if (keys.has('exceptions')) sink.warn(src, keys.get('exceptions')!.keyOffset, `rule '${name}': exceptions are not supported and are ignored`, 'exceptions');
      const dup = rules.find((r) => r.name === name && r.src === src);
      if (dup) sink.warn(src, head.keyOffset, `rule '${name}' is already defined at line ${src.position(dup.offset).line}; both are active`, name);
      rules.push({
        name, desc: keys.has('desc') ? textValue(src, keys.get('desc')!) : '',
        condition: expr, conditionText: k ? textValue(src, k) : '',
        output: keys.has('output') ? textValue(src, keys.get('output')!) : '',
        priority, tags, prefilter, actions, enabled, src, offset: item.offset,
      });
      return;
    }
  }
}
