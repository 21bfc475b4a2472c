#!/usr/bin/env bash
# Boots Debian 12's 6.1 kernel under QEMU (TCG: no KVM needed) with a small initramfs holding
# busybox, the static sensor (the BPF object is inside it), netpair and a workload, and brings
# back the sensor's raw stream (the `falconet record` format) over a second serial port.
#   boot.sh --workload FILE --out DIR [--prework FILE] [--sensor-args "ARGS"] [--timeout S] [--smp N] [--mem M]
# --prework runs before the sensor starts (e.g. a syslog daemon whose socket -p resolves at
# start); it may append sensor arguments to /tmp/sensor-args.extra in the guest.
# Writes DIR/console.log (guest console) and DIR/stream.bin (decode it with
# `bin/falconet replay DIR/stream.bin -o json-min`). Exit status 0 only when the guest reported
# the stream it sent and the host received exactly those bytes.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
workload= prework= out= timeout=600 smp=2 mem=2G
sensor_args="--monitors 7"
while [ $# -gt 0 ]; do
  case $1 in
    --workload) workload=$2; shift 2 ;;
    --prework) prework=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --sensor-args) sensor_args=$2; shift 2 ;;
    --timeout) timeout=$2; shift 2 ;;
    --smp) smp=$2; shift 2 ;;
    --mem) mem=$2; shift 2 ;;
    *) echo "boot.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
[ -n "$workload" ] && [ -n "$out" ] || { echo "usage: boot.sh --workload FILE --out DIR [--sensor-args ARGS]" >&2; exit 2; }
command -v qemu-system-x86_64 >/dev/null || { echo "boot.sh: qemu-system-x86_64 missing (scripts/setup.sh installs qemu-system-x86)" >&2; exit 1; }
bb=$(command -v busybox || true)
[ -n "$bb" ] && file -L "$bb" | grep -q 'statically linked' || bb=/bin/busybox
file -L "$bb" | grep -q 'statically linked' || { echo "boot.sh: a static busybox is needed (busybox-static)" >&2; exit 1; }
make -s -C "$repo/sensor" falconet-sensor-static >&2
sensor=$repo/sensor/falconet-sensor-static
[ -x "$sensor" ] || { echo "boot.sh: $sensor not built (scripts/setup.sh)" >&2; exit 1; }
kdir=$("$here/kernel61.sh")

mkdir -p "$out"
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage"/{bin,proc,sys,dev,tmp,work,boot}
cp "$bb" "$stage/bin/busybox"
for a in $("$stage/bin/busybox" --list); do [ "$a" = busybox ] || ln -sf busybox "$stage/bin/$a"; done
cp "$sensor" "$stage/bin/falconet-sensor"
gcc -static -O2 -o "$stage/bin/netpair" "$here/guest/netpair.c"
cp "$here/guest/init" "$stage/init"
cp "$workload" "$stage/workload.sh"
[ -z "$prework" ] || cp "$prework" "$stage/prework.sh"
echo "$sensor_args" > "$stage/sensor-args"
# the kernel's config travels along for reference, outside the paths libbpf reads: the sensor
# must load without it (containers), as it does here
cp "$kdir/config" "$stage/boot/kernel-config"
(cd "$stage" && find . | "$stage/bin/busybox" cpio -o -H newc 2>/dev/null | gzip -1) > "$out/initramfs.gz"

rm -f "$out/stream.bin" "$out/console.log"
start=$(date +%s.%N)
set +e
timeout "$timeout" qemu-system-x86_64 -accel tcg -cpu max -smp "$smp" -m "$mem" \
  -kernel "$kdir/vmlinuz" -initrd "$out/initramfs.gz" \
  -append "console=ttyS0 panic=-1 quiet loglevel=3" \
  -display none -no-reboot -monitor none \
  -serial stdio -serial "file:$out/stream.bin" </dev/null >"$out/console.log" 2>&1
rc=$?
set -e
end=$(date +%s.%N)
echo "boot.sh: qemu exit $rc after $(echo "$end $start" | awk '{printf "%.1f", $1 - $2}') s" >&2
[ $rc -eq 0 ] || { echo "boot.sh: qemu failed or timed out (console: $out/console.log)" >&2; tail -20 "$out/console.log" >&2; exit 1; }
want=$(sed -n 's/^GUEST: stream \([0-9]*\) bytes \([0-9a-f]*\).*/\1 \2/p' "$out/console.log" | tr -d '\r')
got="$(wc -c < "$out/stream.bin") $(md5sum < "$out/stream.bin" | cut -d' ' -f1)"
[ -n "$want" ] && [ "$want" = "$got" ] || { echo "boot.sh: stream mismatch (guest: '$want', host: '$got')" >&2; exit 1; }
