// RepeatLines: the gate that keeps a retry loop's same line to one a minute.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RepeatLines } from '../../src/util/repeat-lines.js';

test('a new line passes at once; the same line passes once per interval and counts what it held back', () => {
  let now = 1_000;
  const gate = new RepeatLines(60_000, () => now);
  const seen: [number, number | undefined][] = [];
  const step = (text: string, at: number) => { now = at; seen.push([at, gate.pass(text)]); };
  step('503', 1_000); //        first: passes, nothing held
  step('503', 6_000); //        held
  step('503', 11_000); //       held
  step('503', 60_999); //       held: 59,999 ms after the last that passed
  step('503', 61_000); //       passes: the interval is up; 3 held back
  step('TIMEOUT', 62_000); //   a different line passes at once, nothing held
  step('503', 63_000); //       different from the last again: passes, its old count is gone
  step('503', 64_000); //       held
  assert.deepEqual(seen, [
    [1_000, 0], [6_000, undefined], [11_000, undefined], [60_999, undefined],
    [61_000, 3], [62_000, 0], [63_000, 0], [64_000, undefined],
  ]);
});

test('an empty first line is not mistaken for a repeat', () => {
  const gate = new RepeatLines(60_000, () => 0);
  assert.equal(gate.pass(''), 0);
  assert.equal(gate.pass(''), undefined);
});
