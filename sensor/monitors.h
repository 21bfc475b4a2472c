/* SPDX-License-Identifier: GPL-2.0 */
/* Hooks each monitor implements in the sensor (files.c, sock.c, proc.c): configure rodata before
 * load, start after attach, tick every loop (~drain-ms; expiry timers), flush at shutdown. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <time.h>
#include <linux/types.h>

struct falconet_bpf;

struct sensor_opts {
	unsigned monitors;
	unsigned file_events_max;
	unsigned file_records_max;
	unsigned ringbuf_mb;
	unsigned agent_pid;
	unsigned wakeup_kb;
	unsigned drain_ms;
	unsigned hold_ms;  /* records leave for the agent in batches at most this old (0: every drain) */
	unsigned stats_ms;
	unsigned sock_idle_s;    /* -t IDLE */
	unsigned sock_active_s;  /* -t ,ACTIVE */
	unsigned proc_rate;      /* process events per second per process before throttling (0: off) */
	unsigned long long proc_events; /* --proc-events: bit (1 << enum fn_proc_event) per event; 0: all */
	bool verbose;
	bool no_sk_iter;         /* --no-sk-iter or FALCONET_NO_SK_ITER=1: TCP export by map walk */
	const char *no_sk_iter_by; /* which of the two */
};
extern struct sensor_opts opt;
/* options.c: fills opt from the command line (exits with a message on a bad option) */
void parse_args(int argc, char **argv);

void die(const char *fmt, ...);
__u64 now_ns(clockid_t clk);

/* A FN_REC_PID_EXIT record from the ring buffer: flushes the records it names. */
void files_notice(struct falconet_bpf *skel, const void *data, size_t size);
/* After each drain: sweeps the records of exited processes whose notices overflowed. */
void files_tick(struct falconet_bpf *skel);
/* With the stats (counters summed over CPUs): collects deferred records, and sweeps the records
 * of dead processes when exit notices were lost. */
void files_stats_due(struct falconet_bpf *skel, __u64 deferred, __u64 notice_drops);
void files_flush_deferred(struct falconet_bpf *skel);
/* Every record still open (FF_SHUTDOWN), after the exited and deferred ones. */
void files_shutdown(struct falconet_bpf *skel);
__u64 files_sweeps(void); /* map sweeps so far (stats) */

void sock_configure(struct falconet_bpf *skel);
/* before the first load: drops the TCP iterator up front when the kernel refuses it */
void sock_probe(void);
/* The object failed to load because of prog (-err): true when the socket monitor takes the
 * other path on the next load (the TCP iterator); false: not its program. */
bool sock_load_refused(const char *prog, int err);
/* After a successful load: false when the object must be loaded again (the TCP iterator
 * loaded but does not attach or run). */
bool sock_loaded(struct falconet_bpf *skel);
/* "tcp_export: ..." status line for the hello (NULL: socket monitor off), and its
 * enum fn_tcp_export value for the stats. */
const char *sock_tcp_export(void);
__u64 sock_tcp_export_kind(void);
/* Marks held by 6.1's UNIX fallback (sock_ux_pending's entries; 0 without it) */
__u64 sock_ux_marks(struct falconet_bpf *skel);
void sock_start(struct falconet_bpf *skel);
void sock_tick(struct falconet_bpf *skel, __u64 boot_ns);
void sock_shutdown(struct falconet_bpf *skel);

void proc_configure(struct falconet_bpf *skel);
/* Attaches the shared syscall exit program (proc_exit_syscall) to the exit tracepoint that
 * matches enter program ENTER_PROG. NULL with errno 0: ENTER_PROG is not a syscall enter. */
struct bpf_link *proc_attach_exit(struct falconet_bpf *skel, const char *enter_prog);
void proc_start(struct falconet_bpf *skel);
void proc_tick(struct falconet_bpf *skel, __u64 boot_ns);
void proc_shutdown(struct falconet_bpf *skel);

/* After load, before attach: touches each page of the ring and of the large arrays (warm.c).
 * Returns the hello's status line ("warm-up: 1024 of 1024 ring pages, process slots"). */
const char *warm_maps(struct falconet_bpf *skel);
