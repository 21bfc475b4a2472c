// The pipeline on recorded streams: exact kflowd output, chunking, and clean errors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { runPipeline, type PipelineOptions } from '../../src/pipeline/agent.js';
import { replaySource } from '../../src/sensor/source.js';
import { FrameError, FrameSplitter } from '../../src/sensor/frames.js';
import { decodeFrame } from '../../src/sensor/decode.js';
import { FF } from '../../src/sensor/layout.js';
import { end, fileRecord, hello, records, stats } from './stream-builder.js';
import { scratchDir } from '../lib/temp-dir.js';

async function replay(stream: Buffer, opts: Partial<PipelineOptions> = {}): Promise<string> {
  const f = path.join(scratchDir('fn-replay-'), 's.bin');
  writeFileSync(f, stream);
  const out = new PassThrough();
  let text = '';
  out.setEncoding('utf8').on('data', (d: string) => { text += d; });
  await runPipeline(replaySource(f), { output: 'json-min', hostFromStream: true, ...opts }, out);
  return text;
}

const BOOT_TO_REAL = 1_712_244_873_000_000_000n; // realtime = boot + this

test('replayed file record has kflowd keys, order and formats', async () => {
  const s = Buffer.concat([
    hello({ bootToRealNs: BOOT_TO_REAL, startBootNs: 1_000_000_000n }),
    records([fileRecord({
      pid: 183547, ppid: 183546, uid: 1002, gid: 1002, comm: 'sftp-server', exe: 'sftp-server', parentExe: 'sshd',
      tsFirst: 1_831_160_000n, ts: 2_643_031_330n, procStart: 234_738_000n,
      events: [0, 1, 0, 0, 0, 2, 1, 0, 0, 0, 0], ino: 19567988, mode: 0o100755, size: 41, sizeFirst: 0,
      path: '/home/dirk/malware', mtime: 1_712_244_875_154_106_191n, mtimeFirst: 1_712_244_874_826_112_510n,
    })]),
    end(),
  ]);
  const line = (await replay(s)).trim();
  const o = JSON.parse(line) as Record<string, unknown>;
  assert.deepEqual(Object.keys(o), [
    'InfoSequenceNumber', 'InfoTimestamp', 'InfoMonitor', 'InfoHostName', 'InfoHostIP', 'InfoSystem', 'InfoKernel',
    'InfoVersion', 'InfoUptime', 'ProcParent', 'Proc', 'ProcUser', 'ProcGroup', 'ProcPPID', 'ProcPID', 'ProcTID',
    'ProcUID', 'ProcGID', 'ProcAge', 'FilePath', 'File', 'FileMode', 'FileEventCount', 'FileEvents',
    'FileEventsDuration', 'FileInode', 'FileInodeLinkCount', 'FileDevice', 'FilePermissions', 'FileUser', 'FileGroup',
    'FileUID', 'FileGID', 'FileSize', 'FileSizeChange', 'FileAccessTime', 'FileStatusChangeTime',
    'FileModificationTime', 'FileModificationTimeChange',
  ]);
  assert.equal(o.InfoTimestamp, 'Thu, Apr 04 2024 15:34:35.643031330 UTC');
  assert.equal(o.InfoHostName, 'testhost');
  assert.equal(o.InfoKernel, '6.18.0-test');
  assert.match(line, /"InfoUptime": 1\.643031330,/);
  assert.match(line, /"ProcAge": 2\.408293330,/);
  assert.match(line, /"FileEventsDuration": 0\.811871330,/);
  assert.match(line, /"FileModificationTimeChange": 0\.327993681}$/);
  assert.equal(o.Proc, 'sftp-server');
  assert.equal(o.ProcParent, 'sshd');
  assert.equal(o.FilePath, '/home/dirk/');
  assert.equal(o.File, 'malware');
  assert.deepEqual(o.FileEvents, { OPEN: 1, MODIFY: 2, CLOSE_WRITE: 1 });
  assert.equal(o.FileEventCount, 4);
  assert.equal(o.FilePermissions, '0755/-rwxr-xr-x');
  assert.equal(o.FileSizeChange, 41);
  assert.equal(o.FileModificationTime, 'Thu, Apr 04 2024 15:34:35.154106191 UTC');
});

test('rename shows FileOrigin; unchanged size and mtime omit the change keys', async () => {
  const s = Buffer.concat([hello(), records([fileRecord({ flags: FF.MOVED, origin: 'f', path: '/w/g', events: [0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 0], size: 7, sizeFirst: 7 })]), end()]);
  const o = JSON.parse((await replay(s)).trim()) as Record<string, unknown>;
  assert.equal(o.File, 'g');
  assert.equal(o.FileOrigin, 'f');
  assert.equal(Object.keys(o).indexOf('FileOrigin'), Object.keys(o).indexOf('File') + 1);
  assert.equal(o.FileSizeChange, undefined);
  assert.equal(o.FileModificationTimeChange, undefined);
});

test('json output is pretty with the 0x1E record separator; table has one row per record', async () => {
  const s = Buffer.concat([hello(), records([fileRecord({}), fileRecord({ path: '/a/b' })]), stats(), end()]);
  const pretty = await replay(s, { output: 'json' });
  const parts = pretty.split('\n\x1e\n').filter((p) => p.trim());
  assert.equal(parts.length, 2);
  assert.equal((JSON.parse(parts[1]!) as { InfoSequenceNumber: number }).InfoSequenceNumber, 2);
  assert.match(parts[0]!, /^\{\n {2}"InfoSequenceNumber": 1,\n/);
  const table = (await replay(s, { output: 'table' })).trim().split('\n');
  assert.equal(table.length, 3);
  assert.match(table[0]!, /^TIME/);
  assert.match(table[2]!, /F,CR,OP,MO,CW +5 .*\/a\/b$/);
});

test('frames split at every byte boundary decode the same', () => {
  const s = Buffer.concat([hello(), records([fileRecord({}), fileRecord({ path: '/x/' + 'y'.repeat(300) })]), stats(), end()]);
  const whole = new FrameSplitter().push(s).map((f) => decodeFrame(f));
  for (let cut = 1; cut < s.length; cut += 7) {
    const sp = new FrameSplitter();
    const got = [...sp.push(s.subarray(0, cut)), ...sp.push(s.subarray(cut))].map((f) => decodeFrame(f));
    assert.deepEqual(got, whole);
  }
});

test('corrupt and truncated streams give an error naming the byte offset', async () => {
  const good = Buffer.concat([hello(), records([fileRecord({})]), end()]);
  const bad = Buffer.from(good);
  bad.writeUInt16LE(99, good.length - 8 + 4); // corrupt the end frame's kind
  await assert.rejects(replay(bad), (e: Error) => e instanceof FrameError && /at byte offset \d+/.test(e.message));
  await assert.rejects(replay(good.subarray(0, good.length - 20)), /stream ends inside a frame .* at byte offset \d+/);
  const notOurs = Buffer.from(good);
  notOurs.writeUInt32LE(0xdeadbeef, 8); // magic
  await assert.rejects(replay(notOurs), /bad magic/);
});

test('fuzz: mutated streams never crash the decoder, only FrameError', () => {
  const base = Buffer.concat([hello(), records([fileRecord({}), fileRecord({ path: Buffer.from([0x2f, 0xff, 0x2f, 0x41]) })]), stats(), end()]);
  let seed = 12345;
  const rnd = (n: number) => { seed = (seed * 1103515245 + 12345) & 0x7fffffff; return seed % n; };
  for (let i = 0; i < 20000; i++) {
    const m = Buffer.from(base);
    const k = 1 + rnd(4);
    for (let j = 0; j < k; j++) m[rnd(m.length)] = rnd(256);
    const cut = rnd(5) === 0 ? rnd(m.length) : m.length;
    try {
      const sp = new FrameSplitter();
      for (const f of sp.push(m.subarray(0, cut))) decodeFrame(f);
    } catch (e) {
      assert.ok(e instanceof FrameError, `iteration ${i}: ${(e as Error).stack}`);
    }
  }
});
