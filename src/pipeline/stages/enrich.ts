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

  // Records come in runs from one process: the last names and device are reused as one object.
  private lastUsers: UserFacts | undefined;
  private lastIds = [NaN, NaN, NaN, NaN];
  private lastDev = NaN;
  private lastDevice: { device: string } | undefined;

  private users(uid: number, gid: number, iuid: number, igid: number): UserFacts {
    const k = this.lastIds;
    // names can change when /etc/passwd does: a fresh look-up every 256 records
    if (this.lastUsers && k[0] === uid && k[1] === gid && k[2] === iuid && k[3] === igid && (this.hits++ & 255) !== 0) return this.lastUsers;
    k[0] = uid; k[1] = gid; k[2] = iuid; k[3] = igid;
    this.lastUsers = iuid < 0
      ? { user: this.ids.user(uid), group: this.ids.group(gid) }
      : { user: this.ids.user(uid), group: this.ids.group(gid), fileUser: this.ids.user(iuid), fileGroup: this.ids.group(igid) };
    return this.lastUsers;
  }
  private hits = 0;

  /** Mount facts of a record whose path is absolute already: only the device string. */
  private device(dev: number): Pick<MountFacts, 'device'> {
    if (this.lastDevice && dev === this.lastDev) return this.lastDevice;
    this.lastDev = dev;
    this.lastDevice = { device: this.mounts.device(dev) };
    return this.lastDevice;
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
      const h = r.hdr;
      let users: UserFacts;
      let mounts: MountFacts | undefined;
      let ifs: InterfaceFacts | undefined;
      if (r.type === 'file') {
        users = this.users(h.uid, h.gid, r.iuid, r.igid);
        if (r.hdr.flags & FF.PATH_FSREL) {
          const abs = this.mounts.absolute(r.dev, r.dir);
          mounts = { dir: abs.endsWith('/') ? abs : abs + '/', device: this.mounts.device(r.dev) };
        } else mounts = this.device(r.dev);
      } else {
        users = this.users(h.uid, h.gid, -1, -1);
        if (r.type === 'sock') ifs = { tx: this.ifaces.describe(r.tx.ifindex), rx: this.ifaces.describe(r.rx.ifindex) };
      }
      const e = env.enrich;
      // one object shape for every record (a stage before may have attached other keys)
      if (e === undefined) env.enrich = { host, users, mounts, interfaces: ifs };
      else { e['host'] = host; e['users'] = users; e['mounts'] = mounts; e['interfaces'] = ifs; }
    }
    return batch;
  }
}

export async function hostFacts(h: SensorHello, opts: EnrichOptions): Promise<HostFacts> {
  const info = await hostInfo(opts.token, opts.hostFromStream ? h.hostname : undefined, opts.hostFromStream ? h.kernelRelease : undefined);
  return { ...info, bootToRealNs: h.bootToRealNs, startBootNs: h.startBootNs };
}
