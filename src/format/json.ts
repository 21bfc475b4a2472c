// A small JSON writer for records whose key order and number formats are part of the output
// contract (kflowd prints durations with exactly 9 decimals). Objects are Maps (insertion
// order for every key); strings go through JSON.stringify, which escapes control characters,
// quotes, backslashes and lone surrogates, so any bytes in names or payloads stay valid JSON.

/** A number already formatted (e.g. "0.000048490"). */
export class Raw {
  constructor(readonly text: string) {}
}

export type JValue = string | number | bigint | boolean | null | Raw | JValue[] | JObject;
export type JObject = Map<string, JValue>;

function scalar(v: JValue): string | undefined {
  if (typeof v === 'string') return JSON.stringify(v);
  if (typeof v === 'number') return Number.isFinite(v) ? String(v) : 'null';
  if (typeof v === 'bigint') return v.toString();
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  if (v === null) return 'null';
  if (v instanceof Raw) return v.text;
  return undefined;
}

// Output keys repeat in every record: quote each once.
const quotedKeys = new Map<string, string>();
function quoteKey(k: string): string {
  let q = quotedKeys.get(k);
  if (q === undefined) {
    q = JSON.stringify(k);
    if (quotedKeys.size < 4096) quotedKeys.set(k, q);
  }
  return q;
}

/** kflowd's one-line style: `{"Key": value, "Key2": value}`. Parts are joined once per
 * record: repeated `+=` builds deep ropes that cost more to flatten than to build. */
export function toMinJson(v: JValue): string {
  const parts: (string | number)[] = [];
  minValue(v, parts);
  return parts.join('');
}

/** The entries of o as `, "Key": value` parts: the tail of an object whose first keys the
 * caller has written already. */
export function minEntries(o: JObject, out: (string | number)[]): void {
  for (const [k, val] of o) {
    out.push(', ', quoteKey(k), ': ');
    minValue(val, out);
  }
}

/** One value in kflowd's one-line style, as parts. */
export function minValue(v: JValue, out: (string | number)[]): void {
  if (v instanceof Map) {
    out.push('{');
    let first = true;
    for (const [k, val] of v) {
      if (!first) out.push(', ');
      out.push(quoteKey(k), ': ');
      minValue(val, out);
      first = false;
    }
    out.push('}');
  } else if (Array.isArray(v)) {
    out.push('[');
    for (let i = 0; i < v.length; i++) {
      if (i) out.push(', ');
      minValue(v[i]!, out);
    }
    out.push(']');
  } else {
    out.push(scalar(v)!);
  }
}

/** Pretty: two-space indents, one key per line; arrays of scalars stay on one line. */
export function toPrettyJson(v: JValue, indent = ''): string {
  const s = scalar(v);
  if (s !== undefined) return s;
  const inner = indent + '  ';
  if (Array.isArray(v)) {
    if (v.length === 0) return '[]';
    if (v.every((x) => scalar(x) !== undefined)) return `[${v.map(toMinJson).join(', ')}]`;
    return `[\n${v.map((x) => inner + toPrettyJson(x, inner)).join(',\n')}\n${indent}]`;
  }
  const obj = v as JObject;
  if (obj.size === 0) return '{}';
  const lines: string[] = [];
  for (const [k, val] of obj) lines.push(`${inner}${quoteKey(k)}: ${toPrettyJson(val, inner)}`);
  return `{\n${lines.join(',\n')}\n${indent}}`;
}
