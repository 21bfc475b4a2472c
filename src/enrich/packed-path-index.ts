// A path → package owner table packed into ArrayBuffers: built in the package index worker and
// transferred (not copied) to the main thread, where look-ups read it synchronously. The ~120,000
// paths of a Debian system live outside the JS heap, so the garbage collector never walks them
// (a Map of them made every full collection on the record path dearer) and the main thread
// spends no CPU deserialising them. Open addressing, FNV-1a over the UTF-8 bytes, load ≤ 1/2.
import type { PackageOwner } from './package-db.js';

/** What crosses from the worker: the owners (structured clone) and four transferable buffers. */
export interface PackedPathIndexData {
  readonly owners: PackageOwner[];
  /** the keys' UTF-8 bytes back to back */
  readonly blob: ArrayBuffer;
  /** per entry, in insertion order: offset, length, owner index (Uint32) */
  readonly ents: ArrayBuffer;
  /** per slot: entry index + 1, 0 when empty (Uint32; a power of two of them) */
  readonly slots: ArrayBuffer;
  /** per slot: the key's hash (Uint32) */
  readonly hashes: ArrayBuffer;
}

/** FNV-1a's start value and prime (the hash is continued byte by byte: `Math.imul(h ^ byte, FNV_PRIME)`) */
export const FNV_BASIS = 0x811c9dc5;
export const FNV_PRIME = 0x01000193;

function fnv1a(bytes: Uint8Array, off: number, len: number): number {
  let h = FNV_BASIS;
  for (let i = off, e = off + len; i < e; i++) h = Math.imul(h ^ bytes[i]!, FNV_PRIME);
  return h >>> 0;
}

/**
 * Builds the table directly (no Map of 120,000 strings first): a key's bytes are written where
 * the next key goes, hashed and probed; a key already there is dropped (the first owner wins),
 * as with `if (!map.has(k)) map.set(k, owner)`. add() takes a string; the package database
 * reader writes the bytes itself (`reserve`, `blob`, `at`, `commit`), with no string per path.
 */
export class PackedPathIndexBuilder {
  /** the keys' bytes; sized up front (pages are only touched as they are written, so a small
   * index costs no more): growing copies, and large allocations make the GC run */
  private buf = Buffer.allocUnsafeSlow(32 << 20);
  private off = 0;
  private ents = new Uint32Array(3 * 4096);
  private n = 0;
  private slots = new Uint32Array(8192);
  /** the keys' hashes as int32 (the same bits the reader's Uint32Array sees) */
  private hashes = new Int32Array(8192);
  private readonly owners: PackageOwner[] = [];
  private readonly ownerNo = new Map<PackageOwner, number>();
  /** the owner of the last key added and its number (a list adds many keys of one owner) */
  private lastOwner: PackageOwner | null = null;
  private lastOwnerNo = 0;

  get size(): number {
    return this.n;
  }

  /** where the next key's bytes go: `blob` from offset `at`, after `reserve` */
  get blob(): Buffer {
    return this.buf;
  }

  get at(): number {
    return this.off;
  }

  /** Makes room for `bytes` bytes at `at` (the blob may be replaced: read it after). */
  reserve(bytes: number): void {
    if (this.buf.length - this.off < bytes) this.growBlob(bytes);
  }

  /** Moves `at` past `bytes` bytes written there that are no key themselves (a list file read
   * into the blob, whose lines become keys where they are: commitInPlace). */
  advance(bytes: number): void {
    this.off += bytes;
  }

  /** Adds `key` unless it is there; true when added. */
  add(key: string, owner: PackageOwner): boolean {
    this.reserve(key.length * 3);
    const len = this.buf.write(key, this.off, 'utf8');
    return this.commit(len, fnv1a(this.buf, this.off, len), owner);
  }

  /**
   * Adds the key whose `len` bytes were written at `at` and whose FNV-1a hash is `h` (unsigned or
   * int32), unless it is there; true when added (`at` then moves past it).
   */
  commit(len: number, h: number, owner: PackageOwner): boolean {
    if (!this.insert(this.off, len, h | 0, owner)) return false;
    this.off += len;
    return true;
  }

  /** Adds the key at blob[keyAt, keyAt + len), somewhere before `at`, unless it is there. */
  commitInPlace(keyAt: number, len: number, h: number, owner: PackageOwner): boolean {
    return this.insert(keyAt, len, h | 0, owner);
  }

  private insert(off: number, len: number, h: number, owner: PackageOwner): boolean {
    const blob = this.buf;
    const mask = this.slots.length - 1;
    let s = h & mask;
    for (; this.slots[s] !== 0; s = (s + 1) & mask) {
      if (this.hashes[s] !== h) continue;
      const base = (this.slots[s]! - 1) * 3;
      if (this.ents[base + 1] !== len) continue;
      const o = this.ents[base]!;
      let i = 0;
      while (i < len && blob[o + i] === blob[off + i]) i++;
      if (i === len) return false;
    }
    if (owner !== this.lastOwner) {
      let oi = this.ownerNo.get(owner);
      if (oi === undefined) { oi = this.owners.length; this.owners.push(owner); this.ownerNo.set(owner, oi); }
      this.lastOwner = owner;
      this.lastOwnerNo = oi;
    }
    if (this.ents.length < (this.n + 1) * 3) { const e = new Uint32Array(this.ents.length * 2); e.set(this.ents); this.ents = e; }
    this.ents[this.n * 3] = off;
    this.ents[this.n * 3 + 1] = len;
    this.ents[this.n * 3 + 2] = this.lastOwnerNo;
    this.n++;
    this.slots[s] = this.n;
    this.hashes[s] = h;
    if (this.n * 2 > this.slots.length) this.rehash(this.slots.length * 2);
    return true;
  }

  private growBlob(need: number): void {
    const b = Buffer.allocUnsafeSlow(Math.max(this.buf.length * 2, this.off + need));
    this.buf.copy(b, 0, 0); // all of it: bytes past `at` may be a file being read in

    this.buf = b;
  }

  private rehash(cap: number): void {
    const slots = new Uint32Array(cap);
    const hashes = new Int32Array(cap);
    const mask = cap - 1;
    for (let i = 0; i < this.slots.length; i++) {
      const e = this.slots[i]!;
      if (e === 0) continue;
      let s = this.hashes[i]! & mask;
      while (slots[s] !== 0) s = (s + 1) & mask;
      slots[s] = e;
      hashes[s] = this.hashes[i]!;
    }
    this.slots = slots;
    this.hashes = hashes;
  }

  /** The table in buffers of their own (transferable), sized to what was added. */
  finish(): { data: PackedPathIndexData; transfer: ArrayBuffer[] } {
    const blob = new ArrayBuffer(this.off);
    new Uint8Array(blob).set(this.buf.subarray(0, this.off));
    const ents = this.ents.slice(0, this.n * 3).buffer;
    const slots = this.slots.buffer; // exactly their size: handed over as they are
    const hashes = this.hashes.buffer;
    return { data: { owners: this.owners, blob, ents, slots, hashes }, transfer: [blob, ents, slots, hashes] };
  }
}

/** ByteGuard.check: the bytes may be read / fail their checksum / are not read in yet */
export const BYTES_OK = 1;
export const BYTES_CORRUPT = 0;
export const BYTES_ABSENT = -1;

/**
 * Checks the bytes a look-up is about to read (the on-disk cache reads its blocks and verifies
 * them as look-ups first reach them). BYTES_CORRUPT: `failure` says where. BYTES_ABSENT (only when
 * `mayRead` is false): the bytes are not in memory yet; `missing` names the block that `load`
 * brings in.
 */
export interface ByteGuard {
  check(view: ArrayBufferView, byteIndex: number, len: number, mayRead: boolean): number;
  /** checks everything (a walk over every entry), reading what is not in memory */
  checkAll(): boolean;
  readonly failure: string | undefined;
  readonly missing: number;
  /** reads block `block` in without blocking the caller's thread */
  load(block: number): Promise<void>;
  /** releases what it holds open (a file) */
  close(): void;
  /** blocks read in: by check (mayRead) and by load */
  readonly reads?: { readonly sync: number; readonly async: number };
}

/** A look-up reached bytes that fail their checksum: it has no answer, and the table is unusable. */
export class CorruptIndexError extends Error {}

/**
 * Thrown by a look-up that may not wait for a read when it reached bytes not read in yet:
 * `resident(path)` brings them in without blocking, then the look-up answers. A signal, not a
 * failure: no Error, so throwing it captures no stack (it is thrown once per path a start reads).
 */
export class NotResident {
  constructor(readonly path: string) {}
}

/** The same table as views into buffers it does not own (the on-disk cache, read in one piece). */
export interface PackedPathIndexViews {
  readonly owners: readonly PackageOwner[];
  readonly blob: Uint8Array;
  readonly ents: Uint32Array;
  readonly slots: Uint32Array;
  readonly hashes: Uint32Array;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export class PackedPathIndex {
  private readonly blob: Uint8Array;
  private readonly ents: Uint32Array;
  private readonly slots: Uint32Array;
  private readonly hashes: Uint32Array;
  private readonly owners: readonly PackageOwner[];
  private readonly mask: number;
  /** the query's UTF-8 bytes */
  private scratch = new Uint8Array(1024);

  constructor(d: PackedPathIndexData | PackedPathIndexViews, private readonly guard?: ByteGuard) {
    const own = d.blob instanceof ArrayBuffer;
    this.blob = own ? new Uint8Array(d.blob) : d.blob as Uint8Array;
    this.ents = own ? new Uint32Array(d.ents as ArrayBuffer) : d.ents as Uint32Array;
    this.slots = own ? new Uint32Array(d.slots as ArrayBuffer) : d.slots as Uint32Array;
    this.hashes = own ? new Uint32Array(d.hashes as ArrayBuffer) : d.hashes as Uint32Array;
    this.owners = d.owners;
    this.mask = this.slots.length - 1;
    if (this.slots.length === 0 || (this.slots.length & this.mask) !== 0 || this.hashes.length !== this.slots.length) {
      throw new Error('packed path index: slot count is not a power of two');
    }
  }

  /**
   * A table from views (the cache file), its sizes checked. The bytes are the cache's checksums'
   * business; a look-up never reads outside them anyway (a key past the end compares unequal, an
   * owner index past the end gives no owner).
   */
  static fromViews(v: PackedPathIndexViews, guard?: ByteGuard): PackedPathIndex {
    const n = v.ents.length / 3;
    if (!Number.isInteger(n) || n * 2 > v.slots.length) throw new Error(`packed path index: ${v.ents.length} entry words for ${v.slots.length} slots`);
    return new PackedPathIndex(v, guard);
  }

  get size(): number {
    return this.ents.length / 3;
  }

  /**
   * Throws CorruptIndexError when the bytes it reaches fail the guard's checks; with `mayRead`
   * false, NotResident when they are not in memory yet (instead of reading them).
   */
  lookup(p: string, mayRead = true): PackageOwner | undefined {
    if (this.scratch.length < p.length * 3) this.scratch = new Uint8Array(p.length * 3);
    const q = this.scratch;
    const len = encoder.encodeInto(p, q).written;
    const h = fnv1a(q, 0, len);
    const g = this.guard;
    const ok = (view: ArrayBufferView, byteIndex: number, n: number): void => {
      const r = g!.check(view, byteIndex, n, mayRead);
      if (r === BYTES_OK) return;
      throw r === BYTES_ABSENT ? new NotResident(p) : new CorruptIndexError(g!.failure);
    };
    for (let s = h & this.mask; ; s = (s + 1) & this.mask) {
      if (g) { ok(this.slots, s * 4, 4); ok(this.hashes, s * 4, 4); }
      const e = this.slots[s]!;
      if (e === 0) return undefined;
      if (this.hashes[s] !== h) continue;
      const base = (e - 1) * 3;
      if (g) ok(this.ents, base * 4, 12);
      if (this.ents[base + 1] !== len) continue;
      const off = this.ents[base]!;
      if (g) ok(this.blob, off, len);
      let i = 0;
      while (i < len && this.blob[off + i] === q[i]) i++;
      if (i === len) return this.owners[this.ents[base + 2]!];
    }
  }

  /**
   * Brings in, without blocking this thread, every block a look-up of `p` reaches, so that
   * `lookup(p, false)` answers (or throws CorruptIndexError). Settles once it does.
   */
  async resident(p: string): Promise<void> {
    const g = this.guard;
    if (!g) return;
    for (;;) {
      try {
        this.lookup(p, false);
        return;
      } catch (e) {
        if (!(e instanceof NotResident)) return; // corrupt: the caller's look-up says so
        await g.load(g.missing);
      }
    }
  }

  /** Releases the file behind a table read from disk (nothing for one built in memory). */
  close(): void {
    this.guard?.close();
  }

  /** Blocks read in from the file behind the table: by look-ups that could block, and through
   * libuv's pool (tests, diagnostics; undefined for a table built in memory) */
  get reads(): { readonly sync: number; readonly async: number } | undefined {
    return this.guard?.reads;
  }

  /** Every entry in the order it was packed (tests, diagnostics). */
  *entries(): IterableIterator<[string, PackageOwner]> {
    if (this.guard && !this.guard.checkAll()) throw new CorruptIndexError(this.guard.failure);
    for (let n = 0; n < this.size; n++) {
      const off = this.ents[n * 3]!;
      yield [decoder.decode(this.blob.subarray(off, off + this.ents[n * 3 + 1]!)), this.owners[this.ents[n * 3 + 2]!]!];
    }
  }
}
