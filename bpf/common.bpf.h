/* SPDX-License-Identifier: GPL-2.0 */
/* Shared kernel-side pieces: configuration, the ring buffer, drop counters, process facts,
 * fd → struct file resolution and the full-path dentry walk. Included once by falconet.bpf.c. */
#pragma once

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>
#include "records.h"
#include "compat.bpf.h"

char LICENSE[] SEC("license") = "GPL";

/* ---- configuration, set by the sensor before load ---- */
const volatile __u32 cfg_self_pid = 0;      /* the sensor (tgid) */
const volatile __u32 cfg_agent_pid = 0;     /* the TypeScript agent that reads the sensor */
const volatile __u32 cfg_monitors = 0;      /* FN_MON_* */
const volatile __u32 cfg_file_events_max = 0; /* -e N: emit a file record after N events (0: off) */
const volatile __u64 cfg_wakeup_bytes = 256 * 1024; /* wake the consumer only when crossing this fill */

/* Set by the sensor at shutdown: programs stop counting while it drains and flushes the maps
 * (detaching ~70 tracepoint programs takes seconds of RCU grace periods). */
volatile __u32 fn_paused = 0;

/* ---- maps ---- */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 16 * 1024 * 1024); /* resized by the sensor */
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, ST_MAX);
	__type(key, __u32);
	__type(value, __u64);
} stats SEC(".maps");

static __always_inline void stat_inc(__u32 idx)
{
	__u64 *v = bpf_map_lookup_elem(&stats, &idx);
	if (v)
		*v += 1;
}

/* Submit without waking the consumer unless this record makes the buffer cross the threshold:
 * the sensor drains on a short timer, and a wakeup per record costs more than the record. */
static __always_inline long rb_flags(__u64 size)
{
	__u64 avail = bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA);
	__u64 me = (size + 8 + 7) & ~7ULL;
	return (avail >= cfg_wakeup_bytes && avail - me < cfg_wakeup_bytes) ? BPF_RB_FORCE_WAKEUP
									     : BPF_RB_NO_WAKEUP;
}

/* Keep the verifier's view of an index bounded: clang drops "redundant" masks otherwise. */
#define BOUND(x, m) ({ __u64 __v = (x); asm volatile("%0 &= %1" : "+r"(__v) : "i"(m)); __v; })

static __always_inline bool is_self(__u32 tgid)
{
	return fn_paused || tgid == cfg_self_pid || (cfg_agent_pid && tgid == cfg_agent_pid);
}

/* ---- process facts for rec_hdr ---- */
static __always_inline void read_exe_name(struct task_struct *t, char *dst, __u32 *flags)
{
	struct file *exe = BPF_CORE_READ(t, mm, exe_file);
	if (!exe) {
		BPF_CORE_READ_STR_INTO((char(*)[FN_COMM_LEN])dst, t, comm);
		return;
	}
	struct qstr q = BPF_CORE_READ(exe, f_path.dentry, d_name);
	if (q.len >= FN_EXE_LEN)
		*flags |= FF_EXE_TRUNC;
	bpf_probe_read_kernel_str(dst, FN_EXE_LEN, q.name);
}

static __always_inline void fill_hdr(struct rec_hdr *h, __u16 type, __u64 now)
{
	struct task_struct *t = (struct task_struct *)bpf_get_current_task();
	__u64 pt = bpf_get_current_pid_tgid();
	__u64 ug = bpf_get_current_uid_gid();
	struct task_struct *parent = BPF_CORE_READ(t, real_parent);

	h->type = type;
	h->pid = pt >> 32;
	h->tid = (__u32)pt;
	h->ppid = BPF_CORE_READ(parent, tgid);
	h->uid = (__u32)ug;
	h->gid = ug >> 32;
	h->ts_first = now;
	h->ts = now;
	h->proc_start = BPF_CORE_READ(t, start_boottime);
	bpf_get_current_comm(h->comm, sizeof(h->comm));
	read_exe_name(t, h->exe, &h->flags);
	read_exe_name(parent, h->parent_exe, &h->flags);
}

/* The same facts through BTF pointers: direct (fault-safe) loads instead of one probe read per
 * field. Hooks with a current task (tracepoints of the file and process monitors) use these;
 * fill_hdr() stays for program types without bpf_get_current_task_btf(). */
static __always_inline void task_exe_name(struct task_struct *t, char *dst, __u32 *flags)
{
	struct mm_struct *mm = t->mm;
	struct file *exe = mm ? mm->exe_file : NULL;
	if (!exe) {
		bpf_probe_read_kernel_str(dst, FN_COMM_LEN, t->comm);
		return;
	}
	struct dentry *d = exe->f_path.dentry;
	if (d->d_name.len >= FN_EXE_LEN)
		*flags |= FF_EXE_TRUNC;
	bpf_probe_read_kernel_str(dst, FN_EXE_LEN, d->d_name.name);
}

/* Ids, credentials and comm are direct loads from the task, not the helpers that read the same
 * fields (bpf_get_current_pid_tgid, _uid_gid, _comm): a helper call costs ~30-130 ns on a guest
 * whose kernel returns through a safe-RET thunk (spec_rstack_overflow mitigation), several times
 * the loads. comm is copied whole: the kernel keeps it NUL-terminated and zero-padded
 * (__set_task_comm pads, fork copies it), which is what bpf_get_current_comm returns. */
static __always_inline void fill_hdr_of(struct rec_hdr *h, __u16 type, __u64 now, struct task_struct *t)
{
	struct task_struct *parent = t->real_parent;
	const struct cred *cr = t->cred;

	h->type = type;
	h->pid = t->tgid;
	h->tid = t->pid;
	h->ppid = parent->tgid;
	h->uid = cr->uid.val;
	h->gid = cr->gid.val;
	h->ts_first = now;
	h->ts = now;
	h->proc_start = t->start_boottime;
	__u64 *comm = (__u64 *)h->comm;
	comm[0] = *(__u64 *)&t->comm[0];
	comm[1] = *(__u64 *)&t->comm[8];
	task_exe_name(t, h->exe, &h->flags);
	task_exe_name(parent, h->parent_exe, &h->flags);
}

/* fill_hdr_of() for the current task (t: its BTF pointer, where the caller has it already). */
static __always_inline void fill_hdr_task(struct rec_hdr *h, __u16 type, __u64 now)
{
	fill_hdr_of(h, type, now, bpf_get_current_task_btf());
}

/* ---- fd → struct file ---- */
/* bpf_rdonly_cast (6.2+, compat.bpf.h) turns a kernel address into a BTF pointer whose fields
 * are read with direct (fault-safe) loads: several times cheaper than one bpf_probe_read_kernel
 * per field, which matters on hooks that run for every read() and write() of the system. */

/* task_pt_regs(t), the thread's saved user registers, lie at a fixed offset from its stack base
 * (THREAD_SIZE less the padding and the frame: one value per boot). The first call learns it
 * from bpf_task_pt_regs; later ones add it to t->stack and read through bpf_rdonly_cast: two
 * loads instead of a helper call (30-130 ns here, behind a return thunk) on every read/write.
 * Only where cfg_kf_rdonly_cast holds. */
__u64 task_regs_off = 0;

static __always_inline struct pt_regs *task_regs(struct task_struct *t)
{
	__u64 stack = (__u64)t->stack;
	__u64 off = task_regs_off;
	if (!off) {
		struct pt_regs *r = (struct pt_regs *)bpf_task_pt_regs(t);
		task_regs_off = (__u64)r - stack;
		return r;
	}
	return bpf_rdonly_cast((void *)(stack + off), bpf_core_type_id_kernel(struct pt_regs));
}

/* bpf_get_current_pid_tgid()'s value from the task's BTF pointer: two loads, no helper call. */
static __always_inline __u64 task_pid_tgid(struct task_struct *t)
{
	return ((__u64)(__u32)t->tgid << 32) | (__u32)t->pid;
}

/* The struct file of fd in task t (a BTF task pointer), as a BTF pointer, or NULL. Only where
 * cfg_kf_rdonly_cast holds (the read/write hooks read their task once and call this). */
static __always_inline struct file *fd_file_task(struct task_struct *t, __u64 fd)
{
	struct fdtable *fdt = t->files->fdt;
	if (!fdt || fd >= fdt->max_fds)
		return NULL;
	/* fdt->fd is a pointer to pointers: the verifier gives its value as a scalar. The slot is
	 * read as the first member of a struct that starts with a struct file * (kiocb.ki_filp),
	 * a direct load instead of a probe read (~30 ns on every read and write) */
	__u64 base = (__u64)fdt->fd;
	struct kiocb *slot = bpf_rdonly_cast((void *)(base + fd * sizeof(void *)),
					     bpf_core_type_id_kernel(struct kiocb));
	return slot->ki_filp;
}

/* The struct file of fd in the current task, as a BTF pointer, or NULL. */
static __always_inline struct file *fd_file(__u64 fd)
{
	if (!cfg_kf_rdonly_cast)
		return NULL; /* the __nokf twins (file_compat.bpf.h) run instead */
	return fd_file_task(bpf_get_current_task_btf(), fd);
}

static __always_inline struct file *fd_to_file(struct task_struct *t, __u64 fd)
{
	struct fdtable *fdt = BPF_CORE_READ(t, files, fdt);
	__u32 max = BPF_CORE_READ(fdt, max_fds);
	if (fd >= max)
		return NULL;
	struct file **fds = BPF_CORE_READ(fdt, fd);
	struct file *f = NULL;
	bpf_probe_read_kernel(&f, sizeof(f), &fds[fd]);
	return f;
}

struct file___old {
	atomic_long_t f_count;
} __attribute__((preserve_access_index));

/* References to a struct file: 6.13+ file_ref_t counts from 0 for one reference. */
static __always_inline long file_refs(struct file *f)
{
	/* f is a BTF pointer where the kfunc exists (direct loads); probe reads elsewhere */
	if (bpf_core_field_exists(f->f_ref))
		return (cfg_kf_rdonly_cast ? f->f_ref.refcnt.counter : BPF_CORE_READ(f, f_ref.refcnt.counter)) + 1;
	return cfg_kf_rdonly_cast ? ((struct file___old *)f)->f_count.counter
				  : BPF_CORE_READ((struct file___old *)f, f_count.counter);
}

/* ---- inode times across the 6.6 / 6.7 / 6.11 renames ---- */
struct inode___6_7 {
	struct timespec64 __i_atime;
	struct timespec64 __i_mtime;
	struct timespec64 __i_ctime;
} __attribute__((preserve_access_index));

struct inode___old {
	struct timespec64 i_atime;
	struct timespec64 i_mtime;
	struct timespec64 i_ctime;
} __attribute__((preserve_access_index));

#define I_CTIME_QUERIED_BIT (1U << 31)

/* i is a BTF pointer on kernels with bpf_rdonly_cast (every caller has one there): direct loads,
 * not one probe read per field. Before 6.2 the callers may hold plain addresses: probe reads. */
static __always_inline void inode_times_nokf(struct inode *i, __u64 *a, __u64 *m, __u64 *c)
{
	if (bpf_core_field_exists(i->i_mtime_sec)) {
		*a = BPF_CORE_READ(i, i_atime_sec) * 1000000000ULL + BPF_CORE_READ(i, i_atime_nsec);
		*m = BPF_CORE_READ(i, i_mtime_sec) * 1000000000ULL + BPF_CORE_READ(i, i_mtime_nsec);
		*c = BPF_CORE_READ(i, i_ctime_sec) * 1000000000ULL +
		     (BPF_CORE_READ(i, i_ctime_nsec) & ~I_CTIME_QUERIED_BIT);
	} else if (bpf_core_field_exists(((struct inode___6_7 *)i)->__i_mtime)) {
		struct inode___6_7 *o = (void *)i;
		*a = BPF_CORE_READ(o, __i_atime.tv_sec) * 1000000000ULL + BPF_CORE_READ(o, __i_atime.tv_nsec);
		*m = BPF_CORE_READ(o, __i_mtime.tv_sec) * 1000000000ULL + BPF_CORE_READ(o, __i_mtime.tv_nsec);
		*c = BPF_CORE_READ(o, __i_ctime.tv_sec) * 1000000000ULL + BPF_CORE_READ(o, __i_ctime.tv_nsec);
	} else {
		struct inode___old *o = (void *)i;
		*a = BPF_CORE_READ(o, i_atime.tv_sec) * 1000000000ULL + BPF_CORE_READ(o, i_atime.tv_nsec);
		*m = BPF_CORE_READ(o, i_mtime.tv_sec) * 1000000000ULL + BPF_CORE_READ(o, i_mtime.tv_nsec);
		*c = BPF_CORE_READ(o, i_ctime.tv_sec) * 1000000000ULL + BPF_CORE_READ(o, i_ctime.tv_nsec);
	}
}

static __always_inline void inode_times(struct inode *i, __u64 *a, __u64 *m, __u64 *c)
{
	if (!cfg_kf_rdonly_cast) {
		inode_times_nokf(i, a, m, c);
		return;
	}
	if (bpf_core_field_exists(i->i_mtime_sec)) {
		*a = i->i_atime_sec * 1000000000ULL + i->i_atime_nsec;
		*m = i->i_mtime_sec * 1000000000ULL + i->i_mtime_nsec;
		*c = i->i_ctime_sec * 1000000000ULL + (i->i_ctime_nsec & ~I_CTIME_QUERIED_BIT);
	} else if (bpf_core_field_exists(((struct inode___6_7 *)i)->__i_mtime)) {
		struct inode___6_7 *o = (void *)i;
		*a = o->__i_atime.tv_sec * 1000000000ULL + o->__i_atime.tv_nsec;
		*m = o->__i_mtime.tv_sec * 1000000000ULL + o->__i_mtime.tv_nsec;
		*c = o->__i_ctime.tv_sec * 1000000000ULL + o->__i_ctime.tv_nsec;
	} else {
		struct inode___old *o = (void *)i;
		*a = o->i_atime.tv_sec * 1000000000ULL + o->i_atime.tv_nsec;
		*m = o->i_mtime.tv_sec * 1000000000ULL + o->i_mtime.tv_nsec;
		*c = o->i_ctime.tv_sec * 1000000000ULL + o->i_ctime.tv_nsec;
	}
}

/* ---- full path: dentry walk across mounts, written back to front ---- */
#define WALK_BUF 8192            /* power of two: offsets are masked with WALK_BUF-1 */
#define WALK_END (FN_PATH_MAX + 64)
#define WALK_MAX_DEPTH 1024      /* components; deeper paths are cut at the front and flagged */

struct walk_scratch {
	char buf[WALK_BUF + FN_NAME_MAX];
	/* The walk's position as plain addresses. Kept here, not in the loop's stack context: a
	 * BTF pointer spilled there makes each iteration's verifier state differ from the last
	 * (the walk then never converges within the 1M-instruction limit), while map memory reads
	 * back as scalars. Each step turns them into BTF pointers with bpf_rdonly_cast for direct
	 * loads, which cost far less than one probe read per field. */
	__u64 dentry;
	__u64 mnt;                /* struct mount; 0: stop at the filesystem root (fs-relative) */
	__u64 mnt_root;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct walk_scratch);
} walk_scratch_map SEC(".maps");

struct walk_ctx {
	struct walk_scratch *s;
	__u32 pos;                /* start of the path written so far in s->buf */
	__u32 done;
	__u32 trunc;
	__u32 fsrel;
};

/* Puts "/name" in front of the path written so far and moves up to parent; 1 ends the walk
 * (truncated: no room left). */
static __always_inline long walk_put_name(struct walk_ctx *c, struct walk_scratch *s, __u32 len,
					  const unsigned char *name, __u64 parent)
{
	if (len > FN_NAME_MAX - 1)
		len = FN_NAME_MAX - 1;
	if (c->pos < len + 1 + (WALK_END - FN_PATH_MAX) + 1) {
		c->trunc = 1;
		return 1;
	}
	c->pos -= len;
	bpf_probe_read_kernel(&s->buf[BOUND(c->pos, WALK_BUF - 1)], BOUND(len, FN_NAME_MAX - 1), name);
	c->pos -= 1;
	s->buf[BOUND(c->pos, WALK_BUF - 1)] = '/';
	s->dentry = parent;
	return 0;
}

/* One step of the walk through BTF pointers (bpf_rdonly_cast): direct loads. */
static __always_inline long walk_step_kf(struct walk_ctx *c, struct walk_scratch *s)
{
	struct dentry *d = bpf_rdonly_cast((void *)s->dentry, bpf_core_type_id_kernel(struct dentry));
	__u64 parent = (__u64)d->d_parent;

	if (s->mnt && s->dentry == s->mnt_root) {
		struct mount *m = bpf_rdonly_cast((void *)s->mnt, bpf_core_type_id_kernel(struct mount));
		__u64 mp = (__u64)m->mnt_parent;
		if (mp == s->mnt || !mp) {
			c->done = 1; /* root of the mount namespace */
			return 1;
		}
		s->dentry = (__u64)m->mnt_mountpoint;
		s->mnt = mp;
		m = bpf_rdonly_cast((void *)mp, bpf_core_type_id_kernel(struct mount));
		s->mnt_root = (__u64)m->mnt.mnt_root;
		return 0;
	}
	if (s->dentry == parent || !parent) {
		if (s->mnt)
			c->fsrel = 1; /* disconnected from its mount (e.g. lazily unmounted) */
		c->done = 1;
		return 1;
	}
	return walk_put_name(c, s, d->d_name.len, d->d_name.name, parent);
}

/* The same step with CO-RE probe reads, for kernels without bpf_rdonly_cast (before 6.2). */
static __always_inline long walk_step_nokf(struct walk_ctx *c, struct walk_scratch *s)
{
	struct dentry *d = (struct dentry *)s->dentry;
	__u64 parent = (__u64)BPF_CORE_READ(d, d_parent);

	if (s->mnt && s->dentry == s->mnt_root) {
		struct mount *m = (struct mount *)s->mnt;
		__u64 mp = (__u64)BPF_CORE_READ(m, mnt_parent);
		if (mp == s->mnt || !mp) {
			c->done = 1;
			return 1;
		}
		s->dentry = (__u64)BPF_CORE_READ(m, mnt_mountpoint);
		s->mnt = mp;
		s->mnt_root = (__u64)BPF_CORE_READ((struct mount *)mp, mnt.mnt_root);
		return 0;
	}
	if (s->dentry == parent || !parent) {
		if (s->mnt)
			c->fsrel = 1;
		c->done = 1;
		return 1;
	}
	struct qstr q = BPF_CORE_READ(d, d_name);
	return walk_put_name(c, s, q.len, q.name, parent);
}

static long walk_step(__u64 i, void *ctx)
{
	struct walk_ctx *c = ctx;
	/* the flag is a load-time constant: the verifier walks only the branch this kernel runs */
	if (cfg_kf_rdonly_cast)
		return walk_step_kf(c, c->s);
	return walk_step_nokf(c, c->s);
}

/* Writes the path of (dentry, vfsmount) into dst[FN_PATH_MAX]. Returns its length; sets
 * *name_off to the basename's offset and FF_PATH_* flags. vfsmnt may be NULL (fs-relative). */
static __noinline int walk_path(struct dentry *dentry, struct vfsmount *vfsmnt, char *dst,
				__u16 *name_off, __u32 *flags)
{
	__u32 zero = 0;
	struct walk_ctx c = {};
	c.s = bpf_map_lookup_elem(&walk_scratch_map, &zero);
	if (!c.s || !dst)
		return 0;
	c.s->dentry = (__u64)dentry;
	c.s->mnt = 0;
	if (vfsmnt) {
		c.s->mnt = (__u64)vfsmnt - bpf_core_field_offset(struct mount, mnt);
		c.s->mnt_root = (__u64)BPF_CORE_READ(vfsmnt, mnt_root);
	} else {
		c.fsrel = 1;
	}
	c.pos = WALK_END;
	bpf_loop(WALK_MAX_DEPTH, walk_step, &c, 0);
	if (c.pos == WALK_END) { /* the root itself */
		c.pos -= 1;
		c.s->buf[BOUND(c.pos, WALK_BUF - 1)] = '/';
	}
	__u32 len = WALK_END - c.pos;
	if (len > FN_PATH_MAX - 1)
		len = FN_PATH_MAX - 1;
	bpf_probe_read_kernel(dst, BOUND(len, FN_PATH_MAX - 1), &c.s->buf[BOUND(c.pos, WALK_BUF - 1)]);
	/* basename: the last component, whose length we know from the leaf dentry */
	struct qstr q = BPF_CORE_READ(dentry, d_name);
	__u32 nl = q.len < FN_NAME_MAX - 1 ? q.len : FN_NAME_MAX - 1;
	*name_off = len > nl ? len - nl : 0;
	if (c.trunc || !c.done)
		*flags |= FF_PATH_TRUNC;
	if (c.fsrel)
		*flags |= FF_PATH_FSREL;
	return len;
}

/* ---- per-CPU scratch that task context and softirq share ----
 * A program in task context with bottom halves enabled (connect, send and recv, the UNIX syslog
 * reader, the export iterator) can be interrupted on its CPU by a softirq whose program uses the
 * same scratch; one per-CPU slot would be rewritten under it, and the interrupted program would
 * ship a mix of two records. Such scratch maps hold NEST_SLOTS slots, taken by per-CPU depth:
 * nesting on one CPU is strictly last-in first-out, so "take slot depth, restore depth on
 * release" never hands one slot to two programs, whatever point the interruption comes at. */
#define NEST_SLOTS 3 /* task, softirq, hardirq */
enum nest_user { NEST_SOCK = 0, NEST_PAYLOAD = 1, NEST_USERS };

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, NEST_USERS);
	__type(key, __u32);
	__type(value, __u32);
} nest_depth SEC(".maps");

/* The slot to use, or -1 (deeper than NEST_SLOTS: the caller counts a drop). */
static __always_inline int nest_take(__u32 user)
{
	__u32 *d = bpf_map_lookup_elem(&nest_depth, &user);
	if (!d)
		return -1;
	__u32 slot = *d;
	if (slot >= NEST_SLOTS)
		return -1;
	*d = slot + 1;
	return slot;
}

static __always_inline void nest_put(__u32 user, int slot)
{
	__u32 *d = bpf_map_lookup_elem(&nest_depth, &user);
	if (d && slot >= 0)
		*d = slot;
}
