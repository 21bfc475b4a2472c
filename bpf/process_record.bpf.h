/* SPDX-License-Identifier: GPL-2.0 */
/* Process monitor (process.bpf.h): building a record (header, paths, argv) and the socket
 * addresses of network calls. */
#pragma once
#include "process.bpf.h"
#include "socket.bpf.h" /* sock_of_task_fd */

/* ---- record building ---- */
/* The fixed part of a record of task t, zeroed first (a ring reservation is not zeroed). */
static __always_inline void rec_fill(struct proc_record *r, __u32 ev, __u32 nr, long ret, __u64 now, struct task_struct *t)
{
	__u64 *w = (__u64 *)r;
#pragma unroll
	for (int k = 0; k < (int)(PROC_RECORD_FIXED / 8); k++)
		w[k] = 0;
	fill_hdr_of(&r->hdr, FN_REC_PROC, now, t);
	r->event = ev;
	r->syscall = nr;
	r->ret = ret;
	r->parent_start = t->real_parent->start_boottime;
	/* what bpf_get_current_cgroup_id() returns (cgroup_id(task_dfl_cgroup(current))), as
	 * loads: a helper call costs more than the three loads on this kind of guest */
	r->cgroup_id = t->cgroups->dfl_cgrp->kn->id;
	const struct cred *cr = t->cred;
	r->euid = cr->euid.val;
	r->egid = cr->egid.val;
}

/* A record with strings to come: built in the per-CPU scratch, sent by rec_emit. */
static __noinline struct proc_record *rec_begin(__u32 ev, __u32 nr, long ret, __u64 now, struct task_struct *t)
{
	__u32 zero = 0;
	struct proc_scratch *s = bpf_map_lookup_elem(&proc_scratch, &zero);
	if (!s)
		return NULL;
	rec_fill(&s->r, ev, nr, ret, now, t);
	return &s->r;
}

/* A record without strings (fork, exit): reserved at its fixed size and built in the ring, sent
 * by rec_submit_fixed. The scratch would be one more vmalloc'd page for the hook to reach, and
 * in a process that has just forked or is exiting each such page costs ~0.2-0.6 us on our kind
 * of guest (docs/performance.md, eleventh pass). NULL: the ring is full (counted as lost).
 * Inlined: the reservation must be submitted in the frame that made it. */
static __always_inline struct proc_record *rec_reserve_fixed(__u32 ev, __u32 nr, long ret, __u64 now, struct task_struct *t)
{
	struct proc_record *r = bpf_ringbuf_reserve(&events, PROC_RECORD_FIXED, 0);
	if (!r) {
		count_lost(ev, now);
		return NULL;
	}
	rec_fill(r, ev, nr, ret, now, t);
	r->hdr.size = PROC_RECORD_FIXED;
	return r;
}

static __always_inline void rec_submit_fixed(struct proc_record *r)
{
	bpf_ringbuf_submit(r, rb_flags(PROC_RECORD_FIXED));
	stat_inc(ST_PROC_RECORDS);
}

static __noinline void rec_emit(struct proc_record *r, __u32 len, __u64 now)
{
	/* bounded in 64 bits before the clamp: 6.1's verifier does not carry a 32-bit compare's
	 * bound over to the 64-bit copy the size is made of */
	__u64 size = PROC_RECORD_FIXED + BOUND(len, 0x7fff);
	if (size > sizeof(*r))
		size = sizeof(*r);
	r->hdr.size = size;
	if (bpf_ringbuf_output(&events, r, size, rb_flags(size))) {
		count_lost(r->event, now);
		return;
	}
	stat_inc(ST_PROC_RECORDS);
}

#define DATA(r, off) (&(r)->data[BOUND((off), FN_PROC_DATA_MAX - 1)])
#define ROOM(off) ((off) <= FN_PROC_DATA_MAX - 8192)

static __always_inline void set_len(struct proc_record *r, __u32 idx, __u32 len)
{
	/* idx is always a constant < FN_PROC_STRS at the call sites; the mask (which clang cannot
	 * drop, unlike a compare) is what lets the verifier see it */
	r->str_len[BOUND(idx, FN_PROC_STRS - 1)] = len;
}

/* Appends the user string u as string idx; returns the new data length. */
static __noinline __u32 put_user_str(struct proc_record *r, __u32 idx, __u32 off, __u64 u)
{
	if (!u || !ROOM(off))
		return off;
	long n = bpf_probe_read_user_str(DATA(r, off), FN_PATH_MAX, (const void *)u);
	if (n <= 0)
		return off;
	if (n >= FN_PATH_MAX)
		r->hdr.flags |= PF_STR_TRUNC;
	n -= 1;
	set_len(r, idx, n);
	return off + n;
}

static __noinline __u32 put_kernel_str(struct proc_record *r, __u32 idx, __u32 off, const char *k)
{
	if (!k || !ROOM(off))
		return off;
	long n = bpf_probe_read_kernel_str(DATA(r, off), FN_PATH_MAX, k);
	if (n <= 0)
		return off;
	if (n >= FN_PATH_MAX)
		r->hdr.flags |= PF_STR_TRUNC;
	n -= 1;
	set_len(r, idx, n);
	return off + n;
}

/* Appends the full path of (dentry, mnt) as string idx. */
static __noinline __u32 put_dentry(struct proc_record *r, __u32 idx, __u32 off, struct dentry *d,
				   struct vfsmount *m)
{
	if (!d || !ROOM(off))
		return off;
	__u16 name_off = 0;
	int n = walk_path(d, m, DATA(r, off), &name_off, &r->hdr.flags);
	if (n <= 0)
		return off;
	set_len(r, idx, n);
	return off + n;
}

static __noinline __u32 put_file(struct proc_record *r, __u32 idx, __u32 off, struct file *f)
{
	if (!f)
		return off;
	if (cfg_kf_rdonly_cast) {
		/* f as a BTF pointer, whatever it came as: two loads, not two probe-read calls */
		struct file *bf = bpf_rdonly_cast(f, bpf_core_type_id_kernel(struct file));
		return put_dentry(r, idx, off, bf->f_path.dentry, bf->f_path.mnt);
	}
	return put_dentry(r, idx, off, BPF_CORE_READ(f, f_path.dentry), BPF_CORE_READ(f, f_path.mnt));
}

/* The current task's file of fd: direct loads where bpf_rdonly_cast exists (6.2+; one probe-read
 * call per pointer of the fd table before). */
static __always_inline struct file *cur_fd_file(__u64 fd)
{
	if (cfg_kf_rdonly_cast)
		return fd_file_task(bpf_get_current_task_btf(), fd);
	return fd_to_file((struct task_struct *)bpf_get_current_task(), fd);
}

/* Appends dirfd/cwd + '/' + the user path (or the user path alone when absolute). */
static __noinline __u32 put_path_at(struct proc_record *r, __u32 idx, __u32 off, __s32 dfd, __u64 u)
{
	if (!u || !ROOM(off))
		return off;
	char c = 0;
	bpf_probe_read_user(&c, 1, (const void *)u);
	if (c == '/') {
		r->hdr.flags |= idx == 0 ? PF_PATH_ABS : PF_PATH2_ABS;
		return put_user_str(r, idx, off, u);
	}
	struct task_struct *t = (struct task_struct *)bpf_get_current_task();
	struct dentry *d;
	struct vfsmount *m;
	if (dfd == P_AT_FDCWD) {
		d = BPF_CORE_READ(t, fs, pwd.dentry);
		m = BPF_CORE_READ(t, fs, pwd.mnt);
	} else {
		struct file *f = fd_to_file(t, (__u32)dfd);
		if (!f)
			return put_user_str(r, idx, off, u);
		d = BPF_CORE_READ(f, f_path.dentry);
		m = BPF_CORE_READ(f, f_path.mnt);
	}
	__u16 name_off = 0;
	int n = walk_path(d, m, DATA(r, off), &name_off, &r->hdr.flags);
	if (n < 0)
		n = 0;
	__u32 p = off + n;
	if (!c) { /* empty path (AT_EMPTY_PATH): the directory itself */
		set_len(r, idx, n);
		return p;
	}
	if (n != 1) /* the root walks to "/" already */
		r->data[BOUND(p++, FN_PROC_DATA_MAX - 1)] = '/';
	long k = bpf_probe_read_user_str(DATA(r, p), FN_PATH_MAX, (const void *)u);
	if (k <= 0)
		k = 1;
	if (k >= FN_PATH_MAX)
		r->hdr.flags |= PF_STR_TRUNC;
	p += k - 1;
	set_len(r, idx, p - off);
	return p;
}

/* ---- sockets ---- */
static __always_inline struct sock *sock_of_fd(long fd)
{
	return fd < 0 ? NULL : sock_of_task_fd((struct task_struct *)bpf_get_current_task(), fd); /* socket.bpf.h */
}

/* unix socket path of sk as string idx (abstract names keep their leading NUL). */
static __noinline __u32 put_unix(struct proc_record *r, __u32 idx, __u32 off, struct sock *sk)
{
	if (!sk || !ROOM(off))
		return off;
	struct unix_address *ua = BPF_CORE_READ((struct unix_sock *)sk, addr);
	if (!ua)
		return off;
	int len = BPF_CORE_READ(ua, len) - 2; /* minus sun_family */
	if (len <= 0)
		return off;
	if (len > 108)
		len = 108;
	char *src = (char *)ua + bpf_core_field_offset(struct unix_address, name) + 2;
	bpf_probe_read_kernel(DATA(r, off), BOUND(len, 127), src);
	/* pathname sockets may count the terminating NUL */
	if (len > 1 && r->data[BOUND(off, FN_PROC_DATA_MAX - 1)] != 0 &&
	    r->data[BOUND(off + len - 1, FN_PROC_DATA_MAX - 1)] == 0)
		len -= 1;
	set_len(r, idx, len);
	return off + len;
}

enum { SOCK_OWN = 0, SOCK_LOCAL2 = 1, SOCK_PEER = 2 };

/* Addresses of sk: SOCK_OWN puts the local address in addr (unix path: str0); SOCK_LOCAL2 puts
 * it in addr2 (str1); SOCK_PEER also puts the peer in addr (str0). */
static __noinline __u32 put_sock(struct proc_record *r, __u32 off, struct sock *sk, __u32 mode)
{
	if (!sk)
		return off;
	struct fn_sockaddr *local = mode == SOCK_OWN ? &r->addr : &r->addr2;
	struct fn_sockaddr *peer = mode == SOCK_PEER ? &r->addr : NULL;
	__u32 li = mode == SOCK_OWN ? 0 : 1, pi = 0;
	__u16 fam = BPF_CORE_READ(sk, __sk_common.skc_family);
	if (local)
		local->family = fam;
	if (peer)
		peer->family = fam;
	if (fam == P_AF_INET) {
		if (local) {
			__u32 a = BPF_CORE_READ(sk, __sk_common.skc_rcv_saddr);
			__builtin_memcpy(local->addr, &a, 4);
			local->port = BPF_CORE_READ(sk, __sk_common.skc_num);
		}
		if (peer) {
			__u32 a = BPF_CORE_READ(sk, __sk_common.skc_daddr);
			__builtin_memcpy(peer->addr, &a, 4);
			peer->port = __builtin_bswap16(BPF_CORE_READ(sk, __sk_common.skc_dport));
		}
	} else if (fam == P_AF_INET6) {
		if (local) {
			BPF_CORE_READ_INTO((struct in6_addr *)local->addr, sk, __sk_common.skc_v6_rcv_saddr);
			local->port = BPF_CORE_READ(sk, __sk_common.skc_num);
		}
		if (peer) {
			BPF_CORE_READ_INTO((struct in6_addr *)peer->addr, sk, __sk_common.skc_v6_daddr);
			peer->port = __builtin_bswap16(BPF_CORE_READ(sk, __sk_common.skc_dport));
		}
	} else if (fam == P_AF_UNIX) {
		/* strings are stored in index order: the peer's (str0) first */
		if (peer)
			off = put_unix(r, pi, off, BPF_CORE_READ((struct unix_sock *)sk, peer));
		off = put_unix(r, li, off, sk);
	}
	return off;
}

/* A sockaddr from user memory (connect/bind). */
static __noinline __u32 put_user_sockaddr(struct proc_record *r, __u32 idx, __u32 off, __u64 u,
					  __u64 ulen, struct fn_sockaddr *out)
{
	if (!u || ulen < 2)
		return off;
	__u16 fam = 0;
	bpf_probe_read_user(&fam, 2, (const void *)u);
	out->family = fam;
	if (fam == P_AF_INET && ulen >= 8) {
		__u16 port = 0;
		bpf_probe_read_user(&port, 2, (const void *)(u + 2));
		out->port = __builtin_bswap16(port);
		bpf_probe_read_user(out->addr, 4, (const void *)(u + 4));
	} else if (fam == P_AF_INET6 && ulen >= 24) {
		__u16 port = 0;
		bpf_probe_read_user(&port, 2, (const void *)(u + 2));
		out->port = __builtin_bswap16(port);
		bpf_probe_read_user(out->addr, 16, (const void *)(u + 8));
	} else if (fam == P_AF_UNIX && ulen > 2 && ROOM(off)) {
		__u32 len = ulen - 2;
		if (len > 108)
			len = 108;
		bpf_probe_read_user(DATA(r, off), BOUND(len, 127), (const void *)(u + 2));
		char first = r->data[BOUND(off, FN_PROC_DATA_MAX - 1)];
		if (first) { /* pathname: up to the first NUL */
			__u32 n = 0;
			for (int i = 0; i < 108; i++) {
				if (i >= len || !r->data[BOUND(off + i, FN_PROC_DATA_MAX - 1)])
					break;
				n++;
			}
			len = n;
		}
		set_len(r, idx, len);
		off += len;
	}
	return off;
}
