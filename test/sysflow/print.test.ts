// `falconet print`: sysprint's rows, columns and value formats.
//
// Golden files: produced once by running sysprint's own flattening/formatting logic (sf-apis
// py3 formatter.py + reader.py, transcribed into a scratch script) under Python 3.11 with the
// real fastavro 1.12.2 and tabulate 0.8.10, on each sample trace:
//   fixtures/mon.1531776712.sysprint-str80.txt.gz   full `sysprint` table at 80 columns
//   fixtures/sysprint-golden.sha256                 sha256 of str@80, str@200, json, flatjson
//                                                   output for all 30 samples
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, copyFileSync, writeFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runPrint, expandPaths, listTraceDir } from '../../src/sysflow/print-run.js';
import type { OutputMode } from '../../src/sysflow/print-format.js';
import { SYSPRINT_DEFAULT_FIELDS, flatten } from '../../src/sysflow/print-format.js';
import { PyTuple, isoFromNs, tabulateGithub, pyJson, pyStr } from '../../src/sysflow/pyfmt.js';
import { EntityTable } from '../../src/sysflow/entities.js';
import { readSysFlowFile } from '../../src/sysflow/reader.js';
import { FIXTURES, REPO, sampleTraces, tracePath } from './helpers.js';

function render(rel: string, output: OutputMode, width = 80, fields: string[] | null = null): string {
  let s = '';
  const res = runPrint([{ path: tracePath(rel) }], {
    output,
    fields: fields ?? (output === 'str' ? [...SYSPRINT_DEFAULT_FIELDS] : null),
    filter: null,
    termColumns: width,
    write: (c) => (s += c),
    onError: (e) => assert.fail(e),
  });
  assert.equal(res.errors, 0);
  return s;
}

const sha = (s: string): string => createHash('sha256').update(s, 'utf8').digest('hex');

describe('print: mon.1531776712.sf as sysprint prints it', () => {
  const golden = gunzipSync(readFileSync(join(FIXTURES, 'mon.1531776712.sysprint-str80.txt.gz'))).toString('utf8');
  const out = render('sf-processor/mon.1531776712.sf', 'str', 80);

  it('same rows, same order, same columns and formats as sysprint (byte-identical)', () => {
    const a = out.split('\n');
    const b = golden.split('\n');
    for (let i = 0; i < Math.max(a.length, b.length); i++) {
      if (a[i] !== b[i]) assert.fail(`line ${i + 1} differs:\n ours:     ${a[i]}\n sysprint: ${b[i]}`);
    }
  });

  it('structure follows §5: header, one row per event/flow, 1000-record chunks', () => {
    const lines = out.trimEnd().split('\n');
    assert.match(lines[0]!, /^\| +Rec # \| +Start Time \| T +\| Cmd +\| Args +\| +PPID \| +PID \| +TID \| Op Flags +\| Resource +\| NoBRead +\| NoBWrite +\| Cont ID +\|$/);
    // events + flows of the file: 7396 records minus H, C, 143 P, 926 F
    const rows = lines.filter((l) => /^\| +\d+ /.test(l));
    assert.equal(rows.length, 7396 - 1 - 1 - 143 - 926);
    // chunking: a separator line opens every chunk after the first (records 1001.., 2001..)
    assert.equal(lines.filter((l) => /^\|-+\|/.test(l)).length, 1 + Math.ceil((rows.length - 1001) / 1000));
    // first row, by hand from the trace: PE CLONE by node (pid 2025, parent 2024)
    assert.equal(rows[0], '|  0      | 1531776712370537340   | PE  | /usr/local/bin/node  | app.js                 | 2024     | 2025     | 2025     | CLONE          |                                                 |           |            | 99fb18d0e79f |');
    // long args are shown as '..' + the last 20 characters
    assert.match(rows[1]!, /\| \.\.at:foo:"ibm 4 life!" \|/);
    // network flow: resource "sip:sport-dip:dport", positional op flags
    assert.ok(rows.some((r) => r.includes('|  A WR   C      | 10.187.39.243:49824-172.30.106.116:3000 ')));
  });
});

describe('print: every sample, every mode, equals the sysprint golden hashes', () => {
  const lines = readFileSync(join(FIXTURES, 'sysprint-golden.sha256'), 'utf8').trim().split('\n');
  it('golden list covers every sample in 4 modes', () => {
    assert.equal(lines.length, sampleTraces().length * 4);
  });
  for (const line of lines) {
    const [rel, mode, hash] = line.split(' ') as [string, string, string];
    it(`${rel} ${mode}`, () => {
      const [m, w] = mode.split('@') as [OutputMode, string | undefined];
      assert.equal(sha(render(rel, m, w ? Number(w) : 80)), hash);
    });
  }
});

describe('print: formats', () => {
  it('json: nested, sysprint keys and value formats, only events and flows', () => {
    const out = render('sf-processor/shellshock.sf', 'json').trim().split('\n');
    assert.equal(out.length, 90 - 1 - 1 - 13 - 19); // PE + FF only
    const o = JSON.parse(out[0]!) as Record<string, unknown>;
    assert.deepEqual(Object.keys(o), [
      'version', 'type', 'state', 'opflags', 'opflags_bitmap', 'ret', 'ts', 'ts_uts', 'endts', 'endts_uts', 'proc', 'pproc',
      'file', 'net', 'res', 'flow', 'pf', 'container', 'pod', 'node', 'filename', 'schema', 'tags', 'k8s',
    ]);
    assert.equal(o.version, '4');
    assert.match(o.ts as string, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{6})?$/);
    // int64 digits are exact in the text (JSON.parse would round them; check the raw line)
    assert.match(out[0]!, /"ts_uts": 1669702\d{12}, /);
  });

  it('csv: header from the first record, Python str() values, CRLF rows; tags is the empty tuple "()"', () => {
    const out = render('sf-collector/setuid/setuid.sf', 'csv', 80, ['type', 'opflags', 'proc.tty', 'pproc.pid', 'res', 'tags']);
    const rows = out.split('\r\n');
    assert.equal(rows[0], 'type,opflags,proc.tty,pproc.pid,res,tags');
    assert.equal(rows[1], 'PE,EXEC,True,,,()');
    assert.equal(rows.at(-1), '');
  });

  it('-c selects and orders columns; duplicate keys are not repeated', () => {
    const out = render('sf-collector/setuid/setuid.sf', 'flatjson', 80, ['proc.pid', 'type']);
    assert.equal(out.split('\n')[0], '{"proc.pid": 4698, "type": "PE"}');
  });

  it('query-only fields have real values (sysprint leaves them empty)', () => {
    const t = new EntityTable();
    for (const o of readSysFlowFile(tracePath('sf-processor/shellshock.sf'))) {
      const v = t.push(o);
      if (v && v.type === 'PE' && v.ancestors().length > 2) {
        const rec = Object.fromEntries(flatten(v, ['proc.name', 'proc.aname', 'proc.apid', 'proc.cmdline']));
        assert.equal(rec['proc.name'], v.proc!.exe.split('/').pop());
        assert.equal((rec['proc.aname'] as string[]).length, v.ancestors().length + 1);
        return;
      }
    }
    assert.fail('no process with ancestors');
  });
});

describe('print: Python emulation details', () => {
  it('isoformat: float seconds, round-half-even microseconds, no fraction when zero', () => {
    // Expected values computed with CPython 3.11 datetime.utcfromtimestamp(ns/1e9).isoformat().
    assert.equal(isoFromNs(1531776712370537340n), '2018-07-16T21:31:52.370537');
    assert.equal(isoFromNs(1555011816000000000n), '2019-04-11T19:43:36');
    assert.equal(isoFromNs(0n), '1970-01-01T00:00:00');
    assert.equal(isoFromNs(1669702299665947927n), '2022-11-29T06:11:39.665948');
    assert.equal(isoFromNs(1600000000999999600n), '2020-09-13T12:26:41');
  });

  it('tuples: str() as Python writes them, json.dumps as a list', () => {
    assert.equal(pyStr(new PyTuple([])), '()');
    assert.equal(pyStr(new PyTuple(['a'])), "('a',)");
    assert.equal(pyStr(new PyTuple([1, 'b'])), "(1, 'b')");
    assert.equal(pyJson(new PyTuple([])), '[]');
    assert.equal(pyJson(new PyTuple([1, 'b'])), '[1, "b"]');
  });

  it('json.dumps: ensure_ascii escapes and ", " / ": " separators', () => {
    assert.equal(pyJson({ a: 'é\u007f"\\\n😀', b: [1n, null, true] }), '{"a": "\\u00e9\\u007f\\"\\\\\\n\\ud83d\\ude00", "b": [1, null, true]}');
  });

  it('tabulate github: numeric columns right-aligned, min width header+2', () => {
    assert.equal(
      tabulateGithub(
        [
          ['1  ', 'ab'],
          ['22 ', 'c '],
        ],
        ['N', 'Name'],
      ),
      '|   N | Name   |\n|-----|--------|\n| 1   | ab     |\n| 22  | c      |',
    );
    assert.equal(tabulateGithub([['x']], null), '|---|\n| x |');
  });
});

describe('print: CLI', () => {
  const bin = join(REPO, 'bin/falconet');
  const run = (args: string[], input?: Buffer) => spawnSync(process.execPath, [bin, 'print', ...args], { input, encoding: 'utf8', maxBuffer: 64 << 20 });

  it('reads a directory in sysprint order (integer of the digits), and stdin', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sfp-'));
    try {
      copyFileSync(tracePath('sf-processor/tcp.sf'), join(dir, '1000'));
      copyFileSync(tracePath('sf-collector/setuid/setuid.sf'), join(dir, '999'));
      writeFileSync(join(dir, 'notes'), 'plain text notes, not a trace');
      // sysprint keys on the digits of the joined path (directory digits included), so only the
      // relative order of the two traces is fixed here.
      const order = listTraceDir(dir).map((p) => p.slice(dir.length + 1));
      assert.deepEqual(order.filter((n) => n !== 'notes'), ['999', '1000']);
      assert.ok(order.includes('notes'));
      const r = run(['-o', 'flatjson', '-c', 'proc.exe,type', dir]);
      const exes = r.stdout.trim().split('\n').map((l) => (JSON.parse(l) as { 'proc.exe': string })['proc.exe']);
      // 999 (setuid.sf: 12 events/flows) before 1000 (tcp.sf: 10), although "1000" < "999" as text
      assert.equal(exes.length, 12 + 10);
      assert.deepEqual([...new Set(exes.slice(0, 12))], ['./setuid']);
      assert.ok(exes.slice(12).every((e) => e === './server' || e === './client'), exes.slice(12).join());
      assert.match(r.stderr, /notes: not an Avro object container file/);
      assert.equal(r.status, 1);
      const s = run(['-o', 'json', '-'], readFileSync(tracePath('sf-processor/tcp.sf')));
      assert.equal(s.status, 0, s.stderr);
      assert.equal(s.stdout, render('sf-processor/tcp.sf', 'json'));
      assert.equal(expandPaths([dir]).length, 3);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('default output is the sysprint table; -o json; unknown -c field is an error', () => {
    const t = run(['--width', '80', tracePath('sf-processor/tcp.sf')]);
    assert.equal(t.status, 0, t.stderr);
    assert.equal(t.stdout, render('sf-processor/tcp.sf', 'str', 80));
    // -k adds the pod column to the table; -K switches to k8s event columns (KE rows only show data)
    const k = run(['-k', '--width', '200', tracePath('sf-processor/k8s_small.sf')]);
    assert.match(k.stdout.split('\n')[0]!, /\| Cont ID +\| Pod Name +\|$/);
    const ke = run(['-K', '--width', '200', tracePath('sf-processor/k8s_small.sf')]);
    assert.match(ke.stdout.split('\n')[0]!, /\| T +\| K8s EV Action +\| K8s EV Comp Type +\| K8s EV Msg +\|$/);
    assert.equal(ke.stdout.split('\n').filter((l) => /\| KE +\| K8S_COMPONENT_/.test(l)).length, 4);
    const bad = run(['-c', 'proc.nope', tracePath('sf-processor/tcp.sf')]);
    assert.notEqual(bad.status, 0);
    assert.match(bad.stderr, /unknown field\(s\) proc\.nope/);
  });

  it('-f filters with the policy condition language (index renumbers the printed rows)', () => {
    const rel = 'sf-processor/mon.1531776712.sf';
    const t = new EntityTable();
    const expected: string[] = [];
    for (const o of readSysFlowFile(tracePath(rel))) {
      const v = t.push(o);
      if (v && v.obj.type === 'NF' && v.obj.rec.dport === 3000) expected.push(String(v.obj.rec.ts));
    }
    assert.ok(expected.length > 0);
    const r = run(['-o', 'flatjson', '-c', 'ts_uts', '-f', 'sf.type = NF and sf.net.dport = 3000', tracePath(rel)]);
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(r.stdout.trim().split('\n').map((l) => /"ts_uts": (\d+)/.exec(l)![1]), expected);
    const bad = run(['-f', 'sf.type = = ', tracePath(rel)]);
    assert.notEqual(bad.status, 0);
    assert.match(bad.stderr, /error/);
  });

  it('a truncated trace prints the records before the damage and reports the offset', () => {
    const full = readFileSync(tracePath('sf-processor/mon.1531776712.sf'));
    const r = run(['-o', 'flatjson', '-c', 'type', '-'], full.subarray(0, 120_000));
    assert.equal(r.status, 1);
    assert.match(r.stderr, /truncated block.*file offset \d+/);
    assert.ok(r.stdout.split('\n').length > 1000);
  });
});
