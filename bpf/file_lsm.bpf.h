/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Path operations on kernels without the VFS ctime tracepoints (before 6.13; e.g. Debian 12's
 * 6.1), where BPF LSM is active (Debian's CONFIG_LSM lists "bpf"): the inode security hooks
 * fire inside the operation on the affected dentry, before d_move and before the unlink, which
 * is what the ctime tracepoints give file.bpf.h. Each hook does what pending_capture() does for
 * those; the syscall's exit hook applies the event (pending_end). The sensor loads
 * these only where the ctime tracepoints are missing and /sys/kernel/security/lsm lists bpf;
 * a hook that does not attach is reported and skipped. Every hook allows the operation.
 * Not seen this way: symlink (its dentry has no inode yet), fallocate (no inode hook).
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
