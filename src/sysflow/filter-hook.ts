// Bridge to the policy engine's filter compiler (src/policy, owned by the policy slice).
// Loaded lazily so `print` without -f never pays for (or depends on) the policy engine.
import type { SfRecordView } from './view.js';

export type FilterCompiler = (expr: string) => (view: SfRecordView) => boolean;

export async function loadFilterCompiler(): Promise<FilterCompiler> {
  // A computed specifier keeps this file compiling while src/policy/index.ts is being written.
  const spec = '../policy/index.js';
  let mod: { compileFilterExpression?: unknown };
  try {
    mod = (await import(spec)) as { compileFilterExpression?: unknown };
  } catch (e) {
    throw new Error(`print -f: policy engine not available (${(e as Error).message})`);
  }
  if (typeof mod.compileFilterExpression !== 'function') {
    throw new Error('print -f: the policy engine does not export compileFilterExpression');
  }
  return mod.compileFilterExpression as FilterCompiler;
}
