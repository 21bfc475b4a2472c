// Where the agent keeps state between runs (the package index cache): /var/lib/falconet for
// root, $XDG_STATE_HOME/falconet (default ~/.local/state/falconet) for other users.
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
