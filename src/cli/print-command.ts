// `falconet print`: a sysprint-compatible printer/converter for SysFlow traces (files,
// directories, stdin). Formatting lives in src/sysflow/print-format.ts; this file only maps
// options.
import { closeSync, openSync, readFileSync, writeSync } from 'node:fs';
import type { Command } from 'commander';
import { Option } from 'commander';
import {
  SYSPRINT_DEFAULT_FIELDS,
  SYSPRINT_FLAT_KEYS,
  SYSPRINT_K8S_EVENT_FIELDS,
  SYSPRINT_K8S_FIELDS,
  isKnownField,
  listFields,
} from '../sysflow/print-format.js';
import type { OutputMode } from '../sysflow/print-format.js';
import { expandPaths, runPrint } from '../sysflow/print-run.js';
import type { PrintInput, RecordFilter } from '../sysflow/print-run.js';
import { loadFilterCompiler } from '../sysflow/filter-hook.js';

interface PrintOpts {
  output: OutputMode;
  file?: string;
  fields?: string;
  filter?: string;
  list?: boolean;
  k8s?: boolean;
  k8sevents?: boolean;
  allfields?: boolean;
  width?: string;
}

function terminalColumns(): number {
  // sysprint asks fds 0..2 for a size and falls back to 80 columns.
  return process.stdout.columns || process.stderr.columns || 80;
}

/** A synchronous writer to stdout or a file: output stays ordered with stderr messages. */
function makeWriter(path: string | undefined): { write: (s: string | Buffer) => void; close: () => void } {
  const fd = path === undefined ? 1 : openSync(path, 'w');
  return {
    write(s: string | Buffer) {
      const b = typeof s === 'string' ? Buffer.from(s, 'utf8') : s;
      let off = 0;
      while (off < b.length) {
        try {
          off += writeSync(fd, b, off);
        } catch (e) {
          const code = (e as NodeJS.ErrnoException).code;
          if (code === 'EAGAIN') continue; // non-blocking pipe: retry
          if (code === 'EPIPE') process.exit(0); // reader went away (| head)
          throw e;
        }
      }
    },
    close() {
      if (fd !== 1) closeSync(fd);
    },
  };
}

export function registerPrintCommand(program: Command): void {
  // The root (agent) command defines -o/-l too; without positional options commander gives
  // `print -o json` to the root. With them, root options are only parsed before a subcommand.
  program.enablePositionalOptions();
  program
    .command('print')
    .description('print or convert SysFlow traces (sysprint-compatible); reads files, directories, or stdin ("-")')
    .argument('[paths...]', 'trace files or directories ("-" or none with piped input: stdin)')
    .addOption(new Option('-o, --output <format>', 'output format').choices(['str', 'flatjson', 'json', 'csv']).default('str'))
    .option('-w, --file <path>', 'output file (json/flatjson: one JSON array, like sysprint -w); default stdout')
    .option('-c, --fields <list>', 'comma-separated list of sysflow fields to print (see -l)')
    .option('-f, --filter <expr>', 'filter expression (SysFlow policy condition language)')
    .option('-l, --list', 'list available record attributes')
    .option('-k, --k8s', 'add pod related fields to output')
    .option('-K, --k8sevents', 'use k8s event fields in output')
    .option('-A, --allfields', 'add all available fields to output')
    .option('--width <columns>', 'terminal width for -o str column sizing (default: the terminal, else 80)')
    .action(async (paths: string[], opts: PrintOpts) => {
      if (opts.list) {
        const lines = ['-'.repeat(30), 'List of attributes:', '-'.repeat(30)];
        for (const [k, d] of listFields()) lines.push(`${k.padEnd(40)} ${d.padEnd(40)}`);
        lines.push('-'.repeat(30));
        process.stdout.write(lines.join('\n') + '\n');
        return;
      }
      if (opts.k8s && opts.k8sevents) throw new Error('print: -k/--k8s and -K/--k8sevents are mutually exclusive');

      let fields: string[] | null = null;
      const defaults = opts.k8sevents ? SYSPRINT_K8S_EVENT_FIELDS : opts.k8s ? SYSPRINT_K8S_FIELDS : SYSPRINT_DEFAULT_FIELDS;
      // sysprint sizes the table by the default columns when -A prints all of them.
      const sizeFields = opts.allfields ? defaults : null;
      if (opts.fields && !opts.allfields) {
        fields = [...new Set(opts.fields.split(',').map((s) => s.trim()).filter((s) => s !== ''))];
        const unknown = fields.filter((f) => !isKnownField(f));
        if (unknown.length) throw new Error(`print: unknown field(s) ${unknown.join(', ')} (falconet print -l lists them)`);
      } else if (opts.allfields) {
        fields = [...SYSPRINT_FLAT_KEYS];
      } else if (opts.output === 'str') {
        // -k/-K change sysprint's *default* columns, which only the table uses; json/csv
        // without -c print every field.
        fields = [...defaults];
      }

      let filter: RecordFilter | null = null;
      if (opts.filter !== undefined) {
        const compile = await loadFilterCompiler();
        filter = compile(opts.filter);
      }

      const inputs: PrintInput[] = [];
      const wantStdin = paths.length === 0 ? !process.stdin.isTTY : paths.includes('-');
      if (paths.length === 0 && !wantStdin) throw new Error('print: no input (give trace files/directories, or pipe a trace to stdin)');
      for (const p of paths) {
        if (p === '-') inputs.push({ name: '<stdin>', data: readFileSync(0) });
        else inputs.push(...expandPaths([p]));
      }
      if (paths.length === 0) inputs.push({ name: '<stdin>', data: readFileSync(0) });

      const width = opts.width !== undefined ? Number.parseInt(opts.width, 10) : terminalColumns();
      if (!Number.isFinite(width) || width <= 0) throw new Error(`print: invalid --width ${opts.width}`);

      const jsonArray = opts.file !== undefined && (opts.output === 'json' || opts.output === 'flatjson');
      const out = makeWriter(opts.file);
      // sysprint -w with json writes one array: turn our JSON lines into array elements.
      let first = true;
      const write = jsonArray
        ? (chunk: string | Buffer): void => {
            const items = chunk.toString('utf8').split('\n').filter((l) => l !== '');
            if (!items.length) return;
            out.write((first ? '[' : ', ') + items.join(', '));
            first = false;
          }
        : out.write;
      const res = runPrint(inputs, {
        output: opts.output,
        fields,
        filter,
        termColumns: width,
        sizeFields,
        write,
        onError: (e) => process.stderr.write(`falconet print: ${e.message}\n`),
      });
      if (jsonArray) out.write(first ? '[]' : ']');
      out.close();
      if (res.errors > 0) process.exitCode = 1;
    });
}
