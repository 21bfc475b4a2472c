/* SPDX-License-Identifier: GPL-2.0 */
/*
 * File monitor on tracepoints only. Events are aggregated per (pid, dev, inode) in file_records
 * and emitted on close (last reference), delete, rename, link/symlink creation and -e N events.
 * Records of exited processes are emitted by the sensor from file_records, and records the ring
 * buffer could not take from file_deferred, so counts held here are never lost.
 *
 * fd-based syscalls resolve fd → struct file. Path-based syscalls (chmod, rename, unlink, …)
 * cannot resolve a path in BPF, so the syscall's enter hook marks the thread as having a pending
 * operation and the VFS ctime tracepoints, which fire inside the operation on the affected
 * inode, capture that inode; the exit hook (or, for unlink, the ctime hook itself, while the
 * inode is still alive) applies the event.
 *
 * This file: constants, maps, keys and record helpers. Then, in this order (falconet.bpf.c
 * includes them after this file): file_fd.bpf.h, file_path.bpf.h.
 */
#pragma once
#include "common.bpf.h"

#define FMODE_WRITE_BIT 0x2
#define FMODE_CREATED_BIT 0x100000
#define O_TRUNC_BIT 01000
#define AT_FDCWD_VAL -100
#define S_IFMT_ 00170000
#define S_IFREG_ 0100000
#define S_IFLNK_ 0120000
#define S_IFDIR_ 0040000

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536); /* resized by the sensor (--file-records) */
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct file_key);
	__type(value, struct file_record);
} file_records SEC(".maps");

/* Records the ring buffer could not take, moved out of file_records under a sequence number that
 * no program looks up again: the sensor takes them from here (lookup-and-delete) with no program
 * holding a pointer into them. Kept in file_records instead (as before), a record was flushed by
 * the sensor while a program on another CPU was still counting into it and emitting it (the same
 * events twice), and a file created later with the deleted file's inode number was counted into
 * the deleted file's record. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536); /* resized by the sensor (--file-records) */
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, __u64);
	__type(value, struct file_record);
} file_deferred SEC(".maps");

__u64 file_deferred_seq = 0;

/* hdr.pad0 of a record: REC_IN_MAP (0) in file_records; REC_SCRATCH: built in file_scratch for
 * an event that emits it at once (delete, rename, link of a file this process has no record
 * of), never put in file_records (an insert and a delete in this hash cost ~0.3 us each on a
 * paravirtualised guest); file_deferred takes it if the ring buffer cannot. Emitted records
 * carry 0. */
#define REC_IN_MAP 0
#define REC_SCRATCH 2

/* OR-ed into file_rec()'s `now` (a CLOCK_BOOTTIME stamp, far below 2^63): the caller's event
 * emits the record at once, so a new one stays in file_scratch (REC_SCRATCH). */
#define REC_EMITS_NOW (1ULL << 63)

#define EEXIST_ 17

/* Inserts the new record r (BPF_NOEXIST) and returns the map's copy. A thread of the same
 * process that inserted the key first wins: its record is returned (*added false). NULL: the
 * map is full. */
static __always_inline struct file_record *rec_insert(struct file_key *key, struct file_record *r,
						      bool *added)
{
	r->hdr.pad0 = REC_IN_MAP;
	long err = bpf_map_update_elem(&file_records, key, r, BPF_NOEXIST);
	*added = !err;
	if (!err || err == -EEXIST_)
		return bpf_map_lookup_elem(&file_records, key);
	return NULL;
}

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct file_record);
} file_scratch SEC(".maps");

/* tgid → keys of the records it holds in file_records, so that its exit hands the sensor exactly
 * those keys (a scan of the whole map per exit would not keep up with fork storms). */
struct pid_files {
	struct file_key slots[FN_PID_SLOTS]; /* ino == 0: free */
	__u32 overflow;
	__u32 pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, __u32);
	__type(value, struct pid_files);
} file_pid_open SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct pid_exit_notice);
} notice_scratch SEC(".maps");

static __always_inline void pid_slot_add(struct file_key *key)
{
	struct pid_files *v = bpf_map_lookup_elem(&file_pid_open, &key->pid);
	if (!v) {
		struct pid_files zero = {};
		bpf_map_update_elem(&file_pid_open, &key->pid, &zero, BPF_NOEXIST);
		v = bpf_map_lookup_elem(&file_pid_open, &key->pid);
		if (!v)
			return;
	}
	for (int i = 0; i < FN_PID_SLOTS; i++) {
		/* claim a free slot atomically: threads of one process may race here */
		if (__sync_val_compare_and_swap(&v->slots[i].ino, 0, key->ino) == 0) {
			v->slots[i].dev = key->dev;
			v->slots[i].pid = key->pid;
			return;
		}
	}
	v->overflow = 1;
}

static __always_inline void pid_slot_del(struct file_key *key)
{
	struct pid_files *v = bpf_map_lookup_elem(&file_pid_open, &key->pid);
	if (!v)
		return;
	for (int i = 0; i < FN_PID_SLOTS; i++) {
		if (v->slots[i].ino == key->ino && v->slots[i].dev == key->dev) {
			v->slots[i].ino = 0;
			return;
		}
	}
}

enum pending_kind { PK_ATTRIB = 1, PK_MODIFY, PK_RENAME, PK_DELETE, PK_LINK };

struct pending_op {
	__u32 kind;        /* enum pending_kind */
	__s32 dirfd;       /* base for a relative path, AT_FDCWD, or -1 for fd-based ops */
	__s32 fd;          /* fd-based ops: the fd; else -1 */
	__u32 abs;         /* path starts with '/' */
	__u32 done;        /* applied already (unlink) */
	__u32 old_len;     /* rename: length of old_name */
	struct inode *inode;
	__u64 new_dentry;  /* symlink on the BPF LSM path: the dentry inode_symlink named */
	char old_name[FN_NAME_MAX];
};

/* A path operation in flight lives in the slot of its thread (tid % FILE_PEND_SLOTS), claimed with
 * one compare-and-swap by the syscall's enter hook and released by its exit hook: an insert
 * and a delete in a hash take a bucket lock each (~0.3 us and ~0.2 us on a paravirtualised
 * guest), paid by every unlink, rename, chmod... A thread whose slot another live thread holds
 * falls back to the hash file_pending (the same state; pending_hashed counts its entries so
 * that lookups skip it while it is empty). */
#define FILE_PEND_SLOTS 2048
struct pend_slot {
	__u32 owner;       /* tid from the enter hook to the exit hook; 0: free */
	__u32 pad;
	struct pending_op op;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, FILE_PEND_SLOTS);
	__type(key, __u32);
	__type(value, struct pend_slot);
} file_pend_slots SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096); /* with the slots: >= 4096 operations in flight (was 16384 alone) */
	__type(key, __u32);
	__type(value, struct pending_op);
} file_pending SEC(".maps");

__u32 pending_hashed = 0;

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct pending_op);
} pending_scratch SEC(".maps");

/* Path operations are captured by the BPF LSM hooks (file_lsm.bpf.h), not the ctime tracepoints:
 * set by the sensor (kcompat.c). */
const volatile __u32 cfg_file_lsm_path = 0;

static __always_inline bool file_on(void)
{
	return (cfg_monitors & FN_MON_FILE) && !fn_paused;
}

static __always_inline bool mode_tracked(__u32 mode)
{
	__u32 t = mode & S_IFMT_;
	return t == S_IFREG_ || t == S_IFLNK_;
}

static __always_inline void refresh_inode(struct file_record *r, struct inode *i)
{
	/* i is a BTF pointer (tp_btf argument, f_inode of a cast file) where bpf_rdonly_cast
	 * exists: direct loads; before 6.2 the __nokf paths pass plain addresses: probe reads */
	if (!cfg_kf_rdonly_cast) {
		r->mode = BPF_CORE_READ(i, i_mode);
		r->nlink = BPF_CORE_READ(i, __i_nlink);
		r->iuid = BPF_CORE_READ(i, i_uid.val);
		r->igid = BPF_CORE_READ(i, i_gid.val);
		r->size = BPF_CORE_READ(i, i_size);
		inode_times(i, &r->atime_ns, &r->mtime_ns, &r->ctime_ns);
		return;
	}
	r->mode = i->i_mode;
	r->nlink = i->__i_nlink;
	r->iuid = i->i_uid.val;
	r->igid = i->i_gid.val;
	r->size = i->i_size;
	inode_times(i, &r->atime_ns, &r->mtime_ns, &r->ctime_ns);
}

/* Count of path operations in flight: the ctime hooks, which fire on every timestamp update of
 * the system, skip their map lookup when it is zero. */
__u32 pending_active = 0;

/* The same count per bucket of thread ids (tid & PENDING_TID_MASK): while other threads of the
 * system have path operations in flight, a ctime hook of a thread without one costs a load here
 * instead of a slot or hash lookup. A bucket counts operations in flight (slots claimed and
 * file_pending entries made, changed with the same increments as pending_active), so it is
 * never below the number of this bucket's threads with an operation in flight. */
#define PENDING_TID_BUCKETS 1024
#define PENDING_TID_MASK (PENDING_TID_BUCKETS - 1)
__u32 pending_tids[PENDING_TID_BUCKETS] SEC(".data.file_tids") = {}; /* out of .bss: see proc_pend_owner */

static __always_inline bool tid_pending(__u32 tid)
{
	return pending_tids[tid & PENDING_TID_MASK] != 0;
}

static __always_inline void pending_count(__u32 tid, int d)
{
	__sync_fetch_and_add(&pending_active, d);
	__sync_fetch_and_add(&pending_tids[tid & PENDING_TID_MASK], d);
}

/* The path operation thread tid has in flight: its slot, else the fallback hash; NULL: none. */
static __always_inline struct pending_op *pending_find(__u32 tid)
{
	__u32 idx = tid & (FILE_PEND_SLOTS - 1);
	struct pend_slot *s = bpf_map_lookup_elem(&file_pend_slots, &idx);
	if (s && s->owner == tid)
		return &s->op;
	if (!pending_hashed)
		return NULL;
	return bpf_map_lookup_elem(&file_pending, &tid);
}

/* Ends thread tid's path operation (the exit hook, after pending_find's op is applied). */
static __always_inline void pending_release(__u32 tid)
{
	__u32 idx = tid & (FILE_PEND_SLOTS - 1);
	struct pend_slot *s = bpf_map_lookup_elem(&file_pend_slots, &idx);
	if (s && s->owner == tid) {
		__sync_val_compare_and_swap(&s->owner, tid, 0);
		pending_count(tid, -1);
		return;
	}
	if (pending_hashed && !bpf_map_delete_elem(&file_pending, &tid)) {
		__sync_fetch_and_add(&pending_hashed, -1);
		pending_count(tid, -1);
	}
}

/* The record of (current tgid, inode), created when missing with the path of f (when given)
 * or of (dentry, mnt). now == 0 leaves hdr.ts alone and reads the clock only to create a
 * record (ts_first): a clock read costs ~70 ns here; emission (kernel or sensor) stamps the
 * record anyway. now with REC_EMITS_NOW: see REC_SCRATCH. */
static __noinline struct file_record *file_rec(struct inode *inode, struct file *f,
					       struct dentry *dentry, struct vfsmount *mnt, __u64 now)
{
	struct file_key key = {};
	struct task_struct *t = bpf_get_current_task_btf(); /* one helper call for the ids and the header */
	__u64 pt = task_pid_tgid(t);
	bool emits_now = now & REC_EMITS_NOW;
	now &= ~REC_EMITS_NOW;
	key.pid = pt >> 32;
	if (cfg_kf_rdonly_cast) { /* inode is a BTF pointer: direct loads */
		key.dev = inode->i_sb->s_dev;
		key.ino = inode->i_ino;
	} else {
		key.dev = BPF_CORE_READ(inode, i_sb, s_dev);
		key.ino = BPF_CORE_READ(inode, i_ino);
	}

	struct file_record *r = bpf_map_lookup_elem(&file_records, &key);
	if (r) {
		if (now)
			r->hdr.ts = now;
		r->hdr.tid = (__u32)pt;
		return r;
	}
	if (!now)
		now = bpf_ktime_get_boot_ns();
	if (f) { /* probe reads: the walk's loop state must hold scalars, not BTF pointers */
		dentry = BPF_CORE_READ(f, f_path.dentry);
		mnt = BPF_CORE_READ(f, f_path.mnt);
	}
	__u32 zero = 0;
	r = bpf_map_lookup_elem(&file_scratch, &zero);
	if (!r)
		return NULL;
	__u64 *w = (__u64 *)r;
#pragma unroll
	for (int k = 0; k < (int)(FILE_RECORD_FIXED / 8); k++)
		w[k] = 0;
	fill_hdr_of(&r->hdr, FN_REC_FILE, now, t);
	r->ino = key.ino;
	r->dev = key.dev;
	refresh_inode(r, inode);
	r->size_first = r->size;
	r->mtime_first_ns = r->mtime_ns;
	r->path_len = walk_path(dentry, mnt, r->path, &r->name_off, &r->hdr.flags);
	if (r->hdr.flags & FF_PATH_TRUNC)
		stat_inc(ST_PATH_TRUNC);
	if (emits_now) {
		r->hdr.pad0 = REC_SCRATCH;
		return r;
	}
	bool added = false;
	r = rec_insert(&key, r, &added);
	if (!r) {
		stat_inc(ST_FILE_MAP_FULL);
		return NULL;
	}
	if (added)
		pid_slot_add(&key);
	return r;
}

/* A record the ring buffer could not take goes to file_deferred (counted, not lost; the sensor
 * emits it). A REC_SCRATCH record's counts are then cleared: a later event of the same call
 * (rename's MOVED_TO) counts from zero, not twice. */
static __noinline void file_defer(struct file_record *r)
{
	__u64 seq = __sync_fetch_and_add(&file_deferred_seq, 1);
	__u32 where = r->hdr.pad0;
	r->hdr.flags |= FF_PENDING;
	r->hdr.pad0 = 0;
	if (bpf_map_update_elem(&file_deferred, &seq, r, BPF_NOEXIST))
		stat_inc(ST_FILE_MAP_FULL);
	else
		stat_inc(ST_FILE_DEFERRED);
	r->hdr.pad0 = where;
	if (where != REC_SCRATCH)
		return;
	r->hdr.flags &= ~FF_PENDING;
#pragma unroll
	for (int i = 0; i < FE_MAX; i++)
		r->event[i] = 0;
	r->events = 0;
}

/* Submit and forget the record; if the ring buffer is full, move it to file_deferred for the
 * sensor to collect (counted, not lost). Either way it leaves file_records. */
static __noinline void file_emit(struct file_record *r, struct inode *inode, __u32 why)
{
	r->hdr.ts = bpf_ktime_get_boot_ns();
	if (inode)
		refresh_inode(r, inode);
	r->hdr.flags |= why;
	__u64 size = FILE_RECORD_FIXED + r->path_len;
	if (size > sizeof(*r))
		size = sizeof(*r);
	r->hdr.size = size;
	struct file_key key = { .pid = r->hdr.pid, .dev = r->dev, .ino = r->ino };
	__u32 where = r->hdr.pad0;
	r->hdr.pad0 = 0;
	long err = bpf_ringbuf_output(&events, r, size, rb_flags(size));
	r->hdr.pad0 = where;
	if (err)
		file_defer(r);
	else
		stat_inc(ST_FILE_RECORDS);
	if (where == REC_SCRATCH)
		return;
	bpf_map_delete_elem(&file_records, &key);
	pid_slot_del(&key);
}

static __always_inline bool emits(__u32 ev)
{
	return ev == FE_CLOSE_WRITE || ev == FE_CLOSE_NOWRITE || ev == FE_DELETE || ev == FE_MOVED_TO;
}

static __always_inline void count(struct file_record *r, struct inode *inode, __u32 ev)
{
	if (ev >= FE_MAX)
		return;
	r->event[ev] += 1;
	r->events += 1;
	if (emits(ev))
		file_emit(r, inode, 0);
	else if (cfg_file_events_max && r->events >= cfg_file_events_max)
		file_emit(r, inode, FF_EVENT_LIMIT);
}
