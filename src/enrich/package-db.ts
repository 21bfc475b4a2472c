// Reading the package databases into a path → owner table: dpkg's status and info/*.list, rpm's
// database through `rpm -qa --qf`. Runs in the package index worker
// (src/enrich/package-index-worker.ts), so it is plain synchronous code: nothing here is on the
// record path. Listed paths are canonicalised by resolving symlinked DIRECTORIES (usr-merge:
// /bin → /usr/bin), never the last component.
import { execFileSync } from 'node:child_process';
import { accessSync, closeSync, constants, openSync, readdirSync, readFileSync, readSync, statSync } from 'node:fs';
import path from 'node:path';
import { FNV_PRIME, type PackedPathIndexBuilder } from './packed-path-index.js';
import { Canonicaliser, FNV_START, type DirAnswer } from './canonical-path.js';

export interface PackageOwner {
  readonly pkg: string;
  readonly version: string;
  readonly arch: string;
  readonly source: 'dpkg' | 'rpm';
}

export interface DpkgPackage { name: string; version: string; arch: string }

/**
 * Installed packages from a dpkg status file. Only stanzas whose Status ends in "installed"
 * count (config-files, half-installed and not-installed are skipped). Malformed stanzas are
 * skipped; the first malformed line is reported through `onError` with its line number.
 */
export function parseDpkgStatus(text: string, onError?: (msg: string) => void): DpkgPackage[] {
  const out: DpkgPackage[] = [];
  // the four fields read; the others (Description, Depends, …) are not kept
  let name: string | undefined;
  let status: string | undefined;
  let version: string | undefined;
  let arch: string | undefined;
  let lineNo = 0;
  let reported = false;
  const finish = () => {
    const st = status ?? '';
    if (name && version !== undefined && /\binstalled$/.test(st.trim()) && !/config-files|half-installed|not-installed/.test(st)) {
      out.push({ name, version, arch: arch ?? '' });
    }
    name = status = version = arch = undefined;
  };
  for (const line of text.split('\n')) {
    lineNo++;
    if (line === '' || line === '\r') { finish(); continue; }
    if (line[0] === ' ' || line[0] === '\t') continue; // continuation of a multi-line field
    const c = line.indexOf(':');
    if (c <= 0) {
      if (!reported && onError) { onError(`dpkg status line ${lineNo}: expected "Field: value"`); reported = true; }
      continue;
    }
    // field names are case-insensitive; only names of a wanted length are compared
    if (c !== 6 && c !== 7 && c !== 12) continue;
    const field = line.slice(0, c).toLowerCase();
    if (field === 'package') name = line.slice(c + 1).trim();
    else if (field === 'status') status = line.slice(c + 1).trim();
    else if (field === 'version') version = line.slice(c + 1).trim();
    else if (field === 'architecture') arch = line.slice(c + 1).trim();
  }
  finish();
  return out;
}

/** rpm -qa output in the form RPM_QUERY_FORMAT produces: "name\tversion\tarch\tpath" lines. */
export function parseRpmQuery(text: string): Array<{ path: string; owner: PackageOwner }> {
  const out: Array<{ path: string; owner: PackageOwner }> = [];
  for (const line of text.split('\n')) {
    const f = line.split('\t');
    if (f.length !== 4 || !f[0] || !f[3]?.startsWith('/')) continue;
    out.push({ path: f[3], owner: { pkg: f[0], version: f[1]!, arch: f[2]!, source: 'rpm' } });
  }
  return out;
}
/** One line per file; `(none)` epochs are left out, as `rpm -q --qf '%{EVR}'` does. */
export const RPM_QUERY_FORMAT = '[%{NAME}\\t%|EPOCH?{%{EPOCH}:}:{}|%{VERSION}-%{RELEASE}\\t%{ARCH}\\t%{FILENAMES}\\n]';

export interface PackageDbOptions {
  /** dpkg's admin directory (status, info/) */
  dpkgDir: string;
  /** filesystem root the listed paths are resolved against (tests: a fixture tree) */
  root: string;
  /** rpm binary; null: do not query rpm */
  rpm: string | null;
}

export interface PackageDb {
  packages: number;
  /** why rpm was not read, when it was not */
  rpmNote: string;
  /** the first malformed line of dpkg's status, if any */
  warnings: string[];
  /** directories whose canonical form went through a symlink, and what they resolved to (null:
   * did not resolve): the index cache checks them again before it is used */
  links: Array<[string, string | null]>;
}

/** Reads dpkg's and rpm's databases into `into` (the first package listing a path wins). */
export function readPackageDb(opts: PackageDbOptions, into: PackedPathIndexBuilder): PackageDb {
  const warnings: string[] = [];
  const dc = new Canonicaliser(opts.root);
  const rc = new Canonicaliser(opts.root);
  const dpkg = readDpkg(opts.dpkgDir, into, dc, warnings);
  const rpm = readRpm(opts.rpm, into, rc);
  const links = new Map([...dc.links, ...rc.links]);
  return { packages: dpkg + rpm.packages, rpmNote: rpm.note, warnings, links: [...links] };
}

function readDpkg(dpkgDir: string, into: PackedPathIndexBuilder, canon: Canonicaliser, warnings: string[]): number {
  let status: string;
  try {
    status = readFileSync(path.join(dpkgDir, 'status'), 'utf8');
  } catch {
    return 0; // no dpkg on this machine
  }
  const pkgs = parseDpkgStatus(status, (m) => warnings.push(m));
  const byName = new Map<string, DpkgPackage>();
  for (const p of pkgs) {
    byName.set(`${p.name}:${p.arch}`, p);
    if (!byName.has(p.name)) byName.set(p.name, p);
  }
  const infoDir = path.join(dpkgDir, 'info');
  let files: string[] = [];
  try { files = readdirSync(infoDir).filter((f) => f.endsWith('.list')); } catch { /* no info dir */ }
  let used = 0;
  const lines = new Lines();
  const dirs = new DirTable(canon);
  for (const f of files) {
    const key = f.slice(0, -'.list'.length); // "pkg" or "pkg:arch" (Multi-Arch: same)
    const p = byName.get(key);
    if (!p) continue; // removed package whose list is left over
    used++;
    addList(path.join(infoDir, f), { pkg: p.name, version: p.version, arch: p.arch, source: 'dpkg' }, into, lines, dirs);
  }
  return used;
}

/** One list file's paths into the index (a function of its own: a small loop for V8 to optimize). */
function addList(file: string, owner: PackageOwner, into: PackedPathIndexBuilder, lines: Lines, dirs: DirTable): void {
  const at = into.at;
  const n = readIntoBlob(file, into);
  if (n < 0) return;
  for (let pos = at, end = at + n; pos < end;) {
    pos = scanLines(into.blob, pos, end, lines);
    // the common lines in one tight loop; it stops at each other one, which addLine takes
    for (let k = addCommonLines(lines, 0, owner, into, dirs); k < lines.count; k = addCommonLines(lines, k + 1, owner, into, dirs)) {
      addLine(lines, k, owner, into, dirs);
    }
  }
}

/**
 * Reads a whole file into the index's blob at `at` and moves `at` past it: its lines become keys
 * where they are (no string, no copy per path). Returns the file's length, -1 when it cannot be
 * read.
 */
function readIntoBlob(file: string, into: PackedPathIndexBuilder): number {
  let fd: number;
  try { fd = openSync(file, 'r'); } catch { return -1; }
  let n = 0;
  try {
    for (;;) {
      into.reserve(n + (64 << 10));
      const blob = into.blob;
      const r = readSync(fd, blob, into.at + n, blob.length - into.at - n, null);
      if (r === 0) break;
      n += r;
    }
  } catch {
    return -1;
  } finally {
    closeSync(fd);
  }
  into.advance(n);
  return n;
}

const SLASH = 0x2f;
const DOT = 0x2e;
const NL = 0x0a;

/** The path lines of a stretch of a list file, as scanLines found them. */
class Lines {
  count = 0;
  readonly cap = 8192;
  /** where each line starts in the blob, its length, the offset of its last '/' */
  readonly start = new Int32Array(this.cap);
  readonly len = new Int32Array(this.cap);
  readonly slash = new Int32Array(this.cap);
  /** FNV-1a of the line, and of its directory part (the bytes before its last '/') */
  readonly hash = new Int32Array(this.cap);
  readonly dirHash = new Int32Array(this.cap);
  /** 1: dot names, doubled or trailing slashes, or bytes ≥ 0x80 (the string path) */
  readonly odd = new Uint8Array(this.cap);
}

/**
 * Finds the path lines of b[from, to) — lines that start with '/', except "/." — and hashes them,
 * until `lines` is full; returns where it stopped (`to`, or the start of the first line not
 * taken). One pass over the bytes, numbers only (no string, no call): this loop is most of the
 * build.
 */
function scanLines(b: Uint8Array, from: number, to: number, lines: Lines): number {
  const { start, len, slash, hash, dirHash, odd, cap } = lines;
  let count = 0;
  let s = from;
  let h = FNV_START;
  let dh = FNV_START;
  let sl = 0;
  let prev = 0;
  let o = 0;
  // i === to is a newline after the last line, which need not end with one
  for (let i = from; i <= to; i++) {
    const c = i < to ? b[i]! : NL;
    if (c !== NL) {
      if (c === SLASH) {
        if (prev === SLASH) o = 1;
        sl = i - s;
        dh = h;
      } else if (c >= 0x80 || (c === DOT && prev === SLASH)) o = 1;
      h = Math.imul(h ^ c, FNV_PRIME);
      prev = c;
      continue;
    }
    const l = i - s;
    if (l > 0 && b[s] === SLASH && !(l === 2 && b[s + 1] === DOT)) {
      if (count === cap) { lines.count = count; return s; }
      start[count] = s;
      len[count] = l;
      slash[count] = sl;
      hash[count] = h;
      dirHash[count] = dh;
      odd[count] = prev === SLASH ? 1 : o;
      count++;
    }
    s = i + 1;
    h = FNV_START;
    dh = FNV_START;
    sl = 0;
    prev = 0;
    o = 0;
  }
  lines.count = count;
  return to;
}

/**
 * The scanned lines into the index, each under its canonical form and, when that differs, its
 * listed form too — what `for (line of text.split('\n')) { c = canon.path(line); into.add(c);
 * if (c !== line) into.add(line) }` did, on the bytes. addCommonLines takes the lines whose
 * directory is known and has no link on the way (nearly all): each is its own key where it lies
 * in the blob. It stops at any other line and returns its number; addLine takes that one. (Kept
 * apart so the loop V8 optimizes is small and meets no path it has not seen: each recompile of a
 * larger one cost ~10–30 ms of CPU on its compiler thread.)
 */
function addCommonLines(lines: Lines, from: number, owner: PackageOwner, into: PackedPathIndexBuilder, dirs: DirTable): number {
  const { start, len, slash, hash, dirHash, odd, count } = lines;
  const blob = into.blob; // not replaced here: commitInPlace writes nothing
  for (let k = from; k < count; k++) {
    if (odd[k] === 1) return k;
    const s = start[k]!;
    if (dirs.find(blob, s, slash[k]!, dirHash[k]!) !== SAME_DIR) return k;
    into.commitInPlace(s, len[k]!, hash[k]!, owner);
  }
  return count;
}

/** Any line: odd ones through strings, others by their directory's answer (resolved if new). */
function addLine(lines: Lines, k: number, owner: PackageOwner, into: PackedPathIndexBuilder, dirs: DirTable): void {
  const s = lines.start[k]!;
  const len = lines.len[k]!;
  if (lines.odd[k] === 1) {
    addOddLine(into, s, len, owner, dirs.canon);
    return;
  }
  const sl = lines.slash[k]!;
  const ans = dirs.answer(into.blob, s, sl, lines.dirHash[k]!);
  if (ans === null) into.commitInPlace(s, len, lines.hash[k]!, owner); // no link on the way, or does not resolve: as listed
  else addLinkedLine(into, s, len, sl, lines.hash[k]!, ans, owner);
}

/** DirTable.find: the directory is as listed */
const SAME_DIR = 1;

/**
 * The canonicaliser's answers by a directory's bytes (where a line of a list file has them in the
 * blob): a probe on the hash the scan made and a byte compare, no string per look-up. Only a
 * directory not seen before becomes a string.
 */
class DirTable {
  private slots = new Int32Array(1 << 14);
  private hashes = new Int32Array(1 << 13);
  private offs = new Int32Array(1 << 13);
  private lens = new Int32Array(1 << 13);
  /** per directory: SAME_DIR when it is as listed, else 0 */
  private same = new Uint8Array(1 << 13);
  private readonly answers: DirAnswer[] = [];
  /** the last directory found or added, by number + 1 (a list's lines come directory by directory) */
  private last = 0;

  constructor(readonly canon: Canonicaliser) {}

  /** SAME_DIR when the directory b[s, s + len) (hash h) is known and as listed; else 0 (then
   * answer() has it) */
  find(b: Uint8Array, s: number, len: number, h: number): number {
    let e = this.last;
    if (e !== 0) {
      const k = e - 1;
      if (this.hashes[k] === h && this.lens[k] === len && sameBytes(b, this.offs[k]!, s, len)) return this.same[k]!;
    }
    const mask = this.slots.length - 1;
    for (let i = h & mask; (e = this.slots[i]!) !== 0; i = (i + 1) & mask) {
      const k = e - 1;
      if (this.hashes[k] === h && this.lens[k] === len && sameBytes(b, this.offs[k]!, s, len)) {
        this.last = e;
        return this.same[k]!;
      }
    }
    return 0;
  }

  /** the answer for the directory b[s, s + len) (ASCII; len 0: the root), whose hash is h */
  answer(b: Buffer, s: number, len: number, h: number): DirAnswer {
    const mask = this.slots.length - 1;
    let i = h & mask;
    for (let e = this.slots[i]!; e !== 0; i = (i + 1) & mask, e = this.slots[i]!) {
      const k = e - 1;
      if (this.hashes[k] === h && this.lens[k] === len && sameBytes(b, this.offs[k]!, s, len)) {
        this.last = e;
        return this.answers[k]!;
      }
    }
    // ASCII only here: latin1 and UTF-8 decode alike
    const a = this.canon.dirBytes(len === 0 ? '/' : b.toString('latin1', s, s + len));
    const k = this.answers.length;
    if (k === this.hashes.length) {
      this.hashes = grown(this.hashes);
      this.offs = grown(this.offs);
      this.lens = grown(this.lens);
      const same = new Uint8Array(this.same.length * 2);
      same.set(this.same);
      this.same = same;
    }
    this.answers.push(a);
    this.hashes[k] = h;
    this.offs[k] = s;
    this.lens[k] = len;
    this.same[k] = a === null ? SAME_DIR : 0;
    this.slots[i] = k + 1;
    this.last = k + 1;
    if ((k + 1) * 2 > this.slots.length) {
      const slots = new Int32Array(this.slots.length * 2);
      const m = slots.length - 1;
      for (let j = 0; j <= k; j++) {
        let t = this.hashes[j]! & m;
        while (slots[t] !== 0) t = (t + 1) & m;
        slots[t] = j + 1;
      }
      this.slots = slots;
    }
    return a;
  }
}

function grown(x: Int32Array) {
  const y = new Int32Array(x.length * 2);
  y.set(x);
  return y;
}

/** A line through a symlinked directory: its canonical form first (appended), then as listed. */
function addLinkedLine(into: PackedPathIndexBuilder, s: number, len: number, sl: number, h: number, ans: NonNullable<DirAnswer>, owner: PackageOwner): void {
  const tail = len - sl;
  into.reserve(ans.bytes.length + tail);
  const out = into.blob; // the line's bytes too (the blob may have been replaced)
  const at = into.at;
  ans.bytes.copy(out, at);
  let hc = ans.hash;
  for (let i = 0, o = at + ans.bytes.length; i < tail; i++) {
    const c = out[s + sl + i]!;
    out[o + i] = c;
    hc = Math.imul(hc ^ c, FNV_PRIME);
  }
  into.commit(ans.bytes.length + tail, hc, owner);
  into.commitInPlace(s, len, h, owner);
}

/** A line with dot names, doubled or trailing slashes, or bytes ≥ 0x80: through strings. */
function addOddLine(into: PackedPathIndexBuilder, s: number, len: number, owner: PackageOwner, canon: Canonicaliser): void {
  const line = into.blob.toString('utf8', s, s + len);
  const c = canon.path(line);
  into.add(c, owner);
  if (c !== line) into.add(line, owner);
}

/** b[a, a + len) equals b[c, c + len) (compared from the end: sibling directories differ there) */
function sameBytes(b: Uint8Array, a: number, c: number, len: number): boolean {
  for (let i = len - 1; i >= 0; i--) if (b[a + i] !== b[c + i]) return false;
  return true;
}

/** Is `cmd` (a path, or a name looked up on PATH) an executable file? */
export function executable(cmd: string): boolean {
  const ok = (p: string) => { try { accessSync(p, constants.X_OK); return statSync(p).isFile(); } catch { return false; } };
  if (cmd.includes('/')) return ok(cmd);
  return (process.env['PATH'] ?? '/usr/bin:/bin').split(':').some((d) => d !== '' && ok(path.join(d, cmd)));
}

function readRpm(rpm: string | null, into: PackedPathIndexBuilder, canon: Canonicaliser): { packages: number; note: string } {
  if (rpm === null) return { packages: 0, note: 'rpm disabled' };
  // Spawning forks the whole agent, which write-protects every page it has: the main thread
  // then takes a page fault on each page it writes again (~30,000 after one spawn, ~10 % of its
  // CPU over the next 200,000 records). Where no rpm binary exists (Debian), do not spawn.
  if (!executable(rpm)) return { packages: 0, note: `no rpm database (${rpm} not found)` };
  let text: string;
  try {
    text = execFileSync(rpm, ['-qa', '--qf', RPM_QUERY_FORMAT], { maxBuffer: 512 * 1024 * 1024, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  } catch {
    return { packages: 0, note: `no rpm database (${rpm} not runnable or failed)` };
  }
  const pkgs = new Set<string>();
  for (const { path: p, owner } of parseRpmQuery(text)) {
    pkgs.add(owner.pkg);
    const c = canon.path(p);
    into.add(c, owner);
  }
  return { packages: pkgs.size, note: '' };
}
