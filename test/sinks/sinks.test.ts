// The built-in sinks against real endpoints in the test: files (rotation by size and time,
// retention), UDP servers on IPv4 and IPv6, a UNIX stream server; stdout through a stream.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { createServer } from 'node:net';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { createSink, parseSinkUrl } from '../../src/sinks/registry.js';
import { FileSink } from '../../src/sinks/file-sink.js';
import { StdoutSink } from '../../src/sinks/stdout-sink.js';
import { Delivery } from '../../src/sinks/delivery.js';
import { item, items, tempDir, until } from './helpers.js';

const lines = (p: string) => readFileSync(p, 'utf8').split('\n').filter(Boolean);

describe('sinks', () => {
  it('stdout: one line per record, whether or not the encoder ended it with a newline', async () => {
    const out = new PassThrough();
    const chunks: Buffer[] = [];
    out.on('data', (c: Buffer) => chunks.push(c));
    const s = new StdoutSink(out);
    await s.send([item(1, 'a'), item(2, 'b\n'), item(3, '')]);
    assert.equal(Buffer.concat(chunks).toString(), 'a\nb\n\n');
  });

  it('file: rotates by size, keeps `keep` rotated files, loses no line in between', async () => {
    const t = tempDir('file');
    try {
      const spec = parseSinkUrl(`file://${t.dir}/out.jsonl?rotate=1KB&keep=2`, 'test');
      const s = createSink(spec);
      await s.open();
      for (let i = 0; i < 30; i++) await s.send(items(1 + i * 10, 10)); // ≈ 125 bytes per batch, 3.7 KB in all
      await s.close();
      assert.deepEqual(readdirSync(t.dir).sort(), ['out.jsonl', 'out.jsonl.1', 'out.jsonl.2']);
      const all = ['out.jsonl.2', 'out.jsonl.1', 'out.jsonl'].flatMap((f) => lines(join(t.dir, f)));
      const seqs = all.map((l) => JSON.parse(l).seq as number);
      // the newest files hold a contiguous tail ending at 300; older ones were deleted whole
      assert.equal(seqs.at(-1), 300);
      assert.ok(seqs.length < 300, "the oldest file was deleted");
      assert.deepEqual(seqs, Array.from({ length: seqs.length }, (_, i) => 301 - seqs.length + i));
      for (const f of ['out.jsonl.1', 'out.jsonl.2']) assert.ok(readFileSync(join(t.dir, f)).length <= 1024);
    } finally {
      t.done();
    }
  });

  it('file: rotates by time', async () => {
    const t = tempDir('file');
    try {
      const s = new FileSink({ path: join(t.dir, 'x.log'), rotateMs: 50, keep: 3 });
      await s.send(items(1, 2));
      await new Promise((r) => setTimeout(r, 80));
      await s.send(items(3, 2));
      await s.close();
      assert.deepEqual(lines(join(t.dir, 'x.log.1')), ['{"seq":1}', '{"seq":2}']);
      assert.deepEqual(lines(join(t.dir, 'x.log')), ['{"seq":3}', '{"seq":4}']);
    } finally {
      t.done();
    }
  });

  it('udp: one datagram per record to every server, IPv4 and IPv6', async () => {
    const got: Record<string, string[]> = { v4a: [], v4b: [], v6: [] };
    const socks = [
      ['v4a', createSocket('udp4'), '127.0.0.1'],
      ['v4b', createSocket('udp4'), '127.0.0.1'],
      ['v6', createSocket('udp6'), '::1'],
    ] as const;
    const addrs: string[] = [];
    for (const [k, s, a] of socks) {
      s.on('message', (m) => got[k]!.push(m.toString()));
      await new Promise<void>((r) => s.bind(0, a, () => r()));
      addrs.push(a.includes(':') ? `[${a}]:${s.address().port}` : `${a}:${s.address().port}`);
    }
    try {
      const spec = parseSinkUrl(`udp://${addrs.join(',')}`, 'test');
      const d = new Delivery({ name: 'udp', sink: createSink(spec), ...spec.delivery });
      await d.open();
      await d.push([item(1, '{"a":1}\n'), item(2, '{"b":2}')]);
      await until(() => got.v4a!.length === 2 && got.v4b!.length === 2 && got.v6!.length === 2, 5000, 'datagrams');
      await d.close();
      for (const k of Object.keys(got)) assert.deepEqual(got[k], ['{"a":1}', '{"b":2}'], k);
      assert.equal(d.stats().delivered, 2);
    } finally {
      for (const [, s] of socks) s.close();
    }
  });

  it('udp: a record too large for a datagram is rejected and counted, the others go out', async () => {
    const s = createSocket('udp4');
    const got: string[] = [];
    s.on('message', (m) => got.push(m.toString()));
    await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
    try {
      const spec = parseSinkUrl(`udp://127.0.0.1:${s.address().port}`, 'test');
      const d = new Delivery({ name: 'udp', sink: createSink(spec), ...spec.delivery, log: () => {} });
      await d.open();
      await d.push([item(1, 'small'), item(2, 'x'.repeat(70000)), item(3, 'end')]);
      await until(() => got.length === 2, 5000, 'datagrams');
      await d.close();
      assert.deepEqual(got, ['small', 'end']);
      assert.deepEqual(d.stats().dropped, { sink_rejected: 1 });
    } finally {
      s.close();
    }
  });

  it('unix: newline-terminated records over a stream socket; a server restart loses nothing', async () => {
    const t = tempDir('unix');
    const path = join(t.dir, 'collector.sock');
    const received: string[] = [];
    const conns = new Set<import('node:net').Socket>();
    const start = () => {
      const srv = createServer((c) => {
        conns.add(c);
        let buf = '';
        c.on('data', (d) => {
          buf += d.toString();
          const parts = buf.split('\n');
          buf = parts.pop()!;
          received.push(...parts);
        });
      });
      return new Promise<typeof srv>((r) => srv.listen(path, () => r(srv)));
    };
    let srv = await start();
    try {
      const spec = parseSinkUrl(`unix://${path}?confirm_ms=0&retry_min=5ms&retry_max=20ms`, 'test');
      const d = new Delivery({ name: 'unix', sink: createSink(spec), ...spec.delivery, log: () => {} });
      await d.open();
      await d.push(items(1, 50));
      await until(() => received.length === 50, 5000, '50 lines');
      // the collector goes away: the next send fails, the records wait and are re-sent
      const closed = new Promise<void>((r) => srv.close(() => r()));
      for (const c of conns) c.destroy();
      await closed;
      await d.push(items(51, 25));
      await until(() => !d.stats().sinkUp, 5000, 'sink down');
      srv = await start();
      await d.push(items(76, 25));
      await until(() => new Set(received).size === 100, 5000, '100 lines');
      await d.close();
      const seqs = [...new Set(received)].map((l) => JSON.parse(l).seq as number);
      assert.deepEqual(seqs, Array.from({ length: 100 }, (_, i) => i + 1));
    } finally {
      srv.close();
      t.done();
    }
  });
});
