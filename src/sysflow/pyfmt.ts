// Small emulations of the Python behaviours sysprint's output depends on: json.dumps (default
// separators, ensure_ascii), str() of values, datetime.utcfromtimestamp(ns/1e9).isoformat(),
// and tabulate(..., tablefmt="github") with PRESERVE_WHITESPACE. Kept separate so the exact
// rules are testable on their own.

/** A value in a sysprint flat record (Python objects it can hold). */
export type PyValue = string | number | bigint | boolean | null | PyTuple | readonly PyValue[] | { readonly [k: string]: PyValue };

/** A Python tuple: a list for json.dumps, `(a, b)` for str() (sysprint's empty `tags` is `()`). */
export class PyTuple {
  constructor(readonly items: readonly PyValue[]) {}
}

// ---------- json.dumps ----------
const JSON_ESC: Record<string, string> = { '"': '\\"', '\\': '\\\\', '\n': '\\n', '\r': '\\r', '\t': '\\t', '\b': '\\b', '\f': '\\f' };
// Anything outside ' '..'~' (Python's ESCAPE_ASCII), plus quote and backslash.
const NEEDS_ESC = /["\\\u0000-\u001f\u007f-\uffff]/;
const ESC_ALL = /["\\\u0000-\u001f\u007f-\uffff]/g;

/** Python json.dumps string encoding with ensure_ascii=True (\uXXXX lowercase, surrogate pairs). */
export function pyJsonString(s: string): string {
  if (!NEEDS_ESC.test(s)) return '"' + s + '"';
  return (
    '"' +
    s.replace(ESC_ALL, (ch) => {
      const e = JSON_ESC[ch];
      if (e) return e;
      const code = ch.charCodeAt(0);
      // Python escapes everything outside ' '..'~', DEL included.
      return '\\u' + code.toString(16).padStart(4, '0');
    }) +
    '"'
  );
}

/** json.dumps(value) with Python's default separators (", " and ": "). */
export function pyJson(v: PyValue): string {
  if (v === null) return 'null';
  switch (typeof v) {
    case 'string':
      return pyJsonString(v);
    case 'number':
      return Number.isInteger(v) ? String(v) : pyFloatRepr(v);
    case 'bigint':
      return bigintToString(v);
    case 'boolean':
      return v ? 'true' : 'false';
  }
  if (v instanceof PyTuple) return pyJson(v.items);
  if (Array.isArray(v)) return '[' + (v as PyValue[]).map(pyJson).join(', ') + ']';
  const o = v as { readonly [k: string]: PyValue };
  return '{' + Object.keys(o).map((k) => pyJsonString(k) + ': ' + pyJson(o[k]!)).join(', ') + '}';
}

const SAFE = BigInt(Number.MAX_SAFE_INTEGER);

/** Decimal digits of a bigint (safe integers through Number, which is cheaper). */
export function bigintToString(x: bigint): string {
  return x <= SAFE && x >= -SAFE ? String(Number(x)) : x.toString();
}

function pyFloatRepr(x: number): string {
  if (Number.isNaN(x)) return 'NaN';
  if (!Number.isFinite(x)) return x > 0 ? 'Infinity' : '-Infinity';
  return String(x);
}

// ---------- str() / repr() ----------
function pyReprString(s: string): string {
  const q = s.includes("'") && !s.includes('"') ? '"' : "'";
  let out = q;
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    if (ch === q || ch === '\\') out += '\\' + ch;
    else if (ch === '\n') out += '\\n';
    else if (ch === '\r') out += '\\r';
    else if (ch === '\t') out += '\\t';
    else if (c < 0x20 || c === 0x7f) out += '\\x' + c.toString(16).padStart(2, '0');
    else out += ch;
  }
  return out + q;
}

export function pyRepr(v: PyValue): string {
  if (v === null) return 'None';
  switch (typeof v) {
    case 'string':
      return pyReprString(v);
    case 'number':
    case 'bigint':
      return String(v);
    case 'boolean':
      return v ? 'True' : 'False';
  }
  if (v instanceof PyTuple) return v.items.length === 1 ? '(' + pyRepr(v.items[0]!) + ',)' : '(' + v.items.map(pyRepr).join(', ') + ')';
  if (Array.isArray(v)) return '[' + (v as PyValue[]).map(pyRepr).join(', ') + ']';
  const o = v as { readonly [k: string]: PyValue };
  return '{' + Object.keys(o).map((k) => pyReprString(k) + ': ' + pyRepr(o[k]!)).join(', ') + '}';
}

/** Python str(v) (what csv.DictWriter writes; None is written as ""). */
export function pyStr(v: PyValue): string {
  if (typeof v === 'string') return v;
  if (v === null) return '';
  return pyRepr(v);
}

// ---------- datetime.utcfromtimestamp(ns / 1e9).isoformat() ----------
function roundHalfEven(x: number): number {
  const r = Math.sign(x) * Math.round(Math.abs(x)); // C round(): half away from zero
  if (Math.abs(x - r) === 0.5) return 2 * (Math.sign(x / 2) * Math.round(Math.abs(x / 2)));
  return r;
}

// Records come in time order: the date part of the previous second is reused.
let lastSec = NaN;
let lastBase = '';

/** Exactly sysprint's getTimeStrIso8601: float seconds, microseconds rounded half-even. */
export function isoFromNs(ns: bigint): string {
  const d = Number(ns) / 1e9;
  let intpart = Math.trunc(d);
  let us = roundHalfEven((d - intpart) * 1e6);
  if (us >= 1e6) {
    us -= 1e6;
    intpart += 1;
  } else if (us < 0) {
    us += 1e6;
    intpart -= 1;
  }
  if (intpart === lastSec) return us === 0 ? lastBase : lastBase + '.' + String(us).padStart(6, '0');
  const date = new Date(intpart * 1000);
  if (Number.isNaN(date.getTime())) return String(ns);
  const y = date.getUTCFullYear();
  const base =
    String(y).padStart(4, '0') +
    '-' +
    String(date.getUTCMonth() + 1).padStart(2, '0') +
    '-' +
    String(date.getUTCDate()).padStart(2, '0') +
    'T' +
    String(date.getUTCHours()).padStart(2, '0') +
    ':' +
    String(date.getUTCMinutes()).padStart(2, '0') +
    ':' +
    String(date.getUTCSeconds()).padStart(2, '0');
  lastSec = intpart;
  lastBase = base;
  return us === 0 ? base : base + '.' + String(us).padStart(6, '0');
}

// ---------- code-point string helpers (Python len/slicing) ----------
// eslint-disable-next-line no-control-regex
const NON_ASCII = /[^\u0000-\u007f]/;

export function pyLen(s: string): number {
  if (!NON_ASCII.test(s)) return s.length;
  let n = 0;
  for (const _ of s) n++;
  return n;
}

/** sysprint cell: '{0: <w}'.format(s), then (data[w:] and '..') + data[-w:]. */
export function sysprintCell(s: string, w: number): string {
  if (!NON_ASCII.test(s)) {
    if (s.length <= w) return s.padEnd(w, ' ');
    return '..' + s.slice(s.length - w);
  }
  const cps = Array.from(s);
  if (cps.length <= w) return s + ' '.repeat(w - cps.length);
  return '..' + cps.slice(cps.length - w).join('');
}

// ---------- tabulate(tablefmt="github"), PRESERVE_WHITESPACE=True, numparse on ----------
// Column type order used by tabulate's _more_generic.
const T_BOOL = 0;
const T_INT = 2;
const T_FLOAT = 3;
const T_TEXT = 5;
const INT_RE = /^[ \t\n\r\f\v]*[+-]?\d+(?:_\d+)*[ \t\n\r\f\v]*$/;
const FLOAT_RE =
  /^[ \t\n\r\f\v]*[+-]?(?:(?:\d+(?:_\d+)*)?\.?\d+(?:_\d+)*(?:[eE][+-]?\d+(?:_\d+)*)?|\d+(?:_\d+)*\.(?:[eE][+-]?\d+(?:_\d+)*)?|inf|infinity|nan)[ \t\n\r\f\v]*$/i;

function isPyInt(s: string): boolean {
  return INT_RE.test(s);
}
function isPyNumber(s: string): boolean {
  if (!FLOAT_RE.test(s)) return false;
  const t = s.trim().toLowerCase().replace(/^[+-]/, '');
  if (t === 'inf' || t === 'infinity' || t === 'nan') return ['inf', '-inf', 'nan'].includes(s.toLowerCase());
  return true;
}
function cellType(s: string): number {
  if (s === 'True' || s === 'False') return T_BOOL;
  if (isPyInt(s)) return T_INT;
  if (isPyNumber(s)) return T_FLOAT;
  return T_TEXT;
}
function afterPoint(s: string): number {
  if (!isPyNumber(s)) return -1;
  if (isPyInt(s)) return -1;
  let pos = s.lastIndexOf('.');
  if (pos < 0) pos = s.toLowerCase().lastIndexOf('e');
  return pos >= 0 ? s.length - pos - 1 : -1;
}

/** Python format(float(s), 'g'). */
function pyFormatG(s: string): string {
  const x = Number(s.trim().replace(/_/g, ''));
  if (Number.isNaN(x)) return 'nan';
  if (!Number.isFinite(x)) return x > 0 ? 'inf' : '-inf';
  if (x === 0) return Object.is(x, -0) ? '-0' : '0';
  const exp = Math.floor(Math.log10(Math.abs(Number(x.toPrecision(6)))));
  if (exp < -4 || exp >= 6) {
    const [m, e] = x.toExponential(5).split('e') as [string, string];
    const mant = m.includes('.') ? m.replace(/0+$/, '').replace(/\.$/, '') : m;
    const en = Number(e);
    return `${mant}e${en < 0 ? '-' : '+'}${String(Math.abs(en)).padStart(2, '0')}`;
  }
  const f = x.toFixed(Math.max(0, 5 - exp));
  return f.includes('.') ? f.replace(/0+$/, '').replace(/\.$/, '') : f;
}

/**
 * tabulate(rows, headers, tablefmt='github') for rows of strings. With headers, the header row
 * and a dashed separator come first and each column is at least len(header)+2 wide; without,
 * a dashed line comes first (github hides it only when there is a header).
 */
export function tabulateGithub(rows: readonly (readonly string[])[], headers: readonly string[] | null): string {
  const ncols = headers ? headers.length : rows.length ? rows[0]!.length : 0;
  const cols: string[][] = [];
  const aligns: ('decimal' | 'left')[] = [];
  const widths: number[] = [];
  for (let j = 0; j < ncols; j++) {
    let col = rows.map((r) => r[j] ?? '');
    let t = T_BOOL;
    for (const s of col) {
      const ct = cellType(s);
      if (ct > t) t = ct;
      if (t === T_TEXT) break;
    }
    if (t === T_FLOAT) col = col.map(pyFormatG);
    const numeric = t === T_INT || t === T_FLOAT;
    if (numeric) {
      const dec = col.map(afterPoint);
      const maxd = Math.max(...dec);
      col = col.map((s, i) => s + ' '.repeat(maxd - dec[i]!));
    }
    const minw = headers ? pyLen(headers[j]!) + 2 : 0;
    let w = minw;
    for (const s of col) w = Math.max(w, pyLen(s));
    col = col.map((s) => (numeric ? ' '.repeat(w - pyLen(s)) + s : s + ' '.repeat(w - pyLen(s))));
    cols.push(col);
    aligns.push(numeric ? 'decimal' : 'left');
    widths.push(w);
  }
  const lines: string[] = [];
  const dash = '|' + widths.map((w) => '-'.repeat(w + 2)).join('|') + '|';
  if (headers) {
    const hs = headers.map((h, j) => {
      const pad = ' '.repeat(Math.max(0, widths[j]! - pyLen(h)));
      return aligns[j] === 'left' ? h + pad : pad + h;
    });
    lines.push('| ' + hs.join(' | ') + ' |');
    lines.push(dash);
  } else {
    lines.push(dash);
  }
  for (let i = 0; i < rows.length; i++) {
    let line = '|';
    for (let j = 0; j < ncols; j++) line += ' ' + cols[j]![i]! + ' |';
    lines.push(line);
  }
  return lines.join('\n');
}
