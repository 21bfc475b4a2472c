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
