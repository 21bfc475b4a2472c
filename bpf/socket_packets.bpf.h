/* SPDX-License-Identifier: GPL-2.0 */
/* Socket monitor (socket.bpf.h), packets: tx at net_dev_start_xmit, rx at cgroup_skb ingress
 * (TCP flags, bytes, TTL, interfaces; UDP entries per peer). */
#pragma once
#include "socket.bpf.h"

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

/* -p with TCP or UDP ports: the ingress half of payload capture (payload.bpf.h) runs in this
 * program, after the packet is counted, rather than as a second program on the same hook: every
 * received packet paid a second program's dispatch and accounting for a port check. */
const volatile __u32 cfg_pl_skb = 0;
static __noinline int pl_skb(struct __sk_buff *skb, __u32 rx);

SEC("cgroup_skb/ingress")
int sock_skb_in(struct __sk_buff *skb)
{
	skb_in(skb, false);
	if (cfg_pl_skb)
		pl_skb(skb, 1);
	return 1;
}

SEC("cgroup_skb/ingress")
int sock_skb_in_w(struct __sk_buff *skb)
{
	skb_in(skb, true);
	if (cfg_pl_skb)
		pl_skb(skb, 1);
	return 1;
}
