// SPDX-License-Identifier: GPL-2.0
/* Sensor side of the socket monitor (see monitors.h and bpf/socket.bpf.h):
 *  - attaches the cgroup programs (per-packet counts, UDP release) to the cgroup v2 root;
 *  - every SOCK_TICK_MS runs sock_export in the kernel, which walks the socket map and exports
 *    idle, active-timeout, closed-UDP and deferred entries (a quiet host still flushes);
 *  - at shutdown has the kernel finalize every entry in place and emits them from the map. */
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
#include "falconet.skel.h"
#include "monitors.h"
#include "output.h"

#define SOCK_TICK_MS 500 /* idle/active resolution; each run walks every bucket of sock_map */
#define CGROUP2_MAGIC 0x63677270

static bool sock_enabled;
static int cg_fd = -1;
static struct bpf_link *cg_links[3];
static __u64 next_tick;

static void logf_(const char *fmt, const char *a, const char *b)
{
	char msg[512];
	int n = snprintf(msg, sizeof(msg), fmt, a, b);
	write_frame(FR_LOG, msg, n < (int)sizeof(msg) ? n : (int)sizeof(msg) - 1);
}

/* The cgroup v2 root: the unified mount of a hybrid hierarchy, or /sys/fs/cgroup itself. */
static int open_cgroup2_root(void)
{
	static const char *const paths[] = { "/sys/fs/cgroup/unified", "/sys/fs/cgroup" };
	for (unsigned i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		struct statfs sf;
		if (statfs(paths[i], &sf) == 0 && sf.f_type == CGROUP2_MAGIC)
			return open(paths[i], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	}
	return -1;
}

void sock_configure(struct falconet_bpf *skel)
{
	(void)skel;
	sock_enabled = opt.monitors & FN_MON_SOCKET;
}

void sock_start(struct falconet_bpf *skel)
{
	if (!sock_enabled)
		return;
	cg_fd = open_cgroup2_root();
	if (cg_fd < 0) {
		logf_("socket monitor: no cgroup v2 mount (%s%s): no packet counts, UDP records only on idle timeout",
		      strerror(errno), "");
		return;
	}
	struct bpf_program *progs[3] = { skel->progs.sock_skb_in, skel->progs.sock_skb_out, skel->progs.sock_release };
	for (int i = 0; i < 3; i++) {
		cg_links[i] = bpf_program__attach_cgroup(progs[i], cg_fd);
		if (!cg_links[i]) {
			cg_links[i] = NULL;
			logf_("socket monitor: cannot attach %s to the cgroup v2 root: %s", bpf_program__name(progs[i]),
			      strerror(errno));
		}
	}
}

/* Runs the kernel exporter; returns its ctx (exported/pending counts) or -errno. */
static int run_export(struct falconet_bpf *skel, __u64 now, __u32 mode, struct sock_export_ctx *c)
{
	memset(c, 0, sizeof(*c));
	c->now = now;
	c->idle_ns = (__u64)opt.sock_idle_s * 1000000000ULL;
	c->active_ns = (__u64)opt.sock_active_s * 1000000000ULL;
	c->mode = mode;
	/* syscall programs take no ctx_out: the kernel copies the ctx back into ctx_in */
	LIBBPF_OPTS(bpf_test_run_opts, o, .ctx_in = c, .ctx_size_in = sizeof(*c));
	int err = bpf_prog_test_run_opts(bpf_program__fd(skel->progs.sock_export), &o);
	return err ? -errno : 0;
}

void sock_tick(struct falconet_bpf *skel, __u64 boot_ns)
{
	if (!sock_enabled || boot_ns < next_tick)
		return;
	next_tick = boot_ns + SOCK_TICK_MS * 1000000ULL;
	struct sock_export_ctx c;
	static bool warned;
	if (run_export(skel, boot_ns, SOCK_EXPORT_TICK, &c) && !warned) {
		warned = true;
		logf_("socket monitor: the export timer cannot run sock_export: %s%s", strerror(errno), "");
	}
}

void sock_shutdown(struct falconet_bpf *skel)
{
	if (!sock_enabled)
		return;
	for (int i = 0; i < 3; i++)
		if (cg_links[i])
			bpf_link__destroy(cg_links[i]);
	struct sock_export_ctx c;
	run_export(skel, now_ns(CLOCK_BOOTTIME), SOCK_EXPORT_FINALIZE, &c);
	/* the kernel is paused (fn_paused): emit every entry from the map */
	int fd = bpf_map__fd(skel->maps.sock_map);
	static struct sock_record rec;
	struct sock_key key, next, *keys = NULL;
	size_t n = 0, cap = 0;
	void *prev = NULL;
	while (bpf_map_get_next_key(fd, prev, &next) == 0) {
		if (n == cap) {
			cap = cap ? cap * 2 : 256;
			keys = realloc(keys, cap * sizeof(*keys));
			if (!keys)
				die("out of memory");
		}
		keys[n++] = next;
		key = next;
		prev = &key;
	}
	for (size_t i = 0; i < n; i++) {
		if (bpf_map_lookup_and_delete_elem(fd, &keys[i], &rec))
			continue;
		rec.hdr.type = FN_REC_SOCK;
		rec.hdr.size = sizeof(rec);
		add_record(&rec, sizeof(rec));
	}
	free(keys);
	if (cg_fd >= 0)
		close(cg_fd);
}
