// Regenerates test/sysflow/fixtures/prototypes/ from the real sysprint (not a test; run by hand):
//
//   SF_APIS_MIRROR=<sf-apis bare git dir> bash ../shared/tools/sysprint-compare.sh <any trace>   # sets up /tmp/sysprint
//   npx tsc -p tsconfig.json && node dist/test/sysflow/make-prototype-fixtures.js [/tmp/sysprint [OUT_DIR]]
//
// For each layout of prototype-scenario.ts it writes the trace with our writer and records
// sysprint's output in every mode the tests check. Upstream sysprint crashes on the P4 and P7
// prototypes (no `state`, no `endTs`), so for those two it runs sysprint with the compatibility
// patch of sysprint-compare.sh (ProcessFlow with ProcessEvent's layout → PE, Process `type` →
// state, EventType → opFlags, missing tty/privileged → False): sysprint's own formatting of the
// same values. The `-l` listing needs no trace.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeSysFlowTrace } from '../../src/sysflow/ocf-writer.js';
import { PROTOTYPE_LAYOUTS, SCENARIO_SYNC, scenario } from './prototype-scenario.js';
import { FIXTURES } from './helpers.js';

/**
 * Modes recorded per layout: [fixture name, sysprint arguments, output file instead of stdout,
 * terminal columns]. sysprint sizes table columns by the terminal (80 when it has none); wider
 * runs go through a pty of that width (`script`), falconet gets `--width`.
 */
export const PROTOTYPE_MODES: readonly (readonly [string, readonly string[], boolean, number])[] = [
  ['json', ['-o', 'json'], false, 80],
  ['flatjson', ['-o', 'flatjson'], false, 80],
  ['str', [], false, 80],
  ['csv', ['-o', 'csv'], true, 80],
  ['all-str', ['-A'], false, 80],
  ['all-str-200', ['-A'], false, 200],
  ['all-flatjson', ['-A', '-o', 'flatjson'], false, 80],
  ['fields-str', ['-c', 'ts_uts,type,state,opflags,opflags_bitmap,proc.pid,proc.tty,proc.env,pproc.env,tags'], false, 80],
  ['fields-str-200', ['-c', 'ts_uts,type,state,opflags,proc.pid,proc.env,pproc.env,tags'], false, 200],
  ['fields-csv', ['-o', 'csv', '-c', 'ts_uts,type,state,opflags,proc.exe,proc.args,proc.env,container.privileged,tags'], true, 80],
];

const COMPAT = `
import runpy, sys
import sysflow.reader as R
from sysflow.objtypes import ObjectTypes, OBJ_NAME_MAP
import sysflow.opflags as OPF
_EV = {'CLONE': OPF.OP_CLONE, 'EXEC': OPF.OP_EXEC, 'EXIT': OPF.OP_EXIT}
def _next(self):
    name, obj = next(self.rdr)['rec']
    t = OBJ_NAME_MAP[name]
    if t == ObjectTypes.PROC_FLOW and 'args' in obj and 'numThreadsCloned' not in obj:
        t = ObjectTypes.PROC_EVT
    if t == ObjectTypes.PROC:
        if 'state' not in obj and 'type' in obj:
            obj['state'] = obj['type']
        obj.setdefault('tty', False)
    if t == ObjectTypes.CONT:
        obj.setdefault('privileged', False)
    if t == ObjectTypes.PROC_EVT and 'opFlags' not in obj and obj.get('type') in _EV:
        obj['opFlags'] = _EV[obj['type']]
    if t == ObjectTypes.FILE_FLOW:
        obj.setdefault('openFlags', 0)
    return t, R.NestedNamespace(**obj)
R.SFReader.next = _next
script = sys.argv[1]
sys.argv = sys.argv[1:]
runpy.run_path(script, run_name='__main__')
`;

/** Writes every fixture into `out` using the sysprint set up in `sp` (by sysprint-compare.sh). */
export function makePrototypeFixtures(sp: string, out: string): void {
  const sysprint = join(sp, 'src/py3/utils/sysprint');
  const env = { ...process.env, TZ: 'UTC', PYTHONPATH: `${join(sp, 'shim')}:${join(sp, 'src/py3/classes')}` };
  mkdirSync(out, { recursive: true });
  const tmp = mkdtempSync(join(tmpdir(), 'sfproto-'));
  const run = (args: string[], cols = 80): string => {
    const argv = ['/usr/bin/python3', ...args];
    const r =
      cols === 80
        ? spawnSync(argv[0]!, argv.slice(1), { env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })
        : spawnSync('script', ['-qec', `stty cols ${cols}; exec ${argv.map((a) => `'${a}'`).join(' ')}`, '/dev/null'], { env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    // (through the pty stderr arrives on stdout)
    if (r.status !== 0 || /Error while executing sysprint|Traceback/.test(r.stderr + (cols === 80 ? '' : r.stdout))) {
      throw new Error(`sysprint ${args.join(' ')}: ${r.stderr}${r.stdout}`);
    }
    return cols === 80 ? r.stdout : r.stdout.replace(/\r\n/g, '\n');
  };
  const compat = join(tmp, 'sysprint_compat.py');
  writeFileSync(compat, COMPAT);
  try {
    writeFileSync(join(out, 'list.txt'), run([sysprint, '-l']));
    for (const layout of PROTOTYPE_LAYOUTS) {
      const trace = join(tmp, `${layout}.sf`);
      writeFileSync(trace, encodeSysFlowTrace(scenario(layout), { layout, sync: SCENARIO_SYNC }));
      const head = layout === 'P4' || layout === 'P7' ? [compat, sysprint] : [sysprint];
      for (const [name, args, toFile, cols] of PROTOTYPE_MODES) {
        const file = join(tmp, `${layout}.${name}.out`);
        const text = run([...head, ...args, ...(toFile ? ['-w', file] : []), trace], cols);
        writeFileSync(join(out, `${layout}.${name}.txt`), toFile ? readFileSync(file) : text);
      }
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

if (process.argv[1]?.endsWith('make-prototype-fixtures.js')) {
  const out = process.argv[3] ?? join(FIXTURES, 'prototypes');
  makePrototypeFixtures(process.argv[2] ?? '/tmp/sysprint', out);
  process.stdout.write(`fixtures written to ${out}\n`);
}
