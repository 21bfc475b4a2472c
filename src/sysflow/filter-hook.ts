// Bridge to the policy engine's filter compiler (src/policy, owned by the policy slice).
// Imported lazily so `print` without -f never loads the policy engine.
import type { SfRecordView } from './view.js';

export type FilterCompiler = (expr: string) => (view: SfRecordView) => boolean;

export async function loadFilterCompiler(): Promise<FilterCompiler> {
  const mod = await import('../policy/index.js');
  return (expr) => mod.compileFilterExpression(expr);
}
