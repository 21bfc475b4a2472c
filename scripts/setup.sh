#!/usr/bin/env bash
# Idempotent setup for a fresh Debian 12 machine (run as root): Debian packages, npm
# dependencies, TypeScript build, BPF object and sensor binary. Each step runs only when needed.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '[setup] %s\n' "$*" >&2; }

# Debian packages: the BPF toolchain, libbpf (static), and the real servers/tools tests use.
PKGS=(clang llvm libbpf-dev libelf-dev zlib1g-dev bpftool make gcc pkg-config tshark python3 procps)
# delivery tests (test/sinks): a private rsyslogd with TLS; openssl makes the test CA
PKGS+=(rsyslog rsyslog-gnutls openssl)
# metrics test (test/pipeline/metrics.test.ts): a private Prometheus scraping --metrics
PKGS+=(prometheus)
# enrichment tests (test/enrich): podman with runc and a busybox-static image, curl, md5sum/sha256sum
PKGS+=(podman runc busybox-static curl coreutils)
missing=()
for p in "${PKGS[@]}"; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p"); done
if ((${#missing[@]})); then
  if [ "$(id -u)" != 0 ]; then
    log "missing Debian packages: ${missing[*]} (run setup as root, or: apt-get install ${missing[*]})"; exit 2
  fi
  log "installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq "${missing[@]}" >&2
fi

# tracefs is needed by the tracepoint programs (absent on some minimal VMs).
if [ "$(id -u)" = 0 ] && [ ! -e /sys/kernel/tracing/events ]; then
  mount -t tracefs nodev /sys/kernel/tracing 2>/dev/null || log "could not mount tracefs"
fi

# npm dependencies: reinstall only when the lock file changed.
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  log "npm ci"
  npm ci --no-audit --no-fund --loglevel=error >&2
fi

# TypeScript build (tsc is incremental enough at this size).
log "tsc"
npx tsc -p tsconfig.json

# Kernel object and sensor binary (make decides what is stale).
if [ -r /sys/kernel/btf/vmlinux ]; then
  make -s -C bpf >&2
  make -s -C sensor >&2
else
  log "no /sys/kernel/btf/vmlinux: the BPF object and sensor are not built (replay and pure-TS features still work)"
fi
