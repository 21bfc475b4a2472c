// Worker thread for -c: hashes one file at a time, streaming (1 MiB reads), MD5 and SHA-256 in
// one pass. It reports the file's identity (dev, ino, size, mtime, ctime) as it was while being
// read, so the caller caches the digests under the file that was actually hashed; a file that
// changed during the read is reported as changed and cached under nothing.
import { createHash } from 'node:crypto';
import { constants } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { parentPort } from 'node:worker_threads';

export interface ChecksumJob { id: number; path: string }
export interface FileIdentity { dev: number; ino: number; size: number; mtimeNs: bigint; ctimeNs: bigint }
export type ChecksumReply =
  | { id: number; ok: true; md5: string; sha256: string; file: FileIdentity }
  | { id: number; ok: false; reason: string };

/** userspace dev_t (glibc encoding) → the kernel's internal major << 20 | minor that records carry */
export function kernelDev(dev: bigint): number {
  const major = Number(((dev >> 8n) & 0xfffn) | ((dev >> 32n) & ~0xfffn));
  const minor = Number((dev & 0xffn) | ((dev >> 12n) & ~0xffn));
  return ((major << 20) | minor) >>> 0;
}

async function identity(fh: FileHandle): Promise<FileIdentity & { regular: boolean }> {
  const s = await fh.stat({ bigint: true });
  return { dev: kernelDev(s.dev), ino: Number(s.ino), size: Number(s.size), mtimeNs: s.mtimeNs, ctimeNs: s.ctimeNs, regular: s.isFile() };
}

async function openNoAtime(path: string): Promise<FileHandle> {
  try {
    return await open(path, constants.O_RDONLY | constants.O_NOATIME | constants.O_NOFOLLOW);
  } catch (e) {
    // O_NOATIME needs ownership or CAP_FOWNER; without it a plain open still works
    if ((e as NodeJS.ErrnoException).code !== 'EPERM') throw e;
    return await open(path, constants.O_RDONLY | constants.O_NOFOLLOW);
  }
}

export async function hashFile(path: string, chunk = 1 << 20): Promise<Omit<Extract<ChecksumReply, { ok: true }>, 'id'> | { ok: false; reason: string }> {
  let fh: FileHandle | undefined;
  try {
    fh = await openNoAtime(path);
    const before = await identity(fh);
    if (!before.regular) return { ok: false, reason: 'not a regular file' };
    const md5 = createHash('md5');
    const sha = createHash('sha256');
    const buf = Buffer.allocUnsafe(chunk);
    for (;;) {
      const { bytesRead } = await fh.read(buf, 0, chunk, null);
      if (bytesRead === 0) break;
      const part = buf.subarray(0, bytesRead);
      md5.update(part);
      sha.update(part);
    }
    const after = await identity(fh);
    if (after.size !== before.size || after.mtimeNs !== before.mtimeNs || after.ctimeNs !== before.ctimeNs) {
      return { ok: false, reason: 'changed while hashing' };
    }
    const { regular: _r, ...file } = after;
    return { ok: true, md5: md5.digest('hex'), sha256: sha.digest('hex'), file };
  } catch (e) {
    return { ok: false, reason: (e as NodeJS.ErrnoException).code ?? (e as Error).message };
  } finally {
    await fh?.close();
  }
}

if (parentPort) {
  const port = parentPort;
  port.on('message', (job: ChecksumJob) => {
    void hashFile(job.path).then((r) => port.postMessage({ id: job.id, ...r } as ChecksumReply));
  });
}
