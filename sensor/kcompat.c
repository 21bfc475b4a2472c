// SPDX-License-Identifier: GPL-2.0
/*
 * Per-kernel choices, made before the object is loaded (no reject-and-reload):
 *  - kfuncs (bpf_rdonly_cast, bpf_cast_to_kern_ctx: 6.2+) and tracepoint signatures come from
 *    the running kernel's BTF; they set rodata flags (bpf/compat.bpf.h) that select a
 *    probe-read path, or pick the "__nokf" twin of a program (bpf/file_compat.bpf.h);
 *  - helpers (bpf_loop, bpf_find_vma: 5.17+) are asked of the kernel (libbpf_probe_bpf_helper);
 *  - tracepoints a program needs are looked up in tracefs (tp/) or BTF (tp_btf/);
 *  - kconfig values are passed to libbpf when the kernel's config file is not readable
 *    (containers), so that CONFIG_HZ does not fail the load.
 * What a monitor loses on this kernel is said once per capability in the hello's status lines.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include "../bpf/records.h"
#include "falconet.skel.h"
#include "kcompat.h"
#include "monitors.h"
#include "payload.h"

struct kcompat kc;
static struct btf *vbtf;
static char kconfig[64];

static bool btf_has(const char *name, int kind)
{
	return vbtf && btf__find_by_name_kind(vbtf, name, kind) > 0;
}

/* Parameters of a tp_btf tracepoint's probe (btf_trace_X: typedef → pointer → func proto),
 * counting the leading void *; -1 when the kernel has no such tracepoint. */
static int tp_btf_params(const char *tp)
{
	char name[160];
	snprintf(name, sizeof(name), "btf_trace_%s", tp);
	int id = vbtf ? btf__find_by_name_kind(vbtf, name, BTF_KIND_TYPEDEF) : -1;
	if (id <= 0)
		return -1;
	const struct btf_type *t = btf__type_by_id(vbtf, id);
	t = btf__type_by_id(vbtf, t->type); /* pointer */
	if (!t || !btf_is_ptr(t))
		return -1;
	t = btf__type_by_id(vbtf, t->type);
	if (!t || !btf_is_func_proto(t))
		return -1;
	return btf_vlen(t);
}

/* Index of the parameter called name in function fn's BTF prototype, or -1. */
static int func_param(const char *fn, const char *name)
{
	int id = vbtf ? btf__find_by_name_kind(vbtf, fn, BTF_KIND_FUNC) : -1;
	if (id <= 0)
		return -1;
	const struct btf_type *t = btf__type_by_id(vbtf, btf__type_by_id(vbtf, id)->type);
	if (!t || !btf_is_func_proto(t))
		return -1;
	const struct btf_param *p = btf_params(t);
	for (int i = 0; i < btf_vlen(t); i++)
		if (!strcmp(btf__name_by_offset(vbtf, p[i].name_off), name))
			return i;
	return -1;
}

/* BPF LSM is active when securityfs lists it (lsm= or CONFIG_LSM). */
static bool lsm_bpf_active(void)
{
	char buf[512] = "";
	FILE *f = fopen("/sys/kernel/security/lsm", "r");
	if (!f)
		return false;
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = 0;
	for (char *tok = strtok(buf, ",\n"); tok; tok = strtok(NULL, ",\n"))
		if (!strcmp(tok, "bpf"))
			return true;
	return false;
}

bool kc_tracepoint_exists(const char *sec)
{
	char path[256];
	if (!strncmp(sec, "tp/", 3)) {
		snprintf(path, sizeof(path), "/sys/kernel/tracing/events/%s", sec + 3);
		if (access(path, F_OK) == 0)
			return true;
		snprintf(path, sizeof(path), "/sys/kernel/debug/tracing/events/%s", sec + 3);
		return access(path, F_OK) == 0;
	}
	if (!strncmp(sec, "tp_btf/", 7))
		return tp_btf_params(sec + 7) >= 0;
	return true;
}

/* "now at N nsecs" (CLOCK_MONOTONIC) and "jiffies: J" from one read of /proc/timer_list
 * (root-readable). false when either is missing. */
static bool read_timer_list(unsigned long long *now_ns, unsigned long long *jiffies)
{
	FILE *f = fopen("/proc/timer_list", "r");
	if (!f)
		return false;
	char line[256];
	bool got_now = false, got_j = false;
	while ((!got_now || !got_j) && fgets(line, sizeof(line), f)) {
		if (!got_now && sscanf(line, "now at %llu nsecs", now_ns) == 1)
			got_now = true;
		else if (!got_j && sscanf(line, "jiffies: %llu", jiffies) == 1)
			got_j = true;
	}
	fclose(f);
	return got_now && got_j;
}

/* CONFIG_HZ when no config file says it. jiffies start at INITIAL_JIFFIES = 2^32 - 300*HZ when
 * the monotonic clock starts, so jiffies = 2^32 + HZ * (t - 300 s): the Kconfig value (100, 250,
 * 300, 1000) that predicts the jiffies best, from one snapshot, immune to a slow or busy CPU
 * (counting ticks over an interval is not, under QEMU's TCG). Within 2 s of t = 300 s the values
 * cannot be told apart: 250 (Debian's) is assumed and said. */
static unsigned measure_hz(const char **how)
{
	unsigned long long now = 0, j = 0;
	if (!read_timer_list(&now, &j)) {
		*how = "assumed (no kernel config, /proc/timer_list unreadable)";
		return 250;
	}
	double t = now / 1e9 - 300.0;
	if (t > -2 && t < 2) {
		*how = "assumed (no kernel config, uptime too close to 300 s to tell from jiffies)";
		return 250;
	}
	static const unsigned allowed[] = { 100, 250, 300, 1000 };
	unsigned best = 250;
	double bestd = 1e300;
	for (unsigned i = 0; i < 4; i++) {
		double pred = 4294967296.0 + allowed[i] * t;
		double d = pred > (double)j ? pred - j : j - pred;
		if (d < bestd) {
			bestd = d;
			best = allowed[i];
		}
	}
	*how = "measured from jiffies (no kernel config)";
	return best;
}

static bool kernel_config_readable(void)
{
	struct utsname u;
	char path[256];
	if (uname(&u) == 0) {
		snprintf(path, sizeof(path), "/boot/config-%s", u.release);
		if (access(path, R_OK) == 0)
			return true;
	}
	return access("/proc/config.gz", R_OK) == 0;
}

void kcompat_probe(void)
{
	vbtf = btf__load_vmlinux_btf();
	kc.kf_rdonly_cast = btf_has("bpf_rdonly_cast", BTF_KIND_FUNC);
	kc.kf_kern_ctx = btf_has("bpf_cast_to_kern_ctx", BTF_KIND_FUNC);
	kc.cg_skb_tgid = libbpf_probe_bpf_helper(BPF_PROG_TYPE_CGROUP_SKB, BPF_FUNC_get_current_pid_tgid, NULL) == 1 ? 1
		       : libbpf_probe_bpf_helper(BPF_PROG_TYPE_CGROUP_SKB, BPF_FUNC_get_current_task_btf, NULL) == 1 ? 2 : 0;
	/* (void *, task, group_dead) on newer kernels; (void *, task) on 6.1 */
	kc.exit_group_dead_arg = tp_btf_params("sched_process_exit") >= 3;
	kc.has_loop = libbpf_probe_bpf_helper(BPF_PROG_TYPE_TRACEPOINT, BPF_FUNC_loop, NULL) == 1;
	kc.has_find_vma = libbpf_probe_bpf_helper(BPF_PROG_TYPE_TRACEPOINT, BPF_FUNC_find_vma, NULL) == 1;
	kc.ctime_tps = kc_tracepoint_exists("tp_btf/ctime_ns_xchg") || kc_tracepoint_exists("tp_btf/inode_set_ctime_to_ts");
	kc.sock_len_tps = kc_tracepoint_exists("tp_btf/sock_send_length") && kc_tracepoint_exists("tp_btf/sock_recv_length");
	kc.sk_data_ready_tp = kc_tracepoint_exists("tp_btf/sk_data_ready");
	kc.tcp_rcv_space_tp = kc_tracepoint_exists("tp_btf/tcp_rcv_space_adjust");
	kc.lsm_bpf = lsm_bpf_active() && func_param("bpf_lsm_inode_rename", "old_dentry") >= 0;
	kc.lsm_setattr_dentry = func_param("bpf_lsm_inode_setattr", "dentry");
	const char *env = getenv("FALCONET_KCONFIG"); /* explicit values win (tests, odd hosts) */
	if (env && *env) {
		snprintf(kconfig, sizeof(kconfig), "%s", env);
		kc.hz_how = "from FALCONET_KCONFIG";
	} else if (!kernel_config_readable()) {
		unsigned hz = measure_hz(&kc.hz_how);
		snprintf(kconfig, sizeof(kconfig), "CONFIG_HZ=%u\n", hz);
	}
}

/* Path operations through the BPF LSM hooks (file_lsm.bpf.h): no ctime tracepoints, BPF LSM
 * active, and inode_setattr's dentry argument found. */
static bool file_lsm_path(void)
{
	return !kc.ctime_tps && kc.lsm_bpf && kc.lsm_setattr_dentry >= 0;
}

struct falconet_bpf *kcompat_open(void)
{
	LIBBPF_OPTS(bpf_object_open_opts, oo, .kconfig = kconfig[0] ? kconfig : NULL);
	struct falconet_bpf *skel = falconet_bpf__open_opts(&oo);
	if (!skel)
		return NULL;
	skel->rodata->cfg_kf_rdonly_cast = kc.kf_rdonly_cast;
	skel->rodata->cfg_kf_kern_ctx = kc.kf_kern_ctx;
	skel->rodata->cfg_cg_skb_tgid = kc.cg_skb_tgid;
	skel->rodata->cfg_exit_group_dead_arg = kc.exit_group_dead_arg;
	skel->rodata->cfg_lsm_setattr_dentry = kc.lsm_setattr_dentry > 0 ? kc.lsm_setattr_dentry : 0;
	skel->rodata->cfg_file_lsm_path = file_lsm_path();
	return skel;
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);
	return n >= m && !strcmp(s + n - m, suffix);
}

#define NOKF "__nokf"

/* A path operation's program (file_path.bpf.h PATH_OP): file_enter_X and file_exit_X both exist;
 * close/dup2/dup3 have an enter hook only. */
static bool is_path_op(struct bpf_object *obj, const char *name)
{
	char other[160];
	if (!strncmp(name, "file_enter_", 11))
		snprintf(other, sizeof(other), "file_exit_%s", name + 11);
	else if (!strncmp(name, "file_exit_", 10))
		snprintf(other, sizeof(other), "file_enter_%s", name + 10);
	else
		return false;
	return !ends_with(name, NOKF) && bpf_object__find_program_by_name(obj, other) != NULL;
}

/* UNIX stream reads by splice have one hook, a syscall exit: every syscall of every process then
 * takes the kernel's slow path, which the socket monitor alone never causes. Where the
 * sock_*_length tracepoints exist (6.18) it is left out unless the file or process monitor, which
 * attach syscall tracepoints anyway, is on; 6.1's fallback has syscall exits already. */
static bool unix_splice_left_out(unsigned monitors)
{
	return kc.sock_len_tps && !(monitors & (FN_MON_FILE | FN_MON_PROCESS));
}

const char *kcompat_skip(struct bpf_object *obj, struct bpf_program *prog)
{
	const char *name = bpf_program__name(prog);
	char twin[160];
	/* helpers first: no variant of these programs runs without them */
	if (!kc.has_loop && (!strncmp(name, "file_", 5) || !strncmp(name, "sock_tcp_", 9)))
		return "needs the bpf_loop helper (5.17+)";
	if (!kc.has_find_vma && !strncmp(name, "proc_exit_", 10) && strcmp(name, "proc_exit_task"))
		return "needs the bpf_find_vma helper (5.17+)";
	/* kfunc twins: the "__nokf" program where bpf_rdonly_cast is missing, else its original */
	if (ends_with(name, NOKF))
		return kc.kf_rdonly_cast ? "" : NULL;
	snprintf(twin, sizeof(twin), "%s" NOKF, name);
	if (bpf_object__find_program_by_name(obj, twin))
		return kc.kf_rdonly_cast ? NULL : "";
	/* UNIX bytes: the sock_*_length tracepoints, else BPF LSM socket hooks (socket_unix_compat.bpf.h) */
	if (!strncmp(name, "sock_ux_", 8))
		return !kc.sock_len_tps && kc.lsm_bpf ? NULL : kc.sock_len_tps ? "" : "BPF LSM not active";
	/* UNIX splice reads: with either (no UNIX records at all without both) */
	if (!strcmp(name, "sock_unix_splice")) {
		if (!kc.sock_len_tps && !kc.lsm_bpf)
			return "BPF LSM not active";
		return unix_splice_left_out(opt.monitors) ? "" : NULL;
	}
	/* path operations: the ctime tracepoints, else the BPF LSM hooks (file_lsm.bpf.h), else none */
	bool lsm_path = file_lsm_path();
	if (!strncmp(name, "file_lsm_", 9))
		return lsm_path ? NULL : kc.ctime_tps ? "" : "BPF LSM not active";
	/* without a hook giving the inode a path op's enter/exit pair would only mark and unmark threads */
	if (!kc.ctime_tps && !lsm_path && is_path_op(obj, name))
		return "no VFS ctime tracepoint in this kernel (ctime_ns_xchg, inode_set_ctime_to_ts: 6.13+)";
	return NULL;
}

void status_add(char *status, size_t cap, size_t *slen, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(status + *slen, *slen < cap ? cap - *slen : 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	*slen += n + 1;
	if (*slen >= cap)
		*slen = cap - 1;
}

void kcompat_report(char *status, size_t cap, size_t *slen, unsigned monitors)
{
	if (kconfig[0])
		status_add(status, cap, slen, "kernel: kconfig %.*s %s", (int)strcspn(kconfig, "\n"), kconfig, kc.hz_how);
	if (monitors & FN_MON_FILE) {
		if (!kc.has_loop)
			status_add(status, cap, slen, "unavailable: file: every event (full paths need the bpf_loop helper, 5.17+)");
		if (file_lsm_path())
			status_add(status, cap, slen, "fallback: file: path operations through BPF LSM inode hooks (no VFS ctime "
			    "tracepoints, 6.13+); DELETE is counted when the unlink is checked, fallocate's MODIFY when the "
			    "call succeeds");
		else if (!kc.ctime_tps)
			status_add(status, cap, slen, "unavailable: file: path operations (rename, unlink, link, symlink, chmod, "
			    "chown, utimes, xattr, truncate by path or fd: MOVED_FROM/MOVED_TO, DELETE, ATTRIB, MODIFY) "
			    "(no VFS ctime tracepoints (6.13+), and BPF LSM is not active)");
		if (!kc.kf_rdonly_cast)
			status_add(status, cap, slen, "fallback: file: fd events resolve the struct file with probe reads "
			    "(no bpf_rdonly_cast kfunc, 6.2+)");
	}
	if (monitors & FN_MON_SOCKET) {
		if (!kc.has_loop)
			status_add(status, cap, slen, "unavailable: socket: TCP records (lifecycle hooks need the bpf_loop helper, 5.17+)");
		if (!kc.sock_len_tps && kc.lsm_bpf && kc.tcp_rcv_space_tp)
			status_add(status, cap, slen, "fallback: socket: UNIX socket bytes through BPF LSM socket_sendmsg/recvmsg "
			    "and syscall exits, TCP server owner at first read through socket_recvmsg and tcp_rcv_space_adjust "
			    "(no sock_send_length/sock_recv_length tracepoints), of sendfile and splice through their exits; "
			    "unavailable: UNIX bytes of io_uring");
		else if (!kc.sock_len_tps && kc.lsm_bpf)
			status_add(status, cap, slen, "fallback: socket: UNIX socket bytes through BPF LSM socket_sendmsg/recvmsg "
			    "and syscall exits (no sock_send_length/sock_recv_length tracepoints), of sendfile and splice "
			    "through their exits; unavailable: UNIX bytes of io_uring, TCP server owner at first read (taken "
			    "at close instead)");
		else if (!kc.sock_len_tps)
			status_add(status, cap, slen, "unavailable: socket: UNIX socket records, TCP server owner at first read "
			    "(owner taken at close instead) (no sock_send_length/sock_recv_length tracepoints, and BPF LSM "
			    "is not active)");
		if (unix_splice_left_out(monitors))
			status_add(status, cap, slen, "unavailable: socket: UNIX stream bytes read by splice (their one hook is a "
			    "syscall exit, which would slow every syscall; with the file or process monitor on, they are counted)");
		if (!kc.kf_kern_ctx)
			status_add(status, cap, slen, "unavailable: socket: SockRxPacketsFrag; drops and queue of UDP peers seen "
			    "only receiving (no bpf_cast_to_kern_ctx kfunc, 6.2+)");
		if (!kc.cg_skb_tgid && payload_ports())
			status_add(status, cap, slen, "fallback: socket: -p also captures what the agent and the sensor send "
			    "to a TCP or UDP port it watches (cgroup_skb programs can read no current task)");
		if (!kc.sk_data_ready_tp)
			status_add(status, cap, slen, "fallback: socket: -p payloads of UNIX syslog sockets on the reader side "
			    "(skb_copy_datagram_iovec; no sk_data_ready tracepoint); unavailable that way: UNIX stream "
			    "sockets, receivers reading other than by read/readv/recvfrom/recvmsg/recvmmsg (io_uring)");
	}
	if (monitors & FN_MON_PROCESS) {
		if (!kc.has_find_vma)
			status_add(status, cap, slen, "unavailable: process: syscall events (need the bpf_find_vma helper, 5.17+)");
		if (!kc.exit_group_dead_arg)
			status_add(status, cap, slen, "fallback: process: EXIT's last-thread flag from signal->live "
			    "(sched_process_exit has no group_dead argument)");
	}
}
