// -p on the command line: commander takes it repeatedly; bad values are usage errors that name
// the value (no crash, no sensor start).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { REPO } from '../kernel/harness.js';

const run = (args: string[]) => spawnSync(process.execPath, [path.join(REPO, 'bin/falconet'), ...args], { encoding: 'utf8', timeout: 20000 });

test('-p: bad values fail with the message and a non-zero exit', () => {
  const cases: [string[], RegExp][] = [
    [['-p', 'ftp=tcp/21'], /expected dns=, http= or syslog=/],
    [['-p', 'http=udp/80'], /HTTP is decoded over tcp only/],
    [['-p', 'dns=off', '-p', 'dns=udp/53'], /-p dns is given twice/],
    [['-p', 'dns=tcp/99999'], /'tcp\/99999' is not tcp\/PORT or udp\/PORT/],
  ];
  for (const [args, re] of cases) {
    const r = run(args);
    assert.notEqual(r.status, 0, args.join(' '));
    assert.match(r.stderr, re, args.join(' '));
  }
  assert.match(run(['--help']).stdout, /-p, --protocol <app=list>/);
});
