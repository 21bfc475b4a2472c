#!/usr/bin/env bash
# The sensor alone (socket monitor, output to /dev/null) under socket-overhead's connection storm
# (N loopback connections): BPF ns per connection of the socket hooks, and the six dearest hooks
# as name:ns per invocation:invocations. For builds whose records the agent cannot decode (the
# measuring builds of bench/variants). FALCONET_SENSOR: the build (default sensor/falconet-sensor);
# SENSOR_ARGS: more sensor arguments, e.g. -p's ports as the agent passes them (docs/performance.md,
# thirteenth pass: --payload udp/53=1,tcp/53=1,tcp/80=2,udp/514=3,tcp/514=3).
#   bash bench/variants/sock-storm-sensor.sh [N=5000]
set -euo pipefail
cd "$(dirname "$0")/../.."
n=${1:-5000}
sensor=${FALCONET_SENSOR:-sensor/falconet-sensor}
work=$(mktemp -d /tmp/fn-sockstorm.XXXXXX)
trap 'rm -rf "$work"; sysctl -q -w kernel.bpf_stats_enabled=0' EXIT
# the storm's C source is the one bench/socket-overhead.ts builds (bench/lib/sock-storm.ts)
node -e '
const s = require("fs").readFileSync("bench/lib/sock-storm.ts", "utf8");
const m = s.match(/const STORM_C = `([\s\S]*?)`;/);
process.stdout.write(m[1].replace(/\\\\n/g, "\\n"));' > "$work/storm.c"
cc -O2 -pthread -o "$work/storm" "$work/storm.c"
stats() {
  bpftool prog show -j | node -e '
const o = {};
for (const p of JSON.parse(require("fs").readFileSync(0)))
  if (p.name && p.name.startsWith("sock_")) o[p.name] = [(o[p.name]?.[0] ?? 0) + (p.run_time_ns ?? 0), (o[p.name]?.[1] ?? 0) + (p.run_cnt ?? 0)];
console.log(JSON.stringify(o));'
}
sysctl -q -w kernel.bpf_stats_enabled=1
# shellcheck disable=SC2086 # SENSOR_ARGS is a list of words
"$sensor" --monitors 2 ${SENSOR_ARGS:-} > /dev/null 2> "$work/sensor.err" &
sp=$!
sleep 4 # loaded and attached
before=$(stats)
"$work/storm" "$n" "127.0.0.$((RANDOM % 200 + 2))" > /dev/null
after=$(stats)
kill -INT "$sp"
wait "$sp" || true
node -e '
const [a, b, n] = [JSON.parse(process.argv[1]), JSON.parse(process.argv[2]), Number(process.argv[3])];
let total = 0;
const rows = [];
for (const k of Object.keys(b)) {
  const dt = b[k][0] - (a[k]?.[0] ?? 0), dc = b[k][1] - (a[k]?.[1] ?? 0);
  if (!dc) continue;
  total += dt;
  rows.push([k, Math.round(dt / dc), dc]);
}
rows.sort((x, y) => y[1] * y[2] - x[1] * x[2]);
console.log("BPF ns per connection", Math.round(total / n), rows.slice(0, 6).map((r) => r.join(":")).join(" "));
' "$before" "$after" "$n"
