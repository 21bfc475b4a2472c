// SPDX-License-Identifier: GPL-2.0
/*
 * Sensor side of the process monitor (see monitors.h): sets the event mask and rate, and turns
 * the kernel's per-process suppressed/lost counters (map proc_counts) into THROTTLED records,
 * one per process per window (PROC_WINDOW_NS) in which its counts grew, plus a final one when
 * the process has exited or the sensor shuts down. Kernel counters only grow; this side keeps
 * what it reported and emits differences, so nothing is counted twice or dropped in a race.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "../bpf/records.h"
#include "../bpf/proc_syscalls.h"
#include "falconet.skel.h"
#include "monitors.h"
#include "output.h"

#define PROC_WINDOW_NS 1000000000ULL
#define TABLE_BITS 12

/* What was reported so far for one bucket. */
struct reported {
	struct reported *next;
	struct proc_bucket_key key;
	__u64 last_end;
	__u32 suppressed[PE_MAX];
	__u32 lost[PE_MAX];
};

#ifndef __NR_fchmodat2
#define __NR_fchmodat2 452 /* Linux 6.6; the same number on every architecture */
#endif

/* The shared exit program's table (cfg_sc_kind), from the list the enter programs come from. */
struct sc_entry {
	const char *name;
	int nr;
	__u32 kind;
};
#define PROC_SYSCALL(name, EV, SHAPE, ...) { #name, __NR_##name, P_SC_KIND(EV, SHAPE, 0) },
#define PROC_SYSCALL_EXIT(name, EV, SHAPE, NEED) { #name, __NR_##name, P_SC_KIND(EV, SHAPE, NEED) },
static const struct sc_entry sc_entries[] = {
#include "../bpf/proc_syscalls.def"
};
#undef PROC_SYSCALL
#undef PROC_SYSCALL_EXIT

static struct reported *table[1u << TABLE_BITS];
static struct reported orphan_reported;
static __u64 next_window;
static bool enabled;
static int ncpu;

static unsigned slot(const struct proc_bucket_key *k)
{
	__u64 h = ((__u64)k->tgid * 0x9E3779B97F4A7C15ULL) ^ k->start;
	return (h ^ (h >> 29)) & ((1u << TABLE_BITS) - 1);
}

static struct reported *find(const struct proc_bucket_key *k, bool create)
{
	struct reported **pp = &table[slot(k)];
	for (struct reported *r = *pp; r; r = r->next)
		if (r->key.tgid == k->tgid && r->key.start == k->start)
			return r;
	if (!create)
		return NULL;
	struct reported *r = calloc(1, sizeof(*r));
	if (!r)
		die("out of memory");
	r->key = *k;
	r->next = *pp;
	*pp = r;
	return r;
}

static void forget(const struct proc_bucket_key *k)
{
	for (struct reported **pp = &table[slot(k)]; *pp; pp = &(*pp)->next) {
		struct reported *r = *pp;
		if (r->key.tgid == k->tgid && r->key.start == k->start) {
			*pp = r->next;
			free(r);
			return;
		}
	}
}

/* Emits the growth of (suppressed, lost) since *rep as one THROTTLED record; false if none. */
static bool emit_delta(const struct rec_hdr *hdr, const __u32 *suppressed, const __u32 *lost,
		       struct reported *rep, __u64 first_ns, bool exited, __u64 now)
{
	static struct proc_throttle_record t;
	memset(&t, 0, sizeof(t));
	for (int i = 0; i < PE_MAX; i++) {
		t.suppressed[i] = suppressed[i] - rep->suppressed[i];
		t.lost[i] = lost[i] - rep->lost[i];
		t.suppressed_total += t.suppressed[i];
		t.lost_total += t.lost[i];
	}
	if (!t.suppressed_total && !t.lost_total)
		return false;
	if (hdr)
		t.hdr = *hdr;
	t.hdr.type = FN_REC_PROC;
	t.hdr.size = sizeof(t);
	t.hdr.flags = 0;
	t.event = PE_THROTTLED;
	t.exited = exited;
	t.window_start = rep->last_end ? rep->last_end : first_ns;
	t.window_end = now;
	t.hdr.ts_first = t.window_start;
	t.hdr.ts = now;
	memcpy(rep->suppressed, suppressed, sizeof(rep->suppressed));
	memcpy(rep->lost, lost, sizeof(rep->lost));
	rep->last_end = now;
	add_record(&t, sizeof(t));
	return true;
}

static void sweep(struct falconet_bpf *skel, __u64 now, bool all)
{
	int fd = bpf_map__fd(skel->maps.proc_counts);
	struct proc_bucket_key key, next, *gone = NULL;
	size_t ngone = 0, cap = 0;
	static struct proc_counts b;
	void *prev = NULL;

	while (bpf_map_get_next_key(fd, prev, &next) == 0) {
		key = next;
		prev = &key;
		if (bpf_map_lookup_elem(fd, &key, &b))
			continue;
		struct reported *rep = find(&key, true);
		bool exited = b.exited != 0;
		emit_delta(&b.hdr, b.suppressed, b.lost, rep, b.first_ns, exited, now);
		if (exited) {
			if (ngone == cap) {
				cap = cap ? cap * 2 : 256;
				gone = realloc(gone, cap * sizeof(*gone));
				if (!gone)
					die("out of memory");
			}
			gone[ngone++] = key;
		}
	}
	/* deleting while iterating would restart get_next_key */
	for (size_t i = 0; i < ngone; i++) {
		/* the kernel skips its exit-time lookup while no entry is counted (proc_counts_live) */
		if (bpf_map_delete_elem(fd, &gone[i]) == 0)
			__sync_fetch_and_sub(&skel->bss->proc_counts_live, 1);
		forget(&gone[i]);
	}
	free(gone);

	/* lost records of processes that had no bucket: pid 0 */
	int ofd = bpf_map__fd(skel->maps.proc_orphans);
	__u32 zero = 0;
	struct proc_orphan *per = calloc(ncpu, sizeof(*per));
	if (!per)
		die("out of memory");
	if (bpf_map_lookup_elem(ofd, &zero, per) == 0) {
		__u32 lost[PE_MAX] = { 0 }, none[PE_MAX] = { 0 };
		for (int c = 0; c < ncpu; c++)
			for (int i = 0; i < PE_MAX; i++)
				lost[i] += per[c].lost[i];
		emit_delta(NULL, none, lost, &orphan_reported, now, all, now);
	}
	free(per);
}

void proc_configure(struct falconet_bpf *skel)
{
	enabled = (opt.monitors & FN_MON_PROCESS) != 0;
	skel->rodata->cfg_proc_rate = opt.proc_rate;
	skel->rodata->cfg_proc_events = opt.proc_events ? opt.proc_events : ~0ULL;
	ncpu = libbpf_num_possible_cpus();
	if (ncpu <= 0)
		die("cannot count CPUs");
	for (size_t i = 0; i < sizeof(sc_entries) / sizeof(sc_entries[0]); i++)
		if (sc_entries[i].nr >= 0 && sc_entries[i].nr < P_SC_MAX)
			skel->rodata->cfg_sc_kind[sc_entries[i].nr] = sc_entries[i].kind;
}

struct bpf_link *proc_attach_exit(struct falconet_bpf *skel, const char *enter_prog)
{
	const char *name = !strncmp(enter_prog, "proc_enter_", 11) ? enter_prog + 11 : NULL;
	errno = 0;
	if (!name)
		return NULL;
	for (size_t i = 0; i < sizeof(sc_entries) / sizeof(sc_entries[0]); i++) {
		if (strcmp(sc_entries[i].name, name))
			continue;
		if (sc_entries[i].nr < 0 || sc_entries[i].nr >= P_SC_MAX) {
			errno = ERANGE;
			return NULL;
		}
		char tp[64];
		snprintf(tp, sizeof(tp), "sys_exit_%s", name);
		return bpf_program__attach_tracepoint(skel->progs.proc_exit_syscall, "syscalls", tp);
	}
	errno = ENOENT; /* an enter program without an entry in proc_syscalls.def */
	return NULL;
}

void proc_start(struct falconet_bpf *skel)
{
	(void)skel;
	next_window = now_ns(CLOCK_BOOTTIME) + PROC_WINDOW_NS;
}

void proc_tick(struct falconet_bpf *skel, __u64 boot_ns)
{
	if (!enabled || boot_ns < next_window)
		return;
	sweep(skel, boot_ns, false);
	next_window = boot_ns + PROC_WINDOW_NS;
}

/* Runs after the kernel was paused and the ring buffer drained: every count is final. */
void proc_shutdown(struct falconet_bpf *skel)
{
	if (!enabled)
		return;
	sweep(skel, now_ns(CLOCK_BOOTTIME), true);
}
