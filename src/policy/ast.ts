import type { SourceText } from './errors.js';

// Condition syntax tree. Offsets index into the SourceText the condition came from, so the
// compiler can report unknown fields/macros at their exact position.

export type ScalarOp =
  | '='
  | '!='
  | '<'
  | '<='
  | '>'
  | '>='
  | 'contains'
  | 'icontains'
  | 'bcontains'
  | 'startswith'
  | 'istartswith'
  | 'bstartswith'
  | 'endswith'
  | 'iendswith'
  | 'glob'
  | 'iglob'
  | 'regex';
export type ListOp = 'in' | 'intersects' | 'pmatch';
export type BinaryOp = ScalarOp | ListOp;

export const SCALAR_OPS: ReadonlySet<string> = new Set<ScalarOp>([
  '=', '!=', '<', '<=', '>', '>=', 'contains', 'icontains', 'bcontains', 'startswith', 'istartswith',
  'bstartswith', 'endswith', 'iendswith', 'glob', 'iglob', 'regex',
]);
export const LIST_OPS: ReadonlySet<string> = new Set<ListOp>(['in', 'intersects', 'pmatch']);

/** A field reference such as `sf.proc.name` or `proc.aname[2]` (arg = text inside brackets). */
export interface FieldRef {
  readonly kind: 'field';
  readonly name: string;
  readonly arg: string | null;
  readonly offset: number;
  readonly text: string;
}

/** A literal operand. `bare` means it was unquoted (so it may name a list or, in the SysFlow
 * dialect, a field). */
export interface Literal {
  readonly kind: 'literal';
  readonly value: string;
  readonly bare: boolean;
  readonly offset: number;
}

/** Right-hand side of a check: one operand, or a parenthesised / bracketed list of them. */
export type Operand = FieldRef | Literal;
export interface ListValue {
  readonly kind: 'list';
  /** Written as a bare list name without parentheses (`in shell_binaries`). */
  readonly bareName?: boolean;
  readonly items: readonly Literal[];
  readonly offset: number;
}

export type Expr =
  | { readonly kind: 'and'; readonly left: Expr; readonly right: Expr }
  | { readonly kind: 'or'; readonly left: Expr; readonly right: Expr }
  | { readonly kind: 'not'; readonly expr: Expr; readonly offset: number }
  | { readonly kind: 'macro'; readonly name: string; readonly offset: number }
  | { readonly kind: 'exists'; readonly field: FieldRef; readonly offset: number }
  | {
      readonly kind: 'check';
      readonly field: FieldRef;
      readonly op: BinaryOp;
      readonly opOffset: number;
      readonly rhs: Operand | ListValue;
    }
  | { readonly kind: 'const'; readonly value: boolean }
  /** A sub-tree from another file (macro `append`), so positions stay right. */
  | { readonly kind: 'scoped'; readonly src: SourceText; readonly expr: Expr };
