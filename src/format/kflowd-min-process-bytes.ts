// A process record's keys after Proc* in json-min, written as bytes (KflowdMinBytes.process): the
// same keys, order and values as processTailParts and processKeys (kflowd-process.ts),
// byte-identical (test/unit/kflowd-min-process-bytes.test.ts). A process storm is FORK, EXEC, MMAP
// and EXIT records; those and the other frequent calls (file, fd and socket calls, KILL, PIPE,
// MPROTECT, PTRACE) are written here. The rare shapes with nested values (credentials,
// namespaces, SOCKETPAIR, THROTTLED) go through the generic writer as JSON text first
// (processTail), so the record's room is known before it is begun.
import type { ProcEventRecord, ProcRecord, SockAddr } from '../model/process-record.js';
import type { ProcEventName } from '../sensor/layout.js';
import { minEntries, type JObject } from './json.js';
import { errnoName, hex, processKeys, ptraceName, signalName, syscallText } from './kflowd-process.js';
import { bytesOf as b, MAX_EXACT, type LineBytes } from './line-bytes.js';

const K = {
  ret: b(', "EventReturn": '), error: b(', "EventError": '), truncated: b(', "EventTruncated": true'),
  incomplete: b(', "EventIncomplete": true'),
  childPid: b(', "EventChildPID": '), childTid: b(', "EventChildTID": '), cloneFlags: b(', "EventCloneFlags": '),
  threadTrue: b(', "EventThread": true'), threadFalse: b(', "EventThread": false'),
  exePath: b(', "EventExePath": '), filename: b(', "EventFilename": '), interpreter: b(', "EventInterpreter": '),
  argc: b(', "EventArgc": '), argv: b(', "EventArgv": ['), oldTid: b(', "EventOldTID": '),
  status: b(', "EventExitStatus": '), exitSignal: b(', "EventExitSignal": '), coreDump: b(', "EventCoreDump": true'),
  targetPid: b(', "EventTargetPID": '), targetTgid: b(', "EventTargetTGID": '), signal: b(', "EventSignal": '),
  request: b(', "EventPtraceRequest": '), address: b(', "EventAddress": '), data: b(', "EventData": '),
  length: b(', "EventLength": '), protection: b(', "EventProtection": '), mapFlags: b(', "EventMapFlags": '),
  filePath: b(', "EventFilePath": '), offset: b(', "EventOffset": '),
  anonTrue: b(', "EventAnonymous": true'), anonFalse: b(', "EventAnonymous": false'),
  fds: b(', "EventFDs": ['), flags: b(', "EventFlags": '), path: b(', "EventPath": '), newPath: b(', "EventNewPath": '),
  target: b(', "EventTarget": '), mode: b(', "EventMode": '), fd: b(', "EventFD": '), newFd: b(', "EventNewFD": '),
  uid: b(', "EventUID": '), gid: b(', "EventGID": '), family: b(', "EventFamily": '), backlog: b(', "EventBacklog": '),
  empty: b('""'), zero: b('"0"'), null: b('null'), comma: b(', '),
};
/** the keys of one side of a socket call (addr() in kflowd-process.ts) */
const side = (s: 'Remote' | 'Local') => ({ path: b(`, "Event${s}Path": `), ip: b(`, "Event${s}IP": `), port: b(`, "Event${s}Port": `) });
const REMOTE = side('Remote'), LOCAL = side('Local');
const HEX = b('0123456789abcdef');
const U64 = 1n << 64n;

/** One event type's writer: its keys after EventError, and the bytes they may need beyond the
 * fixed room of every record (strings at 6 bytes a character: escapes). */
export interface EventBytes { room(r: ProcEventRecord): number; write(w: LineBytes, r: ProcEventRecord): void }

const chars = (s: string | undefined): number => (s === undefined ? 0 : s.length);
/** digits of a bigint beyond what the fixed room holds (20 digits and a sign) */
const bigRoom = (v: bigint | undefined): number => (v !== undefined && (v >= U64 || v <= -U64) ? v.toString().length + 2 : 0);
const none = (): number => 0;

/** The digits of v (0 ≤ v < 2^32), at least `min` of them, at p; returns the end. */
function hexInto(buf: Buffer, p: number, v: number, min: number): number {
  let digits = 1;
  for (let t = v >>> 4; t !== 0; t >>>= 4) digits++;
  const end = p + Math.max(digits, min);
  for (let i = end - 1; i >= p; i--) { buf[i] = HEX[v & 15]!; v >>>= 4; }
  return end;
}

/** hex(v) as a JSON string; the digits in 32-bit halves when v is an exact non-negative integer. */
function hexStr(w: LineBytes, v: bigint | number): void {
  let n: number;
  if (typeof v === 'number') n = v >= 0 && Number.isSafeInteger(v) ? v : -1;
  else n = v >= 0n && v <= MAX_EXACT ? Number(v) : -1;
  if (n < 0) { w.str(hex(v)); return; }
  const buf = w.buf;
  buf[w.pos] = 0x22; buf[w.pos + 1] = 0x30; buf[w.pos + 2] = 0x78;
  const hi = Math.floor(n / 0x100000000);
  let p = w.pos + 3;
  if (hi) p = hexInto(buf, p, hi, 1);
  p = hexInto(buf, p, (n - hi * 0x100000000) >>> 0, hi ? 8 : 1);
  buf[p] = 0x22;
  w.pos = p + 1;
}

/** A bigint as processKeys' num() gives it: a number when exact, else its digits as a string. */
function bigNum(w: LineBytes, v: bigint): void {
  if (v >= -MAX_EXACT && v <= MAX_EXACT) { w.num(Number(v)); return; }
  w.buf[w.pos++] = 0x22; w.ascii(v.toString()); w.buf[w.pos++] = 0x22;
}

/** A number as the Map writer gives it (non-finite ones as null; processTailParts' events
 * write theirs with w.num, as the string join does). */
function jnum(w: LineBytes, n: number): void {
  if (Number.isFinite(n)) w.num(n); else w.put(K.null);
}

function bool(w: LineBytes, v: boolean, yes: Uint8Array, no: Uint8Array): void {
  w.put(v ? yes : no);
}

/** protString(prot) as a JSON string */
function prot(w: LineBytes, p: number): void {
  const buf = w.buf;
  let i = w.pos;
  buf[i++] = 0x22; buf[i++] = p & 1 ? 0x72 : 0x2d; buf[i++] = p & 2 ? 0x77 : 0x2d; buf[i++] = p & 4 ? 0x78 : 0x2d; buf[i++] = 0x22;
  w.pos = i;
}

/** octal(m): the permission bits as four octal digits, quoted */
function octal(w: LineBytes, m: number): void {
  const v = m & 0o7777;
  const buf = w.buf;
  let i = w.pos;
  buf[i++] = 0x22; buf[i++] = 0x30 + (v >> 9); buf[i++] = 0x30 + ((v >> 6) & 7); buf[i++] = 0x30 + ((v >> 3) & 7); buf[i++] = 0x30 + (v & 7); buf[i++] = 0x22;
  w.pos = i;
}

const fork: EventBytes = {
  room: none,
  write(w, r) {
    const k = r.fork!;
    if (!k.failed) { w.put(K.childPid); w.num(k.childPid); w.put(K.childTid); w.num(k.childTid); }
    bool(w, k.thread, K.threadTrue, K.threadFalse);
    w.put(K.cloneFlags); hexStr(w, k.cloneFlags);
  },
};

const exec: EventBytes = {
  room(r) {
    const e = r.exec!;
    let n = 6 * (e.exePath.length + e.filename.length + chars(e.interpreter));
    // `, ` and the quotes around each argument
    for (let i = 0; i < e.argv.length; i++) n += 6 * e.argv[i]!.length + 4;
    return n;
  },
  write(w, r) {
    const e = r.exec!;
    if (e.exePath) { w.put(K.exePath); w.str(e.exePath); }
    w.put(K.filename); w.str(e.filename);
    if (e.interpreter !== undefined) { w.put(K.interpreter); w.str(e.interpreter); }
    w.put(K.argc); w.num(e.argc);
    w.put(K.argv);
    for (let i = 0; i < e.argv.length; i++) { if (i) w.put(K.comma); w.str(e.argv[i]!); }
    w.buf[w.pos++] = 0x5d;
    if (e.oldTid !== r.hdr.tid) { w.put(K.oldTid); w.num(e.oldTid); }
  },
};

const exit: EventBytes = {
  room: none,
  write(w, r) {
    const x = r.exit!;
    w.put(K.status); w.num(x.status);
    w.put(K.exitSignal);
    if (x.signal) w.str(signalName(x.signal)); else w.put(K.empty);
    if (x.coreDump) w.put(K.coreDump);
    bool(w, x.threadExit, K.threadTrue, K.threadFalse);
  },
};

const kill: EventBytes = {
  room: none,
  write(w, r) {
    const k = r.kill!;
    w.put(K.targetPid); jnum(w, k.target);
    if (k.tgid !== undefined) { w.put(K.targetTgid); jnum(w, k.tgid); }
    w.put(K.signal);
    if (k.signal) w.str(signalName(k.signal)); else w.put(K.zero);
  },
};

const ptrace: EventBytes = {
  // a request's name or number: at most ~20 characters, ASCII
  room: none,
  write(w, r) {
    const t = r.ptrace!;
    w.put(K.request); w.str(ptraceName(t.request));
    w.put(K.targetPid); jnum(w, t.target);
    w.put(K.address); hexStr(w, t.addr);
    w.put(K.data); hexStr(w, t.data);
  },
};

const mmap: EventBytes = {
  room: (r) => 6 * chars(r.mmap!.path) + bigRoom(r.mmap!.length) + bigRoom(r.mmap!.offset),
  write(w, r) {
    const m = r.mmap!;
    w.put(K.address); hexStr(w, m.addr);
    w.put(K.length); bigNum(w, m.length);
    w.put(K.protection); prot(w, m.prot);
    if (m.flags !== undefined) { w.put(K.mapFlags); hexStr(w, m.flags); }
    if (m.path !== undefined) {
      w.put(K.filePath); w.str(m.path);
      if (m.offset !== undefined) { w.put(K.offset); bigNum(w, m.offset); }
    }
    bool(w, m.anonymous, K.anonTrue, K.anonFalse);
  },
};

const pipe: EventBytes = {
  room: (r) => 32 * r.pipe!.fds.length,
  write(w, r) {
    const p = r.pipe!;
    w.put(K.fds);
    for (let i = 0; i < p.fds.length; i++) { if (i) w.put(K.comma); jnum(w, p.fds[i]!); }
    w.buf[w.pos++] = 0x5d;
    w.put(K.flags); hexStr(w, p.flags);
  },
};

// File calls: EventPath first (each writer below), then the call's own keys.
const fileRoom = (r: ProcEventRecord): number => {
  const f = r.file!;
  return 6 * (chars(f.path) + chars(f.newPath) + chars(f.target)) + bigRoom(f.length);
};
type FileView = NonNullable<ProcEventRecord['file']>;
function path(w: LineBytes, f: FileView): void {
  w.put(K.path); w.str(f.path ?? '');
}
/** EventFD when the call took one */
function optFd(w: LineBytes, f: FileView): void {
  if ((f.fd ?? -1) >= 0) { w.put(K.fd); jnum(w, f.fd!); }
}
function optFlags(w: LineBytes, f: FileView): void {
  if (f.flags) { w.put(K.flags); hexStr(w, f.flags); }
}
const fileEvent = (write: (w: LineBytes, f: FileView) => void): EventBytes => ({ room: fileRoom, write: (w, r) => write(w, r.file!) });

const mkdir = fileEvent((w, f) => { path(w, f); w.put(K.mode); octal(w, f.mode ?? 0); });
const removal = fileEvent((w, f) => { path(w, f); optFlags(w, f); });
const twoPaths = fileEvent((w, f) => { path(w, f); w.put(K.newPath); w.str(f.newPath ?? ''); optFlags(w, f); });
const symlink = fileEvent((w, f) => { w.put(K.target); w.str(f.target ?? ''); w.put(K.newPath); w.str(f.path ?? ''); });
const chmod = fileEvent((w, f) => { path(w, f); optFd(w, f); w.put(K.mode); octal(w, f.mode ?? 0); });
const chown = fileEvent((w, f) => {
  path(w, f); optFd(w, f); w.put(K.uid); jnum(w, f.uid ?? -1); w.put(K.gid); jnum(w, f.gid ?? -1);
});
const truncate = fileEvent((w, f) => { path(w, f); optFd(w, f); w.put(K.length); bigNum(w, f.length ?? 0n); });
const dup = fileEvent((w, f) => {
  path(w, f); w.put(K.fd); jnum(w, f.fd ?? -1);
  if ((f.newFd ?? -1) >= 0) { w.put(K.newFd); jnum(w, f.newFd!); }
});
const chdir = fileEvent((w, f) => { path(w, f); optFd(w, f); });

// Socket calls: the family, then the remote and the local address.
const addrChars = (a: SockAddr | undefined): number => (a ? a.family.length + chars(a.ip) + chars(a.path) : 0);
function addr(w: LineBytes, k: typeof REMOTE, a: SockAddr | undefined): void {
  if (!a) return;
  if (a.path !== undefined) { w.put(k.path); w.str(a.path); }
  if (a.ip !== undefined) { w.put(k.ip); w.str(a.ip); w.put(k.port); jnum(w, a.port ?? 0); }
}
const net: EventBytes = {
  room: (r) => 6 * (addrChars(r.net!.remote) + addrChars(r.net!.local)),
  write(w, r) {
    const n = r.net!;
    w.put(K.fd); jnum(w, n.fd);
    const fam = n.remote?.family ?? n.local?.family;
    if (fam) { w.put(K.family); w.str(fam); }
    addr(w, REMOTE, n.remote);
    addr(w, LOCAL, n.local);
    if (n.backlog !== undefined) { w.put(K.backlog); jnum(w, n.backlog); }
  },
};

/** The writers and their `, "EventType": "…", "EventSyscall": ` by event; the others (nested
 * values, rare) go through the generic writer. */
const WRITERS: Partial<Record<ProcEventName, EventBytes>> = {
  FORK: fork, EXEC: exec, EXIT: exit, KILL: kill, PTRACE: ptrace, MMAP: mmap, MPROTECT: mmap, PIPE: pipe,
  MKDIR: mkdir, RMDIR: removal, UNLINK: removal, LINK: twoPaths, RENAME: twoPaths, SYMLINK: symlink, CHMOD: chmod,
  CHOWN: chown, TRUNCATE: truncate, DUP: dup, CHDIR: chdir,
  CONNECT: net, ACCEPT: net, GETPEERNAME: net, BIND: net, LISTEN: net,
};
const HEADS = new Map<string, Uint8Array>(Object.keys(WRITERS).map((e) => [e, b(`, "EventType": "${e}", "EventSyscall": `)]));

/** How one record's tail is written: by an EventBytes, or as the generic writer's JSON text. */
export interface ProcessTail { writer: EventBytes | undefined; text: string; room: number }
const tail: ProcessTail = { writer: undefined, text: '', room: 0 };
const parts: (string | number)[] = [];

/** Fills and returns one reused object, valid until the next call. */
export function processTail(r: ProcRecord): ProcessTail {
  const e = r.event === 'THROTTLED' ? undefined : WRITERS[r.event];
  tail.writer = e;
  if (e) {
    const p = r as ProcEventRecord;
    // keys and numbers of the longest event ~600 bytes; strings at 6 bytes a character
    tail.text = '';
    tail.room = 1024 + 6 * chars(p.syscallName) + bigRoom(p.ret) + e.room(p);
    return tail;
  }
  parts.length = 0;
  const o: JObject = new Map();
  processKeys(o, r);
  minEntries(o, parts);
  tail.text = parts.join('');
  // JSON text: at most 3 UTF-8 bytes a character
  tail.room = 32 + 3 * tail.text.length;
  return tail;
}

/** Writes the keys after ProcAge's value; `t` from processTail for this record. */
export function processTailBytes(w: LineBytes, r: ProcRecord, t: ProcessTail): void {
  const e = t.writer;
  if (!e) { w.json(t.text); return; }
  const p = r as ProcEventRecord;
  w.put(HEADS.get(p.event)!); w.str(syscallText(p));
  w.put(K.ret); bigNum(w, p.ret);
  const err = errnoName(p.ret);
  if (err) { w.put(K.error); w.str(err); }
  e.write(w, p);
  if (p.truncated) w.put(K.truncated);
  if (p.incomplete) w.put(K.incomplete);
}
