// Where the agent keeps state between runs (the package index cache): /var/lib/falconet for
// root, $XDG_STATE_HOME/falconet (default ~/.local/state/falconet) for other users.
import { open } from 'node:fs/promises';
import { homedir } from 'node:os';
import path from 'node:path';

export function defaultStateDir(env: NodeJS.ProcessEnv = process.env, uid: number = process.getuid?.() ?? 0): string {
  if (uid === 0) return '/var/lib/falconet';
  const xdg = env['XDG_STATE_HOME'];
  // the XDG spec: relative values are invalid and to be ignored
  if (xdg && path.isAbsolute(xdg)) return path.join(xdg, 'falconet');
  return path.join(env['HOME'] || homedir(), '.local', 'state', 'falconet');
}

/** Why a state file must not be trusted (another user's, or writable by others), or undefined:
 * what it says decides versions and digests in the agent's records. */
export function untrustedStateFile(st: { uid: number; mode: number }): string | undefined {
  const uid = process.getuid?.() ?? 0;
  if (st.uid !== uid && st.uid !== 0) return `owned by uid ${st.uid}, not by this user (${uid})`;
  if ((st.mode & 0o022) !== 0) return `writable by others (mode ${(st.mode & 0o777).toString(8)})`;
  return undefined;
}

export type StateFileRead = { ok: true; buf: Buffer } | { ok: false; absent: boolean; reason: string };

/** A state file's bytes, read whole into a buffer of its own (offset 0, so sections can be
 * viewed in place), if it is trusted; never throws. absent: no such file yet (not an error). */
export async function readStateFile(file: string): Promise<StateFileRead> {
  try {
    const fh = await open(file, 'r');
    try {
      const st = await fh.stat();
      const untrusted = untrustedStateFile(st);
      if (untrusted) return { ok: false, absent: false, reason: untrusted };
      const buf = Buffer.allocUnsafeSlow(st.size);
      let got = 0;
      while (got < st.size) {
        const { bytesRead } = await fh.read(buf, got, st.size - got, got);
        if (bytesRead === 0) break;
        got += bytesRead;
      }
      if (got !== st.size) return { ok: false, absent: false, reason: `truncated while reading: ${got} of ${st.size} bytes` };
      return { ok: true, buf };
    } finally {
      await fh.close();
    }
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    return code === 'ENOENT' ? { ok: false, absent: true, reason: 'none yet' } : { ok: false, absent: false, reason: `unreadable: ${code ?? (e as Error).message}` };
  }
}
