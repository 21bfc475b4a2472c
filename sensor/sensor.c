// SPDX-License-Identifier: GPL-2.0
/*
 * falconet-sensor: loads the BPF object, attaches what this kernel offers, and streams records
 * as length-prefixed frames (bpf/records.h) on stdout. It does no parsing or formatting.
 *
 * It also owns what only userspace can do with the maps: flushing the file records of exited
 * processes, records the ring buffer could not take, and everything still open at shutdown
 * (files.c for the file monitor; sock.c, proc.c, payload.c for theirs).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "../bpf/records.h"
#include "falconet.skel.h"
#include "output.h"
#include "monitors.h"
#include "payload.h"
#include "mapwalk.h"
#include "kcompat.h"


/* records a drain must bring to keep the drain period short (see run) */
#define DRAIN_BUSY 64

static volatile sig_atomic_t stopping;
static struct falconet_bpf *skel;
static int ncpus;
#define MAX_LINKS 512
static struct bpf_link *links[MAX_LINKS];
static unsigned n_links;

void die(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "falconet-sensor: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
	exit(2);
}

/* ---- ring buffer ---- */
static int on_record(void *ctx, void *data, size_t size)
{
	const struct rec_hdr *h = data;
	(void)ctx;
	if (size < sizeof(*h))
		return 0;
	add_record(data, size);
	if (h->type == FN_REC_PID_EXIT)
		files_notice(skel, data, size);
	return 0;
}

static void read_stats(struct fn_stats *st)
{
	int fd = bpf_map__fd(skel->maps.stats);
	__u64 vals[ncpus];
	struct timespec ts;
	memset(st, 0, sizeof(*st));
	clock_gettime(CLOCK_BOOTTIME, &ts);
	st->boot_ns = ts.tv_sec * 1000000000ULL + ts.tv_nsec;
	for (__u32 k = 0; k < ST_MAX; k++) {
		if (bpf_map_lookup_elem(fd, &k, vals))
			continue;
		for (int c = 0; c < ncpus; c++)
			st->counters[k] += vals[c];
	}
	st->records_out = records_out;
	st->sweeps = files_sweeps();
	st->ringbuf_bytes = (__u64)opt.ringbuf_mb << 20;
	st->file_map_entries = map_count(bpf_map__fd(skel->maps.file_records), sizeof(struct file_key));
	st->tcp_export = sock_tcp_export_kind();
	st->ux_marks = sock_ux_marks(skel);
}

static void emit_stats(void)
{
	struct fn_stats st;
	read_stats(&st);
	flush_batch();
	write_frame(FR_STATS, &st, sizeof(st));
}

/* ---- attach-time probing ---- */
static unsigned monitor_of(const char *prog)
{
	if (!strncmp(prog, "file_", 5))
		return FN_MON_FILE;
	if (!strncmp(prog, "sock_", 5))
		return FN_MON_SOCKET;
	if (!strncmp(prog, "proc_", 5))
		return FN_MON_PROCESS;
	if (!strncmp(prog, "fn_", 3))
		return FN_MON_FILE | FN_MON_SOCKET | FN_MON_PROCESS; /* shared by every monitor */
	return 0;
}

/* Name of the last program libbpf failed to load (verifier rejection), for the retry below. */
static char failed_prog[128];

static int libbpf_print(enum libbpf_print_level lvl, const char *fmt, va_list ap)
{
	char line[1024];
	va_list copy;
	va_copy(copy, ap);
	vsnprintf(line, sizeof(line), fmt, copy);
	va_end(copy);
	const char *p = strstr(line, "prog '");
	if (p && strstr(line, "failed to load")) {
		p += 6;
		const char *q = strchr(p, '\'');
		if (q && q - p < (long)sizeof(failed_prog)) {
			memcpy(failed_prog, p, q - p);
			failed_prog[q - p] = 0;
		}
	}
	if (!opt.verbose && lvl != LIBBPF_WARN)
		return 0;
	if (!opt.verbose && strstr(line, "substituting insn"))
		return 0; /* expected: CO-RE fallbacks for fields this kernel does not have */
	if (opt.verbose)
		return vfprintf(stderr, fmt, ap); /* whole: a verifier log is longer than line */
	return fputs(line, stderr);
}

/* Programs the verifier rejected although the pre-load checks (kcompat.c) let them load: a
 * last resort, loud and counted; each costs a full reload. */
static char (*rejected)[128];
static unsigned n_rejected;

static bool was_rejected(const char *name)
{
	for (unsigned i = 0; i < n_rejected; i++)
		if (!strcmp(rejected[i], name))
			return true;
	return false;
}

static void on_signal(int sig)
{
	(void)sig;
	stopping = 1;
}

__u64 now_ns(clockid_t clk)
{
	struct timespec ts;
	clock_gettime(clk, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static void handle_stdin(void)
{
	char buf[256];
	ssize_t n = read(STDIN_FILENO, buf, sizeof(buf) - 1);
	if (n <= 0)
		return;
	buf[n] = 0;
	if (strstr(buf, "stats"))
		emit_stats();
	if (strstr(buf, "quit"))
		stopping = 1;
}

/* The hello's status lines: NUL-separated, what was skipped and why, and each monitor's choices. */
static char status[8192];
static size_t slen;

/* Opens and configures the object; decides which programs load (the monitors asked for, what
 * this kernel can run). Returns the programs skipped. */
static unsigned open_configured(void)
{
	skel = kcompat_open();
	if (!skel)
		die("cannot open the BPF object: %s", strerror(errno));
	skel->rodata->cfg_self_pid = getpid();
	skel->rodata->cfg_agent_pid = opt.agent_pid;
	skel->rodata->cfg_monitors = opt.monitors;
	skel->rodata->cfg_file_events_max = opt.file_events_max;
	skel->rodata->cfg_wakeup_bytes = (__u64)opt.wakeup_kb << 10;
	bpf_map__set_max_entries(skel->maps.events, opt.ringbuf_mb << 20);
	bpf_map__set_max_entries(skel->maps.file_records, opt.file_records_max);
	bpf_map__set_max_entries(skel->maps.file_deferred, opt.file_records_max);
	if (!(opt.monitors & FN_MON_FILE)) {
		/* preallocated maps cost their memory even with no program using them */
		bpf_map__set_max_entries(skel->maps.file_pend_slots, 1);
		bpf_map__set_max_entries(skel->maps.file_pending, 1);
	}
	sock_configure(skel);
	payload_configure(skel);
	proc_configure(skel);
	slen = 0;
	unsigned skipped = 0;
	struct bpf_program *prog;
	bpf_object__for_each_program(prog, skel->obj) {
		const char *name = bpf_program__name(prog);
		const char *sec = bpf_program__section_name(prog);
		unsigned mon = monitor_of(name);
		const char *why = NULL;
		if (!(mon & opt.monitors)) {
			bpf_program__set_autoload(prog, false);
			continue;
		}
		if (!bpf_program__autoload(prog))
			continue; /* its monitor chose another path (*_configure) */
		if (!kc_tracepoint_exists(sec))
			why = "tracepoint not in this kernel";
		else if ((why = kcompat_skip(skel->obj, prog)) != NULL) {
			/* a twin's choice, or a capability kcompat_report names once per monitor */
			bpf_program__set_autoload(prog, false);
			if (*why)
				skipped++;
			continue;
		}
		else if (was_rejected(name))
			why = "rejected by this kernel's verifier; --verbose shows the log";
		if (!why)
			continue;
		bpf_program__set_autoload(prog, false);
		skipped++;
		status_add(status, sizeof(status), &slen, "skipped %s (%s: %s)", name, sec, why);
	}
	return skipped;
}

/* What this kernel cannot run is decided before load (kcompat.c). A program the verifier still
 * rejects is skipped, reported loudly, and the object is loaded again without it, so one
 * monitor's problem does not take the others down. Returns the programs skipped. */
static unsigned load_object(void)
{
	for (;;) {
		unsigned skipped = open_configured();
		failed_prog[0] = 0;
		int err = falconet_bpf__load(skel);
		if (!err) {
			if (sock_loaded(skel))
				return skipped;
			falconet_bpf__destroy(skel); /* the socket monitor takes its other path */
			continue;
		}
		/* a refused TCP iterator is not a skip: the socket monitor exports another way */
		if (failed_prog[0] && sock_load_refused(failed_prog, -err)) {
			falconet_bpf__destroy(skel);
			continue;
		}
		if (!failed_prog[0] || was_rejected(failed_prog))
			die("cannot load the BPF object (%s): run with --verbose for the verifier log", strerror(-err));
		rejected = realloc(rejected, (n_rejected + 1) * sizeof(*rejected));
		if (!rejected)
			die("out of memory");
		snprintf(rejected[n_rejected++], sizeof(rejected[0]), "%s", failed_prog);
		fprintf(stderr, "falconet-sensor: WARNING: this kernel's verifier rejected %s although the "
			"pre-load checks let it load; loading again without it (--verbose shows the log)\n", failed_prog);
		falconet_bpf__destroy(skel);
	}
}

static void keep_link(struct bpf_link *l)
{
	if (n_links < MAX_LINKS)
		links[n_links++] = l;
}

/* Attaches the loaded tracepoint programs (and each syscall enter's exit twin); *skipped counts
 * what failed. Returns the programs attached. */
static unsigned attach_programs(unsigned *skipped)
{
	unsigned attached = 0;
	struct bpf_program *prog;
	bpf_object__for_each_program(prog, skel->obj) {
		if (!bpf_program__autoload(prog))
			continue;
		const char *sec = bpf_program__section_name(prog);
		/* cgroup and iterator programs are attached, and syscall programs run, by their monitor (*_start) */
		if (!strncmp(sec, "cgroup", 6) || !strncmp(sec, "iter/", 5) || !strcmp(sec, "syscall") || !strcmp(sec, "tp"))
			continue; /* "tp": attached below, once per syscall, beside its enter program */
		struct bpf_link *l = bpf_program__attach(prog);
		if (!l) {
			(*skipped)++;
			status_add(status, sizeof(status), &slen, "skipped %s (%s: attach failed: %s)", bpf_program__name(prog), sec, strerror(errno));
			continue;
		}
		keep_link(l);
		attached++;
		payload_attached(skel, prog);
		l = proc_attach_exit(skel, bpf_program__name(prog));
		if (l) {
			keep_link(l);
			attached++;
		} else if (errno) {
			(*skipped)++;
			status_add(status, sizeof(status), &slen, "skipped the exit of %s (attach failed: %s)", bpf_program__name(prog), strerror(errno));
		}
	}
	return attached;
}

static void send_hello(unsigned attached, unsigned skipped, __u64 boot, __u64 real)
{
	struct utsname u;
	uname(&u);
	static unsigned char hello_buf[sizeof(struct fn_hello) + sizeof(status)];
	struct fn_hello *hello = (struct fn_hello *)hello_buf;
	hello->magic = FN_STREAM_MAGIC;
	hello->version = FN_STREAM_VERSION;
	hello->sensor_pid = getpid();
	hello->boot_to_real_ns = (__s64)(real - boot);
	hello->start_boot_ns = boot;
	hello->monitors = opt.monitors;
	hello->programs_attached = attached;
	hello->programs_skipped = skipped;
	snprintf(hello->kernel_release, sizeof(hello->kernel_release), "%.63s", u.release);
	snprintf(hello->hostname, sizeof(hello->hostname), "%.63s", u.nodename);
	memcpy(hello_buf + sizeof(*hello), status, slen);
	write_frame(FR_HELLO, hello_buf, sizeof(*hello) + slen);
}

/* What the stats timer does besides sending the counters: collect what they say was missed. */
static void on_stats_due(void)
{
	struct fn_stats st;
	read_stats(&st);
	files_stats_due(skel, st.counters[ST_FILE_DEFERRED], st.counters[ST_NOTICE_DROP]);
	flush_batch();
	write_frame(FR_STATS, &st, sizeof(st));
}

static void run(struct ring_buffer *rb)
{
	fcntl(STDIN_FILENO, F_SETFL, fcntl(STDIN_FILENO, F_GETFL) | O_NONBLOCK);
	__u64 next_stats = now_ns(CLOCK_MONOTONIC) + (__u64)opt.stats_ms * 1000000ULL;
	unsigned poll_ms = opt.drain_ms;
	while (!stopping) {
		/* the ring buffer's wakeups, and stdout taking bytes a slow agent left queued */
		struct pollfd pw[2] = { { .fd = ring_buffer__epoll_fd(rb), .events = POLLIN },
					{ .fd = STDOUT_FILENO, .events = POLLOUT } };
		/* a due batch goes now; a held one falls due before the drain timer may fire again */
		int due = flush_batch_due(now_ns(CLOCK_MONOTONIC), (__u64)opt.hold_ms * 1000000ULL);
		int err = poll(pw, output_pending() ? 2 : 1, due >= 0 && (unsigned)due < poll_ms ? due : (int)poll_ms);
		if (err < 0 && errno != EINTR)
			die("poll: %s", strerror(errno));
		output_pump();
		/* records are submitted without wakeups: the poll timeout is the drain timer */
		int got = ring_buffer__consume(rb);
		/* a quiet ring buffer is drained less often, down to one wakeup per 10 drain periods: a
		 * sensor waking 200 times a second costs a busy host more than its records. A trickle
		 * (fewer than DRAIN_BUSY records a drain) counts as quiet when batches are held: its
		 * records wait for the agent up to --hold-ms anyway, and a process storm's 5 records
		 * per 5 ms drain cost a wakeup each. A burst still wakes it at once (cfg_wakeup_bytes),
		 * and a drain that brings DRAIN_BUSY records or more goes back to the short period. */
		if ((got > 0 && (got >= DRAIN_BUSY || !opt.hold_ms)) || (err > 0 && (pw[0].revents & POLLIN)))
			poll_ms = opt.drain_ms;
		else
			poll_ms = poll_ms * 2 < opt.drain_ms * 10 ? poll_ms * 2 : opt.drain_ms * 10;
		files_tick(skel);
		sock_tick(skel, now_ns(CLOCK_BOOTTIME));
		payload_tick(skel, now_ns(CLOCK_BOOTTIME));
		proc_tick(skel, now_ns(CLOCK_BOOTTIME));
		__u64 t = now_ns(CLOCK_MONOTONIC);
		if (t >= next_stats) {
			on_stats_due();
			next_stats = t + (__u64)opt.stats_ms * 1000000ULL;
		}
		struct pollfd pfd = { .fd = STDIN_FILENO, .events = POLLIN };
		if (poll(&pfd, 1, 0) > 0 && (pfd.revents & POLLIN))
			handle_stdin();
	}
}

/* Shutdown: stop new events, drain what the kernel submitted, then flush every open record. */
static void shut_down(struct ring_buffer *rb)
{
	skel->bss->fn_paused = 1;
	__sync_synchronize();
	ring_buffer__consume(rb);
	files_shutdown(skel);
	sock_shutdown(skel);
	payload_shutdown(skel);
	proc_shutdown(skel);
	/* records that programs already running at the pause submitted since (a TCP close), or
	 * deferred since (the ring buffer still full) */
	ring_buffer__consume(rb);
	files_flush_deferred(skel);
	emit_stats();
	write_frame(FR_END, NULL, 0);
	output_drain();
	/* The stream is complete: let the agent go on while detaching waits for grace periods. */
	close(STDOUT_FILENO);
	for (unsigned i = 0; i < n_links; i++)
		bpf_link__destroy(links[i]);
	ring_buffer__free(rb);
	falconet_bpf__destroy(skel);
}

int main(int argc, char **argv)
{
	parse_args(argc, argv);
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	signal(SIGPIPE, SIG_IGN);
	struct sigaction sa = { .sa_handler = on_signal };
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	libbpf_set_print(libbpf_print);
	struct rlimit rl = { RLIM_INFINITY, RLIM_INFINITY };
	setrlimit(RLIMIT_MEMLOCK, &rl); /* pre-5.11 kernels charge BPF memory to memlock */
	ncpus = libbpf_num_possible_cpus();
	if (ncpus <= 0)
		die("cannot count CPUs");

	kcompat_probe(); /* loads the kernel's BTF once, for every check here too */
	sock_probe();
	unsigned skipped = load_object();
	kcompat_report(status, sizeof(status), &slen, opt.monitors);
	if (n_rejected)
		status_add(status, sizeof(status), &slen, "REJECTED: %u programs by the verifier after the pre-load checks passed "
			   "(each cost a reload; a kcompat.c check is missing)", n_rejected);
	const char *tcp_export = sock_tcp_export();
	if (tcp_export)
		status_add(status, sizeof(status), &slen, "%s", tcp_export);
	status_add(status, sizeof(status), &slen, "%s", warm_maps(skel));
	__u64 boot = now_ns(CLOCK_BOOTTIME), real = now_ns(CLOCK_REALTIME);
	unsigned attached = attach_programs(&skipped);
	struct ring_buffer *rb = ring_buffer__new(bpf_map__fd(skel->maps.events), on_record, NULL, NULL);
	if (!rb)
		die("cannot create the ring buffer consumer: %s", strerror(errno));
	send_hello(attached, skipped, boot, real);
	sock_start(skel);
	payload_start(skel);
	proc_start(skel);
	run(rb);
	shut_down(rb);
	return 0;
}
