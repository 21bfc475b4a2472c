// SPDX-License-Identifier: GPL-2.0
/*
 * The file monitor's records that only userspace can take out of the maps: those an exited
 * process left open (named by its exit notice, or found by a sweep when notices were lost or
 * overflowed), those the ring buffer could not take (file_deferred), and everything still open
 * at shutdown. Each is taken with an atomic lookup-and-delete, so a record leaves once.
 */
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <time.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "../bpf/records.h"
#include "falconet.skel.h"
#include "output.h"
#include "monitors.h"
#include "mapwalk.h"

#define EXITED_MAX 4096

static __u64 sweeps;
static __u32 exited[EXITED_MAX];  /* pids whose exit notice overflowed its key slots */
static unsigned n_exited;
static bool exited_overflow;
static __u64 deferred_seen, notice_drops_seen;

static struct file_record flush_rec;

/* Takes the record under key out of map fd and emits it; false if it is gone (the kernel
 * emitted it meanwhile). ts (CLOCK_BOOTTIME, 0: keep) stamps records whose reads/writes did not
 * (process exit time, shutdown time): the kernel skips the clock on those hot events. */
static bool take_record(int fd, const void *key, __u32 why, __u64 ts)
{
	if (bpf_map_lookup_and_delete_elem(fd, key, &flush_rec))
		return false;
	if (ts > flush_rec.hdr.ts)
		flush_rec.hdr.ts = ts;
	flush_rec.hdr.flags = (flush_rec.hdr.flags & ~FF_PENDING) | why;
	size_t size = FILE_RECORD_FIXED + (flush_rec.path_len < FN_PATH_MAX ? flush_rec.path_len : FN_PATH_MAX);
	flush_rec.hdr.size = size;
	add_record(&flush_rec, size);
	return true;
}

static bool flush_key(struct falconet_bpf *skel, const struct file_key *k, __u32 why, __u64 ts)
{
	return take_record(bpf_map__fd(skel->maps.file_records), k, why, ts);
}

/* Records the ring buffer could not take: the kernel moved them to file_deferred under a sequence
 * number no program looks up again, so taking them races with nothing. */
void files_flush_deferred(struct falconet_bpf *skel)
{
	int fd = bpf_map__fd(skel->maps.file_deferred);
	size_t n = 0;
	__u64 *seqs = map_keys(fd, sizeof(*seqs), NULL, NULL, &n);
	sweeps++;
	for (size_t i = 0; i < n; i++)
		take_record(fd, &seqs[i], 0, 0);
	free(seqs);
}

/* Records an exited process left open, named by its exit notice (one from the ring buffer). */
void files_notice(struct falconet_bpf *skel, const void *data, size_t size)
{
	const struct pid_exit_notice *e = data;
	if (size < sizeof(*e))
		return;
	for (unsigned i = 0; i < FN_PID_SLOTS; i++)
		if (e->keys[i].ino)
			flush_key(skel, &e->keys[i], FF_EXITED, e->hdr.ts);
	if (!e->overflow)
		return;
	if (n_exited < EXITED_MAX)
		exited[n_exited++] = e->hdr.pid;
	else
		exited_overflow = true;
}

enum sweep_what { SWEEP_EXITED, SWEEP_DEAD, SWEEP_ALL };

static bool pid_exited(__u32 pid)
{
	for (unsigned i = 0; i < n_exited; i++)
		if (exited[i] == pid)
			return true;
	return false;
}

/* Emits and removes the file records selected by `what`. Keys are collected first because
 * deleting while iterating restarts get_next_key. */
static bool sweep_wants(const void *k, void *ctx)
{
	const struct file_key *key = k;
	enum sweep_what what = *(enum sweep_what *)ctx;
	switch (what) {
	case SWEEP_ALL:
		return true;
	case SWEEP_EXITED:
		return exited_overflow || pid_exited(key->pid);
	case SWEEP_DEAD:
		return kill(key->pid, 0) && errno == ESRCH;
	}
	return false;
}

static void sweep_files(struct falconet_bpf *skel, enum sweep_what what)
{
	size_t n = 0;
	struct file_key *keys = map_keys(bpf_map__fd(skel->maps.file_records), sizeof(*keys), sweep_wants, &what, &n);
	__u32 why = what == SWEEP_ALL ? FF_SHUTDOWN : FF_EXITED;
	__u64 ts = now_ns(CLOCK_BOOTTIME);

	sweeps++;
	for (size_t i = 0; i < n; i++)
		flush_key(skel, &keys[i], why, ts);
	free(keys);
}

void files_tick(struct falconet_bpf *skel)
{
	if (!n_exited && !exited_overflow)
		return;
	sweep_files(skel, SWEEP_EXITED);
	n_exited = 0;
	exited_overflow = false;
}

void files_stats_due(struct falconet_bpf *skel, __u64 deferred, __u64 notice_drops)
{
	if (deferred != deferred_seen) {
		deferred_seen = deferred;
		files_flush_deferred(skel);
	}
	/* an exit notice was lost (ring buffer full): find records of dead processes */
	if (notice_drops != notice_drops_seen) {
		notice_drops_seen = notice_drops;
		sweep_files(skel, SWEEP_DEAD);
	}
}

void files_shutdown(struct falconet_bpf *skel)
{
	if (n_exited)
		sweep_files(skel, SWEEP_EXITED);
	files_flush_deferred(skel);
	sweep_files(skel, SWEEP_ALL);
}

__u64 files_sweeps(void)
{
	return sweeps;
}
