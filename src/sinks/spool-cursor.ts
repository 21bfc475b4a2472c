// One consumer's cursors in the spool (spool.ts): where a restart resumes (acked), what was
// handed to the sink (sent), what is confirmed for good (held) and where the next read starts.
// acked and sent are persisted in the consumer's cursor file, one 64-byte slot per write
// (alternating by generation, spool-format.ts), so a torn write leaves the previous one readable.
import { closeSync, existsSync, fsyncSync, openSync, readSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { cmpPos, cursorName, cursorSlotOffset, decodeCursor, encodeCursorSlot, type Pos } from './spool-format.js';

export class SpoolCursor {
  private gen: bigint;
  /** persisted: the sink took everything before it (where a restart resumes) */
  acked: Pos;
  /** persisted: everything before it was (at least) handed to the sink */
  sent: Pos;
  /** in memory: confirmed for good; records before it may be deleted, a rewind comes back here */
  held: Pos;
  read: Pos;
  /** the sent cursor found at start: records before it may have been delivered already */
  readonly resendUpTo: Pos;
  /** `acked` moved on since the cursor was last written (ackSoon) */
  private dirty = false;

  private constructor(readonly name: string, private readonly fd: number, gen: bigint, acked: Pos, sent: Pos, resendUpTo: Pos) {
    this.gen = gen;
    this.acked = acked;
    this.sent = sent;
    this.held = acked;
    this.read = acked;
    this.resendUpTo = resendUpTo;
  }

  /**
   * Opens (or creates) the cursor file of consumer `name` in `dir`. `first` is the oldest record's
   * position (where a new or unreadable cursor starts); `clamp` moves a saved position onto data
   * that still exists.
   */
  static open(dir: string, name: string, first: Pos, clamp: (p: Pos) => Pos, log: (line: string) => void): SpoolCursor {
    const path = join(dir, cursorName(name));
    const fd = openSync(path, existsSync(path) ? 'r+' : 'w+');
    const b = Buffer.alloc(128);
    const n = readSync(fd, b, 0, 128, 0);
    const saved = decodeCursor(b.subarray(0, n));
    const acked = saved ? clamp(saved.acked) : first;
    let sent = saved ? clamp(saved.sent) : acked;
    if (cmpPos(sent, acked) < 0) sent = acked;
    if (!saved && n > 0) log(`spool ${dir}: cursor of ${name} is unreadable; resending from the oldest record`);
    return new SpoolCursor(name, fd, saved?.gen ?? 0n, acked, sent, saved ? sent : acked);
  }

  /** Moves the read position back to the last confirmed record (after a failed send). */
  rewind(): void {
    this.read = this.held;
    if (cmpPos(this.acked, this.held) > 0) {
      // what was taken since may be lost: a restart must send it again too
      this.acked = this.held;
      this.write();
    }
  }

  /** Records the position up to which records have been handed to the sink (before sending). */
  markSent(upTo: Pos): void {
    if (cmpPos(upTo, this.sent) <= 0) return;
    this.sent = upTo;
    this.write();
  }

  /** Moves the sent cursor back (the last send put nothing on the wire); never before acked. */
  resetSent(to: Pos): void {
    const p = cmpPos(to, this.acked) < 0 ? this.acked : to;
    if (cmpPos(p, this.sent) === 0) return;
    this.sent = p;
    this.write();
  }

  /** The sink took everything before `upTo`; `now`: persisted at once, else with the next write. */
  ack(upTo: Pos, now: boolean): void {
    if (cmpPos(upTo, this.acked) <= 0) return;
    this.acked = upTo;
    if (cmpPos(this.sent, upTo) < 0) this.sent = upTo;
    if (now) this.write();
    else this.dirty = true;
  }

  /** Writes the cursor if an ack is not on disk yet. */
  persist(): void {
    if (this.dirty) this.write();
  }

  /** Every position in a deleted segment (up to `seg`) moves to `to`, the next segment's start. */
  moveOffSegment(seg: number, to: Pos): void {
    if (this.acked.seg <= seg) this.acked = to;
    if (this.held.seg <= seg) this.held = to;
    if (this.sent.seg <= seg) this.sent = to;
    if (this.read.seg <= seg) this.read = to;
  }

  write(): void {
    this.dirty = false;
    this.gen++;
    writeSync(this.fd, encodeCursorSlot({ gen: this.gen, acked: this.acked, sent: this.sent }), 0, 64, cursorSlotOffset(this.gen));
  }

  /** Persists what is not on disk yet, fsyncs and closes the file. */
  close(): void {
    this.persist();
    fsyncSync(this.fd);
    closeSync(this.fd);
  }
}
