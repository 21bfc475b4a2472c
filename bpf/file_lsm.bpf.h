/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Path operations on kernels without the VFS ctime tracepoints (before 6.13; e.g. Debian 12's
 * 6.1), where BPF LSM is active (Debian's CONFIG_LSM lists "bpf"): the inode security hooks
 * fire inside the operation on the affected dentry, before d_move and before the unlink, which
 * is what the ctime tracepoints give file.bpf.h. Each hook does what pending_capture() does for
 * those; the syscall's exit hook applies the event (pending_end). The sensor loads
 * these only where the ctime tracepoints are missing and /sys/kernel/security/lsm lists bpf;
 * a hook that does not attach is reported and skipped. Every hook allows the operation.
 * A new symlink's dentry has no inode when inode_symlink runs: the inode is taken when the
 * filesystem instantiates that dentry (d_instantiate). fallocate has no inode hook: its exit
 * takes the inode from its fd (pending_fd_capture, file_path.bpf.h).
 */
#pragma once
#include "file.bpf.h"

/* index of inode_setattr's dentry argument: 6.3+ pass the mount's idmap first (set from BTF) */
const volatile __u32 cfg_lsm_setattr_dentry = 1;

/* The dentry argument at index I (a constant): loaded in asm so that the one load the verifier
 * sees is the index this kernel's hook has. */
#define LSM_ARG(ctx, I) ({                                                                      \
	struct dentry *__d;                                                                     \
	asm volatile("%0 = *(u64 *)(%1 + %2)" : "=r"(__d) : "r"(ctx), "i"((I) * 8));            \
	__d; })

/* pending_capture() for a hook that names the dentry: the old name of a rename is the dentry's
 * own, and the probe-read record path (file_compat.bpf.h) keeps the call chain's stack within
 * 6.1's 512 bytes. */
static __noinline int lsm_capture(struct dentry *d)
{
	if (!file_on() || !pending_active || !d)
		return 0;
	struct inode *inode = BPF_CORE_READ(d, d_inode);
	if (!inode)
		return 0;
	struct pending_op *p = pending_take(inode); /* file_path.bpf.h */
	if (!p)
		return 0;
	if (p->kind == PK_RENAME) {
		struct qstr q = BPF_CORE_READ(d, d_name);
		p->old_len = q.len < FN_NAME_MAX - 1 ? q.len : FN_NAME_MAX - 1;
		bpf_probe_read_kernel_str(p->old_name, FN_NAME_MAX, q.name);
	} else if (p->kind == PK_DELETE) {
		/* apply now: after the syscall the inode may be gone */
		p->done = 1;
		struct file_record *r = pending_rec_nokf(p, inode);
		if (r)
			count(r, inode, FE_DELETE);
	}
	return 0;
}

SEC("lsm/inode_setattr")
int file_lsm_setattr(unsigned long long *ctx)
{
	if (cfg_lsm_setattr_dentry == 0)
		return lsm_capture(LSM_ARG(ctx, 0));
	return lsm_capture(LSM_ARG(ctx, 1));
}

SEC("lsm/inode_setxattr")
int BPF_PROG(file_lsm_setxattr, void *idmap, struct dentry *dentry)
{
	return lsm_capture(dentry);
}

SEC("lsm/inode_removexattr")
int BPF_PROG(file_lsm_rmxattr, void *idmap, struct dentry *dentry)
{
	return lsm_capture(dentry);
}

SEC("lsm/inode_unlink")
int BPF_PROG(file_lsm_unlink, struct inode *dir, struct dentry *dentry)
{
	return lsm_capture(dentry);
}

SEC("lsm/inode_rename")
int BPF_PROG(file_lsm_rename, struct inode *old_dir, struct dentry *old_dentry)
{
	return lsm_capture(old_dentry);
}

SEC("lsm/inode_link")
int BPF_PROG(file_lsm_link, struct dentry *old_dentry)
{
	return lsm_capture(old_dentry);
}

/* symlink: remember the new dentry (no inode yet) for d_instantiate below */
SEC("lsm/inode_symlink")
int BPF_PROG(file_lsm_symlink, struct inode *dir, struct dentry *dentry)
{
	if (!file_on() || !pending_active)
		return 0;
	struct pending_op *p = pending_find((__u32)bpf_get_current_pid_tgid());
	if (p && p->kind == PK_LINK && !p->inode && !p->done)
		p->new_dentry = (__u64)dentry;
	return 0;
}

/* Runs on every dentry instantiation, lookups included (a void hook: its result is ignored), so
 * it acts only for the thread's symlink in flight and only on the dentry inode_symlink named:
 * a symlink met while resolving the new name's parent is instantiated before that hook runs. */
SEC("lsm/d_instantiate")
int BPF_PROG(file_lsm_d_inst, struct dentry *dentry, struct inode *inode)
{
	if (!file_on() || !pending_active || !inode)
		return 0;
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	if (!tid_pending(tid))
		return 0;
	struct pending_op *p = pending_find(tid);
	if (p && p->kind == PK_LINK && p->new_dentry == (__u64)dentry)
		pending_take(inode); /* file_path.bpf.h: a symlink's inode is tracked */
	return 0;
}
