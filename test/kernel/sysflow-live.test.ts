// `falconet -w DIR/` writes SysFlow traces of the live system.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { readSysFlowFile } from '../../src/sysflow/reader.js';
import type { SfObject } from '../../src/sysflow/types.js';
import { captureRecords, skipUnlessBpf } from './harness.js';

const skip = skipUnlessBpf();

test('live file records land in a SysFlow trace as Process, File and FileFlow', { skip }, async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'fn-sflive-'));
  const traces = path.join(dir, 'traces') + '/';
  let pid = 0;
  await captureRecords(async () => {
    pid = await new Promise<number>((resolve, reject) => {
      const c = spawn('python3', ['-c', "f = open('traced.txt', 'w')\nf.write('abcdef')\nf.close()\nprint(open('traced.txt').read())\n"], { cwd: dir, stdio: 'ignore' });
      c.on('close', (code) => (code === 0 ? resolve(c.pid!) : reject(new Error(`python ${code}`))));
    });
  }, ['-m', 'file', '-w', traces, '--exporter-id', 'e2e']);
  const files = readdirSync(traces);
  assert.ok(files.length >= 1);
  const objs: SfObject[] = [];
  for (const f of files) for await (const o of readSysFlowFile(path.join(traces, f))) objs.push(o);
  const file = objs.find((o) => o.type === 'F' && o.rec.path === path.join(dir, 'traced.txt'));
  assert.ok(file && file.type === 'F', 'File entity for the workload file');
  const flows = objs.filter((o): o is Extract<SfObject, { type: 'FF' }> => o.type === 'FF' && Buffer.from(o.rec.fileOID).equals(Buffer.from(file.rec.oid)));
  const mine = flows.filter((o) => Number(o.rec.procOID.hpid) === pid);
  assert.equal(mine.length, 2, 'one flow for the write open..close, one for the read');
  assert.equal(mine.reduce((n, o) => n + Number(o.rec.numWSendBytes), 0), 6);
  assert.equal(mine.reduce((n, o) => n + Number(o.rec.numRRecvBytes), 0), 6);
  const proc = objs.find((o) => o.type === 'P' && Number(o.rec.oid.hpid) === pid);
  assert.ok(proc, 'Process entity of the workload');
});
