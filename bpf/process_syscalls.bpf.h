/* SPDX-License-Identifier: GPL-2.0 */
/* Process monitor (process.bpf.h), syscalls: the enter hook normalises the arguments into the
 * pending entry, the exit hook builds the record with the return value. */
#pragma once
#include "process.bpf.h"

/* ---- enter: normalise arguments into the pending entry ---- */
static __always_inline void cred_ids(__u32 *dst, bool gid)
{
	struct task_struct *t = (struct task_struct *)bpf_get_current_task();
	const struct cred *c = BPF_CORE_READ(t, cred);
	if (gid) {
		dst[0] = BPF_CORE_READ(c, gid.val);
		dst[1] = BPF_CORE_READ(c, egid.val);
		dst[2] = BPF_CORE_READ(c, sgid.val);
	} else {
		dst[0] = BPF_CORE_READ(c, uid.val);
		dst[1] = BPF_CORE_READ(c, euid.val);
		dst[2] = BPF_CORE_READ(c, suid.val);
	}
}

static __always_inline bool is_gid_event(__u32 ev)
{
	return ev == PE_SETGID || ev == PE_SETREGID || ev == PE_SETRESGID;
}

static __always_inline bool is_cred_event(__u32 ev)
{
	return ev >= PE_SETUID && ev <= PE_SETRESGID;
}

static __always_inline int pend_begin(__u32 ev, __u32 nr, __s32 dfd0, __u64 p0, __s32 dfd1, __u64 p1,
				      __s32 fd, __u64 a0, __u64 a1, __u64 a2, __u64 a3, __u64 a4, __u64 a5)
{
	if (!proc_on(ev))
		return 0;
	struct proc_pending p = {};
	p.ev = ev;
	p.nr = nr;
	p.dfd[0] = dfd0;
	p.dfd[1] = dfd1;
	p.upath[0] = p0;
	p.upath[1] = p1;
	p.fd = fd;
	p.a[0] = a0;
	p.a[1] = a1;
	p.a[2] = a2;
	p.a[3] = a3;
	p.a[4] = a4;
	p.a[5] = a5;
	if (is_cred_event(ev))
		cred_ids(p.id_old, is_gid_event(ev));
	p.live = 1;
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	__u32 *o = pend_owner(tid);
	if (*o == tid || __sync_val_compare_and_swap(o, 0, tid) == 0) {
		struct proc_pend_slot *ps = pend_slot(tid);
		if (ps) {
			ps->p = p;
			return 0;
		}
		*o = 0; /* cannot happen (the index is in range) */
	}
	/* the slot is another task's: task storage. No storage (allocation failed): the exit hook
	 * still reports the call, flagged PF_NO_PENDING */
	struct proc_task *s = bpf_task_storage_get(&proc_tasks, bpf_get_current_task_btf(), 0,
						   BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (s) {
		/* counted before it can be found: a reader that sees 0 has no entry to miss */
		if (!s->p.live)
			__sync_fetch_and_add(&proc_ts_pending, 1);
		s->p = p;
	}
	return 0;
}

/* ---- exit: build the record ---- */
#include "proc_syscalls.h"

struct vma_ctx {
	struct file *file;
};

static long vma_cb(struct task_struct *task, struct vm_area_struct *vma, void *data)
{
	struct vma_ctx *c = data;
	c->file = BPF_CORE_READ(vma, vm_file);
	return 0;
}

#define CUR_TASK ((struct task_struct *)bpf_get_current_task())

static __always_inline int proc_exit(long ret, __u32 nr, __u32 ev, __u32 shape, bool need_pending)
{
	if (!proc_mon_on())
		return 0;
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct proc_pending *pp = pending_of(tid);
	/* successful exec/clone were reported from the sched tracepoints (the child's return from
	 * clone has no entry at all) */
	if ((shape == SH_EXEC_FAIL || shape == SH_CLONE_FAIL) && ret >= 0) {
		if (pp && (shape == SH_EXEC_FAIL || ret > 0))
			pend_done(pp, tid);
		return 0;
	}
	struct proc_pending p = {};
	bool have = false;
	if (pp) {
		/* an entry of another syscall: its exit hook was not attached yet when it ran */
		if (pp->nr == nr) {
			p = *pp;
			have = true;
		}
		pend_done(pp, tid);
	}
	if (!have && need_pending)
		return 0;
	if (!have) {
		/* the call started before we attached (or its event is disabled) */
		p.ev = ev;
		p.fd = -1;
		p.dfd[0] = p.dfd[1] = P_AT_FDCWD;
	}
	ev = p.ev;
	struct task_struct *t = bpf_get_current_task_btf();
	if (!proc_on_tgid(ev, t->tgid))
		return 0;
	/* a non-blocking accept with nothing queued accepted nothing: event loops make one per wakeup */
	if (ev == PE_ACCEPT && ret == -P_EAGAIN)
		return 0;
	__u64 now = bpf_ktime_get_boot_ns();
	if (!rate_allow(ev, now, t))
		return 0;
	struct proc_record *r = rec_begin(ev, p.nr, ret, now, t);
	if (!r)
		return 0;
	if (!have)
		r->hdr.flags |= PF_NO_PENDING;
	__builtin_memcpy(r->arg, p.a, sizeof(r->arg));
	__u32 off = 0;
	/* CUR_TASK: the task as a plain address, read only by the shapes that walk its fd table or
	 * fs (a helper call each: the mmap records of every exec no longer pay it) */

	switch (shape) {
	case SH_PATH:
	case SH_EXEC_FAIL:
		off = put_path_at(r, 0, off, p.dfd[0], p.upath[0]);
		if (shape == SH_EXEC_FAIL)
			off = put_user_str(r, 1, off, p.upath[0]);
		else
			off = put_path_at(r, 1, off, p.dfd[1], p.upath[1]);
		break;
	case SH_SYMLINK:
		off = put_user_str(r, 0, off, p.upath[0]);
		off = put_path_at(r, 1, off, p.dfd[1], p.upath[1]);
		break;
	case SH_FD:
		off = put_file(r, 0, off, fd_to_file(CUR_TASK, (__u32)p.fd));
		break;
	case SH_SETNS: {
		/* nsfs dentries have no name (d_dname makes "uts:[inum]"): take it from the ns_common */
		struct file *f = fd_to_file(CUR_TASK, (__u32)p.fd);
		struct inode *ino = f ? BPF_CORE_READ(f, f_inode) : NULL;
		if (ino && BPF_CORE_READ(ino, i_sb, s_magic) == P_NSFS_MAGIC) {
			struct ns_common *ns = BPF_CORE_READ(ino, i_private);
			r->arg[2] = BPF_CORE_READ(ns, inum);
			off = put_kernel_str(r, 0, off, BPF_CORE_READ(ns, ops, name));
		} else {
			off = put_file(r, 0, off, f);
		}
		break;
	}
	case SH_DUP:
		off = put_file(r, 0, off, fd_to_file(CUR_TASK, ret >= 0 ? ret : (__u32)p.fd));
		break;
	case SH_CHDIR:
		if (ret == 0)
			off = put_dentry(r, 0, off, BPF_CORE_READ(CUR_TASK, fs, pwd.dentry), BPF_CORE_READ(CUR_TASK, fs, pwd.mnt));
		else if (p.upath[0])
			off = put_path_at(r, 0, off, P_AT_FDCWD, p.upath[0]);
		else
			off = put_file(r, 0, off, fd_to_file(CUR_TASK, (__u32)p.fd));
		break;
	case SH_CRED:
		__builtin_memcpy(r->id_old, p.id_old, sizeof(r->id_old));
		cred_ids(r->id_new, is_gid_event(ev));
		break;
	case SH_PIPE: {
		int fds[2] = { -1, -1 };
		if (ret == 0 && p.a[0])
			bpf_probe_read_user(fds, sizeof(fds), (const void *)p.a[0]);
		r->arg[0] = (__s64)fds[0];
		r->arg[1] = (__s64)fds[1];
		break;
	}
	case SH_SOCKPAIR: {
		int fds[2] = { -1, -1 };
		if (ret == 0 && p.a[3])
			bpf_probe_read_user(fds, sizeof(fds), (const void *)p.a[3]);
		r->arg[3] = (__s64)fds[0];
		r->arg[4] = (__s64)fds[1];
		break;
	}
	case SH_MMAP:
		if (p.a[3] & P_MAP_ANONYMOUS)
			r->hdr.flags |= PF_ANON;
		else
			off = put_file(r, 0, off, cur_fd_file((__u32)p.a[4]));
		break;
	case SH_MPROTECT: {
		struct vma_ctx c = {};
		bpf_find_vma(bpf_get_current_task_btf(), p.a[0], vma_cb, &c, 0);
		if (c.file)
			off = put_file(r, 0, off, c.file);
		else
			r->hdr.flags |= PF_ANON;
		break;
	}
	case SH_SOCKADDR:
		off = put_user_sockaddr(r, 0, off, p.a[1], p.a[2], &r->addr);
		if (ev == PE_CONNECT)
			off = put_sock(r, off, sock_of_fd(p.a[0]), SOCK_LOCAL2);
		break;
	case SH_SOCKFD:
		off = put_sock(r, off, sock_of_fd(p.a[0]), SOCK_OWN);
		break;
	case SH_PEER:
		off = put_sock(r, off, sock_of_fd(ev == PE_ACCEPT ? ret : (long)p.a[0]), SOCK_PEER);
		break;
	default:
		break;
	}
	rec_emit(r, off, now);
	return 0;
}

/* One syscall: the enter hook normalises (DFD0, P0, DFD1, P1, FD, A0..A5) into the pending
 * entry; the shared exit program below builds a record of event EV with SHAPE (the sensor puts
 * both in cfg_sc_kind from the same list, bpf/proc_syscalls.def). */
#define PROC_SYSCALL(name, EV, SHAPE, DFD0, P0, DFD1, P1, FD, A0, A1, A2, A3, A4, A5)            \
	SEC("tp/syscalls/sys_enter_" #name)                                                      \
	int proc_enter_##name(struct trace_event_raw_sys_enter *ctx)                             \
	{                                                                                        \
		return pend_begin(EV, SC_NR(ctx), DFD0, (__u64)(P0), DFD1, (__u64)(P1), FD,          \
				  (__u64)(A0), (__u64)(A1), (__u64)(A2), (__u64)(A3), (__u64)(A4),  \
				  (__u64)(A5));                                                   \
	}
#define PROC_SYSCALL_EXIT(name, EV, SHAPE, NEED_PENDING) /* enter program written by hand */

/* Event, shape and whether a record needs the enter's entry, by syscall number (P_SC_KIND). */
const volatile __u32 cfg_sc_kind[P_SC_MAX];

/* One exit program for every syscall of bpf/proc_syscalls.def: the sensor attaches it to each
 * sys_exit_<name> whose enter program it attached. 57 copies specialised by constants cost the
 * verifier 3.4 s at start-up; one program with the shape read from cfg_sc_kind is verified once. */
SEC("tp")
int proc_exit_syscall(struct trace_event_raw_sys_exit *ctx)
{
	__u32 nr = (__u32)ctx->id;
	if (nr >= P_SC_MAX)
		return 0;
	/* the mask (P_SC_MAX is a power of two) bounds the index in the register that is used */
	__u32 k = cfg_sc_kind[nr & (P_SC_MAX - 1)];
	if (!k)
		return 0;
	return proc_exit(ctx->ret, nr, k & 0xff, (k >> 8) & 0xff, (k >> 16) & 1);
}

/* The syscall number as the int the tracepoint format declares: reading ctx->id as a long runs
 * past the end of argument-less formats (sys_enter_fork) and the attach is refused. */
#define SC_NR(ctx) (*(int *)((char *)(ctx) + 8))
#define X(n) (ctx->args[n])
#define XI(n) ((__s64)(int)ctx->args[n])
#define CWD P_AT_FDCWD
#define NOFD -1

#define NA 0xffffffffULL
#include "proc_syscalls.def"

/* unlinkat(AT_REMOVEDIR) is rmdir */
SEC("tp/syscalls/sys_enter_unlinkat")
int proc_enter_unlinkat(struct trace_event_raw_sys_enter *ctx)
{
	return pend_begin((X(2) & P_AT_REMOVEDIR) ? PE_RMDIR : PE_UNLINK, SC_NR(ctx), (int)X(0), X(1), CWD, 0,
			  NOFD, X(2), XI(0), 0, 0, 0, 0);
}

/* clone3: flags are the first u64 of struct clone_args in user memory */
SEC("tp/syscalls/sys_enter_clone3")
int proc_enter_clone3(struct trace_event_raw_sys_enter *ctx)
{
	if (!proc_on(PE_FORK))
		return 0;
	__u64 flags = 0;
	bpf_probe_read_user(&flags, sizeof(flags), (const void *)ctx->args[0]);
	return pend_begin(PE_FORK, SC_NR(ctx), CWD, 0, CWD, 0, NOFD, 0, 0, flags, 0, 0, 0);
}

/* mmap/mprotect: only PROT_EXEC calls are events (filtered before any map work) */
SEC("tp/syscalls/sys_enter_mmap")
int proc_enter_mmap(struct trace_event_raw_sys_enter *ctx)
{
	if (!(ctx->args[2] & P_PROT_EXEC))
		return 0;
	return pend_begin(PE_MMAP, SC_NR(ctx), CWD, 0, CWD, 0, NOFD, X(0), X(1), X(2), X(3), XI(4), X(5));
}

SEC("tp/syscalls/sys_enter_mprotect")
int proc_enter_mprotect(struct trace_event_raw_sys_enter *ctx)
{
	if (!(ctx->args[2] & P_PROT_EXEC))
		return 0;
	return pend_begin(PE_MPROTECT, SC_NR(ctx), CWD, 0, CWD, 0, NOFD, X(0), X(1), X(2), 0, 0, 0);
}
