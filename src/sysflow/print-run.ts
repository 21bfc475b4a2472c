// The engine behind `falconet print`: input discovery (files, directories in sysprint order,
// stdin), reading, joining, optional filtering, and formatting. CLI-free so tests and the bench
// can call it directly.
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { EntityTable } from './entities.js';
import { SysprintPrinter, absentFieldsOf } from './print-format.js';
import type { OutputMode } from './print-format.js';
import { SysFlowReadError, openSysFlow } from './reader.js';
import type { SfRecordView } from './view.js';

export type RecordFilter = (view: SfRecordView) => boolean;

export interface PrintRunOptions {
  output: OutputMode;
  fields: readonly string[] | null;
  filter: RecordFilter | null;
  termColumns: number;
  /** Columns that size the str table (SysprintPrinterOptions.sizeFields); default `fields`. */
  sizeFields?: readonly string[] | null;
  /** Output sink; a Buffer chunk is only valid during the call. */
  write: (chunk: string | Buffer) => void;
  /** Called for a file that fails; reading continues with the next input. */
  onError: (err: Error) => void;
}

/** One input: a file path, or an in-memory trace (stdin). */
export type PrintInput = { path: string } | { name: string; data: Buffer };

/** digits of the path as an integer, as sysprint sorts directory entries. */
function digitKey(p: string): bigint | null {
  const d = p.replace(/\D+/g, '');
  return d === '' ? null : BigInt(d);
}

/**
 * Files of a directory in sysprint's order: regular files only (not recursive), sorted by the
 * integer formed by all digits of the joined path; ties keep name order. sysprint crashes on a
 * path with no digits; we put those last, by name.
 */
export function listTraceDir(dir: string): string[] {
  const names = readdirSync(dir).sort();
  const files = names.map((n) => join(dir, n)).filter((p) => {
    try {
      return statSync(p).isFile();
    } catch {
      return false;
    }
  });
  const keyed = files.map((p) => ({ p, k: digitKey(p) }));
  keyed.sort((a, b) => {
    if (a.k === null || b.k === null) return a.k === null ? (b.k === null ? 0 : 1) : -1;
    return a.k < b.k ? -1 : a.k > b.k ? 1 : 0;
  });
  return keyed.map((x) => x.p);
}

/** Expand CLI paths into inputs (directories → their files in sysprint order). */
export function expandPaths(paths: readonly string[]): PrintInput[] {
  const out: PrintInput[] = [];
  for (const p of paths) {
    const st = statSync(p); // throws ENOENT with the path: a clear CLI error
    if (st.isDirectory()) for (const f of listTraceDir(p)) out.push({ path: f });
    else out.push({ path: p });
  }
  return out;
}

export interface PrintRunResult {
  records: number;
  printed: number;
  errors: number;
}

/** Print every event/flow of the inputs. Returns counts; failures go to `onError`. */
export function runPrint(inputs: readonly PrintInput[], opts: PrintRunOptions): PrintRunResult {
  const printer = new SysprintPrinter({
    output: opts.output,
    fields: opts.fields,
    termColumns: opts.termColumns,
    sizeFields: opts.sizeFields ?? null,
    write: opts.write,
  });
  let records = 0;
  let printed = 0;
  let errors = 0;
  for (const input of inputs) {
    const table = new EntityTable();
    let reader;
    try {
      reader = 'path' in input ? openSysFlow(input.path) : openSysFlow(input.data, input.name);
    } catch (e) {
      errors++;
      opts.onError(e as Error);
      continue;
    }
    printer.beginFile(absentFieldsOf(reader.info.writerFields));
    try {
      for (const obj of reader) {
        records++;
        const v = table.push(obj);
        if (v === null) continue;
        if (opts.filter !== null && !opts.filter(v)) continue;
        printer.add(v);
        printed++;
      }
    } catch (e) {
      errors++;
      if (!(e instanceof SysFlowReadError)) {
        printer.endFile();
        throw e;
      }
      opts.onError(e);
    }
    printer.endFile();
  }
  return { records, printed, errors };
}
