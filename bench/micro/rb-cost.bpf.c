// SPDX-License-Identifier: GPL-2.0
/* Micro-bench: what one record output costs on this machine, by channel. A getppid() of the
 * bench process runs `reps` operations of `mode` between two clock reads. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#define REC 384 /* about a process record without strings */

struct { __uint(type, BPF_MAP_TYPE_RINGBUF); __uint(max_entries, 64 << 20); } rb SEC(".maps");
/* mode 12: CPU 0 outputs to rb, every other CPU to rb2 (per-CPU rings on a 2-CPU machine) */
struct { __uint(type, BPF_MAP_TYPE_RINGBUF); __uint(max_entries, 4 << 20); } rb2 SEC(".maps");
struct { __uint(type, BPF_MAP_TYPE_PERF_EVENT_ARRAY); __uint(key_size, 4); __uint(value_size, 4); } pb SEC(".maps");
struct rec { char b[REC]; };
struct { __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY); __uint(max_entries, 1); __type(key, __u32); __type(value, struct rec); } scratch SEC(".maps");
struct stage { __u32 len; __u32 pad; char b[8 * REC]; };
struct { __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY); __uint(max_entries, 1); __type(key, __u32); __type(value, struct stage); } stg SEC(".maps");

struct { __uint(type, BPF_MAP_TYPE_ARRAY); __uint(max_entries, 1); __type(key, __u32); __type(value, struct rec); } arr SEC(".maps");
/* modes 20-23: what a hash map's bucket lock costs here (it turns interrupts off), against a
 * look-up (no lock) and a lock-free slot claimed by compare-and-swap */
struct hval { __u64 v[8]; };
struct { __uint(type, BPF_MAP_TYPE_HASH); __uint(max_entries, 1024); __type(key, __u32); __type(value, struct hval); } hmap SEC(".maps");
struct sval { __u64 owner, n; };
struct { __uint(type, BPF_MAP_TYPE_ARRAY); __uint(max_entries, 8); __type(key, __u32); __type(value, struct sval); } sarr SEC(".maps");

const volatile __u32 target = 0;
struct { __u32 mode, reps; __u64 total_ns, calls, fails; } g = {};
#define mode g.mode
#define reps g.reps
#define total_ns g.total_ns
#define calls g.calls
#define fails g.fails

SEC("tp/syscalls/sys_enter_getppid")
int rbc(void *ctx)
{
	if ((bpf_get_current_pid_tgid() >> 32) != target)
		return 0;
	__u32 zero = 0;
	struct rec *r = bpf_map_lookup_elem(&scratch, &zero);
	struct stage *s = bpf_map_lookup_elem(&stg, &zero);
	if (!r || !s)
		return 0;
	/* read once, before the clock: with PROD2 the other CPU writes g's line all the time */
	__u32 md = mode, rp = reps;
	__u64 t0 = bpf_ktime_get_ns();
	for (int i = 0; i < 8; i++) {
		if (i >= rp)
			break;
		switch (md) {
		case 0: break;
		case 1: if (bpf_ringbuf_output(&rb, r, REC, BPF_RB_NO_WAKEUP)) fails++; break;
		case 2: {
			void *p = bpf_ringbuf_reserve(&rb, REC, 0);
			if (!p) { fails++; break; }
			__builtin_memcpy(p, r, 64);
			bpf_ringbuf_submit(p, BPF_RB_NO_WAKEUP);
			break; }
		case 3: if (bpf_perf_event_output(ctx, &pb, BPF_F_CURRENT_CPU, r, REC)) fails++; break;
		case 4: bpf_ringbuf_query(&rb, BPF_RB_AVAIL_DATA); break;
		case 5: bpf_ktime_get_boot_ns(); break;
		case 6: /* staging: copy into the per-CPU stage; every 8th flushes it in one output */
			bpf_probe_read_kernel(&s->b[(i & 7) * REC], REC, r);
			if (i == 7 || i + 1 >= reps)
				if (bpf_ringbuf_output(&rb, s->b, REC * 8, BPF_RB_NO_WAKEUP)) fails++;
			break;
		case 7: bpf_probe_read_kernel(&s->b[(i & 7) * REC], REC, r); break;
		case 8: { char c[16]; bpf_get_current_comm(c, 16); break; }
		case 9: bpf_get_current_uid_gid(); break;
		case 10: { struct task_struct *t = bpf_get_current_task_btf(); char e[64];
			struct mm_struct *mm = t->mm; struct file *x = mm ? mm->exe_file : 0;
			if (x) bpf_probe_read_kernel_str(e, 64, x->f_path.dentry->d_name.name); break; }
		case 11: bpf_get_current_cgroup_id(); break;
		case 13: { /* reserve, the record copied by probe read (the kernel's copy routine), submit */
			void *p = bpf_ringbuf_reserve(&rb, REC, 0);
			if (!p) { fails++; break; }
			bpf_probe_read_kernel(p, REC, r);
			bpf_ringbuf_submit(p, BPF_RB_NO_WAKEUP);
			break; }
		case 14: { /* reserve, the record copied by BPF loads and stores, submit */
			void *p = bpf_ringbuf_reserve(&rb, REC, 0);
			if (!p) { fails++; break; }
			__builtin_memcpy(p, r, REC);
			bpf_ringbuf_submit(p, BPF_RB_NO_WAKEUP);
			break; }
		case 15: { /* the kernel's copy routine alone: 384 B from the scratch into the stage */
			bpf_probe_read_kernel(s->b, REC, r);
			break; }
		case 16: /* the kernel's memcpy alone: a map update copies the value with it */
			bpf_map_update_elem(&arr, &zero, r, 0);
			break;
		case 17: { /* a variable-size reservation: dynptr, bpf_dynptr_write, submit */
			struct bpf_dynptr d;
			__u32 n = REC - (rp & 7); /* not a constant to the verifier */
			if (bpf_ringbuf_reserve_dynptr(&rb, n, 0, &d)) {
				fails++;
				bpf_ringbuf_discard_dynptr(&d, 0);
				break;
			}
			bpf_dynptr_write(&d, 0, r, n & 511, 0);
			bpf_ringbuf_submit_dynptr(&d, BPF_RB_NO_WAKEUP);
			break; }
		case 18: { /* as 17, 2 KiB (a record with a long path) */
			struct bpf_dynptr d;
			__u32 n = 2048 - (rp & 7);
			if (bpf_ringbuf_reserve_dynptr(&rb, n, 0, &d)) {
				fails++;
				bpf_ringbuf_discard_dynptr(&d, 0);
				break;
			}
			bpf_dynptr_write(&d, 0, s->b, n & 2047, 0);
			bpf_ringbuf_submit_dynptr(&d, BPF_RB_NO_WAKEUP);
			break; }
		case 19: /* as 1, 2 KiB */
			if (bpf_ringbuf_output(&rb, s->b, 2048, BPF_RB_NO_WAKEUP)) fails++;
			break;
		case 20: { /* hash insert of a new key, then its delete: two bucket locks */
			__u32 k = i + 1;
			struct hval hv = {};
			if (bpf_map_update_elem(&hmap, &k, &hv, BPF_NOEXIST)) fails++;
			bpf_map_delete_elem(&hmap, &k);
			break; }
		case 21: { /* hash lookup of an existing key: no lock (tracing programs cannot take a
			    * bpf_spin_lock, which would have measured the interrupts-off part alone) */
			__u32 k = 0;
			struct hval *hv = bpf_map_lookup_elem(&hmap, &k);
			if (hv) hv->v[1]++; else fails++;
			break; }
		case 22: { /* a slot claimed by compare-and-swap and freed by a store: no lock */
			__u32 k = i & 7;
			struct sval *sv = bpf_map_lookup_elem(&sarr, &k);
			if (!sv) break;
			if (__sync_val_compare_and_swap(&sv->owner, 0, 1 + i) != 0) { fails++; break; }
			sv->n++;
			__sync_lock_test_and_set(&sv->owner, 0);
			break; }
		case 23: { /* hash update of an existing key in place (one bucket lock) */
			__u32 k = 0;
			struct hval hv = {};
			if (bpf_map_update_elem(&hmap, &k, &hv, BPF_ANY)) fails++;
			break; }
		case 12: {
			void *m = bpf_get_smp_processor_id() ? (void *)&rb2 : (void *)&rb;
			if (bpf_ringbuf_output(m, r, REC, BPF_RB_NO_WAKEUP)) fails++;
			break; }
		}
	}
	total_ns += bpf_ktime_get_ns() - t0;
	calls++;
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
