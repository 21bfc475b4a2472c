// The enrichment stages behind -v, -c, --containers and --process-table, built from an enrich
// processor's pipeline.json settings, and a chain that runs them after the kflowd enrich stage
// as one stage (one node of the tree, in order, control frames forwarded).
//   process: on        process table (implied by versions and containers)
//   versions: on       package versions (ProcVersion, FileVersion)
//   checksums: on      FileMD5/FileSHA256; checksums.wait (ms, default 50), checksums.workers (1|2)
//   state_dir          where -v keeps its built index and -c its digests between runs (default
//                      /var/lib/falconet for root, $XDG_STATE_HOME/falconet otherwise; "none")
//   containers: on     container and pod; containers.sockets (space-separated docker-compatible
//                      API sockets), containers.cri_sockets (space-separated CRI gRPC sockets;
//                      "" for none), containers.wait (ms, default 100)
import type { Control, Envelope, Stage, StageContext } from '../pipeline/types.js';
import { ChecksumStage } from './checksums.js';
import { ContainerStage, DEFAULT_SOCKETS } from './containers.js';
import { DEFAULT_CRI_SOCKETS } from './cri-api.js';
import { PackageIndex, PackageStage } from './packages.js';
import { ProcessStage } from './process-table.js';
import { defaultStateDir } from './state-dir.js';

const on = (v: string | undefined): boolean => v !== undefined && /^(on|true|yes|1)$/i.test(v);

function positiveInt(settings: Readonly<Record<string, string>>, key: string, dflt: number): number {
  const v = settings[key];
  if (v === undefined) return dflt;
  if (!/^[0-9]+$/.test(v)) throw new Error(`enrich ${key}: expected a number of milliseconds, got "${v}"`);
  return Number(v);
}

/** The stages the settings ask for, in the order they must run (empty: none). */
export function enrichmentStages(settings: Readonly<Record<string, string>>): Stage[] {
  const versions = on(settings['versions']);
  const checksums = on(settings['checksums']);
  const containers = on(settings['containers']);
  const out: Stage[] = [];
  if (versions || containers || on(settings['process'])) out.push(new ProcessStage());
  const stateDir = (): string | null => {
    const dir = settings['state_dir'] ?? defaultStateDir();
    if (dir !== 'none' && !dir.startsWith('/')) throw new Error(`enrich state_dir: expected an absolute directory or "none", got "${dir}"`);
    return dir === 'none' ? null : dir;
  };
  if (versions) out.push(new PackageStage(new PackageIndex({ cacheDir: stateDir() })));
  if (checksums) {
    const workers = settings['checksums.workers'] === '1' ? 1 : 2;
    out.push(new ChecksumStage({ waitMs: positiveInt(settings, 'checksums.wait', 50), workers, stateDir: stateDir() }));
  }
  if (containers) {
    const sockets = settings['containers.sockets']?.split(/\s+/).filter(Boolean) ?? DEFAULT_SOCKETS;
    const criSockets = settings['containers.cri_sockets']?.split(/\s+/).filter(Boolean) ?? DEFAULT_CRI_SOCKETS;
    out.push(new ContainerStage({ sockets, criSockets, waitMs: positiveInt(settings, 'containers.wait', 100) }));
  }
  return out;
}

interface ControlAwareStage extends Stage {
  onControl?(c: Control): void | Promise<void>;
}

/** Runs stages one after the other as one stage. */
export class StageChain implements ControlAwareStage {
  constructor(readonly name: string, private readonly stages: readonly ControlAwareStage[]) {}

  async start(ctx: StageContext): Promise<void> {
    for (const s of this.stages) await s.start?.(ctx);
  }

  async onControl(c: Control): Promise<void> {
    for (const s of this.stages) await s.onControl?.(c);
  }

  process(batch: Envelope[]): Envelope[] | Promise<Envelope[]> {
    let cur: Envelope[] | Promise<Envelope[]> = batch;
    for (let i = 0; i < this.stages.length; i++) {
      const s = this.stages[i]!;
      if (cur instanceof Promise) cur = cur.then((b) => s.process(b));
      else cur = s.process(cur);
    }
    return cur;
  }

  async flush(): Promise<Envelope[]> {
    // a stage's released records still pass the stages after it
    let out: Envelope[] = [];
    for (const s of this.stages) {
      out = await s.process(out);
      if (s.flush) out.push(...(await s.flush()));
    }
    return out;
  }

  async close(): Promise<void> {
    for (const s of this.stages) await s.close?.();
  }
}
