// uid/gid → name from /etc/passwd and /etc/group, reloaded when the file changes (checked at
// most once a second; kflowd only reloads on CLOSE_WRITE, which misses rename-based editors).
import { readFileSync, statSync } from 'node:fs';

class IdFile {
  private names = new Map<number, string>();
  private mtimeMs = -1;
  private checkedAt = 0;
  private calls = 0;

  constructor(private readonly file: string) {}

  name(id: number): string {
    // the clock is read once per 256 look-ups: records come in bursts of thousands per second
    if ((this.calls++ & 255) === 0) {
      const now = Date.now();
      if (now - this.checkedAt > 1000) {
        this.checkedAt = now;
        this.reloadIfChanged();
      }
    }
    return this.names.get(id) ?? '';
  }

  private reloadIfChanged(): void {
    let m: number;
    try {
      m = statSync(this.file).mtimeMs;
    } catch {
      return;
    }
    if (m === this.mtimeMs) return;
    this.mtimeMs = m;
    this.names = parseIdFile(readFileSync(this.file, 'utf8'));
  }
}

/** name:x:id:… lines; malformed lines are ignored. */
export function parseIdFile(text: string): Map<number, string> {
  const out = new Map<number, string>();
  for (const line of text.split('\n')) {
    const parts = line.split(':');
    if (parts.length < 3 || !parts[0]) continue;
    const id = Number(parts[2]);
    if (Number.isInteger(id) && id >= 0 && !out.has(id)) out.set(id, parts[0]);
  }
  return out;
}

export class IdNames {
  private readonly users: IdFile;
  private readonly groups: IdFile;
  constructor(root = '/etc') {
    this.users = new IdFile(`${root}/passwd`);
    this.groups = new IdFile(`${root}/group`);
  }
  user(uid: number): string {
    return this.users.name(uid);
  }
  group(gid: number): string {
    return this.groups.name(gid);
  }
}
