// SPDX-License-Identifier: GPL-2.0
/* Micro-bench: what one 384-byte record output costs in the contexts where the process monitor
 * sends most of its records: the fork hook (in the forking parent) and the exit hook (in a child
 * that never ran anything else), by output channel. The guess it tests (docs/performance.md,
 * "Twelfth pass", has the results): on our PVM guest each vmalloc'd page a hook reaches costs
 * ~0.2-0.6 us in these contexts, a BPF ring buffer is vmalloc'd, and a perf buffer's pages are
 * in the direct map on x86, so a perf buffer might be cheaper there. It is not.
 * Loaded by out-ctx.c, which has the build and run commands. Modes (g.mode):
 *   0 nothing (the two clock reads), 1 ringbuf reserve + 384 B stored + submit, 2 384 B built on
 *   the stack + bpf_ringbuf_output, 3 the same + bpf_perf_event_output (watermark wakeups),
 *   4 a per-CPU counter (the count-only floor's work), 5 the same 384 B built on the stack only,
 *   6 a 40-byte slot of a 32,768-slot array by tgid (vmalloc'd), 7 the same in a 512-slot array
 *   (kmalloc'd), 8 the same slot inserted into a hash by tgid and deleted (two bucket locks). */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

#define REC 384

struct { __uint(type, BPF_MAP_TYPE_RINGBUF); __uint(max_entries, 4 << 20); } rb SEC(".maps");
struct { __uint(type, BPF_MAP_TYPE_PERF_EVENT_ARRAY); __uint(key_size, 4); __uint(value_size, 4); } pb SEC(".maps");
struct { __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY); __uint(max_entries, 1); __type(key, __u32); __type(value, __u64); } hits SEC(".maps");
/* 40-byte slots indexed by the process's tgid, as the rate limiter's buckets: 32,768 of them
 * (1.3 MB, vmalloc'd), or 512 (20 KiB: under 32 KiB and not mmapable, so kmalloc'd, in the direct map) */
struct slot { __u64 v[5]; };
struct { __uint(type, BPF_MAP_TYPE_ARRAY); __uint(max_entries, 32768); __type(key, __u32); __type(value, struct slot); } big_slots SEC(".maps");
struct { __uint(type, BPF_MAP_TYPE_ARRAY); __uint(max_entries, 512); __type(key, __u32); __type(value, struct slot); } small_slots SEC(".maps");
/* the same slot as a hash entry keyed by tgid: inserted, then deleted (two bucket locks) */
struct { __uint(type, BPF_MAP_TYPE_HASH); __uint(max_entries, 4096); __type(key, __u32); __type(value, struct slot); } hash_slots SEC(".maps");

const volatile __u32 target = 0; /* the bench's tgid: its forks, and its children's exits */
#define MODES 9
struct { __u32 mode, pad; __u64 ns[2][MODES], calls[2][MODES], fails[MODES]; } g = {};

static __always_inline void out(void *ctx, int where)
{
	__u32 md = g.mode, zero = 0;
	if (md >= MODES)
		return;
	char buf[REC];
	__u64 t0 = bpf_ktime_get_ns();
	long err = 0;
	switch (md) {
	case 1: {
		char *p = bpf_ringbuf_reserve(&rb, REC, 0);
		if (!p) { err = 1; break; }
		__builtin_memset(p, where, REC);
		bpf_ringbuf_submit(p, BPF_RB_NO_WAKEUP);
		break; }
	case 2:
		__builtin_memset(buf, where, REC);
		err = bpf_ringbuf_output(&rb, buf, REC, BPF_RB_NO_WAKEUP);
		break;
	case 3:
		__builtin_memset(buf, where, REC);
		err = bpf_perf_event_output(ctx, &pb, BPF_F_CURRENT_CPU, buf, REC);
		break;
	case 4: {
		__u64 *n = bpf_map_lookup_elem(&hits, &zero);
		if (n) *n += 1;
		break; }
	case 6:
	case 7: {
		__u32 k = (bpf_get_current_pid_tgid() >> 32) & (md == 6 ? 32767 : 511);
		struct slot *sl = bpf_map_lookup_elem(md == 6 ? (void *)&big_slots : (void *)&small_slots, &k);
		if (sl) sl->v[1] += 1;
		break; }
	case 8: {
		__u32 k = bpf_get_current_pid_tgid() >> 32;
		struct slot v = {};
		err = bpf_map_update_elem(&hash_slots, &k, &v, BPF_NOEXIST);
		bpf_map_delete_elem(&hash_slots, &k);
		break; }
	case 5:
		__builtin_memset(buf, where, REC);
		asm volatile("" :: "r"(buf) : "memory"); /* kept: the stores are the work measured */
		break;
	}
	__u64 d = bpf_ktime_get_ns() - t0;
	g.ns[where][md] += d;
	g.calls[where][md]++;
	if (err)
		g.fails[md]++;
}

SEC("tp/sched/sched_process_fork")
int oc_fork(void *ctx)
{
	if ((bpf_get_current_pid_tgid() >> 32) == target)
		out(ctx, 0);
	return 0;
}

SEC("tp/sched/sched_process_exit")
int oc_exit(void *ctx)
{
	struct task_struct *t = (struct task_struct *)bpf_get_current_task();
	if (BPF_CORE_READ(t, real_parent, tgid) == target && (bpf_get_current_pid_tgid() >> 32) != target)
		out(ctx, 1);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
