// Syslog decoder: RFC 5424 and RFC 3164 (with and without host) in kflowd's keys, journald
// native frames skipped, stream framing, exceptions; and a fuzz run.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { decodeSyslog, splitSyslogStream, isJournalNative } from '../../src/protocols/syslog.js';
import { appKeys } from '../../src/protocols/app.js';
import { toMinJson } from '../../src/format/json.js';
import { Rng, mutateBytes, randomBytes } from './fuzz-bytes.js';

const obj = (s: string | Uint8Array) => {
  const o = decodeSyslog(typeof s === 'string' ? Buffer.from(s) : s);
  return o === null ? null : JSON.parse(toMinJson(o));
};

describe('syslog decoder', () => {
  it('RFC 3164 from syslog(3): no host (kflowd README sample)', () => {
    assert.equal(toMinJson(decodeSyslog(Buffer.from('<85>Sep 16 14:30:01 CRON[2122368]: pam_unix(cron:session): session opened for user root(uid=0) by (uid=0)'))!),
      '{"Facility": "Security/Authorization", "Severity": "Notice (5)", "Priority": 85, "Version": 0, "Timestamp": "Sep 16 14:30:01", ' +
      '"Appname": "CRON", "ProcId": "2122368", "Message": "pam_unix(cron:session): session opened for user root(uid=0) by (uid=0)"}');
    assert.deepEqual(obj('<86>Sep  6 14:30:01 CRON: closed\n'), {
      Facility: 'Security/Authorization', Severity: 'Informational (6)', Priority: 86, Version: 0,
      Timestamp: 'Sep  6 14:30:01', Appname: 'CRON', Message: 'closed',
    });
  });

  it('RFC 3164 with host (logger --rfc3164 to the network)', () => {
    assert.deepEqual(obj('<13>Dec  2 20:40:00 myhost alice[42]: hi there'), {
      Facility: 'User', Severity: 'Notice (5)', Priority: 13, Version: 0, Timestamp: 'Dec  2 20:40:00',
      Hostname: 'myhost', Appname: 'alice', ProcId: '42', Message: 'hi there',
    });
    assert.deepEqual(obj('<0>no tag here'), { Facility: 'Kernel', Severity: 'Emergency (0)', Priority: 0, Version: 0, Appname: '', Message: 'no tag here' });
  });

  it('RFC 5424 with structured data, nil fields and BOM', () => {
    assert.deepEqual(obj('<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 [exampleSDID@32473 iut="3" eventSource="Appl\\]ication"][x@1 a="b"] \ufeffAn application event'), {
      Facility: 'Local4', Severity: 'Notice (5)', Priority: 165, Version: 1, Timestamp: '2003-10-11T22:14:15.003Z',
      Hostname: 'mymachine.example.com', Appname: 'evntslog', MsgId: 'ID47',
      Data: '[exampleSDID@32473 iut="3" eventSource="Appl\\]ication"][x@1 a="b"]', Message: 'An application event',
    });
    assert.deepEqual(obj('<14>1 - - - - - -'), { Facility: 'User', Severity: 'Informational (6)', Priority: 14, Version: 1, Appname: '' });
  });

  it('exceptions carry the raw message; journald native frames are skipped', () => {
    assert.deepEqual(obj('<192>x'), { _Exception: 'SYSLOG Message Decoder', _Message: '<192>x' });
    assert.deepEqual(obj('<14>1 2003 host app'), { _Exception: 'SYSLOG Message Decoder', _Message: '<14>1 2003 host app' });
    assert.deepEqual(obj('<14>1 - - - - - [unterminated'), { _Exception: 'SYSLOG Message Decoder', _Message: '<14>1 - - - - - [unterminated' });
    assert.deepEqual(obj('hello'), { _Exception: 'SYSLOG Message Decoder', _Message: 'hello' });
    assert.equal(obj('MESSAGE=hi\nPRIORITY=6\nSYSLOG_IDENTIFIER=x\n'), null);
    assert.equal(obj(''), null);
    assert.equal(isJournalNative(Buffer.from('MESSAGE\n\x02\x00\x00\x00\x00\x00\x00\x00hi\n')), true);
  });

  it('limits: 48 for header fields, 255 for host and message', () => {
    const o = obj(`<13>1 - ${'h'.repeat(300)} ${'a'.repeat(60)} - - - ${'m'.repeat(300)}`);
    assert.equal(o.Hostname.length, 255);
    assert.equal(o.Appname.length, 48);
    assert.equal(o.Message.length, 255);
  });

  it('stream framing: octet counting and LF; a record over TCP', () => {
    const a = '<13>1 - h app 1 - - one';
    const s = Buffer.from(`${a.length} ${a}<13>Dec  2 20:40:00 h t: two\n<13>Dec  2 20:40:00 h t: thr`);
    const { frames, incomplete } = splitSyslogStream(s);
    assert.deepEqual(frames.map((f) => Buffer.from(f.bytes).toString()), [a, '<13>Dec  2 20:40:00 h t: two']);
    assert.equal(incomplete, '<13>Dec  2 20:40:00 h t: thr'.length);
    const o = JSON.parse(toMinJson(new Map(appKeys('SYSLOG', 'tcp', [{ ts: 5n, rx: true, seq: 9, wireLen: s.length, bytes: s }], 0n))));
    assert.deepEqual(o.AppRxSyslog.map((m: { Message: string }) => m.Message), ['one', 'two', 'thr']);
    assert.equal(o.AppTxSyslog, undefined);
  });

  it('fuzz: 20,000 mutated and random inputs never throw', () => {
    const seeds = [
      Buffer.from('<165>1 2003-10-11T22:14:15.003Z host app 12 ID [a b="c\\"d"] msg'),
      Buffer.from('<85>Sep 16 14:30:01 CRON[2122368]: pam_unix'),
      Buffer.from('12 <13>1 - - - 57 <13>Dec  2 20:40:00 h t: two\n'),
    ];
    const rng = new Rng(514);
    for (let i = 0; i < 20000; i++) {
      const input = i % 10 === 0 ? randomBytes(rng, 64) : mutateBytes(rng, rng.pick(seeds));
      try {
        const o = decodeSyslog(input);
        if (o) toMinJson(o);
        appKeys('SYSLOG', rng.int(2) ? 'tcp' : 'unix', [{ ts: 1n, rx: true, seq: 0, wireLen: input.length, bytes: input }], 0n);
      } catch (e) {
        assert.fail(`case ${i}: ${(e as Error).stack} on ${input.toString('hex')}`);
      }
    }
  });
});
