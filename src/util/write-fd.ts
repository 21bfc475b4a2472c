// Writes a whole buffer to a file descriptor. A pipe that Node (or the parent) has put in
// non-blocking mode answers EAGAIN when it is full: then wait a moment and go on, rather than
// losing the rest of the buffer. Other errors (EPIPE: the reader left) are the caller's.
import { writeSync } from 'node:fs';

export async function writeAllFd(fd: number, buf: Uint8Array): Promise<void> {
  let off = 0;
  while (off < buf.length) {
    try {
      off += writeSync(fd, buf, off, buf.length - off);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EAGAIN') throw e;
      await new Promise((r) => setTimeout(r, 1));
    }
  }
}
