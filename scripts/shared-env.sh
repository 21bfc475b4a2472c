# Sourced by the test and bench runners: conformance data (SysFlow traces, policies,
# references) lives in shared/ beside the clone, or where FALCONET_SHARED says.
if [ -z "${FALCONET_SHARED:-}" ]; then
  for d in "$PWD/../shared" /work/shared; do
    if [ -d "$d/data" ]; then export FALCONET_SHARED="$(cd "$d" && pwd)"; break; fi
  done
fi
