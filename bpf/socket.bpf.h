/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Socket monitor (program names start with sock_). No kprobes, and no syscall tracepoints (one
 * would send every syscall of every process through the kernel's slow path):
 *
 *  TCP client   inet_sock_set_state CLOSE→SYN_SENT (process context: the connecting task)
 *  TCP server   inet_sock_set_state LISTEN→SYN_RECV (softirq: the child, cloned), an embryo until
 *               it leaves SYN_RECV (records_socket.h). The owner is the task of the first read
 *               that consumes data (sock_recv_length), or the one that closes it
 *               (→FIN_WAIT1/LAST_ACK): the accepting task in practice. The handshake packets
 *               reach the listener, not the child, so the child is credited rx SYN + ACK and tx
 *               SYN-ACK.
 *  TCP close    tcp_destroy_sock: every path (FIN, RST, refused, timeout) ends there, after the
 *               last packet the socket sent (an RST on close with unread data included).
 *  TCP entries  in BPF socket storage (sock_tcp): the packet hooks reach them without a hash
 *               lookup, and they go with the socket. sock_tcp_iter walks them for the timer.
 *               Where the kernel refuses that iterator (or --no-sk-iter), cfg_tcp_walk puts
 *               them in sock_map under their cookie instead, and sock_export's walk of that
 *               map does the timer's and the shutdown's work (the "map-walk" path).
 *  UDP          one entry per (socket, peer) in sock_map, created by the first packet; owner and
 *               cookie from cgroup/sock_create (the creating task); closed by cgroup/sock_release
 *               (last reference, exit included), exported by the sensor's tick.
 *  UNIX         bytes and calls from sock_send_length/sock_recv_length (process context); the
 *               timer finds closed ones (socket orphaned, or its memory reused).
 *  Packets      tx: net_dev_start_xmit, where a capture sees the packet (after GSO; UDP per
 *               fragment). rx: cgroup_skb ingress on the root cgroup (after GRO).
 *  Timers       the sensor runs sock_tcp_iter and sock_export (BPF_PROG_TEST_RUN) every tick:
 *               idle and active timeouts, closed UDP/UNIX sockets, records the ring buffer could
 *               not take.
 *
 * Map entries are the records (records_socket.h). Counters are added atomically and taken with
 * atomic exchanges at export, so an export never loses or double-counts a packet.
 *
 * This file: constants, maps, entry helpers, addresses, gauges and the export of one entry. The
 * hooks, in this order (falconet.bpf.c includes them after this file): socket_tcp.bpf.h (TCP
 * lifecycle), socket_udp_unix.bpf.h, socket_packets.bpf.h, socket_timer.bpf.h.
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
#define TCP_FIN_WAIT1_ 4
#define TCP_LAST_ACK_ 9
#define TCP_LISTEN_ 10
#define TCP_CLOSE_ 7
#define UDP_CONNECTED_ 1
#define TF_FIN 0x01
#define TF_SYN 0x02
#define TF_PSH 0x08
#define TF_ACK 0x10

extern unsigned int CONFIG_HZ __kconfig __weak;

/* CLOCK_BOOTTIME - CLOCK_MONOTONIC (time spent suspended), kept current by the sensor's timer */
volatile __u64 sock_boot_offset_ns;

/* TCP records live in the socket itself: the packet hooks reach them without a hash lookup,
 * and they go away with the socket. */
struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct sock_record);
} sock_tcp SEC(".maps");

/* TCP export path, fixed by the sensor before load: 0 = entries in socket storage, exported by
 * sock_tcp_iter; 1 = entries in sock_map under their cookie, exported by sock_export. A load-time
 * constant: the verifier prunes the other path's code. The per-packet hooks do not even read it
 * (one copy of them per path, see dev_xmit); connection events read it once. */
const volatile __u32 cfg_tcp_walk = 0;

/* UDP (per peer) and UNIX records, and TCP records the ring buffer could not take at close
 * (map-walk path: every TCP record). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536); /* memory is charged per entry */
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
	__uint(max_entries, NEST_SLOTS); /* taken with nest_take(NEST_SOCK) */
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

/* A zeroed scratch record in this CPU's slot *slot, which the caller gives back with
 * sock_scratch_put (also when this returns NULL). */
static __always_inline struct sock_record *sock_zeroed(int *slot)
{
	*slot = nest_take(NEST_SOCK);
	__u32 k = *slot;
	struct sock_record *r = *slot >= 0 ? bpf_map_lookup_elem(&sock_scratch, &k) : NULL;
	if (!r) {
		stat_inc(ST_SOCK_DROP);
		return NULL;
	}
	__u64 *w = (__u64 *)r;
	for (int k = 0; k < (int)(sizeof(*r) / 8); k++) {
		w[k] = 0;
		asm volatile("" ::: "memory"); /* not a memset call: BPF has none */
	}
	r->hdr.type = FN_REC_SOCK;
	r->hdr.size = sizeof(*r);
	return r;
}

static __always_inline void sock_scratch_put(int slot)
{
	nest_put(NEST_SOCK, slot);
}

/* Entries in sock_map: the timer skips walking its buckets while it is empty. */
volatile __s64 sock_map_entries;

/* Insert r under key (unless present) and return the map's entry. */
static __always_inline struct sock_record *sock_insert(struct sock_key *key, struct sock_record *r)
{
	if (bpf_map_update_elem(&sock_map, key, r, BPF_NOEXIST) == 0)
		__sync_fetch_and_add(&sock_map_entries, 1);
	else if (!bpf_map_lookup_elem(&sock_map, key)) {
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

/* Owner = the current task (process context only; tp_btf programs: fill_hdr_task's direct loads,
 * not fill_hdr's probe reads, which cost ~0.5 µs more per header on this kind of guest). */
static __noinline void set_owner(struct rec_hdr *h)
{
	__u32 zero = 0;
	struct sock_owner *o = bpf_map_lookup_elem(&sock_owner_scratch, &zero);
	if (!o)
		return;
	o->hdr.flags = 0;
	fill_hdr_task(&o->hdr, FN_REC_SOCK, 0);
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
 * FIN and PSH for the last segment only, so the flag histogram matches the wire. A TCP packet is
 * counted in the flag histogram only (one atomic less per packet): exports add it up. */
static __always_inline void dir_add(struct sock_dir *d, __u64 now, __u64 bytes, int flagc, __u32 ifindex, __u32 segs)
{
	if (!d->ts_first)
		d->ts_first = now;
	d->ts = now;
	if (segs == 0)
		segs = 1;
	if (flagc >= 0) {
		if (segs > 1)
			flag_add(d, flagc & ~(TF_FIN | TF_PSH), segs - 1);
		flag_add(d, flagc, 1);
	} else {
		__sync_fetch_and_add(&d->packets, segs);
	}
	if (bytes) {
		__sync_fetch_and_add(&d->data_packets, segs);
		__sync_fetch_and_add(&d->bytes, bytes);
	}
	if (ifindex && d->ifindex != ifindex)
		d->ifindex = ifindex;
}

/* Packets counted since the last export (TCP's are in the flag histogram). */
static __always_inline bool dir_active(struct sock_dir *d)
{
	return d->packets || d->nflags;
}

/* Field reads for the two kinds of socket pointer: RD_T loads straight from a trusted BTF
 * pointer (tracepoint arguments; no helper call per field, which dominated the close and create
 * paths), RD_P probe-reads through CO-RE (the exporter holds the address as a number). */
#define RD_T(p, f) ((p)->f)
#define RD_P(p, f) BPF_CORE_READ(p, f)
#define TCP_T(sk) bpf_skc_to_tcp_sock(sk)
#define TCP_P(sk) ((struct tcp_sock *)(sk))

/* ---- addresses (TCP): family, both addresses and ports of sk into r, with RD/TCP as above ---- */
#define INET_ADDRS(name, INLINE, RD, TCP)                                                        \
static INLINE void name(struct sock_record *r, struct sock *sk)                                  \
{                                                                                                \
	__u16 fam = RD(sk, __sk_common.skc_family);                                              \
	r->family = fam;                                                                         \
	if (fam == AF_INET6_) {                                                                  \
		struct in6_addr l = RD(sk, __sk_common.skc_v6_rcv_saddr);                        \
		struct in6_addr d = RD(sk, __sk_common.skc_v6_daddr);                            \
		__builtin_memcpy(r->laddr, &l, 16);                                              \
		__builtin_memcpy(r->raddr, &d, 16);                                              \
	} else {                                                                                 \
		__u32 l = RD(sk, __sk_common.skc_rcv_saddr), d = RD(sk, __sk_common.skc_daddr); \
		__builtin_memcpy(r->laddr, &l, 4);                                               \
		__builtin_memcpy(r->raddr, &d, 4);                                               \
	}                                                                                        \
	/* skc_num reads 0 once the port is released at TCP_CLOSE: inet_sport stays */           \
	struct tcp_sock *tp = TCP(sk);                                                           \
	__u16 sport = tp ? RD(tp, inet_conn.icsk_inet.inet_sport) : 0;                           \
	if (sport)                                                                               \
		r->lport = bpf_ntohs(sport);                                                     \
	__u16 dport = RD(sk, __sk_common.skc_dport);                                             \
	if (dport)                                                                               \
		r->rport = bpf_ntohs(dport);                                                     \
}

INET_ADDRS(inet_addrs, __always_inline, RD_T, TCP_T) /* tracepoint arguments */
INET_ADDRS(inet_addrs_p, __noinline, RD_P, TCP_P)    /* the exporter's saved address (shutdown) */

/* The struct sock behind fd of task t, or NULL when fd is not a socket. CO-RE reads: for the
 * calls that name a socket only by its fd (splice, sendfile; a datagram's reader). */
static __always_inline struct sock *sock_of_task_fd(struct task_struct *t, __u64 fd)
{
	struct file *f = fd_to_file(t, fd);
	if (!f || (BPF_CORE_READ(f, f_inode, i_mode) & 00170000) != S_IFSOCK_)
		return NULL;
	struct socket *so = BPF_CORE_READ(f, private_data);
	return BPF_CORE_READ(so, sk);
}

#define SOCK_STREAM_ 1

/* The key of a UNIX socket that has no cookie: bit 63 | its socket inode number (cookies count
 * up from 1 and never reach bit 63). A cookie comes from a helper call with a BTF pointer, and
 * the calls that name a socket only by an fd (splice, sendfile) cannot make one. */
#define UX_INO_KEY (1ULL << 63)

/* The inode number of sk's socket (0: orphaned): unlike the sock's address, never reused at once. */
static __always_inline __u64 unix_sock_ino(struct sock *sk)
{
	struct socket *so = BPF_CORE_READ(sk, sk_socket);
	if (!so)
		return 0;
	return BPF_CORE_READ((struct socket_alloc *)((void *)so - bpf_core_field_offset(struct socket_alloc, socket)),
			     vfs_inode.i_ino);
}

/* The UNIX stream socket behind the current task's fd, or NULL; *key: its cookie, or
 * UX_INO_KEY | its inode while it has none (0: neither). */
static __always_inline struct sock *unix_stream_of_fd(__u64 fd, __u64 *key)
{
	struct sock *sk = sock_of_task_fd((struct task_struct *)bpf_get_current_task(), fd);
	if (!sk || BPF_CORE_READ(sk, __sk_common.skc_family) != AF_UNIX_ || BPF_CORE_READ(sk, sk_type) != SOCK_STREAM_)
		return NULL;
	__u64 cookie = BPF_CORE_READ(sk, __sk_common.skc_cookie.counter);
	__u64 ino = cookie ? 0 : unix_sock_ino(sk);
	*key = cookie ? cookie : ino ? UX_INO_KEY | ino : 0;
	return sk;
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
	for (int i = 0; i < FN_SOCK_FLAGS; i++) {
		/* a plain read first: most of the 64 are zero, and an exchange is a locked bus cycle */
		__u64 n = src->flags[i] ? XCHG(&src->flags[i], 0) : 0;
		dst->flags[i] = n;
		dst->packets += n;
	}
	dst->nflags = XCHG(&src->nflags, 0);
}

/* A record without an owner takes the one its socket's sock_owners entry has (UDP). Returns
 * whether v has an owner now. */
static __always_inline bool adopt_owner(struct sock_record *v)
{
	if (v->hdr.pid)
		return true;
	struct sock_owner *o = bpf_map_lookup_elem(&sock_owners, &v->cookie);
	if (!o || !o->hdr.pid)
		return false;
	copy_proc(&v->hdr, &o->hdr);
	return true;
}

/* Rx packets that carried a TTL: all but the server's credited handshake (UNIX: none). */
static __always_inline __u64 ttl_count_of(struct sock_record *v, __u64 rx_packets, __u32 no_ttl)
{
	return v->family == AF_UNIX_ || rx_packets < no_ttl ? 0 : rx_packets - no_ttl;
}

/* Last record of the entry: it leaves the map (TCP: the socket's storage) after this export. */
static __always_inline bool export_is_final(struct sock_record *v, __u32 why)
{
	return (why & (SF_CLOSED | SF_SHUTDOWN)) || ((why & SF_IDLE) && v->protocol != IPPROTO_TCP_);
}

/* Submits v as a record. Returns 0 when submitted (a final export leaves v busy: the caller
 * deletes it), 1 when another CPU is exporting v, -1 when the ring buffer is full (v is flagged
 * pending for the next tick: nothing is lost). */
static __noinline int sock_emit(struct sock_record *v, __u32 why, __u64 now)
{
	if (__sync_val_compare_and_swap(&v->busy, 0, 1))
		return 1;
	adopt_owner(v);
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
	r->ttl_count = ttl_count_of(v, r->rx.packets, XCHG(&v->rx_no_ttl, 0));
	r->rx_no_ttl = 0;
	r->frags = XCHG(&v->frags, 0);
	r->hdr.flags = (r->hdr.flags & ~SF_PENDING) | why;
	if (v->hdr.pid == 0)
		r->hdr.flags |= SF_NO_OWNER;
	r->hdr.type = FN_REC_SOCK;
	r->hdr.size = sizeof(*r);
	r->busy = 0;
	bpf_ringbuf_submit(r, rb_flags(sizeof(*r)));
	stat_inc(ST_SOCK_RECORDS);
	if (!export_is_final(v, why)) {
		v->hdr.flags &= ~SF_PENDING;
		v->ts_export = now;
		v->busy = 0;
	}
	return 0;
}

/* sock_emit for an entry of sock_map, which a final export deletes. */
static __noinline int sock_export_one(struct sock_key *key, struct sock_record *v, __u32 why, __u64 now)
{
	int err = sock_emit(v, why, now);
	if (err == 0 && export_is_final(v, why) && bpf_map_delete_elem(&sock_map, key) == 0)
		__sync_fetch_and_add(&sock_map_entries, -1);
	return err;
}
