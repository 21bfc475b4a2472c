/* SPDX-License-Identifier: GPL-2.0 */
/* Per-kernel choices. The sensor (sensor/kcompat.c) reads the running kernel's BTF before load
 * and sets these flags; the verifier sees them as constants and never walks the branch a kernel
 * cannot run, so one object loads on 6.1 and on 6.18 without a reject-and-reload. The defaults
 * are what a current kernel (6.2+) offers. */
#pragma once

/* kfuncs (6.2+). Weak: an object naming them still loads where they are missing, as long as
 * every call sits behind its flag. */
extern void *bpf_rdonly_cast(const void *obj__ign, __u32 btf_id) __ksym __weak;
extern void *bpf_cast_to_kern_ctx(void *obj) __ksym __weak;

const volatile bool cfg_kf_rdonly_cast = true;   /* bpf_rdonly_cast */
const volatile bool cfg_kf_kern_ctx = true;      /* bpf_cast_to_kern_ctx */
/* tp_btf/sched_process_exit passes group_dead (6.16+); older kernels pass the task only */
const volatile bool cfg_exit_group_dead_arg = true;
/* How a cgroup_skb program reads the current task's tgid: 1 bpf_get_current_pid_tgid, 2 through
 * bpf_get_current_task_btf (6.1 has only that one there), 0 it cannot */
const volatile __u32 cfg_cg_skb_tgid = 1;

/* The current task's tgid in a cgroup_skb program (0: unknown, where cfg_cg_skb_tgid is 0). */
static __always_inline __u32 cg_skb_tgid(void)
{
	if (cfg_cg_skb_tgid == 1)
		return bpf_get_current_pid_tgid() >> 32;
	if (cfg_cg_skb_tgid == 2)
		return bpf_get_current_task_btf()->tgid;
	return 0;
}

/* group_dead of a tp_btf/sched_process_exit program. Where the tracepoint lacks the argument,
 * the signal's live count says it: do_exit() takes it to 0 in the last thread before the
 * tracepoint fires. The argument is read in asm so that clang cannot hoist the load out of the
 * branch (a ctx load past the last argument is rejected even when it is never used). */
static __always_inline bool exit_group_dead(unsigned long long *ctx, struct task_struct *p)
{
	if (cfg_exit_group_dead_arg) {
		unsigned long long v;
		asm volatile("%0 = *(u64 *)(%1 + 8)" : "=r"(v) : "r"(ctx));
		return v & 1;
	}
	return BPF_CORE_READ(p, signal, live.counter) == 0;
}

/* ---- probe-read paths for kernels without bpf_rdonly_cast ---- */
/* Bytes a TCP socket's reader has consumed (rcv_nxt counts a FIN not reached yet). */
#define TCP_READ_NOKF(sk) ({                                                                    \
	struct tcp_sock *__tp = (struct tcp_sock *)(sk);                                        \
	BPF_CORE_READ(__tp, bytes_received) -                                                   \
		(__u32)(BPF_CORE_READ(__tp, rcv_nxt) - BPF_CORE_READ(__tp, copied_seq)); })

/* Word 3 of a TCP header (data offset, flags), host order. */
#define TCP_WORD3_NOKF(th) ({                                                                   \
	__u32 __w = 0;                                                                          \
	bpf_probe_read_kernel(&__w, sizeof(__w), (const char *)(th) + 12);                      \
	bpf_ntohl(__w); })
