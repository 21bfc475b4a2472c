// sysprint-compatible output of SfRecordViews (sf-apis py3 formatter.py): the str (tabulate
// github), json (nested), flatjson and csv renderings. Only events and flows are printed, as
// sysprint does. The flat record's keys and values: print-fields.ts; the compiled JSON lines:
// print-json.ts.
import { pyJson, pyStr, sysprintCell, tabulateGithub } from './pyfmt.js';
import type { PyValue } from './pyfmt.js';
import { ByteSink } from './avro-encode.js';
import type { SfRecordView } from './view.js';
import { EMPTY, SYSPRINT_DEFAULT_FIELDS, SYSPRINT_FIELDS, flatten, type AbsentFields } from './print-fields.js';
import { compileJsonLineBytes } from './print-json.js';

export {
  SYSPRINT_DEFAULT_FIELDS, SYSPRINT_FIELDS, SYSPRINT_FLAT_KEYS, SYSPRINT_JSON_VERSION, SYSPRINT_K8S_EVENT_FIELDS, SYSPRINT_K8S_FIELDS,
  absentFieldsOf, flatten, isKnownField, listFields, type AbsentFields,
} from './print-fields.js';
export { compileJsonLine, compileJsonLineBytes } from './print-json.js';

/** One CSV field as Python's csv module writes it (QUOTE_MINIMAL, "\r\n" line terminator). */
export function csvField(v: PyValue): string {
  const s = pyStr(v);
  return /[",\r\n]/.test(s) ? '"' + s.replace(/"/g, '""') + '"' : s;
}

export type OutputMode = 'str' | 'json' | 'flatjson' | 'csv';

export interface SysprintPrinterOptions {
  output: OutputMode;
  /** `-c` keys; null = sysprint defaults (str: default columns; others: every flat key). */
  fields: readonly string[] | null;
  /** Terminal width used for str column sizing (sysprint falls back to 80 when not a tty). */
  termColumns: number;
  /**
   * Columns whose base widths set the str width factor; default `fields`. sysprint sizes by its
   * default columns when `-A` prints all of them (it computes the factor before that switch).
   */
  sizeFields?: readonly string[] | null;
  /** Output sink; a Buffer chunk is only valid during the call (copy it to keep it). */
  write: (chunk: string | Buffer) => void;
}

/**
 * Streams views of one or more files. As sysprint runs its formatter per file, `beginFile`
 * restarts the record numbering and the table header; the CSV header is written once.
 */
export class SysprintPrinter {
  private absent: AbsentFields = EMPTY;
  private idx = 0;
  private firstChunk = true;
  private pending: string[][] = [];
  private csvHeaderDone = false;
  private readonly jsonLine: ((v: SfRecordView, a: AbsentFields, out: ByteSink) => void) | null;
  private readonly bytes = new ByteSink(320 * 1024);
  private readonly strFields: readonly string[];
  private readonly strWidths: number[];
  private readonly out: string[] = [];

  constructor(private readonly opts: SysprintPrinterOptions) {
    this.jsonLine =
      opts.output === 'json' ? compileJsonLineBytes(opts.fields, true) : opts.output === 'flatjson' ? compileJsonLineBytes(opts.fields, false) : null;
    this.strFields = opts.fields ?? SYSPRINT_DEFAULT_FIELDS;
    // Width factor: wf = min((cols - (n*6+10)) / sum(base widths), 1.25); int(wf*base) if > 8.
    const base = (k: string): number => SYSPRINT_FIELDS[k]?.[1] ?? 20;
    const sel = [...new Set(opts.sizeFields ?? this.strFields)].filter((k) => k in SYSPRINT_FIELDS && !SYSPRINT_FIELDS[k]![3]);
    const tw = sel.reduce((s, k) => s + base(k), 0);
    const pw = sel.length * 6 + 10;
    const wf = tw > 0 ? Math.min((opts.termColumns - pw) / tw, 1.25) : 1;
    const width = (k: string): number => {
      const sw = Math.trunc(wf * base(k));
      return sw > 8 ? sw : base(k);
    };
    this.strWidths = ['idx', ...this.strFields].map(width);
  }

  beginFile(absent: AbsentFields = EMPTY): void {
    this.absent = absent;
    this.idx = 0;
    this.firstChunk = true;
    this.pending = [];
  }

  add(v: SfRecordView): void {
    switch (this.opts.output) {
      case 'json':
      case 'flatjson':
        this.jsonLine!(v, this.absent, this.bytes);
        this.bytes.byte(0x0a);
        if (this.bytes.len >= 256 * 1024) this.flushBytes();
        return;
      case 'csv': {
        const rec = flatten(v, this.opts.fields, this.absent);
        if (!this.csvHeaderDone) {
          this.csvHeaderDone = true;
          this.out.push(rec.map(([k]) => csvField(k)).join(','));
        }
        this.out.push(rec.map(([, x]) => csvField(x)).join(','));
        if (this.out.length >= 512) this.flushOut(true);
        return;
      }
      case 'str': {
        const rec = flatten(v, this.strFields, this.absent);
        const row: string[] = new Array(rec.length + 1);
        row[0] = sysprintCell(String(this.idx), this.strWidths[0]!);
        for (let i = 0; i < rec.length; i++) row[i + 1] = sysprintCell(strCellValue(rec[i]![1]), this.strWidths[i + 1]!);
        this.pending.push(row);
        // sysprint flushes after appending record idx when idx > 0 and idx % 1000 == 0.
        if (this.idx > 0 && this.idx % 1000 === 0) this.flushTable();
        this.idx++;
        return;
      }
    }
  }

  endFile(): void {
    if (this.opts.output === 'str' && this.pending.length) this.flushTable();
    this.flushOut(this.opts.output === 'csv');
    this.flushBytes();
  }

  private flushBytes(): void {
    if (this.bytes.len === 0) return;
    this.opts.write(this.bytes.view());
    this.bytes.reset();
  }

  private flushTable(): void {
    const headers = this.firstChunk ? ['idx', ...this.strFields].map((k) => SYSPRINT_FIELDS[k]?.[0] ?? k) : null;
    this.opts.write(tabulateGithub(this.pending, headers) + '\n');
    this.firstChunk = false;
    this.pending = [];
  }

  private flushOut(crlf = false): void {
    if (!this.out.length) return;
    const eol = crlf ? '\r\n' : '\n';
    this.opts.write(this.out.join(eol) + eol);
    this.out.length = 0;
  }
}

/** Table cell text before padding: str/int as is, None as "", others json.dumps; bool as int. */
function strCellValue(x: PyValue): string {
  if (x === null) return '';
  if (typeof x === 'string') return x;
  if (typeof x === 'number' || typeof x === 'bigint') return String(x);
  // bool is an int in Python: '{0: <w}'.format(True) gives '1'.
  if (typeof x === 'boolean') return x ? '1' : '0';
  return pyJson(x);
}
