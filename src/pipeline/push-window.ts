// Several pushes to one delivery outstanding at once. A delivery with a disk spool resolves a
// push only after its group commit (write + fdatasync, several ms); a producer that awaits each
// push before making the next batch gets one batch per fsync and sits idle meanwhile. With a
// window, the next batches are encoded and admitted while the previous commit runs, and they
// share the next commit. Deliveries admit pushes in call order, so order is kept; the window
// bounds what runs ahead (pushes and bytes), and under back-pressure the oldest push still
// blocks the producer.

export interface PushWindowSize {
  /** pushes outstanding at most (1 = await each push) */
  readonly pushes: number;
  /** bytes of record data outstanding at most (at least one push is always allowed) */
  readonly bytes: number;
}

export class PushWindow {
  private readonly q: { p: Promise<unknown>; bytes: number }[] = [];
  private head = 0;
  private bytes = 0;

  constructor(readonly size: PushWindowSize) {}

  get outstanding(): number {
    return this.q.length - this.head;
  }

  /**
   * Adds a push; resolves once the window has room again. A push that failed makes this (or a
   * later add, or drain) reject with its error, in push order.
   */
  async add(p: Promise<unknown>, bytes: number): Promise<void> {
    p.catch(() => undefined); // awaited below in order; not an unhandled rejection meanwhile
    this.q.push({ p, bytes });
    this.bytes += bytes;
    while (this.outstanding > 0 && (this.outstanding >= this.size.pushes || this.bytes > this.size.bytes)) await this.shift();
  }

  /** Waits for every outstanding push (rejects with the first failure). */
  async drain(): Promise<void> {
    while (this.outstanding > 0) await this.shift();
  }

  private async shift(): Promise<void> {
    const e = this.q[this.head]!;
    this.q[this.head++] = undefined as unknown as { p: Promise<unknown>; bytes: number };
    this.bytes -= e.bytes;
    if (this.head > 64 && this.head * 2 > this.q.length) {
      this.q.splice(0, this.head);
      this.head = 0;
    }
    await e.p;
  }
}
