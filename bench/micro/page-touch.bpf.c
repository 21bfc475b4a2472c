// SPDX-License-Identifier: GPL-2.0
/* Micro-bench: what touching memory of a large (vmalloc'd, 4 KiB pages) BPF map costs inside a
 * syscall on this guest, by how many distinct pages and lines one call touches. It tests the
 * sixth pass's guess (docs/performance.md) that each cold page of a map costs a nested TLB walk
 * dear enough to explain a hook's microseconds. A getppid() of the bench process runs 8 byte
 * increments of mode: 1, each on a new page (the next 8 pages of 8 MiB, round the map, as a
 * ring buffer's producer moves); 2, the same 8 pages every call; 3, 8 consecutive lines moving
 * 512 bytes a call; 0, none. Build and run (as root, under the kernel lock):
 *   clang -g -O2 -target bpf -mcpu=v3 -D__TARGET_ARCH_x86 -Ibpf/vmlinux/x86 \
 *     -c bench/micro/page-touch.bpf.c -o /tmp/page-touch.bpf.o
 *   gcc -O2 bench/micro/page-touch.c -o /tmp/page-touch -lbpf
 *   flock /tmp/falconet-kernel.lock /tmp/page-touch /tmp/page-touch.bpf.o 20000
 * GAP=N sleeps N µs between calls (other work evicts the lines meanwhile); BG=1 runs a storm of
 * posix_spawn(/bin/true) on the other CPU (page-table churn, as in process-storm). */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

#define BIG (8u << 20)
struct blob { char b[BIG]; };
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct blob);
} big SEC(".maps");

const volatile __u32 target = 0;
struct { __u32 mode, pad; __u64 total_ns, calls, off; } g = {};

SEC("tp/syscalls/sys_enter_getppid")
int pt(void *ctx)
{
	if ((bpf_get_current_pid_tgid() >> 32) != target)
		return 0;
	__u32 zero = 0;
	struct blob *b = bpf_map_lookup_elem(&big, &zero);
	if (!b)
		return 0;
	__u32 md = g.mode;
	__u64 off = g.off;
	__u64 t0 = bpf_ktime_get_ns();
	for (int i = 0; i < 8; i++) {
		__u64 o;
		if (md == 1)
			o = off + i * 4096;
		else if (md == 2)
			o = i * 4096;
		else if (md == 3)
			o = off / 8 + i * 64;
		else
			break;
		b->b[o & (BIG - 1)] += 1;
	}
	g.total_ns += bpf_ktime_get_ns() - t0;
	g.calls++;
	g.off = off + 8 * 4096;
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
