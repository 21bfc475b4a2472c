// The default command (the agent, with kflowd's flags) and the record/replay commands.
import { createWriteStream } from 'node:fs';
import os from 'node:os';
import { Option, type Command } from 'commander';
import { runPipeline, agentConfig, type OutputFormat, type PipelineOptions } from '../pipeline/agent.js';
import { defaultPipeline } from '../pipeline/defaults.js';
import { RuntimeCounters } from '../metrics/counters.js';
import type { MetricsServer } from '../metrics/prometheus.js';
import { daemonize, daemonReady } from './daemon.js';
import { agentVersion } from '../enrich/host.js';
import { legendText } from '../format/legend.js';
import {
  checkSensorPrerequisites, replaySource, sensorSource, SensorUnavailable, type RecordSource,
} from '../sensor/source.js';
import {
  DEFAULT_MONITORS, NO_SK_ITER_FLAG, NO_SK_ITER_HELP, parseDuration, parseEvents, parseMonitors, parseOutput, parsePositiveInt, parseRelayBuffer, parseTimeouts, parseToken,
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

function parseStateDir(value: string): string {
  if (value !== 'none' && !value.startsWith('/')) throw new InvalidArgumentError(`--state-dir: expected an absolute directory or "none", got '${value}'`);
  return value;
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
  sfSocketBuffer?: number;
  sink?: string[];
  udp?: string[];
  rules?: string;
  strict?: boolean;
  alertFormat?: string;
  filter?: string;
  plugdir?: string;
  config?: string;
  metrics?: string;
  daemon?: boolean;
  printPipeline?: boolean;
  skIter?: boolean;
  protocol?: ProtocolArgs;
  versions?: boolean;
  checksums?: boolean;
  containers?: boolean;
  processTable?: boolean;
  containerSocket?: string[];
  criSocket?: string[];
  stateDir?: string;
}

function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

/** kflowd's -u IP:PORT[,IP:PORT…] as udp:// sinks: up to 8 servers, as kflowd means (UDP_SERVER_MAX
 * 8); its check (`>= 8`) refuses the eighth, a bug not copied. */
function udpSinks(list: string[] | undefined): string[] {
  const out: string[] = [];
  for (const v of list ?? []) {
    for (const s of v.split(',')) {
      const m = /^(?:\[([0-9a-fA-F:.]+)\]|([0-9.]+|[0-9a-fA-F:]+)):([0-9]{1,5})$/.exec(s.trim());
      if (!m || Number(m[3]) < 1 || Number(m[3]) > 65535) throw new InvalidArgumentError(`-u: expected IP:PORT[,IP:PORT...] (IPv6 as [ADDR]:PORT), got '${s}'`);
      const host = m[1] ?? m[2]!;
      out.push(`udp://${host.includes(':') ? `[${host}]` : host}:${m[3]}`);
    }
  }
  if (out.length > 8) throw new InvalidArgumentError(`-u: at most 8 servers, got ${out.length}`);
  return out;
}

/** The runtime options the agent flags stand for. */
function pipelineOptions(flags: AgentFlags, extra: Partial<PipelineOptions> = {}): PipelineOptions {
  const sinks = [...(flags.sink ?? []), ...udpSinks(flags.udp)];
  if ((flags.quiet || flags.daemon) && sinks.length === 0 && !flags.write && !flags.sfSocket && !flags.config) {
    throw new InvalidArgumentError(`${flags.daemon ? '-d' : '-q'} needs a destination for the records (--sink URL or -u IP:PORT; -w or --sf-socket), as kflowd's needs -u`);
  }
  return {
    output: flags.output, quiet: flags.quiet || flags.daemon, token: flags.token, stats: flags.stats,
    sysflow: sysflowOptions(flags), durationSec: flags.duration, sinks, filter: flags.filter, rules: flags.rules,
    strict: flags.strict, alertFormat: flags.alertFormat, plugdir: flags.plugdir, pipelineFile: flags.config,
    syslogSockets: resolveProtocols(flags.protocol).syslogSockets,
    enrichment: { versions: flags.versions, checksums: flags.checksums, containers: flags.containers, processTable: flags.processTable, containerSockets: flags.containerSocket, criSockets: flags.criSocket, ...(flags.stateDir !== undefined ? { stateDir: flags.stateDir } : {}) },
    ...extra,
  };
}

/** SysFlow output (-w, -G, --exporter-id, --sf-socket), when asked for. */
function sysflowOptions(flags: AgentFlags) {
  return flags.write || flags.sfSocket
    ? { output: flags.write, rotateSeconds: flags.rotate, exporterId: flags.exporterId, socketPath: flags.sfSocket, socketBufferBytes: flags.sfSocketBuffer }
    : undefined;
}

/** The sensor options every command that starts the sensor derives from its flags. */
function sensorOptions(flags: AgentFlags) {
  return {
    monitors: flags.monitor, fileEventsMax: flags.events, verbose: flags.verbose,
    fileRecords: flags.fileRecords, ringbufMb: flags.ringbufMb,
    sockIdle: flags.timeouts?.idle, sockActive: flags.timeouts?.active,
    procEvents: flags.procEvents, procRate: flags.procRate, noSkIter: flags.skIter === false,
    payload: payloadSpec(resolveProtocols(flags.protocol)), // -p (src/protocols)
  };
}

function addSensorFlags(cmd: Command): Command {
  return cmd
    .addOption(new Option('-m, --monitor <list>', 'monitors to run, comma-separated: file, socket, process').argParser(parseMonitors).default(DEFAULT_MONITORS, 'all'))
    .option('-e, --events <N>', 'emit a file record after N events (1 = no aggregation)', parseEvents)
    .option('-V, --verbose', 'print the sensor\'s libbpf and verifier messages on stderr')
    .option('--file-records <N>', 'capacity of the kernel file record map (default 65536)', parsePositiveInt)
    .option('--ringbuf-mb <N>', 'ring buffer size in MiB, a power of two (default 4)', parsePositiveInt)
    .option('-t, --timeouts <IDLE[,ACTIVE]>', 'socket idle and active timeouts in seconds (default 15,1800)', parseTimeouts)
    .option('--proc-events <list>', 'process monitor events to report: names or groups (process, cred, file, net, all), "-NAME" removes (default all)', parseProcEventsOption)
    .option('--proc-rate <N>', 'process monitor: events per second per process before THROTTLED (0: no limit; default 2000)', parseNonNegativeInt)
    .option('-p, --protocol <app=list>', 'decode payloads: dns=PROTO/PORT,..., http=tcp/PORT,..., syslog=PROTO/PORT|unix|unix:PATH,...; APP=off (repeatable; defaults dns=udp/53,tcp/53 http=tcp/80 syslog=udp/514,tcp/514,unix)',
      protocolOptionParser((m) => new InvalidArgumentError(m)))
    .option('--duration <seconds>', 'run this long, flush every open record, exit 0', parseDuration)
    .option(NO_SK_ITER_FLAG, NO_SK_ITER_HELP);
}

function addOutputFlags(cmd: Command): Command {
  return cmd
    .option('-o, --output <format>', 'json (pretty, kflowd record separator), json-min (one record per line) or table', parseOutput, 'json' as OutputFormat)
    .option('-q, --quiet', 'no record output on stdout (kflowd: needs a destination, --sink or -u)')
    .option('-d, --daemon', 'run in the background (kflowd\'s -d; needs --sink or -u); see packaging/falconet.service')
    .option('-T, --token <token>', 'host token added as InfoHostToken (at most 63 characters)', parseToken)
    .option('--stats', 'print the sensor\'s counters (drops, records, sweeps) as JSON lines on stderr')
    .option('-v, --versions', 'ProcVersion/FileVersion: package versions (dpkg, rpm) of executables, by full path (needs the process monitor)')
    .option('--state-dir <dir>', 'with -v, -c: keep the built package index and the digests here between runs (default /var/lib/falconet for root, $XDG_STATE_HOME/falconet otherwise; "none": keep nothing)', parseStateDir)
    .option('-c, --checksums', 'FileMD5/FileSHA256 of executable files (computed in worker threads)')
    .option('--containers', 'ContainerId/ContainerName/ContainerImage (cgroup path; docker/podman API socket, CRI gRPC socket)')
    .option('--container-socket <path>', 'with --containers: a docker-compatible API socket to ask (repeatable; default /var/run/docker.sock, /run/podman/podman.sock)', collect)
    .option('--cri-socket <path>', 'with --containers: a CRI gRPC socket (containerd, CRI-O) to ask (repeatable; default /run/containerd/containerd.sock, /run/crio/crio.sock; "none": no CRI)', collect)
    .option('--process-table', 'keep a process table from the process monitor (exe, args, cwd, ancestry) for SysFlow and policies instead of reading /proc')
    .option('-w, --write <path>', 'also write SysFlow (Avro) traces: DIR/ for <epoch>-named files in DIR, or a file path')
    .option('-G, --rotate <seconds>', 'with -w: start a new trace file every N seconds', parsePositiveInt)
    .option('--exporter-id <id>', 'with -w: SysFlow header exporter id (default: host name)')
    .option('--sf-socket <path>', 'also stream SysFlow to sf-processor\'s socket driver (AF_UNIX SOCK_SEQPACKET, one record per message)')
    .option('--sf-socket-buffer <size>', 'with --sf-socket: bytes that may wait for a slow processor before messages are dropped and counted (default 16MiB, at least 64KiB)', parseRelayBuffer)
    .option('--sink <url>', 'send records to URL (repeatable): file:///path, udp://host:port, syslog+udp|tcp|tls://host:port, unix:///path; ?format=…&spool=DIR&queue=N (see docs/pipeline.md); without --sink records go to stdout', collect)
    .option('-u, --udp <ip:port,...>', 'kflowd\'s UDP output: one datagram per record to each server (up to 8), same as --sink udp://ip:port', collect)
    .option('--rules <path>', 'evaluate SysFlow/Falco policies (a file or directory) on the records; alerts go to the same destinations')
    .option('--strict', 'with --rules: policies using unknown fields or macros are errors (default: warnings)')
    .option('--alert-format <format>', 'with --rules: falco (default) or sysflow-json', 'falco')
    .option('--filter <expr>', 'keep only records matching a condition in the policy language (sf-collector -f), e.g. "sf.proc.name != sshd"')
    .option('--plugdir <dir>', 'directory of custom stage plugins (<name>.js) for --config')
    .option('--config <pipeline.json>', 'run this pipeline.json (sf-processor format) instead of the tree the flags compile to')
    .option('--print-pipeline', 'print the pipeline.json the flags compile to and exit')
    .option('--metrics <addr>', 'serve Prometheus metrics on [HOST:]PORT (/metrics)');
}

/** Stops the source on SIGINT/SIGTERM, so open records are flushed. (--duration is timed by
 * the pipeline from the moment monitoring starts.) */
/** The Prometheus endpoint; prom-client is loaded only when --metrics asks for it (start-up time). */
async function startMetrics(addr: string, counters: RuntimeCounters): Promise<MetricsServer> {
  return (await import('../metrics/prometheus.js')).startMetricsServer(addr, counters);
}

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
    let metrics: MetricsServer | undefined;
    try {
      const opts = pipelineOptions(flags);
      if (flags.printPipeline) {
        process.stdout.write(JSON.stringify(defaultPipeline(opts), null, 2) + '\n');
        return;
      }
      agentConfig(opts); // a bad configuration fails before the sensor starts
      checkSensorPrerequisites();
      if (flags.daemon && (await daemonize())) return; // the parent returns once the child is ready
      const counters = new RuntimeCounters();
      if (flags.metrics) metrics = await startMetrics(flags.metrics, counters);
      const source = sensorSource(sensorOptions(flags));
      const done = stopOnSignals(source);
      await runPipeline(source, { ...opts, counters, onReady: flags.daemon ? daemonReady : undefined }, process.stdout);
      done();
    } catch (err) {
      fail(err);
    } finally {
      await metrics?.close();
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
    let metrics: MetricsServer | undefined;
    try {
      const opts = pipelineOptions(flags, { hostFromStream: true });
      const counters = new RuntimeCounters();
      if (flags.metrics) metrics = await startMetrics(flags.metrics, counters);
      await runPipeline(replaySource(file), { ...opts, counters }, process.stdout);
    } catch (err) {
      fail(err);
    } finally {
      await metrics?.close();
    }
  });
}
