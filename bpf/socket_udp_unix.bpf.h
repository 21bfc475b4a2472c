/* SPDX-License-Identifier: GPL-2.0 */
/* Socket monitor (socket.bpf.h): UDP owners (cgroup/sock_create, sock_release) and UNIX byte
 * counts (sock_send_length, sock_recv_length), in process context. */
#pragma once
#include "socket.bpf.h"

static __noinline int udp_owner(__u64 cookie)
{
	if (bpf_map_lookup_elem(&sock_owners, &cookie))
		return 0;
	__u32 zero = 0;
	struct sock_owner *o = bpf_map_lookup_elem(&sock_owner_scratch, &zero);
	if (!o)
		return 0;
	o->hdr.flags = 0;
	o->closed = 0;
	fill_hdr(&o->hdr, FN_REC_SOCK, 0);
	bpf_map_update_elem(&sock_owners, &cookie, o, BPF_NOEXIST);
	return 0;
}

/* A socket's entry under its cookie takes over what was counted under its inode before it had
 * one (a splice read, say), so that the socket has one record. r: the new entry, not inserted
 * yet. An export of the old entry between the look-up and the exchanges keeps what it took. */
static __always_inline void unix_adopt_ino_entry(struct sock_record *r, __u64 ino)
{
	struct sock_key k = { .cookie = UX_INO_KEY | ino };
	struct sock_record *o = bpf_map_lookup_elem(&sock_map, &k);
	if (!o)
		return;
	take_dir(&r->tx, &o->tx);
	take_dir(&r->rx, &o->rx);
	r->hdr.ts_first = o->hdr.ts_first;
	if (bpf_map_delete_elem(&sock_map, &k) == 0)
		__sync_fetch_and_add(&sock_map_entries, -1);
}

/* bytes moved by `calls` calls that each moved some (sendmmsg/recvmmsg: one per message), under
 * key: the socket's cookie, or UX_INO_KEY | its inode (unix_stream_of_fd) */
static __noinline int unix_io(struct sock *sk, __u64 cookie, __u64 bytes, bool rx, __u32 calls)
{
	__u64 now = bpf_ktime_get_boot_ns();
	struct sock_key key = { .cookie = cookie };
	struct sock_record *v = bpf_map_lookup_elem(&sock_map, &key);
	if (!v) {
		int slot;
		struct sock_record *r = sock_zeroed(&slot);
		if (!r) {
			sock_scratch_put(slot);
			return 0;
		}
		r->cookie = cookie;
		r->family = AF_UNIX_;
		r->sotype = BPF_CORE_READ(sk, sk_type);
		r->hdr.ts_first = r->hdr.ts = r->ts_export = now;
		r->sk = (__u64)sk;
		/* and its socket inode (raddr[8..16], unused by UNIX records): a struct sock address is
		 * reused at once by the next socket, the inode number is not (payload join) */
		__u64 ino = unix_sock_ino(sk);
		__builtin_memcpy(r->raddr + 8, &ino, 8);
		fill_hdr_task(&r->hdr, FN_REC_SOCK, now); /* the calling task */
		unix_path_of(r, sk);
		if (ino && !(cookie & UX_INO_KEY))
			unix_adopt_ino_entry(r, ino);
		v = sock_insert(&key, r);
		sock_scratch_put(slot);
		if (!v)
			return 0;
	}
	dir_add(rx ? &v->rx : &v->tx, now, bytes, -1, 0, calls);
	return 0;
}

/* The first read that consumed data from a TCP socket: everything read so far is this call's.
 * A server socket gets its owner there (or at close), without a record lookup on every read. */
static __always_inline bool first_read(struct sock *sk, int ret)
{
	__u64 read;
	if (cfg_kf_rdonly_cast) {
		struct tcp_sock *tp = bpf_rdonly_cast(sk, bpf_core_type_id_kernel(struct tcp_sock));
		/* bytes_received and rcv_nxt both count a FIN once it arrived; copied_seq counts it
		 * once a read reached it */
		read = tp->bytes_received - (__u32)(tp->rcv_nxt - tp->copied_seq);
	} else {
		read = TCP_READ_NOKF(sk);
	}
	/* read: the data consumed so far, plus 1 when a read reached the FIN: this call's alone when
	 * it is ret, or ret + 1 (the FIN came with the data; a request then a half-close). Not
	 * first: more, or 0 (MSG_PEEK consumes nothing). read + 1 == ret: kept from before (a FIN
	 * counted by rcv_nxt but not by bytes_received). */
	return read == (__u64)ret || read == (__u64)ret + 1 || read + 1 == (__u64)ret;
}

static __always_inline int sock_io(struct sock *sk, int ret, bool rx)
{
	if (ret <= 0 || !sock_on())
		return 0;
	__u16 fam = sk->__sk_common.skc_family;
	if (fam == AF_UNIX_) {
		if (is_self(bpf_get_current_pid_tgid() >> 32))
			return 0;
		return unix_io(sk, bpf_get_socket_cookie(sk), ret, rx, 1);
	}
	if (fam != AF_INET_ && fam != AF_INET6_)
		return 0;
	if (sk->sk_protocol == IPPROTO_TCP_)
		return rx && first_read(sk, ret) ? tcp_owner(sk) : 0;
	if (sk->sk_protocol == IPPROTO_UDP_ && !is_self(bpf_get_current_pid_tgid() >> 32))
		return udp_owner(bpf_get_socket_cookie(sk));
	return 0;
}

SEC("tp_btf/sock_send_length")
int BPF_PROG(sock_send_len, struct sock *sk, int ret, int flags)
{
	return sock_io(sk, ret, false);
}

SEC("tp_btf/sock_recv_length")
int BPF_PROG(sock_recv_len, struct sock *sk, int ret, int flags)
{
	return sock_io(sk, ret, true);
}

/* ret bytes a call moved through fd when fd is a UNIX stream socket (see unix_stream_of_fd) */
static __always_inline void unix_fd_io(__u64 fd, long ret, bool rx)
{
	if (ret <= 0 || !sock_on() || is_self(bpf_get_current_pid_tgid() >> 32))
		return;
	__u64 key = 0;
	struct sock *sk = unix_stream_of_fd(fd, &key);
	if (!sk)
		return;
	if (key)
		unix_io(sk, key, ret, rx, 1);
	else
		stat_inc(ST_SOCK_UX_UNCOUNTED); /* an orphaned socket: no cookie, no inode */
}

/* A splice out of a UNIX stream socket reads it through unix_stream_splice_read, which passes
 * neither sock_recv_length nor socket_recvmsg (6.1's fallback): its exit counts what it moved,
 * under the socket's cookie or, without one, its inode (unix_stream_of_fd). Datagram and
 * seqpacket sockets are read by recvmsg there and are counted by those hooks. sendfile cannot
 * read a socket (EINVAL). A syscall tracepoint: the sensor loads it only beside the file or
 * process monitor (sensor/kcompat.c). */
SEC("tp/syscalls/sys_exit_splice")
int sock_unix_splice(struct trace_event_raw_sys_exit *ctx)
{
	unix_fd_io(SC_ARG0(cur_regs()), ctx->ret, true);
	return 0;
}

/* A UNIX socket is closed once its last reference is released: the socket is orphaned, or its
 * memory already belongs to another socket. The timer checks. */
static __always_inline bool unix_gone(struct sock_record *v)
{
	struct sock *sk = (struct sock *)v->sk;
	if (!sk)
		return true;
	if (v->cookie & UX_INO_KEY) /* counted under its inode: the same socket while it has that inode */
		return unix_sock_ino(sk) != (v->cookie & ~UX_INO_KEY);
	if (BPF_CORE_READ(sk, __sk_common.skc_cookie.counter) != v->cookie)
		return true;
	return BPF_CORE_READ(sk, sk_socket) == NULL;
}

/* UDP socket creation (the creating task): its owner, and its cookie, which the device hook
 * (sock_dev_xmit) can read but not create. */
SEC("cgroup/sock_create")
int sock_create(struct bpf_sock *ctx)
{
	if (sock_on() && ctx->protocol == IPPROTO_UDP_ && !is_self(bpf_get_current_pid_tgid() >> 32))
		udp_owner(bpf_get_socket_cookie(ctx));
	return 1;
}

/* Cookies of the UDP sockets that existed before the sensor started (run once at start). */
SEC("iter/udp")
int sock_udp_cookies(struct bpf_iter__udp *ctx)
{
	struct udp_sock *u = ctx->udp_sk;
	if (u)
		bpf_get_socket_cookie(u);
	return 0;
}

/* UDP release (last reference, including exit): the tick exports every peer entry. */
SEC("cgroup/sock_release")
int sock_release(struct bpf_sock *ctx)
{
	if (!sock_on() || ctx->protocol != IPPROTO_UDP_)
		return 1;
	__u64 cookie = bpf_get_socket_cookie(ctx);
	__u64 now = bpf_ktime_get_boot_ns();
	struct sock_owner *o = bpf_map_lookup_elem(&sock_owners, &cookie);
	if (o) {
		o->closed = now;
		return 1;
	}
	__u32 zero = 0;
	o = bpf_map_lookup_elem(&sock_owner_scratch, &zero);
	if (!o)
		return 1;
	__builtin_memset(&o->hdr, 0, sizeof(o->hdr));
	o->closed = now;
	bpf_map_update_elem(&sock_owners, &cookie, o, BPF_ANY);
	return 1;
}
