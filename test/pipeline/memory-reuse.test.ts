// Memory reuse on the json-min → file hot path: the encoder writes each batch over the last one
// once the file sink's queue has copied it (Encoder.release), and the queue reuses the slabs of
// records the file sink has written (Sink.releasesData). Neither may change a byte: the file
// must hold exactly what stdout (which reuses nothing) gets, through a queue large enough never
// to block and one so small that the producer waits on it and its slabs turn over constantly.
// Also the queue's record ids and frame-size accounting: every record delivered, none dropped.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { runPipeline } from '../../src/pipeline/agent.js';
import { replaySource } from '../../src/sensor/source.js';
import { end, fileRecord, hello, records } from '../unit/stream-builder.js';

const N = 6000;

function stream(dir: string): string {
  const frames: Buffer[] = [hello()];
  let batch: Buffer[] = [];
  for (let i = 0; i < N; i++) {
    // names of varying length (and a few that need escaping) so records differ in size
    const name = i % 97 === 0 ? `odd "name" ${i}\\x` : `file-${i}-${'y'.repeat(i % 40)}.dat`;
    batch.push(fileRecord({ pid: 1000 + (i % 7), ino: 10 + i, path: `/srv/d${i % 3}/${name}`, ts: 5_000_000_000n + BigInt(i) * 1000n }));
    if (batch.length === 200 + (i % 50)) { frames.push(records(batch)); batch = []; }
  }
  if (batch.length) frames.push(records(batch));
  frames.push(end());
  const f = path.join(dir, 's.bin');
  writeFileSync(f, Buffer.concat(frames));
  return f;
}

async function viaStdout(file: string): Promise<Buffer> {
  const out = new PassThrough();
  const parts: Buffer[] = [];
  out.on('data', (d: Buffer) => parts.push(d));
  await runPipeline(replaySource(file), { output: 'json-min', hostFromStream: true, log: () => {} }, out);
  return Buffer.concat(parts);
}

async function viaFile(file: string, out: string, query: string): Promise<{ data: Buffer; delivered: number; dropped: number }> {
  const s = await runPipeline(replaySource(file), { output: 'json-min', hostFromStream: true, log: () => {}, sinks: [`file://${out}?${query}`] }, new PassThrough());
  let delivered = 0;
  let dropped = 0;
  for (const [, f] of s.counters.sinks) {
    const st = f();
    delivered += st.delivered;
    dropped += Object.values(st.dropped).reduce((a: number, n) => a + (n ?? 0), 0);
  }
  return { data: readFileSync(out), delivered, dropped };
}

test('json-min to a file sink is byte-identical to stdout while encoder and queue reuse their memory', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'fn-reuse-'));
  try {
    const file = stream(dir);
    const want = await viaStdout(file);
    assert.equal(want.toString().split('\n').length, N + 1);
    for (const query of ['policy=block', 'policy=block&queue=64KB', 'policy=block&queue=300KB&batch=7']) {
      const out = path.join(dir, `out-${query.replace(/[^a-z0-9]/gi, '_')}.jsonl`);
      const got = await viaFile(file, out, query);
      assert.equal(got.dropped, 0, query);
      assert.equal(got.delivered, N, query);
      assert.ok(got.data.equals(want), `${query}: file differs from stdout`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
