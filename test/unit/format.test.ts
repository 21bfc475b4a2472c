import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeBytes, encodeEscaped } from '../../src/util/bytes.js';
import { Raw, toMinJson, toPrettyJson, type JObject } from '../../src/format/json.js';
import { secondsText, wallClock } from '../../src/format/time.js';
import { fileMode, permissions } from '../../src/format/kflowd-file.js';
import { procName } from '../../src/format/proc-keys.js';
import { kflowdDevHex, parseMountInfo } from '../../src/enrich/mounts.js';
import { parseIdFile } from '../../src/enrich/ids.js';

test('wall clock in kflowd format', () => {
  // 2024-04-04T15:34:35Z = 1712244875
  assert.equal(wallClock(1712244875n * 1_000_000_000n + 643031330n), 'Thu, Apr 04 2024 15:34:35.643031330 UTC');
  assert.equal(wallClock(0n), 'Thu, Jan 01 1970 00:00:00.000000000 UTC');
});

test('durations have nine decimals and keep their sign', () => {
  assert.equal(secondsText(811829334n), '0.811829334');
  assert.equal(secondsText(21_262713426n), '21.262713426');
  assert.equal(secondsText(48490n), '0.000048490');
  assert.equal(secondsText(-1_500000000n), '-1.500000000');
  assert.equal(secondsText(0n), '0.000000000');
});

test('permissions and file mode like kflowd', () => {
  assert.equal(permissions(0o100755), '0755/-rwxr-xr-x');
  assert.equal(permissions(0o100600), '0600/-rw-------');
  assert.equal(permissions(0o120777), '0777/lrwxrwxrwx');
  assert.equal(permissions(0o104755), '4755/-rwxr-xr-x'); // setuid shown only in the octal part
  assert.equal(fileMode(0o100644, 1), 'regular');
  assert.equal(fileMode(0o100644, 2), 'hardlink');
  assert.equal(fileMode(0o120777, 1), 'symlink');
});

test('process name: exe, or exe/comm when the task renamed itself', () => {
  assert.equal(procName('sftp-server', 'sftp-server'), 'sftp-server');
  assert.equal(procName('systemd-journald', 'systemd-journal'), 'systemd-journald');
  assert.equal(procName('node', 'MainThread'), 'node/MainThread');
  assert.equal(procName('', 'kworker/0:1'), 'kworker/0:1');
});

test('device strings: GETDEV hex and mountinfo', () => {
  assert.equal(kflowdDevHex((9 << 20) | 2), '902h');
  assert.equal(kflowdDevHex((254 << 20) | 0), 'fe00h');
  const m = parseMountInfo('29 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw\n' +
    '40 29 0:35 /sub /mnt/with\\040space rw - tmpfs tmpfs rw\n');
  assert.deepEqual(m[0], { dev: (254 << 20) | 0, root: '/', mountPoint: '/', fsType: 'ext4', source: '/dev/vda' });
  assert.equal(m[1]!.mountPoint, '/mnt/with space');
  assert.equal(m[1]!.root, '/sub');
});

test('passwd/group parsing ignores malformed lines', () => {
  const m = parseIdFile('root:x:0:0:root:/root:/bin/bash\n\nbroken\nnobody:x:65534:65534::/:/usr/sbin/nologin\nbad:x:notanumber:1\n');
  assert.equal(m.get(0), 'root');
  assert.equal(m.get(65534), 'nobody');
  assert.equal(m.size, 2);
});

test('bytes → string is lossless (surrogateescape) and JSON stays valid', () => {
  const cases = [
    Buffer.from('plain.txt'),
    Buffer.from('quote"back\\slash\nnewline\ttab'),
    Buffer.from([0x66, 0xff, 0xfe, 0x2e, 0x74]), // invalid UTF-8
    Buffer.from([0xc3, 0xa9, 0xe2, 0x82]), // é then a truncated sequence
    Buffer.from('日本語-ñ'),
    Buffer.from([0xed, 0xa0, 0x80]), // encoded surrogate: invalid in UTF-8
  ];
  for (const b of cases) {
    const s = decodeBytes(b);
    assert.deepEqual(encodeEscaped(s), b, `round trip of ${b.toString('hex')}`);
    const o: JObject = new Map([['File', s]]);
    assert.equal((JSON.parse(toMinJson(o)) as { File: string }).File, s);
    assert.equal((JSON.parse(toPrettyJson(o)) as { File: string }).File, s);
  }
});

test('JSON writer: key order, raw numbers, nesting, kflowd min style', () => {
  const o: JObject = new Map<string, never>();
  o.set('B', 1 as never);
  o.set('A', new Raw('0.000048490') as never);
  o.set('10', 'numeric-looking key keeps its place' as never);
  o.set('FileEvents', new Map([['OPEN', 1], ['MODIFY', 2]]) as never);
  assert.equal(toMinJson(o), '{"B": 1, "A": 0.000048490, "10": "numeric-looking key keeps its place", "FileEvents": {"OPEN": 1, "MODIFY": 2}}');
  assert.equal(toPrettyJson(o), '{\n  "B": 1,\n  "A": 0.000048490,\n  "10": "numeric-looking key keeps its place",\n  "FileEvents": {\n    "OPEN": 1,\n    "MODIFY": 2\n  }\n}');
});
