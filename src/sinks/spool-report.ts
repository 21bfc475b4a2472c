// Read-only description of a spool directory for `falconet spool inspect` / `spool verify`.
// It takes no lock and changes nothing, so it is safe on the spool of a running agent.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { recordIdString } from '../pipeline/types.js';
import { scanSegment } from './segment-scan.js';
import { consumerOfCursor, decodeCursor, parseSegName, readSegHeader, segName, type Pos } from './spool-format.js';

export interface SegmentReport {
  file: string;
  bytes: number;
  records: number;
  first?: string;
  last?: string;
  /** a bad header or frame: where, why, and how many bytes follow it */
  problem?: string;
}

export interface CursorReport {
  consumer: string;
  acked: Pos | null;
  sent: Pos | null;
  /** records after the acked cursor (still to be delivered) */
  pending: number;
  problem?: string;
}

export interface SpoolReport {
  dir: string;
  bytes: number;
  records: number;
  segments: SegmentReport[];
  cursors: CursorReport[];
  counters: Record<string, number>;
  lockedBy: number | null;
  sound: boolean;
}

export function reportSpool(dir: string): SpoolReport {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new Error(`${dir}: not a directory`);
  const files = readdirSync(dir);
  const segs = files.map(parseSegName).filter((n): n is number => n !== null).sort((a, b) => a - b);
  const segments: SegmentReport[] = [];
  const headerLen = new Map<number, number>();
  for (let i = 0; i < segs.length; i++) {
    const file = segName(segs[i]!);
    const path = join(dir, file);
    const bytes = statSync(path).size;
    const h = readSegHeader(path);
    if (!h || h.seg !== segs[i]) {
      segments.push({ file, bytes, records: 0, problem: `bad segment header; ${bytes} bytes unusable (removed at next start)` });
      continue;
    }
    headerLen.set(h.seg, h.size);
    const s = scanSegment(path, h.size);
    const r: SegmentReport = { file, bytes, records: s.records };
    if (s.firstId) r.first = recordIdString(s.firstId);
    if (s.lastId) r.last = recordIdString(s.lastId);
    if (s.bad) {
      const cut = bytes - s.bad.at;
      r.problem = `${s.bad.why} frame at offset ${s.bad.at}; ${cut} bytes after it ${i === segs.length - 1 ? 'are truncated at next start' : 'are skipped when read'}`;
    }
    segments.push(r);
  }
  const cursors: CursorReport[] = [];
  for (const f of files.sort()) {
    const consumer = consumerOfCursor(f);
    if (consumer === null) continue;
    const c = decodeCursor(readFileSync(join(dir, f)));
    if (!c) {
      cursors.push({ consumer, acked: null, sent: null, pending: segments.reduce((n, s) => n + s.records, 0), problem: 'unreadable cursor: everything is re-sent' });
      continue;
    }
    let pending = 0;
    for (const seg of segs) {
      if (seg < c.acked.seg || !headerLen.has(seg)) continue;
      const from = seg === c.acked.seg ? Math.max(c.acked.off, headerLen.get(seg)!) : headerLen.get(seg)!;
      pending += scanSegment(join(dir, segName(seg)), from).records;
    }
    cursors.push({ consumer, acked: c.acked, sent: c.sent, pending });
  }
  let counters: Record<string, number> = {};
  try {
    counters = JSON.parse(readFileSync(join(dir, 'stats.json'), 'utf8')) as Record<string, number>;
  } catch {
    /* none yet */
  }
  let lockedBy: number | null = null;
  try {
    const pid = Number(readFileSync(join(dir, 'lock'), 'utf8').trim());
    if (pid > 0) {
      try {
        process.kill(pid, 0);
        lockedBy = pid;
      } catch {
        /* stale lock */
      }
    }
  } catch {
    /* no lock */
  }
  return {
    dir,
    bytes: segments.reduce((n, s) => n + s.bytes, 0),
    records: segments.reduce((n, s) => n + s.records, 0),
    segments,
    cursors,
    counters,
    lockedBy,
    sound: segments.every((s) => !s.problem) && cursors.every((c) => !c.problem),
  };
}
