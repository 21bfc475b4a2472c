// What a Delivery is configured with and what it reports (delivery.ts re-exports these).
import type { DropReason, OverloadPolicy, Sink } from '../pipeline/types.js';

export interface SpoolOptions {
  dir: string;
  maxBytes: number;
  segmentBytes?: number;
  fsyncMs?: number;
}

export interface DeliveryOptions {
  /** sink name for metrics and logs, e.g. "syslog-1"; also the spool cursor's name */
  name: string;
  sink: Sink;
  /** default 'drop_newest': a dead sink never blocks the others or the kernel side */
  policy: OverloadPolicy;
  /** in-memory queue bound: bytes of encoded records (data + id + 22 bytes of framing each; see backlog.ts) */
  maxBytes: number;
  /** at-least-once when present */
  spool?: SpoolOptions;
  /** items per send (default 512) */
  batchMax?: number;
  retry?: { minMs: number; maxMs: number };
  /**
   * Additive to the contract: how long a sent batch must stay without a transport error before
   * it counts as delivered. Transports without acknowledgements (syslog over TCP/TLS, unix)
   * use it so that a peer that dies with records in its buffers gets them again. 0 = at once.
   */
  confirmMs?: number;
  /** where diagnostics go (default stderr) */
  log?: (line: string) => void;
}

export interface DeliveryStats {
  accepted: number;
  delivered: number;
  duplicatesResent: number;
  dropped: Partial<Record<DropReason, number>>;
  queueDepth: number;
  queueBytes: number;
  spoolBytes: number;
  spoolTruncatedBytes: number;
  sinkUp: boolean;
  /** the sink's own counters, when it keeps any (Sink.counters) */
  sinkCounters?: Readonly<Record<string, number>>;
}

/** What push did with a batch (additive: the contract's callers may ignore it). */
export interface PushResult {
  accepted: number;
  refused: number;
  /** the refused records by reason */
  dropped?: Partial<Record<DropReason, number>>;
}

/** Adds n refusals for `reason` to a tally (the delivery's totals or one push's result). */
export function countDrop(dropped: Partial<Record<DropReason, number>>, reason: DropReason, n = 1): void {
  if (n > 0) dropped[reason] = (dropped[reason] ?? 0) + n;
}
