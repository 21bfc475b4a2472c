// Userspace decode cost per record by kind (file, process, socket): the sensor's frames of a
// synthetic storm stream (bench/lib/kind-streams.ts) decoded into records, warm (30 passes, then
// 40 measured), in a process of its own per measurement. The floor is the same frames split and
// their headers read without decoding a record. Given another build's dist directory (an older
// commit's `npx tsc` output), the same runs of that build alternate with this one's, for an A/B of
// a decoder change. No root.
// Usage: node dist/bench/micro/decode-records.js [other-dist] [rounds=3] [records=8000]
//   other build: git worktree add /tmp/old REV && ln -s "$PWD/node_modules" /tmp/old/ && (cd /tmp/old && npx tsc -p .)
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { KINDS, writeKindStream } from '../lib/kind-streams.js';
import { median } from '../lib/proc.js';

const self = fileURLToPath(import.meta.url);
const thisDist = path.resolve(path.dirname(self), '../..');
const WARM = 30, MEASURED = 40;

type Frame = { kind: number; body: Buffer };
interface DecodeApi {
  decodeFrame: (f: Frame) => { kind: string; records?: unknown[] };
  FrameSplitter: new () => { push(chunk: Buffer): Frame[] };
}

/** Child: µs of CPU per record to split `file`'s stream into frames and decode them with
 * `dist`'s decoder (or only split it and read a word of each frame: the floor). */
async function child(dist: string, file: string, floor: boolean): Promise<string> {
  const { decodeFrame } = await import(path.join(dist, 'src/sensor/decode.js')) as Pick<DecodeApi, 'decodeFrame'>;
  const { FrameSplitter } = await import(path.join(dist, 'src/sensor/frames.js')) as Pick<DecodeApi, 'FrameSplitter'>;
  const buf = readFileSync(file);
  const records = new FrameSplitter().push(buf).reduce((n, f) => n + (decodeFrame(f).records?.length ?? 0), 0);
  let sink = 0;
  // both split the stream as the agent's source does; only one decodes
  const pass = (): void => {
    for (const f of new FrameSplitter().push(buf)) {
      if (floor) sink += f.body.length > 0 ? f.body.readUInt32LE(0) : 0;
      else sink += decodeFrame(f).records?.length ?? 0;
    }
  };
  for (let i = 0; i < WARM; i++) pass();
  const c0 = process.cpuUsage();
  for (let i = 0; i < MEASURED; i++) pass();
  const c = process.cpuUsage(c0);
  return `${((c.user + c.system) / (MEASURED * records)).toFixed(3)} ${sink > 0 ? 1 : 0}`;
}


async function main(): Promise<void> {
  if (process.argv[2] === '--child') {
    console.log(await child(process.argv[3]!, process.argv[4]!, process.argv[5] === 'floor'));
    return;
  }
  const other = process.argv[2] && process.argv[2] !== '-' ? path.resolve(process.argv[2]) : undefined;
  const rounds = Number(process.argv[3] ?? 3), n = Number(process.argv[4] ?? 8000);
  if (!(rounds > 0 && n > 0)) throw new Error('usage: decode-records.js [other-dist|-] [rounds>0] [records>0]');
  const dir = mkdtempSync(path.join(tmpdir(), 'fn-decode-'));
  const run = (dist: string, file: string, mode = 'decode'): number =>
    Number(execFileSync(process.execPath, [self, '--child', dist, file, mode], { encoding: 'utf8' }).trim().split(' ')[0]);
  console.log(`decode CPU µs per record, warm (${WARM} passes, then ${MEASURED} measured), ${n} synthetic records per kind, median of ${rounds} rounds` +
    (other ? `; this build against ${other}, alternated` : ''));
  console.log('');
  console.log(other ? '| records | floor (split only) | this build | other build | this / other |' : '| records | floor (split only) | decode | decode − floor |');
  console.log(other ? '|---|---|---|---|---|' : '|---|---|---|---|');
  try {
    for (const kind of KINDS) {
      const file = path.join(dir, `${kind}.bin`);
      writeKindStream(kind, n, file);
      const floor: number[] = [], mine: number[] = [], theirs: number[] = [];
      for (let r = 0; r < rounds; r++) {
        floor.push(run(thisDist, file, 'floor'));
        // the order flips every round: a drift of the machine falls on both builds alike
        const order = other && r % 2 ? [other, thisDist] : [thisDist, ...(other ? [other] : [])];
        for (const d of order) (d === thisDist ? mine : theirs).push(run(d, file));
      }
      const f = median(floor), m = median(mine);
      console.log(other
        ? `| ${kind} | ${f.toFixed(2)} | ${m.toFixed(2)} | ${median(theirs).toFixed(2)} | ${(m / median(theirs)).toFixed(3)} |`
        : `| ${kind} | ${f.toFixed(2)} | ${m.toFixed(2)} | ${(m - f).toFixed(2)} |`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
