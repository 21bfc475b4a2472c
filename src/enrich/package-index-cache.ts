// The built package index (-v) kept on disk, so an agent that starts again on an unchanged
// package database loads it (one read, a checksum pass) instead of building it again (~0.4 s of
// CPU in a worker: every info/*.list read, ~12,000 lstats). Written by the package index worker
// after a build, atomically (temporary file, rename; no fsync, which would hold the index's
// hand-over for the disk: a file torn by a crash fails its length or checksum checks and is
// built again); read on the main thread through one
// asynchronous read (libuv's pool), the packed table used in place (no copy, no parse of paths).
//
// A cache is used only when everything the build read is as it was when the build ran:
//   - the build's options (dpkg directory, root, rpm binary) and this format's version;
//   - dpkg's status file and info/ directory: device, inode, size, mtime, ctime (dpkg replaces
//     both status and *.list files by rename, which changes the directory too);
//   - whether the rpm binary exists, and rpm's database files when it does;
//   - every directory the build resolved through a symlink (usr-merge's /bin, /lib, …) still
//     resolves to the same place;
//   - the file itself: owned by this user, not writable by others, and the header and every 64 KiB
//     block match their checksums (a flipped byte could otherwise name a wrong version).
// Anything else (stale, corrupt, truncated, other format) → the caller rebuilds and says why.
// The header is checked at load, each block when a look-up first reaches it (BlockGuard): a run
// reaches few of the ~170 blocks, and checking them all cost ~8 ms of the main thread at every
// start. A look-up that reaches a corrupt block has no answer (CorruptIndexError); the caller
// drops the table and rebuilds, so no version is ever read from unchecked bytes.
// Not seen: a directory that becomes a symlink outside dpkg and rpm (the next package change
// rebuilds the index).
import { closeSync, lstatSync, mkdirSync, openSync, readdirSync, realpathSync, renameSync, rmSync, writeSync } from 'node:fs';
import path from 'node:path';
import { zlibCrc32 as crc32 } from '../util/zlib-crc32.js';
import { executable, type PackageDbOptions, type PackageOwner } from './package-db.js';
import { PackedPathIndex, type ByteGuard, type PackedPathIndexData } from './packed-path-index.js';
import { readStateFile } from './state-dir.js';

/** bump when the index's contents or this layout change */
export const PACKAGE_INDEX_CACHE_FORMAT = 1;
const MAGIC = 'FNPKIDX\n';
/** magic, format, header length, header checksum, checksum kind (u32 each) */
const FIXED = 24;
const BLOCK_SHIFT = 16;
const BLOCK = 1 << BLOCK_SHIFT; // 64 KiB

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
  /** offset where the checksummed blocks start; per 64 KiB block from there: its checksum */
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

/** The cache's data blocks, each checked against its checksum the first time a look-up reaches it. */
export class BlockGuard implements ByteGuard {
  /** per block: 1 once it matched its checksum */
  private readonly ok: Uint8Array;
  failure: string | undefined;

  constructor(private readonly buf: Buffer, private readonly dataStart: number, private readonly sums: readonly number[], private readonly kind: SumKind) {
    this.ok = new Uint8Array(sums.length);
  }

  /** `len` bytes from `byteIndex` of `view`, a view into this cache's buffer */
  check(view: ArrayBufferView, byteIndex: number, len: number): boolean {
    const rel = view.byteOffset - this.buf.byteOffset + byteIndex - this.dataStart;
    // bytes outside the data are never read by a look-up that gets here (its views end there)
    const first = Math.max(0, rel) >> BLOCK_SHIFT;
    const last = Math.min(this.sums.length - 1, Math.max(0, rel + len - 1) >> BLOCK_SHIFT);
    for (let b = first; b <= last; b++) if (this.ok[b] !== 1 && !this.verify(b)) return false;
    return true;
  }

  checkAll(): boolean {
    for (let b = 0; b < this.sums.length; b++) if (this.ok[b] !== 1 && !this.verify(b)) return false;
    return true;
  }

  private verify(b: number): boolean {
    if (this.failure !== undefined) return false;
    const at = this.dataStart + b * BLOCK;
    if (checksum(this.kind, this.buf.subarray(at, at + BLOCK)) !== this.sums[b]) {
      this.failure = `corrupt: the block at offset ${at} (bytes ${at}–${Math.min(this.buf.length, at + BLOCK) - 1}) fails its checksum`;
      return false;
    }
    this.ok[b] = 1;
    return true;
  }
}

export type CacheLoad =
  | { ok: true; index: PackedPathIndex; packages: number; paths: number; rpmNote: string }
  /** absent: no cache yet (not an error) */
  | { ok: false; absent: boolean; reason: string };

const bad = (reason: string): CacheLoad => ({ ok: false, absent: false, reason });

/**
 * Loads the cache at `file` if it is intact and was built from the database as it is now.
 * Never throws: every failure is a reason (naming the offset for corrupt bytes).
 */
export async function loadPackageIndexCache(file: string, opts: PackageDbOptions): Promise<CacheLoad> {
  const r = await readStateFile(file);
  return r.ok ? parseCache(r.buf, opts) : r;
}

/** The checks and views of loadPackageIndexCache on a file's bytes (tests: in memory). */
export function parseCache(buf: Buffer, opts: PackageDbOptions): CacheLoad {
  if (buf.length < FIXED) return bad(`truncated: ${buf.length} bytes, shorter than the ${FIXED}-byte preamble`);
  if (buf.toString('latin1', 0, 8) !== MAGIC) return bad('offset 0: not a falconet package index cache (magic)');
  const format = buf.readUInt32LE(8);
  if (format !== PACKAGE_INDEX_CACHE_FORMAT) return bad(`offset 8: format ${format}, this falconet writes ${PACKAGE_INDEX_CACHE_FORMAT}`);
  const hlen = buf.readUInt32LE(12);
  if (FIXED + hlen > buf.length) return bad(`offset 12: header of ${hlen} bytes runs past the end (${buf.length} bytes)`);
  const kind = buf.readUInt32LE(20);
  if (kind !== FLETCHER && !(kind === CRC32 && crc32)) return bad(`offset 20: checksum kind ${kind} is not one this Node computes`);
  const hbytes = buf.subarray(FIXED, FIXED + hlen);
  if (checksum(kind, hbytes) !== buf.readUInt32LE(16)) return bad(`offset ${FIXED}: header (${hlen} bytes) fails its checksum`);
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
  if (buf.length !== end) return bad(`${buf.length < end ? 'truncated' : 'extended'}: ${buf.length} bytes, the header says ${end}`);
  if (!Array.isArray(h.sums) || Math.ceil((end - h.dataStart) / BLOCK) !== h.sums.length) return bad(`offset ${FIXED}: ${h.sums?.length} block checksums for ${end - h.dataStart} data bytes`);
  const guard = new BlockGuard(buf, h.dataStart, h.sums, kind);
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
