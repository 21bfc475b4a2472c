#!/usr/bin/env bash
# Runs every benchmark (root + BPF). Each prints its own table with ratios measured in the same run.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/shared-env.sh
command -v bpftrace >/dev/null || { DEBIAN_FRONTEND=noninteractive apt-get install -y -qq bpftrace >&2; }
for b in dist/bench/*.js; do
  echo "== $b"
  node "$b"
  echo
done
for b in bench/*.sh; do
  [ "$b" = bench/run-all.sh ] && continue
  echo "== $b"
  bash "$b"
  echo
done
