// Shared sub-conditions. Policy sets repeat conditions (ttps.yaml restates most of
// runtimeintegrity.yaml's rules). Equal checks (same field, operator and values) compile to one
// predicate, and so do junctions, negations and cached units of the same operands, so a repeated
// unit is evaluated once per entity (its cached slot) and a repeated rule is the same predicate.
// Predicates are pure, so sharing them changes no result.
import type { Predicate } from './predicates.js';

export class PredicateInterner {
  private readonly consed = new Map<string, Predicate>();
  private readonly ids = new WeakMap<Predicate, number>();
  private nextId = 1;

  /** A number naming the predicate, for the keys of what is built from it. */
  idOf(p: Predicate): number {
    let i = this.ids.get(p);
    if (i === undefined) {
      i = this.nextId++;
      this.ids.set(p, i);
    }
    return i;
  }

  idsOf(ps: readonly Predicate[]): string {
    return ps.map((p) => this.idOf(p)).join(',');
  }

  /** The predicate already made for `key`, or the one `make` makes (then kept for the key). */
  cons(key: string, make: () => Predicate): Predicate {
    let p = this.consed.get(key);
    if (p === undefined) {
      p = make();
      this.consed.set(key, p);
    }
    return p;
  }
}
