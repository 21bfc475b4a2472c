// Userspace decode and encode cost per record by kind (file, process, socket): the sensor's frames
// of a synthetic storm stream (bench/lib/kind-streams.ts) decoded into records, and those records
// encoded by the json-min Encoder the agent runs (in batches of 64, released after each as the
// runtime does), warm (30 passes, then 40 measured), in a process of its own per measurement. The
// decode floor is the same frames split and their headers read without decoding a record. Given
// another build's dist directory (an older commit's `npx tsc` output), the same runs of that build
// alternate with this one's, for an A/B of a decoder or encoder change. No root.
// Usage: node dist/bench/micro/decode-records.js [other-dist|-] [rounds=3] [records=8000]
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
  decodeFrame: (f: Frame) => { kind: string; records?: { type: string }[] };
  FrameSplitter: new () => { push(chunk: Buffer): Frame[] };
}
interface EncodeApi {
  kflowdEncoder: (format: 'json-min') => { encode(env: object): string | Uint8Array | null; release?(): void };
}
const KIND: Record<string, string> = { file: 'file', sock: 'socket', proc: 'process' };
/** what the host stage attaches to every record */
const ENRICH = {
  host: { hostName: 'bench-host', hostIP: '192.0.2.2', system: 'Linux', kernel: '6.18.0', version: 'falconet-bench', bootToRealNs: 1_712_244_873_123_456_789n, startBootNs: 1_000_000_000n },
  users: { user: 'root', group: 'root', fileUser: 'root', fileGroup: 'root' },
};

/** Child: µs of CPU per record for `dist`'s json-min Encoder on `file`'s records (decoded once). */
async function encodeChild(dist: string, file: string): Promise<string> {
  const { decodeFrame } = await import(path.join(dist, 'src/sensor/decode.js')) as Pick<DecodeApi, 'decodeFrame'>;
  const { FrameSplitter } = await import(path.join(dist, 'src/sensor/frames.js')) as Pick<DecodeApi, 'FrameSplitter'>;
  const { kflowdEncoder } = await import(path.join(dist, 'src/pipeline/encoders/kflowd.js')) as EncodeApi;
  const recs = new FrameSplitter().push(readFileSync(file)).flatMap((f) => decodeFrame(f).records ?? []);
  const envs = recs.map((rec, i) => ({ kind: KIND[rec.type], rec, id: { host: 'h', boot: 'b', seq: BigInt(i + 1) }, enrich: ENRICH }));
  const enc = kflowdEncoder('json-min');
  let bytes = 0;
  const pass = (): void => {
    for (let i = 0; i < envs.length; i++) {
      const out = enc.encode(envs[i]!);
      bytes += out === null ? 0 : out.length;
      if ((i & 63) === 63) enc.release?.();
    }
    enc.release?.();
  };
  for (let i = 0; i < WARM; i++) pass();
  const c0 = process.cpuUsage();
  for (let i = 0; i < MEASURED; i++) pass();
  const c = process.cpuUsage(c0);
  return `${((c.user + c.system) / (MEASURED * envs.length)).toFixed(3)} ${bytes > 0 ? 1 : 0}`;
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
    console.log(process.argv[5] === 'encode' ? await encodeChild(process.argv[3]!, process.argv[4]!)
      : await child(process.argv[3]!, process.argv[4]!, process.argv[5] === 'floor'));
    return;
  }
  const other = process.argv[2] && process.argv[2] !== '-' ? path.resolve(process.argv[2]) : undefined;
  const rounds = Number(process.argv[3] ?? 3), n = Number(process.argv[4] ?? 8000);
  if (!(rounds > 0 && n > 0)) throw new Error('usage: decode-records.js [other-dist|-] [rounds>0] [records>0]');
  const dir = mkdtempSync(path.join(tmpdir(), 'fn-decode-'));
  const run = (dist: string, file: string, mode = 'decode'): number =>
    Number(execFileSync(process.execPath, [self, '--child', dist, file, mode], { encoding: 'utf8' }).trim().split(' ')[0]);
  console.log(`CPU µs per record, warm (${WARM} passes, then ${MEASURED} measured), ${n} synthetic records per kind, median of ${rounds} rounds` +
    (other ? `; this build against ${other}, alternated` : ''));
  try {
    const files = KINDS.map((kind) => {
      const file = path.join(dir, `${kind}.bin`);
      writeKindStream(kind, n, file);
      return { kind, file };
    });
    for (const mode of ['decode', 'encode'] as const) {
      console.log('');
      console.log(mode === 'decode' ? 'decode (frames into records):' : 'encode (records into json-min lines, the agent\'s Encoder):');
      const head = mode === 'decode' ? '| records | floor (split only) ' : '| records ';
      console.log(other ? `${head}| this build | other build | this / other |` : mode === 'decode' ? `${head}| decode | decode − floor |` : `${head}| encode |`);
      console.log(`${head.replace(/[^|]+/g, '---')}${other ? '|---|---|---|' : mode === 'decode' ? '|---|---|' : '|---|'}`);
      for (const { kind, file } of files) {
        const floor: number[] = [], mine: number[] = [], theirs: number[] = [];
        for (let r = 0; r < rounds; r++) {
          if (mode === 'decode') floor.push(run(thisDist, file, 'floor'));
          // the order flips every round: a drift of the machine falls on both builds alike
          const order = other && r % 2 ? [other, thisDist] : [thisDist, ...(other ? [other] : [])];
          for (const d of order) (d === thisDist ? mine : theirs).push(run(d, file, mode));
        }
        const f = mode === 'decode' ? `${median(floor).toFixed(2)} | ` : '', m = median(mine);
        console.log(other
          ? `| ${kind} | ${f}${m.toFixed(2)} | ${median(theirs).toFixed(2)} | ${(m / median(theirs)).toFixed(3)} |`
          : mode === 'decode' ? `| ${kind} | ${f}${m.toFixed(2)} | ${(m - median(floor)).toFixed(2)} |` : `| ${kind} | ${m.toFixed(2)} |`);
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
