// Sizes and durations in sink URLs: `100MB`, `1GiB`, `512k`, `10s`, `5m`, `250ms`.
// Size units are binary (K = 1024), with or without `B`/`iB`; a bare number is bytes.

const SIZE: Record<string, number> = { '': 1, b: 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 };
const TIME: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** Bytes, or null if the text is not a size. */
export function parseSize(text: string): number | null {
  const m = /^(\d+(?:\.\d+)?)\s*([kmgt]?)(?:i?b)?$/i.exec(text.trim());
  if (!m) return null;
  const v = Math.floor(Number(m[1]) * SIZE[m[2]!.toLowerCase()]!);
  return Number.isSafeInteger(v) ? v : null;
}

/** Milliseconds, or null if the text is not a duration. A bare number is milliseconds. */
export function parseDuration(text: string): number | null {
  const m = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?$/i.exec(text.trim());
  if (!m) return null;
  const v = Math.round(Number(m[1]) * TIME[(m[2] ?? 'ms').toLowerCase()]!);
  return Number.isSafeInteger(v) ? v : null;
}
