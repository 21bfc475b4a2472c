/* SPDX-License-Identifier: GPL-2.0 */
/* File monitor (file.bpf.h), path-based operations: the syscall's enter marks the thread, the
 * ctime tracepoints capture the inode, the exit (or, for unlink, the ctime hook) applies it. */
#pragma once
#include "file.bpf.h"

/* ---- path-based operations: pending op captured by the ctime tracepoints ---- */
static __noinline int pending_begin(__u32 kind, long dirfd, long fd, const char *upath,
				    const char *uold)
{
	if (skip())
		return 0;
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	__u32 idx = tid & (FILE_PEND_SLOTS - 1);
	struct pend_slot *s = bpf_map_lookup_elem(&file_pend_slots, &idx);
	struct pending_op *p;
	bool slot = false, fresh = false;
	if (s) {
		/* owner == tid already: an op whose exit hook did not run (attached in between),
		 * counted in flight already */
		if (s->owner == tid)
			slot = true;
		else if (__sync_val_compare_and_swap(&s->owner, 0, tid) == 0)
			slot = fresh = true;
	}
	if (slot) {
		p = &s->op;
	} else {
		__u32 zero = 0;
		p = bpf_map_lookup_elem(&pending_scratch, &zero);
	}
	if (!p)
		return 0;
	p->kind = kind;
	p->dirfd = dirfd;
	p->fd = fd;
	p->done = 0;
	p->old_len = 0;
	p->inode = NULL;
	p->new_dentry = 0;
	p->abs = 0;
	if (upath) {
		char c = 0;
		bpf_probe_read_user(&c, 1, upath);
		p->abs = c == '/';
	}
	if (slot) {
		if (fresh)
			pending_count(tid, 1);
		return 0;
	}
	long err = bpf_map_update_elem(&file_pending, &tid, p, BPF_NOEXIST);
	if (!err) {
		__sync_fetch_and_add(&pending_hashed, 1);
		pending_count(tid, 1);
	} else if (err == -EEXIST_) {
		bpf_map_update_elem(&file_pending, &tid, p, BPF_ANY); /* a stale entry of this thread */
	}
	return 0;
}

/* The mount to walk a path-op's inode through: the one the path was resolved from (root, cwd
 * or dirfd) when it holds that inode's filesystem; otherwise NULL (fs-relative path). */
static __always_inline struct vfsmount *pending_mnt(struct pending_op *p, struct inode *inode)
{
	struct task_struct *t = (struct task_struct *)bpf_get_current_task();
	struct vfsmount *m;
	if (p->abs)
		m = BPF_CORE_READ(t, fs, root.mnt);
	else if (p->dirfd == AT_FDCWD_VAL)
		m = BPF_CORE_READ(t, fs, pwd.mnt);
	else {
		struct file *f = fd_to_file(t, (__u32)p->dirfd);
		m = f ? BPF_CORE_READ(f, f_path.mnt) : NULL;
	}
	if (m && BPF_CORE_READ(m, mnt_sb) != BPF_CORE_READ(inode, i_sb))
		m = NULL;
	return m;
}

static __always_inline struct dentry *inode_alias(struct inode *inode)
{
	struct hlist_node *first = BPF_CORE_READ(inode, i_dentry.first);
	if (!first)
		return NULL;
	return (struct dentry *)((char *)first - bpf_core_field_offset(struct dentry, d_u.d_alias));
}

/* Record for the pending op's inode: via the fd when the op was fd-based, else via the alias.
 * emits: the op's event emits the record at once (REC_EMITS_NOW). No clock read here: file_rec()
 * reads it only to create a record, and emission stamps the record. */
static __noinline struct file_record *pending_rec(struct pending_op *p, struct inode *inode, bool emits)
{
	__u64 now = emits ? REC_EMITS_NOW : 0;
	if (p->fd >= 0) {
		struct file *f = fd_to_file((struct task_struct *)bpf_get_current_task(), (__u32)p->fd);
		if (f && BPF_CORE_READ(f, f_inode) == inode)
			return file_rec(inode, NULL, BPF_CORE_READ(f, f_path.dentry), BPF_CORE_READ(f, f_path.mnt), now);
	}
	struct dentry *d = inode_alias(inode);
	if (!d)
		return NULL;
	return file_rec(inode, NULL, d, pending_mnt(p, inode), now);
}

/* The thread's pending operation, which takes inode: NULL if it took one already or is done,
 * or when inode is a directory (a later inode of the call is the operation's) or no file (a
 * device, fifo or socket: the operation is done, no record). Both capture paths (ctime
 * tracepoints here, BPF LSM in file_lsm.bpf.h). */
static __always_inline struct pending_op *pending_take(struct inode *inode)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct pending_op *p = pending_find(tid);
	if (!p || p->inode || p->done)
		return NULL;
	__u32 mode = BPF_CORE_READ(inode, i_mode);
	if ((mode & S_IFMT_) == S_IFDIR_)
		return NULL;
	if (!mode_tracked(mode)) {
		p->done = 1;
		return NULL;
	}
	p->inode = inode;
	return p;
}

static __noinline int pending_capture(struct inode *inode)
{
	if (!pending_active)
		return 0;
	struct pending_op *p = pending_take(inode);
	if (!p)
		return 0;
	if (p->kind == PK_RENAME) {
		/* before d_move: the alias still carries the old name */
		struct dentry *d = inode_alias(inode);
		struct qstr q = BPF_CORE_READ(d, d_name);
		p->old_len = q.len < FN_NAME_MAX - 1 ? q.len : FN_NAME_MAX - 1;
		bpf_probe_read_kernel_str(p->old_name, FN_NAME_MAX, q.name);
	} else if (p->kind == PK_DELETE) {
		/* apply now: after the syscall the inode may be gone */
		p->done = 1;
		struct file_record *r = pending_rec(p, inode, true);
		if (r)
			count(r, inode, FE_DELETE);
	}
	return 0;
}

/* The in-flight check is repeated before the call: with nothing in flight (nearly every
 * timestamp update of the system) the hook is one load and a return; with operations of other
 * threads in flight, a helper call and a load more (the thread's bucket). */
static __always_inline int ctime_hook(struct inode *inode)
{
	if (!pending_active || !tid_pending((__u32)bpf_get_current_pid_tgid()))
		return 0;
	return pending_capture(inode);
}

SEC("tp_btf/ctime_ns_xchg")
int BPF_PROG(file_ctime_xchg, struct inode *inode)
{
	return ctime_hook(inode);
}

SEC("tp_btf/ctime_xchg_skip")
int BPF_PROG(file_ctime_skip, struct inode *inode)
{
	return ctime_hook(inode);
}

SEC("tp_btf/inode_set_ctime_to_ts")
int BPF_PROG(file_ctime_set, struct inode *inode)
{
	return ctime_hook(inode);
}

/* Applies the finished path operation p to its inode's record r (both exit paths: kfuncs and
 * 6.1's file_compat.bpf.h). */
static __always_inline void pending_apply(struct pending_op *p, struct inode *inode, struct file_record *r)
{
	switch (p->kind) {
	case PK_ATTRIB:
		count(r, inode, FE_ATTRIB);
		break;
	case PK_MODIFY:
		r->size = BPF_CORE_READ(inode, i_size);
		count(r, inode, FE_MODIFY);
		break;
	case PK_RENAME:
		r->hdr.flags |= FF_MOVED;
		r->origin_len = p->old_len;
		bpf_probe_read_kernel(r->origin, sizeof(r->origin), p->old_name);
		/* the record may predate the rename: take the new path (a record made just now,
		 * REC_SCRATCH, has it already; 6.1's records are always in the map) */
		if (r->hdr.pad0 != REC_SCRATCH)
			r->path_len = walk_path(inode_alias(inode), pending_mnt(p, inode), r->path,
						&r->name_off, &r->hdr.flags);
		count(r, inode, FE_MOVED_FROM);
		count(r, inode, FE_MOVED_TO);
		break;
	case PK_LINK:
		r->hdr.flags |= FF_LINK_CREATED;
		count(r, inode, FE_CREATE);
		file_emit(r, inode, 0); /* kflowd emits link/symlink creation at once */
		break;
	}
}

/* On the BPF LSM path, fallocate: no inode hook runs inside it (every other fd-based operation
 * has inode_setattr or inode_setxattr), so a call that succeeded takes its inode from its fd, as
 * the ctime tracepoints would have given it. Both exit paths (kfuncs and 6.1's). */
static __always_inline void pending_fd_capture(struct pending_op *p)
{
	if (!cfg_file_lsm_path || p->kind != PK_MODIFY || p->fd < 0 || p->inode || p->done)
		return;
	struct file *f = fd_to_file((struct task_struct *)bpf_get_current_task(), (__u32)p->fd);
	struct inode *inode = f ? BPF_CORE_READ(f, f_inode) : NULL;
	if (inode && mode_tracked(BPF_CORE_READ(inode, i_mode)))
		p->inode = inode;
}

static __noinline int pending_end_nokf(long ret); /* file_compat.bpf.h (6.1) */

static __noinline int pending_end(long ret)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct pending_op *p = pending_find(tid);
	if (!p)
		return 0;
	if (ret == 0)
		pending_fd_capture(p);
	if (ret == 0 && p->inode && !p->done) {
		struct inode *inode = bpf_rdonly_cast(p->inode, bpf_core_type_id_kernel(struct inode));
		struct file_record *r = pending_rec(p, inode, p->kind == PK_RENAME || p->kind == PK_LINK);
		if (r)
			pending_apply(p, inode, r);
	}
	pending_release(tid);
	return 0;
}

#define PATH_OP(name, KIND, DIRFD, FD, PATH, OLD)                                               \
	SEC("tp/syscalls/sys_enter_" #name)                                                     \
	int file_enter_##name(struct trace_event_raw_sys_enter *ctx)                            \
	{                                                                                       \
		return pending_begin(KIND, DIRFD, FD, (const char *)(PATH), (const char *)(OLD)); \
	}                                                                                       \
	SEC("tp/syscalls/sys_exit_" #name)                                                      \
	int file_exit_##name(struct trace_event_raw_sys_exit *ctx)                              \
	{                                                                                       \
		if (!file_on())                                                                 \
			return 0;                                                               \
		return cfg_kf_rdonly_cast ? pending_end(ctx->ret) : pending_end_nokf(ctx->ret); \
	}

#define A(n) (ctx->args[n])
/* chmod / chown / utimes / xattr: ATTRIB */
PATH_OP(chmod, PK_ATTRIB, AT_FDCWD_VAL, -1, A(0), 0)
PATH_OP(fchmodat, PK_ATTRIB, (int)A(0), -1, A(1), 0)
PATH_OP(fchmodat2, PK_ATTRIB, (int)A(0), -1, A(1), 0)
PATH_OP(fchmod, PK_ATTRIB, -1, (int)A(0), 0, 0)
PATH_OP(chown, PK_ATTRIB, AT_FDCWD_VAL, -1, A(0), 0)
PATH_OP(lchown, PK_ATTRIB, AT_FDCWD_VAL, -1, A(0), 0)
PATH_OP(fchownat, PK_ATTRIB, (int)A(0), -1, A(1), 0)
PATH_OP(fchown, PK_ATTRIB, -1, (int)A(0), 0, 0)
PATH_OP(utime, PK_ATTRIB, AT_FDCWD_VAL, -1, A(0), 0)
PATH_OP(utimes, PK_ATTRIB, AT_FDCWD_VAL, -1, A(0), 0)
PATH_OP(futimesat, PK_ATTRIB, (int)A(0), -1, A(1), 0)
PATH_OP(utimensat, PK_ATTRIB, (int)A(0), A(1) ? -1 : (int)A(0), A(1), 0)
PATH_OP(setxattr, PK_ATTRIB, AT_FDCWD_VAL, -1, A(0), 0)
PATH_OP(lsetxattr, PK_ATTRIB, AT_FDCWD_VAL, -1, A(0), 0)
PATH_OP(fsetxattr, PK_ATTRIB, -1, (int)A(0), 0, 0)
PATH_OP(removexattr, PK_ATTRIB, AT_FDCWD_VAL, -1, A(0), 0)
PATH_OP(lremovexattr, PK_ATTRIB, AT_FDCWD_VAL, -1, A(0), 0)
PATH_OP(fremovexattr, PK_ATTRIB, -1, (int)A(0), 0, 0)
/* truncate: MODIFY */
PATH_OP(truncate, PK_MODIFY, AT_FDCWD_VAL, -1, A(0), 0)
PATH_OP(ftruncate, PK_MODIFY, -1, (int)A(0), 0, 0)
PATH_OP(fallocate, PK_MODIFY, -1, (int)A(0), 0, 0)
/* rename: MOVED_FROM + MOVED_TO; new-side dirfd/path decide the mount */
PATH_OP(rename, PK_RENAME, AT_FDCWD_VAL, -1, A(1), A(0))
PATH_OP(renameat, PK_RENAME, (int)A(2), -1, A(3), A(1))
PATH_OP(renameat2, PK_RENAME, (int)A(2), -1, A(3), A(1))
/* unlink: DELETE (applied inside the operation) */
PATH_OP(unlink, PK_DELETE, AT_FDCWD_VAL, -1, A(0), 0)
PATH_OP(unlinkat, PK_DELETE, (int)A(0), -1, A(1), 0)
/* link / symlink: CREATE of the new name */
PATH_OP(link, PK_LINK, AT_FDCWD_VAL, -1, A(1), 0)
PATH_OP(linkat, PK_LINK, (int)A(2), -1, A(3), 0)
PATH_OP(symlink, PK_LINK, AT_FDCWD_VAL, -1, A(1), 0)
PATH_OP(symlinkat, PK_LINK, (int)A(1), -1, A(2), 0)
