// Devices and mount points from /proc/self/mountinfo, for FileDevice and for prefixing
// filesystem-relative paths. Reloaded when a device is unknown (new mounts), at most every 2 s.
import { readFileSync } from 'node:fs';
import { kflowdDevHex } from '../format/device.js';

export interface MountEntry {
  /** kernel dev_t, major << 20 | minor */
  dev: number;
  /** path inside the filesystem that is mounted */
  root: string;
  mountPoint: string;
  fsType: string;
  source: string;
}

/** mountinfo escapes space, tab, newline and backslash as \ooo. */
function unescapeOctal(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
}

export function parseMountInfo(text: string): MountEntry[] {
  const out: MountEntry[] = [];
  for (const line of text.split('\n')) {
    if (!line) continue;
    const f = line.split(' ');
    const sep = f.indexOf('-', 6);
    if (sep < 0 || f.length < sep + 3) continue;
    const [maj, min] = f[2]!.split(':').map(Number);
    if (maj === undefined || min === undefined || !Number.isInteger(maj) || !Number.isInteger(min)) continue;
    out.push({
      dev: (maj << 20) | min,
      root: unescapeOctal(f[3]!),
      mountPoint: unescapeOctal(f[4]!),
      fsType: f[sep + 1]!,
      source: unescapeOctal(f[sep + 2]!),
    });
  }
  return out;
}

export { kflowdDevHex };

export class Mounts {
  private byDev = new Map<number, MountEntry[]>();
  private loadedAt = 0;

  constructor(private readonly file = '/proc/self/mountinfo') {
    this.reload();
  }

  private reload(): void {
    this.loadedAt = Date.now();
    let text = '';
    try {
      text = readFileSync(this.file, 'utf8');
    } catch {
      return;
    }
    const m = new Map<number, MountEntry[]>();
    for (const e of parseMountInfo(text)) {
      const list = m.get(e.dev);
      if (list) list.push(e);
      else m.set(e.dev, [e]);
    }
    this.byDev = m;
  }

  entries(dev: number): MountEntry[] {
    let list = this.byDev.get(dev);
    if (!list && Date.now() - this.loadedAt > 2000) {
      this.reload();
      list = this.byDev.get(dev);
    }
    return list ?? [];
  }

  private readonly deviceText = new Map<number, string>();

  /** "<dev-hex>h:<devname>:<mountpoint>:<fstype>" of the device's first mount. */
  device(dev: number): string {
    let t = this.deviceText.get(dev);
    if (t !== undefined) return t;
    const e = this.entries(dev)[0];
    t = e ? `${kflowdDevHex(dev)}:${e.source}:${e.mountPoint}:${e.fsType}` : `${kflowdDevHex(dev)}:::`;
    // unknown devices are looked up again after a reload; known ones keep their first mount
    if (e) this.deviceText.set(dev, t);
    return t;
  }

  /** Absolute path for a filesystem-relative one: the mount whose root contains it. */
  absolute(dev: number, fsPath: string): string {
    for (const e of this.entries(dev)) {
      const root = e.root === '/' ? '' : e.root;
      if (root === '' || fsPath === root || fsPath.startsWith(root + '/')) {
        const rest = fsPath.slice(root.length);
        return e.mountPoint === '/' ? rest || '/' : e.mountPoint + rest;
      }
    }
    return fsPath;
  }
}
