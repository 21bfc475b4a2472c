#!/usr/bin/env bash
# Idempotent setup for a fresh Debian 12 machine (run as root): Debian packages, npm
# dependencies, TypeScript build, BPF object and sensor binary. Each step runs only when needed.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '[setup] %s\n' "$*" >&2; }

# Debian packages: the BPF toolchain, libbpf (static), and the real servers/tools tests use.
PKGS=(clang llvm libbpf-dev libelf-dev zlib1g-dev bpftool make gcc pkg-config tshark python3 procps)
# delivery tests (test/sinks): a private rsyslogd with TLS and RELP (imrelp); openssl makes the test CA
PKGS+=(rsyslog rsyslog-gnutls rsyslog-relp openssl)
# metrics test (test/pipeline/metrics.test.ts): a private Prometheus scraping --metrics
PKGS+=(prometheus)
# -p tests (test/kernel/protocols): real DNS/HTTP/syslog servers and clients
PKGS+=(dnsmasq-base nginx dnsutils curl bsdutils)
# retransmission test (test/kernel/protocols-retrans): network namespaces, veth, nftables
PKGS+=(iproute2 nftables)
# fleet tests (test/fleet): a real nats-server cluster; librdkafka's mock Kafka cluster (built by the test)
PKGS+=(nats-server librdkafka-dev)
# enrichment tests (test/enrich): podman with runc and a busybox-static image, curl, md5sum/sha256sum
PKGS+=(podman runc busybox-static coreutils)
# CRI metadata test (test/enrich/cri-containerd.test.ts): a private containerd (its CRI plugin)
PKGS+=(containerd)
# booted-kernel test (test/kernel61): QEMU boots Debian 12's own 6.1 kernel under TCG with a
# busybox initramfs; the kernel package is only downloaded and unpacked (scripts/qemu/kernel61.sh)
PKGS+=(qemu-system-x86 libc6-dev)
# one dpkg-query for all of them (a query per package costs ~20 ms each at every start)
mapfile -t installed < <(dpkg-query -W -f='${Package} ${Status}\n' "${PKGS[@]}" 2>/dev/null | awk '$NF == "installed" && $(NF-1) == "ok" {print $1}')
missing=()
for p in "${PKGS[@]}"; do [[ " ${installed[*]} " == *" $p "* ]] || missing+=("$p"); done
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

# TypeScript build, only when a source changed: a full tsc run costs ~10 s at every start.
# The stamp holds the list of sources, so a deleted or renamed file also triggers a clean rebuild
# (its stale output would otherwise still run, e.g. as a test).
stamp=dist/.build-stamp
sources=$(find src test bench -name '*.ts' -newer "$stamp" -print -quit 2>/dev/null || true)
listing=$( (find src test bench -name '*.ts' | LC_ALL=C sort; cat tsconfig.json package-lock.json) | md5sum | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ -n "$sources" ] || [ tsconfig.json -nt "$stamp" ] || [ "$(cat "$stamp")" != "$listing" ]; then
  # outputs whose source is gone (file by file: a test run reading dist/ meanwhile keeps working)
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" != "$listing" ] && [ -d dist ]; then
    find dist -name '*.js' | while read -r f; do
      src=${f#dist/}; [ -f "${src%.js}.ts" ] || rm -f "$f" "$f.map"
    done
  fi
  log "tsc"
  node_modules/.bin/tsc -p tsconfig.json
  echo "$listing" > "$stamp"
fi

# Kernel object and sensor binary (make decides what is stale). The object compiles against the
# shipped bpf/vmlinux/<arch>/vmlinux.h, so the build host's BTF is needed only elsewhere.
arch=$(uname -m | sed 's/x86_64/x86/;s/aarch64/arm64/')
if [ -f "bpf/vmlinux/$arch/vmlinux.h" ] || [ -r /sys/kernel/btf/vmlinux ]; then
  make -s -C bpf >&2
  make -s -C sensor >&2
else
  log "no bpf/vmlinux/$arch/vmlinux.h and no /sys/kernel/btf/vmlinux: the BPF object and sensor are not built (replay and pure-TS features still work)"
fi

# Debian 12's 6.1 kernel for the booted-kernel test: downloaded once into a cache dir, not installed.
if [ "$(id -u)" = 0 ] && [ "$arch" = x86 ]; then
  scripts/qemu/kernel61.sh >/dev/null || log "could not fetch Debian's 6.1 kernel (test/kernel61 will fail until it is)"
fi
