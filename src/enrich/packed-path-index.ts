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

function fnv1a(bytes: Uint8Array, off: number, len: number): number {
  let h = 0x811c9dc5;
  for (let i = off, e = off + len; i < e; i++) h = Math.imul(h ^ bytes[i]!, 0x01000193);
  return h >>> 0;
}

/** Packs a map (its iteration order is kept for entries()). */
export function packPathIndex(map: ReadonlyMap<string, PackageOwner>): { data: PackedPathIndexData; transfer: ArrayBuffer[] } {
  const owners: PackageOwner[] = [];
  const ownerNo = new Map<PackageOwner, number>();
  let bytes = 0;
  for (const k of map.keys()) bytes += Buffer.byteLength(k, 'utf8');
  const blob = new ArrayBuffer(bytes);
  const buf = Buffer.from(blob);
  const ents = new Uint32Array(map.size * 3);
  let cap = 16;
  while (cap < map.size * 2) cap *= 2;
  const slots = new Uint32Array(cap);
  const hashes = new Uint32Array(cap);
  const mask = cap - 1;
  let off = 0;
  let n = 0;
  for (const [k, o] of map) {
    let oi = ownerNo.get(o);
    if (oi === undefined) { oi = owners.length; owners.push(o); ownerNo.set(o, oi); }
    const len = buf.write(k, off, 'utf8');
    ents[n * 3] = off;
    ents[n * 3 + 1] = len;
    ents[n * 3 + 2] = oi;
    const h = fnv1a(buf, off, len);
    let s = h & mask;
    while (slots[s] !== 0) s = (s + 1) & mask; // keys of a Map are distinct
    slots[s] = n + 1;
    hashes[s] = h;
    off += len;
    n++;
  }
  const data: PackedPathIndexData = { owners, blob, ents: ents.buffer, slots: slots.buffer, hashes: hashes.buffer };
  return { data, transfer: [blob, ents.buffer, slots.buffer, hashes.buffer] };
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

  constructor(d: PackedPathIndexData) {
    this.blob = new Uint8Array(d.blob);
    this.ents = new Uint32Array(d.ents);
    this.slots = new Uint32Array(d.slots);
    this.hashes = new Uint32Array(d.hashes);
    this.owners = d.owners;
    this.mask = this.slots.length - 1;
    if (this.slots.length === 0 || (this.slots.length & this.mask) !== 0 || this.hashes.length !== this.slots.length) {
      throw new Error('packed path index: slot count is not a power of two');
    }
  }

  get size(): number {
    return this.ents.length / 3;
  }

  lookup(p: string): PackageOwner | undefined {
    if (this.scratch.length < p.length * 3) this.scratch = new Uint8Array(p.length * 3);
    const q = this.scratch;
    const len = encoder.encodeInto(p, q).written;
    const h = fnv1a(q, 0, len);
    for (let s = h & this.mask; ; s = (s + 1) & this.mask) {
      const e = this.slots[s]!;
      if (e === 0) return undefined;
      if (this.hashes[s] !== h) continue;
      const base = (e - 1) * 3;
      if (this.ents[base + 1] !== len) continue;
      const off = this.ents[base]!;
      let i = 0;
      while (i < len && this.blob[off + i] === q[i]) i++;
      if (i === len) return this.owners[this.ents[base + 2]!];
    }
  }

  /** Every entry in the order it was packed (tests, diagnostics). */
  *entries(): IterableIterator<[string, PackageOwner]> {
    for (let n = 0; n < this.size; n++) {
      const off = this.ents[n * 3]!;
      yield [decoder.decode(this.blob.subarray(off, off + this.ents[n * 3 + 1]!)), this.owners[this.ents[n * 3 + 2]!]!];
    }
  }
}
