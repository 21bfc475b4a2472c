// Public API of the policy engine.
import type { SfRecordView } from '../sysflow/view.js';
import { Compiler, DEFAULT_COMPILE_OPTIONS, type CompileOptions, type ListDef, type MacroDef, type Predicate } from './compiler.js';
import { DiagnosticSink, PolicyError, SourceText } from './errors.js';
import { ScanError, parseCondition } from './parser.js';

export { checkPolicies, loadPolicies, compilePolicyText, expandPolicyPaths } from './loader.js';
export type { PolicySet, Rule, Filter, LoadOptions, LoadResult, ActionName } from './loader.js';
export { PolicyEngine, ENGINE_MODES } from './engine.js';
export type { EngineMode, EngineRecord, EngineStats } from './engine.js';
export { toSysFlowJson, toFalcoJson, sysflowRecordObject, renderOutput, rfc3339Nano } from './alerts.js';
export { PolicyError, formatDiagnostic } from './errors.js';
export type { Diagnostic, Severity } from './errors.js';
export type { CompileOptions, Dialect, Predicate } from './compiler.js';
export { lookupField, allFields } from './fields.js';
export type { FieldDef, FieldType } from './fields.js';
export { parsePriority } from './priority.js';
export type { Priority, PriorityName } from './priority.js';

/**
 * Compiles a standalone condition (e.g. `falconet print -f`): fields, operators and inline
 * lists; no macros or named lists. Throws PolicyError (positions in file `<filter>`) on any
 * error; warnings (e.g. unavailable Falco fields) do not throw.
 */
export function compileFilterExpression(expr: string, opts: Partial<CompileOptions> = {}): (view: SfRecordView) => boolean {
  const src = new SourceText('<filter>', expr);
  const sink = new DiagnosticSink();
  let ast;
  try {
    ast = parseCondition(src);
  } catch (e) {
    if (e instanceof ScanError) {
      sink.error(src, e.offset, e.message, e.text);
      throw new PolicyError(sink.list);
    }
    throw e;
  }
  const compiler = new Compiler(new Map<string, ListDef>(), new Map<string, MacroDef>(), sink, { ...DEFAULT_COMPILE_OPTIONS, ...opts });
  const p: Predicate | null = compiler.compile(ast, src);
  if (p === null || sink.hasErrors) throw new PolicyError(sink.list);
  return p;
}
