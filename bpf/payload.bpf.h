/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Application payload capture for -p (DNS, HTTP, SYSLOG). Part of the socket monitor (program
 * names start with sock_pl_); the records join their socket record in userspace by flow key.
 *
 *  TCP, UDP   cgroup_skb egress and ingress on the cgroup v2 root (own programs, attached next
 *             to the socket monitor's ingress program). The configured ports are checked first,
 *             from the headers in place; only a matching packet with payload costs more. The
 *             IP header is at byte 0; the payload at ihl*4 + (doff*4 | 8). Egress sees a GSO
 *             super-packet once, before segmentation: one message.
 *  UNIX       tp_btf/sk_data_ready(receiver), in the sender's context: the datagram (or stream
 *             chunk) just queued is the tail of the receive queue. The receiver is matched by
 *             (dev, ino) of its bound path against the configured syslog sockets.
 *
 * Per flow (socket cookie; UDP: and peer; UNIX: the sender's socket) and direction at most
 * cfg_pl_per_flow messages are shipped. TCP segments that start before the next byte expected
 * are retransmissions and are skipped. Data reaching a listening or request socket (the
 * handshake-completing ACK) is not attributed to the listener. Every payload of a matching
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
	__uint(max_entries, 1);
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
	__u32 seq_set[2];
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

static __always_inline struct payload_record *pl_scratch(void)
{
	__u32 zero = 0;
	return bpf_map_lookup_elem(&payload_scratch, &zero);
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
	__u32 hl, seq = 0;
	if (t == 0) {
		if (th + 20 > end)
			return 1;
		if (th[13] & 0x02)
			return 1; /* SYN: no message (fast-open data is not captured) */
		hl = l3 + (th[12] >> 4) * 4;
		seq = ((__u32)th[4] << 24) | ((__u32)th[5] << 16) | ((__u32)th[6] << 8) | th[7];
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
			return 1;
		}
	} else if (is_self(bpf_get_current_pid_tgid() >> 32)) {
		return 1; /* the agent's own output */
	}
	__u64 cookie = bpf_get_socket_cookie(skb);
	if (!cookie)
		return 1;
	struct pl_flow_key key = { .cookie = cookie };
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
	struct payload_record *r = pl_scratch();
	if (!r)
		return 1;
	__builtin_memcpy(r->raddr, key.raddr, 16);
	r->rport = key.rport;
	__u32 cap = len > FN_PAYLOAD_MAX ? FN_PAYLOAD_MAX : len;
	if (cap == 0 || bpf_skb_load_bytes(skb, hl, r->data, cap)) {
		pl_count(PL_DROP_READ);
		return 1;
	}
	r->hdr.flags = rx ? PLF_RX : 0;
	r->hdr.ts_first = r->hdr.ts = now;
	r->cookie = cookie;
	r->family = v6 ? PL_AF_INET6 : PL_AF_INET;
	r->app = app;
	r->transport = t == 0 ? FN_PL_TCP : FN_PL_UDP;
	r->wire_len = len;
	r->seq = seq;
	pl_ship(r, cap);
	return 1;
}

SEC("cgroup_skb/egress")
int sock_pl_out(struct __sk_buff *skb)
{
	return pl_skb(skb, 0);
}

SEC("cgroup_skb/ingress")
int sock_pl_in(struct __sk_buff *skb)
{
	return pl_skb(skb, 1);
}

/* A UNIX receiver got a datagram or stream chunk from the current task (syslog clients). */
SEC("tp_btf/sk_data_ready")
int BPF_PROG(sock_pl_unix, const struct sock *sk)
{
	if (!cfg_pl_unix_n || !(cfg_monitors & FN_MON_SOCKET) || fn_paused)
		return 0;
	if (sk->__sk_common.skc_family != PL_AF_UNIX)
		return 0;
	struct unix_sock *u = bpf_skc_to_unix_sock((void *)sk);
	if (!u)
		return 0;
	struct dentry *d = u->path.dentry;
	if (!d)
		return 0;
	struct inode *ino = d->d_inode;
	if (!ino)
		return 0;
	__u64 i_ino = ino->i_ino;
	__u32 dev = ino->i_sb->s_dev;
	bool hit = false;
	for (__u32 i = 0; i < FN_PAYLOAD_UNIX_SOCKS; i++) {
		if (i < cfg_pl_unix_n && cfg_pl_unix_ino[i] == i_ino && cfg_pl_unix_dev[i] == dev)
			hit = true;
	}
	if (!hit)
		return 0;
	/* the skb just queued; an empty queue's prev is the queue head itself */
	struct sk_buff *skb = sk->sk_receive_queue.prev;
	if (!skb || (void *)skb == (void *)&sk->sk_receive_queue) {
		pl_count(PL_DROP_READ); /* a reader already took it */
		return 0;
	}
	/* the sender's socket: a pointer walked from the queue is untrusted, so no cookie helper
	 * (and the cookie may not exist yet); it is named by its address, which its socket record
	 * carries too, and its inode number against address reuse */
	struct sock *sender = skb->sk;
	if (!sender)
		return 0;
	struct socket *so = sender->sk_socket;
	if (!so)
		return 0;
	__u64 sino = BPF_CORE_READ((struct socket_alloc *)((void *)so - bpf_core_field_offset(struct socket_alloc, socket)),
				   vfs_inode.i_ino);
	__u64 cookie = sender->__sk_common.skc_cookie.counter;
	__u64 addr = (__u64)sender;
	__u32 len = skb->len, head = len - skb->data_len;
	if (!len)
		return 0;
	struct pl_flow_key key = { .cookie = addr };
	__builtin_memcpy(key.raddr, &sino, 8);
	__u64 now = bpf_ktime_get_boot_ns();
	if (!pl_admit(&key, 0, 0, len, now))
		return 0;
	struct payload_record *r = pl_scratch();
	if (!r)
		return 0;
	__u32 cap = head > FN_PAYLOAD_MAX ? FN_PAYLOAD_MAX : head;
	if (cap == 0 || bpf_probe_read_kernel(r->data, cap, skb->data)) {
		pl_count(PL_DROP_READ);
		return 0;
	}
	__builtin_memcpy(r->raddr, &addr, 8);
	__builtin_memcpy(r->raddr + 8, &sino, 8);
	r->rport = 0;
	r->hdr.flags = 0;
	r->hdr.ts_first = r->hdr.ts = now;
	r->cookie = cookie;
	r->family = PL_AF_UNIX;
	r->app = FN_APP_SYSLOG;
	r->transport = FN_PL_UNIX;
	r->wire_len = len;
	r->seq = 0;
	pl_ship(r, cap);
	return 0;
}
