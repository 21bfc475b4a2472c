// Reads the items of a policy file (rules, macros, lists, filters) into definitions, checking
// their keys; conditions are parsed here and compiled later by loader.ts, once every file's
// lists and macros are known.
import type { Expr, Literal } from './ast.js';
import type { ListDef, MacroDef } from './compiler.js';
import type { KeySpan, RawItem } from './document.js';
import type { DiagnosticSink, SourceText } from './errors.js';
import { RECORD_TYPES } from './flag-names.js';
import { ScanError, parseCondition, parseSequence, unquoteScalar } from './parser.js';
import { DEFAULT_PRIORITY, PRIORITY_NAMES, parsePriority, type Priority } from './priority.js';

export type ActionName = 'alert' | 'tag';

export interface PendingRule {
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

export interface PendingFilter {
  name: string;
  condition: Expr | null;
  enabled: boolean;
  src: SourceText;
  offset: number;
}

/** What the items of every file define, before compilation. */
export interface Definitions {
  readonly lists: Map<string, ListDef>;
  readonly macros: Map<string, MacroDef>;
  readonly rules: PendingRule[];
  readonly filters: PendingFilter[];
  /** Macros replaced by a later definition: never used, but still checked so `rules check`
   * reports problems in every definition a file contains. */
  readonly shadowed: MacroDef[];
}

export function newDefinitions(): Definitions {
  return { lists: new Map(), macros: new Map(), rules: [], filters: [], shadowed: [] };
}

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

/** What `parse` gives for a span, or null after reporting its ScanError at the offset it names. */
function scanned<T>(src: SourceText, sink: DiagnosticSink, parse: () => T): T | null {
  try {
    return parse();
  } catch (e) {
    if (!(e instanceof ScanError)) throw e;
    sink.error(src, e.offset, e.message, e.text);
    return null;
  }
}

function parseCond(src: SourceText, k: KeySpan, sink: DiagnosticSink): Expr | null {
  return scanned(src, sink, () => parseCondition(src, k.start, k.end));
}

function parseSeq(src: SourceText, k: KeySpan, sink: DiagnosticSink): Literal[] | null {
  return scanned(src, sink, () => parseSequence(src, k.start, k.end));
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

/** Reads one item of a policy file into defs; problems go to sink, naming their place. */
export function readItem(item: RawItem, src: SourceText, sink: DiagnosticSink, defs: Definitions): void {
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
  const it: ItemContext = { src, sink, keys, head, name, append, offset: item.offset, need };
  switch (item.kind) {
    case 'list':
      return readList(it, defs.lists);
    case 'macro':
      return readMacro(it, defs);
    case 'filter':
    case 'drop':
      return readFilter(it, defs.filters);
    case 'rule':
      return readRule(it, defs.rules);
  }
}

/** One item's parts, as readItem found them. */
interface ItemContext {
  readonly src: SourceText;
  readonly sink: DiagnosticSink;
  readonly keys: ReadonlyMap<string, KeySpan>;
  readonly head: KeySpan;
  readonly name: string;
  readonly append: boolean;
  readonly offset: number;
  /** the key's span, or undefined after reporting it missing or empty */
  readonly need: (key: string) => KeySpan | undefined;
}

function readList({ src, sink, keys, head, name, append }: ItemContext, lists: Map<string, ListDef>): void {
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
}

function readMacro({ src, sink, head, name, append, need }: ItemContext, { macros, shadowed }: Definitions): void {
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
}

function readFilter({ src, sink, keys, name, offset, need }: ItemContext, filters: PendingFilter[]): void {
  const k = need('condition');
  if (!k) return;
  const expr = parseCond(src, k, sink);
  const enabled = keys.has('enabled') ? parseBool(src, keys.get('enabled')!, sink) : true;
  filters.push({ name, condition: expr, enabled, src, offset });
}

function readRule({ src, sink, keys, head, name, append, offset, need }: ItemContext, rules: PendingRule[]): void {
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
  const tk = keys.get('tags');
  const tags = tk ? (parseSeq(src, tk, sink) ?? []).map((l) => l.value) : [];
  const pfk = keys.get('prefilter');
  const pfItems = pfk ? (parseSeq(src, pfk, sink) ?? []) : [];
  for (const l of pfItems) {
    if (!RECORD_TYPES.has(l.value)) sink.error(src, l.offset, `prefilter: unknown record type '${l.value}' (expected ${[...RECORD_TYPES].join(', ')})`, l.value);
  }
  const actions = readActions(src, sink, keys);
  const enabled = keys.has('enabled') ? parseBool(src, keys.get('enabled')!, sink) : true;
  if (keys.has('exceptions')) sink.warn(src, keys.get('exceptions')!.keyOffset, `rule '${name}': exceptions are not supported and are ignored`, 'exceptions');
  const dup = rules.find((r) => r.name === name && r.src === src);
  if (dup) sink.warn(src, head.keyOffset, `rule '${name}' is already defined at line ${src.position(dup.offset).line}; both are active`, name);
  rules.push({
    name, desc: keys.has('desc') ? textValue(src, keys.get('desc')!) : '',
    condition: expr, conditionText: k ? textValue(src, k) : '',
    output: keys.has('output') ? textValue(src, keys.get('output')!) : '',
    priority, tags, prefilter: pfItems.map((l) => l.value), actions, enabled, src, offset,
  });
}

/** `action`/`actions`: alert and tag are built in; anything else is ignored with a warning. */
function readActions(src: SourceText, sink: DiagnosticSink, keys: ReadonlyMap<string, KeySpan>): ActionName[] {
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
  return actions;
}
