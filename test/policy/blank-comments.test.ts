// blankComments (policy/document.ts) tests code units directly; the rule it implements is the
// one it was first written with, kept here as the reference: a comment is a `#` after a blank
// (/\s/), outside a quote that opened after a blank or one of ( [ , : =; quotes end at their
// closing mark or the line's end; a comment becomes spaces of its length up to the newline.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { blankComments } from '../../src/policy/document.js';

function reference(text: string): string {
  const out = text.split('');
  let quote = '';
  let prev = '\n';
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c === '\n') { quote = ''; prev = c; continue; }
    if (quote) { if (c === quote) quote = ''; prev = c; continue; }
    if ((c === '"' || c === "'") && /[\s([,:=]/.test(prev)) quote = c;
    else if (c === '#' && /\s/.test(prev)) {
      while (i < text.length && text[i] !== '\n') out[i++] = ' ';
      i--;
      continue;
    }
    prev = c;
  }
  return out.join('');
}

test('blankComments: the shipped policies, as the reference blanks them', () => {
  const dir = path.join(process.env.FALCONET_SHARED ?? '/work/shared', 'data/sysflow/policies/runtimeintegrity');
  for (const f of readdirSync(dir)) {
    const t = readFileSync(path.join(dir, f), 'utf8');
    const got = blankComments(t);
    assert.equal(got.length, t.length);
    assert.equal(got, reference(t), f);
  }
  assert.equal(blankComments('a: b # c\n  "x # y" # z'), 'a: b    \n  "x # y"    ');
});

test('blankComments: 100,000 random texts of quotes, comment marks and every kind of blank', () => {
  const alpha = ['#', ' ', '\n', '"', "'", '(', '[', ',', ':', '=', 'a', '\t', '\u00a0', '\u2028', '\ud83d', '\ude00', '\r', 'x', '\u3000', '\u000b', '\ufeff', '\u200b'];
  let seed = 20261203;
  const rnd = (n: number) => { seed = (seed * 1103515245 + 12345) & 0x7fffffff; return seed % n; };
  for (let k = 0; k < 100_000; k++) {
    let s = '';
    const n = rnd(40);
    for (let i = 0; i < n; i++) s += alpha[rnd(alpha.length)];
    assert.equal(blankComments(s), reference(s), JSON.stringify(s));
  }
});
