/* SPDX-License-Identifier: GPL-2.0 */
/* Socket monitor (socket.bpf.h), TCP lifecycle: entries made at connect (SYN_SENT) and at the
 * child's clone (SYN_RECV: an embryo until it leaves SYN_RECV), the handshake credited, closes
 * exported (inet_sock_set_state, tcp_destroy_sock). */
#pragma once
#include "socket.bpf.h"

/* Map-walk path: the TCP entry of a cookie. Cookies are unique (a UNIX entry never has a TCP
 * socket's), and a closed entry's socket sends and receives nothing more (time-wait and request
 * sockets are filtered by the callers): the lookup alone, no read of the record's head. */
static __always_inline struct sock_record *tcp_walk_rec(__u64 cookie)
{
	if (!cookie)
		return NULL; /* every tracked socket got its cookie in tcp_new */
	struct sock_key key = { .cookie = cookie };
	return bpf_map_lookup_elem(&sock_map, &key);
}

/* The TCP entry of a full socket (trusted pointer). */
static __always_inline struct sock_record *tcp_rec(struct sock *sk)
{
	if (cfg_tcp_walk)
		return tcp_walk_rec(sk->__sk_common.skc_cookie.counter);
	return bpf_sk_storage_get(&sock_tcp, sk, NULL, 0);
}

static __always_inline bool same16(const __u8 *a, const __u8 *b)
{
	return *(const __u64 *)a == *(const __u64 *)b && *(const __u64 *)(a + 8) == *(const __u64 *)(b + 8);
}

/* A TCP segment with payload that reached a listening socket. When the client's bare ACK is lost,
 * ignored (TCP_DEFER_ACCEPT) or overtaken (loopback, sender on another CPU than the softirq that
 * holds the ACK), this segment completes the handshake: the kernel makes the child from it in the
 * same softirq, on this CPU, and queues its payload after the child's move to ESTABLISHED, which
 * makes the entry. The ingress hook ran on the listener, which has no entry, so the entry takes
 * the packet from this slot (tcp_fill). The key (addresses, ports, the server's ISN + 1 it
 * acknowledges) makes a slot that no child took harmless. */
struct sock_listen_pkt {
	__u8 raddr[16];       /* as inet_addrs writes the child's: IPv4 in the first 4 bytes, or */
	__u8 laddr[16];       /* IPv4-mapped for an IPv6 listener */
	__u16 rport, lport;   /* host order */
	__u32 ack;            /* ack_seq (host order) */
	__u32 payload;
	__u32 flags;
	__u32 ttl;
	__u32 ifindex;
	__u32 defer;          /* the listener ignores bare ACKs: one went through its hook before */
	__u32 valid;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct sock_listen_pkt);
} sock_listen_pkts SEC(".maps");

/* Set once any such segment was seen: until then a new server entry does not look. */
volatile __u32 sock_listen_data;

/* The packet of the slot is the one that completed sk's handshake. */
static __always_inline bool listen_pkt_of(const struct sock_listen_pkt *p, const struct sock_record *r,
					  struct sock *sk)
{
	if (!p->valid || p->lport != r->lport || p->rport != r->rport ||
	    !same16(p->laddr, r->laddr) || !same16(p->raddr, r->raddr))
		return false;
	struct tcp_sock *tp = bpf_skc_to_tcp_sock(sk);
	return tp && tp->snd_una == p->ack;
}

/* A server entry at its child's move to ESTABLISHED: the handshake went through the listener
 * (or its request socket), which has no entry: SYN and ACK in, SYN-ACK out. */
static __always_inline void tcp_credit_handshake(struct sock_record *r, struct sock *sk, __u64 now)
{
	dir_add(&r->rx, now, 0, TF_SYN, 0, 1);
	dir_add(&r->tx, now, 0, TF_SYN | TF_ACK, 0, 1);
	__u32 zero = 0;
	struct sock_listen_pkt *p = sock_listen_data ? bpf_map_lookup_elem(&sock_listen_pkts, &zero) : NULL;
	if (p && listen_pkt_of(p, r, sk)) {
		/* a segment with data completed it (see sock_listen_pkt): it is the handshake's
		 * ACK, unless the listener ignored a bare ACK before it */
		p->valid = 0;
		dir_add(&r->rx, now, p->payload, p->flags, p->ifindex, 1);
		__sync_fetch_and_add(&r->ttl_sum, p->ttl);
		if (p->defer)
			dir_add(&r->rx, now, 0, TF_ACK, 0, 1);
		r->rx_no_ttl = p->defer ? 2 : 1;
	} else {
		dir_add(&r->rx, now, 0, TF_ACK, 0, 1);
		r->rx_no_ttl = 2;
	}
}

/* The fields of a new TCP entry r (zeroed) of socket sk. role SOCK_ROLE_SERVER with embryo: the
 * child just cloned from its listener (SYN_RECV): its addresses are not set yet, and the rest
 * waits for ESTABLISHED (tcp_born). */
static __always_inline void tcp_fill(struct sock_record *r, struct sock *sk, __u64 cookie, __u8 role,
				     bool embryo, __u64 now)
{
	r->hdr.type = FN_REC_SOCK;
	r->hdr.size = sizeof(*r);
	r->cookie = cookie;
	r->protocol = IPPROTO_TCP_;
	r->sotype = 1; /* SOCK_STREAM */
	r->role = role;
	r->hdr.ts_first = r->hdr.ts = r->ts_export = now;
	r->sk = (__u64)sk;
	if (embryo) {
		r->hdr.flags |= SF_NO_OWNER;
		r->state = TCP_SYN_RECV_;
		r->embryo = SOCK_EMBRYO;
		return;
	}
	inet_addrs(r, sk);
	sock_bases(r, sk);
	if (role == SOCK_ROLE_CLIENT) {
		fill_hdr_task(&r->hdr, FN_REC_SOCK, now); /* sock_state (tp_btf), the connecting task */
		r->state = TCP_SYN_SENT_;
	} else {
		r->hdr.flags |= SF_NO_OWNER;
		r->state = TCP_ESTABLISHED_;
		tcp_credit_handshake(r, sk, now);
	}
}

/* An embryo's child reached ESTABLISHED: the entry becomes what tcp_fill makes of a new server
 * entry, keeping what the SYN_RECV window counted. A Fast Open child (SOCK_EMBRYO_TFO) sent its
 * SYN-ACK and got the completing segment itself, and its SYN was credited then (tcp_tfo_syn).
 * Its counter baselines stay zero: a child's counters start at zero, and what they hold now is
 * its own SYN_RECV window (the SYN's payload, SYN-ACKs and data sent again, and the bytes of an
 * answer that the completing segment acknowledged: the kernel counts that acknowledgement before
 * the move to ESTABLISHED). */
static __noinline void tcp_born(struct sock_record *v, struct sock *sk, __u64 now)
{
	inet_addrs(v, sk);
	v->state = TCP_ESTABLISHED_;
	if (v->embryo == SOCK_EMBRYO) {
		sock_bases(v, sk);
		tcp_credit_handshake(v, sk, now);
	}
	/* a full barrier (an atomic no-op on a word of the entry: BPF has no 8-bit atomics), so the
	 * fields are in place before an export can see the entry born */
	__sync_fetch_and_add(&v->busy, 0);
	v->embryo = SOCK_BORN;
}

/* Set once -p kept a data segment that reached a listener (payload.bpf.h): until then a new
 * server entry does not look for it. */
volatile __u32 pl_listen_data;
static __noinline void pl_listen_adopt(struct sock *sk, __u64 cookie); /* payload.bpf.h */
static __noinline void pl_listen_adopt_syn(struct sock *sk, __u64 cookie, __u32 isn);

/* TCP Fast Open: the child sends its SYN-ACK while its request socket is still attached
 * (fastopen_rsk). The SYN went through the listener: credited here with the payload it carried
 * (the request's rcv_nxt - ISN - 1). sk: the transmit hook's (RCU) pointer, read by probe. */
static __noinline void tcp_tfo_syn(struct sock_record *v, struct sock *sk, __u64 now)
{
	struct tcp_request_sock *req = (struct tcp_request_sock *)BPF_CORE_READ((struct tcp_sock *)sk, fastopen_rsk);
	if (!req)
		return; /* not Fast Open: tcp_born credits the handshake */
	/* once: the child's own transmits are serialised (its lock, or the listener's softirq that
	 * made it), so a retransmitted SYN-ACK sees the mark */
	v->embryo = SOCK_EMBRYO_TFO;
	__u32 isn = BPF_CORE_READ(req, rcv_isn);
	__u32 syn = BPF_CORE_READ(req, rcv_nxt) - isn - 1;
	dir_add(&v->rx, now, syn, TF_SYN, 0, 1);
	__sync_fetch_and_add(&v->rx_no_ttl, 1);
	if (syn && pl_listen_data)
		pl_listen_adopt_syn(sk, v->cookie, isn); /* -p: the SYN's data, kept at ingress */
}

static __noinline struct sock_record *tcp_new(struct sock *sk, __u64 cookie, __u8 role, bool embryo, __u64 now)
{
	if (tcp_rec(sk))
		return NULL; /* already tracked: a second connect() on the same socket */
	if (cfg_tcp_walk) {
		/* filled in the scratch record and inserted whole: the timer never sees it half made */
		if (!cookie)
			return NULL;
		struct sock_key key = { .cookie = cookie };
		int slot;
		struct sock_record *r = sock_zeroed(&slot), *v = NULL;
		if (r) {
			tcp_fill(r, sk, cookie, role, embryo, now);
			v = sock_insert(&key, r); /* map full: counted in ST_SOCK_DROP */
		}
		sock_scratch_put(slot);
		return v;
	}
	/* created zeroed in the socket and filled in place (no scratch record to clear and copy);
	 * a zeroed entry is never due for export, and busy keeps the timer off while it is filled */
	struct sock_record *r = bpf_sk_storage_get(&sock_tcp, sk, NULL, BPF_SK_STORAGE_GET_F_CREATE);
	if (!r) {
		stat_inc(ST_SOCK_DROP); /* no memory: this socket's counts are lost */
		return NULL;
	}
	r->busy = 1;
	tcp_fill(r, sk, cookie, role, embryo, now);
	XCHG(&r->busy, 0); /* a full barrier: the fields are in place before the timer may look */
	return r;
}

/* The first read of a TCP socket, or its close: the task owns a server socket. */
static __noinline int tcp_owner(struct sock *sk)
{
	struct sock_record *v = tcp_rec(sk);
	if (v && v->hdr.pid == 0 && !is_self(bpf_get_current_pid_tgid() >> 32))
		set_owner(&v->hdr);
	return 0;
}


SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(sock_state, const struct sock *sk, const int oldstate, const int newstate)
{
	if (!sock_on() || sk->sk_protocol != IPPROTO_TCP_)
		return 0;
	/* the clock only where an entry is made: ~70 ns, and a connection has ~10 transitions */
	if (oldstate == TCP_CLOSE_ && newstate == TCP_SYN_SENT_) {
		if (is_self(bpf_get_current_pid_tgid() >> 32))
			return 0;
		tcp_new((struct sock *)sk, bpf_get_socket_cookie((struct sock *)sk), SOCK_ROLE_CLIENT, false,
			bpf_ktime_get_boot_ns());
		return 0;
	}
	/* a child cloned from its listener, before the kernel hashes it (see enum fn_sock_embryo) */
	if (oldstate == TCP_LISTEN_ && newstate == TCP_SYN_RECV_) {
		tcp_new((struct sock *)sk, bpf_get_socket_cookie((struct sock *)sk), SOCK_ROLE_SERVER, true,
			bpf_ktime_get_boot_ns());
		return 0;
	}
	if (oldstate == TCP_SYN_RECV_ && newstate == TCP_ESTABLISHED_) {
		__u64 cookie = bpf_get_socket_cookie((struct sock *)sk);
		__u64 now = bpf_ktime_get_boot_ns();
		struct sock_record *e = tcp_rec((struct sock *)sk);
		if (e && e->embryo) {
			/* the cookie taken at the clone may be gone: 6.1 sets SYN_RECV on the clone, then
			 * gives it its request's cookie (a socket-storage entry keeps the first one) */
			e->cookie = cookie;
			tcp_born(e, (struct sock *)sk, now);
		} else {
			tcp_new((struct sock *)sk, cookie, SOCK_ROLE_SERVER, false, now); /* cloned before the agent */
		}
		if (pl_listen_data)
			pl_listen_adopt((struct sock *)sk, cookie);
		return 0;
	}
	struct sock_record *v;
	/* A Fast Open child is accepted, read and written in SYN_RECV, and it may leave SYN_RECV for
	 * FIN_WAIT1 (closed before the client's ACK came) or CLOSE (reset) instead: born then. A
	 * plain embryo lives within one softirq (clone to ESTABLISHED) and never gets here. */
	if (oldstate == TCP_SYN_RECV_) {
		v = tcp_rec((struct sock *)sk);
		if (v && v->embryo == SOCK_EMBRYO_TFO) {
			v->cookie = bpf_get_socket_cookie((struct sock *)sk); /* as above */
			tcp_born(v, (struct sock *)sk, bpf_ktime_get_boot_ns());
		}
	}
	/* close() and shutdown() move an open socket to FIN_WAIT1 or LAST_ACK in the closing task:
	 * the owner of a server socket that never sent or received */
	if (newstate == TCP_FIN_WAIT1_ || newstate == TCP_LAST_ACK_)
		return tcp_owner((struct sock *)sk);
	/* other transitions need nothing: exports read the live state */
	if (newstate != TCP_ESTABLISHED_ && newstate != TCP_CLOSE_)
		return 0;
	v = tcp_rec((struct sock *)sk);
	if (!v)
		return 0;
	v->state = newstate;
	if (newstate == TCP_ESTABLISHED_)
		inet_addrs(v, (struct sock *)sk); /* the local port is bound after SYN_SENT */
	if (newstate == TCP_CLOSE_ && !(v->hdr.flags & SF_FINAL)) {
		/* read the counters now: tcp_disconnect (abort, RST) zeroes them before destroy */
		inet_addrs(v, (struct sock *)sk);
		sock_refresh_t(v, (struct sock *)sk);
		v->hdr.flags |= SF_FINAL;
	}
	return 0;
}

struct emit_try {
	struct sock_record *v;
	__u64 now;
	int err;
};

static long emit_try_cb(__u64 i, struct emit_try *t)
{
	t->err = sock_emit(t->v, SF_CLOSED, t->now);
	return t->err != 1; /* 1: a timer export on another CPU holds it; try again */
}

/* A closed TCP entry moves to sock_map, where the timer (ring buffer full) or the shutdown walk
 * emits it: its socket storage is about to go. */
static __noinline void park_closed(struct sock_record *v)
{
	struct sock_key key = { .cookie = v->cookie };
	struct sock_record *m = sock_insert(&key, v);
	if (m) {
		if (!fn_paused)
			m->hdr.flags |= SF_PENDING; /* the timer's to export (also after a busy timeout) */
		m->busy = 0;
	}
}

/* Map-walk path: the close of a TCP entry that lives in sock_map. Exported here as in the
 * iterator path; a record the ring buffer cannot take stays, pending, for the timer. */
static __noinline void tcp_walk_close(struct sock_record *v, struct sock *sk, __u64 now)
{
	if (fn_paused) {
		/* shutdown: the sensor's walk reports it (busy 2: that walk has taken it already) */
		if (__sync_val_compare_and_swap(&v->busy, 0, 1) == 0) {
			v->state = TCP_CLOSE_;
			if (!(v->hdr.flags & SF_FINAL)) {
				inet_addrs(v, sk);
				sock_refresh_t(v, sk);
			}
			v->sk = 0;
			v->hdr.flags |= SF_CLOSED;
			XCHG(&v->busy, 0);
		}
		return;
	}
	v->state = TCP_CLOSE_;
	if (!(v->hdr.flags & SF_FINAL)) {
		inet_addrs(v, sk);
		sock_refresh_t(v, sk);
	}
	v->sk = 0;
	v->hdr.flags |= SF_CLOSED; /* from here the timer leaves it to us (unless pending) */
	struct emit_try t = { .v = v, .now = now, .err = 1 };
	bpf_loop(1 << 16, emit_try_cb, &t, 0);
	if (t.err == 0) {
		struct sock_key key = { .cookie = v->cookie };
		if (bpf_map_delete_elem(&sock_map, &key) == 0)
			__sync_fetch_and_add(&sock_map_entries, -1);
	} else if (t.err == 1) {
		v->hdr.flags |= SF_PENDING; /* never free within the wait: the timer retries */
	}
}

SEC("tp_btf/tcp_destroy_sock")
int BPF_PROG(sock_tcp_destroy, struct sock *sk)
{
	if (!(cfg_monitors & FN_MON_SOCKET))
		return 0;
	struct sock_record *v = tcp_rec(sk);
	if (!v)
		return 0;
	if (v->embryo) {
		/* the child died before ESTABLISHED (a Fast Open child was born when it left SYN_RECV):
		 * no record, as for a connection never accepted */
		if (!cfg_tcp_walk) {
			bpf_sk_storage_delete(&sock_tcp, sk);
		} else {
			struct sock_key key = { .cookie = v->cookie };
			if (bpf_map_delete_elem(&sock_map, &key) == 0)
				__sync_fetch_and_add(&sock_map_entries, -1);
		}
		return 0;
	}
	__u64 now = bpf_ktime_get_boot_ns();
	if (cfg_tcp_walk) {
		tcp_walk_close(v, sk, now);
		return 0;
	}
	v->state = TCP_CLOSE_;
	if (!(v->hdr.flags & SF_FINAL)) {
		inet_addrs(v, sk);
		sock_refresh_t(v, sk);
	}
	v->sk = 0; /* the memory goes back to the allocator */
	v->hdr.flags |= SF_CLOSED;
	if (fn_paused) {
		/* shutdown: the sensor's last iterator run takes it, or else its walk of sock_map */
		if (__sync_val_compare_and_swap(&v->busy, 0, 1) == 0)
			park_closed(v);
	} else {
		/* the storage goes with the socket: wait out a timer export running on another CPU */
		struct emit_try t = { .v = v, .now = now, .err = 1 };
		bpf_loop(1 << 16, emit_try_cb, &t, 0);
		if (t.err)
			park_closed(v); /* ring buffer full */
	}
	bpf_sk_storage_delete(&sock_tcp, sk);
	return 0;
}
