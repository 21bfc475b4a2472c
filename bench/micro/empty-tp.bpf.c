// SPDX-License-Identifier: GPL-2.0
/* Micro-bench: what a tp_btf program that does nothing costs on the process monitor's
 * tracepoints, as bpf_stats accounts it (two clock reads included). The floor under the
 * per-hook figures of process-storm. Build and run (as root, under the kernel lock):
 *   clang -g -O2 -target bpf -mcpu=v3 -D__TARGET_ARCH_x86 -Ibpf/vmlinux/x86 \
 *     -c bench/micro/empty-tp.bpf.c -o /tmp/empty-tp.bpf.o
 *   gcc -O2 bench/micro/empty-tp.c -o /tmp/empty-tp -lbpf
 *   flock /tmp/falconet-kernel.lock /tmp/empty-tp /tmp/empty-tp.bpf.o 3000 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

char LICENSE[] SEC("license") = "GPL";

/* one counter each, so that a program is not merged with another or optimised away */
__u64 n_fork, n_exec, n_exit, n_switch;

SEC("tp_btf/sched_process_fork")
int BPF_PROG(empty_fork, struct task_struct *parent, struct task_struct *child)
{
	n_fork++;
	return 0;
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(empty_exec, struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm)
{
	n_exec++;
	return 0;
}

SEC("tp_btf/sched_process_exit")
int BPF_PROG(empty_exit, struct task_struct *p)
{
	n_exit++;
	return 0;
}

SEC("tp_btf/sched_switch")
int BPF_PROG(empty_switch, bool preempt, struct task_struct *prev, struct task_struct *next)
{
	n_switch++;
	return 0;
}
