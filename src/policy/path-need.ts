// Path needs: what a condition requires of a record's file path, known at compile time. A need
// is a set of alternatives ("the path equals one of …, or its directory starts with one of …");
// a condition whose need is N can be true only for a path meeting N. The compiler derives needs
// from positive string checks on sf.file.path / .directory / .name / .newpath (and their fd.*
// names; a record without a file has '' for all of them, as fields.ts reads it): `and` keeps one operand's need, `or` joins its operands' needs, anything else (negation,
// other fields, case-insensitive or pattern operators) has no need (null). The live prefilter
// (pipeline/stages/sysflow.ts) tests a file's path against the joined need of many rules once,
// and evaluates those rules only when it passes.
//
// The values tested are the ones the fields read (fields.ts: the trimmed path, its basename and
// dirname), and each alternative is implied by the check it came from, so a path that meets no
// alternative makes every such check false.
import { basename, dirname } from './fields.js';

export type PathPart = 'path' | 'directory' | 'name' | 'newpath';
export type PathTest = 'eq' | 'prefix' | 'suffix' | 'sub';

export interface PathAlternative {
  readonly part: PathPart;
  readonly test: PathTest;
  readonly values: readonly string[];
}

/** Alternatives (any one suffices); empty: never met. */
export type PathNeed = readonly PathAlternative[];

/** The part of the path a field reads, for fields whose value is derived from the file path only. */
export function pathPartOf(field: string): PathPart | null {
  switch (field) {
    case 'sf.file.path': return 'path';
    case 'sf.file.directory': case 'fd.directory': return 'directory';
    case 'sf.file.name': case 'fd.filename': return 'name';
    case 'sf.file.newpath': case 'evt.arg.newpath': return 'newpath';
    default: return null;
  }
}

/** The test a positive string operator implies (pmatch: substring in the sysflow dialect, path prefix in falco's). */
export function pathTestOf(op: string, dialect: 'sysflow' | 'falco'): PathTest | null {
  switch (op) {
    case '=': case 'in': case 'intersects': return 'eq';
    case 'startswith': return 'prefix';
    case 'endswith': return 'suffix';
    case 'contains': return 'sub';
    case 'pmatch': return dialect === 'falco' ? 'prefix' : 'sub';
    default: return null;
  }
}

/** `a and b`: either operand's need holds; the one with fewer values is the sharper test. */
export function needOfAnd(needs: readonly (PathNeed | null)[]): PathNeed | null {
  let best: PathNeed | null = null;
  const size = (n: PathNeed) => n.reduce((k, a) => k + a.values.length, 0);
  for (const n of needs) if (n !== null && (best === null || size(n) < size(best))) best = n;
  return best;
}

/** `a or b`: one of the operands' needs holds; unknown if any operand's need is. */
export function needOfOr(needs: readonly (PathNeed | null)[]): PathNeed | null {
  const out: PathAlternative[] = [];
  for (const n of needs) {
    if (n === null) return null;
    out.push(...n);
  }
  return out;
}

const escape = (v: string): string => v.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * String tests of one part of the path (equal to, starting with, ending with, containing any of
 * its values) as one regular expression: one scan instead of a call per value (several times
 * faster than startsWith/includes loops for a few dozen values).
 */
class PartTests {
  private readonly values: Record<PathTest, Set<string>> = { eq: new Set(), prefix: new Set(), suffix: new Set(), sub: new Set() };
  private re: RegExp | null = null;
  /** what the expression says of '' (a record without that path): known once, not re-run */
  private empty = false;
  used = false;

  add(test: PathTest, v: string): void {
    this.used = true;
    this.values[test].add(v);
  }

  /** Builds the expression once all values are in. */
  seal(): void {
    const alt = (t: PathTest) => [...this.values[t]].map(escape).join('|');
    const parts: string[] = [];
    if (this.values.eq.size) parts.push(`^(?:${alt('eq')})$`);
    if (this.values.prefix.size) parts.push(`^(?:${alt('prefix')})`);
    if (this.values.suffix.size) parts.push(`(?:${alt('suffix')})$`);
    if (this.values.sub.size) parts.push(`(?:${alt('sub')})`);
    // no flags: ^ and $ are the ends of the string, and code units are compared as
    // String.prototype.startsWith / endsWith / includes do
    this.re = parts.length ? new RegExp(parts.join('|')) : null;
    this.empty = this.re !== null && this.re.test('');
  }

  test(s: string): boolean {
    if (s.length === 0) return this.empty;
    return this.re !== null && this.re.test(s);
  }
}

/** A compiled test of a joined need against a record's paths. */
export class PathNeedMatcher {
  private readonly path = new PartTests();
  private readonly directory = new PartTests();
  private readonly name = new PartTests();
  private readonly newpath = new PartTests();

  constructor(need: PathNeed) {
    for (const a of need) for (const v of a.values) this[a.part].add(a.test, v);
    for (const t of [this.path, this.directory, this.name, this.newpath]) t.seal();
  }

  /**
   * True if the paths (File.path of the record's file and of its new file, as fields.ts reads
   * them; null: the record has none) meet an alternative of the need.
   */
  matches(rawPath: string | null, rawNewPath: string | null): boolean {
    const path = rawPath === null ? '' : rawPath.trim();
    if (this.path.used && this.path.test(path)) return true;
    if (this.directory.used && this.directory.test(rawPath === null ? '' : dirname(path))) return true;
    if (this.name.used && this.name.test(rawPath === null ? '' : basename(path))) return true;
    return this.newpath.used && this.newpath.test(rawNewPath === null ? '' : rawNewPath.trim());
  }
}
