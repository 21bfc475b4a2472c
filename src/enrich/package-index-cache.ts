// The built package index (-v) kept on disk, so an agent that starts again on an unchanged
// package database loads it instead of building it again (~0.4 s of CPU in a worker: every
// info/*.list read, ~12,000 lstats). Written by the package index worker after a build,
// atomically (temporary file, rename; no fsync, which would hold the index's hand-over for the
// disk: a file torn by a crash fails its length or checksum checks and is built again). A load
// reads the preamble and the header (owners, versions, block checksums: ~110 KB here) through
// libuv's pool and keeps the file open; the ~11 MB of data are read 4 KiB block by block when a
// look-up first reaches them (a look-up reads 4–5 blocks; reading the whole file cost ~10 ms of
// CPU at every start), into one buffer whose views are the packed table (no parse of paths).
//
// A cache is used only when everything the build read is as it was when the build ran:
//   - the build's options (dpkg directory, root, rpm binary) and this format's version;
//   - dpkg's status file and info/ directory: device, inode, size, mtime, ctime (dpkg replaces
//     both status and *.list files by rename, which changes the directory too);
//   - whether the rpm binary exists, and rpm's database files when it does;
//   - every directory the build resolved through a symlink (usr-merge's /bin, /lib, …) still
//     resolves to the same place;
//   - the file itself: owned by this user, not writable by others, and the header and every 4 KiB
//     block match their checksums (a flipped byte could otherwise name a wrong version).
// Anything else (stale, corrupt, truncated, other format) → the caller rebuilds and says why.
// The header is checked at load, each block when it is read in (BlockGuard). A look-up that
// reaches a corrupt or unreadable block has no answer (CorruptIndexError); the caller drops the
// table and rebuilds, so no version is ever read from unchecked bytes. The package stage's
// look-ups never read on the record path: a block not in memory yet makes them throw
// NotResident, and the stage waits for PackedPathIndex.resident (reads through the pool).
// Not seen: a directory that becomes a symlink outside dpkg and rpm (the next package change
// rebuilds the index).
import { closeSync, fstat, lstatSync, mkdirSync, open, openSync, read, readdirSync, readSync, realpathSync, renameSync, rmSync, writeSync } from 'node:fs';
import { promisify } from 'node:util';
import path from 'node:path';
import { zlibCrc32 as crc32 } from '../util/zlib-crc32.js';
import { executable, type PackageDbOptions, type PackageOwner } from './package-db.js';
import { BYTES_ABSENT, BYTES_CORRUPT, BYTES_OK, PackedPathIndex, type ByteGuard, type PackedPathIndexData } from './packed-path-index.js';
import { untrustedStateFile } from './state-dir.js';

/** bump when the index's contents or this layout change */
export const PACKAGE_INDEX_CACHE_FORMAT = 2;
const MAGIC = 'FNPKIDX\n';
/** magic, format, header length, header checksum, checksum kind (u32 each) */
const FIXED = 24;
/** a look-up reads ~4 words and a key: small blocks keep what a start reads in (and checks) small */
const BLOCK_SHIFT = 12;
/** the unit of reading in and of checksums: 4 KiB (format 1: 64 KiB) */
export const PACKAGE_INDEX_BLOCK = 1 << BLOCK_SHIFT;
const BLOCK = PACKAGE_INDEX_BLOCK;

/** What the build read, each as an identity string ('absent' when missing). */
export type DbSources = Array<[string, string]>;

interface CacheHeader {
  options: PackageDbOptions;
  sources: DbSources;
  links: Array<[string, string | null]>;
  packages: number;
  paths: number;
  rpmNote: string;
  owners: PackageOwner[];
  /** byte offset and length of each section in the file */
  sections: { blob: [number, number]; ents: [number, number]; slots: [number, number]; hashes: [number, number] };
  /** offset where the checksummed blocks start; per block (PACKAGE_INDEX_BLOCK) from there: its checksum */
  dataStart: number;
  sums: number[];
}

/** Where the cache of the index built with `opts` lives in `stateDir` (one file per option set). */
export function packageIndexCacheFile(stateDir: string, opts: PackageDbOptions): string {
  const key = JSON.stringify([opts.dpkgDir, opts.root, opts.rpm]);
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193);
  return path.join(stateDir, `package-index-${(h >>> 0).toString(16).padStart(8, '0')}.bin`);
}

function identity(p: string): string {
  try {
    const s = lstatSync(p, { bigint: true });
    return `${s.dev}:${s.ino}:${s.mode}:${s.size}:${s.mtimeNs}:${s.ctimeNs}`;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'absent' : `error ${(e as NodeJS.ErrnoException).code ?? ''}`;
  }
}

/** rpm's database locations (older rpm: /var/lib/rpm; rpm ≥ 4.16 on some distributions: sysimage) */
const RPM_DB_DIRS = ['/var/lib/rpm', '/usr/lib/sysimage/rpm'];

/** The identities of everything a build of `opts` reads besides the list files' contents. */
export function packageDbSources(opts: PackageDbOptions): DbSources {
  const out: DbSources = [
    [path.join(opts.dpkgDir, 'status'), identity(path.join(opts.dpkgDir, 'status'))],
    [path.join(opts.dpkgDir, 'info'), identity(path.join(opts.dpkgDir, 'info'))],
  ];
  const rpm = opts.rpm !== null && executable(opts.rpm);
  out.push(['rpm binary', opts.rpm === null ? 'not used' : rpm ? 'found' : 'absent']);
  if (rpm) {
    for (const d of RPM_DB_DIRS) {
      out.push([d, identity(d)]);
      let names: string[] = [];
      try { names = readdirSync(d).sort(); } catch { /* none */ }
      for (const n of names) out.push([path.join(d, n), identity(path.join(d, n))]);
    }
  }
  return out;
}

/** realpath of a root-relative directory, root-relative; null when it does not resolve */
function resolve(root: string, dir: string): string | null {
  try {
    const r = realpathSync.native(path.join(root, dir));
    return root === '/' ? r : '/' + path.relative(root, r);
  } catch {
    return null;
  }
}

/**
 * Block checksums: zlib's CRC-32 where Node has it (≥ 20.15: native, ~3 ms for the whole file),
 * else a Fletcher-style sum in JS. The header names the kind; a reader without it rebuilds.
 */
type SumKind = 1 | 2;
const CRC32 = 1;
const FLETCHER = 2;
const SUM_KIND: SumKind = typeof crc32 === 'function' ? CRC32 : FLETCHER;

function fletcher(u: Uint8Array): number {
  let a = 1;
  let b = 0;
  if (u.byteOffset % 4 === 0 && u.length % 4 === 0) {
    const w = new Uint32Array(u.buffer, u.byteOffset, u.length / 4);
    for (let i = 0; i < w.length; i++) { a = (a + w[i]!) | 0; b = (b + a) | 0; }
  } else {
    for (let i = 0; i < u.length; i++) { a = (a + u[i]! + 1) | 0; b = (b + a) | 0; }
  }
  return (Math.imul(b, 0x9e3779b1) ^ a) >>> 0;
}

function checksum(kind: SumKind, u: Uint8Array): number {
  return kind === CRC32 ? crc32!(u) >>> 0 : fletcher(u);
}

const align8 = (n: number): number => (n + 7) & ~7;

export interface CacheWriteInput {
  options: PackageDbOptions;
  sources: DbSources;
  links: Array<[string, string | null]>;
  packages: number;
  rpmNote: string;
  data: PackedPathIndexData;
}

/**
 * Writes the index to `file` atomically (a temporary file in the same directory, rename),
 * creating the directory. Throws on failure (the caller reports it; the index is used anyway).
 */
export function writePackageIndexCache(file: string, c: CacheWriteInput): void {
  const d = c.data;
  const lens = { blob: d.blob.byteLength, ents: d.ents.byteLength, slots: d.slots.byteLength, hashes: d.hashes.byteLength };
  // the header names the sections' offsets, which depend on its length: lay out with a guess,
  // then again if the header grew past it
  let headerBytes = 0;
  let header: CacheHeader;
  let hb: Buffer;
  for (;;) {
    const dataStart = align8(FIXED + headerBytes);
    let off = dataStart;
    const at = (n: number): [number, number] => { const r: [number, number] = [off, n]; off = align8(off + n); return r; };
    const sections = { blob: at(lens.blob), ents: at(lens.ents), slots: at(lens.slots), hashes: at(lens.hashes) };
    const blocks = Math.ceil((off - dataStart) / BLOCK);
    header = {
      options: c.options, sources: c.sources, links: c.links, packages: c.packages, paths: lens.ents / 12, rpmNote: c.rpmNote,
      owners: d.owners, sections, dataStart, sums: Array.from({ length: blocks }, () => 4294967295),
    };
    hb = Buffer.from(JSON.stringify(header));
    if (hb.length <= headerBytes) break;
    headerBytes = hb.length + 64;
  }
  const dataStart = header.dataStart;
  const total = header.sections.hashes[0] + align8(lens.hashes);
  const body = new Uint8Array(total - dataStart);
  for (const k of ['blob', 'ents', 'slots', 'hashes'] as const) body.set(new Uint8Array(d[k]), header.sections[k][0] - dataStart);
  header.sums = header.sums.map((_, i) => checksum(SUM_KIND, body.subarray(i * BLOCK, (i + 1) * BLOCK)));
  hb = Buffer.from(JSON.stringify(header));
  if (hb.length > dataStart - FIXED) throw new Error('package index cache: header outgrew its room'); // sums have a fixed width
  const head = Buffer.alloc(dataStart); // header padded with spaces (JSON allows trailing white space)
  head.write(MAGIC, 0, 'latin1');
  head.writeUInt32LE(PACKAGE_INDEX_CACHE_FORMAT, 8);
  head.writeUInt32LE(dataStart - FIXED, 12);
  head.fill(0x20, FIXED);
  hb.copy(head, FIXED);
  head.writeUInt32LE(checksum(SUM_KIND, head.subarray(FIXED)), 16);
  head.writeUInt32LE(SUM_KIND, 20);

  mkdirSync(path.dirname(file), { recursive: true, mode: 0o755 });
  const tmp = `${file}.tmp-${process.pid}-${Date.now()}`;
  const fd = openSync(tmp, 'wx', 0o644);
  try {
    writeAll(fd, head);
    writeAll(fd, body);
  } catch (e) {
    closeSync(fd);
    rmSync(tmp, { force: true });
    throw e;
  }
  closeSync(fd);
  try {
    renameSync(tmp, file);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
}

function writeAll(fd: number, b: Uint8Array): void {
  for (let off = 0; off < b.length;) off += writeSync(fd, b, off, b.length - off);
}

/** A block's state: not read in yet / in memory, not yet checked / in memory and checked */
const ABSENT = 0;
const PRESENT = 1;
const CHECKED = 2;

/**
 * The cache's data blocks: each read in from the file (when `fd` is given) and checked against its
 * checksum the first time a look-up reaches it. A look-up that may block reads a missing block
 * itself (readSync: tests, a walk over every entry); the package stage's look-ups may not, and
 * get BYTES_ABSENT, and `load` reads the block through libuv's pool. From an in-memory file
 * (parseCache) every block is present and only checked when first reached.
 */
export class BlockGuard implements ByteGuard {
  private readonly state: Uint8Array;
  private readonly loading = new Map<number, Promise<void>>();
  private closed = false;
  failure: string | undefined;
  missing = -1;
  /** blocks read in from the file: by a look-up that could block, and through libuv's pool */
  readonly reads = { sync: 0, async: 0 };

  constructor(private readonly buf: Buffer, private readonly dataStart: number, private readonly sums: readonly number[], private readonly kind: SumKind, private readonly fd?: number) {
    this.state = new Uint8Array(sums.length).fill(fd === undefined ? PRESENT : ABSENT);
  }

  /** `len` bytes from `byteIndex` of `view`, a view into this cache's buffer */
  check(view: ArrayBufferView, byteIndex: number, len: number, mayRead: boolean): number {
    const rel = view.byteOffset - this.buf.byteOffset + byteIndex - this.dataStart;
    // bytes outside the data are never read by a look-up that gets here (its views end there)
    const first = Math.max(0, rel) >> BLOCK_SHIFT;
    const last = Math.min(this.sums.length - 1, Math.max(0, rel + len - 1) >> BLOCK_SHIFT);
    for (let b = first; b <= last; b++) {
      if (this.state[b] === CHECKED) continue;
      if (this.failure !== undefined) return BYTES_CORRUPT;
      if (this.state[b] === ABSENT) {
        if (!mayRead) { this.missing = b; return BYTES_ABSENT; }
        this.readSync(b);
        if (this.failure !== undefined) return BYTES_CORRUPT;
      }
      if (!this.verify(b)) return BYTES_CORRUPT;
    }
    return BYTES_OK;
  }

  checkAll(): boolean {
    for (let b = 0; b < this.sums.length; b++) {
      if (this.state[b] === CHECKED) continue;
      if (this.failure === undefined && this.state[b] === ABSENT) this.readSync(b);
      if (this.failure !== undefined || !this.verify(b)) return false;
    }
    return true;
  }

  load(b: number): Promise<void> {
    if (this.state[b] !== ABSENT || this.failure !== undefined || this.fd === undefined) return Promise.resolve();
    let p = this.loading.get(b);
    if (p === undefined) {
      const [at, len] = this.span(b);
      // into a buffer of its own: a blocking look-up may read and check the block meanwhile, and
      // checked bytes are never written again
      const into = Buffer.allocUnsafe(len);
      p = new Promise<void>((resolve) => {
        read(this.fd!, into, 0, len, at, (err, n) => {
          this.loading.delete(b);
          this.reads.async++;
          if (!this.closed && this.state[b] === ABSENT) {
            if (!err && n === len) into.copy(this.buf, at);
            this.landed(b, err, n);
          }
          resolve();
        });
      });
      this.loading.set(b, p);
    }
    return p;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.failure ??= 'closed: the table was replaced';
    // a read still in the pool writes into the buffer and calls back: close the file after it
    const fd = this.fd;
    if (fd === undefined) return;
    if (this.loading.size === 0) closeSync(fd);
    else void Promise.all(this.loading.values()).then(() => closeSync(fd));
  }

  /** bytes [at, at + len) of the file hold block b */
  private span(b: number): [number, number] {
    const at = this.dataStart + b * BLOCK;
    return [at, Math.min(this.buf.length, at + BLOCK) - at];
  }

  private readSync(b: number): void {
    const [at, len] = this.span(b);
    let n = 0;
    let err: NodeJS.ErrnoException | null = null;
    try { n = readSync(this.fd!, this.buf, at, len, at); } catch (e) { err = e as NodeJS.ErrnoException; }
    this.landed(b, err, n);
    this.reads.sync++;
  }

  private landed(b: number, err: NodeJS.ErrnoException | null, n: number): void {
    const [at, len] = this.span(b);
    if (err || n !== len) {
      this.failure ??= `unreadable: the block at offset ${at}: ${err ? err.code ?? err.message : `${n} of ${len} bytes (the file shrank)`}`;
      return;
    }
    if (this.state[b] === ABSENT) this.state[b] = PRESENT;
  }

  private verify(b: number): boolean {
    const [at, len] = this.span(b);
    if (checksum(this.kind, this.buf.subarray(at, at + len)) !== this.sums[b]) {
      this.failure = `corrupt: the block at offset ${at} (bytes ${at}–${at + len - 1}) fails its checksum`;
      return false;
    }
    this.state[b] = CHECKED;
    return true;
  }
}

export type CacheLoad =
  | { ok: true; index: PackedPathIndex; packages: number; paths: number; rpmNote: string }
  /** absent: no cache yet (not an error) */
  | { ok: false; absent: boolean; reason: string };

type CacheRejected = Extract<CacheLoad, { ok: false }>;
const bad = (reason: string): CacheRejected => ({ ok: false, absent: false, reason });

/**
 * Loads the cache at `file` if it is intact and was built from the database as it is now: reads
 * its preamble and header (the owners and versions, the block checksums; ~110 KB here), not its
 * data (~11 MB), whose blocks are read in when a look-up first reaches them. The file stays open
 * until the table is closed (a rebuild renames a new file over it; this one's bytes stay as they
 * were). Never throws: every failure is a reason (naming the offset for corrupt bytes).
 */
export async function loadPackageIndexCache(file: string, opts: PackageDbOptions): Promise<CacheLoad> {
  let fd: number;
  try {
    fd = await promisify(open)(file, 'r');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    return code === 'ENOENT' ? { ok: false, absent: true, reason: 'none yet' } : bad(`unreadable: ${code ?? (e as Error).message}`);
  }
  let r: CacheLoad;
  try {
    r = await loadFromFd(fd, opts);
  } catch (e) {
    r = bad(`unreadable: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  if (!r.ok) closeSync(fd);
  return r;
}

async function loadFromFd(fd: number, opts: PackageDbOptions): Promise<CacheLoad> {
  const st = await promisify(fstat)(fd);
  const untrusted = untrustedStateFile(st);
  if (untrusted) return bad(untrusted);
  const readAt = async (at: number, len: number): Promise<Buffer> => {
    const b = Buffer.allocUnsafe(len);
    let got = 0;
    while (got < len) {
      const { bytesRead: n } = await promisify(read)(fd, b, got, len - got, at + got);
      if (n === 0) break;
      got += n;
    }
    return b.subarray(0, got);
  };
  const pre = await readAt(0, Math.min(st.size, FIXED));
  const hlen = pre.length === FIXED ? pre.readUInt32LE(12) : 0;
  // the header's bytes, unless the preamble already fails (parseHeader says why)
  const head = FIXED + hlen <= st.size && pre.toString('latin1', 0, 8) === MAGIC ? Buffer.concat([pre, await readAt(FIXED, hlen)]) : pre;
  const h = parseHeader(head, st.size, opts);
  if ('reason' in h) return h;
  // the data, read in block by block as look-ups reach it (pages never written stay unallocated)
  const buf = Buffer.allocUnsafeSlow(st.size);
  return table(h.header, buf, new BlockGuard(buf, h.header.dataStart, h.header.sums, h.kind, fd));
}

/** The checks and views of loadPackageIndexCache on a whole file's bytes in memory (tests). */
export function parseCache(buf: Buffer, opts: PackageDbOptions): CacheLoad {
  const h = parseHeader(buf, buf.length, opts);
  if ('reason' in h) return h;
  return table(h.header, buf, new BlockGuard(buf, h.header.dataStart, h.header.sums, h.kind));
}

/**
 * The preamble and header (`head`: the file's first bytes, at least through the header when the
 * preamble is sound) of a file of `size` bytes, checked, and whether the database is as the
 * build read it.
 */
function parseHeader(head: Buffer, size: number, opts: PackageDbOptions): { header: CacheHeader; kind: SumKind } | CacheRejected {
  if (size < FIXED) return bad(`truncated: ${size} bytes, shorter than the ${FIXED}-byte preamble`);
  if (head.toString('latin1', 0, 8) !== MAGIC) return bad('offset 0: not a falconet package index cache (magic)');
  const format = head.readUInt32LE(8);
  if (format !== PACKAGE_INDEX_CACHE_FORMAT) return bad(`offset 8: format ${format}, this falconet writes ${PACKAGE_INDEX_CACHE_FORMAT}`);
  const hlen = head.readUInt32LE(12);
  if (FIXED + hlen > size) return bad(`offset 12: header of ${hlen} bytes runs past the end (${size} bytes)`);
  if (head.length < FIXED + hlen) return bad(`truncated while reading: ${head.length} of the header's ${FIXED + hlen} bytes`);
  const kind = head.readUInt32LE(20);
  if (kind !== FLETCHER && !(kind === CRC32 && crc32)) return bad(`offset 20: checksum kind ${kind} is not one this Node computes`);
  const hbytes = head.subarray(FIXED, FIXED + hlen);
  if (checksum(kind, hbytes) !== head.readUInt32LE(16)) return bad(`offset ${FIXED}: header (${hlen} bytes) fails its checksum`);
  let h: CacheHeader;
  try {
    h = JSON.parse(hbytes.toString('utf8')) as CacheHeader;
  } catch (e) {
    return bad(`offset ${FIXED}: header is not JSON (${(e as Error).message})`);
  }
  if (h.dataStart !== FIXED + hlen || h.dataStart % 8 !== 0) return bad(`offset ${FIXED}: header names data at ${h.dataStart}, expected ${FIXED + hlen}`);
  // stale? the build's options and what it read, as they are now
  const o = h.options;
  if (o.dpkgDir !== opts.dpkgDir || o.root !== opts.root || o.rpm !== opts.rpm) {
    return bad(`built with other options (${JSON.stringify(o)}, now ${JSON.stringify(opts)})`);
  }
  const now = packageDbSources(opts);
  if (now.length !== h.sources.length) return bad(`stale: the package database's files changed (${h.sources.length} then, ${now.length} now)`);
  for (let i = 0; i < now.length; i++) {
    const [p, id] = now[i]!;
    const [hp, hid] = h.sources[i]!;
    if (p !== hp || id !== hid) return bad(`stale: ${p} changed (${hid} → ${id})`);
  }
  for (const [dir, real] of h.links) {
    const r = resolve(opts.root, dir);
    if (r !== real) return bad(`stale: directory ${dir} now resolves to ${r ?? 'nothing'} (was ${real ?? 'nothing'})`);
  }
  // intact? the length and the number of block checksums here; each block when first reached
  const end = h.sections.hashes[0] + align8(h.sections.hashes[1]);
  if (size !== end) return bad(`${size < end ? 'truncated' : 'extended'}: ${size} bytes, the header says ${end}`);
  if (!Array.isArray(h.sums) || Math.ceil((end - h.dataStart) / BLOCK) !== h.sums.length) return bad(`offset ${FIXED}: ${h.sums?.length} block checksums for ${end - h.dataStart} data bytes`);
  return { header: h, kind };
}

/** The table's views into `buf` (the whole file's length), its bytes guarded block by block. */
function table(h: CacheHeader, buf: Buffer, guard: BlockGuard): CacheLoad {
  const view = <T>(k: keyof CacheHeader['sections'], make: (ab: ArrayBufferLike, off: number, n: number) => T, unit: number): T | string => {
    const [off, len] = h.sections[k];
    if (off < h.dataStart || off % 8 !== 0 || len % unit !== 0 || off + len > buf.length) return `section ${k} at offset ${off} (${len} bytes) lies outside the data`;
    return make(buf.buffer, buf.byteOffset + off, len / unit);
  };
  const blob = view('blob', (ab, off, n) => new Uint8Array(ab, off, n), 1);
  const ents = view('ents', (ab, off, n) => new Uint32Array(ab, off, n), 4);
  const slots = view('slots', (ab, off, n) => new Uint32Array(ab, off, n), 4);
  const hashes = view('hashes', (ab, off, n) => new Uint32Array(ab, off, n), 4);
  for (const v of [blob, ents, slots, hashes]) if (typeof v === 'string') return bad(v);
  try {
    const index = PackedPathIndex.fromViews({ owners: h.owners, blob: blob as Uint8Array, ents: ents as Uint32Array, slots: slots as Uint32Array, hashes: hashes as Uint32Array }, guard);
    return { ok: true, index, packages: h.packages, paths: index.size, rpmNote: h.rpmNote };
  } catch (e) {
    return bad((e as Error).message);
  }
}
