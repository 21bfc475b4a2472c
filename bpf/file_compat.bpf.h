/* SPDX-License-Identifier: GPL-2.0 */
/*
 * fd-based file events for kernels without bpf_rdonly_cast (before 6.2, e.g. Debian 12's 6.1).
 * fd_file() needs the kfunc to turn the fd table's slot into a BTF pointer; here the struct
 * file is resolved and read with CO-RE probe reads instead. Each program is the twin of the
 * file.bpf.h program without the "__nokf" suffix: the sensor loads one of the two (kcompat.c),
 * so the fast path on current kernels is untouched. Same events, same records.
 */
#pragma once
#include "file.bpf.h"

/* A new record's fixed part. Its own frame: the header and inode reads need ~300 bytes of stack,
 * which must not add up with walk_path's under 6.1's 512-byte limit for a call chain. */
static __noinline void file_rec_init_nokf(struct file_record *r, struct file_key *key, struct inode *inode,
					  __u64 now)
{
	__u64 *w = (__u64 *)r;
#pragma unroll
	for (int k = 0; k < (int)(FILE_RECORD_FIXED / 8); k++)
		w[k] = 0;
	fill_hdr(&r->hdr, FN_REC_FILE, now);
	r->ino = key->ino;
	r->dev = key->dev;
	refresh_inode(r, inode);
	r->size_first = r->size;
	r->mtime_first_ns = r->mtime_ns;
}

/* pid_slot_add() in a frame of its own: its zeroed pid_files (~270 bytes of stack) must not add
 * up with walk_path's under 6.1's 512-byte limit for a call chain. */
static __noinline void pid_slot_add_nokf(struct file_key *key)
{
	pid_slot_add(key);
}

/* file_rec() with an inode read by probe reads (not a BTF pointer); the path comes from f
 * when given, else from (dentry, mnt). */
static __noinline struct file_record *file_rec_nokf(struct inode *inode, struct file *f, struct dentry *dentry,
						    struct vfsmount *mnt, __u64 now)
{
	struct file_key key = {};
	__u64 pt = bpf_get_current_pid_tgid();
	key.pid = pt >> 32;
	key.dev = BPF_CORE_READ(inode, i_sb, s_dev);
	key.ino = BPF_CORE_READ(inode, i_ino);

	struct file_record *r = bpf_map_lookup_elem(&file_records, &key);
	if (r) {
		if (now)
			r->hdr.ts = now;
		r->hdr.tid = (__u32)pt;
		return r;
	}
	if (!now)
		now = bpf_ktime_get_boot_ns();
	if (f) {
		dentry = BPF_CORE_READ(f, f_path.dentry);
		mnt = BPF_CORE_READ(f, f_path.mnt);
	}
	__u32 zero = 0;
	r = bpf_map_lookup_elem(&file_scratch, &zero);
	if (!r)
		return NULL;
	file_rec_init_nokf(r, &key, inode, now);
	r->path_len = walk_path(dentry, mnt, r->path, &r->name_off, &r->hdr.flags);
	if (r->hdr.flags & FF_PATH_TRUNC)
		stat_inc(ST_PATH_TRUNC);
	bool added = false;
	r = rec_insert(&key, r, &added);
	if (!r) {
		stat_inc(ST_FILE_MAP_FULL);
		return NULL;
	}
	if (added)
		pid_slot_add_nokf(&key);
	return r;
}

static __always_inline struct file_record *open_file_rec_nokf(struct file *f, struct inode **ip, __u64 now)
{
	if (!f)
		return NULL;
	struct inode *inode = BPF_CORE_READ(f, f_inode);
	if (!inode || !mode_tracked(BPF_CORE_READ(inode, i_mode)))
		return NULL;
	*ip = inode;
	return file_rec_nokf(inode, f, NULL, NULL, now);
}

static __always_inline int on_file_nokf(struct file *f, __u32 ev, __s64 bytes)
{
	struct inode *inode = NULL;
	bool hot = ev == FE_ACCESS || ev == FE_MODIFY;
	struct file_record *r = open_file_rec_nokf(f, &inode, hot ? 0 : bpf_ktime_get_boot_ns());
	if (!r || !inode)
		return 0;
	if (ev == FE_ACCESS && bytes > 0)
		r->bytes_read += bytes;
	if (ev == FE_MODIFY) {
		if (bytes > 0)
			r->bytes_written += bytes;
		r->size = BPF_CORE_READ(inode, i_size);
	}
	count(r, inode, ev);
	return 0;
}

static __always_inline struct file *fd_file_nokf(__u64 fd)
{
	return fd_to_file((struct task_struct *)bpf_get_current_task(), fd);
}

#define IO_EXIT_HOOK_NOKF(name, BODY)                                                           \
	SEC("tp/syscalls/sys_exit_" #name)                                                      \
	int file_exit_##name##__nokf(struct trace_event_raw_sys_exit *ctx)                      \
	{                                                                                       \
		long ret = ctx->ret;                                                            \
		if (ret <= 0 || skip())                                                         \
			return 0;                                                               \
		struct pt_regs *regs = cur_regs();                                              \
		BODY;                                                                           \
		return 0;                                                                       \
	}

#define FD_EXIT_HOOK_NOKF(name, ARG, EV) IO_EXIT_HOOK_NOKF(name, on_file_nokf(fd_file_nokf(ARG(regs)), EV, ret))

FD_EXIT_HOOK_NOKF(read, SC_ARG0, FE_ACCESS)
FD_EXIT_HOOK_NOKF(readv, SC_ARG0, FE_ACCESS)
FD_EXIT_HOOK_NOKF(pread64, SC_ARG0, FE_ACCESS)
FD_EXIT_HOOK_NOKF(preadv, SC_ARG0, FE_ACCESS)
FD_EXIT_HOOK_NOKF(preadv2, SC_ARG0, FE_ACCESS)
FD_EXIT_HOOK_NOKF(write, SC_ARG0, FE_MODIFY)
FD_EXIT_HOOK_NOKF(writev, SC_ARG0, FE_MODIFY)
FD_EXIT_HOOK_NOKF(pwrite64, SC_ARG0, FE_MODIFY)
FD_EXIT_HOOK_NOKF(pwritev, SC_ARG0, FE_MODIFY)
FD_EXIT_HOOK_NOKF(pwritev2, SC_ARG0, FE_MODIFY)

#define COPY_EXIT_HOOK_NOKF(name, IN, OUT)                                                      \
	IO_EXIT_HOOK_NOKF(name, on_file_nokf(fd_file_nokf(IN(regs)), FE_ACCESS, ret);           \
			        on_file_nokf(fd_file_nokf(OUT(regs)), FE_MODIFY, ret))

COPY_EXIT_HOOK_NOKF(sendfile64, SC_ARG1, SC_ARG0)
COPY_EXIT_HOOK_NOKF(copy_file_range, SC_ARG0, SC_ARG2)
COPY_EXIT_HOOK_NOKF(splice, SC_ARG0, SC_ARG2)

static __always_inline int on_open_nokf(long fd)
{
	if (fd < 0 || skip())
		return 0;
	struct file *f = fd_file_nokf(fd);
	struct inode *inode = NULL;
	struct file_record *r = open_file_rec_nokf(f, &inode, bpf_ktime_get_boot_ns());
	if (!r || !inode || !f)
		return 0;
	open_count(r, inode, BPF_CORE_READ(f, f_mode), BPF_CORE_READ(f, f_flags)); /* file_fd.bpf.h */
	return 0;
}

#define OPEN_EXIT_HOOK_NOKF(name)                                                               \
	SEC("tp/syscalls/sys_exit_" #name)                                                      \
	int file_exit_##name##__nokf(struct trace_event_raw_sys_exit *ctx)                      \
	{                                                                                       \
		return on_open_nokf(ctx->ret);                                                  \
	}

OPEN_EXIT_HOOK_NOKF(openat)
OPEN_EXIT_HOOK_NOKF(openat2)
OPEN_EXIT_HOOK_NOKF(open)
OPEN_EXIT_HOOK_NOKF(creat)
OPEN_EXIT_HOOK_NOKF(open_by_handle_at)

static __always_inline int on_close_nokf(__u64 fd)
{
	struct file *f = fd_file_nokf(fd);
	if (!f || file_refs(f) != 1)
		return 0;
	__u32 fmode = BPF_CORE_READ(f, f_mode);
	return on_file_nokf(f, (fmode & FMODE_WRITE_BIT) ? FE_CLOSE_WRITE : FE_CLOSE_NOWRITE, 0);
}

SEC("tp/syscalls/sys_enter_close")
int file_enter_close__nokf(struct trace_event_raw_sys_enter *ctx)
{
	if (skip())
		return 0;
	return on_close_nokf(ctx->args[0]);
}

SEC("tp/syscalls/sys_enter_dup2")
int file_enter_dup2__nokf(struct trace_event_raw_sys_enter *ctx)
{
	if (skip() || ctx->args[0] == ctx->args[1])
		return 0;
	return on_close_nokf(ctx->args[1]);
}

SEC("tp/syscalls/sys_enter_dup3")
int file_enter_dup3__nokf(struct trace_event_raw_sys_enter *ctx)
{
	if (skip() || ctx->args[0] == ctx->args[1])
		return 0;
	return on_close_nokf(ctx->args[1]);
}

/* ---- path operations applied at the syscall's exit (pending_end) without bpf_rdonly_cast:
 * the pending inode is a stored address, read with probe reads ---- */
static __always_inline struct file_record *pending_rec_nokf(struct pending_op *p, struct inode *inode)
{
	__u64 now = bpf_ktime_get_boot_ns();
	if (p->fd >= 0) {
		struct file *f = fd_to_file((struct task_struct *)bpf_get_current_task(), (__u32)p->fd);
		if (f && BPF_CORE_READ(f, f_inode) == inode)
			return file_rec_nokf(inode, f, NULL, NULL, now);
	}
	struct dentry *d = inode_alias(inode);
	if (!d)
		return NULL;
	return file_rec_nokf(inode, NULL, d, pending_mnt(p, inode), now);
}

static __noinline int pending_end_nokf(long ret)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct pending_op *p = pending_find(tid);
	if (!p)
		return 0;
	if (ret == 0)
		pending_fd_capture(p); /* file_path.bpf.h */
	if (ret == 0 && p->inode && !p->done) {
		struct inode *inode = p->inode;
		struct file_record *r = pending_rec_nokf(p, inode);
		if (r)
			pending_apply(p, inode, r); /* file_path.bpf.h */
	}
	pending_release(tid);
	return 0;
}
