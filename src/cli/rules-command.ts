// `falconet rules check FILES…`: loads policy files (and directories of them) together, as the
// engine would, and reports every problem with file:line:col. Exit 1 if there is an error
// (or, with --strict, a warning); 2 for usage errors.
import type { Command } from 'commander';
import { allFields, checkPolicies, formatDiagnostic, type Dialect } from '../policy/index.js';

interface CheckOptions {
  lenient?: boolean;
  dialect?: string;
  strict?: boolean;
  quiet?: boolean;
}

export function registerRulesCommand(program: Command): void {
  const rules = program.command('rules').description('policy (rule file) tools');
  rules
    .command('fields')
    .description('list the fields conditions can use (SysFlow names and Falco aliases)')
    .action(() => {
      const lines = allFields().map((f) => `${f.name.padEnd(28)} ${(f.type + (f.arg ? `[${f.arg}]` : '')).padEnd(18)} ${f.desc}`);
      process.stdout.write(lines.join('\n') + '\n');
    });
  rules
    .command('check')
    .description('load policy files together and report all problems (exit 1 on error)')
    .argument('<files...>', 'policy files or directories (.yaml/.yml, recursive)')
    .option('--lenient', 'load as sf-processor (and falconet process by default): unknown fields become their own name, unknown macros false (warnings)')
    .option('--dialect <dialect>', 'operator semantics: sysflow (pmatch = substring) or falco (pmatch = path prefix)', 'sysflow')
    .option('--strict', 'treat warnings as errors')
    .option('-q, --quiet', 'print errors only')
    .action((files: string[], opts: CheckOptions) => {
      const dialect = (opts.dialect ?? 'sysflow').toLowerCase();
      if (dialect !== 'sysflow' && dialect !== 'falco') {
        process.stderr.write(`falconet rules check: unknown dialect "${opts.dialect}" (expected sysflow or falco)\n`);
        process.exitCode = 2;
        return;
      }
      const r = checkPolicies(files, { lenient: opts.lenient ?? false, dialect: dialect as Dialect });
      let errors = 0;
      let warnings = 0;
      const lines: string[] = [];
      for (const d of r.diagnostics) {
        if (d.severity === 'error') errors++;
        else warnings++;
        if (d.severity === 'error' || !opts.quiet) lines.push(formatDiagnostic(d));
      }
      if (lines.length > 0) process.stdout.write(lines.join('\n') + '\n');
      const p = r.policy;
      const counts = p
        ? `${p.files.length} file(s): ${p.rules.length} rules (${p.rules.filter((x) => x.enabled).length} enabled), ${p.macros.size} macros, ${p.lists.size} lists, ${p.filters.length} filters; `
        : '';
      process.stdout.write(`${counts}${errors} error(s), ${warnings} warning(s)\n`);
      if (errors > 0 || (opts.strict && warnings > 0)) process.exitCode = 1;
    });
}
