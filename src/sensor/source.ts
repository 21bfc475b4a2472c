// Record sources: the live sensor process, or a recorded stream (replay). Both yield the same
// SensorEvents, so everything downstream is testable without root.
import { spawn, type ChildProcess } from 'node:child_process';
import { createReadStream, existsSync, type WriteStream } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import type { Readable } from 'node:stream';
import type { SensorEvent } from '../model/records.js';
import { decodeFrame } from './decode.js';
import { FrameError, FrameSplitter } from './frames.js';

export interface RecordSource extends AsyncIterable<SensorEvent> {
  /** Asks the source to finish: the sensor flushes open records and ends the stream. */
  stop(): void;
}

/** Yields the stream's events (and a log event when it stops without an end frame). */
async function* framesOf(stream: Readable, tap?: WriteStream): AsyncGenerator<SensorEvent> {
  // each push's frames are decoded before the next push: the join buffer can be reused
  const splitter = new FrameSplitter({ reuseJoin: true });
  let ended = false;
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    if (tap) tap.write(chunk);
    for (const f of splitter.push(chunk)) {
      const ev = decodeFrame(f);
      if (ev.kind === 'end') ended = true;
      yield ev;
    }
  }
  if (splitter.leftover) throw new FrameError(`stream ends inside a frame (${splitter.leftover} bytes left)`, splitter.offset);
  if (!ended) yield { kind: 'log', text: 'stream ended without an end frame (sensor killed or recording cut short)' };
}

/** Replays a stream recorded by `falconet record`. */
export function replaySource(file: string): RecordSource {
  // large reads: a frame of 256 records is ~160 KB, so 64 KB chunks would be joined per frame
  const stream = createReadStream(file, { highWaterMark: 1 << 20 });
  return { [Symbol.asyncIterator]: () => framesOf(stream), stop: () => stream.destroy() };
}

export interface SensorOptions {
  monitors: number;
  fileEventsMax?: number;
  fileRecords?: number;
  ringbufMb?: number;
  statsMs?: number;
  verbose?: boolean;
  /** socket idle / active timeouts in seconds (-t) */
  sockIdle?: number;
  sockActive?: number;
  /** process events per second per process before throttling */
  procRate?: number;
  /** process event types to report: bit (1 << index in PROC_EVENTS) */
  procEvents?: bigint;
  /** export TCP records by map walk instead of the socket storage iterator (--no-sk-iter) */
  noSkIter?: boolean;
  /** also write the raw stream here (record mode) */
  tap?: WriteStream;
  /** -p: the sensor's --payload argument (src/protocols/sensor-spec.ts) */
  payload?: string;
}

const here = path.dirname(fileURLToPath(import.meta.url));
/** dist/src/sensor → repo root */
export const REPO_ROOT = path.resolve(here, '../../..');
export const SENSOR_BIN = process.env.FALCONET_SENSOR ?? path.join(REPO_ROOT, 'sensor/falconet-sensor');

export class SensorUnavailable extends Error {}

/** Checks what the sensor needs and explains, in one paragraph, what is missing. */
export function checkSensorPrerequisites(): void {
  const problems: string[] = [];
  if (typeof process.geteuid === 'function' && process.geteuid() !== 0) {
    problems.push('it must run as root (or with CAP_BPF, CAP_PERFMON and CAP_SYS_RESOURCE): run it with sudo');
  }
  if (!existsSync('/sys/kernel/btf/vmlinux')) {
    problems.push('the kernel exposes no BTF (/sys/kernel/btf/vmlinux is missing): use a kernel built with CONFIG_DEBUG_INFO_BTF=y (Debian 11+ kernels are)');
  }
  if (!existsSync(SENSOR_BIN)) {
    problems.push(`the sensor binary ${SENSOR_BIN} is not built: run "npm run setup" as root (installs clang, libbpf-dev, bpftool and builds it)`);
  }
  if (!existsSync('/sys/kernel/tracing/events') && !existsSync('/sys/kernel/debug/tracing/events')) {
    problems.push('tracefs is not mounted: run "mount -t tracefs nodev /sys/kernel/tracing"');
  }
  if (problems.length) {
    throw new SensorUnavailable(`falconet cannot start its eBPF sensor: ${problems.join('; ')}. Recorded streams can still be read without root with "falconet replay FILE".`);
  }
}

/** FALCONET_NO_SK_ITER=1 (any value but empty or 0) forces the map-walk TCP export: the same
 * test as the sensor's (sensor.c parse_args). */
export function noSkIterFromEnv(env: NodeJS.ProcessEnv = process.env): boolean {
  const v = env.FALCONET_NO_SK_ITER;
  return v !== undefined && v !== '' && v !== '0';
}

/** How often a sensor that dies unexpectedly is restarted before the agent gives up. */
const MAX_RESTARTS = 3;

/** Spawns the privileged sensor and yields its decoded stream; supervises it: a sensor that
 * dies without ending its stream is restarted (its open kernel records are lost, and said so). */
export function sensorSource(opts: SensorOptions): RecordSource {
  const args = [
    '--monitors', String(opts.monitors),
    '--agent-pid', String(process.pid),
    '--file-events', String(opts.fileEventsMax ?? 0),
  ];
  if (opts.fileRecords) args.push('--file-records', String(opts.fileRecords));
  if (opts.ringbufMb) args.push('--ringbuf-mb', String(opts.ringbufMb));
  if (opts.statsMs) args.push('--stats-ms', String(opts.statsMs));
  if (opts.sockIdle) args.push('--sock-idle', String(opts.sockIdle));
  if (opts.sockActive) args.push('--sock-active', String(opts.sockActive));
  if (opts.procEvents !== undefined) args.push('--proc-events', String(opts.procEvents));
  if (opts.procRate !== undefined) args.push('--proc-rate', String(opts.procRate));
  if (opts.verbose) args.push('--verbose');
  // FALCONET_NO_SK_ITER needs no flag: the sensor inherits the environment and reads it itself
  // (so its startup line names the variable as the reason)
  if (opts.noSkIter) args.push('--no-sk-iter');
  if (opts.payload) args.push('--payload', opts.payload);
  let stopped = false;
  let current: ChildProcess | undefined;

  function start(): { child: ChildProcess; exited: Promise<number | null>; stderr: () => string } {
    const child = spawn(SENSOR_BIN, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    current = child;
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => {
      stderr = (stderr + d.toString()).slice(-8192);
      if (opts.verbose) process.stderr.write(d);
    });
    const exited = new Promise<number | null>((resolve) => child.on('close', (code, sig) => resolve(code ?? (sig ? 128 : null))));
    child.on('error', () => { /* reported through the exit code */ });
    return { child, exited, stderr: () => stderr.trim() };
  }

  async function* run(): AsyncGenerator<SensorEvent> {
    for (let attempt = 0; ; attempt++) {
      const { child, exited, stderr } = start();
      let sawHello = false;
      let cut = '';
      try {
        for await (const ev of framesOf(child.stdout!, opts.tap)) {
          if (ev.kind === 'hello') sawHello = true;
          yield ev;
          if (ev.kind === 'end') {
            // Complete stream: the sensor may still be detaching programs; don't wait for it.
            child.unref();
            child.stdin?.destroy();
            child.stderr?.destroy();
            return;
          }
        }
      } catch (e) {
        // a sensor killed mid-write leaves half a frame: that is its crash, not a corrupt stream
        if (!(e instanceof FrameError) || !/ends inside a frame/.test(e.message)) throw e;
        cut = ` (${e.message}; the partial frame was dropped)`;
      }
      const code = await exited;
      if (stopped) return;
      if (!sawHello || attempt >= MAX_RESTARTS) {
        throw new SensorUnavailable(`the sensor exited with code ${code}: ${stderr() || 'no message'}`);
      }
      yield { kind: 'log', text: `the sensor exited unexpectedly (code ${code}${stderr() ? `: ${stderr()}` : ''})${cut}; restarting it (${attempt + 1}/${MAX_RESTARTS}); records it held open are lost` };
      await new Promise((r) => setTimeout(r, 500));
    }
  }
  return {
    [Symbol.asyncIterator]: run,
    stop: () => {
      if (stopped) return;
      stopped = true;
      current?.kill('SIGTERM');
    },
  };
}
