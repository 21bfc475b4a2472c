// SPDX-License-Identifier: GPL-2.0
/* Sensor side of the socket monitor (see monitors.h and bpf/socket.bpf.h):
 *  - attaches the cgroup programs (rx packet counts, UDP creation and release) to the cgroup v2
 *    root, and gives the UDP sockets that already exist a cookie;
 *  - every SOCK_TICK_MS runs the kernel exporters: sock_tcp_iter over the sockets that hold a
 *    TCP entry, sock_export over the UDP/UNIX map; they export idle, active-timeout, closed and
 *    deferred entries (a quiet host still flushes);
 *  - at shutdown has the kernel finalize every entry and emits them: TCP entries from the
 *    iterator's output, the others from the map.
 * TCP export path, chosen at load: the iterator where the kernel takes it; else (refused at
 * load or attach, or --no-sk-iter / FALCONET_NO_SK_ITER=1) "map-walk": TCP entries live in the
 * cookie-keyed sock_map, which sock_export and the shutdown walk already cover. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/vfs.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "../bpf/records.h"
#include "falconet.skel.h"
#include "mapwalk.h"
#include "monitors.h"
#include "kcompat.h"
#include "output.h"

#define SOCK_TICK_MS 500 /* idle/active resolution */
#define CGROUP2_MAGIC 0x63677270

static bool sock_enabled;
static int cg_fd = -1;
static struct bpf_link *cg_links[3];
static struct bpf_link *iter_link;
static __u64 next_tick;
/* why the iterator is not used ("" while it is): kept across reloads of the object */
static char walk_why[128];

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

/* CLOCK_BOOTTIME - CLOCK_MONOTONIC for the kernel (see sock_boot_offset_ns) */
static void set_boot_offset(struct falconet_bpf *skel)
{
	__u64 m0 = now_ns(CLOCK_MONOTONIC), b = now_ns(CLOCK_BOOTTIME), m1 = now_ns(CLOCK_MONOTONIC);
	skel->bss->sock_boot_offset_ns = b - (m0 + (m1 - m0) / 2);
}

void sock_configure(struct falconet_bpf *skel)
{
	sock_enabled = opt.monitors & FN_MON_SOCKET;
	set_boot_offset(skel); /* before load: the value the programs start with */
	if (opt.no_sk_iter && !walk_why[0])
		snprintf(walk_why, sizeof(walk_why), "forced: %s", opt.no_sk_iter_by);
	bool walk = walk_why[0] != 0;
	skel->rodata->cfg_tcp_walk = walk;
	/* the other path's programs: its iterator, or its copy of the per-packet hooks */
	struct bpf_program *iter_only[] = { skel->progs.sock_tcp_iter, skel->progs.sock_dev_xmit, skel->progs.sock_skb_in };
	struct bpf_program *walk_only[] = { skel->progs.sock_dev_xmit_w, skel->progs.sock_skb_in_w, NULL };
	for (int i = 0; i < 3; i++)
		if ((walk ? iter_only : walk_only)[i])
			bpf_program__set_autoload((walk ? iter_only : walk_only)[i], false);
}

/* The errno's name (EPERM), or its number. */
static const char *errno_name(int err)
{
	static char num[24];
	const char *n = strerrorname_np(err);
	if (n)
		return n;
	snprintf(num, sizeof(num), "errno %d", err);
	return num;
}

/* Chooses the TCP export path before the object is loaded, where it can: the iterator program
 * loaded alone (with the maps it needs) costs a fraction of what loading every program, finding
 * the iterator refused and loading them all again would (a second full load is seconds). A
 * refusal at attach or run still goes through sock_loaded and one reload. */
void sock_probe(void)
{
	if (!(opt.monitors & FN_MON_SOCKET) || opt.no_sk_iter || walk_why[0])
		return;
	struct falconet_bpf *p = kcompat_open(); /* the kconfig values and compat flags of the real load */
	if (!p)
		return; /* the real open says why */
	struct bpf_program *prog;
	bpf_object__for_each_program(prog, p->obj)
		bpf_program__set_autoload(prog, prog == p->progs.sock_tcp_iter);
	/* the probe stores nothing: smallest maps (a preallocated 64K-entry hash costs ~0.1 s) */
	struct bpf_map *m;
	bpf_object__for_each_map(m, p->obj) {
		enum bpf_map_type t = bpf_map__type(m);
		if (t == BPF_MAP_TYPE_HASH || t == BPF_MAP_TYPE_LRU_HASH || t == BPF_MAP_TYPE_PERCPU_HASH ||
		    t == BPF_MAP_TYPE_LRU_PERCPU_HASH)
			bpf_map__set_max_entries(m, 1);
	}
	bpf_map__set_max_entries(p->maps.events, 4096);
	int err = falconet_bpf__load(p);
	if (err)
		snprintf(walk_why, sizeof(walk_why), "iterator refused: %s", errno_name(-err));
	falconet_bpf__destroy(p);
}

bool sock_load_refused(const char *prog, int err)
{
	if (!sock_enabled || walk_why[0] || strcmp(prog, "sock_tcp_iter"))
		return false;
	snprintf(walk_why, sizeof(walk_why), "iterator refused: %s", errno_name(err));
	return true;
}

bool sock_loaded(struct falconet_bpf *skel)
{
	if (!sock_enabled || walk_why[0])
		return true;
	/* the kernel took the program; it must also attach and run: try both now, while a refusal
	 * can still choose the other path (the object is loaded again with cfg_tcp_walk) */
	union bpf_iter_link_info li = { .map.map_fd = bpf_map__fd(skel->maps.sock_tcp) };
	LIBBPF_OPTS(bpf_iter_attach_opts, io, .link_info = &li, .link_info_len = sizeof(li));
	iter_link = bpf_program__attach_iter(skel->progs.sock_tcp_iter, &io);
	int fd = iter_link ? bpf_iter_create(bpf_link__fd(iter_link)) : -1;
	const char *stage = iter_link ? "run" : "attach";
	char buf[64];
	ssize_t n = 0;
	while (fd >= 0 && (n = read(fd, buf, sizeof(buf))) > 0)
		; /* no entries yet: a run that reports nothing */
	if (fd >= 0 && n < 0)
		stage = "read";
	int err = errno;
	if (fd >= 0)
		close(fd);
	if (fd >= 0 && n == 0)
		return true;
	snprintf(walk_why, sizeof(walk_why), "iterator refused at %s: %s", stage, errno_name(err));
	bpf_link__destroy(iter_link);
	iter_link = NULL;
	return false;
}

const char *sock_tcp_export(void)
{
	static char desc[160];
	if (!sock_enabled)
		return NULL;
	if (!walk_why[0])
		return "tcp_export: iterator";
	snprintf(desc, sizeof(desc), "tcp_export: map-walk (%s)", walk_why);
	return desc;
}

__u64 sock_tcp_export_kind(void)
{
	return !sock_enabled ? FN_TCP_EXPORT_OFF : walk_why[0] ? FN_TCP_EXPORT_MAP_WALK : FN_TCP_EXPORT_ITERATOR;
}

__u64 sock_ux_marks(struct falconet_bpf *skel)
{
	/* loaded only by 6.1's UNIX fallback: elsewhere the map is never touched (and 0) */
	if (!sock_enabled || bpf_program__fd(skel->progs.sock_ux_send) < 0)
		return 0;
	return map_count(bpf_map__fd(skel->maps.sock_ux_pending), sizeof(__u32));
}

void sock_start(struct falconet_bpf *skel)
{
	if (!sock_enabled)
		return;
	/* the TCP iterator was attached by sock_loaded (or the map-walk path is in use) */
	cg_fd = open_cgroup2_root();
	if (cg_fd < 0) {
		logf_("socket monitor: no cgroup v2 mount (%s%s): no rx packet counts, UDP records only on idle timeout",
		      strerror(errno), "");
		return;
	}
	struct bpf_program *progs[3] = { walk_why[0] ? skel->progs.sock_skb_in_w : skel->progs.sock_skb_in, skel->progs.sock_release,
					 skel->progs.sock_create };
	for (int i = 0; i < 3; i++) {
		cg_links[i] = bpf_program__attach_cgroup(progs[i], cg_fd);
		if (!cg_links[i]) {
			cg_links[i] = NULL;
			logf_("socket monitor: cannot attach %s to the cgroup v2 root: %s", bpf_program__name(progs[i]),
			      strerror(errno));
		}
	}
	/* sockets created from now on get their cookie from sock_create; earlier ones from here */
	struct bpf_link *l = bpf_program__attach_iter(skel->progs.sock_udp_cookies, NULL);
	int fd = l ? bpf_iter_create(bpf_link__fd(l)) : -1;
	char buf[64];
	while (fd >= 0 && read(fd, buf, sizeof(buf)) > 0)
		;
	if (fd < 0)
		logf_("socket monitor: cannot walk the existing UDP sockets: %s%s (their first packets may go uncounted)",
		      strerror(errno), "");
	else
		close(fd);
	bpf_link__destroy(l);
}

static void export_ctx(struct sock_export_ctx *c, __u64 now, __u32 mode)
{
	memset(c, 0, sizeof(*c));
	c->now = now;
	c->idle_ns = (__u64)opt.sock_idle_s * 1000000000ULL;
	c->active_ns = (__u64)opt.sock_active_s * 1000000000ULL;
	c->mode = mode;
}

/* Runs the kernel exporter of the UDP/UNIX map; returns 0 or -errno. */
static int run_export(struct falconet_bpf *skel, __u64 now, __u32 mode)
{
	struct sock_export_ctx c;
	export_ctx(&c, now, mode);
	/* syscall programs take no ctx_out: the kernel copies the ctx back into ctx_in */
	LIBBPF_OPTS(bpf_test_run_opts, o, .ctx_in = &c, .ctx_size_in = sizeof(c));
	int err = bpf_prog_test_run_opts(bpf_program__fd(skel->progs.sock_export), &o);
	return err ? -errno : 0;
}

/* Runs the TCP iterator; at shutdown its output is the finalized records, which are emitted.
 * Returns 0 or -errno. */
static int run_iter(struct falconet_bpf *skel, __u64 now, __u32 mode)
{
	if (!iter_link)
		return 0;
	export_ctx(&skel->bss->sock_iter_ctx, now, mode);
	int fd = bpf_iter_create(bpf_link__fd(iter_link));
	if (fd < 0)
		return -errno;
	static struct sock_record rec;
	size_t have = 0;
	int err = 0;
	for (;;) {
		ssize_t n = read(fd, (char *)&rec + have, sizeof(rec) - have);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			err = n < 0 ? -errno : 0;
			break;
		}
		have += n;
		if (have == sizeof(rec)) {
			add_record(&rec, sizeof(rec));
			have = 0;
		}
	}
	close(fd);
	return err;
}

void sock_tick(struct falconet_bpf *skel, __u64 boot_ns)
{
	if (!sock_enabled || boot_ns < next_tick)
		return;
	next_tick = boot_ns + SOCK_TICK_MS * 1000000ULL;
	set_boot_offset(skel);
	static bool warned;
	int e1 = run_iter(skel, boot_ns, SOCK_EXPORT_TICK);
	int e2 = run_export(skel, boot_ns, SOCK_EXPORT_TICK);
	if ((e1 || e2) && !warned) {
		warned = true;
		logf_("socket monitor: the export timer cannot run: %s%s", strerror(-(e1 ? e1 : e2)), "");
	}
}

void sock_shutdown(struct falconet_bpf *skel)
{
	if (!sock_enabled)
		return;
	for (int i = 0; i < 3; i++)
		if (cg_links[i])
			bpf_link__destroy(cg_links[i]);
	/* the kernel is paused (fn_paused): TCP entries come from the iterator's output */
	__u64 now = now_ns(CLOCK_BOOTTIME);
	run_iter(skel, now, SOCK_EXPORT_FINALIZE);
	if (iter_link)
		bpf_link__destroy(iter_link);
	run_export(skel, now, SOCK_EXPORT_FINALIZE);
	/* ... and every other entry from the map */
	int fd = bpf_map__fd(skel->maps.sock_map);
	static struct sock_record rec;
	size_t n = 0;
	struct sock_key *keys = map_keys(fd, sizeof(*keys), NULL, NULL, &n);
	for (size_t i = 0; i < n; i++) {
		if (bpf_map_lookup_and_delete_elem(fd, &keys[i], &rec))
			continue;
		if (rec.protocol == IPPROTO_TCP && rec.busy == 1)
			continue; /* a close that began before the pause: it reports it through the ring buffer */
		if (rec.embryo)
			continue; /* a server child not ESTABLISHED yet: no record (enum fn_sock_embryo) */
		rec.hdr.type = FN_REC_SOCK;
		rec.hdr.size = sizeof(rec);
		add_record(&rec, sizeof(rec));
	}
	free(keys);
	if (cg_fd >= 0)
		close(cg_fd);
}
