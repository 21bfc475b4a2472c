/* SPDX-License-Identifier: GPL-2.0 */
/* Socket monitor (socket.bpf.h), the sensor's timer (sock_export, sock_tcp_iter; run with
 * BPF_PROG_TEST_RUN every tick): idle and active timeouts, closed UDP/UNIX sockets, records the
 * ring buffer could not take, and the shutdown walk. */
#pragma once
#include "socket.bpf.h"

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

/* Shutdown: a Fast Open child still in SYN_RECV (accepted, perhaps read and answered, its
 * client's ACK not come) is exported as it stands; any other embryo has no record. The kernel is
 * paused, so no transition can make it born meanwhile. Its counter baselines stay zero: a child's
 * counters start at zero, and what it has is all its connection did. sk: live_sk's (probe). */
static __always_inline bool embryo_final(struct sock_record *v, struct sock *sk, __u32 mode)
{
	if (mode != SOCK_EXPORT_FINALIZE || v->embryo != SOCK_EMBRYO_TFO)
		return false;
	inet_addrs_p(v, sk);
	__sync_fetch_and_add(&v->busy, 0); /* as tcp_born: the fields before the mark */
	v->embryo = SOCK_BORN;
	return true;
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
		struct sock *sk = live_sk(v);
		if (!sk) {
			if (bpf_map_delete_elem(&sock_map, key) == 0)
				__sync_fetch_and_add(&sock_map_entries, -1);
			return 0;
		}
		if (!embryo_final(v, sk, c->mode))
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
	if (!v || (v->embryo && !embryo_final(v, sk, sock_iter_ctx.mode)))
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
