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
  sink?: string[];
}

export function registerProcessCommand(program: Command): void {
  normaliseProcessArgv(process.argv);
  program
    .command('process')
    .description('run a SysFlow pipeline.json (sysflowreader → policyengines → exporters, with fan-out) over trace files, or as a central processor on a fleet stream (--driver nats|kafka)')
    .requiredOption('--config <file>', 'pipeline configuration (sfprocessor -config also accepted)')
    .option('--driver <driver>', 'input driver: file (trace files, the default), socket (listen on a SysFlow socket PATH until SIGTERM/SIGINT), nats (JetStream durable consumer), kafka (consumer group); default: the config\'s "drivers" section')
    .option('--log <level>', 'accepted for sfprocessor compatibility; diagnostics go to stderr')
    .option('--policies <path>', 'override the policyengine "policies" setting')
    .option('--mode <mode>', 'override the policyengine mode: alert, enrich, filter, bypass')
    .option('--format <format>', 'override the exporter format: json (SysFlow) or falco')
    .option('--dialect <dialect>', 'policy semantics: sysflow (default) or falco')
    .option('--strict', 'unknown fields/macros and bad values in policies are errors (default: warnings, as sf-processor)')
    .option('--lenient', 'the default (sf-processor loading); accepted for compatibility')
    .option('-v, --verbose', 'also print a summary of the loaded policies')
    .option('--stats', 'print record counts to stderr at the end')
    .argument('[paths...]', 'SysFlow trace files or directories (driver file), the socket path (driver socket), or the stream URL (driver nats|kafka)')
    .option('--sink <url>', 'send every exporter\'s output to this sink URL instead (repeatable)', (v: string, prev: string[] | undefined) => [...(prev ?? []), v])
    .option('--plugdir <dir>', 'directory of custom stage plugins (<name>.js), placed in pipeline.json by name')
    .action(async (traces: string[], opts: ProcessCliOptions) => {
      const fleet = opts.driver?.toLowerCase();
      if (fleet === 'nats' || fleet === 'kafka') {
        if (traces.length !== 1) {
          process.stderr.write(`falconet process: --driver ${fleet} takes one stream URL (${fleet}://host:port[,host:port]/…), got ${traces.length} arguments\n`);
          process.exitCode = 2;
          return;
        }
        // imported here: the NATS and Kafka clients cost ~70 ms of CPU to load, at every start
        const { runFleetProcess } = await import('../fleet/process-fleet.js');
        process.exitCode = await runFleetProcess({
          driver: fleet, url: traces[0]!, config: opts.config, sinks: opts.sink, policies: opts.policies, mode: opts.mode, format: opts.format,
          dialect: opts.dialect, strict: opts.strict, lenient: opts.lenient, verbose: opts.verbose, stats: opts.stats, plugdir: opts.plugdir,
        });
        return;
      }
      if (opts.sink?.length) {
        process.stderr.write('falconet process: --sink is for --driver nats|kafka (trace files: give the exporter a "sink" in pipeline.json)\n');
        process.exitCode = 2;
        return;
      }
      process.exitCode = await runProcess({
        config: opts.config, traces, driver: opts.driver, policies: opts.policies, mode: opts.mode, format: opts.format,
        dialect: opts.dialect, strict: opts.strict, lenient: opts.lenient, verbose: opts.verbose, stats: opts.stats, plugdir: opts.plugdir,
      });
    });
}
