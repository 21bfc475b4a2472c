// The agent's one-directional path: record source → enrichment → format → output stream.
import type { Writable } from 'node:stream';
import type { KernelRecord, SensorHello, SensorStats } from '../model/records.js';
import type { RecordSource } from '../sensor/source.js';
import { hostInfo } from '../enrich/host.js';
import { IdNames } from '../enrich/ids.js';
import { Mounts } from '../enrich/mounts.js';
import type { FormatContext } from '../format/context.js';
import { toMinJson, toPrettyJson } from '../format/json.js';
import { isOutputRecord, kflowdRecord } from '../format/kflowd.js';
import { TABLE_HEADER, fileTableRow } from '../format/table.js';
import { SysFlowOutput, type SysFlowOutputOptions } from './sysflow-output.js';
import { PayloadJoin } from '../protocols/join.js';

export type OutputFormat = 'json' | 'json-min' | 'table';

export interface PipelineOptions {
  output: OutputFormat;
  quiet?: boolean;
  token?: string;
  /** print each sensor stats frame as a JSON line on stderr */
  stats?: boolean;
  /** use the hostname/kernel recorded in the stream (replay) instead of this machine's */
  hostFromStream?: boolean;
  /** called for each formatted record object (tests, other sinks) */
  onRecord?: (rec: KernelRecord) => void;
  /** also write SysFlow traces (-w, -G, --exporter-id) */
  sysflow?: SysFlowOutputOptions;
  /** --duration: stop the source this many seconds after monitoring started (its hello) */
  durationSec?: number;
  /** false: payload records are not joined to socket records (no App keys, no names) */
  protocols?: boolean;
}

export interface RunSummary {
  records: number;
  hello?: SensorHello;
  lastStats?: SensorStats;
  logs: string[];
  cleanEnd: boolean;
  /** SysFlow trace files written */
  sysflowFiles: string[];
}

const RS = '\n\x1e\n'; // kflowd's record separator after pretty JSON

export async function runPipeline(source: RecordSource, opts: PipelineOptions, out: Writable): Promise<RunSummary> {
  const summary: RunSummary = { records: 0, logs: [], cleanEnd: false, sysflowFiles: [] };
  let sysflow: SysFlowOutput | undefined;
  let sysflowErrors = 0;
  let durationTimer: NodeJS.Timeout | undefined;
  let ctx: FormatContext | undefined;
  let headerDone = false;
  const join = opts.protocols === false ? undefined : new PayloadJoin(); // -p: App keys, SockRemoteNames

  const write = async (text: string) => {
    if (opts.quiet || !text) return;
    if (!out.write(text)) await new Promise<void>((resolve) => out.once('drain', () => resolve()));
  };

  for await (const ev of source) {
    switch (ev.kind) {
      case 'hello': {
        summary.hello = ev.hello;
        const h = ev.hello;
        ctx = {
          host: await hostInfo(opts.token, opts.hostFromStream ? h.hostname : undefined, opts.hostFromStream ? h.kernelRelease : undefined),
          bootToRealNs: h.bootToRealNs,
          startBootNs: h.startBootNs,
          ids: new IdNames(),
          mounts: new Mounts(),
        };
        // a restarted sensor sends a new hello: keep writing the same traces
        if (opts.sysflow && !sysflow) sysflow = new SysFlowOutput(opts.sysflow, h.bootToRealNs, ctx.ids);
        for (const s of h.programStatus) process.stderr.write(`falconet: ${s}\n`);
        if (opts.durationSec && !durationTimer) durationTimer = setTimeout(() => source.stop(), opts.durationSec * 1000);
        process.stderr.write(opts.hostFromStream
          ? `falconet: replaying a stream recorded on ${h.hostname} (${h.kernelRelease}; ${h.programsAttached} programs attached, ${h.programsSkipped} skipped)\n`
          : `falconet: sensor ready (${h.programsAttached} programs attached, ${h.programsSkipped} skipped)\n`);
        break;
      }
      case 'records': {
        if (!ctx) throw new Error('stream has records before its hello frame');
        const lines: string[] = [];
        for (const r of join ? join.process(ev.records) : ev.records) {
          if (!isOutputRecord(r)) continue;
          summary.records++; // also the record's InfoSequenceNumber
          opts.onRecord?.(r);
          if (sysflow) {
            try {
              sysflow.record(r);
            } catch (e) {
              // a record SysFlow cannot hold must not stop the other outputs
              if (sysflowErrors++ === 0) process.stderr.write(`falconet: SysFlow mapping failed: ${(e as Error).message}\n`);
            }
          }
          if (opts.quiet) continue;
          if (opts.output === 'table' && r.type === 'file') {
            if (!headerDone) { lines.push(TABLE_HEADER + '\n'); headerDone = true; }
            lines.push(fileTableRow(r, ctx) + '\n');
            continue;
          }
          const o = kflowdRecord(r, summary.records, ctx);
          if (!o) continue;
          // like kflowd, the table view prints non-file records as one-line JSON
          lines.push(opts.output === 'json' ? toPrettyJson(o) + RS : toMinJson(o) + '\n');
        }
        await write(lines.join(''));
        break;
      }
      case 'stats':
        sysflow?.tick();
        summary.lastStats = ev.stats;
        if (opts.stats) process.stderr.write(`falconet-stats ${JSON.stringify({ ...ev.stats, bootNs: ev.stats.bootNs.toString() })}\n`);
        if (opts.stats && join?.kernel) process.stderr.write(`falconet-payload-stats ${JSON.stringify({ ...join.kernel, ...join.stats })}\n`);
        break;
      case 'log':
        summary.logs.push(ev.text);
        process.stderr.write(`falconet: ${ev.text}\n`);
        break;
      case 'end':
        summary.cleanEnd = true;
        break;
    }
  }
  if (durationTimer) clearTimeout(durationTimer);
  if (sysflow) summary.sysflowFiles = await sysflow.close();
  if (sysflowErrors) process.stderr.write(`falconet: ${sysflowErrors} records could not be mapped to SysFlow\n`);
  return summary;
}
