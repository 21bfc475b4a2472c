// The CLI path (branch h-runtime's `falconet replay --sink`): records replayed to rsyslog over
// TCP while it is down wait in the spool (`falconet spool inspect` shows them); the next run,
// with rsyslog up, delivers them first and then its own, exactly once, in order.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { end, fileRecord, hello, records } from '../unit/stream-builder.js';
import { makeRsyslog, type Rsyslog } from './rsyslog-harness.js';
import { tempDir, until } from './helpers.js';

const BIN = fileURLToPath(new URL('../../../bin/falconet', import.meta.url));
const cli = (...a: string[]) => spawnSync(process.execPath, [BIN, ...a], { encoding: 'utf8', timeout: 60_000 });
const N = 200;

function stream(dir: string, name: string): string {
  const file = join(dir, `${name}.bin`);
  const recs = Array.from({ length: N }, (_, i) => fileRecord({ pid: 1000 + i, exe: 'cat', path: `/tmp/${name}-${i}`, events: [0, 1, 0, 0, 0, 0, 0, 1, 0, 0, 0] }));
  writeFileSync(file, Buffer.concat([hello(), records(recs), end()]));
  return file;
}

describe('falconet replay --sink with a spool', () => {
  let t: ReturnType<typeof tempDir>;
  let rs: Rsyslog;
  before(async () => {
    t = tempDir('clispool');
    rs = await makeRsyslog(t.dir);
  });
  after(async () => {
    await rs?.stop();
    t?.done();
  });

  it('spooled while rsyslog is down, delivered by the next run, once and in order', async () => {
    const spool = join(t.dir, 'spool');
    const url = `syslog+tcp://127.0.0.1:${rs.tcpPort}?app=clitest&spool=${spool}&retry_min=20ms&retry_max=100ms`;
    const first = cli('replay', stream(t.dir, 'a'), '-o', 'json-min', '-q', '--sink', url);
    assert.equal(first.status, 0, first.stderr);
    const rep = JSON.parse(cli('spool', 'inspect', '--json', spool).stdout) as { records: number; cursors: { pending: number }[] };
    assert.equal(rep.records, N);
    assert.equal(rep.cursors[0]!.pending, N);
    await rs.start();
    const second = cli('replay', stream(t.dir, 'b'), '-o', 'json-min', '-q', '--sink', url);
    assert.equal(second.status, 0, second.stderr);
    const paths = () => rs.lines().filter((l) => l.includes('|clitest|')).map((l) => /"File": ?"([^"]+)"/.exec(l)?.[1] ?? l);
    await until(() => paths().length >= 2 * N, 10_000, 'all records at rsyslog');
    const got = paths();
    const want = [...Array.from({ length: N }, (_, i) => `a-${i}`), ...Array.from({ length: N }, (_, i) => `b-${i}`)];
    assert.deepEqual(got, want);
    assert.equal((JSON.parse(cli('spool', 'inspect', '--json', spool).stdout) as { cursors: { pending: number }[] }).cursors[0]!.pending, 0);
  });
});
