#!/usr/bin/env bash
# Debian 12's own 6.1 kernel for the booted-kernel test: downloads the newest
# linux-image-6.1.0-N-amd64 package apt knows (not installed: only unpacked into a cache dir)
# and prints the directory holding vmlinuz and config. Idempotent; offline once cached.
#   FALCONET_KERNEL61_CACHE  cache dir (default /var/cache/falconet/kernel61)
#   FALCONET_KERNEL61_PKG    exact package name (default: newest linux-image-6.1.0-*-amd64)
set -euo pipefail
cache=${FALCONET_KERNEL61_CACHE:-/var/cache/falconet/kernel61}
mkdir -p "$cache"
pkg=${FALCONET_KERNEL61_PKG:-}
# a kernel unpacked already is used as is (asking apt costs seconds at every setup); remove the
# cache dir to move to a newer ABI
if [ -z "$pkg" ]; then
  pkg=$(ls "$cache" 2>/dev/null | grep -E '^linux-image-6\.1\.0-[0-9]+-amd64$' | sort -t- -k5,5n | tail -1 || true)
  [ -n "$pkg" ] && [ -f "$cache/$pkg/vmlinuz" ] || pkg=
fi
if [ -z "$pkg" ]; then
  # the signed image (its vmlinuz boots under -kernel like any other); newest ABI number first
  pkg=$(apt-cache search --names-only '^linux-image-6\.1\.0-[0-9]+-amd64$' 2>/dev/null | awk '{print $1}' | sort -t- -k5,5n | tail -1)
fi
[ -n "$pkg" ] || { echo "kernel61: no linux-image-6.1.0-*-amd64 package known to apt (run apt-get update)" >&2; exit 1; }
dir="$cache/$pkg"
if [ ! -f "$dir/vmlinuz" ] || [ ! -f "$dir/config" ]; then
  tmp=$(mktemp -d "$cache/.dl.XXXXXX")
  trap 'rm -rf "$tmp"' EXIT
  (cd "$tmp" && apt-get download "$pkg" >/dev/null 2>&1) || { echo "kernel61: apt-get download $pkg failed" >&2; exit 1; }
  dpkg-deb -x "$tmp"/*.deb "$tmp/x"
  mkdir -p "$dir"
  cp "$tmp"/x/boot/vmlinuz-* "$dir/vmlinuz"
  cp "$tmp"/x/boot/config-* "$dir/config"
  basename "$tmp"/x/boot/vmlinuz-* | sed 's/^vmlinuz-//' > "$dir/release"
fi
echo "$dir"
