// RELP framing (src/sinks/relp-frame.ts): exact encodings, frames split at every byte, each kind
// of malformed input with the offset it names, and a mutation fuzz of the parser (only
// RelpFrameError, offsets inside the input, never a crash; unmutated streams cut into random
// chunks give the same frames).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { encodeRelpFrame, encodeSyslogFrames, parseOffers, parseRelpResponse, RelpFrameError, RelpParser, RELP_TXNR_MAX, type RelpFrame } from '../../src/sinks/relp-frame.js';
import { rng } from '../lib/rng.js';

const plain = (fs: RelpFrame[]) => fs.map((f) => [f.txnr, f.command, f.data.toString('latin1')]);

/** What a server sends: answers (one of them the `open` answer with offers), a serverclose. */
const SERVER_STREAM = Buffer.concat([
  encodeRelpFrame(1, 'rsp', '200 OK\nrelp_version=0\nrelp_software=librelp,1.11.0,http://librelp.adiscon.com\ncommands=syslog'),
  ...Array.from({ length: 40 }, (_, i) => encodeRelpFrame(i + 2, 'rsp', i % 7 === 3 ? '500 error: queue full' : '200 OK')),
  encodeRelpFrame(42, 'rsp'),
  encodeRelpFrame(0, 'serverclose'),
]);

/** where its frames start (an LF followed by a digit: no data in it has one) */
const BOUNDARIES = [0, ...[...SERVER_STREAM.entries()].filter(([i, c]) => c === 0x0a && /\d/.test(String.fromCharCode(SERVER_STREAM[i + 1] ?? 0))).map(([i]) => i + 1)];

function parseAll(buf: Buffer, cuts: number[] = []): RelpFrame[] {
  const p = new RelpParser();
  const out: RelpFrame[] = [];
  let at = 0;
  for (const c of [...cuts, buf.length]) {
    out.push(...p.push(buf.subarray(at, c)));
    at = c;
  }
  return out;
}

describe('RELP frames', () => {
  it('encodes frames exactly as the protocol writes them', () => {
    assert.equal(encodeRelpFrame(1, 'open', 'relp_version=0\ncommands=syslog').toString(), '1 open 30 relp_version=0\ncommands=syslog\n');
    assert.equal(encodeRelpFrame(7, 'close').toString(), '7 close 0\n');
    assert.equal(encodeRelpFrame(3, 'syslog', Buffer.from('<134>1 x')).toString(), '3 syslog 8 <134>1 x\n');
    // txnrs wrap from 999,999,999 to 1
    assert.equal(encodeSyslogFrames(RELP_TXNR_MAX, [Buffer.from('a'), Buffer.from('bc')]).toString(), '999999999 syslog 1 a\n1 syslog 2 bc\n');
    // a UTF-8 message counts bytes, not characters
    assert.equal(encodeRelpFrame(2, 'syslog', 'é').toString(), '2 syslog 2 é\n');
  });

  it('parses a server stream cut at every byte the same as whole', () => {
    const whole = plain(parseAll(SERVER_STREAM));
    assert.equal(whole.length, 43);
    assert.deepEqual(whole[1], [2, 'rsp', '200 OK']);
    assert.deepEqual(whole[4], [5, 'rsp', '500 error: queue full']);
    assert.deepEqual(whole[41], [42, 'rsp', '']);
    assert.deepEqual(whole[42], [0, 'serverclose', '']);
    for (let c = 1; c < SERVER_STREAM.length; c++) assert.deepEqual(plain(parseAll(SERVER_STREAM, [c])), whole, `cut at ${c}`);
    // one byte at a time
    assert.deepEqual(plain(parseAll(SERVER_STREAM, Array.from({ length: SERVER_STREAM.length - 1 }, (_, i) => i + 1))), whole);
    // data may hold LF and anything else: only DATALEN counts
    assert.deepEqual(plain(parseAll(Buffer.from('9 rsp 5 a\n\x00 \n\n'))), [[9, 'rsp', 'a\n\x00 \n']]);
  });

  it('names the offset of every kind of malformed input', () => {
    const cases: [string, number, RegExp][] = [
      ['x rsp 0\n', 0, /expected a transaction number, got "x"/],
      ['12x rsp 0\n', 2, /expected a space after the transaction number/],
      ['1234567890 rsp 0\n', 9, /longer than 9 digits/],
      ['1  rsp 0\n', 2, /expected a command, got byte 0x20/],
      ['1 rs9 0\n', 4, /expected a space after the command, got "9"/],
      [`1 ${'a'.repeat(33)} 0\n`, 34, /command longer than 32/],
      ['1 rsp x\n', 6, /expected a data length, got "x"/],
      ['1 rsp 0 \n', 7, /expected the end of frame after data length 0/],
      ['1 rsp 3\n', 7, /expected a space after the data length/],
      ['1 rsp 2 okX', 10, /expected the end of frame \(LF\) after 2 bytes of data, got "X"/],
      ['1 rsp 0000000000 ', 15, /data length longer than 9 digits/],
      ['1 rsp 2 ok\n2 rsp 2 ok\n\n', 22, /expected a transaction number, got byte 0x0a/],
    ];
    for (const [text, offset, msg] of cases) {
      const p = new RelpParser();
      assert.throws(
        () => p.push(Buffer.from(text)),
        (e: unknown) => e instanceof RelpFrameError && e.offset === offset && msg.test(e.message) && e.message.includes(`at byte ${offset}`),
        `${JSON.stringify(text)} → offset ${offset} ${msg}`,
      );
      // the parser stays failed: the session is over
      assert.throws(() => p.push(Buffer.from('1 rsp 0\n')), RelpFrameError);
    }
    // a data length above the limit is refused before any data is buffered
    assert.throws(() => new RelpParser(100).push(Buffer.from('1 rsp 101 ')), /data length 101 exceeds the limit of 100/);
    // offsets count across chunks
    const p = new RelpParser();
    p.push(Buffer.from('1 rsp 2 ok\n'));
    assert.throws(() => p.push(Buffer.from('2 r!')), (e: unknown) => e instanceof RelpFrameError && e.offset === 14);
  });

  it('parses answers and offers', () => {
    assert.deepEqual(parseRelpResponse(Buffer.from('200 OK')), { code: 200, text: 'OK', payload: '' });
    assert.deepEqual(parseRelpResponse(Buffer.from('500 error: queue full')), { code: 500, text: 'error: queue full', payload: '' });
    assert.deepEqual(parseRelpResponse(Buffer.from('200 OK\nrelp_version=0\ncommands=syslog')), { code: 200, text: 'OK', payload: 'relp_version=0\ncommands=syslog' });
    assert.deepEqual(parseRelpResponse(Buffer.from('200')), { code: 200, text: '', payload: '' });
    for (const bad of ['', 'OK', '20 OK', '2000 OK', '200OK']) assert.equal(parseRelpResponse(Buffer.from(bad)), null, bad);
    const o = parseOffers('relp_version=0\nrelp_software=librelp,1.11.0,http://librelp.adiscon.com\ncommands=syslog\n');
    assert.equal(o.get('commands'), 'syslog');
    assert.equal(o.get('relp_software'), 'librelp,1.11.0,http://librelp.adiscon.com');
  });

  it('fuzz: 20,000 mutated server streams → frames or a RelpFrameError with an offset inside the input', () => {
    const r = rng(12);
    const int = (n: number) => Math.floor(r() * n);
    const pieces = ['0', '9', ' ', '\n', 'rsp', 'serverclose', '999999999', '1234567890', '200 OK', '\x00', '\xff', '-1', 'é'];
    let errors = 0;
    let frames = 0;
    const t0 = performance.now();
    for (let i = 0; i < 20_000; i++) {
      // from a frame boundary (a session's stream starts at one)
      let b = Buffer.from(SERVER_STREAM.subarray(BOUNDARIES[int(BOUNDARIES.length)]!));
      const kind = i % 5;
      for (let k = 0; k < 1 + int(4); k++) {
        const at = int(b.length + 1);
        if (kind === 0 && b.length) b[Math.min(at, b.length - 1)]! ^= 1 << int(8);
        else if (kind === 1) b = Buffer.concat([b.subarray(0, at), Buffer.from(pieces[int(pieces.length)]!, 'latin1'), b.subarray(at)]);
        else if (kind === 2) b = Buffer.concat([b.subarray(0, at), b.subarray(Math.min(b.length, at + 1 + int(12)))]);
        else if (kind === 3) b = b.subarray(0, at);
        else b = Buffer.concat([b.subarray(0, at), Buffer.from(Array.from({ length: 1 + int(20) }, () => int(256))), b.subarray(at)]);
      }
      const cuts = Array.from({ length: int(4) }, () => int(b.length + 1)).sort((x, y) => x - y);
      const p = new RelpParser(1 << 16);
      let at = 0;
      try {
        for (const c of [...cuts, b.length]) {
          for (const f of p.push(b.subarray(at, c))) {
            frames++;
            assert.ok(Number.isInteger(f.txnr) && f.txnr >= 0 && f.txnr <= RELP_TXNR_MAX);
            assert.match(f.command, /^[A-Za-z]{1,32}$/);
          }
          at = c;
        }
      } catch (e) {
        if (!(e instanceof RelpFrameError)) throw new Error(`case ${i}: unexpected ${String(e)}`);
        assert.ok(e.offset >= 0 && e.offset < b.length, `case ${i}: offset ${e.offset} of ${b.length}`);
        errors++;
      }
    }
    assert.ok(errors > 4000, `mutations are detected (${errors})`);
    assert.equal(BOUNDARIES.length, 43);
    assert.ok(frames > 50_000, `and valid frames still come through (${frames})`);
    assert.ok(performance.now() - t0 < 30_000);
  });
});
