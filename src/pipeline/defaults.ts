// kflowd's command line compiled to a pipeline.json tree (sf-processor's format), so the flags and
// a configuration file run through the same runtime. `falconet --print-pipeline` shows the tree.
//
//   kernel ─ [filter] ─ enrich ─┬─ exporter (kflowd format → stdout / --sink …)
//                               ├─ [sysflowwriter]  (-w, --sf-socket)
//                               └─ [sysflowreader ─ policyengine ─ exporter (alerts → same sinks)]
export interface AgentFlagsTree {
  output: 'json' | 'json-min' | 'table';
  quiet?: boolean;
  token?: string;
  sinks?: readonly string[];
  filter?: string;
  rules?: string;
  /** --strict: policies with unknown fields or macros are errors (default: warnings) */
  strict?: boolean;
  /** falco (default) or sysflow-json */
  alertFormat?: string;
  sysflow?: { output?: string; rotateSeconds?: number; exporterId?: string; socketPath?: string; socketBufferBytes?: number };
  /** -v, -c, --containers, --process-table (src/enrich/stages.ts) */
  enrichment?: {
    versions?: boolean; checksums?: boolean; containers?: boolean; processTable?: boolean; containerSockets?: readonly string[]; criSockets?: readonly string[];
    /** --state-dir: where -v keeps its package index and -c its digests between runs ("none": not kept) */
    stateDir?: string;
  };
}

type Plugin = Record<string, string | string[]>;

const KFLOWD_FORMAT = { json: 'kflowd-json', 'json-min': 'json-min', table: 'table' } as const;

export function defaultPipeline(f: AgentFlagsTree): { pipeline: Plugin[] } {
  const p: Plugin[] = [];
  let ch = 'kernel kernelchan';
  if (f.filter) {
    p.push({ processor: 'filter', in: ch, out: 'filtered filterchan', expr: f.filter });
    ch = 'filtered filterchan';
  }
  const en = f.enrichment ?? {};
  p.push({
    processor: 'enrich', in: ch, out: 'rec recchan', ...(f.token !== undefined ? { token: f.token } : {}),
    ...(en.processTable ? { process: 'on' } : {}), ...(en.versions ? { versions: 'on' } : {}),
    ...((en.versions || en.checksums) && en.stateDir !== undefined ? { state_dir: en.stateDir } : {}),
    ...(en.checksums ? { checksums: 'on' } : {}), ...(en.containers ? { containers: 'on' } : {}),
    ...(en.containers && en.containerSockets?.length ? { 'containers.sockets': en.containerSockets.join(' ') } : {}),
    // `--cri-socket none` asks no CRI socket
    ...(en.containers && en.criSockets?.length ? { 'containers.cri_sockets': en.criSockets.filter((s) => s !== 'none').join(' ') } : {}),
  });
  const sinks = [...(f.sinks ?? [])];
  const destinations = (): Plugin => (sinks.length ? { export: 'sink', sink: sinks.join(' ') } : f.quiet ? { export: 'null' } : { export: 'terminal' });
  p.push({ processor: 'exporter', in: 'rec recchan', format: KFLOWD_FORMAT[f.output], ...destinations() });
  if (f.sysflow && (f.sysflow.output || f.sysflow.socketPath)) {
    const s = f.sysflow;
    p.push({
      processor: 'sysflowwriter', in: 'rec recchan',
      ...(s.output ? { path: s.output } : {}), ...(s.socketPath ? { socket: s.socketPath } : {}),
      ...(s.socketPath && s.socketBufferBytes ? { 'socket.buffer': String(s.socketBufferBytes) } : {}),
      ...(s.rotateSeconds ? { rotate: String(s.rotateSeconds) } : {}), ...(s.exporterId ? { 'exporter.id': s.exporterId } : {}),
    });
  }
  if (f.rules) {
    p.push({ processor: 'sysflowreader', handler: 'flattener', in: 'rec recchan', out: 'flat flattenerchan' });
    p.push({ processor: 'policyengine', in: 'flat flattenerchan', out: 'evt eventchan', policies: f.rules, mode: 'alert', ...(f.strict ? { strict: 'true' } : {}) });
    p.push({ processor: 'exporter', in: 'evt eventchan', format: f.alertFormat ?? 'falco', ...destinations() });
  }
  return { pipeline: p };
}
