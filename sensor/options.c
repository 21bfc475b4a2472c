// SPDX-License-Identifier: GPL-2.0
/* The sensor's command line (and FALCONET_NO_SK_ITER) into `opt`; any error ends the sensor with
 * a message naming the option and the range it takes. */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "../bpf/records.h"
#include "monitors.h"
#include "payload.h"

struct sensor_opts opt = {
	.monitors = FN_MON_FILE, .file_records_max = 65536, .ringbuf_mb = 4, .wakeup_kb = 256,
	.drain_ms = 5, .hold_ms = 40, .stats_ms = 1000, .sock_idle_s = 15, .sock_active_s = 1800,
	.proc_rate = 2000,
};

static void usage(void)
{
	fprintf(stderr,
		"usage: falconet-sensor [--monitors MASK] [--file-events N] [--file-records N]\n"
		"                       [--ringbuf-mb N] [--agent-pid PID] [--wakeup-kb N]\n"
		"                       [--drain-ms N] [--hold-ms N] [--stats-ms N] [--sock-idle S] [--sock-active S]\n"
		"                       [--proc-rate N] [--proc-events MASK] [--no-sk-iter] [--verbose]\n"
		"Streams bpf/records.h frames on stdout. Commands on stdin: stats, quit.\n"
		"--no-sk-iter (or FALCONET_NO_SK_ITER=1): export TCP records by walking a map instead of\n"
		"the socket storage iterator (what kernels that refuse the iterator get).\n");
	exit(2);
}

static unsigned num_arg(const char *name, const char *s, unsigned min, unsigned max)
{
	char *end;
	errno = 0;
	unsigned long v = strtoul(s, &end, 10);
	if (errno || *end || !*s || v < min || v > max)
		die("--%s: expected an integer in %u..%u, got '%s'", name, min, max, s);
	return v;
}

void parse_args(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "monitors", required_argument, 0, 'm' },   { "file-events", required_argument, 0, 'e' },
		{ "file-records", required_argument, 0, 'r' }, { "ringbuf-mb", required_argument, 0, 'b' },
		{ "agent-pid", required_argument, 0, 'a' },  { "wakeup-kb", required_argument, 0, 'w' },
		{ "drain-ms", required_argument, 0, 'd' },   { "hold-ms", required_argument, 0, 'H' },   { "stats-ms", required_argument, 0, 's' },
		{ "verbose", no_argument, 0, 'v' },          { "help", no_argument, 0, 'h' },
		{ "sock-idle", required_argument, 0, 'I' },  { "sock-active", required_argument, 0, 'A' },
		{ "proc-rate", required_argument, 0, 'R' },  { "proc-events", required_argument, 0, 'E' },
		{ "no-sk-iter", no_argument, 0, 'N' },
		{ "payload", required_argument, 0, 'P' },    /* -p: payload.c */
		{ 0 }
	};
	int c;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case 'm': opt.monitors = num_arg("monitors", optarg, 1, 7); break;
		case 'e': opt.file_events_max = num_arg("file-events", optarg, 0, 1u << 30); break;
		case 'r': opt.file_records_max = num_arg("file-records", optarg, 64, 1u << 24); break;
		case 'b': opt.ringbuf_mb = num_arg("ringbuf-mb", optarg, 1, 1024); break;
		case 'a': opt.agent_pid = num_arg("agent-pid", optarg, 0, 1u << 30); break;
		case 'w': opt.wakeup_kb = num_arg("wakeup-kb", optarg, 1, 1u << 20); break;
		case 'd': opt.drain_ms = num_arg("drain-ms", optarg, 1, 1000); break;
		case 'H': opt.hold_ms = num_arg("hold-ms", optarg, 0, 1000); break;
		case 's': opt.stats_ms = num_arg("stats-ms", optarg, 10, 3600000); break;
		case 'v': opt.verbose = true; break;
		case 'N': opt.no_sk_iter = true; opt.no_sk_iter_by = "--no-sk-iter"; break;
		case 'I': opt.sock_idle_s = num_arg("sock-idle", optarg, 1, 1u << 30); break;
		case 'A': opt.sock_active_s = num_arg("sock-active", optarg, 1, 1u << 30); break;
		case 'P': payload_arg(optarg); break;
		case 'R': opt.proc_rate = num_arg("proc-rate", optarg, 0, 1u << 30); break;
		case 'E': {
			char *end;
			errno = 0;
			opt.proc_events = strtoull(optarg, &end, 0);
			if (errno || *end || !*optarg || !opt.proc_events)
				die("--proc-events: expected a nonzero event bit mask, got '%s'", optarg);
			break;
		}
		default: usage();
		}
	}
	if (optind != argc)
		usage();
	const char *env = getenv("FALCONET_NO_SK_ITER");
	if (!opt.no_sk_iter && env && *env && strcmp(env, "0")) {
		opt.no_sk_iter = true;
		opt.no_sk_iter_by = "FALCONET_NO_SK_ITER=1";
	}
	/* ring buffer size must be a power of two pages */
	if (opt.ringbuf_mb & (opt.ringbuf_mb - 1))
		die("--ringbuf-mb must be a power of two");
}
