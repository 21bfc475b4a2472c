// The runtime's figures as plain numbers, updated on the hot path without any library call.
// The Prometheus endpoint (prometheus.ts) and the --stats line (stats-line.ts) both read them,
// so they always show the same figures.
import type { SensorStats } from '../model/records.js';
import type { DropReason } from '../pipeline/types.js';

export interface StageCounters { in: number; out: number; errors: number }
export interface OutputCounters { encoded: number; skipped: number; encodeErrors: number }

/** What a delivery reports (the spool helper's DeliveryStats has these members). */
export interface SinkFigures {
  accepted: number;
  delivered: number;
  duplicatesResent?: number;
  dropped: Partial<Record<DropReason, number>>;
  queueDepth: number;
  queueBytes?: number;
  spoolBytes: number;
  spoolTruncatedBytes?: number;
  sinkUp?: boolean;
  sinkCounters?: Readonly<Record<string, number>>;
}

export class RuntimeCounters {
  readonly stages = new Map<string, StageCounters>();
  readonly outputs = new Map<string, OutputCounters>();
  readonly sinks = new Map<string, () => SinkFigures>();
  /** records the source produced */
  sourceRecords = 0;
  /** drops outside sinks, by reason (e.g. filtered) */
  readonly drops = new Map<string, number>();
  /** the sensor's own counters from its last stats frame */
  readonly kernelCounters = new Map<string, number>();
  sensorRestarts = 0;

  stage(name: string): StageCounters {
    let c = this.stages.get(name);
    if (!c) { c = { in: 0, out: 0, errors: 0 }; this.stages.set(name, c); }
    return c;
  }

  output(name: string): OutputCounters {
    let c = this.outputs.get(name);
    if (!c) { c = { encoded: 0, skipped: 0, encodeErrors: 0 }; this.outputs.set(name, c); }
    return c;
  }

  sink(name: string, figures: () => SinkFigures): void {
    this.sinks.set(name, figures);
  }

  drop(reason: DropReason | string, n = 1): void {
    this.drops.set(reason, (this.drops.get(reason) ?? 0) + n);
  }

  kernel(s: SensorStats): void {
    for (const [k, v] of Object.entries(s.counters)) this.kernelCounters.set(k, v);
    this.kernelCounters.set('records_out', s.recordsOut);
    this.kernelCounters.set('sweeps', s.sweeps);
    this.kernelCounters.set('ringbuf_bytes', s.ringbufBytes);
    this.kernelCounters.set('file_map_entries', s.fileMapEntries);
  }
}
