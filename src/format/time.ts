// kflowd's time formats: wall clock "Thu, Apr 04 2024 15:34:35.643031330 UTC" and durations as
// seconds with exactly nine decimals.
import { Raw } from './json.js';

const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const NS = 1_000_000_000n;

const p2 = (n: number) => String(n).padStart(2, '0');

// Records cluster in time: remember the last formatted second.
let lastSec = -1n;
let lastPrefix = '';

/** CLOCK_REALTIME nanoseconds → kflowd's UTC string. */
export function wallClock(ns: bigint): string {
  let sec = ns / NS;
  let frac = ns % NS;
  if (frac < 0n) { frac += NS; sec -= 1n; }
  if (sec !== lastSec) {
    const d = new Date(Number(sec) * 1000);
    lastPrefix = `${DAYS[d.getUTCDay()]}, ${MONTHS[d.getUTCMonth()]} ${p2(d.getUTCDate())} ${d.getUTCFullYear()} ` +
      `${p2(d.getUTCHours())}:${p2(d.getUTCMinutes())}:${p2(d.getUTCSeconds())}.`;
    lastSec = sec;
  }
  return `${lastPrefix}${frac.toString().padStart(9, '0')} UTC`;
}

/** Nanoseconds → "S.NNNNNNNNN" (sign kept). */
export function secondsText(ns: bigint): string {
  const neg = ns < 0n;
  const a = neg ? -ns : ns;
  return `${neg ? '-' : ''}${a / NS}.${(a % NS).toString().padStart(9, '0')}`;
}

export function seconds(ns: bigint): Raw {
  return new Raw(secondsText(ns));
}
