#!/usr/bin/env bash
# What one line of kernel memory costs a BPF program, by the kind of memory and the context it
# runs in (docs/performance.md, "Eleventh pass"). Two idle BPF array maps (vmalloc'd, as every
# large or mmapable map is) are made with bpftool; a bpftrace script reads one line of them:
#   - "fixed": a line of the same page in every event (each event reads another line of it);
#   - "cycling": a line of one of 60 pages in turn (each page once per 60 events);
#   - "directmap": a line of a task_struct (slab memory, the kernel's direct map).
# in three contexts: the exit of 3,000 short-lived children (a new address space each), the
# fork in their parent, and 100,000 getppid calls of one long-lived process. Each figure is the
# mean ns between two clock reads around the load, less the mean of two clock reads alone
# (the "clock" lines; the clock itself costs more in a new process).
#   bash bench/variants/page-touch.sh [children=3000]
set -euo pipefail
n=${1:-3000}
work=$(mktemp -d /tmp/fn-touch.XXXXXX)
mounted=0 # bpffs for the maps' pins: mounted here only if it was not, and unmounted after
mountpoint -q /sys/fs/bpf || { mount -t bpf bpf /sys/fs/bpf; mounted=1; }
pin=/sys/fs/bpf/fn_touch_$$
kptr=$(sysctl -n kernel.kptr_restrict)
cleanup() {
  rm -f "${pin}_a" "${pin}_b"
  [ "$mounted" = 0 ] || umount /sys/fs/bpf
  sysctl -qw kernel.kptr_restrict="$kptr"
  rm -rf "$work"
}
trap cleanup EXIT
sysctl -qw kernel.kptr_restrict=1 # root reads real addresses in /proc/vmallocinfo
# sizes told apart in vmallocinfo: 64 and 72 values of a page each
bpftool map create "${pin}_a" type array key 4 value 4096 entries 64 name fn_touch_a
bpftool map create "${pin}_b" type array key 4 value 4096 entries 72 name fn_touch_b
addr() { grep array_map_alloc /proc/vmallocinfo | awk -v s="$1" '$2 == s { split($1, r, "-"); print r[1] }' | tail -1; }
a=$(addr 270336); b=$(addr 303104)
[ -n "$a" ] && [ -n "$b" ] || { echo "page-touch: the maps' addresses are not in /proc/vmallocinfo" >&2; exit 1; }
probe() { # context, filter, direct-map base expression, page offset in A
  cat <<EOF
$2 {
  \$n = @n_$1; @n_$1 = \$n + 1;
  \$a = (uint64)$a; \$b = (uint64)$b; \$p = (uint64)$3;
  \$t0 = nsecs; \$t1 = nsecs;
  \$x1 = *(uint64*)(\$a + $4 + (\$n % 64) * 64);
  \$t2 = nsecs;
  \$x2 = *(uint64*)(\$b + ((\$n % 60) + 2) * 4096 + ((\$n + 11) % 64) * 64);
  \$t3 = nsecs;
  \$x3 = *(uint64*)(\$p + 3072 + (\$n % 16) * 64);
  \$t4 = nsecs;
  @$1_0clock = avg(\$t1 - \$t0); @$1_1fixed = avg(\$t2 - \$t1); @$1_2cycling = avg(\$t3 - \$t2); @$1_3directmap = avg(\$t4 - \$t3);
}
EOF
}
{
  echo 'BEGIN { printf("ready\n"); }'
  probe exit 'tracepoint:sched:sched_process_exit /comm == "fn-touch"/' 'curtask->real_parent' 8192
  probe fork 'tracepoint:sched:sched_process_fork /comm == "fn-touch"/' 'curtask' 12288
  probe getppid 'tracepoint:syscalls:sys_enter_getppid /comm == "fn-touch"/' 'curtask->real_parent' 16384
} > "$work/touch.bt"
bpftrace "$work/touch.bt" > "$work/out" 2>&1 &
bt=$!
for _ in $(seq 100); do grep -q ready "$work/out" && break; sleep 0.1; done
perl -e '$0 = "fn-touch"; for (1..$ARGV[0]) { my $p = fork; if (!$p) { exit 0 } waitpid($p, 0) } getppid() for 1..100000' "$n"
kill -INT $bt; wait $bt || true
# "@exit_1fixed: 432" → per context: the clock, and each kind less the clock
awk -F'[_: ]+' '/^@(exit|fork|getppid)_/ { v[substr($1, 2) "," $2] = $NF }
  END { printf "%-8s %8s %8s %8s %10s   (ns per line, less the clock)\n", "context", "clock", "fixed", "cycling", "directmap";
        split("fork exit getppid", cs, " ");
        for (i = 1; i <= 3; i++) { c = cs[i]; k = v[c ",0clock"];
          printf "%-8s %8d %8d %8d %10d\n", c, k, v[c ",1fixed"] - k, v[c ",2cycling"] - k, v[c ",3directmap"] - k } }' "$work/out"
