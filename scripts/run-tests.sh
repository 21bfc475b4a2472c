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
exec node --test --test-concurrency=1 --test-reporter=spec "${files[@]}"
