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
# Every test's temporary files go under one directory of this run (os.tmpdir() follows TMPDIR),
# removed at the end: tests remove what they made when they pass, but not always when they fail,
# and repeated runs filled /tmp. 0755: servers the tests start drop privileges (nginx workers).
run_tmp=$(mktemp -d "${TMPDIR:-/tmp}/fnt.XXXXXX") # short: podman refuses a runroot over 50 characters
chmod 755 "$run_tmp"
cleanup() { rm -rf --one-file-system "$run_tmp"; }
trap cleanup EXIT
# --test-force-exit: a test that leaves a client reconnecting (a failed fleet test) must not hold
# the run open until the CI limit; the file ends when its tests do. test-preload.mjs makes each
# file's report pipe blocking, so that exit cannot drop the last results.
TMPDIR="$run_tmp" node --test --test-concurrency=1 --test-force-exit --import ./scripts/test-preload.mjs --test-reporter=spec "${files[@]}"
