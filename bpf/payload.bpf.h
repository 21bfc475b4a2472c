/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Application payload capture for -p (DNS, HTTP, SYSLOG). Part of the socket monitor (program
 * names start with sock_pl_); the records join their socket record in userspace by flow key.
 *
 *  TCP, UDP   cgroup_skb egress on the cgroup v2 root (a program of its own), and ingress inside
 *             the socket monitor's ingress program (sock_skb_in*, cfg_pl_skb: one program per
 *             received packet, not two). The configured ports are checked first,
 *             from the headers in place; only a matching packet with payload costs more. The
 *             IP header is at byte 0; the payload at ihl*4 + (doff*4 | 8). Egress sees a GSO
 *             super-packet once, before segmentation: one message.
 *  UNIX       tp_btf/sk_data_ready(receiver), in the sender's context: the datagram (or stream
 *             chunk) just queued is the tail of the receive queue. The receiver is matched by
 *             (dev, ino) of its bound path against the configured syslog sockets.
 *             Reader side: tp_btf/skb_copy_datagram_iovec in the receiver's context, for the
 *             datagrams the sender side did not see (a receiver on another CPU dequeued it
 *             first) and for every datagram where sk_data_ready does not exist (6.1). The two
 *             sides claim each skb in pl_unix_claims; see there.
 *
 * Per flow (socket cookie; UDP: and peer; UNIX: the sender's socket) and direction at most
 * cfg_pl_per_flow messages are shipped. TCP segments that start before the next byte expected
 * are retransmissions and are skipped. Data reaching a listening socket completes a handshake
 * (a TCP_DEFER_ACCEPT listener such as nginx's `listen … deferred`, a lost bare ACK, loopback
 * reordering): it is kept per CPU and shipped under the child's cookie when the child's entry is
 * made in the same softirq (pl_listen_stash), not attributed to the listener. Every payload of a matching
 * port that is not shipped is counted by reason (payload_stats). Records are variable-size
 * (per-CPU scratch + bpf_ringbuf_output) and never wake the consumer.
 */
#pragma once
#include "common.bpf.h"
#include <bpf/bpf_endian.h>

#define PL_AF_UNIX 1
#define PL_AF_INET 2
#define PL_AF_INET6 10
#define PL_TCP_LISTEN 10
#define PL_SOCK_DGRAM 2

/* set by the sensor before load */
const volatile __u8 cfg_pl_ports[2][65536];     /* [0 TCP, 1 UDP][port] = enum fn_app */
const volatile __u32 cfg_pl_per_flow = 8;       /* messages per flow and direction */
const volatile __u64 cfg_pl_idle_ns = 15000000000ULL; /* a flow quiet this long starts over (its record was exported) */
const volatile __u32 cfg_pl_unix_n = 0;
const volatile __u64 cfg_pl_unix_ino[FN_PAYLOAD_UNIX_SOCKS];
const volatile __u32 cfg_pl_unix_dev[FN_PAYLOAD_UNIX_SOCKS]; /* kernel dev_t (major << 20 | minor) */

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, PL_MAX);
	__type(key, __u32);
	__type(value, __u64);
} payload_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, NEST_SLOTS); /* taken with nest_take(NEST_PAYLOAD) */
	__type(key, __u32);
	__type(value, struct payload_record);
} payload_scratch SEC(".maps");

struct pl_flow_key {
	__u64 cookie;
	__u8 raddr[16];  /* UDP peer; zero otherwise */
	__u16 rport;
	__u16 pad[3];
};

struct pl_flow {
	__u64 ts;           /* last message (CLOCK_BOOTTIME): an idle flow starts over */
	__u32 count[2];     /* messages shipped: [0] tx, [1] rx */
	__u32 next_seq[2];  /* TCP: the byte after the last one captured */
	__u8 seq_set[2];
	__u8 self;          /* a TCP socket the agent or the sensor sends on: its sends are left out */
	__u8 pad;
};

/* per-CPU LRU lists: a flood of new flows evicts without the common list's global lock */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__uint(map_flags, BPF_F_NO_COMMON_LRU);
	__type(key, struct pl_flow_key);
	__type(value, struct pl_flow);
} payload_flows SEC(".maps");

static __always_inline void pl_count(__u32 idx)
{
	__u64 *v = bpf_map_lookup_elem(&payload_stats, &idx);
	if (v)
		*v += 1;
}

#define PL_ADMIT_RX 1
#define PL_ADMIT_TCP 2

/* Flow state; false (counted) when the message is not to be shipped. how: PL_ADMIT_* (BPF
 * calls take five arguments). */
static __noinline bool pl_admit(struct pl_flow_key *key, __u32 how, __u32 seq, __u32 len, __u64 now)
{
	__u32 rx = how & PL_ADMIT_RX, tcp = how & PL_ADMIT_TCP;
	struct pl_flow *f = bpf_map_lookup_elem(&payload_flows, key);
	if (!f) {
		struct pl_flow zero = {};
		bpf_map_update_elem(&payload_flows, key, &zero, BPF_NOEXIST);
		f = bpf_map_lookup_elem(&payload_flows, key);
		if (!f) {
			pl_count(PL_DROP_FLOW_MAP);
			return false;
		}
	}
	if (f->self && !rx)
		return false; /* the agent's own output (pl_skb): not a drop */
	if (f->ts && now - f->ts > cfg_pl_idle_ns) {
		/* the flow's record left on its idle timeout (or a UDP peer port was reused) */
		f->count[0] = f->count[1] = 0;
		f->seq_set[0] = f->seq_set[1] = 0;
	}
	/* a coarse clock: a write per packet to a line both directions share costs more */
	if (now - f->ts > 100000000ULL)
		f->ts = now;
	if (tcp && f->seq_set[rx] && (__s32)(seq - f->next_seq[rx]) < 0) {
		pl_count(PL_SKIP_RETRANS);
		return false;
	}
	/* a plain read first: a capped flow (the common case under load) takes no atomic */
	if (f->count[rx] >= cfg_pl_per_flow) {
		pl_count(PL_DROP_FLOW_CAP);
		return false;
	}
	if (tcp) {
		f->next_seq[rx] = seq + len;
		f->seq_set[rx] = 1;
	}
	if (__sync_fetch_and_add(&f->count[rx], 1) >= cfg_pl_per_flow) {
		pl_count(PL_DROP_FLOW_CAP);
		return false;
	}
	return true;
}

/* This CPU's scratch record in slot *slot, given back with nest_put(NEST_PAYLOAD, *slot) (also
 * when this returns NULL, which it counts as a read drop). Egress runs in task context with
 * bottom halves enabled, as do the UNIX hooks: an ingress softirq may interrupt them. */
static __always_inline struct payload_record *pl_scratch(int *slot)
{
	*slot = nest_take(NEST_PAYLOAD);
	__u32 k = *slot;
	struct payload_record *r = *slot >= 0 ? bpf_map_lookup_elem(&payload_scratch, &k) : NULL;
	if (!r)
		pl_count(PL_DROP_READ);
	return r;
}

/* The bytes to copy of a payload of len (>= 1) bytes, in [1, FN_PAYLOAD_MAX] as the verifier
 * sees it: clang checks the bound on a 32-bit copy of the register, which 6.1's verifier does
 * not tie back to the value passed on (nor does it take "!= 0" for a lower bound). */
_Static_assert((FN_PAYLOAD_MAX & (FN_PAYLOAD_MAX - 1)) == 0, "FN_PAYLOAD_MAX is a power of two");
static __always_inline __u64 pl_cap(__u32 len)
{
	__u32 cap = len > FN_PAYLOAD_MAX ? FN_PAYLOAD_MAX : len;
	return BOUND(cap - 1, FN_PAYLOAD_MAX - 1) + 1;
}

/* Ships r with cap payload bytes already in r->data. */
static __always_inline void pl_ship(struct payload_record *r, __u32 cap)
{
	if (cap > FN_PAYLOAD_MAX)
		cap = FN_PAYLOAD_MAX;
	r->hdr.type = FN_REC_PAYLOAD;
	r->hdr.size = PAYLOAD_RECORD_FIXED + cap;
	r->cap_len = cap;
	if (bpf_ringbuf_output(&events, r, PAYLOAD_RECORD_FIXED + cap, BPF_RB_NO_WAKEUP))
		pl_count(PL_DROP_RINGBUF);
	else
		pl_count(PL_CAPTURED);
}

/* The payload of a data segment that reached a listener (see above and socket.bpf.h's
 * sock_listen_pkt): the kernel makes the child from it in this softirq, on this CPU, and
 * sock_state then hands the child to pl_listen_adopt. Counted as a handshake drop when kept;
 * the adoption takes that back (same CPU, per-CPU counter), so a segment no child took stays
 * counted. The key (ports, and the acknowledged number: the server's ISN + 1, which the child
 * has in snd_una) makes a stale slot harmless.
 * A TCP Fast Open SYN's data is kept the same way (syn set, key: the SYN's sequence number). The
 * listener makes the Fast Open child and sends its SYN-ACK from this softirq; the socket
 * monitor's transmit hook sees the child's first segment and hands it to pl_listen_adopt_syn
 * with the request's ISN. A SYN whose data the listener refused (no valid cookie) stays counted:
 * the client sends that data again after the handshake, where it is captured. */
struct pl_listen_keep {
	__u16 rport, lport;  /* host order */
	__u32 ack;           /* the segment's acknowledgment number; a SYN: its sequence number */
	__u32 cap;
	__u16 valid;
	__u16 syn;
	struct payload_record r;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct pl_listen_keep);
} pl_listen_stash SEC(".maps");

static __always_inline void pl_listen_put(struct __sk_buff *skb, __u8 *th, __u32 hl, __u32 len, __u32 seq,
					  __u32 app, __u32 v6, __u32 syn)
{
	__u32 zero = 0;
	struct pl_listen_keep *k = bpf_map_lookup_elem(&pl_listen_stash, &zero);
	if (!k)
		return;
	__u64 cap = pl_cap(len); /* len >= 1: pl_skb returned on an empty payload */
	if (bpf_skb_load_bytes(skb, hl, k->r.data, cap)) {
		k->valid = 0;
		return;
	}
	k->cap = cap;
	k->rport = (th[0] << 8) | th[1];
	k->lport = (th[2] << 8) | th[3];
	/* a SYN's data starts one after its sequence number (the SYN's own) */
	k->ack = syn ? seq - 1 : ((__u32)th[8] << 24) | ((__u32)th[9] << 16) | ((__u32)th[10] << 8) | th[11];
	k->syn = syn;
	__builtin_memset(k->r.raddr, 0, sizeof(k->r.raddr));
	k->r.rport = 0;
	k->r.hdr.flags = PLF_RX;
	k->r.hdr.ts_first = k->r.hdr.ts = bpf_ktime_get_boot_ns();
	k->r.family = v6 ? PL_AF_INET6 : PL_AF_INET;
	k->r.app = app;
	k->r.transport = FN_PL_TCP;
	k->r.wire_len = len;
	k->r.seq = seq;
	k->valid = 1;
	if (!pl_listen_data)
		pl_listen_data = 1;
}

/* Ships the kept segment k under the child's cookie. */
static __always_inline void pl_listen_ship(struct pl_listen_keep *k, __u64 cookie)
{
	k->valid = 0;
	__u32 idx = PL_DROP_HANDSHAKE;
	__u64 *v = bpf_map_lookup_elem(&payload_stats, &idx);
	if (v)
		*v -= 1; /* counted when kept; from here it is captured or counted under its reason */
	struct pl_flow_key key = { .cookie = cookie };
	if (!pl_admit(&key, PL_ADMIT_RX | PL_ADMIT_TCP, k->r.seq, k->r.wire_len, bpf_ktime_get_boot_ns()))
		return;
	k->r.cookie = cookie;
	pl_ship(&k->r, k->cap);
}

/* The kept segment, if it is the one that made child sk (sock_state, SYN_RECV → ESTABLISHED). */
static __noinline void pl_listen_adopt(struct sock *sk, __u64 cookie)
{
	__u32 zero = 0;
	struct pl_listen_keep *k = bpf_map_lookup_elem(&pl_listen_stash, &zero);
	if (!k || !k->valid || k->syn || !cookie)
		return;
	if (k->lport != sk->__sk_common.skc_num || k->rport != bpf_ntohs(sk->__sk_common.skc_dport))
		return;
	struct tcp_sock *tp = bpf_skc_to_tcp_sock(sk);
	if (!tp || tp->snd_una != k->ack)
		return;
	pl_listen_ship(k, cookie);
}

/* The kept Fast Open SYN, if it is the one that made child sk, whose request has ISN isn (the
 * socket monitor's transmit hook: sk is read by probe there). */
static __noinline void pl_listen_adopt_syn(struct sock *sk, __u64 cookie, __u32 isn)
{
	__u32 zero = 0;
	struct pl_listen_keep *k = bpf_map_lookup_elem(&pl_listen_stash, &zero);
	if (!k || !k->valid || !k->syn || !cookie || k->ack != isn)
		return;
	if (k->lport != BPF_CORE_READ(sk, __sk_common.skc_num) || k->rport != bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport)))
		return;
	pl_listen_ship(k, cookie);
}

/* Whether a task holds the TCP socket this packet leaves from (lock_sock: sk_lock.owned). A task
 * sends TCP data holding its socket; TCP's softirq sends (data an ACK let out, a timer's
 * retransmission) run only while no task holds it, and there the current task is merely the one
 * the softirq interrupted. */
static __always_inline bool pl_tcp_held(struct __sk_buff *skb)
{
	struct bpf_sock *sk = skb->sk;
	if (!sk)
		return false;
	struct tcp_sock *tp = bpf_skc_to_tcp_sock(sk);
	return tp && tp->inet_conn.icsk_inet.sk.sk_lock.owned;
}

/* Marks a TCP flow as the agent's or the sensor's own: its later sends from a softirq, whichever
 * task they interrupt, are left out with it. */
static __noinline void pl_mark_self(struct pl_flow_key *key)
{
	struct pl_flow *f = bpf_map_lookup_elem(&payload_flows, key);
	if (f) {
		if (!f->self)
			f->self = 1;
		return;
	}
	struct pl_flow self = { .self = 1 };
	bpf_map_update_elem(&payload_flows, key, &self, BPF_NOEXIST);
}

static __noinline int pl_skb(struct __sk_buff *skb, __u32 rx)
{
	if (!(cfg_monitors & FN_MON_SOCKET) || fn_paused)
		return 1;
	__u8 *h = (__u8 *)(long)skb->data, *end = (__u8 *)(long)skb->data_end;
	__u32 l3, proto, v6 = 0;
	if (skb->protocol == bpf_htons(0x0800)) {
		if (h + 20 > end)
			return 1;
		if ((h[6] & 0x3f) || h[7])
			return 1; /* a fragment (egress runs before fragmentation; ingress after reassembly) */
		l3 = (h[0] & 0xf) * 4;
		proto = h[9];
	} else if (skb->protocol == bpf_htons(0x86DD)) {
		if (h + 40 > end)
			return 1;
		l3 = 40;
		proto = h[6];
		v6 = 1;
	} else {
		return 1;
	}
	if (l3 < 20 || l3 > 60)
		return 1;
	__u32 t = proto == 6 ? 0 : proto == 17 ? 1 : 2;
	if (t > 1)
		return 1;
	__u8 *th = h + l3;
	if (th + 8 > end)
		return 1;
	__u16 sport = (th[0] << 8) | th[1], dport = (th[2] << 8) | th[3];
	/* the port filter: everything else leaves here */
	__u8 app = cfg_pl_ports[t][sport];
	if (!app)
		app = cfg_pl_ports[t][dport];
	if (!app)
		return 1;
	__u32 hl, seq = 0, syn = 0, self = 0;
	if (t == 0) {
		if (th + 20 > end)
			return 1;
		hl = l3 + (th[12] >> 4) * 4;
		seq = ((__u32)th[4] << 24) | ((__u32)th[5] << 16) | ((__u32)th[6] << 8) | th[7];
		/* TCP Fast Open: a SYN with data; the data starts after the SYN's sequence number */
		syn = th[13] & 0x02;
		if (syn)
			seq++;
	} else {
		hl = l3 + 8;
	}
	__u32 len = skb->len;
	if (len <= hl)
		return 1; /* no payload: ACKs and the like */
	len -= hl;
	if (rx) {
		/* data for a listening or request socket completes a handshake: not the listener's */
		struct bpf_sock *sk = skb->sk;
		if (!sk)
			return 1;
		sk = bpf_sk_fullsock(sk);
		if (!sk || (t == 0 && sk->state == PL_TCP_LISTEN)) {
			pl_count(PL_DROP_HANDSHAKE);
			if (sk)
				pl_listen_put(skb, th, hl, len, seq, app, v6, syn);
			return 1;
		}
		if (syn) {
			/* a SYN or SYN-ACK with data to a connecting socket (simultaneous open; Linux's
			 * servers send none in a SYN-ACK): not captured, counted */
			pl_count(PL_DROP_HANDSHAKE);
			return 1;
		}
	} else if (cfg_cg_skb_tgid && is_self(cg_skb_tgid())) {
		/* the agent's own output: UDP is sent in the sender's context; TCP when the task holds
		 * the socket (pl_tcp_held), else a softirq interrupted it and sends for someone else */
		if (t == 1)
			return 1;
		self = pl_tcp_held(skb);
	}
	__u64 cookie = bpf_get_socket_cookie(skb);
	if (!cookie)
		return 1;
	struct pl_flow_key key = { .cookie = cookie };
	if (self) {
		pl_mark_self(&key);
		return 1;
	}
	if (t == 1) {
		/* UDP: per peer; rx comes from it, tx goes to it (read in place: the header is checked) */
		if (v6)
			__builtin_memcpy(key.raddr, rx ? h + 8 : h + 24, 16);
		else
			__builtin_memcpy(key.raddr, rx ? h + 12 : h + 16, 4);
		key.rport = rx ? sport : dport;
	}
	__u64 now = bpf_ktime_get_boot_ns();
	if (!pl_admit(&key, (rx ? PL_ADMIT_RX : 0) | (t == 0 ? PL_ADMIT_TCP : 0), seq, len, now))
		return 1;
	int slot;
	struct payload_record *r = pl_scratch(&slot);
	__u64 cap = pl_cap(len); /* len >= 1: returned above on an empty payload */
	if (!r || bpf_skb_load_bytes(skb, hl, r->data, cap)) {
		if (r)
			pl_count(PL_DROP_READ);
		nest_put(NEST_PAYLOAD, slot);
		return 1;
	}
	__builtin_memcpy(r->raddr, key.raddr, 16);
	r->rport = key.rport;
	r->hdr.flags = rx ? PLF_RX : 0;
	r->hdr.ts_first = r->hdr.ts = now;
	r->cookie = cookie;
	r->family = v6 ? PL_AF_INET6 : PL_AF_INET;
	r->app = app;
	r->transport = t == 0 ? FN_PL_TCP : FN_PL_UDP;
	r->wire_len = len;
	r->seq = seq;
	pl_ship(r, cap);
	nest_put(NEST_PAYLOAD, slot);
	return 1;
}

SEC("cgroup_skb/egress")
int sock_pl_out(struct __sk_buff *skb)
{
	return pl_skb(skb, 0);
}
/* ingress: sock_skb_in / sock_skb_in_w (socket_packets.bpf.h) call pl_skb(skb, 1) */
