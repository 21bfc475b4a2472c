/* SPDX-License-Identifier: GPL-2.0 */
/* Per-kernel choices made before load (kcompat.c). */
#pragma once
#include <stdbool.h>
#include <stddef.h>

struct falconet_bpf;
struct bpf_object;
struct bpf_program;

struct kcompat {
	bool kf_rdonly_cast;      /* kfunc bpf_rdonly_cast (6.2+) */
	bool kf_kern_ctx;         /* kfunc bpf_cast_to_kern_ctx (6.2+) */
	unsigned cg_skb_tgid;     /* cfg_cg_skb_tgid: how cgroup_skb reads the current tgid (0: cannot) */
	bool exit_group_dead_arg; /* tp_btf/sched_process_exit passes group_dead */
	bool has_loop;            /* helper bpf_loop (5.17+) */
	bool has_find_vma;        /* helper bpf_find_vma (5.17+) */
	bool ctime_tps;           /* VFS ctime tracepoints (6.13+) */
	bool sock_len_tps;        /* sock_send_length / sock_recv_length */
	bool sk_data_ready_tp;    /* tp_btf/sk_data_ready */
	bool tcp_rcv_space_tp;    /* tp_btf/tcp_rcv_space_adjust (the first read of a TCP server socket on the LSM path) */
	bool lsm_bpf;             /* BPF LSM active (/sys/kernel/security/lsm lists bpf) */
	int lsm_setattr_dentry;   /* index of inode_setattr's dentry argument */
	const char *hz_how;       /* how CONFIG_HZ was found when no kernel config is readable */
};
extern struct kcompat kc;

/* Reads the kernel's BTF and asks it about helpers; once, before the first open. */
void kcompat_probe(void);
/* Opens the object with the kconfig values this kernel needs and sets the compat rodata. */
struct falconet_bpf *kcompat_open(void);
/* Why prog must not load on this kernel: NULL loads it; "" is a silent choice (the program's
 * twin runs instead); any other text is reported. */
const char *kcompat_skip(struct bpf_object *obj, struct bpf_program *prog);
/* Tracepoint of a tp/ or tp_btf/ section present in this kernel (other sections: true). */
bool kc_tracepoint_exists(const char *sec);
/* Appends NUL-terminated status lines: per monitor what this kernel lacks, and why. */
void kcompat_report(char *status, size_t cap, size_t *slen, unsigned monitors);
/* Appends one NUL-terminated line to the hello's status lines (status[*slen..cap)), cut at cap. */
void status_add(char *status, size_t cap, size_t *slen, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
