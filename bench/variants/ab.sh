#!/usr/bin/env bash
# Alternated A/B runs of sensor builds that differ in their BPF code: the committed build (base)
# and variants made from it by a patch in this folder, each built in a scratch worktree of HEAD.
# Each round runs CMD once per build, the order reversed every other round, under the kernel
# lock; FALCONET_SENSOR names the build (the benches' agent starts that sensor).
#   bench/variants/ab.sh ROUNDS VARIANT... -- CMD...
#   VARIANT: base | NAME=PATCH[+PATCH…][,MACRO=VALUE]   (patches applied in turn; the macro is
#            defined at the top of falconet.bpf.c)
# Examples (docs/performance.md, ninth pass):
#   bench/variants/ab.sh 4 base dynptr=ringbuf-dynptr.patch -- node dist/bench/process-storm.js 1 3000
#   bench/variants/ab.sh 4 base dynptr=ringbuf-dynptr.patch -- node dist/bench/file-overhead.js 2
#   bench/variants/ab.sh 4 base H=sock-emit-scratch.patch,HACK_SIZE=704 F=sock-emit-scratch.patch,HACK_SIZE=1824 \
#     -- bash bench/variants/sock-storm-sensor.sh 5000
set -euo pipefail
cd "$(dirname "$0")/../.."
repo=$PWD
rounds=$1; shift
variants=()
while [ "$1" != "--" ]; do variants+=("$1"); shift; done
shift
work=$(mktemp -d /tmp/fn-variants.XXXXXX)
trap 'git -C "$repo" worktree remove --force "$work/tree" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
git worktree add -q --detach "$work/tree" HEAD
names=()
for v in "${variants[@]}"; do
  name=${v%%=*}
  git -C "$work/tree" checkout -q -- .
  if [ "$v" != base ]; then
    spec=${v#*=}
    patch=${spec%%,*}
    # PATCH may be several, applied in turn: A.patch+B.patch
    IFS=+ read -ra parts <<< "$patch"
    for p in "${parts[@]}"; do git -C "$work/tree" apply "$repo/bench/variants/$p"; done
    if [ "$spec" != "$patch" ]; then
      m=${spec#*,}
      sed -i "1i #define ${m%%=*} ${m#*=}" "$work/tree/bpf/falconet.bpf.c"
    fi
  fi
  make -C "$work/tree/bpf" -s >&2
  make -C "$work/tree/sensor" -s >&2
  cp "$work/tree/sensor/falconet-sensor" "$work/sensor-$name"
  names+=("$name")
done
for r in $(seq 1 "$rounds"); do
  order=("${names[@]}")
  if (( r % 2 == 0 )); then mapfile -t order < <(printf '%s\n' "${names[@]}" | tac); fi
  for n in "${order[@]}"; do
    echo "=== round $r build $n $(date +%T) load $(cut -d' ' -f1 /proc/loadavg)"
    FALCONET_SENSOR="$work/sensor-$n" flock /tmp/falconet-kernel.lock "$@"
  done
done
