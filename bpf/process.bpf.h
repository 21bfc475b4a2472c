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
 *
 * This file: constants, maps, gates and the rate limit. Then, in this order (falconet.bpf.c
 * includes them after this file): process_record.bpf.h, process_syscalls.bpf.h,
 * process_sched.bpf.h.
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
	struct proc_pending p; /* its owner: proc_pend_owner below */
};

/* Each slot's owner (tid; 0: free), apart from the slots: the exit of every syscall whose enter
 * filtered the call out (most mmaps and mprotects) and every task exit read only this. 16,384 ×
 * 4 bytes = 64 KiB, 16 owners per cache line, where each owner used to lie in its 96-byte
 * slot in 1.5 MiB: a storm's exits found them cold. In a section (map) of its own: in .bss its
 * 16 pages put the scalars after it (proc_counts_live, proc_ts_pending) on a page apart from
 * those before it (fn_paused), and each page a hook reaches is dear in a new process
 * (docs/performance.md, eleventh pass). */
__u32 proc_pend_owner[PEND_SLOTS] SEC(".data.proc_owners") = {};

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

static __always_inline __u32 *pend_owner(__u32 tid)
{
	return &proc_pend_owner[tid & (PEND_SLOTS - 1)];
}

/* The in-flight call of the current task (tid: its id when the call began), or NULL. */
static __always_inline struct proc_pending *pending_of(__u32 tid)
{
	if (*pend_owner(tid) == tid) {
		struct proc_pend_slot *ps = pend_slot(tid);
		return ps && ps->p.live ? &ps->p : NULL;
	}
	if (proc_ts_pending <= 0)
		return NULL;
	struct proc_task *s = bpf_task_storage_get(&proc_tasks, bpf_get_current_task_btf(), 0, 0);
	return s && s->p.live ? &s->p : NULL;
}

/* Ends the call in flight (pp from pending_of(tid)) and frees tid's slot if it holds it. */
static __always_inline void pend_done(struct proc_pending *pp, __u32 tid)
{
	pp->live = 0;
	__u32 *o = pend_owner(tid);
	struct proc_pend_slot *ps = *o == tid ? pend_slot(tid) : NULL;
	if (ps && pp == &ps->p)
		*o = 0;
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
