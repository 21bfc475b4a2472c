/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Process monitor (program names start with proc_): one FN_REC_PROC record per process,
 * credential, extended file and network event, on tracepoints only.
 *
 * - fork/exec/exit come from the sched tp_btf tracepoints (they fire for every path into
 *   copy_process/exec/do_exit, and fork fires before the child can run, so a child's records
 *   never precede its FORK). Failed clones and execs come from the syscall exit tracepoints.
 * - Everything else is a syscall: the enter hook normalises the arguments into a per-tid pending
 *   entry, the exit hook builds the record with the return value. Paths are resolved at exit:
 *   walk_path() of the cwd or dirfd + '/' + the user string (no '..' or symlink normalisation).
 * - Noise control: cfg_proc_events (bit per enum fn_proc_event) filters at enter; a token
 *   bucket per process (tgid + start time: a slot of proc_bucket_slots, or task storage when the
 *   slot is taken), cfg_proc_rate events/s with a
 *   one-second burst, suppresses the rest and counts them per type in proc_counts. A new process
 *   starts with its parent's balance, so a fork storm cannot mint fresh budget per child. Records
 *   the ring buffer refuses are counted there too (and in ST_PROC_DROP); the sensor turns the counts into
 *   THROTTLED records (sensor/proc.c), so every event is either reported or counted.
 */
#pragma once
#include "common.bpf.h"

const volatile __u64 cfg_proc_events = ~0ULL; /* bit (1 << enum fn_proc_event): event enabled */
const volatile __u32 cfg_proc_rate = 2000;    /* events/s per process; 0: no rate limit */

#define NSEC 1000000000ULL
#define P_AT_FDCWD -100
#define P_AT_REMOVEDIR 0x200
#define P_PROT_EXEC 0x4
#define P_MAP_ANONYMOUS 0x20
#define P_CLONE_THREAD 0x10000
#define P_CLONE_VM 0x100
#define P_CLONE_VFORK 0x4000
#define P_SIGCHLD 17
#define P_S_IFMT 00170000
#define P_S_IFSOCK 0140000
#define P_NSFS_MAGIC 0x6e736673
#define P_EAGAIN 11
#define P_AF_UNIX 1
#define P_AF_INET 2
#define P_AF_INET6 10

/* ---- maps ---- */
struct proc_pending {
	__u32 ev;
	__u32 nr;
	__s32 dfd[2];          /* base of upath[i]: AT_FDCWD or a directory fd */
	__s32 fd;              /* fd-based calls: the fd */
	__u32 live;            /* 1: a call is in flight (the entry is reused, never deleted) */
	__u64 upath[2];        /* user path strings (0: none) */
	__u64 a[6];            /* normalised integer arguments (proc_record.arg) */
	__u32 id_old[3];
	__u32 pad2;
};



/* Writes of one string may start at any offset below FN_PROC_DATA_MAX: the slack keeps the
 * verifier's worst case inside the map value. */
struct proc_scratch {
	struct proc_record r;
	char slack[8192 + 128];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct proc_scratch);
} proc_scratch SEC(".maps");

/* Token bucket per process, held by its group leader's task state. */
struct proc_bucket {
	__u64 tokens;          /* ns-scaled: one event costs NSEC */
	__u64 last_ns;         /* last refill */
	__u32 live;            /* 1: initialised */
	__u32 pad;
};

/* Per-task state in task storage rather than hashes keyed by tid or (tgid, start): a hash update
 * or delete takes a bucket lock with interrupts off, ~0.5 µs each on this kind of guest, and a
 * storm pays several per process. Task storage is found from the task itself and freed with it.
 * It is now the fallback behind the slots below (a slot held by another live task); a thread
 * that execs keeps its state there (its tid changes, its task does not). */
struct proc_task {
	struct proc_pending p; /* this task's syscall in flight */
	struct proc_bucket b;  /* the process's rate limit: used in the group leader's state */
};

struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct proc_task);
} proc_tasks SEC(".maps");

/* Lock-free slots in front of the task storage. Creating a task's storage takes two locks with
 * interrupts off (~0.9 µs on this kind of guest), and every new process needed one: at fork for its
 * inherited balance, or at its first syscall for the pending entry. A slot of an array is found
 * by id and claimed with one compare-and-swap; the task storage above is used only when the slot
 * is held by another live task whose id shares it (the same exact state, just slower).
 *
 * Pending entries: slot tid % PEND_SLOTS, owned by tid from the enter hook to the exit hook. */
#define PEND_SLOTS 16384
struct proc_pend_slot {
	__u32 owner;           /* tid; 0: free */
	__u32 pad;
	struct proc_pending p;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, PEND_SLOTS);
	__type(key, __u32);
	__type(value, struct proc_pend_slot);
} proc_pend_slots SEC(".maps");

/* Buckets: slot tgid % BUCKET_SLOTS, owned by the process (tgid, group leader's start) from its
 * first rate-limited event, or from its fork when it inherits a balance, to its exit. A slot whose
 * owner has this tgid but another start belongs to a dead process (one tgid is never live twice),
 * so the new one takes it over. */
#define BUCKET_SLOTS 32768
struct proc_bucket_slot {
	__u32 tgid;            /* 0: free */
	__u32 pad;
	__u64 start;
	struct proc_bucket b;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, BUCKET_SLOTS);
	__type(key, __u32);
	__type(value, struct proc_bucket_slot);
} proc_bucket_slots SEC(".maps");

/* Pending entries held in task storage (the slot was another task's), or more (an entry of a task
 * that died in its call is never taken back; harmless). While it is 0, which is always unless
 * slots collide, a lookup that finds no slot needs no task-storage call: the exit of every
 * syscall whose enter filtered the call out (most mmaps) pays only the slot's load. */
volatile __s64 proc_ts_pending;

static __always_inline struct proc_pend_slot *pend_slot(__u32 tid)
{
	__u32 k = tid & (PEND_SLOTS - 1);
	return bpf_map_lookup_elem(&proc_pend_slots, &k);
}

/* The in-flight call of the current task (tid: its id when the call began), or NULL. */
static __always_inline struct proc_pending *pending_of(__u32 tid)
{
	struct proc_pend_slot *ps = pend_slot(tid);
	if (ps && ps->owner == tid)
		return ps->p.live ? &ps->p : NULL;
	if (proc_ts_pending <= 0)
		return NULL;
	struct proc_task *s = bpf_task_storage_get(&proc_tasks, bpf_get_current_task_btf(), 0, 0);
	return s && s->p.live ? &s->p : NULL;
}

/* Ends the call in flight (pp from pending_of(tid)) and frees tid's slot if it holds it. */
static __always_inline void pend_done(struct proc_pending *pp, __u32 tid)
{
	pp->live = 0;
	struct proc_pend_slot *ps = pend_slot(tid);
	if (ps && ps->owner == tid && pp == &ps->p)
		ps->owner = 0;
	else
		__sync_fetch_and_add(&proc_ts_pending, -1); /* pp was in task storage */
}

/* Counts only for processes that had suppressed or lost events. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct proc_bucket_key);
	__type(value, struct proc_counts);
} proc_counts SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct proc_counts);
} proc_counts_scratch SEC(".maps");

/* Lost records of processes that have no bucket (map full): reported as pid 0. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct proc_orphan);
} proc_orphans SEC(".maps");

/* ---- gates ---- */
static __always_inline bool proc_mon_on(void)
{
	return (cfg_monitors & FN_MON_PROCESS) && !fn_paused;
}

static __always_inline bool proc_ev_on(__u32 ev)
{
	return proc_mon_on() && ev < PE_MAX && ((cfg_proc_events >> ev) & 1);
}

/* tgid: the current task's, where the hook has it already */
static __always_inline bool proc_on_tgid(__u32 ev, __u32 tgid)
{
	return proc_ev_on(ev) && !is_self(tgid);
}

/* the helper call only once the cheap tests pass */
static __always_inline bool proc_on(__u32 ev)
{
	return proc_ev_on(ev) && !is_self(bpf_get_current_pid_tgid() >> 32);
}

/* ---- rate limit ---- */
static __always_inline struct proc_bucket_key bucket_key_of(struct task_struct *t)
{
	struct proc_bucket_key k = {};
	k.tgid = t->tgid; /* = bpf_get_current_pid_tgid() >> 32, without a second helper call */
	k.start = t->group_leader->start_boottime;
	return k;
}

static __always_inline struct proc_bucket_key cur_bucket_key(void)
{
	return bucket_key_of(bpf_get_current_task_btf());
}

static __always_inline void refill(struct proc_bucket *b, __u64 now)
{
	__u64 el = now > b->last_ns ? now - b->last_ns : 0;
	if (el > NSEC)
		el = NSEC;
	__u64 t = b->tokens + el * cfg_proc_rate;
	__u64 burst = (__u64)cfg_proc_rate * NSEC;
	b->tokens = t > burst ? burst : t;
	b->last_ns = now;
}

static __always_inline struct proc_bucket_slot *bucket_slot(__u32 tgid)
{
	__u32 k = tgid & (BUCKET_SLOTS - 1);
	return bpf_map_lookup_elem(&proc_bucket_slots, &k);
}

/* Takes slot bs for process (tgid, start): free, or left by a dead process of the same tgid. */
static __always_inline bool bucket_claim(struct proc_bucket_slot *bs, __u32 tgid, __u64 start)
{
	if (bs->tgid != tgid && __sync_val_compare_and_swap(&bs->tgid, 0, tgid) != 0)
		return false;
	bs->start = start;
	return true;
}

static __always_inline struct proc_bucket *bucket_set(struct proc_bucket *b, __u64 tokens, __u64 now)
{
	b->tokens = tokens;
	b->last_ns = now;
	b->live = 1;
	return b;
}

/* The current process's bucket, created full when missing; NULL if it cannot be allocated. */
static __noinline struct proc_bucket *bucket_get(__u64 now, struct task_struct *t)
{
	struct task_struct *leader = t->group_leader;
	__u32 tgid = t->tgid;
	__u64 start = leader->start_boottime;
	struct proc_bucket_slot *bs = bucket_slot(tgid);
	if (bs && bs->tgid == tgid && bs->start == start && bs->b.live)
		return &bs->b;
	/* a bucket kept in task storage (its slot was taken when it was made) */
	struct proc_task *s = bpf_task_storage_get(&proc_tasks, leader, 0, 0);
	if (s && s->b.live)
		return &s->b;
	if (bs && bucket_claim(bs, tgid, start))
		return bucket_set(&bs->b, (__u64)cfg_proc_rate * NSEC, now);
	s = bpf_task_storage_get(&proc_tasks, leader, 0, BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (!s)
		return NULL;
	return bucket_set(&s->b, (__u64)cfg_proc_rate * NSEC, now);
}

/* The current process's bucket if it has one (none is created); t: the current task. */
static __noinline struct proc_bucket *bucket_find(struct task_struct *t)
{
	struct task_struct *leader = t->group_leader;
	__u32 tgid = t->tgid;
	struct proc_bucket_slot *bs = bucket_slot(tgid);
	if (bs && bs->tgid == tgid && bs->start == leader->start_boottime && bs->b.live)
		return &bs->b;
	struct proc_task *s = bpf_task_storage_get(&proc_tasks, leader, 0, 0);
	return s && s->b.live ? &s->b : NULL;
}

/* A new process (child, not running yet) starts with balance tokens as of now. */
static __noinline void bucket_inherit(struct task_struct *child, __u64 tokens, __u64 now)
{
	__u32 tgid = child->tgid;
	struct proc_bucket_slot *bs = bucket_slot(tgid);
	if (bs && bucket_claim(bs, tgid, child->start_boottime)) {
		bucket_set(&bs->b, tokens, now);
		return;
	}
	struct proc_task *cs = bpf_task_storage_get(&proc_tasks, child, 0, BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (cs)
		bucket_set(&cs->b, tokens, now);
}

/* At the process's exit: its slot is free again (task storage goes with the task). */
static __always_inline void bucket_release(__u32 tgid, __u64 start)
{
	struct proc_bucket_slot *bs = bucket_slot(tgid);
	if (bs && bs->tgid == tgid && bs->start == start) {
		bs->b.live = 0;
		bs->tgid = 0;
	}
}

/* Entries of proc_counts, or more: counted before each insert (taken back if it fails), and the
 * sensor takes one off for each entry it deletes. While it is 0 (no process has had an event
 * suppressed or lost) an exiting process has no counts to mark, and its exit skips the hash
 * lookup: a cold bucket of a 65,536-bucket table costs ~0.5 µs on this kind of guest. */
volatile __s64 proc_counts_live;

/* The current process's counts, created (with its header) when missing; NULL if full. */
static __noinline struct proc_counts *counts_get(__u64 now)
{
	struct proc_bucket_key k = cur_bucket_key();
	struct proc_counts *c = bpf_map_lookup_elem(&proc_counts, &k);
	if (c)
		return c;
	__u32 zero = 0;
	struct proc_counts *s = bpf_map_lookup_elem(&proc_counts_scratch, &zero);
	if (!s)
		return NULL;
	__builtin_memset(s, 0, sizeof(*s));
	s->first_ns = now;
	fill_hdr_task(&s->hdr, FN_REC_PROC, now);
	__sync_fetch_and_add(&proc_counts_live, 1);
	if (bpf_map_update_elem(&proc_counts, &k, s, BPF_NOEXIST))
		__sync_fetch_and_add(&proc_counts_live, -1); /* another CPU made it (and counted it), or full */
	return bpf_map_lookup_elem(&proc_counts, &k);
}

/* true: emit the event; false: suppressed and counted. */
/* t: the current task (BTF pointer), which the hooks read once: a helper call costs 30-130 ns on
 * this kind of guest, and a hook used to make one per step for the same pointer. */
static __noinline bool rate_allow(__u32 ev, __u64 now, struct task_struct *t)
{
	if (!cfg_proc_rate || ev >= PE_MAX)
		return true;
	struct proc_bucket *b = bucket_get(now, t);
	if (!b)
		return true; /* no state to limit with: let it through rather than lose it uncounted */
	refill(b, now);
	if (b->tokens >= NSEC) {
		b->tokens -= NSEC;
		return true;
	}
	struct proc_counts *c = counts_get(now);
	if (!c)
		return true; /* cannot count a suppression: report the event instead */
	__sync_fetch_and_add(&c->suppressed[BOUND(ev, 63)], 1);
	stat_inc(ST_PROC_THROTTLED);
	return false;
}

static __noinline void count_lost(__u32 ev, __u64 now)
{
	stat_inc(ST_PROC_DROP);
	if (ev >= PE_MAX)
		return;
	struct proc_counts *c = counts_get(now);
	if (c) {
		__sync_fetch_and_add(&c->lost[BOUND(ev, 63)], 1);
		return;
	}
	__u32 zero = 0;
	struct proc_orphan *o = bpf_map_lookup_elem(&proc_orphans, &zero);
	if (o)
		o->lost[BOUND(ev, 63)] += 1;
}

/* ---- record building ---- */
static __noinline struct proc_record *rec_begin(__u32 ev, __u32 nr, long ret, __u64 now, struct task_struct *t)
{
	__u32 zero = 0;
	struct proc_scratch *s = bpf_map_lookup_elem(&proc_scratch, &zero);
	if (!s)
		return NULL;
	struct proc_record *r = &s->r;
	__u64 *w = (__u64 *)r;
#pragma unroll
	for (int k = 0; k < (int)(PROC_RECORD_FIXED / 8); k++)
		w[k] = 0;
	fill_hdr_of(&r->hdr, FN_REC_PROC, now, t);
	r->event = ev;
	r->syscall = nr;
	r->ret = ret;
	r->parent_start = t->real_parent->start_boottime;
	/* what bpf_get_current_cgroup_id() returns (cgroup_id(task_dfl_cgroup(current))), as
	 * loads: a helper call costs more than the three loads on this kind of guest */
	r->cgroup_id = t->cgroups->dfl_cgrp->kn->id;
	const struct cred *cr = t->cred;
	r->euid = cr->euid.val;
	r->egid = cr->egid.val;
	return r;
}

static __noinline void rec_emit(struct proc_record *r, __u32 len, __u64 now)
{
	/* bounded in 64 bits before the clamp: 6.1's verifier does not carry a 32-bit compare's
	 * bound over to the 64-bit copy the size is made of */
	__u64 size = PROC_RECORD_FIXED + BOUND(len, 0x7fff);
	if (size > sizeof(*r))
		size = sizeof(*r);
	r->hdr.size = size;
	if (bpf_ringbuf_output(&events, r, size, rb_flags(size))) {
		count_lost(r->event, now);
		return;
	}
	stat_inc(ST_PROC_RECORDS);
}

#define DATA(r, off) (&(r)->data[BOUND((off), FN_PROC_DATA_MAX - 1)])
#define ROOM(off) ((off) <= FN_PROC_DATA_MAX - 8192)

static __always_inline void set_len(struct proc_record *r, __u32 idx, __u32 len)
{
	/* idx is always a constant < FN_PROC_STRS at the call sites; the mask (which clang cannot
	 * drop, unlike a compare) is what lets the verifier see it */
	r->str_len[BOUND(idx, FN_PROC_STRS - 1)] = len;
}

/* Appends the user string u as string idx; returns the new data length. */
static __noinline __u32 put_user_str(struct proc_record *r, __u32 idx, __u32 off, __u64 u)
{
	if (!u || !ROOM(off))
		return off;
	long n = bpf_probe_read_user_str(DATA(r, off), FN_PATH_MAX, (const void *)u);
	if (n <= 0)
		return off;
	if (n >= FN_PATH_MAX)
		r->hdr.flags |= PF_STR_TRUNC;
	n -= 1;
	set_len(r, idx, n);
	return off + n;
}

static __noinline __u32 put_kernel_str(struct proc_record *r, __u32 idx, __u32 off, const char *k)
{
	if (!k || !ROOM(off))
		return off;
	long n = bpf_probe_read_kernel_str(DATA(r, off), FN_PATH_MAX, k);
	if (n <= 0)
		return off;
	if (n >= FN_PATH_MAX)
		r->hdr.flags |= PF_STR_TRUNC;
	n -= 1;
	set_len(r, idx, n);
	return off + n;
}

/* Appends the full path of (dentry, mnt) as string idx. */
static __noinline __u32 put_dentry(struct proc_record *r, __u32 idx, __u32 off, struct dentry *d,
				   struct vfsmount *m)
{
	if (!d || !ROOM(off))
		return off;
	__u16 name_off = 0;
	int n = walk_path(d, m, DATA(r, off), &name_off, &r->hdr.flags);
	if (n <= 0)
		return off;
	set_len(r, idx, n);
	return off + n;
}

static __noinline __u32 put_file(struct proc_record *r, __u32 idx, __u32 off, struct file *f)
{
	if (!f)
		return off;
	if (cfg_kf_rdonly_cast) {
		/* f as a BTF pointer, whatever it came as: two loads, not two probe-read calls */
		struct file *bf = bpf_rdonly_cast(f, bpf_core_type_id_kernel(struct file));
		return put_dentry(r, idx, off, bf->f_path.dentry, bf->f_path.mnt);
	}
	return put_dentry(r, idx, off, BPF_CORE_READ(f, f_path.dentry), BPF_CORE_READ(f, f_path.mnt));
}

/* The current task's file of fd: direct loads where bpf_rdonly_cast exists (6.2+; one probe-read
 * call per pointer of the fd table before). */
static __always_inline struct file *cur_fd_file(__u64 fd)
{
	if (cfg_kf_rdonly_cast)
		return fd_file_task(bpf_get_current_task_btf(), fd);
	return fd_to_file((struct task_struct *)bpf_get_current_task(), fd);
}

/* Appends dirfd/cwd + '/' + the user path (or the user path alone when absolute). */
static __noinline __u32 put_path_at(struct proc_record *r, __u32 idx, __u32 off, __s32 dfd, __u64 u)
{
	if (!u || !ROOM(off))
		return off;
	char c = 0;
	bpf_probe_read_user(&c, 1, (const void *)u);
	if (c == '/') {
		r->hdr.flags |= idx == 0 ? PF_PATH_ABS : PF_PATH2_ABS;
		return put_user_str(r, idx, off, u);
	}
	struct task_struct *t = (struct task_struct *)bpf_get_current_task();
	struct dentry *d;
	struct vfsmount *m;
	if (dfd == P_AT_FDCWD) {
		d = BPF_CORE_READ(t, fs, pwd.dentry);
		m = BPF_CORE_READ(t, fs, pwd.mnt);
	} else {
		struct file *f = fd_to_file(t, (__u32)dfd);
		if (!f)
			return put_user_str(r, idx, off, u);
		d = BPF_CORE_READ(f, f_path.dentry);
		m = BPF_CORE_READ(f, f_path.mnt);
	}
	__u16 name_off = 0;
	int n = walk_path(d, m, DATA(r, off), &name_off, &r->hdr.flags);
	if (n < 0)
		n = 0;
	__u32 p = off + n;
	if (!c) { /* empty path (AT_EMPTY_PATH): the directory itself */
		set_len(r, idx, n);
		return p;
	}
	if (n != 1) /* the root walks to "/" already */
		r->data[BOUND(p++, FN_PROC_DATA_MAX - 1)] = '/';
	long k = bpf_probe_read_user_str(DATA(r, p), FN_PATH_MAX, (const void *)u);
	if (k <= 0)
		k = 1;
	if (k >= FN_PATH_MAX)
		r->hdr.flags |= PF_STR_TRUNC;
	p += k - 1;
	set_len(r, idx, p - off);
	return p;
}

/* ---- sockets ---- */
static __always_inline struct sock *sock_of_fd(long fd)
{
	if (fd < 0)
		return NULL;
	struct file *f = fd_to_file((struct task_struct *)bpf_get_current_task(), fd);
	if (!f)
		return NULL;
	__u32 mode = BPF_CORE_READ(f, f_inode, i_mode);
	if ((mode & P_S_IFMT) != P_S_IFSOCK)
		return NULL;
	struct socket *s = BPF_CORE_READ(f, private_data);
	return BPF_CORE_READ(s, sk);
}

/* unix socket path of sk as string idx (abstract names keep their leading NUL). */
static __noinline __u32 put_unix(struct proc_record *r, __u32 idx, __u32 off, struct sock *sk)
{
	if (!sk || !ROOM(off))
		return off;
	struct unix_address *ua = BPF_CORE_READ((struct unix_sock *)sk, addr);
	if (!ua)
		return off;
	int len = BPF_CORE_READ(ua, len) - 2; /* minus sun_family */
	if (len <= 0)
		return off;
	if (len > 108)
		len = 108;
	char *src = (char *)ua + bpf_core_field_offset(struct unix_address, name) + 2;
	bpf_probe_read_kernel(DATA(r, off), BOUND(len, 127), src);
	/* pathname sockets may count the terminating NUL */
	if (len > 1 && r->data[BOUND(off, FN_PROC_DATA_MAX - 1)] != 0 &&
	    r->data[BOUND(off + len - 1, FN_PROC_DATA_MAX - 1)] == 0)
		len -= 1;
	set_len(r, idx, len);
	return off + len;
}

enum { SOCK_OWN = 0, SOCK_LOCAL2 = 1, SOCK_PEER = 2 };

/* Addresses of sk: SOCK_OWN puts the local address in addr (unix path: str0); SOCK_LOCAL2 puts
 * it in addr2 (str1); SOCK_PEER also puts the peer in addr (str0). */
static __noinline __u32 put_sock(struct proc_record *r, __u32 off, struct sock *sk, __u32 mode)
{
	if (!sk)
		return off;
	struct fn_sockaddr *local = mode == SOCK_OWN ? &r->addr : &r->addr2;
	struct fn_sockaddr *peer = mode == SOCK_PEER ? &r->addr : NULL;
	__u32 li = mode == SOCK_OWN ? 0 : 1, pi = 0;
	__u16 fam = BPF_CORE_READ(sk, __sk_common.skc_family);
	if (local)
		local->family = fam;
	if (peer)
		peer->family = fam;
	if (fam == P_AF_INET) {
		if (local) {
			__u32 a = BPF_CORE_READ(sk, __sk_common.skc_rcv_saddr);
			__builtin_memcpy(local->addr, &a, 4);
			local->port = BPF_CORE_READ(sk, __sk_common.skc_num);
		}
		if (peer) {
			__u32 a = BPF_CORE_READ(sk, __sk_common.skc_daddr);
			__builtin_memcpy(peer->addr, &a, 4);
			peer->port = __builtin_bswap16(BPF_CORE_READ(sk, __sk_common.skc_dport));
		}
	} else if (fam == P_AF_INET6) {
		if (local) {
			BPF_CORE_READ_INTO((struct in6_addr *)local->addr, sk, __sk_common.skc_v6_rcv_saddr);
			local->port = BPF_CORE_READ(sk, __sk_common.skc_num);
		}
		if (peer) {
			BPF_CORE_READ_INTO((struct in6_addr *)peer->addr, sk, __sk_common.skc_v6_daddr);
			peer->port = __builtin_bswap16(BPF_CORE_READ(sk, __sk_common.skc_dport));
		}
	} else if (fam == P_AF_UNIX) {
		/* strings are stored in index order: the peer's (str0) first */
		if (peer)
			off = put_unix(r, pi, off, BPF_CORE_READ((struct unix_sock *)sk, peer));
		off = put_unix(r, li, off, sk);
	}
	return off;
}

/* A sockaddr from user memory (connect/bind). */
static __noinline __u32 put_user_sockaddr(struct proc_record *r, __u32 idx, __u32 off, __u64 u,
					  __u64 ulen, struct fn_sockaddr *out)
{
	if (!u || ulen < 2)
		return off;
	__u16 fam = 0;
	bpf_probe_read_user(&fam, 2, (const void *)u);
	out->family = fam;
	if (fam == P_AF_INET && ulen >= 8) {
		__u16 port = 0;
		bpf_probe_read_user(&port, 2, (const void *)(u + 2));
		out->port = __builtin_bswap16(port);
		bpf_probe_read_user(out->addr, 4, (const void *)(u + 4));
	} else if (fam == P_AF_INET6 && ulen >= 24) {
		__u16 port = 0;
		bpf_probe_read_user(&port, 2, (const void *)(u + 2));
		out->port = __builtin_bswap16(port);
		bpf_probe_read_user(out->addr, 16, (const void *)(u + 8));
	} else if (fam == P_AF_UNIX && ulen > 2 && ROOM(off)) {
		__u32 len = ulen - 2;
		if (len > 108)
			len = 108;
		bpf_probe_read_user(DATA(r, off), BOUND(len, 127), (const void *)(u + 2));
		char first = r->data[BOUND(off, FN_PROC_DATA_MAX - 1)];
		if (first) { /* pathname: up to the first NUL */
			__u32 n = 0;
			for (int i = 0; i < 108; i++) {
				if (i >= len || !r->data[BOUND(off + i, FN_PROC_DATA_MAX - 1)])
					break;
				n++;
			}
			len = n;
		}
		set_len(r, idx, len);
		off += len;
	}
	return off;
}

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
	struct proc_pend_slot *ps = pend_slot(tid);
	if (ps && (ps->owner == tid || __sync_val_compare_and_swap(&ps->owner, 0, tid) == 0)) {
		ps->p = p;
		return 0;
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
			struct proc_record *r = rec_begin(PE_FORK, nr, ctid, now, t);
			if (r) {
				r->arg[0] = ctgid;
				r->arg[1] = ctid;
				r->arg[2] = flags;
				r->arg[3] = cstart;
				if (thread)
					r->hdr.flags |= PF_THREAD;
				/* no pending clone: a kernel-internal fork (kthreads, io_uring workers, usermode
				 * helpers); EventSyscall is empty, nothing is missing */
				rec_emit(r, 0, now);
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
		struct proc_record *r = rec_begin(PE_EXIT, 0, 0, now, t);
		if (r) {
			r->arg[0] = (__u32)p->exit_code;
			r->arg[1] = group_dead ? 1 : 0;
			if (!group_dead)
				r->hdr.flags |= PF_THREAD;
			rec_emit(r, 0, now);
		}
	}
	/* a slot still held (the call never returned to its exit hook) */
	__u32 tid = t->pid;
	struct proc_pend_slot *ps = pend_slot(tid);
	if (ps && ps->owner == tid)
		ps->owner = 0;
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
