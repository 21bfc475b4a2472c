// -d: kflowd's daemon mode (daemon(1,1): no chdir, no fd closing) for Node, which cannot fork:
// the command re-runs itself detached, in its own session, and the parent exits 0 once the
// child reports its sensor ready (or exits 1 with the child's message). systemd runs it as
// Type=forking (packaging/falconet.service).
import { spawn } from 'node:child_process';
import { openSync, writeSync } from 'node:fs';

const ENV = 'FALCONET_DAEMON_CHILD';

/** In the parent: starts the daemon and waits for it; returns true (the caller stops). In the
 * daemon itself: returns false (the caller goes on running the agent). */
export async function daemonize(): Promise<boolean> {
  if (process.env[ENV] === '1') return false;
  // like daemon(1,1): stdout and stderr stay open (under systemd: the journal)
  const devnull = openSync('/dev/null', 'r');
  const child = spawn(process.execPath, [...process.execArgv, ...process.argv.slice(1)], {
    detached: true,
    env: { ...process.env, [ENV]: '1' },
    stdio: [devnull, 'inherit', 'inherit', 'pipe'],
  });
  const ready = await new Promise<boolean>((resolve) => {
    (child.stdio[3] as NodeJS.ReadableStream).on('data', () => resolve(true));
    child.on('exit', () => resolve(false));
  });
  if (!ready) {
    process.exitCode = 1; // the child said why on the shared stderr
    return true;
  }
  process.stderr.write(`falconet: running in the background, pid ${child.pid}\n`);
  child.unref();
  (child.stdio[3] as NodeJS.ReadableStream & { destroy(): void }).destroy();
  return true;
}

/** In the daemon: tells the parent the sensor is ready. */
export function daemonReady(): void {
  if (process.env[ENV] !== '1') return;
  try {
    writeSync(3, 'ready\n');
  } catch { /* parent gone */ }
}
