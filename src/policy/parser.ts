// Recursive-descent parser for conditions (Falco grammar plus SysFlow's extensions):
//   expr    := or
//   or      := and ('or' and)*
//   and     := not ('and' not)*
//   not     := 'not' not | primary
//   primary := '(' expr ')' | 'exists' field | field 'exists' | field op value | macroName
//   value   := quoted | bare | 'val(' field ')' | '(' items ')' | '[' items ']'
//   items   := item (',' item)* [','] ; item := quoted | bare | '[' items ']'
// Unknown operators, unbalanced parentheses and stray tokens are reported at their offset.
import type { Expr, FieldRef, ListValue, Literal, Operand } from './ast.js';
import { LIST_OPS, type BinaryOp } from './ast.js';
import { Lexer, ScanError, WORD_OPERATORS } from './lexer.js';
import type { SourceText } from './errors.js';

export { ScanError };

const MAX_DEPTH = 500;

export class ConditionParser {
  private readonly lx: Lexer;
  private depth = 0;

  constructor(src: SourceText, start: number, end: number, yaml = false) {
    this.lx = new Lexer(src, start, end);
    this.lx.yaml = yaml;
  }

  /** Parses the whole window; throws ScanError on the first syntax error. */
  parse(): Expr {
    if (this.lx.atEnd()) throw new ScanError('empty condition', this.lx.pos, '');
    const e = this.parseOr();
    if (!this.lx.atEnd()) {
      const at = this.lx.pos;
      if (this.lx.peekChar() === ')') throw new ScanError("unbalanced parentheses: unexpected ')'", at, ')');
      throw new ScanError("unexpected text (expected 'and', 'or' or end of condition)", at, this.lx.excerpt());
    }
    return e;
  }

  /** Parses a bracketed/parenthesised sequence starting at the current position. */
  parseList(): ListValue {
    const c = this.lx.peekChar();
    const v = this.readItems(c);
    if (!this.lx.atEnd()) throw new ScanError('unexpected text after list', this.lx.pos, this.lx.excerpt());
    return v;
  }

  private enter(): void {
    if (++this.depth > MAX_DEPTH) throw new ScanError('condition nested too deeply', this.lx.pos, this.lx.excerpt());
  }

  private parseOr(): Expr {
    this.enter();
    let left = this.parseAnd();
    while (this.lx.acceptKeyword('or')) left = { kind: 'or', left, right: this.parseAnd() };
    this.depth--;
    return left;
  }

  private parseAnd(): Expr {
    let left = this.parseNot();
    while (this.lx.acceptKeyword('and')) left = { kind: 'and', left, right: this.parseNot() };
    return left;
  }

  private parseNot(): Expr {
    this.lx.skipWs();
    const at = this.lx.pos;
    if (this.lx.acceptKeyword('not')) {
      this.enter();
      const e: Expr = { kind: 'not', expr: this.parseNot(), offset: at };
      this.depth--;
      return e;
    }
    return this.parsePrimary();
  }

  private parsePrimary(): Expr {
    const lx = this.lx;
    lx.skipWs();
    const at = lx.pos;
    if (lx.atEnd()) throw new ScanError('unexpected end of condition (expected a check, macro or "(")', at, '<end of condition>');
    if (lx.acceptChar('(')) {
      const inner = this.parseOr();
      if (!lx.acceptChar(')')) {
        if (lx.atEnd()) throw new ScanError("unbalanced parentheses: '(' is never closed", at, lx.excerpt(at));
        throw new ScanError("expected ')' or 'and'/'or'", lx.pos, lx.excerpt());
      }
      return inner;
    }
    if (lx.peekChar() === ')') throw new ScanError("unbalanced parentheses: unexpected ')'", at, ')');
    if (lx.acceptKeyword('exists')) {
      const f = this.readField('exists');
      return { kind: 'exists', field: f, offset: at };
    }
    const name = lx.readName();
    if (!name) throw new ScanError('expected a field, macro or "("', at, lx.excerpt());
    // A dotless word is a macro reference unless an operator follows (then it is a field,
    // reported as unknown by the compiler).
    if (!name.dotted && !this.operatorFollows()) return { kind: 'macro', name: name.name, offset: name.offset };
    const field: FieldRef = { kind: 'field', name: name.name, arg: name.arg, offset: name.offset, text: name.text };
    const { op, offset: opOffset } = lx.readOperator();
    if (op === 'exists') return { kind: 'exists', field, offset: at };
    const rhs = LIST_OPS.has(op) ? this.readListValue(op) : this.readScalarValue(op);
    return { kind: 'check', field, op: op as BinaryOp, opOffset, rhs };
  }

  private operatorFollows(): boolean {
    const lx = this.lx;
    const save = lx.pos;
    lx.skipWs();
    const c = lx.pos < lx.end ? lx.src.text[lx.pos] : '';
    let result = c === '=' || c === '<' || c === '>' || (c === '!' && lx.src.text[lx.pos + 1] === '=');
    if (!result) {
      for (const w of WORD_OPERATORS) if (lx.peekKeyword(w)) { result = true; break; }
    }
    lx.pos = save;
    return result;
  }

  private readField(context: string): FieldRef {
    const n = this.lx.readName();
    if (!n) throw new ScanError(`expected a field name after '${context}'`, this.lx.pos, this.lx.excerpt());
    return { kind: 'field', name: n.name, arg: n.arg, offset: n.offset, text: n.text };
  }

  private readScalarValue(op: string): Operand | ListValue {
    const lx = this.lx;
    const c = lx.peekChar();
    const at = lx.pos;
    if (c === '') throw new ScanError(`expected a value after '${op}'`, at, '<end of condition>');
    if (c === '"' || c === "'") {
      const q = lx.readQuoted();
      return { kind: 'literal', value: q.value, bare: false, offset: q.offset };
    }
    if (c === '(' || c === '[') return this.readItems(c);
    if (lx.acceptKeyword('val')) {
      if (!lx.acceptChar('(')) throw new ScanError("expected '(' after val", lx.pos, lx.excerpt());
      const f = this.readField('val(');
      if (!lx.acceptChar(')')) throw new ScanError("expected ')' to close val(", lx.pos, lx.excerpt());
      return f;
    }
    const b = lx.readBare(false);
    if (b.value === '') throw new ScanError(`expected a value after '${op}'`, at, lx.excerpt(at));
    return { kind: 'literal', value: b.value, bare: true, offset: b.offset };
  }

  private readListValue(op: string): ListValue {
    const lx = this.lx;
    const c = lx.peekChar();
    if (c === '(' || c === '[') return this.readItems(c);
    // Falco also accepts a bare list name: `proc.name in shell_binaries`.
    const at = lx.pos;
    const b = lx.readBare(true);
    if (b.value === '') throw new ScanError(`expected '(' or a list name after '${op}'`, at, lx.excerpt(at));
    return { kind: 'list', bareName: true, items: [{ kind: 'literal', value: b.value, bare: true, offset: b.offset }], offset: at };
  }

  /** Parses `( items )` or `[ items ]`; nested `[...]` groups are flattened. */
  private readItems(open: string): ListValue {
    const lx = this.lx;
    lx.skipWs();
    const at = lx.pos;
    lx.pos++;
    const close = open === '(' ? ')' : ']';
    const items: Literal[] = [];
    this.collectItems(close, items, at);
    return { kind: 'list', items, offset: at };
  }

  private collectItems(close: string, items: Literal[], openAt: number): void {
    const lx = this.lx;
    this.enter();
    for (;;) {
      const c = lx.peekChar();
      if (c === '') throw new ScanError(`unbalanced parentheses: list opened here is never closed with '${close}'`, openAt, lx.excerpt(openAt));
      if (c === close) {
        lx.pos++;
        break;
      }
      if (c === '"' || c === "'") {
        const q = lx.readQuoted();
        items.push({ kind: 'literal', value: q.value, bare: false, offset: q.offset });
      } else if (c === '[') {
        const at = lx.pos;
        lx.pos++;
        this.collectItems(']', items, at);
      } else {
        const b = lx.readBare(true);
        if (b.value === '') throw new ScanError(`unexpected '${c}' in list`, lx.pos, lx.excerpt());
        items.push({ kind: 'literal', value: b.value, bare: true, offset: b.offset });
      }
      const n = lx.peekChar();
      if (n === ',') {
        lx.pos++;
        continue;
      }
      if (n === close) continue;
      if (n === '') continue;
      throw new ScanError(`expected ',' or '${close}' in list`, lx.pos, lx.excerpt());
    }
    this.depth--;
  }
}

export function parseCondition(src: SourceText, start = 0, end = src.text.length): Expr {
  return new ConditionParser(src, start, end).parse();
}

/**
 * Parses a YAML-ish sequence value (`[a, "b", c]`, a block sequence of `- a` lines, or a single
 * scalar) into literals. Used for list `items`, `tags`, `prefilter` and `actions`.
 */
export function parseSequence(src: SourceText, start: number, end: number): Literal[] {
  const lx = new Lexer(src, start, end);
  const c = lx.peekChar();
  if (c === '') return [];
  if (c === '[') {
    const p = new ConditionParser(src, lx.pos, end, true);
    const list = p.parseList();
    return [...list.items];
  }
  const text = src.text;
  const items: Literal[] = [];
  if (c === '-') {
    // Block sequence: one element per `- value` line.
    const re = /^[ \t]*-[ \t]+(.*?)[ \t]*$/gm;
    // `^` needs a line start: begin at the first element's line (lx.pos is at its dash).
    re.lastIndex = text.lastIndexOf('\n', lx.pos - 1) + 1;
    const body = text.slice(0, end);
    for (let m = re.exec(body); m && m.index < end; m = re.exec(body)) {
      if (m.index + m[0].indexOf('-') < lx.pos) continue;
      const v = m[1]!;
      const off = m.index + m[0].indexOf(v);
      items.push({ kind: 'literal', value: unquoteScalar(v), bare: !/^["']/.test(v), offset: off });
    }
    return items;
  }
  const v = text.slice(lx.pos, end).trim();
  return [{ kind: 'literal', value: unquoteScalar(v), bare: !/^["']/.test(v), offset: lx.pos }];
}

/** Strips one layer of YAML-style quotes ('…' with '' escapes, "…" with backslash escapes). */
export function unquoteScalar(v: string): string {
  if (v.length >= 2 && v[0] === "'" && v[v.length - 1] === "'") return v.slice(1, -1).replace(/''/g, "'");
  if (v.length >= 2 && v[0] === '"' && v[v.length - 1] === '"') {
    return v.slice(1, -1).replace(/\\(["\\nt]|u[0-9a-fA-F]{4})/g, (_m, e: string) =>
      e === 'n' ? '\n' : e === 't' ? '\t' : e.length === 5 ? String.fromCharCode(parseInt(e.slice(1), 16)) : e,
    );
  }
  return v;
}
