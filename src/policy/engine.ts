// Policy engine: global filters, then every enabled rule whose prefilter admits the record
// type (rules are indexed by type once, so a PE never looks at FF-only rules). No allocation
// happens for a record that matches nothing.
//
// Modes (sf-processor's names, plus the legacy ones the SysFlow docs still describe):
//   alert   emit only records that matched at least one rule with the `alert` action
//   enrich  emit every record that survives the filters, with matches attached
//   filter  drop records matching a filter or any rule; pass the rest unchanged
//   bypass  pass everything unchanged (no filters, no rules)
import type { SfRecordView } from '../sysflow/view.js';
import type { Filter, PolicySet, Rule } from './loader.js';
import { RECORD_TYPES } from './flag-names.js';

export type EngineMode = 'alert' | 'enrich' | 'filter' | 'bypass';
export const ENGINE_MODES: readonly EngineMode[] = ['alert', 'enrich', 'filter', 'bypass'];

/** A record leaving the engine, with the rules it matched (empty when passed unmatched). */
export interface EngineRecord {
  readonly view: SfRecordView;
  /** Matched rules whose actions include `alert`. */
  readonly alerts: readonly Rule[];
  /** Tags from matched rules (alert rules' tags and `tag`-action rules' tags), de-duplicated. */
  readonly tags: readonly string[];
}

export interface EngineStats {
  records: number;
  filtered: number;
  matched: number;
  emitted: number;
}

const EMPTY_RULES: readonly Rule[] = Object.freeze([]);
const EMPTY_TAGS: readonly string[] = Object.freeze([]);

export class PolicyEngine {
  readonly mode: EngineMode;
  readonly policy: PolicySet;
  readonly stats: EngineStats = { records: 0, filtered: 0, matched: 0, emitted: 0 };
  private readonly filters: readonly Filter[];
  private readonly byType: Readonly<Record<string, readonly Rule[]>>;
  /** Reused scratch buffer: the rules matched by the last `evaluate` call. */
  private readonly hits: Rule[] = [];

  constructor(policy: PolicySet, mode: EngineMode = 'alert') {
    this.mode = mode;
    this.policy = policy;
    this.filters = policy.filters.filter((f) => f.enabled);
    const byType: Record<string, Rule[]> = {};
    for (const t of RECORD_TYPES) byType[t] = [];
    for (const r of policy.rules) {
      if (!r.enabled) continue;
      for (const t of RECORD_TYPES) if (r.prefilter.length === 0 || r.prefilter.includes(t)) byType[t]!.push(r);
    }
    this.byType = byType;
  }

  /** Rules that would be considered for a record type (after prefilter indexing). */
  rulesFor(type: string): readonly Rule[] {
    return this.byType[type] ?? EMPTY_RULES;
  }

  /** True if a global filter drops the record. */
  isFiltered(v: SfRecordView): boolean {
    const fs = this.filters;
    for (let i = 0; i < fs.length; i++) if (fs[i]!.predicate(v)) return true;
    return false;
  }

  /**
   * Evaluates all applicable rules (no short-circuit: every match is reported). Returns the
   * number of matches; the rules are in `matches()` until the next call. -1 = filtered out.
   */
  evaluate(v: SfRecordView): number {
    this.hits.length = 0;
    if (this.isFiltered(v)) return -1;
    const rules = this.byType[v.type];
    if (rules === undefined) return 0;
    for (let i = 0; i < rules.length; i++) {
      const r = rules[i]!;
      if (r.predicate(v)) this.hits.push(r);
    }
    return this.hits.length;
  }

  matches(): readonly Rule[] {
    return this.hits;
  }

  /** Applies the mode; returns the record to emit, or null if it is dropped. */
  process(v: SfRecordView): EngineRecord | null {
    this.stats.records++;
    if (this.mode === 'bypass') {
      this.stats.emitted++;
      return { view: v, alerts: EMPTY_RULES, tags: EMPTY_TAGS };
    }
    const n = this.evaluate(v);
    if (n < 0) {
      this.stats.filtered++;
      return null;
    }
    if (n > 0) this.stats.matched++;
    switch (this.mode) {
      case 'filter':
        if (n > 0) return null;
        this.stats.emitted++;
        return { view: v, alerts: EMPTY_RULES, tags: EMPTY_TAGS };
      case 'alert': {
        if (n === 0) return null;
        const rec = this.build(v);
        if (rec.alerts.length === 0) return null;
        this.stats.emitted++;
        return rec;
      }
      case 'enrich':
        this.stats.emitted++;
        return n === 0 ? { view: v, alerts: EMPTY_RULES, tags: EMPTY_TAGS } : this.build(v);
    }
  }

  private build(v: SfRecordView): EngineRecord {
    const alerts: Rule[] = [];
    const tags: string[] = [];
    for (const r of this.hits) {
      if (r.actions.includes('alert')) alerts.push(r);
      for (const t of r.tags) if (!tags.includes(t)) tags.push(t);
    }
    return { view: v, alerts, tags };
  }
}
