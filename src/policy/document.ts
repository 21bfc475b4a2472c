// Splits a policy file into items (rules, macros, lists, filters/drops, version requirements)
// and their keys, WITHOUT a YAML parser: the shipped SysFlow files are not valid YAML (tabs,
// items indented by one extra space), and sf-processor reads them with a token grammar where
// indentation means nothing. Here a key is `word:` at the start of a line (after optional
// `- `); its value runs to the next key line. Comments (`#` at line start or after blanks,
// outside quotes) are blanked out first, keeping offsets intact. An item starts at a `- key:`
// line and is a mapping, so its keys may come in any order (Falco's own files write
// `- condition: … / macro: …`): its kind is the one identifying key it has (ITEM_KINDS).
import { DiagnosticSink, SourceText } from './errors.js';

export type ItemKind = 'rule' | 'macro' | 'list' | 'filter' | 'drop' | 'required_engine_version' | 'required_plugin_versions';

const ITEM_KINDS: ReadonlySet<string> = new Set<ItemKind>([
  'rule', 'macro', 'list', 'filter', 'drop', 'required_engine_version', 'required_plugin_versions',
]);

/** Keys recognised inside an item. Others at the item's key column are reported. */
export const ITEM_KEYS: ReadonlySet<string> = new Set([
  'desc', 'condition', 'output', 'action', 'actions', 'priority', 'tags', 'prefilter', 'enabled',
  'items', 'append', 'override', 'exceptions', 'source', 'warn_evttypes', 'skip-if-unknown-filter',
  'required_engine_version', 'required_plugin_versions',
]);

export interface KeySpan {
  readonly key: string;
  /** Offset of the key word. */
  readonly keyOffset: number;
  /** Value window [start, end): after `:` (and a `>`/`|` block indicator) up to the next key. */
  readonly start: number;
  readonly end: number;
  /** True for `key: >` / `key: |` block scalars. */
  readonly block: boolean;
}

export interface RawItem {
  readonly kind: ItemKind;
  readonly offset: number;
  /** The identifying key (`rule: NAME`, `macro: NAME`, ...): its value is the item's name. */
  readonly head: KeySpan;
  /** Every key of the item, in file order (the head among them). */
  readonly keys: KeySpan[];
}

export interface RawDocument {
  readonly src: SourceText;
  readonly items: RawItem[];
}

/** What /\s/ matches (ECMAScript WhiteSpace and LineTerminator), by code unit. */
function isSpace(c: number): boolean {
  return (c >= 9 && c <= 13) || c === 32 || c === 0xa0 || c === 0x1680 || (c >= 0x2000 && c <= 0x200a) ||
    c === 0x2028 || c === 0x2029 || c === 0x202f || c === 0x205f || c === 0x3000 || c === 0xfeff;
}

/** Replaces comments with spaces (same length, newlines kept) so offsets stay valid. Code units
 * are tested directly, not by a regular expression per character (4x faster). */
export function blankComments(text: string): string {
  const parts: string[] = [];
  let from = 0;
  let quote = -1;
  let prev = 10; // '\n'
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 10) {
      quote = -1;
      prev = c;
      continue;
    }
    if (quote !== -1) {
      if (c === quote) quote = -1;
      prev = c;
      continue;
    }
    // a quote opens after a blank or one of ( [ , : =
    if ((c === 34 || c === 39) && (isSpace(prev) || prev === 40 || prev === 91 || prev === 44 || prev === 58 || prev === 61)) {
      quote = c;
    } else if (c === 35 && isSpace(prev)) {
      let j = i;
      while (j < text.length && text.charCodeAt(j) !== 10) j++;
      parts.push(text.slice(from, i), ' '.repeat(j - i));
      from = j;
      i = j - 1;
      continue;
    }
    prev = c;
  }
  if (from === 0) return text;
  parts.push(text.slice(from));
  return parts.join('');
}

const LINE_KEY = /^([ \t]*)(-[ \t]+)?([A-Za-z_][A-Za-z0-9_-]*)[ \t]*:(?=[ \t\r>|]|$)/gm;

const KIND_LIST = 'rule, macro, list, filter, drop, required_engine_version or required_plugin_versions';

interface OpenItem {
  offset: number;
  keys: KeySpan[];
  keyCol: number;
  /** Keys at the item's key column that are neither identifying nor known item keys. */
  unknown: { key: string; keyOffset: number }[];
}

export function scanDocument(name: string, rawText: string, sink: DiagnosticSink): RawDocument {
  const src = new SourceText(name, blankComments(rawText.replace(/^\uFEFF/, '')));
  const text = src.text;
  const items: RawItem[] = [];
  let current: OpenItem | null = null;
  // Pending key whose value end is not known yet.
  let pending: { key: string; keyOffset: number; start: number; block: boolean } | null = null;
  let baseIndent = -1;

  const closePending = (end: number): void => {
    if (pending && current) current.keys.push({ ...pending, end });
    pending = null;
  };
  /** Ends the current item: its kind is decided by its identifying keys, wherever they are. */
  const closeItem = (end: number): void => {
    closePending(end);
    const it = current;
    current = null;
    if (!it) return;
    const ids = it.keys.filter((k) => ITEM_KINDS.has(k.key));
    const distinct = [...new Set(ids.map((k) => k.key))];
    let kind: ItemKind | null = null;
    let unknown = it.unknown;
    if (distinct.length === 0) {
      const first = [...it.keys, ...it.unknown].reduce((a, b) => (b.keyOffset < a.keyOffset ? b : a));
      sink.error(src, first.keyOffset, `item has no identifying key (expected one of ${KIND_LIST}); its first key is '${first.key}'`, first.key);
      unknown = unknown.filter((u) => u !== first); // one error for a lone unknown key
    } else if (distinct.length > 1) {
      const second = ids.find((k) => k.key !== ids[0]!.key)!;
      const at = src.position(ids[0]!.keyOffset);
      sink.error(src, second.keyOffset, `item has two identifying keys: '${ids[0]!.key}' (line ${at.line}:${at.col}) and '${second.key}'; an item is one of ${KIND_LIST}`, second.key);
    } else kind = distinct[0] as ItemKind;
    for (const u of unknown) sink.error(src, u.keyOffset, `unknown key '${u.key}' in ${kind ?? 'item'}`, u.key);
    if (kind) items.push({ kind, offset: it.offset, head: ids[0]!, keys: it.keys });
  };
  const valueStart = (afterColon: number): { start: number; block: boolean } => {
    let p = afterColon;
    while (p < text.length && (text[p] === ' ' || text[p] === '\t')) p++;
    if (text[p] === '>' || text[p] === '|') {
      let q = p + 1;
      while (q < text.length && /[-+0-9 \t\r]/.test(text[q]!)) q++;
      if (q >= text.length || text[q] === '\n') return { start: q, block: true };
    }
    return { start: afterColon, block: false };
  };

  LINE_KEY.lastIndex = 0;
  let lastEnd = 0;
  let seenItem = false;
  for (let m = LINE_KEY.exec(text); m; m = LINE_KEY.exec(text)) {
    const indent = m[1]!.replace(/\t/g, '    ').length;
    const dash = m[2] !== undefined;
    const key = m[3]!;
    const keyOffset = m.index + m[1]!.length + (m[2]?.length ?? 0);
    const colonEnd = m.index + m[0].length;
    if (dash && (baseIndent < 0 || indent <= baseIndent + 1)) {
      if (baseIndent < 0) baseIndent = indent;
      closeItem(m.index);
      seenItem = true;
      current = { offset: m.index + m[1]!.length, keys: [], keyCol: keyOffset - lineStart(text, keyOffset), unknown: [] };
      if (ITEM_KEYS.has(key) || ITEM_KINDS.has(key)) {
        const v = valueStart(colonEnd);
        pending = { key, keyOffset, start: v.start, block: v.block };
      } else current.unknown.push({ key, keyOffset });
      lastEnd = colonEnd;
      continue;
    }
    if (dash) continue; // a nested block-sequence element such as `- name: x` inside exceptions
    if (!current) {
      if (text.slice(lastEnd, m.index).trim() === '' && !seenItem && baseIndent < 0) {
        sink.error(src, keyOffset, `expected an item starting with '- ' (${KIND_LIST})`, key);
      }
      continue;
    }
    const col = keyOffset - lineStart(text, keyOffset);
    // Inside a nested mapping (`override:` / `exceptions:` / plugin entries), deeper keys such
    // as `items: replace` belong to that value.
    if (col > current.keyCol && pendingIsFreeform(pending)) continue;
    if (ITEM_KEYS.has(key) || ITEM_KINDS.has(key)) {
      closePending(m.index);
      const v = valueStart(colonEnd);
      pending = { key, keyOffset, start: v.start, block: v.block };
      lastEnd = colonEnd;
    } else if (col === current.keyCol && !pendingIsFreeform(pending)) {
      closePending(m.index);
      current.unknown.push({ key, keyOffset });
      lastEnd = colonEnd;
    }
  }
  closeItem(text.length);
  // Text before the first item that is not blank is a structural error.
  const firstItem = items.length > 0 ? items[0]!.offset : text.length;
  const lead = text.slice(0, firstItem);
  const leadIdx = lead.search(/\S/);
  if (leadIdx >= 0 && !sink.list.some((d) => d.file === name)) {
    sink.error(src, leadIdx, `expected an item starting with '- ' (${KIND_LIST})`, lead.slice(leadIdx).split('\n')[0]!.trim());
  }
  return { src, items };
}

/** Exceptions and plugin blocks contain nested `name:` keys that are not ours to judge. */
function pendingIsFreeform(p: { key: string } | null): boolean {
  return p !== null && (p.key === 'exceptions' || p.key === 'required_plugin_versions' || p.key === 'override');
}

function lineStart(text: string, offset: number): number {
  const i = text.lastIndexOf('\n', offset - 1);
  return i + 1;
}
