// The ECS field reference check shared by the ECS tests: every leaf of a document must be a field
// of shared/data/ecs/ecs-fields.csv (or of our falconet.* custom fields) with a value of its type.
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { EcsDoc } from '../../src/format/ecs/encoder.js';

const SHARED = process.env['FALCONET_SHARED'] ?? '/work/shared';
const HERE = fileURLToPath(new URL('.', import.meta.url));
// compiled into dist/test/fleet: the fixtures stay in the source tree
const CUSTOM = join(HERE, '../../../test/fleet/fixtures/ecs-custom-fields.csv');

function csvRows(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = []; let cell = ''; let q = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (q) {
      if (c === '"' && text[i + 1] === '"') { cell += '"'; i++; } else if (c === '"') q = false; else cell += c;
    } else if (c === '"') q = true;
    else if (c === ',') { row.push(cell); cell = ''; }
    else if (c === '\n') { row.push(cell); rows.push(row); row = []; cell = ''; }
    else if (c !== '\r') cell += c;
  }
  if (cell || row.length) { row.push(cell); rows.push(row); }
  return rows;
}

interface FieldDef { type: string; array: boolean }
function loadFields(): Map<string, FieldDef> {
  const m = new Map<string, FieldDef>();
  for (const path of [join(SHARED, 'data/ecs/ecs-fields.csv'), CUSTOM]) {
    const rows = csvRows(readFileSync(path, 'utf8'));
    const h = rows[0]!;
    const iF = h.indexOf('Field'), iT = h.indexOf('Type'), iN = h.indexOf('Normalization');
    for (const r of rows.slice(1)) if (r[iF]) m.set(r[iF]!, { type: r[iT]!, array: (r[iN] ?? '').includes('array') });
  }
  return m;
}
const FIELDS = loadFields();

function lookup(path: string): FieldDef | undefined {
  const d = FIELDS.get(path);
  if (d) return d;
  const parent = path.slice(0, path.lastIndexOf('.'));
  return FIELDS.get(`${parent}.*`);
}

const STRINGS = new Set(['keyword', 'wildcard', 'match_only_text', 'text', 'constant_keyword']);
function checkValue(path: string, def: FieldDef, v: unknown): string | undefined {
  const bad = `${path}: ${JSON.stringify(v)} is not a ${def.type}`;
  if (STRINGS.has(def.type)) return typeof v === 'string' ? undefined : bad;
  switch (def.type) {
    case 'long': return typeof v === 'number' && Number.isInteger(v) ? undefined : bad;
    case 'float': case 'scaled_float': case 'double': return typeof v === 'number' ? undefined : bad;
    case 'boolean': return typeof v === 'boolean' ? undefined : bad;
    case 'ip': return typeof v === 'string' && isIP(v) ? undefined : bad;
    case 'flattened': return v !== null && typeof v === 'object' && !Array.isArray(v) ? undefined : bad;
    case 'date': return typeof v === 'string' && /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?Z$/.test(v) && !Number.isNaN(Date.parse(v)) ? undefined : bad;
    default: return `${path}: type ${def.type} not handled by the check`;
  }
}

/** Every leaf of the document must be a known field of the right type; returns the problems. */
export function validate(doc: EcsDoc, prefix = '', out: string[] = [], seen: Set<string> = new Set()): string[] {
  for (const [k, v] of Object.entries(doc)) {
    const path = prefix ? `${prefix}.${k}` : k;
    if (v !== null && typeof v === 'object' && !Array.isArray(v) && (lookup(path)?.type ?? 'object') === 'object') { validate(v, path, out, seen); continue; }
    const def = lookup(path);
    seen.add(path);
    if (!def) { out.push(`${path}: not an ECS field`); continue; }
    if (Array.isArray(v)) {
      if (!def.array && def.type !== 'keyword') out.push(`${path}: array for a non-array field`);
      // an array of objects (dns.answers): each element's fields are checked under the path
      if (def.type === 'object' || def.type === 'nested') {
        for (const x of v) {
          if (x === null || typeof x !== 'object' || Array.isArray(x)) out.push(`${path}: ${JSON.stringify(x)} is not an object`);
          else validate(x, path, out, seen);
        }
        continue;
      }
      for (const x of v) { const e = checkValue(path, def, x); if (e) out.push(e); }
    } else {
      const e = checkValue(path, def, v); if (e) out.push(e);
    }
  }
  return out;
}

