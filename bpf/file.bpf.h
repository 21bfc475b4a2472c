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
__u32 pending_tids[PENDING_TID_BUCKETS] = {};

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

/* syscall arguments from the saved user registers (arm64's x0 holds the result at exit) */
#if defined(__TARGET_ARCH_arm64)
#define SC_ARG0(r) ((r)->orig_x0)
#define SC_ARG1(r) ((r)->regs[1])
#define SC_ARG2(r) ((r)->regs[2])
#else
#define SC_ARG0(r) ((r)->di)
#define SC_ARG1(r) ((r)->si)
#define SC_ARG2(r) ((r)->dx)
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
	__u32 fmode = f->f_mode;
	__u32 fflags = f->f_flags;
	if (!r->event[FE_OPEN] && !r->event[FE_CREATE])
		r->open_flags = fflags;
	if (fmode & FMODE_CREATED_BIT)
		count(r, inode, FE_CREATE);
	count(r, inode, FE_OPEN);
	/* O_TRUNC on an existing regular file truncates it (do_truncate → MODIFY in kflowd) */
	if ((fflags & O_TRUNC_BIT) && !(fmode & FMODE_CREATED_BIT) && (fmode & FMODE_WRITE_BIT))
		count(r, inode, FE_MODIFY);
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

static __noinline int pending_capture(struct inode *inode)
{
	if (!pending_active)
		return 0;
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct pending_op *p = pending_find(tid);
	if (!p || p->inode || p->done)
		return 0;
	__u32 mode = BPF_CORE_READ(inode, i_mode);
	if ((mode & S_IFMT_) == S_IFDIR_)
		return 0;
	if (!mode_tracked(mode)) {
		p->done = 1; /* a device, fifo or socket: not a file record */
		return 0;
	}
	p->inode = inode;
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

static __noinline int pending_end_nokf(long ret); /* file_compat.bpf.h (6.1) */

static __noinline int pending_end(long ret)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct pending_op *p = pending_find(tid);
	if (!p)
		return 0;
	if (ret == 0 && p->inode && !p->done) {
		struct inode *inode = bpf_rdonly_cast(p->inode, bpf_core_type_id_kernel(struct inode));
		struct file_record *r = pending_rec(p, inode, p->kind == PK_RENAME || p->kind == PK_LINK);
		if (r) {
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
				/* the record may predate the rename: take the new path (a record made
				 * just now, REC_SCRATCH, has it already) */
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
