// ifindex → "<ifindex>:<name>:<mac>" (kflowd's SockTxInterface/SockRxInterface), read from
// /sys/class/net. Cached; an unknown index triggers one re-scan (interfaces come and go).
import { readdirSync, readFileSync } from 'node:fs';

export interface NetInterface { index: number; name: string; mac: string }

const SYS = '/sys/class/net';

export class Interfaces {
  private byIndex = new Map<number, NetInterface>();
  private lastScan = 0;
  /** indexes a scan did not find, since that scan */
  private readonly missed = new Set<number>();

  constructor(private readonly root = SYS, private readonly minRescanMs = 1000) {}

  private scan(): void {
    this.lastScan = Date.now();
    let names: string[];
    try { names = readdirSync(this.root); } catch { return; }
    const next = new Map<number, NetInterface>();
    for (const name of names) {
      try {
        const index = Number(readFileSync(`${this.root}/${name}/ifindex`, 'utf8').trim());
        let mac = '';
        try { mac = readFileSync(`${this.root}/${name}/address`, 'utf8').trim(); } catch { /* no L2 address */ }
        if (Number.isInteger(index) && index > 0) next.set(index, { index, name, mac });
      } catch { /* vanished while scanning */ }
    }
    this.byIndex = next;
    this.missed.clear();
  }

  get(index: number): NetInterface | undefined {
    let i = this.byIndex.get(index);
    // an index not missed since the last scan (a veth created after it) re-scans at once;
    // indexes that stay unknown re-scan at most every minRescanMs
    if (!i && (!this.missed.has(index) || Date.now() - this.lastScan >= this.minRescanMs)) {
      this.scan();
      i = this.byIndex.get(index);
      if (!i) this.missed.add(index);
    }
    return i;
  }

  /** kflowd's interface string; "" for index 0 (no packet) */
  describe(index: number): string {
    if (!index) return '';
    const i = this.get(index);
    return i ? `${i.index}:${i.name}:${i.mac}` : `${index}::`;
  }
}

let shared: Interfaces | undefined;
/** The process-wide cache used by the formatters. */
export function interfaces(): Interfaces {
  shared ??= new Interfaces();
  return shared;
}
