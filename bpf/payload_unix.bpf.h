/* SPDX-License-Identifier: GPL-2.0 */
/* Payload capture (payload.bpf.h) for UNIX syslog sockets: the sender side (sk_data_ready) and the
 * reader side (skb_copy_datagram_iovec), which claim each datagram so exactly one ships it. */
#pragma once
#include "payload.bpf.h"

/* Which side handles a queued UNIX datagram: exactly one, without a lock shared with the kernel.
 * The sender side (sk_data_ready) claims the tail skb in pl_unix_claims, then looks whether the
 * skb is still queued (skb->next is NULL once a reader unlinked it):
 *   still queued   the reader's copy comes later and finds the claim: the sender side ships it,
 *                  the reader side takes the claim out and leaves the skb alone.
 *   dequeued       the reader's copy may have run already (without seeing the claim) or not:
 *                  the sender side deletes its claim. If that delete succeeds, the claim was not
 *                  seen and the reader side ships (or shipped) the datagram; if it fails, the
 *                  reader side took the claim out and left it: the sender side ships it.
 * The reader side ships every datagram whose claim it does not find, or cannot delete. A full
 * barrier between each side's write and its read (pl_fence: sender claim → skb->next; reader
 * unlink → claim lookup) keeps both from missing the other's write. A claim names the sender
 * socket and length: skb addresses are reused at once. Claims are left only for datagrams the
 * reader side never sees read (their receiver closed, or reads through io_uring): the LRU drops
 * them, and the same thread's next claim at that address replaces one. Datagram receivers only. */
#define PL_CLAIM_FRESH_NS 1000000000ULL

struct pl_claim {
	__u64 sk;   /* the sender's struct sock */
	__u64 ts;
	__u32 len;
	__u32 tid;  /* the claiming thread: its own claim at this address is an earlier datagram's */
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64); /* skb address */
	__type(value, struct pl_claim);
} pl_unix_claims SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} pl_fence_slot SEC(".maps");

/* A full memory barrier (a compare-and-exchange: a locked instruction on x86, a fully ordered
 * atomic on arm64), on a per-CPU slot so that CPUs do not share its line. */
static __always_inline void pl_fence(void)
{
	__u32 zero = 0;
	__u64 *v = bpf_map_lookup_elem(&pl_fence_slot, &zero);
	if (v)
		__sync_val_compare_and_swap(v, 0, 0);
}

/* set by the sensor after load: the reader-side program is loaded (the sender side leaves
 * what it cannot see to it instead of counting drop_read) */
volatile __u32 pl_unix_reader;

static __always_inline bool pl_unix_id_match(__u64 i_ino, __u32 dev)
{
	bool hit = false;
	for (__u32 i = 0; i < FN_PAYLOAD_UNIX_SOCKS; i++) {
		if (i < cfg_pl_unix_n && cfg_pl_unix_ino[i] == i_ino && cfg_pl_unix_dev[i] == dev)
			hit = true;
	}
	return hit;
}

/* The sender socket's inode number (the payload join's key, with its address). A sender that
 * closed already has no struct socket: its socket record (sock_map, by cookie) still holds it. */
static __always_inline __u64 pl_unix_sender_ino(struct sock *sender)
{
	struct socket *so = BPF_CORE_READ(sender, sk_socket);
	if (so)
		return BPF_CORE_READ((struct socket_alloc *)((void *)so - bpf_core_field_offset(struct socket_alloc, socket)),
				     vfs_inode.i_ino);
	struct sock_key k = { .cookie = BPF_CORE_READ(sender, __sk_common.skc_cookie.counter) };
	if (!k.cookie)
		return 0;
	struct sock_record *v = bpf_map_lookup_elem(&sock_map, &k);
	if (!v || v->sk != (__u64)sender)
		return 0;
	__u64 ino;
	__builtin_memcpy(&ino, v->raddr + 8, 8);
	return ino;
}

/* Captures (or counts) one datagram of sender whose bytes start at data. */
static __noinline int pl_unix_ship(struct sock *sender, void *data, __u32 len, __u32 head)
{
	__u64 sino = pl_unix_sender_ino(sender);
	__u64 cookie = BPF_CORE_READ(sender, __sk_common.skc_cookie.counter);
	__u64 addr = (__u64)sender;
	struct pl_flow_key key = { .cookie = addr };
	__builtin_memcpy(key.raddr, &sino, 8);
	__u64 now = bpf_ktime_get_boot_ns();
	if (!pl_admit(&key, 0, 0, len, now))
		return 0;
	int slot;
	struct payload_record *r = pl_scratch(&slot);
	__u32 cap = head > FN_PAYLOAD_MAX ? FN_PAYLOAD_MAX : head;
	if (!r || cap == 0 || bpf_probe_read_kernel(r->data, cap, data)) {
		if (r)
			pl_count(PL_DROP_READ);
		nest_put(NEST_PAYLOAD, slot);
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
	nest_put(NEST_PAYLOAD, slot);
	return 0;
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
	if (!ino || !pl_unix_id_match(ino->i_ino, ino->i_sb->s_dev))
		return 0;
	/* the skb just queued; an empty queue's prev is the queue head itself */
	struct sk_buff *skb = sk->sk_receive_queue.prev;
	if (!skb || (void *)skb == (void *)&sk->sk_receive_queue) {
		/* a reader already took it: the reader side has it, else it is lost */
		if (!pl_unix_reader)
			pl_count(PL_DROP_READ);
		return 0;
	}
	/* the sender's socket: a pointer walked from the queue is untrusted, so no cookie helper
	 * (and the cookie may not exist yet); it is named by its address, which its socket record
	 * carries too, and its inode number against address reuse */
	struct sock *sender = skb->sk;
	if (!sender)
		return 0;
	__u32 len = skb->len, head = len - skb->data_len;
	if (!len)
		return 0;
	/* a stream receiver has no reader side (a read copies parts of an skb): no claim */
	if (!pl_unix_reader || BPF_CORE_READ(sk, sk_type) != PL_SOCK_DGRAM)
		return pl_unix_ship(sender, skb->data, len, head);
	__u64 key = (__u64)skb, now = bpf_ktime_get_boot_ns();
	struct pl_claim c = { .sk = (__u64)sender, .ts = now, .len = len, .tid = (__u32)bpf_get_current_pid_tgid() };
	if (bpf_map_update_elem(&pl_unix_claims, &key, &c, BPF_NOEXIST)) {
		struct pl_claim *o = bpf_map_lookup_elem(&pl_unix_claims, &key);
		/* another sender's sk_data_ready claimed this tail (its own datagram was read before
		 * it looked); else a stale claim of a datagram our hook never saw read */
		if (o && o->sk == c.sk && o->len == len && o->tid != c.tid && now - o->ts < PL_CLAIM_FRESH_NS)
			return 0;
		bpf_map_update_elem(&pl_unix_claims, &key, &c, BPF_ANY);
	}
	pl_fence();
	if (!BPF_CORE_READ(skb, next) && !bpf_map_delete_elem(&pl_unix_claims, &key))
		return 0; /* dequeued, and the reader side had not seen the claim: it ships it */
	return pl_unix_ship(sender, skb->data, len, head);
}

/* syscall number and the registers holding the arguments (user registers saved at entry) */
#if defined(__TARGET_ARCH_arm64)
#define PL_NR(r) ((r)->syscallno)
#define PL_A0(r) ((r)->orig_x0)
#define PL_A2(r) ((r)->regs[2])
#define PL_A3(r) ((r)->regs[3])
#define PL_NR_READ 63
#define PL_NR_READV 65
#define PL_NR_RECVFROM 207
#define PL_NR_RECVMSG 212
#define PL_NR_RECVMMSG 243
#else
#define PL_NR(r) ((r)->orig_ax)
#define PL_A0(r) ((r)->di)
#define PL_A2(r) ((r)->dx)
#define PL_A3(r) ((r)->r10)
#define PL_NR_READ 0
#define PL_NR_READV 19
#define PL_NR_RECVFROM 45
#define PL_NR_RECVMSG 47
#define PL_NR_RECVMMSG 299
#endif
#define PL_MSG_PEEK 2

/* The reader side: a datagram copied to user space. For a UNIX datagram skb->sk is the
 * sender's socket (skb_set_owner_w), so TCP and UDP (the receiver's own socket) leave at the
 * first test. The receiver is the current task; its socket is the fd of the receive call
 * (read, readv, recvfrom, recvmsg, recvmmsg: the first argument). Peeks are skipped (the real
 * read follows). Datagram receivers only: a stream read copies parts of an skb. */
SEC("tp_btf/skb_copy_datagram_iovec")
int BPF_PROG(sock_pl_unix_rd, const struct sk_buff *skb, int copy_len)
{
	struct sock *sender = skb->sk;
	if (!sender || sender->__sk_common.skc_family != PL_AF_UNIX)
		return 0;
	if (!cfg_pl_unix_n || !(cfg_monitors & FN_MON_SOCKET) || fn_paused)
		return 0;
	if (BPF_CORE_READ(sender, sk_type) != PL_SOCK_DGRAM)
		return 0;
	struct task_struct *t = bpf_get_current_task_btf();
	struct pt_regs *regs = (struct pt_regs *)bpf_task_pt_regs(t);
	__u64 nr = PL_NR(regs), flags = 0;
	if (nr == PL_NR_RECVFROM || nr == PL_NR_RECVMMSG)
		flags = PL_A3(regs);
	else if (nr == PL_NR_RECVMSG)
		flags = PL_A2(regs);
	else if (nr != PL_NR_READ && nr != PL_NR_READV)
		return 0;
	if (flags & PL_MSG_PEEK)
		return 0;
	struct sock *rsk = sock_of_task_fd(t, PL_A0(regs)); /* socket.bpf.h */
	if (!rsk || BPF_CORE_READ(rsk, __sk_common.skc_family) != PL_AF_UNIX)
		return 0;
	struct inode *ino = BPF_CORE_READ((struct unix_sock *)rsk, path.dentry, d_inode);
	if (!ino || !pl_unix_id_match(BPF_CORE_READ(ino, i_ino), BPF_CORE_READ(ino, i_sb, s_dev)))
		return 0;
	__u32 len = skb->len, head = len - skb->data_len;
	if (!len)
		return 0;
	__u64 key = (__u64)skb;
	pl_fence();
	struct pl_claim *o = bpf_map_lookup_elem(&pl_unix_claims, &key);
	if (o && o->sk == (__u64)sender && o->len == len && !bpf_map_delete_elem(&pl_unix_claims, &key))
		return 0; /* the sender side ships it */
	pl_count(PL_UNIX_READER);
	return pl_unix_ship(sender, skb->data, len, head);
}
