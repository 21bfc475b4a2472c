// The operators of conditions: string tests (=, contains, startswith, glob, pmatch, …, memoised
// where they are dear), numeric comparisons, existence, and the JSON path of json fields.
import type { SfRecordView } from '../sysflow/view.js';
import { FALSE, TRUE, withCost, type Dialect, type Getter, type Predicate } from './predicates.js';

export const LIST_NAME_LIKE = /^[a-z0-9]+(_[a-z0-9]+)*_(binaries|files|directories|dirs|tools|paths|processes|names|users|containers|images|programs|commands|ports|scripts|utils)$/;
export const LIST_OPS_SET: ReadonlySet<string> = new Set(['in', 'intersects', 'pmatch']);
export const NUM_OPS: ReadonlySet<string> = new Set(['<', '<=', '>', '>=']);

/** Go's strconv.ParseInt(s, 10, 64) or 0, as sf-processor's MapInt reads a non-field operand. */
function goIntOrZero(s: string): bigint {
  return /^[+-]?\d+$/.test(s) ? BigInt(s) : 0n;
}

/**
 * Lenient mode, an unknown field under an ordering operator: sf-processor's MapInt gives 0 for
 * it (its name is no number), and the right side is a field's integer value or the literal
 * read as an integer (0 if it is none).
 */
export function lenientNumeric(op: string, rhsField: Getter | null | undefined, values: string[] | null): Predicate {
  const cmp = numComparator(op)!;
  if (rhsField === undefined) return cmp(0n, goIntOrZero((values ?? [])[0]?.trim() ?? '')) ? TRUE : FALSE;
  if (rhsField === null) return FALSE;
  const get = rhsField.get;
  switch (rhsField.type) {
    case 'int':
    case 'int64':
      return (v) => cmp(0, get(v) as number | bigint);
    case 'bool':
      return (v) => cmp(0, (get(v) as boolean) ? 1 : 0);
    default:
      return cmp(0, 0) ? TRUE : FALSE; // a string field, or another unknown one: MapInt gives 0
  }
}
export const STRING_OPS: ReadonlySet<string> = new Set([
  'contains', 'icontains', 'bcontains', 'startswith', 'istartswith', 'bstartswith', 'endswith', 'iendswith', 'glob', 'iglob', 'regex',
]);

export function asStringsGetter(g: Getter): (v: SfRecordView) => readonly string[] {
  const get = g.get;
  if (g.type === 'strings') return get as (v: SfRecordView) => readonly string[];
  if (g.type === 'ints') return (v) => (get(v) as readonly number[]).map(String);
  return (v) => [String(get(v))];
}

export function existsPredicate(g: Getter): Predicate {
  const get = g.get;
  switch (g.type) {
    case 'string':
      return (v) => (get(v) as string) !== '';
    case 'int':
      return (v) => (get(v) as number) !== 0;
    case 'int64':
      return (v) => (get(v) as bigint) !== 0n;
    case 'bool':
      return (v) => get(v) as boolean;
    case 'strings':
    case 'ints':
      return (v) => (get(v) as readonly unknown[]).length > 0;
  }
}

// ---- string operators -----------------------------------------------------------------------

type StrOp = (value: string, lit: string) => boolean;

function globToRegExp(glob: string, flags: string): RegExp {
  let re = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === '*') re += '.*';
    else if (c === '?') re += '.';
    else if (c === '[') {
      const close = glob.indexOf(']', i + 2);
      if (close < 0) re += '\\[';
      else {
        let cls = glob.slice(i + 1, close);
        if (cls.startsWith('!')) cls = '^' + cls.slice(1);
        re += `[${cls.replace(/\\/g, '\\\\')}]`;
        i = close;
      }
    } else if (c === '\\' && i + 1 < glob.length) re += '\\' + glob[++i];
    else re += c.replace(/[.+^${}()|\\/]/g, '\\$&');
  }
  return new RegExp(`^(?:${re})$`, flags + 's');
}

export function stringOp(op: string): StrOp {
  switch (op) {
    case '=':
      return (a, b) => a === b;
    case 'contains':
      return (a, b) => a.includes(b);
    case 'icontains':
      return (a, b) => a.toLowerCase().includes(b.toLowerCase());
    case 'startswith':
      return (a, b) => a.startsWith(b);
    case 'istartswith':
      return (a, b) => a.toLowerCase().startsWith(b.toLowerCase());
    case 'endswith':
      return (a, b) => a.endsWith(b);
    case 'iendswith':
      return (a, b) => a.toLowerCase().endsWith(b.toLowerCase());
    default:
      return (a, b) => a === b;
  }
}

/** Falco pmatch: the value is the prefix path itself or lies below it. */
function pathPrefix(value: string, prefix: string): boolean {
  if (!value.startsWith(prefix)) return false;
  return value.length === prefix.length || prefix.endsWith('/') || value.charCodeAt(prefix.length) === 47;
}

/** Builds a predicate over one string value: true if it matches ANY literal (for `!=`: none). */
function stringTest(op: string, vals: readonly string[], dialect: Dialect, atOp: (m: string) => never, atLit: (m: string) => never): (s: string) => boolean {
  switch (op) {
    case '=':
    case 'in':
    case 'intersects': {
      if (vals.length === 1) {
        const lit = vals[0]!;
        return (s) => s === lit;
      }
      const set = new Set(vals);
      return (s) => set.has(s);
    }
    case '!=': {
      if (vals.length === 1) {
        const lit = vals[0]!;
        return (s) => s !== lit;
      }
      const set = new Set(vals);
      return (s) => !set.has(s);
    }
    case 'pmatch': {
      const items = [...new Set(vals)];
      if (dialect === 'falco') return (s) => items.some((p) => pathPrefix(s, p));
      return (s) => {
        for (let i = 0; i < items.length; i++) if (s.includes(items[i]!)) return true;
        return false;
      };
    }
    case 'contains':
    case 'startswith':
    case 'endswith': {
      const f = stringOp(op);
      if (vals.length === 1) {
        const lit = vals[0]!;
        return op === 'contains' ? (s) => s.includes(lit) : op === 'startswith' ? (s) => s.startsWith(lit) : (s) => s.endsWith(lit);
      }
      return (s) => vals.some((l) => f(s, l));
    }
    case 'icontains':
    case 'istartswith':
    case 'iendswith': {
      const lows = vals.map((l) => l.toLowerCase());
      const base = op === 'icontains' ? 'contains' : op === 'istartswith' ? 'startswith' : 'endswith';
      const f = stringOp(base);
      return (s) => {
        const low = s.toLowerCase();
        for (const l of lows) if (f(low, l)) return true;
        return false;
      };
    }
    case 'bcontains':
    case 'bstartswith': {
      const bins = vals.map((l) => {
        const hex = l.replace(/\s+/g, '');
        if (!/^([0-9a-fA-F]{2})+$/.test(hex)) atLit(`operator '${op}' needs a hex byte string, not '${l}'`);
        return Buffer.from(hex, 'hex').toString('latin1');
      });
      return (s) => {
        const b = Buffer.from(s, 'utf8').toString('latin1');
        return bins.some((x) => (op === 'bcontains' ? b.includes(x) : b.startsWith(x)));
      };
    }
    case 'glob':
    case 'iglob': {
      const res = vals.map((l) => globToRegExp(l, op === 'iglob' ? 'i' : ''));
      return (s) => res.some((r) => r.test(s));
    }
    case 'regex': {
      const res = vals.map((l) => {
        try {
          return new RegExp(`^(?:${l})$`, 's');
        } catch (e) {
          return atLit(`invalid regular expression: ${(e as Error).message}`);
        }
      });
      return (s) => res.some((r) => r.test(s));
    }
    default:
      return atOp(`operator '${op}' cannot be applied to a string field`);
  }
}

/**
 * Memoises an expensive string test by value. Values repeat heavily (process names, paths),
 * so a bounded map beats re-running a 60-item substring scan or a regex on every record.
 */
function memoize(t: (s: string) => boolean): (s: string) => boolean {
  let cache = new Map<string, boolean>();
  return (s) => {
    let r = cache.get(s);
    if (r === undefined) {
      r = t(s);
      if (cache.size >= 4096) cache = new Map();
      cache.set(s, r);
    }
    return r;
  };
}

const CHEAP_OPS: ReadonlySet<string> = new Set(['=', '!=', 'in', 'intersects']);

/**
 * `memo` is false for process- and file-scoped fields: their results are already cached per
 * entity, and hashing a fresh string for the memo costs more than most tests.
 */
function stringTestMemo(op: string, vals: readonly string[], dialect: Dialect, atOp: (m: string) => never, atLit: (m: string) => never, memo: boolean): (s: string) => boolean {
  const t = stringTest(op, vals, dialect, atOp, atLit);
  if (!memo || CHEAP_OPS.has(op)) return t;
  if (vals.length <= 2 && (op === 'contains' || op === 'startswith' || op === 'endswith')) return t;
  return memoize(t);
}

export function stringCheck(get: (v: SfRecordView) => string, op: string, vals: readonly string[], dialect: Dialect, atOp: (m: string) => never, atLit: (m: string) => never, memo: boolean): Predicate {
  if (op === '=' && vals.length === 1) {
    const lit = vals[0]!;
    return withCost((v: SfRecordView) => get(v) === lit, 2);
  }
  const t = stringTestMemo(op, vals, dialect, atOp, atLit, memo);
  return withCost((v: SfRecordView) => t(get(v)), CHEAP_OPS.has(op) ? 2 : 4);
}

/** List-valued fields: positive operators match if ANY element matches; `!=` if NONE equals. */
export function stringsCheck(get: (v: SfRecordView) => readonly string[], op: string, vals: readonly string[], dialect: Dialect, atOp: (m: string) => never, atLit: (m: string) => never, memo: boolean): Predicate {
  const negate = op === '!=';
  const t = stringTestMemo(negate ? '=' : op, vals, dialect, atOp, atLit, memo);
  const any = (v: SfRecordView): boolean => {
    const xs = get(v);
    for (let i = 0; i < xs.length; i++) if (t(xs[i]!)) return true;
    return false;
  };
  return negate ? (v) => !any(v) : any;
}

// ---- numeric operators ----------------------------------------------------------------------

export function numComparator(op: string): ((a: number | bigint, b: number | bigint) => boolean) | null {
  switch (op) {
    case '=':
    case 'in':
    case 'intersects':
      return (a, b) => a == b; // eslint-disable-line eqeqeq -- number vs bigint compares by value
    case '!=':
      return (a, b) => a != b; // eslint-disable-line eqeqeq
    case '<':
      return (a, b) => a < b;
    case '<=':
      return (a, b) => a <= b;
    case '>':
      return (a, b) => a > b;
    case '>=':
      return (a, b) => a >= b;
    default:
      return null;
  }
}

export function numCheck(get: (v: SfRecordView) => number | bigint, op: string, nums: readonly (number | bigint)[], atOp: (m: string) => never): Predicate {
  const cmp = numComparator(op);
  if (!cmp) return atOp(`operator '${op}' cannot be applied to a numeric field`);
  if (nums.length === 1) {
    const n = nums[0]!;
    switch (op) {
      case '=':
      case 'in':
      case 'intersects':
        return (v) => get(v) === n;
      case '!=':
        return (v) => get(v) !== n;
      case '<':
        return (v) => get(v) < n;
      case '<=':
        return (v) => get(v) <= n;
      case '>':
        return (v) => get(v) > n;
      case '>=':
        return (v) => get(v) >= n;
    }
  }
  if (op === '!=') return (v) => {
    const x = get(v);
    return !nums.some((n) => n === x);
  };
  return (v) => {
    const x = get(v);
    for (const n of nums) if (cmp(x, n)) return true;
    return false;
  };
}

export function intsCheck(get: (v: SfRecordView) => readonly number[], op: string, nums: readonly number[], atOp: (m: string) => never): Predicate {
  const negate = op === '!=';
  const cmp = numComparator(negate ? '=' : op);
  if (!cmp) return atOp(`operator '${op}' cannot be applied to a numeric field`);
  const any = (v: SfRecordView): boolean => {
    const xs = get(v);
    for (let i = 0; i < xs.length; i++) for (let j = 0; j < nums.length; j++) if (cmp(xs[i]!, nums[j]!)) return true;
    return false;
  };
  return negate ? (v) => !any(v) : any;
}

// ---- JSON path (GJSON subset: dot-separated keys and array indexes) ---------------------------

export function jsonPath(json: string, path: readonly string[]): string {
  if (json === '') return '';
  let cur: unknown;
  try {
    // Collector messages end in "\n\0" (a C string); GJSON ignores trailing bytes, so do we.
    cur = JSON.parse(json.replace(/[\s\u0000]+$/, ''));
  } catch {
    return '';
  }
  for (const seg of path) {
    if (cur === null || typeof cur !== 'object') return '';
    if (Array.isArray(cur)) {
      if (!/^\d+$/.test(seg)) return '';
      cur = cur[Number(seg)];
    } else {
      cur = (cur as Record<string, unknown>)[seg];
    }
  }
  if (cur === undefined || cur === null) return '';
  return typeof cur === 'string' ? cur : JSON.stringify(cur);
}
