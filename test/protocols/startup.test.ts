// -p on a kernel without tp_btf/sk_data_ready (or the reader side): the start-up log says what is captured how, from
// the sensor's own "skipped" status lines (the form sensor/sensor.c writes), also end to end
// through the agent's hello handling on a replayed stream.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { payloadStartupNotes } from '../../src/protocols/startup.js';
import { runPipeline } from '../../src/pipeline/agent.js';
import { replaySource } from '../../src/sensor/source.js';
import { FrameKind } from '../../src/sensor/layout.js';
import { end, frame, hello } from '../unit/stream-builder.js';
import { scratchDir } from '../lib/temp-dir.js';

const MISSING = 'skipped sock_pl_unix (tp_btf/sk_data_ready: tracepoint not in this kernel)';

const READER = 'skipped sock_pl_unix_rd (tp_btf/skb_copy_datagram_iovec: rejected by this kernel\'s verifier; --verbose shows the log)';

test('-p notes: a kernel without sk_data_ready, a rejected cgroup program, nothing otherwise', () => {
  assert.deepEqual(payloadStartupNotes([MISSING]), [
    '-p syslog=unix: this kernel cannot run tp_btf/sk_data_ready (tracepoint not in this kernel); syslog messages over UNIX datagram sockets are captured on the reader side (tp_btf/skb_copy_datagram_iovec) instead; over UNIX stream sockets they are not',
  ]);
  assert.deepEqual(payloadStartupNotes([MISSING, READER]), [
    '-p syslog=unix: this kernel cannot run tp_btf/sk_data_ready (tracepoint not in this kernel) nor tp_btf/skb_copy_datagram_iovec (rejected by this kernel\'s verifier; --verbose shows the log); syslog messages sent over UNIX sockets are not captured (UDP and TCP syslog still are)',
  ]);
  assert.deepEqual(payloadStartupNotes([READER]), [
    '-p syslog=unix: this kernel cannot run tp_btf/skb_copy_datagram_iovec (rejected by this kernel\'s verifier; --verbose shows the log); a UNIX syslog message that its receiver reads before sk_data_ready sees it is not captured (counted as drop_read)',
  ]);
  assert.deepEqual(payloadStartupNotes(['skipped sock_pl_out (cgroup_skb/egress: rejected by this kernel\'s verifier; --verbose shows the log)']), [
    '-p: sock_pl_out (cgroup_skb/egress: rejected by this kernel\'s verifier; --verbose shows the log); DNS, HTTP and syslog payloads over UDP and TCP are not captured',
  ]);
  assert.deepEqual(payloadStartupNotes(['tcp_export: iterator', 'skipped file_open (tp/x/y: tracepoint not in this kernel)']), []);
});

test('-p notes reach the start-up log from the sensor hello', async () => {
  const status = Buffer.from(`tcp_export: iterator\0${MISSING}\0`);
  const h = Buffer.concat([hello().subarray(8), status]);
  const f = path.join(scratchDir('fn-startup-'), 's.bin');
  writeFileSync(f, Buffer.concat([frame(FrameKind.Hello, h), end()]));
  const lines: string[] = [];
  await runPipeline(replaySource(f), { output: 'json-min', hostFromStream: true, log: (t) => lines.push(t) }, new PassThrough());
  const i = lines.indexOf(MISSING);
  assert.ok(i >= 0, lines.join('\n'));
  assert.match(lines[i + 1]!, /^-p syslog=unix: this kernel cannot run tp_btf\/sk_data_ready/);
});
