// The file "server" of the fault tests: the file sink writes into a FIFO, and a reader process
// copies what arrives to the real output file. Stopping the reader (SIGSTOP) is an outage of the
// file: the pipe fills, the sink's writes block, records wait in the spool. The reader opens the
// FIFO read-write so that it never sees end-of-file when a writer (the agent) is SIGKILLed.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';

const READER = `
const fs = require('node:fs');
const [fifo, out] = process.argv.slice(1);
const fd = fs.openSync(fifo, 'r+');
const o = fs.openSync(out, 'a');
const buf = Buffer.allocUnsafe(1 << 16);
for (;;) {
  const n = fs.readSync(fd, buf, 0, buf.length, null);
  if (n > 0) fs.writeSync(o, buf, 0, n);
}`;

export class FifoFile {
  private proc: ChildProcess | null = null;

  constructor(
    readonly fifo: string,
    readonly out: string,
  ) {
    if (!existsSync(fifo)) execFileSync('mkfifo', [fifo]);
  }

  start(): void {
    if (this.proc) return;
    this.proc = spawn(process.execPath, ['-e', READER, this.fifo, this.out], { stdio: 'ignore' });
  }

  /** The file stops taking data: resolves once the reader is stopped (a copy it was making when
   * SIGSTOP came has finished by then), however slow the machine. */
  async pause(): Promise<void> {
    const p = this.proc;
    if (!p?.pid) return;
    p.kill('SIGSTOP');
    const stat = `/proc/${p.pid}/stat`;
    // the state field follows the command name's closing parenthesis: T once stopped
    while (existsSync(stat) && readFileSync(stat, 'utf8').split(') ')[1]?.[0] !== 'T') await new Promise((r) => setTimeout(r, 5));
  }

  resume(): void {
    this.proc?.kill('SIGCONT');
  }

  lines(): string[] {
    return existsSync(this.out) ? readFileSync(this.out, 'utf8').split('\n') : [];
  }

  async stop(): Promise<void> {
    const p = this.proc;
    this.proc = null;
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    const gone = new Promise<void>((r) => p.once('exit', () => r()));
    p.kill('SIGCONT');
    p.kill('SIGKILL');
    await gone;
  }
}
