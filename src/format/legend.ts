// -l/--legend: every output key with a one-line description.
import { FILE_EVENTS } from '../sensor/layout.js';
import { SOCKET_LEGEND, type LegendEntry } from './legend-socket.js';
import { PROCESS_LEGEND } from './legend-process.js';

const INFO: [string, string][] = [
  ['InfoSequenceNumber', 'Sequence number of the record, +1 per record output'],
  ['InfoTimestamp', 'UTC time of the last event of the record'],
  ['InfoMonitor', 'Monitor that produced the record (filesystem, socket, process)'],
  ['InfoHostName', 'Host name'],
  ['InfoHostIP', 'IPv4 address of the default route'],
  ['InfoHostToken', 'Host token given with -T (only then)'],
  ['InfoSystem', 'Operating system'],
  ['InfoKernel', 'Kernel release'],
  ['InfoVersion', 'Agent version'],
  ['InfoUptime', 'Seconds since monitoring started'],
];

const PROC: [string, string][] = [
  ['ProcParent', 'Executable name of the parent process'],
  ['Proc', 'Executable name of the process ("exe/comm" when the task renamed itself)'],
  ['ProcUser', 'User name of ProcUID'],
  ['ProcGroup', 'Group name of ProcGID'],
  ['ProcPPID', 'Parent process id'],
  ['ProcPID', 'Process id (thread group id)'],
  ['ProcTID', 'Thread id of the last event'],
  ['ProcUID', 'User id of the process'],
  ['ProcGID', 'Group id of the process'],
  ['ProcAge', 'Seconds the process had been running at the last event'],
];

const FILE: [string, string][] = [
  ['FilePath', 'Directory of the file, ending with /'],
  ['File', 'File name (the new name after a rename)'],
  ['FileOrigin', 'Old file name, only after a rename'],
  ['FileMode', 'regular, symlink or hardlink (link count > 1)'],
  ['FileEventCount', 'Number of file events aggregated in the record'],
  ['FileEvents', 'Count per event type, in this order:'],
  ['FileEventsDuration', 'Seconds from the first to the last event'],
  ['FileInode', 'Inode number'],
  ['FileInodeLinkCount', 'Hard link count'],
  ['FileDevice', 'Device as <dev-hex>h:<device>:<mount point>:<filesystem>'],
  ['FilePermissions', 'Permissions, octal and symbolic'],
  ['FileUser', 'User name of the owner'],
  ['FileGroup', 'Group name of the owner'],
  ['FileUID', 'User id of the owner'],
  ['FileGID', 'Group id of the owner'],
  ['FileSize', 'Size in bytes at the last event'],
  ['FileSizeChange', 'Size change in bytes over the record, only if it changed'],
  ['FileAccessTime', 'Last access time (UTC)'],
  ['FileStatusChangeTime', 'Last status change time (UTC)'],
  ['FileModificationTime', 'Last modification time (UTC)'],
  ['FileModificationTimeChange', 'Seconds the modification time moved over the record, only if it changed'],
];

const FILE_EVENT_TEXT: Record<string, string> = {
  CREATE: 'File created (open with O_CREAT that created it, link, symlink)',
  OPEN: 'File opened',
  OPEN_EXEC: 'File opened for execution (exec)',
  ACCESS: 'File read (per successful read call)',
  ATTRIB: 'Metadata changed (chmod, chown, utimes, xattr)',
  MODIFY: 'File written or truncated (per successful call)',
  CLOSE_WRITE: 'File opened for writing closed (last reference)',
  CLOSE_NOWRITE: 'File opened read-only closed (last reference)',
  MOVED_FROM: 'File renamed: old name',
  MOVED_TO: 'File renamed: new name',
  DELETE: 'File deleted',
};

export function legendText(): string {
  const fileEntries: LegendEntry[] = FILE.map(([k, d]) =>
    k === 'FileEvents' ? [k, d, FILE_EVENTS.map((e) => [e, FILE_EVENT_TEXT[e]!] as [string, string])] : [k, d]);
  const all: LegendEntry[] = [...INFO, ...PROC, ...fileEntries, ...SOCKET_LEGEND, ...PROCESS_LEGEND];
  const nsub = all.reduce((n, e) => n + (e[2]?.length ?? 0), 0);
  const lines = [`Legend (${all.length} keys, ${nsub} subkeys):`];
  for (const [k, d, subs] of all) {
    lines.push(`${k.padEnd(26)}${d}`);
    for (const [sk, sd] of subs ?? []) lines.push(`   └─ ${sk.padEnd(20)}${sd}`);
  }
  lines.push('', 'Durations and ages are seconds with nine decimals. Names with bytes that are not UTF-8 are',
    'written with each such byte 0xNN as the escape \\udcNN (PEP 383 surrogateescape).');
  return lines.join('\n') + '\n';
}
