/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Socket monitor (program names start with sock_). No kprobes, and no syscall tracepoints (one
 * would send every syscall of every process through the kernel's slow path):
 *
 *  TCP client   inet_sock_set_state CLOSE→SYN_SENT (process context: the connecting task)
 *  TCP server   inet_sock_set_state SYN_RECV→ESTABLISHED (softirq: the child socket). The owner is
 *               the task of the first read that consumes data (sock_recv_length), or the one that
 *               closes it (→FIN_WAIT1/LAST_ACK): the accepting task in practice. The handshake
 *               packets reach the listener, not the child, so the child is credited rx SYN + ACK
 *               and tx SYN-ACK.
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

/* ---- TCP lifecycle ---- */
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
 * SYN-ACK and got the completing segment itself, and its SYN was credited then (tcp_tfo_syn). */
static __noinline void tcp_born(struct sock_record *v, struct sock *sk, __u64 now)
{
	inet_addrs(v, sk);
	v->state = TCP_ESTABLISHED_;
	sock_bases(v, sk);
	if (v->embryo == SOCK_EMBRYO)
		tcp_credit_handshake(v, sk, now);
	else
		v->base_bytes_received = 0; /* a child starts at 0: the SYN's payload is all it has now */
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
		if (e && e->embryo)
			tcp_born(e, (struct sock *)sk, now);
		else
			tcp_new((struct sock *)sk, cookie, SOCK_ROLE_SERVER, false, now); /* cloned before the agent */
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
		if (v && v->embryo == SOCK_EMBRYO_TFO)
			tcp_born(v, (struct sock *)sk, bpf_ktime_get_boot_ns());
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
		struct socket *so = BPF_CORE_READ(sk, sk_socket);
		if (so) {
			__u64 ino = BPF_CORE_READ((struct socket_alloc *)((void *)so - bpf_core_field_offset(struct socket_alloc, socket)),
						  vfs_inode.i_ino);
			__builtin_memcpy(r->raddr + 8, &ino, 8);
		}
		fill_hdr_task(&r->hdr, FN_REC_SOCK, now); /* sock_io (tp_btf), the calling task */
		unix_path_of(r, sk);
		v = sock_insert(&key, r);
		sock_scratch_put(slot);
		if (!v)
			return 0;
	}
	dir_add(rx ? &v->rx : &v->tx, now, ret, -1, 0, 1);
	return 0;
}

/* The first read that consumed data from a TCP socket: everything read so far is this call's.
 * A server socket gets its owner there (or at close), without a record lookup on every read. */
static __always_inline bool first_read(struct sock *sk, int ret)
{
	__u64 read;
	if (cfg_kf_rdonly_cast) {
		struct tcp_sock *tp = bpf_rdonly_cast(sk, bpf_core_type_id_kernel(struct tcp_sock));
		/* rcv_nxt counts a FIN the reader has not reached yet */
		read = tp->bytes_received - (__u32)(tp->rcv_nxt - tp->copied_seq);
	} else {
		read = TCP_READ_NOKF(sk);
	}
	return read == (__u64)ret || read + 1 == (__u64)ret;
}

static __always_inline int sock_io(struct sock *sk, int ret, bool rx)
{
	if (ret <= 0 || !sock_on())
		return 0;
	__u16 fam = sk->__sk_common.skc_family;
	if (fam == AF_UNIX_) {
		if (is_self(bpf_get_current_pid_tgid() >> 32))
			return 0;
		return unix_io(sk, bpf_get_socket_cookie(sk), ret, rx);
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

/* A UNIX socket is closed once its last reference is released: the socket is orphaned, or its
 * memory already belongs to another socket. The timer checks. */
static __always_inline bool unix_gone(struct sock_record *v)
{
	struct sock *sk = (struct sock *)v->sk;
	if (!sk || BPF_CORE_READ(sk, __sk_common.skc_cookie.counter) != v->cookie)
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

/* ---- packets ---- */
struct pkt_local {
	__u8 laddr[16];
	__u64 now;
	__u16 lport;
	__u16 family;
	__u32 rx;
};

/* The entry of one UDP peer, created by its first packet. sk: the socket (trusted), or NULL.
 * rx is a constant at each call: the verifier then never walks the sender's branch from cgroup
 * ingress, where 6.1 has no bpf_get_current_pid_tgid. */
static __noinline struct sock_record *udp_entry(struct sock *sk, struct sock_key *key, struct pkt_local *pl,
						 const bool rx)
{
	__u64 now = pl->now;
	struct sock_record *v = bpf_map_lookup_elem(&sock_map, key);
	if (v)
		return v;
	int slot;
	struct sock_record *r = sock_zeroed(&slot);
	if (!r) {
		sock_scratch_put(slot);
		return NULL;
	}
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
	r->sk = (__u64)sk;
	if (sk) {
		r->state = sk->__sk_common.skc_state;
		r->family = sk->__sk_common.skc_family;
		r->base_drops = SK_DROPS_NOW(RD_T, sk); /* UDP: the only baseline */
	}
	if (!adopt_owner(r)) {
		if (!rx && !is_self(bpf_get_current_pid_tgid() >> 32))
			fill_hdr(&r->hdr, FN_REC_SOCK, now); /* the device transmits in the sender's context */
		else
			r->hdr.flags |= SF_NO_OWNER;
	}
	v = sock_insert(key, r);
	sock_scratch_put(slot);
	return v;
}

/* Page fragments of a received skb (kflowd's SockRxPacketsFrag): a linear skb has none. */
static __always_inline __u32 rx_frags(struct sk_buff *kskb)
{
	if (!kskb->data_len)
		return 0;
	struct skb_shared_info *shi = bpf_rdonly_cast(kskb->head + kskb->end,
						      bpf_core_type_id_kernel(struct skb_shared_info));
	return shi->nr_frags;
}

/* One received packet of a tracked socket: one per skb, the packet a capture shows (after GRO). */
static __always_inline void rx_add(struct __sk_buff *skb, struct sock_record *v, __u64 now, __u64 payload,
				   int flagc, __u32 ttl)
{
	dir_add(&v->rx, now, payload, flagc, skb->ifindex, 1);
	__sync_fetch_and_add(&v->ttl_sum, ttl);
	/* without the kfuncs (6.1) the kernel skb is out of reach: no fragment count */
	__u32 nf = cfg_kf_kern_ctx && cfg_kf_rdonly_cast ? rx_frags(bpf_cast_to_kern_ctx(skb)) : 0;
	if (nf)
		__sync_fetch_and_add(&v->frags, nf);
}

/* TCP rx: headers read in place (the stack pulled them into the linear area before the hook). */
/* The first 14 bytes of an ingress TCP packet's header, read in place (the stack pulled the
 * headers into the linear area before the hook), or NULL; *hl: IP + TCP header bytes, *ttl: the
 * TTL or hop limit. */
static __always_inline __u8 *tcp_hdr_in(struct __sk_buff *skb, __u32 *hl, __u32 *ttl)
{
	__u8 *data = (__u8 *)(long)skb->data, *end = (__u8 *)(long)skb->data_end;
	__u32 l3;
	if (skb->protocol == bpf_htons(ETH_P_IP_)) {
		if (data + 20 > end)
			return NULL;
		l3 = (data[0] & 0xf) * 4;
		*ttl = data[8];
	} else {
		if (data + 40 > end)
			return NULL;
		l3 = 40;
		*ttl = data[7];
	}
	__u8 *th = data + (l3 & 0x3c);
	if (th + 14 > end)
		return NULL;
	*hl = l3 + (th[12] >> 4) * 4;
	return th;
}

static __noinline int tcp_rx(struct __sk_buff *skb, struct sock_record *v)
{
	__u32 hl, ttl;
	__u8 *th = tcp_hdr_in(skb, &hl, &ttl);
	if (!th)
		return 0;
	__u32 len = skb->len;
	rx_add(skb, v, bpf_ktime_get_boot_ns(), len > hl ? len - hl : 0, th[13] & 0x3f, ttl);
	return 0;
}

/* IPv4/IPv6 header fields of a UDP packet: h holds the 40 bytes at the network header. */
struct ip_fields {
	__u8 src[16];
	__u8 dst[16];
	__u32 l3;
	__u32 proto;
	__u32 ttl;
	__u32 fam;
	__u32 frag;   /* IPv4 fragment offset (non-zero: no UDP header in this packet) */
	__u32 more;   /* IPv4 more-fragments flag */
};

static __always_inline int ip_parse(__u16 l3proto, const __u8 *h, struct ip_fields *f)
{
	if (l3proto == bpf_htons(ETH_P_IP_)) {
		f->l3 = (h[0] & 0xf) * 4;
		f->ttl = h[8];
		f->proto = h[9];
		f->frag = ((h[6] & 0x1f) << 8) | h[7];
		f->more = h[6] & 0x20;
		__builtin_memcpy(f->src, &h[12], 4);
		__builtin_memcpy(f->dst, &h[16], 4);
		f->fam = AF_INET_;
		return 0;
	}
	if (l3proto == bpf_htons(ETH_P_IPV6_)) {
		f->l3 = 40;
		f->proto = h[6];
		f->ttl = h[7];
		__builtin_memcpy(f->src, &h[8], 16);
		__builtin_memcpy(f->dst, &h[24], 16);
		f->fam = AF_INET6_;
		return 0;
	}
	return -1;
}

/* Key of the peer of a UDP packet and the local end: rx comes from the peer, tx goes to it. */
static __always_inline void udp_ends(const struct ip_fields *f, __u64 cookie, __u16 sport, __u16 dport, bool rx,
				     __u64 now, struct sock_key *key, struct pkt_local *pl)
{
	key->cookie = cookie;
	key->family = f->fam;
	__builtin_memcpy(key->raddr, rx ? f->src : f->dst, 16);
	key->rport = rx ? sport : dport;
	pl->now = now;
	pl->family = f->fam;
	pl->rx = rx;
	pl->lport = rx ? dport : sport;
	__builtin_memcpy(pl->laddr, rx ? f->dst : f->src, 16);
}

/* UDP rx (cgroup ingress, reassembled datagrams): one entry per peer. */
static __noinline int udp_rx(struct __sk_buff *skb)
{
	__u8 h[40] = {}, l4[8];
	struct ip_fields f = {};
	if (bpf_skb_load_bytes(skb, 0, h, skb->protocol == bpf_htons(ETH_P_IP_) ? 20 : 40) ||
	    ip_parse(skb->protocol, h, &f) || f.proto != IPPROTO_UDP_ ||
	    bpf_skb_load_bytes(skb, f.l3 & 0x3f, l4, 8))
		return 0;
	__u64 cookie = bpf_get_socket_cookie(skb);
	if (!cookie)
		return 0;
	__u64 now = bpf_ktime_get_boot_ns();
	struct sock_key key = {};
	struct pkt_local pl = {};
	udp_ends(&f, cookie, (l4[0] << 8) | l4[1], (l4[2] << 8) | l4[3], true, now, &key, &pl);
	/* without bpf_cast_to_kern_ctx (6.1) an entry made here has no socket address (state,
	 * drops and queue come with the first send) */
	struct sock *ksk = cfg_kf_kern_ctx ? ((struct sk_buff *)bpf_cast_to_kern_ctx(skb))->sk : NULL;
	struct sock_record *v = udp_entry(ksk, &key, &pl, true);
	if (!v)
		return 0;
	__u32 len = skb->len;
	rx_add(skb, v, now, len > f.l3 + 8 ? len - f.l3 - 8 : 0, -1, f.ttl);
	return 0;
}

/* The peer of the last first fragment each CPU sent: later fragments carry no UDP header, and
 * a datagram's fragments leave one after another on the CPU that sent it. */
struct udp_frag_peer {
	struct sock_key key;
	__u16 lport;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct udp_frag_peer);
} udp_frag_peer SEC(".maps");

/* UDP tx at the device (a fragmented datagram counts once per fragment, as a capture shows it). */
static __noinline int udp_tx(const struct sk_buff *skb, struct sock *sk, __u32 ifindex)
{
	unsigned char *head = skb->head;
	__u16 nh = skb->network_header, th = skb->transport_header;
	__u8 h[40] = {};
	struct ip_fields f = {};
	if (bpf_probe_read_kernel(h, sizeof(h), head + nh) || ip_parse(skb->protocol, h, &f) ||
	    f.proto != IPPROTO_UDP_)
		return 0;
	__u32 zero = 0;
	struct udp_frag_peer *last = bpf_map_lookup_elem(&udp_frag_peer, &zero);
	if (!last)
		return 0;
	/* every UDP socket has a cookie by now (sock_create, or the iterator run at start) */
	__u64 cookie = sk->__sk_common.skc_cookie.counter;
	if (!cookie)
		return 0;
	__u16 sport, dport;
	/* bytes on the wire after the L3 header (and the UDP header in the first fragment) */
	__u64 after = skb->len - (nh - (__u16)(skb->data - head)) - f.l3;
	if (f.frag) {
		if (last->key.cookie != cookie || !same16(last->key.raddr, f.dst))
			return 0;
		sport = last->lport;
		dport = last->key.rport;
	} else {
		__u8 l4[4];
		if (bpf_probe_read_kernel(l4, sizeof(l4), head + th))
			return 0;
		sport = (l4[0] << 8) | l4[1];
		dport = (l4[2] << 8) | l4[3];
		after = after > 8 ? after - 8 : 0;
	}
	__u64 now = bpf_ktime_get_boot_ns();
	struct sock_key key = {};
	struct pkt_local pl = {};
	udp_ends(&f, cookie, sport, dport, false, now, &key, &pl);
	if (!f.frag && f.more) {
		last->key = key;
		last->lport = sport;
	}
	struct sock_record *v = udp_entry(sk, &key, &pl, false);
	if (v)
		dir_add(&v->tx, now, after, -1, ifindex, 1);
	return 0;
}

/* Every packet a socket sends, at the device, where a capture taps it: TCP after GSO (a GSO skb
 * the stack segments in software shows up once per segment, one the device segments once), UDP
 * per fragment. */
/* The per-packet hooks exist once per TCP export path (walk: a constant of each copy) and the
 * sensor loads one copy: the iterator path's hooks hold no trace of the other path, not even a
 * read of cfg_tcp_walk. */
static __always_inline int dev_xmit(const struct sk_buff *skb, const struct net_device *dev, const bool walk)
{
	if (!sock_on())
		return 0;
	/* direct loads from the trusted arguments: no helper call per field on this hot path */
	struct sock *sk = skb->sk;
	if (!sk)
		return 0;
	struct sock_record *v;
	if (walk) {
		/* only full sockets have sk_protocol (not request or time-wait sockets) */
		__u8 st = sk->__sk_common.skc_state;
		if (st == 6 /* TIME_WAIT */ || st == 12 /* NEW_SYN_RECV */)
			return 0;
		if (sk->sk_protocol == IPPROTO_UDP_)
			return udp_tx(skb, sk, dev->ifindex);
		if (sk->sk_protocol != IPPROTO_TCP_)
			return 0;
		v = tcp_walk_rec(sk->__sk_common.skc_cookie.counter);
		if (!v)
			return 0;
	} else {
		v = bpf_sk_storage_get(&sock_tcp, sk, NULL, 0);
		if (!v) {
			/* only full sockets have sk_protocol (not request or time-wait sockets) */
			__u8 st = sk->__sk_common.skc_state;
			if (st != 6 /* TIME_WAIT */ && st != 12 /* NEW_SYN_RECV */ && sk->sk_protocol == IPPROTO_UDP_)
				udp_tx(skb, sk, dev->ifindex);
			return 0;
		}
	}
	unsigned char *head = skb->head;
	__u16 th = skb->transport_header;
	/* a load through a cast pointer: no helper call per packet. Bytes 12-13: offset, flags */
	__u32 w = cfg_kf_rdonly_cast ? bpf_ntohl(((union tcp_word_hdr *)bpf_rdonly_cast(
		head + th, bpf_core_type_id_kernel(union tcp_word_hdr)))->words[3]) : TCP_WORD3_NOKF(head + th);
	__u64 hl = (__u64)(head + th - skb->data) + (w >> 28) * 4;
	__u32 len = skb->len;
	/* TCP stamps every skb it sends with its departure time (CLOCK_MONOTONIC): reading that
	 * instead of the clock halves this hook's cost */
	__u64 now = skb->skb_mstamp_ns;
	now = now ? now + sock_boot_offset_ns : bpf_ktime_get_boot_ns();
	if (v->embryo == SOCK_EMBRYO)
		tcp_tfo_syn(v, sk, now); /* only a Fast Open child sends before ESTABLISHED */
	dir_add(&v->tx, now, len > hl ? len - hl : 0, (w >> 16) & 0x3f, dev->ifindex, 1);
	return 0;
}

SEC("tp_btf/net_dev_start_xmit")
int BPF_PROG(sock_dev_xmit, const struct sk_buff *skb, const struct net_device *dev)
{
	return dev_xmit(skb, dev, false);
}

SEC("tp_btf/net_dev_start_xmit")
int BPF_PROG(sock_dev_xmit_w, const struct sk_buff *skb, const struct net_device *dev)
{
	return dev_xmit(skb, dev, true);
}

/* A segment to a listening socket (no entry): kept in this CPU's slot if it carries data (see
 * sock_listen_pkt). SYNs and bare ACKs carry none: the new entry credits them. */
#define LISTEN_DEFERS(sk) ({                                                                  \
	struct tcp_sock *__tp = bpf_skc_to_tcp_sock(sk);                                        \
	__tp ? (__u32)__tp->inet_conn.icsk_accept_queue.rskq_defer_accept : 0; })

/* family: the listener's; defer: it ignores bare ACKs (LISTEN_DEFERS) */
static __noinline int tcp_listen_rx(struct __sk_buff *skb, __u32 family, __u32 defer)
{
	__u32 zero = 0, hl, ttl;
	__u8 *th = tcp_hdr_in(skb, &hl, &ttl);
	if (!th || skb->len <= hl || (th[13] & TF_SYN))
		return 0;
	__u8 *data = (__u8 *)(long)skb->data, *end = (__u8 *)(long)skb->data_end;
	bool v4 = skb->protocol == bpf_htons(ETH_P_IP_);
	if (data + 40 > end)
		return 0; /* IPv6's fixed header, and an IPv4 header with the TCP header behind it */
	struct sock_listen_pkt *p = bpf_map_lookup_elem(&sock_listen_pkts, &zero);
	if (!p)
		return 0;
	__builtin_memset(p->raddr, 0, 32);
	if (v4) {
		/* an IPv6 listener's child of an IPv4 client holds ::ffff:a.b.c.d */
		__u32 o = family == AF_INET6_ ? 12 : 0;
		if (o) {
			p->raddr[10] = p->raddr[11] = p->laddr[10] = p->laddr[11] = 0xff;
		}
		__builtin_memcpy(p->raddr + (o & 12), data + 12, 4);
		__builtin_memcpy(p->laddr + (o & 12), data + 16, 4);
	} else {
		__builtin_memcpy(p->raddr, data + 8, 16);
		__builtin_memcpy(p->laddr, data + 24, 16);
	}
	p->rport = (th[0] << 8) | th[1];
	p->lport = (th[2] << 8) | th[3];
	p->ack = ((__u32)th[8] << 24) | ((__u32)th[9] << 16) | ((__u32)th[10] << 8) | th[11];
	p->payload = skb->len - hl;
	p->flags = th[13] & 0x3f;
	p->ttl = ttl;
	p->ifindex = skb->ifindex;
	p->defer = defer;
	p->valid = 1;
	if (!sock_listen_data)
		sock_listen_data = 1;
	return 0;
}

static __always_inline int skb_in(struct __sk_buff *skb, const bool walk)
{
	if (!sock_on())
		return 1;
	struct bpf_sock *sk = skb->sk;
	if (!sk)
		return 1;
	if (!walk) {
		struct sock_record *v = bpf_sk_storage_get(&sock_tcp, sk, NULL, 0);
		if (v) {
			tcp_rx(skb, v);
			return 1;
		}
	}
	if (walk && cfg_kf_kern_ctx) {
		/* the kernel socket read in place: sk_fullsock()'s state test and the protocol as loads,
		 * without the bpf_sk_fullsock() call (a helper call costs more than the loads here) */
		struct sock *ksk = ((struct sk_buff *)bpf_cast_to_kern_ctx(skb))->sk;
		if (!ksk)
			return 1;
		__u8 st = ksk->__sk_common.skc_state;
		if (st == 6 /* TIME_WAIT */ || st == 12 /* NEW_SYN_RECV */)
			return 1;
		if (ksk->sk_protocol == IPPROTO_TCP_) {
			struct sock_record *v = tcp_walk_rec(ksk->__sk_common.skc_cookie.counter);
			if (v)
				tcp_rx(skb, v);
			else if (st == TCP_LISTEN_)
				tcp_listen_rx(skb, ksk->__sk_common.skc_family, /* an RCU pointer: read, not a helper */
					      BPF_CORE_READ((struct inet_connection_sock *)ksk, icsk_accept_queue.rskq_defer_accept));
		} else if (ksk->sk_protocol == IPPROTO_UDP_) {
			udp_rx(skb);
		}
		return 1;
	}
	sk = bpf_sk_fullsock(sk);
	if (!sk)
		return 1;
	if (walk && sk->protocol == IPPROTO_TCP_) {
		/* the socket's cookie, read in place (a full socket, like the storage lookup's) */
		struct sock_record *v;
		if (cfg_kf_kern_ctx) {
			struct sock *ksk = ((struct sk_buff *)bpf_cast_to_kern_ctx(skb))->sk;
			v = ksk ? tcp_walk_rec(ksk->__sk_common.skc_cookie.counter) : NULL;
		} else {
			v = tcp_walk_rec(bpf_get_socket_cookie(skb)); /* a helper call instead (6.1) */
		}
		if (v)
			tcp_rx(skb, v);
		else if (sk->state == TCP_LISTEN_)
			tcp_listen_rx(skb, sk->family, LISTEN_DEFERS(sk));
		return 1;
	}
	if (sk->protocol == IPPROTO_UDP_)
		udp_rx(skb);
	else if (sk->protocol == IPPROTO_TCP_ && sk->state == TCP_LISTEN_)
		tcp_listen_rx(skb, sk->family, LISTEN_DEFERS(sk));
	return 1;
}

SEC("cgroup_skb/ingress")
int sock_skb_in(struct __sk_buff *skb)
{
	return skb_in(skb, false);
}

SEC("cgroup_skb/ingress")
int sock_skb_in_w(struct __sk_buff *skb)
{
	return skb_in(skb, true);
}

/* ---- the sensor's timer ---- */
struct export_cb {
	__u64 now;
	__u64 idle_ns;
	__u64 active_ns;
	__u32 mode;
	__u32 exported;
	__u32 pending;
};

/* Why v is due for export now (0: not due). Refreshes state and gauges of a due entry. */
static __always_inline __u32 export_due(struct sock_record *v, struct export_cb *c)
{
	__u32 why = 0;
	if (v->embryo)
		return 0;
	__u64 now = c->now;
	bool closed = v->hdr.flags & SF_CLOSED;
	if (!closed && v->protocol == IPPROTO_UDP_) {
		struct sock_owner *o = bpf_map_lookup_elem(&sock_owners, &v->cookie);
		closed = o && o->closed;
	} else if (!closed && v->family == AF_UNIX_) {
		closed = unix_gone(v);
	}
	bool active = dir_active(&v->tx) || dir_active(&v->rx);
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
	return why;
}

/* Shutdown: v becomes the record the sensor emits as it is. */
static __always_inline void export_finalize(struct sock_record *v, __u32 why)
{
	if (!adopt_owner(v))
		v->hdr.flags |= SF_NO_OWNER;
	v->hdr.flags = (v->hdr.flags & ~SF_PENDING) | why;
	v->hdr.ts = last_seen(v);
	v->hdr.type = FN_REC_SOCK;
	v->hdr.size = sizeof(*v);
	/* what sock_emit's takes compute (the kernel is paused: no packet changes v now) */
	for (int i = 0; i < FN_SOCK_FLAGS; i++) {
		v->tx.packets += v->tx.flags[i];
		v->rx.packets += v->rx.flags[i];
	}
	v->ttl_count = ttl_count_of(v, v->rx.packets, v->rx_no_ttl);
	v->rx_no_ttl = 0;
}

/* Shutdown, TCP entry in sock_map: takes it for the finalize (busy 2), waiting out a close that
 * holds it for a moment (tcp_walk_close). False: a close still holds it: one that began before
 * the pause and reports the entry through the ring buffer (the sensor skips it in the map). */
static __always_inline bool tcp_take_final(struct sock_record *v)
{
	for (int i = 0; i < 256; i++) {
		__u64 old = __sync_val_compare_and_swap(&v->busy, 0, 2);
		if (old != 1)
			return true;
	}
	return false;
}

static long export_cb(struct bpf_map *map, struct sock_key *key, struct sock_record *v, struct export_cb *c)
{
	if (v->embryo) {
		/* not exported; one whose socket is gone (freed without tcp_destroy_sock) is dropped */
		if (!live_sk(v) && bpf_map_delete_elem(&sock_map, key) == 0)
			__sync_fetch_and_add(&sock_map_entries, -1);
		return 0;
	}
	if (v->protocol == IPPROTO_TCP_) {
		if (c->mode == SOCK_EXPORT_FINALIZE) {
			if (!tcp_take_final(v))
				return 0;
		} else if (v->busy || ((v->hdr.flags & SF_CLOSED) && !(v->hdr.flags & SF_PENDING))) {
			/* an export in progress, or a close that tcp_destroy_sock is reporting */
			return 0;
		}
	}
	__u32 why = export_due(v, c);
	if (!why)
		return 0;
	if (c->mode == SOCK_EXPORT_FINALIZE) {
		export_finalize(v, why); /* the sensor reads the map */
		return 0;
	}
	if (sock_export_one(key, v, why, c->now) == 0)
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

/* UDP, UNIX and TCP entries left from a full ring buffer. */
SEC("syscall")
int sock_export(struct sock_export_ctx *ctx)
{
	struct export_cb c = {};
	c.now = ctx->now;
	c.idle_ns = ctx->idle_ns;
	c.active_ns = ctx->active_ns;
	c.mode = ctx->mode;
	if (sock_map_entries > 0 || c.mode == SOCK_EXPORT_FINALIZE)
		bpf_for_each_map_elem(&sock_map, export_cb, &c, 0);
	if (c.mode == SOCK_EXPORT_TICK)
		bpf_for_each_map_elem(&sock_owners, owner_cb, &c, 0);
	ctx->exported = c.exported;
	ctx->pending = c.pending;
	return 0;
}

/* TCP entries: an iterator over the sockets that hold one. The sensor sets the context before
 * each run; at shutdown the records are written to the iterator's output for the sensor. */
struct sock_export_ctx sock_iter_ctx;

SEC("iter/bpf_sk_storage_map")
int sock_tcp_iter(struct bpf_iter__bpf_sk_storage_map *ctx)
{
	struct sock *sk = ctx->sk;
	if (!sk)
		return 0;
	struct sock_record *v = tcp_rec(sk);
	if (!v || v->embryo)
		return 0;
	if (sock_iter_ctx.mode != SOCK_EXPORT_FINALIZE) {
		if (v->busy)
			return 0;
	} else if (v->busy != 2 && __sync_val_compare_and_swap(&v->busy, 0, 2)) {
		return 0; /* closing now: tcp_destroy_sock parks it in sock_map (2: ours, a re-run) */
	}
	struct export_cb c = {
		.now = sock_iter_ctx.now,
		.idle_ns = sock_iter_ctx.idle_ns,
		.active_ns = sock_iter_ctx.active_ns,
		.mode = sock_iter_ctx.mode,
	};
	__u32 why = export_due(v, &c);
	if (!why)
		return 0;
	if (c.mode == SOCK_EXPORT_FINALIZE) {
		/* on a copy: a record that overflows the output buffer is shown again by the next read */
		int slot = nest_take(NEST_SOCK);
		__u32 k = slot;
		struct sock_record *r = slot >= 0 ? bpf_map_lookup_elem(&sock_scratch, &k) : NULL;
		if (r) {
			bpf_probe_read_kernel(r, sizeof(*r), v);
			export_finalize(r, why);
			bpf_seq_write(ctx->meta->seq, r, sizeof(*r));
		} else {
			stat_inc(ST_SOCK_DROP);
		}
		nest_put(NEST_SOCK, slot);
		return 0;
	}
	/* a closed socket's final export belongs to tcp_destroy_sock */
	if (why & SF_CLOSED)
		return 0;
	if (sock_emit(v, why, c.now) == 0)
		__sync_fetch_and_add(&sock_iter_ctx.exported, 1);
	else
		__sync_fetch_and_add(&sock_iter_ctx.pending, 1);
	return 0;
}
