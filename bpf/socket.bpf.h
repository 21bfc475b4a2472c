/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Socket monitor (program names start with sock_). No kprobes: tracepoints for lifecycle and
 * ownership, cgroup_skb on the root cgroup for per-packet counts (it is the one hook that sees
 * every IP packet together with its socket, handshake included on the client side).
 *
 *  TCP client   inet_sock_set_state CLOSE→SYN_SENT (process context: the connecting task)
 *  TCP server   inet_sock_set_state SYN_RECV→ESTABLISHED (softirq: the child socket), owner
 *               from sys_exit_accept/accept4. The handshake packets reach the listener, not the
 *               child, so the child is credited rx SYN + ACK and tx SYN-ACK.
 *  TCP close    tcp_destroy_sock: every path (FIN, RST, refused, timeout) ends there, after the
 *               last packet the socket sent (an RST on close with unread data included).
 *  UDP          one entry per (socket, peer), created by the first packet; owner from egress
 *               (process context) or from the first send/recv call; closed by cgroup/sock_release
 *               (last reference, exit included), exported by the sensor's tick.
 *  UNIX         bytes and calls from sock_send_length/sock_recv_length (process context);
 *               closed by close() of the last reference. Other closes (exit, exec) are exported
 *               by the idle timeout.
 *  TCP tx       net_dev_start_xmit: where a capture sees the packet, after GSO segmentation.
 *  Timers       the sensor runs sock_export (BPF_PROG_TEST_RUN) every tick: idle and active
 *               timeouts, closed UDP sockets, and records the ring buffer could not take.
 *
 * Map entries are the records (records_socket.h). Counters are added atomically and taken with
 * atomic exchanges at export, so an export never loses or double-counts a packet.
 */
#pragma once
#include "common.bpf.h"
#include <bpf/bpf_endian.h>

#define AF_UNIX_ 1
#define AF_INET_ 2
#define AF_INET6_ 10
#define ETH_P_IP_ 0x0800
#define ETH_P_IPV6_ 0x86DD
#define IPPROTO_TCP_ 6
#define IPPROTO_UDP_ 17
#define S_IFSOCK_ 0140000
#define TCP_ESTABLISHED_ 1
#define TCP_SYN_SENT_ 2
#define TCP_SYN_RECV_ 3
#define TCP_CLOSE_ 7
#define UDP_CONNECTED_ 1
#define TF_FIN 0x01
#define TF_SYN 0x02
#define TF_PSH 0x08
#define TF_ACK 0x10

extern unsigned int CONFIG_HZ __kconfig __weak;
extern void *bpf_cast_to_kern_ctx(void *obj) __ksym;

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536); /* live sockets (and UDP peers); memory is charged per entry */
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct sock_key);
	__type(value, struct sock_record);
} sock_map SEC(".maps");

/* UDP: process facts of the socket (peer entries created in softirq take them from here) and
 * when it was closed. */
struct sock_owner {
	struct rec_hdr hdr;
	__u64 closed;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, __u64);
	__type(value, struct sock_owner);
} sock_owners SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct sock_record);
} sock_scratch SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct sock_owner);
} sock_owner_scratch SEC(".maps");

#define XCHG(p, v) __sync_lock_test_and_set((p), (v))

static __always_inline bool sock_on(void)
{
	return (cfg_monitors & FN_MON_SOCKET) && !fn_paused;
}

static __always_inline struct sock_record *sock_zeroed(void)
{
	__u32 zero = 0;
	struct sock_record *r = bpf_map_lookup_elem(&sock_scratch, &zero);
	if (!r)
		return NULL;
	__u64 *w = (__u64 *)r;
	for (int k = 0; k < (int)(sizeof(*r) / 8); k++) {
		w[k] = 0;
		asm volatile("" ::: "memory"); /* not a memset call: BPF has none */
	}
	r->hdr.type = FN_REC_SOCK;
	r->hdr.size = sizeof(*r);
	return r;
}

/* Insert r under key (unless present) and return the map's entry. */
static __always_inline struct sock_record *sock_insert(struct sock_key *key, struct sock_record *r)
{
	if (bpf_map_update_elem(&sock_map, key, r, BPF_NOEXIST) && !bpf_map_lookup_elem(&sock_map, key)) {
		stat_inc(ST_SOCK_DROP); /* map full: this socket's counts are lost */
		return NULL;
	}
	return bpf_map_lookup_elem(&sock_map, key);
}

/* Process fields of src into dst, keeping dst's record fields and timestamps. */
static __always_inline void copy_proc(struct rec_hdr *dst, const struct rec_hdr *src)
{
	dst->pid = src->pid;
	dst->tid = src->tid;
	dst->ppid = src->ppid;
	dst->uid = src->uid;
	dst->gid = src->gid;
	dst->proc_start = src->proc_start;
	__builtin_memcpy(dst->comm, src->comm, sizeof(dst->comm));
	__builtin_memcpy(dst->exe, src->exe, sizeof(dst->exe));
	__builtin_memcpy(dst->parent_exe, src->parent_exe, sizeof(dst->parent_exe));
	dst->flags = (dst->flags & ~SF_NO_OWNER) | (src->flags & FF_EXE_TRUNC);
}

/* Owner = the current task (process context only). */
static __noinline void set_owner(struct rec_hdr *h)
{
	__u32 zero = 0;
	struct sock_owner *o = bpf_map_lookup_elem(&sock_owner_scratch, &zero);
	if (!o)
		return;
	o->hdr.flags = 0;
	fill_hdr(&o->hdr, FN_REC_SOCK, 0);
	copy_proc(h, &o->hdr);
}

static __always_inline void flag_add(struct sock_dir *d, __u32 c, __u64 n)
{
	c &= FN_SOCK_FLAGS - 1;
	if (__sync_fetch_and_add(&d->flags[c], n) == 0) {
		__u64 i = __sync_fetch_and_add(&d->nflags, 1);
		if (i < FN_SOCK_FLAGS)
			d->flag_order[i] = c;
	}
}

/* segs: wire packets of this skb (a GSO skb is segmented after the hook). TCP segmentation keeps
 * FIN and PSH for the last segment only, so the flag histogram matches the wire. */
static __always_inline void dir_add(struct sock_dir *d, __u64 now, __u64 bytes, int flagc, __u32 ifindex, __u32 segs)
{
	if (!d->ts_first)
		d->ts_first = now;
	d->ts = now;
	if (segs == 0)
		segs = 1;
	__sync_fetch_and_add(&d->packets, segs);
	if (bytes) {
		__sync_fetch_and_add(&d->data_packets, segs);
		__sync_fetch_and_add(&d->bytes, bytes);
	}
	if (ifindex)
		d->ifindex = ifindex;
	if (flagc >= 0) {
		if (segs > 1)
			flag_add(d, flagc & ~(TF_FIN | TF_PSH), segs - 1);
		flag_add(d, flagc, 1);
	}
}

/* Field reads for the two kinds of socket pointer: RD_T loads straight from a trusted BTF
 * pointer (tracepoint arguments; no helper call per field, which dominated the close and create
 * paths), RD_P probe-reads through CO-RE (the exporter holds the address as a number). */
#define RD_T(p, f) ((p)->f)
#define RD_P(p, f) BPF_CORE_READ(p, f)
#define TCP_T(sk) bpf_skc_to_tcp_sock(sk)
#define TCP_P(sk) ((struct tcp_sock *)(sk))

/* ---- addresses (TCP, trusted socket) ---- */
static __always_inline void inet_addrs(struct sock_record *r, struct sock *sk)
{
	__u16 fam = sk->__sk_common.skc_family;
	r->family = fam;
	if (fam == AF_INET6_) {
		__builtin_memcpy(r->laddr, &sk->__sk_common.skc_v6_rcv_saddr, 16);
		__builtin_memcpy(r->raddr, &sk->__sk_common.skc_v6_daddr, 16);
	} else {
		__builtin_memcpy(r->laddr, &sk->__sk_common.skc_rcv_saddr, 4);
		__builtin_memcpy(r->raddr, &sk->__sk_common.skc_daddr, 4);
	}
	/* skc_num reads 0 once the port is released at TCP_CLOSE: inet_sport stays */
	struct tcp_sock *tp = bpf_skc_to_tcp_sock(sk);
	__u16 sport = tp ? tp->inet_conn.icsk_inet.inet_sport : 0;
	if (sport)
		r->lport = bpf_ntohs(sport);
	__u16 dport = sk->__sk_common.skc_dport;
	if (dport)
		r->rport = bpf_ntohs(dport);
}

static __always_inline void unix_path_of(struct sock_record *r, struct sock *sk)
{
	struct unix_address *a = BPF_CORE_READ((struct unix_sock *)sk, addr);
	if (a) {
		r->role = SOCK_ROLE_SERVER;
	} else {
		r->role = SOCK_ROLE_CLIENT;
		struct sock *peer = BPF_CORE_READ((struct unix_sock *)sk, peer);
		if (peer)
			a = BPF_CORE_READ((struct unix_sock *)peer, addr);
	}
	if (!a)
		return;
	int len = BPF_CORE_READ(a, len) - 2; /* minus sun_family */
	if (len <= 0)
		return;
	if (len > FN_SOCK_PATH_LEN)
		len = FN_SOCK_PATH_LEN;
	/* path names are NUL-terminated within len; abstract names are exactly len bytes */
	/* a constant size keeps the verifier simple; bytes past len are ignored (path_len) */
	r->path_len = len;
	bpf_probe_read_kernel(r->path, FN_SOCK_PATH_LEN,
			      (char *)a + bpf_core_field_offset(struct unix_address, name) + 2);
}

/* ---- gauges and deltas read from the socket at export ---- */
static __always_inline __u64 take_delta(__u64 *base, __u64 cur)
{
	__u64 old = XCHG(base, cur);
	return cur > old ? cur - old : 0;
}

#define SK_DROPS_NOW(RD, sk) ({                                                                 \
	__u64 __d = (__u32)RD(sk, sk_drops.counter);                                            \
	if (bpf_core_field_exists(sk->sk_drop_counters)) {                                      \
		struct numa_drop_counters *__nd = RD(sk, sk_drop_counters);                     \
		if (__nd)                                                                       \
			__d += (__u32)RD(__nd, drops0.counter) + (__u32)RD(__nd, drops1.counter); \
	}                                                                                       \
	__d; })

/* Sets the TCP/UDP per-export deltas (accumulated until the next export takes them) and gauges
 * of v from the live socket; one body for both pointer kinds. */
#define SOCK_REFRESH(NAME, RD, TCP_OF)                                                          \
static __noinline void NAME(struct sock_record *v, struct sock *sk)                             \
{                                                                                               \
	if (v->family == AF_UNIX_ || !sk)                                                       \
		return;                                                                         \
	__sync_fetch_and_add(&v->drops, take_delta(&v->base_drops, SK_DROPS_NOW(RD, sk)));     \
	if (v->protocol == IPPROTO_UDP_) {                                                      \
		v->rx_queued = (__u32)RD(sk, sk_backlog.rmem_alloc.counter);                    \
		return;                                                                         \
	}                                                                                       \
	struct tcp_sock *tp = TCP_OF(sk);                                                       \
	if (!tp)                                                                                \
		return;                                                                         \
	__sync_fetch_and_add(&v->retrans_packets, take_delta(&v->base_retrans_packets, RD(tp, total_retrans))); \
	__sync_fetch_and_add(&v->retrans_bytes, take_delta(&v->base_retrans_bytes, RD(tp, bytes_retrans)));     \
	__sync_fetch_and_add(&v->dups, take_delta(&v->base_dups, RD(tp, dsack_dups)));                           \
	__sync_fetch_and_add(&v->bytes_acked, take_delta(&v->base_bytes_acked, RD(tp, bytes_acked)));           \
	__sync_fetch_and_add(&v->reorder, take_delta(&v->base_reorder, RD(tp, reord_seen)));                    \
	__sync_fetch_and_add(&v->bytes_received, take_delta(&v->base_bytes_received, RD(tp, bytes_received)));  \
	v->rx_queued = (__u32)(RD(tp, rcv_nxt) - RD(tp, copied_seq));                           \
	v->rtt_ns = (__u64)(RD(tp, srtt_us) >> 3) * 1000;                                       \
	__u64 rto = RD(tp, inet_conn.icsk_rto);                                                 \
	if (CONFIG_HZ) {                                                                        \
		v->rto_us = rto * 1000000 / CONFIG_HZ;                                          \
	} else {                                                                                \
		v->rto_us = rto;                                                                \
		v->hdr.flags |= SF_RTO_JIFFIES;                                                 \
	}                                                                                       \
}

SOCK_REFRESH(sock_refresh_t, RD_T, TCP_T)   /* tracepoint arguments */
SOCK_REFRESH(sock_refresh, RD_P, TCP_P)     /* the exporter's saved address */

/* Baselines of the kernel's cumulative counters (trusted socket). */
static __always_inline void sock_bases(struct sock_record *v, struct sock *sk)
{
	v->base_drops = SK_DROPS_NOW(RD_T, sk);
	if (v->protocol != IPPROTO_TCP_)
		return;
	struct tcp_sock *tp = bpf_skc_to_tcp_sock(sk);
	if (!tp)
		return;
	v->base_retrans_packets = tp->total_retrans;
	v->base_retrans_bytes = tp->bytes_retrans;
	v->base_dups = tp->dsack_dups;
	v->base_bytes_acked = tp->bytes_acked;
	v->base_reorder = tp->reord_seen;
	v->base_bytes_received = tp->bytes_received;
}

/* The socket behind v, if it is still the one v was made for (struct sock memory is reused). */
static __always_inline struct sock *live_sk(struct sock_record *v)
{
	struct sock *sk = (struct sock *)v->sk;
	if (!sk)
		return NULL;
	__u64 c = BPF_CORE_READ(sk, __sk_common.skc_cookie.counter);
	return c == v->cookie ? sk : NULL;
}

/* Last activity: packet paths only stamp their direction (no cache line shared by tx and rx). */
static __always_inline __u64 last_seen(struct sock_record *v)
{
	__u64 t = v->hdr.ts;
	if (v->tx.ts > t)
		t = v->tx.ts;
	if (v->rx.ts > t)
		t = v->rx.ts;
	return t;
}

/* ---- export ---- */
static __always_inline void take_dir(struct sock_dir *dst, struct sock_dir *src)
{
	dst->ts_first = XCHG(&src->ts_first, 0);
	dst->ts = src->ts;
	dst->packets = XCHG(&src->packets, 0);
	dst->data_packets = XCHG(&src->data_packets, 0);
	dst->bytes = XCHG(&src->bytes, 0);
	dst->ifindex = src->ifindex;
	for (int i = 0; i < FN_SOCK_FLAGS; i++)
		dst->flags[i] = XCHG(&src->flags[i], 0);
	dst->nflags = XCHG(&src->nflags, 0);
}

/* Submits v as a record and, for final exports, deletes it. Returns 0 when submitted. If the ring
 * buffer is full, v stays (flagged pending) for the next tick: nothing is lost. */
static __noinline int sock_export_one(struct sock_key *key, struct sock_record *v, __u32 why, __u64 now)
{
	if (__sync_val_compare_and_swap(&v->busy, 0, 1))
		return 1; /* being exported on another CPU */
	if (v->hdr.pid == 0) {
		struct sock_owner *o = bpf_map_lookup_elem(&sock_owners, &v->cookie);
		if (o && o->hdr.pid)
			copy_proc(&v->hdr, &o->hdr);
	}
	v->hdr.ts = last_seen(v);
	struct sock_record *r = bpf_ringbuf_reserve(&events, sizeof(*r), 0);
	if (!r) {
		v->hdr.flags |= SF_PENDING | (why & SF_CLOSED);
		v->busy = 0;
		return -1;
	}
	bpf_probe_read_kernel(r, sizeof(*r), v);
	take_dir(&r->tx, &v->tx);
	take_dir(&r->rx, &v->rx);
	r->retrans_packets = XCHG(&v->retrans_packets, 0);
	r->retrans_bytes = XCHG(&v->retrans_bytes, 0);
	r->dups = XCHG(&v->dups, 0);
	r->bytes_acked = XCHG(&v->bytes_acked, 0);
	r->reorder = XCHG(&v->reorder, 0);
	r->drops = XCHG(&v->drops, 0);
	r->bytes_received = XCHG(&v->bytes_received, 0);
	r->ttl_sum = XCHG(&v->ttl_sum, 0);
	r->ttl_count = XCHG(&v->ttl_count, 0);
	r->frags = XCHG(&v->frags, 0);
	r->hdr.flags = (r->hdr.flags & ~SF_PENDING) | why;
	if (v->hdr.pid == 0)
		r->hdr.flags |= SF_NO_OWNER;
	r->hdr.type = FN_REC_SOCK;
	r->hdr.size = sizeof(*r);
	r->busy = 0;
	bpf_ringbuf_submit(r, rb_flags(sizeof(*r)));
	stat_inc(ST_SOCK_RECORDS);
	bool keep = !(why & (SF_CLOSED | SF_SHUTDOWN)) && !((why & SF_IDLE) && v->protocol != IPPROTO_TCP_);
	if (keep) {
		v->hdr.flags &= ~SF_PENDING;
		v->ts_export = now;
		v->busy = 0;
	} else {
		bpf_map_delete_elem(&sock_map, key);
	}
	return 0;
}

/* ---- TCP lifecycle ---- */
static __noinline struct sock_record *tcp_new(struct sock *sk, __u64 cookie, __u8 role, __u64 now)
{
	struct sock_record *r = sock_zeroed();
	if (!r)
		return NULL;
	struct sock_key key = { .cookie = cookie };
	r->cookie = cookie;
	r->protocol = IPPROTO_TCP_;
	r->sotype = 1; /* SOCK_STREAM */
	r->role = role;
	r->hdr.ts_first = r->hdr.ts = r->ts_export = now;
	r->sk = (__u64)sk;
	inet_addrs(r, sk);
	sock_bases(r, sk);
	if (role == SOCK_ROLE_CLIENT) {
		fill_hdr(&r->hdr, FN_REC_SOCK, now);
		r->state = TCP_SYN_SENT_;
	} else {
		r->hdr.flags |= SF_NO_OWNER;
		r->state = TCP_ESTABLISHED_;
		/* the handshake went through the listener: SYN and ACK in, SYN-ACK out */
		dir_add(&r->rx, now, 0, TF_SYN, 0, 1);
		dir_add(&r->rx, now, 0, TF_ACK, 0, 1);
		dir_add(&r->tx, now, 0, TF_SYN | TF_ACK, 0, 1);
	}
	return sock_insert(&key, r);
}

SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(sock_state, const struct sock *sk, const int oldstate, const int newstate)
{
	if (!sock_on() || sk->sk_protocol != IPPROTO_TCP_)
		return 0;
	__u64 now = bpf_ktime_get_boot_ns();
	if (oldstate == TCP_CLOSE_ && newstate == TCP_SYN_SENT_) {
		if (is_self(bpf_get_current_pid_tgid() >> 32))
			return 0;
		tcp_new((struct sock *)sk, bpf_get_socket_cookie((struct sock *)sk), SOCK_ROLE_CLIENT, now);
		return 0;
	}
	if (oldstate == TCP_SYN_RECV_ && newstate == TCP_ESTABLISHED_) {
		tcp_new((struct sock *)sk, bpf_get_socket_cookie((struct sock *)sk), SOCK_ROLE_SERVER, now);
		return 0;
	}
	/* other transitions need nothing: exports read the live state */
	if (newstate != TCP_ESTABLISHED_ && newstate != TCP_CLOSE_)
		return 0;
	struct sock_key key = { .cookie = bpf_get_socket_cookie((struct sock *)sk) };
	struct sock_record *v = bpf_map_lookup_elem(&sock_map, &key);
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

SEC("tp_btf/tcp_destroy_sock")
int BPF_PROG(sock_tcp_destroy, struct sock *sk)
{
	if (!sock_on())
		return 0;
	struct sock_key key = { .cookie = bpf_get_socket_cookie(sk) };
	struct sock_record *v = bpf_map_lookup_elem(&sock_map, &key);
	if (!v)
		return 0;
	__u64 now = bpf_ktime_get_boot_ns();
	v->state = TCP_CLOSE_;
	if (!(v->hdr.flags & SF_FINAL)) {
		inet_addrs(v, sk);
		sock_refresh_t(v, sk);
	}
	v->sk = 0; /* the memory goes back to the allocator */
	v->hdr.flags |= SF_CLOSED;
	sock_export_one(&key, v, SF_CLOSED, now);
	return 0;
}

/* fd of the current task → struct sock (NULL unless a socket) */
static __always_inline struct sock *fd_sock(__u64 fd)
{
	struct file *f = fd_to_file((struct task_struct *)bpf_get_current_task(), fd);
	if (!f)
		return NULL;
	if ((BPF_CORE_READ(f, f_inode, i_mode) & S_IFMT_) != S_IFSOCK_)
		return NULL;
	struct socket *so = BPF_CORE_READ(f, private_data);
	return so ? BPF_CORE_READ(so, sk) : NULL;
}

/* accept: the accepting task owns the server socket. */
static __noinline int sock_accepted(long fd)
{
	if (fd < 0 || !sock_on() || is_self(bpf_get_current_pid_tgid() >> 32))
		return 0;
	struct sock *sk = fd_sock(fd);
	if (!sk)
		return 0;
	struct sock_key key = { .cookie = BPF_CORE_READ(sk, __sk_common.skc_cookie.counter) };
	if (!key.cookie)
		return 0; /* never seen by the monitor */
	struct sock_record *v = bpf_map_lookup_elem(&sock_map, &key);
	if (v && v->hdr.pid == 0)
		set_owner(&v->hdr);
	return 0;
}

SEC("tp/syscalls/sys_exit_accept")
int sock_exit_accept(struct trace_event_raw_sys_exit *ctx)
{
	return sock_accepted(ctx->ret);
}

SEC("tp/syscalls/sys_exit_accept4")
int sock_exit_accept4(struct trace_event_raw_sys_exit *ctx)
{
	return sock_accepted(ctx->ret);
}

/* ---- UDP owners and UNIX byte counts (process context) ---- */
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

static __noinline int unix_io(struct sock *sk, __u64 cookie, int ret, bool rx)
{
	__u64 now = bpf_ktime_get_boot_ns();
	struct sock_key key = { .cookie = cookie };
	struct sock_record *v = bpf_map_lookup_elem(&sock_map, &key);
	if (!v) {
		struct sock_record *r = sock_zeroed();
		if (!r)
			return 0;
		r->cookie = cookie;
		r->family = AF_UNIX_;
		r->sotype = BPF_CORE_READ(sk, sk_type);
		r->hdr.ts_first = r->hdr.ts = r->ts_export = now;
		r->sk = (__u64)sk;
		fill_hdr(&r->hdr, FN_REC_SOCK, now);
		unix_path_of(r, sk);
		v = sock_insert(&key, r);
		if (!v)
			return 0;
	}
	dir_add(rx ? &v->rx : &v->tx, now, ret, -1, 0, 1);
	return 0;
}

static __always_inline int sock_io(struct sock *sk, int ret, bool rx)
{
	if (ret <= 0 || !sock_on())
		return 0;
	__u16 fam = sk->__sk_common.skc_family;
	if (fam != AF_UNIX_ && sk->sk_protocol != IPPROTO_UDP_)
		return 0; /* TCP: owners come from connect and accept */
	if (is_self(bpf_get_current_pid_tgid() >> 32))
		return 0;
	if (fam == AF_UNIX_)
		return unix_io(sk, bpf_get_socket_cookie(sk), ret, rx);
	if ((fam == AF_INET_ || fam == AF_INET6_) && sk->sk_protocol == IPPROTO_UDP_)
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

/* UNIX close of the last reference. */
SEC("tp/syscalls/sys_enter_close")
int sock_enter_close(struct trace_event_raw_sys_enter *ctx)
{
	if (!sock_on())
		return 0;
	struct file *f = fd_to_file((struct task_struct *)bpf_get_current_task(), ctx->args[0]);
	if (!f || (BPF_CORE_READ(f, f_inode, i_mode) & S_IFMT_) != S_IFSOCK_ || file_refs(f) != 1)
		return 0;
	struct socket *so = BPF_CORE_READ(f, private_data);
	struct sock *sk = so ? BPF_CORE_READ(so, sk) : NULL;
	if (!sk || BPF_CORE_READ(sk, __sk_common.skc_family) != AF_UNIX_)
		return 0;
	struct sock_key key = { .cookie = BPF_CORE_READ(sk, __sk_common.skc_cookie.counter) };
	if (!key.cookie)
		return 0;
	struct sock_record *v = bpf_map_lookup_elem(&sock_map, &key);
	if (!v)
		return 0;
	v->hdr.flags |= SF_CLOSED;
	sock_export_one(&key, v, SF_CLOSED, bpf_ktime_get_boot_ns());
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

/* ---- packets ---- */
struct pkt_local {
	__u8 laddr[16];
	__u64 now;
	__u16 lport;
	__u16 family;
	__u32 rx;
};

static __noinline struct sock_record *udp_entry(struct __sk_buff *skb, struct sock_key *key, struct pkt_local *pl)
{
	bool rx = pl->rx;
	__u64 now = pl->now;
	struct sock_record *v = bpf_map_lookup_elem(&sock_map, key);
	if (v)
		return v;
	struct sock_record *r = sock_zeroed();
	if (!r)
		return NULL;
	r->cookie = key->cookie;
	r->protocol = IPPROTO_UDP_;
	r->sotype = 2; /* SOCK_DGRAM */
	r->family = pl->family;
	/* the side that receives first from a peer is serving it */
	r->role = rx ? SOCK_ROLE_SERVER : SOCK_ROLE_CLIENT;
	r->hdr.ts_first = r->hdr.ts = r->ts_export = now;
	r->hdr.flags |= SF_PER_PEER;
	__builtin_memcpy(r->laddr, pl->laddr, 16);
	__builtin_memcpy(r->raddr, key->raddr, 16);
	r->lport = pl->lport;
	r->rport = key->rport;
	struct sk_buff *kskb = bpf_cast_to_kern_ctx(skb);
	struct sock *sk = kskb->sk;
	r->sk = (__u64)sk;
	if (sk) {
		r->state = sk->__sk_common.skc_state;
		r->family = sk->__sk_common.skc_family;
		r->base_drops = SK_DROPS_NOW(RD_T, sk); /* UDP: the only baseline */
	}
	if (!rx && !is_self(bpf_get_current_pid_tgid() >> 32)) {
		fill_hdr(&r->hdr, FN_REC_SOCK, now); /* udp sendmsg runs in the sender's context */
	} else {
		struct sock_owner *o = bpf_map_lookup_elem(&sock_owners, &key->cookie);
		if (o && o->hdr.pid)
			copy_proc(&r->hdr, &o->hdr);
		else
			r->hdr.flags |= SF_NO_OWNER;
	}
	return sock_insert(key, r);
}

static __noinline int sock_pkt(struct __sk_buff *skb, bool rx)
{
	__u64 cookie = bpf_get_socket_cookie(skb);
	if (!cookie)
		return 0;
	__u8 h[40];
	__u32 proto, l3, ttl, fam;
	__u8 src[16] = {}, dst[16] = {};
	if (skb->protocol == bpf_htons(ETH_P_IP_)) {
		if (bpf_skb_load_bytes(skb, 0, h, 20))
			return 0;
		l3 = (h[0] & 0xf) * 4;
		ttl = h[8];
		proto = h[9];
		__builtin_memcpy(src, &h[12], 4);
		__builtin_memcpy(dst, &h[16], 4);
		fam = AF_INET_;
	} else if (skb->protocol == bpf_htons(ETH_P_IPV6_)) {
		if (bpf_skb_load_bytes(skb, 0, h, 40))
			return 0;
		l3 = 40;
		proto = h[6];
		ttl = h[7];
		__builtin_memcpy(src, &h[8], 16);
		__builtin_memcpy(dst, &h[24], 16);
		fam = AF_INET6_;
	} else {
		return 0;
	}
	__u32 len = skb->len;
	__u64 now = bpf_ktime_get_boot_ns();
	struct sock_key key = { .cookie = cookie };
	struct sock_record *v;
	__u8 l4[20];
	int flagc = -1;
	__u64 payload;
	if (proto == IPPROTO_TCP_) {
		if (!rx)
			return 0; /* sock_dev_xmit counts TCP tx after GSO segmentation */
		v = bpf_map_lookup_elem(&sock_map, &key);
		if (!v)
			return 0;
		if (bpf_skb_load_bytes(skb, l3 & 0x3f, l4, 20))
			return 0;
		__u32 hl = l3 + (l4[12] >> 4) * 4;
		payload = len > hl ? len - hl : 0;
		flagc = l4[13] & 0x3f;
	} else if (proto == IPPROTO_UDP_) {
		if (bpf_skb_load_bytes(skb, l3 & 0x3f, l4, 8))
			return 0;
		__u16 sport = (l4[0] << 8) | l4[1], dport = (l4[2] << 8) | l4[3];
		if (rx) {
			__builtin_memcpy(key.raddr, src, 16);
			key.rport = sport;
		} else {
			__builtin_memcpy(key.raddr, dst, 16);
			key.rport = dport;
		}
		key.family = fam;
		struct pkt_local pl = { .now = now, .lport = rx ? dport : sport, .family = fam, .rx = rx };
		__builtin_memcpy(pl.laddr, rx ? dst : src, 16);
		v = udp_entry(skb, &key, &pl);
		if (!v)
			return 0;
		payload = len > l3 + 8 ? len - l3 - 8 : 0;
	} else {
		return 0;
	}
	/* one per skb: the packet a capture shows (rx after GRO; TCP tx is counted at the device) */
	dir_add(rx ? &v->rx : &v->tx, now, payload, flagc, skb->ifindex, 1);
	if (rx) {
		__sync_fetch_and_add(&v->ttl_sum, ttl);
		__sync_fetch_and_add(&v->ttl_count, 1);
		struct sk_buff *kskb = bpf_cast_to_kern_ctx(skb);
		struct skb_shared_info *shi = (struct skb_shared_info *)(kskb->head + kskb->end);
		__u8 nf = 0;
		bpf_probe_read_kernel(&nf, 1, &shi->nr_frags);
		if (nf)
			__sync_fetch_and_add(&v->frags, nf);
	}
	return 0;
}

/* TCP tx at the device, where a capture taps the packet: a GSO skb the stack segments in
 * software shows up here once per segment, one the device segments (TSO) once. */
SEC("tp_btf/net_dev_start_xmit")
int BPF_PROG(sock_dev_xmit, const struct sk_buff *skb, const struct net_device *dev)
{
	if (!sock_on())
		return 0;
	/* direct loads from the trusted arguments: no helper call per field on this hot path */
	struct sock *sk = skb->sk;
	if (!sk)
		return 0;
	struct sock_key key = { .cookie = sk->__sk_common.skc_cookie.counter };
	if (!key.cookie)
		return 0;
	struct sock_record *v = bpf_map_lookup_elem(&sock_map, &key);
	if (!v || v->protocol != IPPROTO_TCP_)
		return 0;
	unsigned char *head = skb->head;
	unsigned char *data = skb->data;
	__u16 th = skb->transport_header;
	__u8 tcp[14];
	if (bpf_probe_read_kernel(tcp, sizeof(tcp), head + th))
		return 0;
	__u64 hl = (__u64)(head + th - data) + (tcp[12] >> 4) * 4;
	__u32 len = skb->len;
	__u64 now = bpf_ktime_get_boot_ns();
	dir_add(&v->tx, now, len > hl ? len - hl : 0, tcp[13] & 0x3f, dev->ifindex, 1);
	return 0;
}

SEC("cgroup_skb/egress")
int sock_skb_out(struct __sk_buff *skb)
{
	/* TCP is counted at the device (sock_dev_xmit): leave before any other work */
	struct bpf_sock *sk = skb->sk;
	if (sk)
		sk = bpf_sk_fullsock(sk);
	if (!sk || sk->protocol != IPPROTO_UDP_)
		return 1;
	if (sock_on())
		sock_pkt(skb, false);
	return 1;
}

SEC("cgroup_skb/ingress")
int sock_skb_in(struct __sk_buff *skb)
{
	if (sock_on())
		sock_pkt(skb, true);
	return 1;
}

/* ---- the sensor's timer ---- */
struct export_cb {
	struct sock_export_ctx *ctx;
	__u64 now;
	__u64 idle_ns;
	__u64 active_ns;
	__u32 mode;
	__u32 exported;
	__u32 pending;
};

static long export_cb(struct bpf_map *map, struct sock_key *key, struct sock_record *v, struct export_cb *c)
{
	__u32 why = 0;
	__u64 now = c->now;
	bool closed = v->hdr.flags & SF_CLOSED;
	if (!closed && v->protocol == IPPROTO_UDP_) {
		struct sock_owner *o = bpf_map_lookup_elem(&sock_owners, &key->cookie);
		closed = o && o->closed;
	}
	bool active = v->tx.packets || v->rx.packets;
	if (c->mode == SOCK_EXPORT_FINALIZE) {
		why = closed ? SF_CLOSED : SF_SHUTDOWN;
	} else if (closed) {
		why = SF_CLOSED;
	} else if (active && now > last_seen(v) + c->idle_ns) {
		why = SF_IDLE;
	} else if (active && now > v->ts_export + c->active_ns) {
		why = SF_ACTIVE;
	} else if (v->hdr.flags & SF_PENDING) {
		why = SF_ACTIVE; /* a deferred export */
	} else {
		return 0;
	}
	if (!(v->hdr.flags & (SF_CLOSED | SF_FINAL))) {
		struct sock *sk = live_sk(v);
		if (sk) {
			sock_refresh(v, sk);
			if (v->protocol == IPPROTO_TCP_)
				v->state = BPF_CORE_READ(sk, __sk_common.skc_state);
			else if (v->protocol == IPPROTO_UDP_)
				v->state = BPF_CORE_READ(sk, __sk_common.skc_state) == UDP_CONNECTED_ ? UDP_CONNECTED_ : TCP_CLOSE_;
		}
	}
	if (closed && v->protocol == IPPROTO_UDP_)
		v->state = TCP_CLOSE_;
	if (c->mode == SOCK_EXPORT_FINALIZE) {
		/* the sensor emits the entry as it is: fill what an export would */
		if (v->hdr.pid == 0) {
			struct sock_owner *o = bpf_map_lookup_elem(&sock_owners, &v->cookie);
			if (o && o->hdr.pid)
				copy_proc(&v->hdr, &o->hdr);
			else
				v->hdr.flags |= SF_NO_OWNER;
		}
		v->hdr.flags = (v->hdr.flags & ~SF_PENDING) | why;
		v->hdr.ts = last_seen(v);
		v->hdr.type = FN_REC_SOCK;
		v->hdr.size = sizeof(*v);
		return 0;
	}
	if (sock_export_one(key, v, why, now) == 0)
		c->exported++;
	else
		c->pending++;
	return 0;
}

static long owner_cb(struct bpf_map *map, __u64 *cookie, struct sock_owner *o, struct export_cb *c)
{
	if (o->closed && o->closed < c->now)
		bpf_map_delete_elem(&sock_owners, cookie);
	return 0;
}

SEC("syscall")
int sock_export(struct sock_export_ctx *ctx)
{
	struct export_cb c = {};
	c.now = ctx->now;
	c.idle_ns = ctx->idle_ns;
	c.active_ns = ctx->active_ns;
	c.mode = ctx->mode;
	bpf_for_each_map_elem(&sock_map, export_cb, &c, 0);
	if (c.mode == SOCK_EXPORT_TICK)
		bpf_for_each_map_elem(&sock_owners, owner_cb, &c, 0);
	ctx->exported = c.exported;
	ctx->pending = c.pending;
	return 0;
}
