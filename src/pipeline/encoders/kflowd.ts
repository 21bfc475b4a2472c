// kflowd's formats as Encoders: json (pretty, kflowd's record separator), json-min (one line) and
// table (file records as terminal rows; the others as one-line JSON, as kflowd does). Pure
// functions of the record, its sequence number and what enrichment attached.
import type { KernelRecord } from '../../model/records.js';
import { UNKNOWN_HOST, type KflowdFacts } from '../../format/context.js';
import { toMinJson, toPrettyJson } from '../../format/json.js';
import { kflowdRecord } from '../../format/kflowd.js';
import { KflowdMinWriter } from '../../format/kflowd-min.js';
import { KflowdMinBytes } from '../../format/kflowd-min-bytes.js';
import { TABLE_HEADER, fileTableRow } from '../../format/table.js';
import type { Encoder, Envelope } from '../types.js';
import { addKflowdEnrichmentKeys, hasKflowdEnrichment, kflowdEnrichmentFlags, kflowdFileExtras } from '../../enrich/kflowd-keys.js';

export type KflowdFormat = 'json' | 'json-min' | 'table';

const NO_FACTS: KflowdFacts = { host: UNKNOWN_HOST };

/** The enrichment the kflowd formatters read. */
export function kflowdFacts(env: Envelope): KflowdFacts {
  const e = env.enrich as Partial<KflowdFacts> | undefined;
  return e?.host ? (e as KflowdFacts) : NO_FACTS;
}

function isKernel(env: Envelope): boolean {
  return env.kind === 'file' || env.kind === 'socket' || env.kind === 'process';
}

function seqOf(env: Envelope): number {
  return env.id ? Number(env.id.seq) : 0;
}

export function kflowdEncoder(format: KflowdFormat): Encoder {
  const min = new KflowdMinWriter();
  switch (format) {
    case 'json-min': {
      const bytes = new KflowdMinBytes();
      return {
        name: 'json-min',
        encode(env) {
          if (!isKernel(env)) return null;
          const r = env.rec as KernelRecord;
          const enriched = hasKflowdEnrichment(env);
          // file records, the bulk of the stream, are written as bytes (kflowd-min-bytes.ts),
          // -v/-c/containers keys included (written in place, in kflowd's order)
          if (r.type === 'file') return bytes.file(r, seqOf(env), kflowdFacts(env), enriched ? kflowdFileExtras(env) : undefined);
          // socket records (two per connection) and process records (a storm's FORK, EXEC, MMAP,
          // EXIT) likewise, when no such key goes in between
          if (r.type === 'sock' && !enriched) return bytes.socket(r, seqOf(env), kflowdFacts(env));
          if (r.type === 'proc' && !enriched) return bytes.process(r, seqOf(env), kflowdFacts(env));
          // socket and process records with those keys: the generic writer inserts them into the
          // record's Map (the string writer stays for any other record type, which none is today)
          if (!enriched) return min.record(r, seqOf(env), kflowdFacts(env));
          const o = kflowdRecord(env.rec as KernelRecord, seqOf(env), kflowdFacts(env));
          if (o) addKflowdEnrichmentKeys(o, env, kflowdEnrichmentFlags(env));
          return o ? toMinJson(o) : null;
        },
        release() {
          bytes.release();
        },
      };
    }
    case 'json':
      return {
        name: 'json',
        encode(env) {
          if (!isKernel(env)) return null;
          const o = kflowdRecord(env.rec as KernelRecord, seqOf(env), kflowdFacts(env));
          if (o && hasKflowdEnrichment(env)) addKflowdEnrichmentKeys(o, env, kflowdEnrichmentFlags(env));
          // kflowd's record separator: the sink's newline completes "\n\x1e\n"
          return o ? toPrettyJson(o) + '\n\x1e' : null;
        },
      };
    case 'table':
      return {
        name: 'table',
        header: () => TABLE_HEADER,
        encode(env) {
          if (!isKernel(env)) return null;
          const r = env.rec as KernelRecord;
          return r.type === 'file' ? fileTableRow(r, kflowdFacts(env)) : min.record(r, seqOf(env), kflowdFacts(env));
        },
      };
  }
}
