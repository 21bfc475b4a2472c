// The TypeScript decoder reads fixed offsets (src/sensor/layout.ts); this compiles a C program
// against bpf/records.h that prints every offsetof()/sizeof() and compares them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { C_STRUCTS } from '../../src/sensor/layout.js';
import { REPO } from '../kernel/harness.js';
import { scratchDir } from '../lib/temp-dir.js';

function haveCc(): boolean {
  try {
    execFileSync('cc', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

test('layout.ts matches bpf/records.h (offsets and sizes)', { skip: haveCc() ? false : 'no C compiler' }, () => {
  const lines: string[] = [];
  for (const [name, layout] of Object.entries(C_STRUCTS)) {
    lines.push(`printf("%s size %zu\\n", "${name}", sizeof(struct ${name}));`);
    for (const field of Object.keys(layout.fields)) {
      lines.push(`printf("%s.%s %zu %zu\\n", "${name}", "${field}", offsetof(struct ${name}, ${field}), sizeof(((struct ${name} *)0)->${field}));`);
    }
  }
  const dir = scratchDir('fn-layout-');
  const src = path.join(dir, 'layout.c');
  writeFileSync(src, `#include <stdio.h>\n#include <stddef.h>\n#include "${REPO}/bpf/records.h"\nint main(void) {\n${lines.join('\n')}\nreturn 0;\n}\n`);
  execFileSync('cc', ['-o', path.join(dir, 'layout'), src]);
  const out = execFileSync(path.join(dir, 'layout'), { encoding: 'utf8' });
  const got = new Map<string, string>();
  for (const l of out.trim().split('\n')) {
    const [k, ...v] = l.split(' ');
    got.set(k!, v.join(' '));
  }
  for (const [name, layout] of Object.entries(C_STRUCTS)) {
    assert.equal(got.get(name), `size ${layout.size}`, `sizeof(struct ${name})`);
    for (const [field, [off, size]] of Object.entries(layout.fields)) {
      assert.equal(got.get(`${name}.${field}`), `${off} ${size}`, `struct ${name}.${field} (offset size)`);
    }
  }
});
