// What -p cannot capture on this kernel, said once at start in words a user acts on. The sensor
// reports every program it skipped ("skipped NAME (SECTION: why)"); the UNIX syslog capture
// needs the tp_btf/sk_data_ready tracepoint, which older kernels lack (there is no reader-side
// fallback yet).

const UNIX_PROG = /^skipped sock_pl_unix \(([^:]*): (.*)\)$/;

/** Notes for the start-up log about payload capture the kernel cannot do. */
export function payloadStartupNotes(programStatus: readonly string[]): string[] {
  const notes: string[] = [];
  for (const s of programStatus) {
    const m = UNIX_PROG.exec(s);
    if (m) {
      notes.push(`-p syslog=unix: this kernel cannot run ${m[1]} (${m[2]}); syslog messages sent over UNIX sockets are not captured ` +
        '(UDP and TCP syslog still are)');
    } else if (/^skipped sock_pl_(in|out) /.test(s)) {
      notes.push(`-p: ${s.slice('skipped '.length)}; DNS, HTTP and syslog payloads over UDP and TCP are not captured`);
    }
  }
  return notes;
}
