// The other kind of our machines: processes lack CAP_SYS_RESOURCE and `ulimit -l` is 8 MiB. The
// agent, with every monitor, runs under exactly those limits here (the sensor cannot raise its
// memlock limit: on 6.18 BPF memory is charged to the memory cgroup, not to memlock), and its
// records of a known file, socket and process workload are exact.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, mkdtempSync, realpathSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { captureRecords, missingCommands, skipUnlessBpf, type JsonRecord } from './harness.js';
import { TCP_CLIENT, byPorts, nodeChild, tcpServer } from './socket-workloads.js';
import { runIn } from './workloads.js';

const skip = skipUnlessBpf() || missingCommands(['prlimit', 'setpriv']);
const MEMLOCK = 8 << 20;
const CAP_SYS_RESOURCE = 24;
// prlimit sets the limit, setpriv takes CAP_SYS_RESOURCE out of every set before the agent's exec
const LIMITED = ['prlimit', `--memlock=${MEMLOCK}:${MEMLOCK}`, 'setpriv', '--bounding-set=-sys_resource', '--inh-caps=-sys_resource', '--'];

/** The sensor that our agent started: its parent is a child of this process. */
function ourSensor(): { caps: bigint; memlock: string } | undefined {
  const status = (pid: string) => readFileSync(`/proc/${pid}/status`, 'utf8');
  const field = (s: string, k: string) => new RegExp(`^${k}:\\s*(\\S+)`, 'm').exec(s)?.[1];
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      const s = status(pid);
      if (field(s, 'Name') !== 'falconet-sensor') continue;
      if (field(status(field(s, 'PPid')!), 'PPid') !== String(process.pid)) continue;
      const limits = readFileSync(`/proc/${pid}/limits`, 'utf8');
      return { caps: BigInt(`0x${field(s, 'CapEff')}`), memlock: /^Max locked memory\s+(\S+)\s+(\S+)/m.exec(limits)!.slice(1, 3).join(':') };
    } catch { /* gone while read */ }
  }
  return undefined;
}

test('without CAP_SYS_RESOURCE and with an 8 MiB memlock limit, every monitor runs and its records are exact', { skip }, async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'fn-limits-'));
  const script = path.join(mkdtempSync(path.join(tmpdir(), 'fn-limits-script-')), 'work.sh');
  writeFileSync(script, 'printf abc > f\nprintf defg >> f\nrm f\n');
  let sensor: ReturnType<typeof ourSensor>;
  let bashPid = 0;
  let x = { port: 0, clientPort: 0, clientPid: 0 };
  const cap = await captureRecords(async () => {
    sensor = ourSensor();
    bashPid = (await runIn('bash', [script], dir)).pid;
    const srv = await tcpServer('127.0.0.1', 20);
    const client = await nodeChild(TCP_CLIENT, ['127.0.0.1', String(srv.port), '10']);
    assert.equal(await srv.received, 10);
    await srv.close();
    const out = JSON.parse(client.stdout.trim()) as { localPort: number; got: number };
    x = { port: srv.port, clientPort: out.localPort, clientPid: client.pid };
  }, [], 240_000, LIMITED);
  // the limits held for the sensor itself
  assert.ok(sensor, 'the agent\'s sensor process was not found');
  assert.equal(sensor.caps & (1n << BigInt(CAP_SYS_RESOURCE)), 0n, `CapEff ${sensor.caps.toString(16)}`);
  assert.equal(sensor.memlock, `${MEMLOCK}:${MEMLOCK}`);
  // file: two writes and a delete of f, exactly
  const files = cap.records.filter((r: JsonRecord) => r.FilePath === dir + '/');
  assert.deepEqual(files.map((r) => [r.ProcPID, r.File, r.FileEvents]), [
    [bashPid, 'f', { CREATE: 1, OPEN: 1, MODIFY: 1, CLOSE_WRITE: 1 }],
    [bashPid, 'f', { OPEN: 1, MODIFY: 1, CLOSE_WRITE: 1 }],
    [files[2]?.ProcPID, 'f', { DELETE: 1 }],
  ]);
  assert.equal(files[2]!.Proc, 'rm');
  // socket: one CLIENT and one SERVER record of the connection, with its bytes
  const cl = byPorts(cap.records, x.clientPort, x.port);
  const sv = byPorts(cap.records, x.port, x.clientPort);
  assert.deepEqual(cl.map((r) => [r.SockRole, r.ProcPID, r.SockTxBytes, r.SockRxBytes]), [['CLIENT', x.clientPid, 10, 20]]);
  assert.deepEqual(sv.map((r) => [r.SockRole, r.ProcPID, r.SockRxBytes, r.SockTxBytes]), [['SERVER', process.pid, 10, 20]]);
  // process: the script's bash exec'd once (after failed tries along PATH) and exited with 0
  const procs = cap.records.filter((r) => r.InfoMonitor === 'process' && r.ProcPID === bashPid);
  const brief = JSON.stringify(procs.map((r) => [r.EventType, r.EventReturn, r.EventExePath]));
  assert.deepEqual(procs.filter((r) => r.EventType === 'EXEC' && r.EventReturn === 0).map((r) => [r.EventExePath, r.EventArgv]),
    [[realpathSync(execFileSync('sh', ['-c', 'command -v bash'], { encoding: 'utf8' }).trim()), ['bash', script]]], brief);
  assert.deepEqual(procs.filter((r) => r.EventType === 'EXIT').map((r) => r.EventExitStatus), [0], brief);
  // nothing lost or dropped
  const c = cap.stats?.counters ?? {};
  for (const k of ['file_map_full', 'notice_drop', 'sock_drop', 'proc_drop']) assert.equal(c[k], 0, `${k}: ${JSON.stringify(c)}`);
});
