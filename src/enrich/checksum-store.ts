// -c's digests kept between runs of the agent in the same boot, so a restarted agent does not
// hash the same executables again (nor start a worker for them). Keys are the file identities the
// cache uses (dev:ino:size:mtime ns:ctime ns); a file's ctime moves with every change to it, so
// an unchanged identity is unchanged content. Device numbers may be handed out differently after
// a reboot, so the file names the boot it was written in and is ignored in any other.
// Layout: one header line `falconet-checksums 1 <boot id> <entries> <crc32 of the body, hex>`,
// then one line per digest: `<identity> <md5> <sha256>`. Written atomically (temporary file,
// rename; no fsync: a file torn by a crash fails its count or checksum and is not used), mode
// 0600; read only when owned by this user (or root) and not writable by others. Anything else
// → not used, with the reason.
import { readFileSync } from 'node:fs';
import { open, rename, rm } from 'node:fs/promises';
import { zlibCrc32 as crc32 } from '../util/zlib-crc32.js';
import { readStateFile } from './state-dir.js';

const MAGIC = 'falconet-checksums';
const FORMAT = 1;
const LINE = /^(\d+:\d+:\d+:\d+:\d+) ([0-9a-f]{32}) ([0-9a-f]{64})$/;

export interface StoredDigest { key: string; md5: string; sha256: string }


/** CRC-32 where Node has it (≥ 20.15), else a JS sum: what the header names is compared */
function sum(body: Buffer): string {
  if (typeof crc32 === 'function') return `crc32:${(crc32(body) >>> 0).toString(16)}`;
  let a = 1;
  let b = 0;
  for (let i = 0; i < body.length; i++) { a = (a + body[i]!) % 65521; b = (b + a) % 65521; }
  return `adler32:${(((b << 16) | a) >>> 0).toString(16)}`;
}

export function bootId(path = '/proc/sys/kernel/random/boot_id'): string {
  try { return readFileSync(path, 'latin1').trim(); } catch { return 'unknown'; }
}

export type DigestLoad = { ok: true; digests: StoredDigest[] } | { ok: false; absent: boolean; reason: string };

/** Reads the digests kept in `file` for boot `boot`; never throws. */
export async function loadDigests(file: string, boot: string): Promise<DigestLoad> {
  const r = await readStateFile(file);
  return r.ok ? parseDigests(r.buf, boot) : r;
}

/** The checks of loadDigests on a file's bytes. */
export function parseDigests(buf: Buffer, boot: string): DigestLoad {
  const bad = (reason: string): DigestLoad => ({ ok: false, absent: false, reason });
  const nl = buf.indexOf(10);
  if (nl < 0) return bad('no header line');
  const h = buf.toString('latin1', 0, nl).split(' ');
  if (h.length !== 5 || h[0] !== MAGIC) return bad('line 1: not a falconet checksum store');
  if (h[1] !== String(FORMAT)) return bad(`line 1: format ${h[1]}, this falconet writes ${FORMAT}`);
  if (h[2] !== boot) return bad(`written in another boot (${h[2]}; now ${boot}): device numbers may differ`);
  const body = buf.subarray(nl + 1);
  if (sum(body) !== h[4]) return bad(`bytes ${nl + 1}–${buf.length - 1}: checksum ${sum(body)}, the header says ${h[4]}`);
  const lines = body.length ? body.toString('latin1').split('\n') : [];
  if (lines.length && lines[lines.length - 1] === '') lines.pop();
  if (String(lines.length) !== h[3]) return bad(`${lines.length} entries, the header says ${h[3]}`);
  const digests: StoredDigest[] = [];
  for (let i = 0; i < lines.length; i++) {
    const m = LINE.exec(lines[i]!);
    if (!m) return bad(`line ${i + 2}: not "<identity> <md5> <sha256>"`);
    digests.push({ key: m[1]!, md5: m[2]!, sha256: m[3]! });
  }
  return { ok: true, digests };
}

/** The bytes of a store holding `digests` for boot `boot`. */
export function formatDigests(digests: readonly StoredDigest[], boot: string): Buffer {
  const body = Buffer.from(digests.map((d) => `${d.key} ${d.md5} ${d.sha256}\n`).join(''), 'latin1');
  return Buffer.concat([Buffer.from(`${MAGIC} ${FORMAT} ${boot} ${digests.length} ${sum(body)}\n`, 'latin1'), body]);
}

/** Writes the store atomically (temporary file in the same directory, rename). */
export async function saveDigests(file: string, digests: readonly StoredDigest[], boot: string): Promise<void> {
  const tmp = `${file}.tmp-${process.pid}-${Date.now()}`;
  const fh = await open(tmp, 'wx', 0o600);
  try {
    await fh.writeFile(formatDigests(digests, boot));
  } catch (e) {
    await fh.close();
    await rm(tmp, { force: true });
    throw e;
  }
  await fh.close();
  try {
    await rename(tmp, file);
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  }
}
