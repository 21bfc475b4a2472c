// Context-sensitive scanner for condition text. Like Falco's libsinsp parser, what counts as a
// token depends on what the parser expects next: a field name stops at `=`/`<`/`>` so
// `sf.ts>=1` works without spaces, while a bare value may contain `[`, `]` and `:` so
// `runc:[0:PARENT]` is one item. The scanner works on a [start, end) window of a SourceText so
// every offset it reports is a file offset.
import type { SourceText } from './errors.js';

export class ScanError extends Error {
  readonly offset: number;
  readonly text: string;
  constructor(message: string, offset: number, text: string) {
    super(message);
    this.offset = offset;
    this.text = text;
  }
}

const isWs = (c: number): boolean => c === 32 || c === 9 || c === 10 || c === 13 || c === 8 || c === 12;
const isIdentStart = (c: number): boolean =>
  (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95;
const isIdentPart = (c: number): boolean => isIdentStart(c) || (c >= 48 && c <= 57);

export const WORD_OPERATORS: ReadonlySet<string> = new Set([
  'contains', 'icontains', 'bcontains', 'startswith', 'istartswith', 'bstartswith', 'endswith',
  'iendswith', 'glob', 'iglob', 'regex', 'in', 'intersects', 'pmatch', 'exists',
]);

export class Lexer {
  readonly src: SourceText;
  private readonly s: string;
  pos: number;
  readonly end: number;
  /** YAML quoting rules (list items): `''` escapes a quote inside '…', no backslash escapes there. */
  yaml = false;

  constructor(src: SourceText, start: number, end: number) {
    this.src = src;
    this.s = src.text;
    this.pos = start;
    this.end = end;
  }

  skipWs(): void {
    while (this.pos < this.end && isWs(this.s.charCodeAt(this.pos))) this.pos++;
  }

  atEnd(): boolean {
    this.skipWs();
    return this.pos >= this.end;
  }

  peekChar(): string {
    this.skipWs();
    return this.pos < this.end ? this.s[this.pos]! : '';
  }

  /** Text of the next whitespace-delimited chunk (for error messages). */
  excerpt(at = this.pos): string {
    let e = at;
    while (e < this.end && !isWs(this.s.charCodeAt(e))) e++;
    return this.s.slice(at, Math.min(e, at + 60)) || '<end of condition>';
  }

  /** Consumes `word` if it is the next keyword (followed by a delimiter). */
  acceptKeyword(word: string): boolean {
    this.skipWs();
    if (!this.s.startsWith(word, this.pos)) return false;
    const after = this.pos + word.length;
    if (after > this.end) return false;
    if (after < this.end) {
      const c = this.s.charCodeAt(after);
      if (isIdentPart(c) || c === 46 || c === 45) return false;
    }
    this.pos = after;
    return true;
  }

  peekKeyword(word: string): boolean {
    const save = this.pos;
    const ok = this.acceptKeyword(word);
    this.pos = save;
    return ok;
  }

  acceptChar(ch: string): boolean {
    this.skipWs();
    if (this.pos < this.end && this.s[this.pos] === ch) {
      this.pos++;
      return true;
    }
    return false;
  }

  /**
   * Reads an identifier-like word for a check or macro reference: either a field name
   * (dotted, optionally followed by `[arg]`) or a macro name (may contain `-`).
   * Returns null if the next character cannot start one.
   */
  readName(): { name: string; arg: string | null; dotted: boolean; offset: number; text: string } | null {
    this.skipWs();
    const start = this.pos;
    if (start >= this.end || !isIdentStart(this.s.charCodeAt(start))) return null;
    // One run of identifier characters, dots and dashes: `sf.proc.name`, `my-macro`, and also
    // malformed names such as `sf-process.args` (reported whole as an unknown field).
    let p = start + 1;
    let dotted = false;
    while (p < this.end) {
      const c = this.s.charCodeAt(p);
      if (isIdentPart(c) || c === 45) p++;
      else if (c === 46 && p + 1 < this.end && (isIdentPart(this.s.charCodeAt(p + 1)) || this.s.charCodeAt(p + 1) === 45)) {
        dotted = true;
        p++;
      } else break;
    }
    const name = this.s.slice(start, p);
    let arg: string | null = null;
    if (dotted && p < this.end && this.s[p] === '[') {
      const close = this.findClose(p);
      if (close < 0) throw new ScanError("unterminated field argument: missing ']'", p, this.excerpt(start));
      arg = this.s.slice(p + 1, close);
      p = close + 1;
    }
    this.pos = p;
    return { name, arg, dotted, offset: start, text: this.s.slice(start, p) };
  }

  private findClose(open: number): number {
    let depth = 0;
    for (let p = open; p < this.end; p++) {
      const c = this.s[p];
      if (c === '[') depth++;
      else if (c === ']' && --depth === 0) return p;
      else if (c === '\n') return -1;
    }
    return -1;
  }

  /** Reads an operator after a field: symbolic (`=`, `!=`, …) or a word (`contains`, `in`, …). */
  readOperator(): { op: string; offset: number } {
    this.skipWs();
    const start = this.pos;
    const two = this.s.slice(start, Math.min(start + 2, this.end));
    for (const sym of ['==', '!=', '<=', '>=']) {
      if (two === sym) {
        this.pos += 2;
        return { op: sym === '==' ? '=' : sym, offset: start };
      }
    }
    const c = this.s[start];
    if (start < this.end && (c === '=' || c === '<' || c === '>')) {
      this.pos++;
      return { op: c, offset: start };
    }
    let p = start;
    while (p < this.end && isIdentPart(this.s.charCodeAt(p))) p++;
    const word = this.s.slice(start, p);
    if (word && WORD_OPERATORS.has(word)) {
      this.pos = p;
      return { op: word, offset: start };
    }
    throw new ScanError(
      start >= this.end ? 'expected an operator after the field' : 'bad operator',
      start,
      start >= this.end ? '<end of condition>' : this.excerpt(start),
    );
  }

  /** Reads a quoted string at the current position (which must be a quote). */
  readQuoted(): { value: string; offset: number } {
    const start = this.pos;
    const q = this.s[start]!;
    let out = '';
    let p = start + 1;
    while (p < this.end) {
      const c = this.s[p]!;
      if (c === q && this.yaml && q === "'" && this.s[p + 1] === "'") {
        out += "'";
        p += 2;
        continue;
      }
      if (c === q) {
        this.pos = p + 1;
        return { value: out, offset: start };
      }
      if (c === '\\' && p + 1 < this.end && !(this.yaml && q === "'")) {
        const n = this.s[p + 1]!;
        if (n === q || n === '\\') {
          out += n;
          p += 2;
          continue;
        }
        if (q === '"') {
          // JSON-style escapes in double quotes (the shipped filter.yaml writes "\u003cNA\u003e").
          if (n === 'n') { out += '\n'; p += 2; continue; }
          if (n === 't') { out += '\t'; p += 2; continue; }
          if (n === 'u' && /^[0-9a-fA-F]{4}$/.test(this.s.slice(p + 2, p + 6))) {
            out += String.fromCharCode(parseInt(this.s.slice(p + 2, p + 6), 16));
            p += 6;
            continue;
          }
        }
      }
      out += c;
      p++;
    }
    throw new ScanError(`unterminated string: missing closing ${q}`, start, this.excerpt(start));
  }

  /**
   * Reads a bare (unquoted) value. In list context `,`, `)` and (at bracket depth 0) `]` end
   * it; in scalar context also `=`. Brackets inside a bare value nest (`runc:[0:PARENT]`).
   */
  readBare(inList: boolean): { value: string; offset: number } {
    this.skipWs();
    const start = this.pos;
    let p = start;
    let depth = 0;
    while (p < this.end) {
      const c = this.s.charCodeAt(p);
      if (isWs(c) || c === 40 /*(*/ || c === 41 /*)*/ || c === 44 /*,*/ || c === 34 || c === 39) break;
      if (!inList && c === 61 /*=*/) break;
      if (c === 91 /*[*/) depth++;
      else if (c === 93 /*]*/) {
        if (depth === 0) break;
        depth--;
      }
      p++;
    }
    this.pos = p;
    return { value: this.s.slice(start, p), offset: start };
  }
}
