// What -p cannot capture on this kernel, said once at start in words a user acts on. The sensor
// reports every program it skipped ("skipped NAME (SECTION: why)"). UNIX syslog has two sides:
// the sender side (tp_btf/sk_data_ready, which older kernels such as 6.1 lack) and the reader
// side (tp_btf/skb_copy_datagram_iovec), which takes the datagrams the sender side did not see,
// or all of them where the sender side cannot run.

const UNIX_SENDER = /^skipped sock_pl_unix \(([^:]*): (.*)\)$/;
const UNIX_READER = /^skipped sock_pl_unix_rd \(([^:]*): (.*)\)$/;

/** Notes for the start-up log about payload capture the kernel cannot do. */
export function payloadStartupNotes(programStatus: readonly string[]): string[] {
  const notes: string[] = [];
  let sender: RegExpExecArray | null = null, reader: RegExpExecArray | null = null;
  for (const s of programStatus) {
    sender ??= UNIX_SENDER.exec(s);
    reader ??= UNIX_READER.exec(s);
    if (/^skipped sock_pl_(in|out) /.test(s)) {
      notes.push(`-p: ${s.slice('skipped '.length)}; DNS, HTTP and syslog payloads over UDP and TCP are not captured`);
    }
  }
  if (sender && reader) {
    notes.push(`-p syslog=unix: this kernel cannot run ${sender[1]} (${sender[2]}) nor ${reader[1]} (${reader[2]}); ` +
      'syslog messages sent over UNIX sockets are not captured (UDP and TCP syslog still are)');
  } else if (sender) {
    notes.push(`-p syslog=unix: this kernel cannot run ${sender[1]} (${sender[2]}); syslog messages over UNIX datagram ` +
      'sockets are captured on the reader side (tp_btf/skb_copy_datagram_iovec) instead; over UNIX stream sockets they are not');
  } else if (reader) {
    notes.push(`-p syslog=unix: this kernel cannot run ${reader[1]} (${reader[2]}); a UNIX syslog message that its receiver ` +
      'reads before sk_data_ready sees it is not captured (counted as drop_read)');
  }
  return notes;
}
