// Loads policy files (or directories of them) into a compiled PolicySet. Lists and macros are
// collected from every file first (a later definition replaces an earlier one, `append: true`
// extends it), then every rule, filter and macro is compiled, so references work regardless of
// file order. All problems are collected; `loadPolicies` throws a PolicyError if any is an error.
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Compiler, DEFAULT_COMPILE_OPTIONS, type CompileOptions, type Predicate } from './compiler.js';
import { scanDocument } from './document.js';
import { DiagnosticSink, PolicyError, SourceText, type Diagnostic } from './errors.js';
import { newDefinitions, readItem, type ActionName } from './item-reader.js';
import type { Priority } from './priority.js';

export type { ActionName } from './item-reader.js';

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

function compileSources(inputs: readonly SourceInput[], opts: LoadOptions, sink: DiagnosticSink): LoadResult {
  const copts: CompileOptions = { ...DEFAULT_COMPILE_OPTIONS, ...opts };
  const defs = newDefinitions();
  const { lists, macros, rules, filters, shadowed } = defs;
  for (const input of inputs) {
    const doc = scanDocument(input.name, input.text, sink);
    for (const item of doc.items) readItem(item, doc.src, sink, defs);
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
