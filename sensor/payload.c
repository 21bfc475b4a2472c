// SPDX-License-Identifier: GPL-2.0
/* Sensor side of payload capture (see bpf/payload.bpf.h): the port table, the syslog sockets
 * and the per-flow cap go into the object's rodata before load; the cgroup programs are
 * attached to the cgroup v2 root; the drop counters go out as a record when they change. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/vfs.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "../bpf/records.h"
#include "falconet.skel.h"
#include "monitors.h"
#include "output.h"
#include "payload.h"

#define CGROUP2_MAGIC 0x63677270
#define MAX_PORTS 64

static struct { __u8 t; __u16 port; __u8 app; } ports[MAX_PORTS];
static unsigned n_ports;
static struct { __u64 ino; __u32 dev; } unix_socks[FN_PAYLOAD_UNIX_SOCKS];
static unsigned n_unix;
static unsigned per_flow = 8;
static bool enabled;
static struct bpf_link *egress_link; /* sock_pl_out */
static __u64 last[PL_MAX];
static __u64 next_emit;

void payload_arg(const char *spec)
{
	char *copy = strdup(spec), *save = NULL;
	for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		unsigned a, b, c;
		unsigned long long ino;
		char proto[4];
		if (sscanf(tok, "%3[a-z]/%u=%u", proto, &a, &b) == 3 && a >= 1 && a <= 65535 && b >= 1 && b <= 3 &&
		    (!strcmp(proto, "tcp") || !strcmp(proto, "udp"))) {
			if (n_ports == MAX_PORTS)
				die("--payload: more than %d ports", MAX_PORTS);
			ports[n_ports].t = proto[0] == 't' ? 0 : 1;
			ports[n_ports].port = a;
			ports[n_ports++].app = b;
		} else if (sscanf(tok, "unix=%u:%llu", &c, &ino) == 2) {
			if (n_unix == FN_PAYLOAD_UNIX_SOCKS)
				die("--payload: more than %d UNIX sockets", FN_PAYLOAD_UNIX_SOCKS);
			unix_socks[n_unix].dev = c;
			unix_socks[n_unix++].ino = ino;
		} else if (sscanf(tok, "per-flow=%u", &a) == 1 && a >= 1 && a <= 1024) {
			per_flow = a;
		} else {
			die("--payload: bad entry '%s' (tcp/PORT=APP, udp/PORT=APP, unix=DEV:INO, per-flow=N)", tok);
		}
	}
	free(copy);
}

bool payload_ports(void)
{
	return n_ports > 0;
}

void payload_configure(struct falconet_bpf *skel)
{
	enabled = (opt.monitors & FN_MON_SOCKET) && (n_ports || n_unix);
	if (!enabled) {
		bpf_program__set_autoload(skel->progs.sock_pl_out, false);
		bpf_program__set_autoload(skel->progs.sock_pl_unix, false);
		bpf_program__set_autoload(skel->progs.sock_pl_unix_rd, false);
		return;
	}
	for (unsigned i = 0; i < n_ports; i++)
		skel->rodata->cfg_pl_ports[ports[i].t][ports[i].port] = ports[i].app;
	for (unsigned i = 0; i < n_unix; i++) {
		skel->rodata->cfg_pl_unix_ino[i] = unix_socks[i].ino;
		skel->rodata->cfg_pl_unix_dev[i] = unix_socks[i].dev;
	}
	skel->rodata->cfg_pl_unix_n = n_unix;
	skel->rodata->cfg_pl_per_flow = per_flow;
	skel->rodata->cfg_pl_idle_ns = (__u64)opt.sock_idle_s * 1000000000ULL;
	if (!n_ports)
		bpf_program__set_autoload(skel->progs.sock_pl_out, false);
	else
		skel->rodata->cfg_pl_skb = 1; /* ingress: inside the socket monitor's program */
	if (!n_unix) {
		bpf_program__set_autoload(skel->progs.sock_pl_unix, false);
		bpf_program__set_autoload(skel->progs.sock_pl_unix_rd, false);
	}
}

void payload_attached(struct falconet_bpf *skel, struct bpf_program *prog)
{
	/* the sender side leaves datagrams it could not see to the reader side from now on */
	if (prog == skel->progs.sock_pl_unix_rd)
		skel->bss->pl_unix_reader = 1;
}

static void logmsg(const char *what, const char *err)
{
	char msg[256];
	int n = snprintf(msg, sizeof(msg), "payload capture: %s: %s", what, err);
	write_frame(FR_LOG, msg, n < (int)sizeof(msg) ? n : (int)sizeof(msg) - 1);
}

void payload_start(struct falconet_bpf *skel)
{
	if (!enabled || !n_ports)
		return;
	static const char *const paths[] = { "/sys/fs/cgroup/unified", "/sys/fs/cgroup" };
	int fd = -1;
	for (unsigned i = 0; i < 2 && fd < 0; i++) {
		struct statfs sf;
		if (statfs(paths[i], &sf) == 0 && sf.f_type == CGROUP2_MAGIC)
			fd = open(paths[i], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	}
	if (fd < 0) {
		logmsg("no cgroup v2 mount", "TCP and UDP payloads are not captured");
		return;
	}
	/* ingress runs in the socket monitor's own ingress program (cfg_pl_skb) */
	if (bpf_program__autoload(skel->progs.sock_pl_out)) {
		egress_link = bpf_program__attach_cgroup(skel->progs.sock_pl_out, fd);
		if (!egress_link)
			logmsg(bpf_program__name(skel->progs.sock_pl_out), strerror(errno));
	}
	close(fd);
}

/* Emits the counters when they changed (force: always). */
static void emit(struct falconet_bpf *skel, __u64 boot_ns, bool force)
{
	int ncpu = libbpf_num_possible_cpus();
	if (ncpu <= 0 || ncpu > 4096)
		return;
	__u64 vals[ncpu];
	struct payload_stats_record r;
	memset(&r, 0, sizeof(r));
	bool changed = false;
	for (__u32 k = 0; k < PL_MAX; k++) {
		if (bpf_map_lookup_elem(bpf_map__fd(skel->maps.payload_stats), &k, vals))
			continue;
		for (int c = 0; c < ncpu; c++)
			r.counters[k] += vals[c];
		changed |= r.counters[k] != last[k];
		last[k] = r.counters[k];
	}
	if (!changed && !force)
		return;
	r.hdr.type = FN_REC_PAYLOAD_STATS;
	r.hdr.size = sizeof(r);
	r.hdr.ts_first = r.hdr.ts = boot_ns;
	add_record(&r, sizeof(r));
}

void payload_tick(struct falconet_bpf *skel, __u64 boot_ns)
{
	if (!enabled || boot_ns < next_emit)
		return;
	next_emit = boot_ns + 1000000000ULL;
	emit(skel, boot_ns, false);
}

void payload_shutdown(struct falconet_bpf *skel)
{
	if (enabled)
		emit(skel, now_ns(CLOCK_BOOTTIME), true);
}
