// Loading the policies of a policy engine plugin (pipeline.json `policyengine`, --rules):
// settings, command-line overrides, diagnostics. One place for `process` and the live agent.
import { existsSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { ENGINE_MODES, checkPolicies, formatDiagnostic, type Dialect, type EngineMode, type PolicySet } from '../policy/index.js';

export class PolicyLoadError extends Error {
  override readonly name = 'PolicyLoadError';
}

export interface PolicyOverrides {
  policies?: string;
  mode?: string;
  dialect?: string;
  /** unknown fields/macros and bad values are errors (default: warnings, as sf-processor) */
  strict?: boolean;
  /** accepted for compatibility: lenient loading is the default */
  lenient?: boolean;
  verbose?: boolean;
}

export interface LoadedEngine {
  policy: PolicySet;
  mode: EngineMode;
  dialect: Dialect;
}

/** Resolves a policies path: as given (relative to the CWD), else relative to the config file. */
export function resolvePolicies(p: string, configPath: string): string {
  if (isAbsolute(p) || existsSync(p)) return p;
  const alt = resolve(dirname(configPath), p);
  return existsSync(alt) ? alt : p;
}

export const EMPTY_POLICY: PolicySet = { rules: [], filters: [], lists: new Map(), macros: new Set(), files: [], diagnostics: [] };

export function parseDialect(v: string): Dialect {
  const d = v.toLowerCase();
  if (d !== 'sysflow' && d !== 'falco') throw new PolicyLoadError(`unknown dialect "${v}" (expected sysflow or falco)`);
  return d;
}

/** Loads an engine's policies; diagnostics go to `err`. Throws PolicyLoadError when it cannot. */
export function loadEngine(settings: Readonly<Record<string, string>>, o: PolicyOverrides, configPath: string, err: (s: string) => void, prefix: string): LoadedEngine {
  const mode = (o.mode ?? settings['mode'] ?? 'alert').toLowerCase();
  if (!(ENGINE_MODES as readonly string[]).includes(mode)) {
    throw new PolicyLoadError(`unknown policy engine mode "${mode}" (expected ${ENGINE_MODES.join(', ')})`);
  }
  const language = (settings['language'] ?? 'falco').toLowerCase();
  if (language !== 'falco') throw new PolicyLoadError(`policy language "${language}" is not supported (only falco-style policies)`);
  const dialect = parseDialect(o.dialect ?? settings['dialect'] ?? 'sysflow');
  // sf-processor loads policies with typos (unknown attributes, macros) and runs them; so do
  // we unless asked to be strict (--strict, or the policyengine key `strict: "true"`).
  const strict = o.strict ?? (/^(true|1|yes|on)$/i.test(settings['strict'] ?? '') || /^(false|0|no|off)$/i.test(settings['lenient'] ?? ''));
  const lenient = !strict;
  if (mode === 'bypass') return { policy: EMPTY_POLICY, mode, dialect };
  const setting = o.policies ?? settings['policies'];
  if (!setting) throw new PolicyLoadError(`the policyengine needs "policies" in ${mode} mode`);
  const path = resolvePolicies(setting, configPath);
  const r = checkPolicies([path], { dialect, lenient });
  const errors = r.diagnostics.filter((d) => d.severity === 'error');
  const warnings = r.diagnostics.filter((d) => d.severity === 'warning');
  // Every problem, with file:line:col, before any output.
  for (const d of r.diagnostics) err(formatDiagnostic(d));
  if (!r.policy) {
    throw new PolicyLoadError(`${errors.length} error(s) in policies ${path}${strict ? ' (without --strict, sf-processor-era files with unknown fields load with warnings)' : ''}`);
  }
  if (o.verbose || warnings.length > 0) {
    err(`${prefix}loaded ${r.policy.rules.length} rules, ${r.policy.filters.length} filters from ${path}; ${warnings.length} warning(s)${strict ? '' : ' (--strict makes unknown fields and macros errors)'}`);
  }
  return { policy: r.policy, mode: mode as EngineMode, dialect };
}
