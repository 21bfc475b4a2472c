// A strict JSON parser (RFC 8259) that remembers where each value starts, so configuration
// errors can name file:line:col. Values are plain JSON values; positions are kept beside them
// (objects and arrays by identity, members by key). Errors are JsonSyntaxError with a position.

export interface Pos { readonly line: number; readonly col: number }

export type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

export class JsonSyntaxError extends Error {
  constructor(message: string, readonly pos: Pos) {
    super(message);
    this.name = 'JsonSyntaxError';
  }
}

export interface ParsedJson {
  readonly value: Json;
  /** where a value starts: objects and arrays by identity */
  at(v: object): Pos | undefined;
  /** where a member's value starts */
  member(obj: object, key: string | number): Pos | undefined;
}

const MAX_DEPTH = 64;

export function parseJsonWithPositions(text: string): ParsedJson {
  let i = 0;
  let line = 1;
  let lineStart = 0;
  const starts = new WeakMap<object, Pos>();
  const members = new WeakMap<object, Map<string | number, Pos>>();
  const pos = (): Pos => ({ line, col: i - lineStart + 1 });
  const fail = (msg: string): never => { throw new JsonSyntaxError(msg, pos()); };

  const ws = (): void => {
    for (;;) {
      const c = text.charCodeAt(i);
      if (c === 0x0a) { i++; line++; lineStart = i; } else if (c === 0x20 || c === 0x09 || c === 0x0d) i++;
      else return;
    }
  };

  const str = (): string => {
    i++; // opening quote
    let out = '';
    let from = i;
    for (;;) {
      if (i >= text.length) fail('unterminated string');
      const c = text.charCodeAt(i);
      if (c === 0x22) { out += text.slice(from, i); i++; return out; }
      if (c < 0x20) fail('control character in string (escape it)');
      if (c !== 0x5c) { i++; continue; }
      out += text.slice(from, i);
      const e = text[i + 1];
      const simple: Record<string, string> = { '"': '"', '\\': '\\', '/': '/', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t' };
      if (e !== undefined && simple[e] !== undefined) { out += simple[e]; i += 2; }
      else if (e === 'u' && /^[0-9a-fA-F]{4}$/.test(text.slice(i + 2, i + 6))) { out += String.fromCharCode(parseInt(text.slice(i + 2, i + 6), 16)); i += 6; }
      else fail(`bad escape \\${e ?? ''}`);
      from = i;
    }
  };

  const value = (depth: number): Json => {
    if (depth > MAX_DEPTH) fail(`nesting deeper than ${MAX_DEPTH}`);
    ws();
    const c = text[i];
    if (c === '{') {
      const o: { [k: string]: Json } = {};
      starts.set(o, pos());
      const m = new Map<string | number, Pos>();
      members.set(o, m);
      i++; ws();
      if (text[i] === '}') { i++; return o; }
      for (;;) {
        ws();
        if (text[i] !== '"') fail('expected a member name in double quotes');
        const keyPos = pos();
        const k = str();
        ws();
        if (text[i] !== ':') fail(`expected ':' after "${k}"`);
        i++; ws();
        if (m.has(k)) throw new JsonSyntaxError(`duplicate member "${k}"`, keyPos);
        m.set(k, pos());
        Object.defineProperty(o, k, { value: value(depth + 1), enumerable: true, writable: true, configurable: true });
        ws();
        if (text[i] === ',') { i++; continue; }
        if (text[i] === '}') { i++; return o; }
        fail("expected ',' or '}'");
      }
    }
    if (c === '[') {
      const a: Json[] = [];
      starts.set(a, pos());
      const m = new Map<string | number, Pos>();
      members.set(a, m);
      i++; ws();
      if (text[i] === ']') { i++; return a; }
      for (;;) {
        ws();
        m.set(a.length, pos());
        a.push(value(depth + 1));
        ws();
        if (text[i] === ',') { i++; continue; }
        if (text[i] === ']') { i++; return a; }
        fail("expected ',' or ']'");
      }
    }
    if (c === '"') return str();
    const lit = /^(?:true|false|null|-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?)/.exec(text.slice(i, i + 64));
    if (!lit) fail(i >= text.length ? 'unexpected end of input' : `unexpected character ${JSON.stringify(text[i])}`);
    i += lit![0].length;
    const t = lit![0];
    return t === 'true' ? true : t === 'false' ? false : t === 'null' ? null : Number(t);
  };

  const v = value(0);
  ws();
  if (i < text.length) fail('unexpected text after the JSON value');
  return {
    value: v,
    at: (o) => starts.get(o),
    member: (o, k) => members.get(o)?.get(k),
  };
}
