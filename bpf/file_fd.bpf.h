/* SPDX-License-Identifier: GPL-2.0 */
/* File monitor (file.bpf.h), fd-based events: read, write and the like, open, close (the last
 * reference), OPEN_EXEC at exec, and the exit notice of a process's open records. */
#pragma once
#include "file.bpf.h"

/* ---- fd-based events ---- */
/* The record of an open file (a BTF pointer from fd_file(): direct loads) when it is a regular
 * file or symlink; *ip gets its inode. */
static __always_inline struct file_record *open_file_rec(struct file *f, struct inode **ip, __u64 now)
{
	if (!f)
		return NULL;
	struct inode *inode = f->f_inode;
	if (!inode || !mode_tracked(inode->i_mode))
		return NULL;
	*ip = inode;
	return file_rec(inode, f, NULL, NULL, now);
}

static __always_inline int on_file(struct file *f, __u32 ev, __s64 bytes)
{
	struct inode *inode = NULL;
	/* no event stamps the time (see file_rec): emission does */
	struct file_record *r = open_file_rec(f, &inode, 0);
	if (!r || !inode)
		return 0;
	if (ev == FE_ACCESS && bytes > 0)
		r->bytes_read += bytes;
	if (ev == FE_MODIFY) {
		if (bytes > 0)
			r->bytes_written += bytes;
		r->size = inode->i_size;
	}
	count(r, inode, ev);
	return 0;
}

static __always_inline bool skip(void)
{
	return !file_on() || is_self(bpf_get_current_pid_tgid() >> 32);
}

static __always_inline struct pt_regs *cur_regs(void)
{
	return (struct pt_regs *)bpf_task_pt_regs(bpf_get_current_task_btf());
}

/* syscall arguments and number from the saved user registers (arm64's x0 holds the result at
 * exit) */
#if defined(__TARGET_ARCH_arm64)
#define SC_ARG0(r) ((r)->orig_x0)
#define SC_ARG1(r) ((r)->regs[1])
#define SC_ARG2(r) ((r)->regs[2])
#define SC_REGS_NR(r) ((r)->syscallno)
#else
#define SC_ARG0(r) ((r)->di)
#define SC_ARG1(r) ((r)->si)
#define SC_ARG2(r) ((r)->dx)
#define SC_REGS_NR(r) ((r)->orig_ax)
#endif

/* The current task of an fd hook (one helper call; its ids by loads, *pt as
 * bpf_get_current_pid_tgid() gives them), or NULL where the hook has nothing to do: the monitor
 * off, a kernel before 6.2 (the __nokf twins run instead), or the agent itself. */
static __always_inline struct task_struct *fd_hook_task(__u64 *pt)
{
	if (!file_on() || !cfg_kf_rdonly_cast)
		return NULL;
	struct task_struct *t = bpf_get_current_task_btf();
	*pt = task_pid_tgid(t);
	return is_self(*pt >> 32) ? NULL : t;
}

/* open_file_rec() for the hottest hooks (read, write, close), with the thread's ids read once
 * by the caller and the record's lookup inline: file_rec() only when the record is missing (it
 * looks it up again before creating it). Leaves hdr.ts alone, as file_rec() does for these. */
static __always_inline struct file_record *hot_rec(struct file *f, struct inode **ip, __u64 pt)
{
	if (!f)
		return NULL;
	struct inode *inode = f->f_inode;
	if (!inode || !mode_tracked(inode->i_mode))
		return NULL;
	*ip = inode;
	struct file_key key = { .pid = pt >> 32, .dev = inode->i_sb->s_dev, .ino = inode->i_ino };
	struct file_record *r = bpf_map_lookup_elem(&file_records, &key);
	if (!r)
		return file_rec(inode, f, NULL, NULL, 0);
	r->hdr.tid = (__u32)pt;
	return r;
}

/* A read or write of `bytes` (> 0) through fd: on_file() with hot_rec(). */
static __always_inline void on_rw(struct task_struct *t, __u64 pt, __u64 fd, __u32 ev, __s64 bytes)
{
	struct inode *inode = NULL;
	struct file_record *r = hot_rec(fd_file_task(t, fd), &inode, pt);
	if (!r || !inode)
		return;
	if (ev == FE_ACCESS) {
		r->bytes_read += bytes;
	} else {
		r->bytes_written += bytes;
		r->size = inode->i_size;
	}
	count(r, inode, ev);
}

/* An exit hook that runs BODY (ret, t, pt and regs in scope) only when the call moved bytes.
 * Before 6.2 (no bpf_rdonly_cast) the __nokf twins run instead. */
#define IO_EXIT_HOOK(name, BODY)                                                                \
	SEC("tp/syscalls/sys_exit_" #name)                                                      \
	int file_exit_##name(struct trace_event_raw_sys_exit *ctx)                              \
	{                                                                                       \
		long ret = ctx->ret;                                                            \
		__u64 pt;                                                                       \
		struct task_struct *t = ret > 0 ? fd_hook_task(&pt) : NULL;                     \
		if (!t)                                                                         \
			return 0;                                                               \
		struct pt_regs *regs = task_regs(t);                                            \
		BODY;                                                                           \
		return 0;                                                                       \
	}

/* fd in the syscall argument given by ARG, event EV */
#define FD_EXIT_HOOK(name, ARG, EV) IO_EXIT_HOOK(name, on_rw(t, pt, ARG(regs), EV, ret))

FD_EXIT_HOOK(read, SC_ARG0, FE_ACCESS)
FD_EXIT_HOOK(readv, SC_ARG0, FE_ACCESS)
FD_EXIT_HOOK(pread64, SC_ARG0, FE_ACCESS)
FD_EXIT_HOOK(preadv, SC_ARG0, FE_ACCESS)
FD_EXIT_HOOK(preadv2, SC_ARG0, FE_ACCESS)
FD_EXIT_HOOK(write, SC_ARG0, FE_MODIFY)
FD_EXIT_HOOK(writev, SC_ARG0, FE_MODIFY)
FD_EXIT_HOOK(pwrite64, SC_ARG0, FE_MODIFY)
FD_EXIT_HOOK(pwritev, SC_ARG0, FE_MODIFY)
FD_EXIT_HOOK(pwritev2, SC_ARG0, FE_MODIFY)

/* Copies count on both sides: the source is read (ACCESS), the target modified. */
#define COPY_EXIT_HOOK(name, IN, OUT)                                                           \
	IO_EXIT_HOOK(name, on_rw(t, pt, IN(regs), FE_ACCESS, ret);                              \
			   on_rw(t, pt, OUT(regs), FE_MODIFY, ret))

COPY_EXIT_HOOK(sendfile64, SC_ARG1, SC_ARG0)
COPY_EXIT_HOOK(copy_file_range, SC_ARG0, SC_ARG2)
COPY_EXIT_HOOK(splice, SC_ARG0, SC_ARG2)

/* Counts an open of r's file (inode) with f_mode fmode and f_flags fflags (both open exits:
 * kfuncs and 6.1's file_compat.bpf.h). */
static __always_inline void open_count(struct file_record *r, struct inode *inode, __u32 fmode, __u32 fflags)
{
	if (!r->event[FE_OPEN] && !r->event[FE_CREATE])
		r->open_flags = fflags;
	if (fmode & FMODE_CREATED_BIT)
		count(r, inode, FE_CREATE);
	count(r, inode, FE_OPEN);
	/* O_TRUNC on an existing regular file truncates it (do_truncate → MODIFY in kflowd) */
	if ((fflags & O_TRUNC_BIT) && !(fmode & FMODE_CREATED_BIT) && (fmode & FMODE_WRITE_BIT))
		count(r, inode, FE_MODIFY);
}

/* ---- open ---- */
static __always_inline int on_open(long fd)
{
	__u64 pt;
	struct task_struct *t = fd >= 0 ? fd_hook_task(&pt) : NULL;
	if (!t)
		return 0;
	struct file *f = fd_file_task(t, fd);
	struct inode *inode = NULL;
	struct file_record *r = open_file_rec(f, &inode, 0);
	if (!r || !inode || !f)
		return 0;
	open_count(r, inode, f->f_mode, f->f_flags);
	return 0;
}

#define OPEN_EXIT_HOOK(name)                                                                    \
	SEC("tp/syscalls/sys_exit_" #name)                                                      \
	int file_exit_##name(struct trace_event_raw_sys_exit *ctx)                              \
	{                                                                                       \
		return on_open(ctx->ret);                                                       \
	}

OPEN_EXIT_HOOK(openat)
OPEN_EXIT_HOOK(openat2)
OPEN_EXIT_HOOK(open)
OPEN_EXIT_HOOK(creat)
OPEN_EXIT_HOOK(open_by_handle_at)

/* ---- close: only the last reference closes the file (kflowd's __fput semantics) ---- */
/* Before 6.2 (no bpf_rdonly_cast) the __nokf twins run instead. */
static __always_inline int on_close(__u64 fd)
{
	__u64 pt;
	struct task_struct *t = fd_hook_task(&pt);
	if (!t)
		return 0;
	struct file *f = fd_file_task(t, fd);
	if (!f || file_refs(f) != 1)
		return 0;
	__u32 fmode = f->f_mode;
	struct inode *inode = NULL;
	struct file_record *r = hot_rec(f, &inode, pt);
	if (r && inode)
		count(r, inode, (fmode & FMODE_WRITE_BIT) ? FE_CLOSE_WRITE : FE_CLOSE_NOWRITE);
	return 0;
}

SEC("tp/syscalls/sys_enter_close")
int file_enter_close(struct trace_event_raw_sys_enter *ctx)
{
	return on_close(ctx->args[0]);
}

/* dup2/dup3 onto an open fd close it implicitly (bash restores stdout this way). */
SEC("tp/syscalls/sys_enter_dup2")
int file_enter_dup2(struct trace_event_raw_sys_enter *ctx)
{
	if (ctx->args[0] == ctx->args[1])
		return 0;
	return on_close(ctx->args[1]);
}

SEC("tp/syscalls/sys_enter_dup3")
int file_enter_dup3(struct trace_event_raw_sys_enter *ctx)
{
	if (ctx->args[0] == ctx->args[1])
		return 0;
	return on_close(ctx->args[1]);
}

/* ---- exec: OPEN_EXEC on the new image, for the process after exec ---- */
SEC("tp_btf/sched_process_exec")
int BPF_PROG(file_exec, struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm)
{
	if (skip())
		return 0;
	return on_file(bprm->file, FE_OPEN_EXEC, 0);
}

/* ---- exit: tell the sensor to flush what this process left open ---- */
SEC("tp_btf/sched_process_exit")
int BPF_PROG(file_proc_exit, struct task_struct *p)
{
	if (!file_on())
		return 0;
	if (BPF_CORE_READ(p, signal, live.counter) != 0)
		return 0; /* other threads remain */
	__u32 pid = BPF_CORE_READ(p, tgid);
	struct pid_files *v = bpf_map_lookup_elem(&file_pid_open, &pid);
	if (!v)
		return 0;
	__u32 zero = 0, n = 0;
	struct pid_exit_notice *e = bpf_map_lookup_elem(&notice_scratch, &zero);
	if (!e)
		return 0;
	for (int i = 0; i < FN_PID_SLOTS; i++) {
		e->keys[i] = v->slots[i];
		if (v->slots[i].ino)
			n++;
	}
	e->overflow = v->overflow;
	bpf_map_delete_elem(&file_pid_open, &pid);
	if (!n && !e->overflow)
		return 0;
	e->hdr.type = FN_REC_PID_EXIT;
	e->hdr.size = sizeof(*e);
	e->hdr.flags = 0;
	e->hdr.pid = pid;
	e->hdr.tid = BPF_CORE_READ(p, pid);
	e->hdr.ts = e->hdr.ts_first = bpf_ktime_get_boot_ns();
	e->exit_code = BPF_CORE_READ(p, exit_code);
	if (bpf_ringbuf_output(&events, e, sizeof(*e), rb_flags(sizeof(*e))))
		stat_inc(ST_NOTICE_DROP);
	return 0;
}
