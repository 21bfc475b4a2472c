// The default command (the agent, with kflowd's flags) and the record/replay commands.
import { createWriteStream } from 'node:fs';
import os from 'node:os';
import { Option, type Command } from 'commander';
import { runPipeline, type OutputFormat } from '../agent/pipeline.js';
import { agentVersion } from '../enrich/host.js';
import { legendText } from '../format/legend.js';
import {
  checkSensorPrerequisites, replaySource, sensorSource, SensorUnavailable, type RecordSource,
} from '../sensor/source.js';
import {
  DEFAULT_MONITORS, parseDuration, parseEvents, parseMonitors, parseOutput, parsePositiveInt, parseTimeouts, parseToken,
} from './agent-options.js';
import { parseProcEvents } from '../model/process-record.js';
import { InvalidArgumentError } from 'commander';
import { protocolOptionParser, resolveProtocols, type ProtocolArgs } from '../protocols/options.js';
import { payloadSpec } from '../protocols/sensor-spec.js';

function parseProcEventsOption(value: string): bigint {
  try {
    return parseProcEvents(value);
  } catch (err) {
    throw new InvalidArgumentError(err instanceof Error ? err.message : String(err));
  }
}

function parseNonNegativeInt(value: string): number {
  if (!/^[0-9]+$/.test(value) || Number(value) > 2 ** 30) throw new InvalidArgumentError(`expected an integer 0..${2 ** 30}, got '${value}'`);
  return Number(value);
}

interface AgentFlags {
  monitor: number;
  events?: number;
  output: OutputFormat;
  quiet?: boolean;
  verbose?: boolean;
  token?: string;
  legend?: boolean;
  version?: boolean;
  duration?: number;
  stats?: boolean;
  fileRecords?: number;
  ringbufMb?: number;
  timeouts?: { idle: number; active?: number };
  procEvents?: bigint;
  procRate?: number;
  write?: string;
  rotate?: number;
  exporterId?: string;
  sfSocket?: string;
  protocol?: ProtocolArgs;
}

/** SysFlow output (-w, -G, --exporter-id, --sf-socket), when asked for. */
function sysflowOptions(flags: AgentFlags) {
  return flags.write || flags.sfSocket
    ? { output: flags.write, rotateSeconds: flags.rotate, exporterId: flags.exporterId, socketPath: flags.sfSocket }
    : undefined;
}

/** The sensor options every command that starts the sensor derives from its flags. */
function sensorOptions(flags: AgentFlags) {
  return {
    monitors: flags.monitor, fileEventsMax: flags.events, verbose: flags.verbose,
    fileRecords: flags.fileRecords, ringbufMb: flags.ringbufMb,
    sockIdle: flags.timeouts?.idle, sockActive: flags.timeouts?.active,
    procEvents: flags.procEvents, procRate: flags.procRate,
    payload: payloadSpec(resolveProtocols(flags.protocol)), // -p (src/protocols)
  };
}

function addSensorFlags(cmd: Command): Command {
  return cmd
    .addOption(new Option('-m, --monitor <list>', 'monitors to run, comma-separated: file, socket, process').argParser(parseMonitors).default(DEFAULT_MONITORS, 'all'))
    .option('-e, --events <N>', 'emit a file record after N events (1 = no aggregation)', parseEvents)
    .option('-V, --verbose', 'print the sensor\'s libbpf and verifier messages on stderr')
    .option('--file-records <N>', 'capacity of the kernel file record map (default 65536)', parsePositiveInt)
    .option('--ringbuf-mb <N>', 'ring buffer size in MiB, a power of two (default 16)', parsePositiveInt)
    .option('-t, --timeouts <IDLE[,ACTIVE]>', 'socket idle and active timeouts in seconds (default 15,1800)', parseTimeouts)
    .option('--proc-events <list>', 'process monitor events to report: names or groups (process, cred, file, net, all), "-NAME" removes (default all)', parseProcEventsOption)
    .option('--proc-rate <N>', 'process monitor: events per second per process before THROTTLED (0: no limit; default 2000)', parseNonNegativeInt)
    .option('-p, --protocol <app=list>', 'decode payloads: dns=PROTO/PORT,..., http=tcp/PORT,..., syslog=PROTO/PORT|unix|unix:PATH,...; APP=off (repeatable; defaults dns=udp/53,tcp/53 http=tcp/80 syslog=udp/514,tcp/514,unix)',
      protocolOptionParser((m) => new InvalidArgumentError(m)))
    .option('--duration <seconds>', 'run this long, flush every open record, exit 0', parseDuration);
}

function addOutputFlags(cmd: Command): Command {
  return cmd
    .option('-o, --output <format>', 'json (pretty, kflowd record separator), json-min (one record per line) or table', parseOutput, 'json' as OutputFormat)
    .option('-q, --quiet', 'no record output on stdout')
    .option('-T, --token <token>', 'host token added as InfoHostToken (at most 63 characters)', parseToken)
    .option('--stats', 'print the sensor\'s counters (drops, records, sweeps) as JSON lines on stderr')
    .option('-w, --write <path>', 'also write SysFlow (Avro) traces: DIR/ for <epoch>-named files in DIR, or a file path')
    .option('-G, --rotate <seconds>', 'with -w: start a new trace file every N seconds', parsePositiveInt)
    .option('--exporter-id <id>', 'with -w: SysFlow header exporter id (default: host name)')
    .option('--sf-socket <path>', 'also stream SysFlow to sf-processor\'s socket driver (AF_UNIX SOCK_SEQPACKET, one record per message)');
}

/** Stops the source on SIGINT/SIGTERM, so open records are flushed. (--duration is timed by
 * the pipeline from the moment monitoring starts.) */
function stopOnSignals(source: RecordSource): () => void {
  const stop = () => source.stop();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  return () => {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
  };
}

function fail(err: unknown): never {
  const msg = err instanceof Error ? err.message : String(err);
  process.stderr.write(`falconet: ${msg}\n`);
  process.exit(err instanceof SensorUnavailable ? 2 : 1);
}

export function registerAgentCommand(program: Command): void {
  program
    .description('Linux endpoint telemetry agent: file, socket and process records aggregated in the kernel by tracepoint eBPF programs, printed as kflowd-compatible JSON (and SysFlow with -w)')
    .helpOption('-h, --help', 'show this help')
    .option('-l, --legend', 'print the legend of output keys and exit')
    .option('--version', 'print the version and exit');
  addOutputFlags(addSensorFlags(program));
  program.action(async (flags: AgentFlags) => {
    if (flags.legend) {
      process.stdout.write(legendText());
      return;
    }
    if (flags.version) {
      process.stdout.write(`falconet ${agentVersion()} (Linux ${os.release()}, ${os.arch()}, node ${process.version})\n`);
      return;
    }
    try {
      checkSensorPrerequisites();
      const source = sensorSource(sensorOptions(flags));
      const done = stopOnSignals(source);
      await runPipeline(source, { output: flags.output, quiet: flags.quiet, token: flags.token, stats: flags.stats, sysflow: sysflowOptions(flags), durationSec: flags.duration }, process.stdout);
      done();
    } catch (err) {
      fail(err);
    }
  });

  addSensorFlags(
    program
      .command('record <file>')
      .description('save the sensor\'s raw stream to FILE (replay it later, without root, with "falconet replay")'),
  ).action(async (file: string, flags: AgentFlags) => {
    try {
      checkSensorPrerequisites();
      const tap = createWriteStream(file);
      const source = sensorSource({ ...sensorOptions(flags), tap });
      const done = stopOnSignals(source);
      const summary = await runPipeline(source, { output: 'json-min', quiet: true, durationSec: flags.duration }, process.stdout);
      done();
      await new Promise<void>((resolve, reject) => tap.end((err?: Error | null) => (err ? reject(err) : resolve())));
      process.stderr.write(`falconet: recorded ${summary.records} records to ${file}\n`);
    } catch (err) {
      fail(err);
    }
  });

  addOutputFlags(
    program
      .command('replay <file>')
      .description('run the pipeline on a stream saved by "falconet record" (no root needed)'),
  ).action(async (file: string, flags: AgentFlags) => {
    try {
      await runPipeline(replaySource(file), { output: flags.output, quiet: flags.quiet, token: flags.token, stats: flags.stats, hostFromStream: true, sysflow: sysflowOptions(flags) }, process.stdout);
    } catch (err) {
      fail(err);
    }
  });
}
