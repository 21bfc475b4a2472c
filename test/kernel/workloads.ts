// Workloads with a known ground truth, shared by kernel tests and bench/.
import { execFileSync, spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { scratchDir } from '../lib/temp-dir.js';

/** Runs `cmd args…` in `cwd`; its pid and stdout once it exits with 0 (else rejects). */
export function runIn(cmd: string, args: string[], cwd: string): Promise<{ pid: number; stdout: string }> {
  return new Promise((resolve, reject) => {
    const c = spawn(cmd, args, { cwd, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    c.stdout.setEncoding('utf8').on('data', (d: string) => { out += d; });
    c.on('error', reject);
    c.on('close', (code) => (code === 0 ? resolve({ pid: c.pid!, stdout: out }) : reject(new Error(`${cmd} exited ${code}`))));
  });
}

const LOAD_C = `
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>
#include <stdlib.h>
int main(int argc, char **argv) {
  int writes = atoi(argv[1]), files = atoi(argv[2]);
  int fd = open("big", O_CREAT | O_WRONLY | O_TRUNC, 0644);
  for (int i = 0; i < writes; i++) if (write(fd, "x", 1) != 1) return 1;
  close(fd);
  char name[64];
  for (int i = 0; i < files; i++) {
    snprintf(name, sizeof name, "small-%d", i);
    int f = open(name, O_CREAT | O_WRONLY | O_TRUNC, 0644);
    if (f < 0 || write(f, "y", 1) != 1) return 2;
    close(f);
    if (unlink(name)) return 3;
  }
  return 0;
}
`;

/** Compiles the file workload: `load WRITES FILES` in its cwd does WRITES one-byte writes to
 * "big", then creates, writes one byte to, closes and deletes FILES small files. */
export function buildLoad(): string {
  const dir = scratchDir('fn-load-bin-');
  writeFileSync(path.join(dir, 'load.c'), LOAD_C);
  execFileSync('cc', ['-O2', '-o', path.join(dir, 'load'), path.join(dir, 'load.c')]);
  return path.join(dir, 'load');
}

