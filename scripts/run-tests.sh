#!/usr/bin/env bash
# Runs every test under dist/test with node's built-in runner. Tests run one file at a time
# because kernel tests measure exact counts on a shared machine.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/shared-env.sh
mapfile -t files < <(find dist/test -name '*.test.js' | sort)
if [ -n "${FALCONET_TEST_FILTER:-}" ]; then
  mapfile -t files < <(printf '%s\n' "${files[@]}" | grep -E "$FALCONET_TEST_FILTER")
fi
# --test-force-exit: a test that leaves a client reconnecting (a failed fleet test) must not hold
# the run open until the CI limit; the file ends when its tests do
exec node --test --test-concurrency=1 --test-force-exit --test-reporter=spec "${files[@]}"
