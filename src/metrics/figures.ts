// The runtime's figures as one plain object: the --stats line prints it, and the Prometheus
// collectors (prometheus.ts) expose the same numbers under metric names.
import type { RuntimeCounters } from './counters.js';

export interface SinkFigure {
  in: number;
  out: number;
  queue_depth: number;
  spool_bytes: number;
  dropped: Record<string, number>;
  /** what a delivery reports beyond the common figures (absent: it does not report it) */
  queue_bytes?: number;
  duplicates_resent?: number;
  spool_truncated_bytes?: number;
  up?: boolean;
  /** the sink's own counters (S3 windows repaired, objects uploaded, …) */
  counters?: Record<string, number>;
}

export interface Figures {
  source_records: number;
  stages: Record<string, { in: number; out: number; errors: number }>;
  outputs: Record<string, { encoded: number; skipped: number; encode_errors: number }>;
  sinks: Record<string, SinkFigure>;
  drops: Record<string, number>;
  kernel: Record<string, number>;
  sensor_restarts: number;
}

export function figuresObject(c: RuntimeCounters): Figures {
  const f: Figures = { source_records: c.sourceRecords, stages: {}, outputs: {}, sinks: {}, drops: {}, kernel: {}, sensor_restarts: c.sensorRestarts };
  for (const [k, v] of c.stages) f.stages[k] = { in: v.in, out: v.out, errors: v.errors };
  for (const [k, v] of c.outputs) f.outputs[k] = { encoded: v.encoded, skipped: v.skipped, encode_errors: v.encodeErrors };
  for (const [k, get] of c.sinks) {
    const s = get();
    const dropped: Record<string, number> = {};
    for (const [r, n] of Object.entries(s.dropped)) if (n) dropped[r] = n;
    const fig: SinkFigure = { in: s.accepted, out: s.delivered, queue_depth: s.queueDepth, spool_bytes: s.spoolBytes, dropped };
    if (s.queueBytes !== undefined) fig.queue_bytes = s.queueBytes;
    if (s.duplicatesResent !== undefined) fig.duplicates_resent = s.duplicatesResent;
    if (s.spoolTruncatedBytes !== undefined) fig.spool_truncated_bytes = s.spoolTruncatedBytes;
    if (s.sinkUp !== undefined) fig.up = s.sinkUp;
    if (s.sinkCounters) fig.counters = { ...s.sinkCounters };
    f.sinks[k] = fig;
  }
  for (const [k, v] of c.drops) f.drops[k] = v;
  for (const [k, v] of c.kernelCounters) f.kernel[k] = v;
  return f;
}
