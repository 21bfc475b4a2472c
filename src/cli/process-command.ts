// `falconet process --config pipeline.json TRACE…`: sfprocessor's command line. sfprocessor
// uses Go's single-dash long flags (`-config f`); commander does not, so the arguments after
// the `process` token are normalised to `--config` etc. before commander parses them.
import type { Command } from 'commander';
import { runProcess } from '../pipeline/process.js';

const SFPROCESSOR_FLAGS = ['config', 'driver', 'log', 'driverdir', 'plugdir', 'policies', 'mode', 'format', 'dialect'];

/** Rewrites `-config x` / `-config=x` to `--config …` in the arguments of `process`. */
export function normaliseProcessArgv(argv: string[]): void {
  const at = argv.indexOf('process', 2);
  if (at < 0) return;
  // Only if `process` is the subcommand (the first non-option argument).
  for (let i = 2; i < at; i++) if (!argv[i]!.startsWith('-')) return;
  for (let i = at + 1; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') break;
    const m = /^-([a-z]+)(=.*)?$/.exec(a);
    if (m && m[1]!.length > 1 && SFPROCESSOR_FLAGS.includes(m[1]!)) argv[i] = `-${a}`;
  }
}

interface ProcessCliOptions {
  config: string;
  driver?: string;
  log?: string;
  policies?: string;
  mode?: string;
  format?: string;
  dialect?: string;
  strict?: boolean;
  lenient?: boolean;
  verbose?: boolean;
  stats?: boolean;
  plugdir?: string;
}

export function registerProcessCommand(program: Command): void {
  normaliseProcessArgv(process.argv);
  program
    .command('process')
    .description('run a SysFlow pipeline.json (sysflowreader → policyengines → exporters, with fan-out) over trace files')
    .requiredOption('--config <file>', 'pipeline configuration (sfprocessor -config also accepted)')
    .option('--driver <driver>', 'input driver: file (trace files, the default) or socket (listen on a SysFlow socket PATH until SIGTERM/SIGINT); default: the config\'s "drivers" section')
    .option('--log <level>', 'accepted for sfprocessor compatibility; diagnostics go to stderr')
    .option('--policies <path>', 'override the policyengine "policies" setting')
    .option('--mode <mode>', 'override the policyengine mode: alert, enrich, filter, bypass')
    .option('--format <format>', 'override the exporter format: json (SysFlow) or falco')
    .option('--dialect <dialect>', 'policy semantics: sysflow (default) or falco')
    .option('--strict', 'unknown fields/macros and bad values in policies are errors (default: warnings, as sf-processor)')
    .option('--lenient', 'the default (sf-processor loading); accepted for compatibility')
    .option('-v, --verbose', 'also print a summary of the loaded policies')
    .option('--stats', 'print record counts to stderr at the end')
    .argument('[paths...]', 'SysFlow trace files or directories (driver file), or the socket path (driver socket)')
    .option('--plugdir <dir>', 'directory of custom stage plugins (<name>.js), placed in pipeline.json by name')
    .action(async (traces: string[], opts: ProcessCliOptions) => {
      process.exitCode = await runProcess({
        config: opts.config, traces, driver: opts.driver, policies: opts.policies, mode: opts.mode, format: opts.format,
        dialect: opts.dialect, strict: opts.strict, lenient: opts.lenient, verbose: opts.verbose, stats: opts.stats, plugdir: opts.plugdir,
      });
    });
}
