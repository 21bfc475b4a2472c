// Start-up time: from `npm start -- -o json-min` to the agent's "sensor ready" line, with nothing
// changed since the last build (issue #10: under 5 s on an idle machine), and where it goes:
//   setup   scripts/setup.sh finding nothing to build
//   node    the CLI's modules loading (`falconet --version`)
//   sensor  the sensor alone, from exec to its hello frame (BPF object load + verifier + attach)
// Medians of STARTUP_RUNS runs (default 5). Needs root and BTF, like the agent.
import { spawn, spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const RUNS = Number(process.env.STARTUP_RUNS ?? 5);

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

function timeSync(cmd: string, args: string[]): number {
  const t = performance.now();
  const r = spawnSync(cmd, args, { cwd: REPO, stdio: 'ignore' });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.status}`);
  return performance.now() - t;
}

/**
 * ms from spawn until `ready(stderrOrStdout)` holds; then the child's whole process group is
 * stopped and waited for (npm does not pass SIGTERM on to the agent it runs, which would keep
 * the sensor attached and this bench's pipes open). Fails after 120 s.
 */
function timeUntil(cmd: string, args: string[], onStdout: boolean, ready: (text: string) => boolean): Promise<number> {
  return new Promise((resolve, reject) => {
    const t = performance.now();
    const child = spawn(cmd, args, { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    let text = '';
    let took: number | undefined;
    const stop = (): void => { try { process.kill(-child.pid!, 'SIGTERM'); } catch { /* already gone */ } };
    const timer = setTimeout(() => { stop(); setTimeout(() => { try { process.kill(-child.pid!, 'SIGKILL'); } catch { /* gone */ } }, 5000).unref(); }, 120_000);
    const watch = (d: Buffer): void => {
      if (took !== undefined) return;
      text += d.toString('latin1');
      if (!ready(text)) return;
      took = performance.now() - t;
      stop();
    };
    (onStdout ? child.stdout : child.stderr).on('data', watch);
    (onStdout ? child.stderr : child.stdout).resume();
    child.on('close', (code) => {
      clearTimeout(timer);
      if (took !== undefined) resolve(took);
      else reject(new Error(`${cmd} exited ${code} before it was ready (or in 120 s): ${text.slice(-400)}`));
    });
  });
}

const sensorBin = path.join(REPO, 'sensor/falconet-sensor');
const rows: [string, number[]][] = [['npm start → sensor ready', []], ['setup.sh (nothing to do)', []], ['node: CLI modules (--version)', []], ['sensor: exec → hello', []]];
for (let i = 0; i < RUNS; i++) {
  rows[0]![1].push(await timeUntil('npm', ['start', '--', '-o', 'json-min', '-m', 'file,socket,process'], false, (t) => t.includes('sensor ready')));
  rows[1]![1].push(timeSync('bash', ['scripts/setup.sh']));
  rows[2]![1].push(timeSync('node', ['dist/src/cli/main.js', '--version']));
  // the hello is the sensor's first frame: any byte on stdout means it is attached and running
  rows[3]![1].push(await timeUntil(sensorBin, ['--monitors', '7', '--agent-pid', String(process.pid), '--file-events', '0'], true, (t) => t.length > 0));
}
console.log(`start-up (median of ${RUNS} runs, ms; goal: npm start → sensor ready < 5000 on an idle machine)`);
console.log('| step | median ms | runs |');
console.log('|---|---|---|');
for (const [name, xs] of rows) console.log(`| ${name} | ${median(xs).toFixed(0)} | ${xs.map((x) => x.toFixed(0)).join(' ')} |`);
