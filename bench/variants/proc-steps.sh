#!/usr/bin/env bash
# The sensor alone (process monitor, output to /dev/null) under process-storm's fork/exec/exit
# storm, several storms in one sensor's life, with a proc-steps.patch build: ns per step of the
# fork, exit and exec hooks, per storm (the first storm after start against the later ones shows what
# first touches cost). FALCONET_SENSOR: the build; run it through ab.sh, e.g.
#   bench/variants/ab.sh 1 steps=proc-pages-before.patch+proc-steps.patch -- bash bench/variants/proc-steps.sh 3
#   bench/variants/ab.sh 1 steps=proc-pages-before.patch+proc-steps.patch,BIG_PROBE=1 -- bash bench/variants/proc-steps.sh 3
#   bench/variants/proc-steps.sh [STORMS=3] [CHILDREN=3000]
set -euo pipefail
cd "$(dirname "$0")/../.."
storms=${1:-3}
n=${2:-3000}
sensor=${FALCONET_SENSOR:-sensor/falconet-sensor}
work=$(mktemp -d /tmp/fn-psteps.XXXXXX)
trap 'rm -rf "$work"' EXIT
node -e 'import("./dist/test/kernel/process-workloads.js").then((m) => process.stdout.write(m.STORM_C))' > "$work/storm.c"
cc -O2 -o "$work/storm" "$work/storm.c"
"$work/storm" 300 > /dev/null # the page cache and the binaries
"$sensor" --monitors 4 > /dev/null 2> "$work/sensor.err" &
sp=$!
sleep 4 # loaded and attached
for s in $(seq 1 "$storms"); do
  "$work/storm" "$n" > /dev/null
  bpftool map dump name fn_prof -j > "$work/steps$s.json"
done
kill -INT "$sp"
wait "$sp" || true
node -e '
const le = (b) => b.reduce((a, x, i) => a + Number(x) * 2 ** (8 * i), 0);
const read = (f) => {
  const v = {};
  for (const e of JSON.parse(require("fs").readFileSync(f))) {
    if (!e.key) continue;
    v[le(e.key)] = e.values.reduce((a, c) => a + le(c.value), 0);
  }
  return v;
};
const fork = [[0, "self"], [1, "clock"], [2, "pending"], [3, "rate_allow"], [4, "rec_begin"], [5, "rb_flags"], [6, "reserve"], [21, "prefetch"], [9, "copy"], [20, "submit"], [7, "bucket inherit"], [8, "(empty step)"]];
const exit = [[10, "self"], [11, "clock"], [12, "rate_allow"], [13, "rec_begin"], [14, "rb_flags"], [15, "reserve"], [22, "prefetch"], [17, "copy"], [18, "submit"], [16, "slots"]];
const exec = [[40, "self"], [41, "clock, rate_allow"], [42, "pending"], [43, "rec_begin"], [44, "exe path"], [45, "file name"], [46, "argv"], [47, "output"]];
const big = [[24, "6 lines of a page"], [25, "6 lines more"], [26, "6 lines stored"]];
let prev = {};
process.argv.slice(1).forEach((f, i) => {
  const c = read(f), v = {};
  for (const k in c) v[k] = c[k] - (prev[k] ?? 0);
  prev = c;
  const row = (steps, n) => steps.filter(([k]) => v[k]).map(([k, name]) => `${name} ${Math.round(v[k] / n)}`).join(", ");
  console.log(`storm ${i + 1}: fork (${v[31]}): ${row(fork, v[31])}`);
  console.log(`storm ${i + 1}: exit (${v[30]}): ${row(exit, v[30])}`);
  if (v[50]) console.log(`storm ${i + 1}: exec (${v[50]}): ${row(exec, v[50])}`);
  if (v[24]) console.log(`storm ${i + 1}: 8 MiB array, per fork: ${row(big, v[31])}`);
});' $(for s in $(seq 1 "$storms"); do echo "$work/steps$s.json"; done)
