// The kflowd enrichment stage: attaches host facts (enricher "host"), user and group names
// ("users"), absolute directories and devices ("mounts") and interface names ("interfaces") to
// each kernel record. Lookups are synchronous and cached by their enrichers.
import type { KernelRecord, SensorHello } from '../../model/records.js';
import { hostInfo } from '../../enrich/host.js';
import { IdNames } from '../../enrich/ids.js';
import { Mounts } from '../../enrich/mounts.js';
import { interfaces, type Interfaces } from '../../enrich/interfaces.js';
import { FF } from '../../sensor/layout.js';
import type { HostFacts, InterfaceFacts, MountFacts, UserFacts } from '../../format/context.js';
import type { Control, Envelope, Stage } from '../types.js';
import type { ControlAware } from '../runtime.js';

export interface EnrichOptions {
  /** -T: InfoHostToken */
  token?: string;
  /** replay: use the host name and kernel the stream was recorded on */
  hostFromStream?: boolean;
  /** roots for tests */
  etc?: string;
  mountinfo?: string;
  ifaces?: Interfaces;
}

export class EnrichStage implements Stage, ControlAware {
  readonly name = 'enrich';
  private host: HostFacts | undefined;
  private readonly ids: IdNames;
  private readonly mounts: Mounts;
  private readonly ifaces: Interfaces;

  constructor(private readonly opts: EnrichOptions = {}) {
    this.ids = new IdNames(opts.etc);
    this.mounts = new Mounts(opts.mountinfo);
    this.ifaces = opts.ifaces ?? interfaces();
  }

  get names(): IdNames {
    return this.ids;
  }

  async onControl(c: Control): Promise<void> {
    if (c.kind === 'hello') this.host = await hostFacts(c.hello, this.opts);
  }

  process(batch: Envelope[]): Envelope[] {
    const host = this.host;
    if (!host) return batch;
    for (let i = 0; i < batch.length; i++) {
      const env = batch[i]!;
      if (env.kind !== 'file' && env.kind !== 'socket' && env.kind !== 'process') continue;
      const r = env.rec as KernelRecord;
      const e = env.enrich ?? (env.enrich = {});
      e['host'] = host;
      const h = r.hdr;
      let users: UserFacts;
      if (r.type === 'file') {
        users = { user: this.ids.user(h.uid), group: this.ids.group(h.gid), fileUser: this.ids.user(r.iuid), fileGroup: this.ids.group(r.igid) };
        let dir = r.dir;
        if (r.hdr.flags & FF.PATH_FSREL) {
          const abs = this.mounts.absolute(r.dev, r.dir);
          dir = abs.endsWith('/') ? abs : abs + '/';
        }
        e['mounts'] = { dir, device: this.mounts.device(r.dev) } satisfies MountFacts;
      } else {
        users = { user: this.ids.user(h.uid), group: this.ids.group(h.gid) };
        if (r.type === 'sock') {
          e['interfaces'] = { tx: this.ifaces.describe(r.tx.ifindex), rx: this.ifaces.describe(r.rx.ifindex) } satisfies InterfaceFacts;
        }
      }
      e['users'] = users;
    }
    return batch;
  }
}

export async function hostFacts(h: SensorHello, opts: EnrichOptions): Promise<HostFacts> {
  const info = await hostInfo(opts.token, opts.hostFromStream ? h.hostname : undefined, opts.hostFromStream ? h.kernelRelease : undefined);
  return { ...info, bootToRealNs: h.bootToRealNs, startBootNs: h.startBootNs };
}
