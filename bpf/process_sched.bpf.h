/* SPDX-License-Identifier: GPL-2.0 */
/* Process monitor (process.bpf.h), the sched tracepoints: fork, exec, exit. */
#pragma once
#include "process.bpf.h"

/* ---- sched tracepoints ---- */

/* Fires in the parent before the child runs. ret = the child's tid (what clone returns). */
SEC("tp_btf/sched_process_fork")
int BPF_PROG(proc_fork, struct task_struct *parent, struct task_struct *child)
{
	if (!proc_mon_on())
		return 0;
	/* the forking task: one helper call for every step below */
	struct task_struct *t = bpf_get_current_task_btf();
	if (is_self(t->tgid))
		return 0;
	__u64 now = bpf_ktime_get_boot_ns();
	__u32 ctgid = child->tgid, ctid = child->pid;
	bool thread = ctgid != ctid;
	__u64 cstart = child->start_boottime;
	struct proc_pending *pp = pending_of(t->pid);
	__u64 flags = pp && pp->ev == PE_FORK ? pp->a[2] : 0;
	__u32 nr = pp && pp->ev == PE_FORK ? pp->nr : 0;

	if ((cfg_proc_events >> PE_FORK) & 1) {
		if (rate_allow(PE_FORK, now, t)) {
			struct proc_record *r = rec_reserve_fixed(PE_FORK, nr, ctid, now, t);
			if (r) {
				r->arg[0] = ctgid;
				r->arg[1] = ctid;
				r->arg[2] = flags;
				r->arg[3] = cstart;
				if (thread)
					r->hdr.flags |= PF_THREAD;
				/* no pending clone: a kernel-internal fork (kthreads, io_uring workers, usermode
				 * helpers); EventSyscall is empty, nothing is missing */
				rec_submit_fixed(r);
			}
		}
	}
	/* a new process inherits its parent's balance (threads share the parent's bucket) */
	if (cfg_proc_rate && !thread) {
		struct proc_bucket *pb = bucket_find(t);
		if (pb) {
			refill(pb, now);
			bucket_inherit(child, pb->tokens, now);
		}
	}
	return 0;
}

static __noinline __u32 put_argv(struct proc_record *r, __u32 idx, __u32 off, struct task_struct *t)
{
	if (!ROOM(off))
		return off;
	struct mm_struct *mm = t->mm;
	unsigned long start = mm->arg_start, end = mm->arg_end;
	if (end <= start)
		return off;
	__u64 len = end - start;
	if (len > FN_ARGV_MAX) {
		len = FN_ARGV_MAX;
		r->hdr.flags |= PF_STR_TRUNC;
	}
	if (bpf_probe_read_user(DATA(r, off), BOUND(len - 1, FN_ARGV_MAX - 1) + 1, (const void *)start))
		return off;
	/* drop the terminating NUL of the last argument */
	if (r->data[BOUND(off + len - 1, FN_PROC_DATA_MAX - 1)] == 0)
		len -= 1;
	set_len(r, idx, len);
	return off + len;
}

/* Successful exec, in the new image: str0 exe path, str1 filename as given, str2 interpreter
 * (scripts: bprm->interp differs from filename), str3 argv (NUL-separated). a[0] = old tid. */
SEC("tp_btf/sched_process_exec")
int BPF_PROG(proc_exec, struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm)
{
	/* the exec'ing task: one helper call for every step below */
	struct task_struct *t = bpf_get_current_task_btf();
	if (!proc_on_tgid(PE_EXEC, t->tgid))
		return 0;
	__u64 now = bpf_ktime_get_boot_ns();
	if (!rate_allow(PE_EXEC, now, t))
		return 0;
	/* the entry was made under the tid the task had (a thread that execs takes the tgid) */
	struct proc_pending *pp = pending_of(old_pid);
	__u32 nr = pp ? pp->nr : 0;
	if (pp && (__u32)old_pid != (__u32)t->pid)
		pend_done(pp, old_pid); /* the exit hook runs under the new tid */
	struct proc_record *r = rec_begin(PE_EXEC, nr, 0, now, t);
	if (!r)
		return 0;
	r->arg[0] = old_pid;
	r->arg[1] = bprm->argc;
	__u32 off = put_file(r, 0, 0, bprm->file);
	const char *fname = bprm->filename;
	const char *interp = bprm->interp;
	off = put_kernel_str(r, 1, off, fname);
	if (interp && interp != fname)
		off = put_kernel_str(r, 2, off, interp);
	off = put_argv(r, 3, off, t);
	rec_emit(r, off, now);
	return 0;
}

/* Every thread's exit; a[0] = exit_code (wait status), a[1] = 1 for the process's last thread. */
SEC("tp_btf/sched_process_exit")
int BPF_PROG(proc_exit_task, struct task_struct *p)
{
	bool group_dead = exit_group_dead(ctx, p); /* an argument on newer kernels (compat.bpf.h) */
	if (!proc_mon_on())
		return 0;
	/* the exiting task: one helper call for every step below */
	struct task_struct *t = bpf_get_current_task_btf();
	/* the task's pending entry goes with the task */
	if (is_self(t->tgid))
		return 0;
	__u64 now = bpf_ktime_get_boot_ns();
	if (((cfg_proc_events >> PE_EXIT) & 1) && rate_allow(PE_EXIT, now, t)) {
		struct proc_record *r = rec_reserve_fixed(PE_EXIT, 0, 0, now, t);
		if (r) {
			r->arg[0] = (__u32)p->exit_code;
			r->arg[1] = group_dead ? 1 : 0;
			if (!group_dead)
				r->hdr.flags |= PF_THREAD;
			rec_submit_fixed(r);
		}
	}
	/* a slot still held (the call never returned to its exit hook) */
	__u32 tid = t->pid;
	__u32 *o = pend_owner(tid);
	if (*o == tid)
		*o = 0;
	if (group_dead) {
		/* the sensor reports and removes the counts; the bucket's slot is freed (a bucket in
		 * task storage goes with the leader's task) */
		struct proc_bucket_key k = bucket_key_of(t);
		bucket_release(k.tgid, k.start);
		struct proc_counts *c = proc_counts_live > 0 ? bpf_map_lookup_elem(&proc_counts, &k) : NULL;
		if (c)
			c->exited = 1;
	}
	return 0;
}
