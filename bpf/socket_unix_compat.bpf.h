/* SPDX-License-Identifier: GPL-2.0 */
/*
 * UNIX socket bytes on kernels without the sock_send_length/sock_recv_length tracepoints (e.g.
 * Debian 12's 6.1), where BPF LSM is active: the socket_sendmsg/socket_recvmsg hooks (every
 * read, write, send and receive on a socket passes them) name the socket for the calling thread,
 * and the syscall's exit adds what it returned to the same per-socket entry socket.bpf.h's
 * unix_io() keeps. The sensor loads these only where those tracepoints are missing.
 * sendmmsg/recvmmsg pass the hooks once per message; their exit sums the messages' msg_len.
 * A mark holds the syscall it was made in: a call whose exit is not hooked here (io_uring, say)
 * leaves a mark that no other call's exit takes (the thread's next hooked exit drops it).
 * 6.1 writes sendfile's and splice's bytes into a socket through sendpage, which passes no LSM
 * hook for a stream socket: their exits count those by the fd (ux_page_exit); reads by splice
 * are counted on every kernel (sock_unix_splice). Not counted: io_uring's operations on a UNIX
 * socket (no hooked exit; an io-wq worker makes no mark).
 * The same marks give a TCP server socket its owner at its first read (sock_ux_tcp_read).
 */
#pragma once
#include "socket.bpf.h"

#define PF_IO_WORKER_ 0x00000010 /* include/linux/sched.h */

struct ux_pending {
	__u64 sk;
	__u64 cookie;
	__u16 rx;
	__u16 tcp; /* a TCP server socket's read, before its first (no owner yet): see below */
	__u32 nr;  /* the syscall whose exit takes the mark */
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32); /* tid */
	__type(value, struct ux_pending);
} sock_ux_pending SEC(".maps");

/* A TCP socket read whose entry has no owner yet (a server socket before its first read): the
 * read is marked, and tcp_rcv_space_adjust below, which runs once the read has consumed data,
 * makes the reading task the owner, as sock_recv_length does where it exists. */
static __always_inline bool tcp_unowned(struct sock *sk)
{
	__u16 fam = sk->__sk_common.skc_family;
	if ((fam != AF_INET_ && fam != AF_INET6_) || sk->sk_protocol != IPPROTO_TCP_)
		return false;
	struct sock_record *v = tcp_rec(sk); /* socket_tcp.bpf.h */
	return v && v->hdr.pid == 0;
}

static __always_inline int ux_mark(struct socket *sock, __u32 rx)
{
	if (!sock_on() || !sock)
		return 0;
	struct sock *sk = sock->sk;
	if (!sk)
		return 0;
	bool tcp = false;
	if (sk->__sk_common.skc_family != AF_UNIX_) {
		if (!rx || !tcp_unowned(sk))
			return 0;
		tcp = true;
	}
	__u64 pt = bpf_get_current_pid_tgid();
	if (is_self(pt >> 32))
		return 0;
	/* an io_uring worker makes no syscall, so no exit would ever take its mark: it would stay
	 * until the worker's tid is reused, and enough of them would fill the map */
	if (bpf_get_current_task_btf()->flags & PF_IO_WORKER_)
		return 0;
	struct pt_regs *regs = cur_regs(); /* file_fd.bpf.h */
	struct ux_pending p = { .sk = (__u64)sk, .cookie = bpf_get_socket_cookie(sk), .rx = rx, .tcp = tcp,
				.nr = (__u32)SC_REGS_NR(regs) };
	__u32 tid = (__u32)pt;
	bpf_map_update_elem(&sock_ux_pending, &tid, &p, BPF_ANY);
	return 0;
}

SEC("lsm/socket_sendmsg")
int BPF_PROG(sock_ux_send, struct socket *sock)
{
	ux_mark(sock, 0);
	return 0; /* allow */
}

SEC("lsm/socket_recvmsg")
int BPF_PROG(sock_ux_recv, struct socket *sock)
{
	ux_mark(sock, 1);
	return 0; /* allow */
}

/* Takes the thread's mark; false when there is none for this syscall (nr). */
static __always_inline bool ux_take(struct ux_pending *c, long nr)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct ux_pending *p = bpf_map_lookup_elem(&sock_ux_pending, &tid);
	if (!p)
		return false;
	*c = *p;
	bpf_map_delete_elem(&sock_ux_pending, &tid);
	return c->nr == (__u32)nr && sock_on();
}

static __always_inline int ux_exit(long nr, long ret)
{
	struct ux_pending c;
	if (ux_take(&c, nr) && ret > 0 && !c.tcp)
		unix_io((struct sock *)c.sk, c.cookie, ret, c.rx, 1); /* CO-RE reads only: the address is plain */
	return 0;
}

#define UX_EXIT(name)                                                                           \
	SEC("tp/syscalls/sys_exit_" #name)                                                      \
	int sock_ux_x_##name(struct trace_event_raw_sys_exit *ctx)                              \
	{                                                                                       \
		return ux_exit(ctx->id, ctx->ret);                                              \
	}

UX_EXIT(read)
UX_EXIT(write)
UX_EXIT(readv)
UX_EXIT(writev)
UX_EXIT(sendto)
UX_EXIT(recvfrom)
UX_EXIT(sendmsg)
UX_EXIT(recvmsg)
UX_EXIT(preadv2)  /* offset -1: readv on a socket */
UX_EXIT(pwritev2)

/* sendfile and splice into a UNIX socket: a datagram socket passes socket_sendmsg (sendpage falls
 * back to sendmsg there), and its mark is taken; a stream socket passes no hook (its sendpage),
 * and the bytes are counted by out_fd's socket (its cookie, or its inode: unix_stream_of_fd).
 * Reads by splice: sock_unix_splice. */
static __always_inline int ux_page_exit(long nr, long ret, __u64 out_fd)
{
	struct ux_pending c;
	if (ux_take(&c, nr)) {
		if (ret > 0 && !c.tcp)
			unix_io((struct sock *)c.sk, c.cookie, ret, c.rx, 1);
		return 0;
	}
	unix_fd_io(out_fd, ret, false); /* socket_udp_unix.bpf.h */
	return 0;
}

SEC("tp/syscalls/sys_exit_sendfile64")
int sock_ux_x_sendfile(struct trace_event_raw_sys_exit *ctx)
{
	return ux_page_exit(ctx->id, ctx->ret, SC_ARG0(cur_regs()));
}

SEC("tp/syscalls/sys_exit_splice")
int sock_ux_x_splice(struct trace_event_raw_sys_exit *ctx)
{
	return ux_page_exit(ctx->id, ctx->ret, SC_ARG2(cur_regs()));
}

/* sendmmsg/recvmmsg return how many messages moved; msgvec[i].msg_len holds each one's bytes */
struct ux_mmsg {
	__u64 vec;
	__u64 bytes;
	__u32 msgs;   /* messages that moved bytes: one call each where sock_*_length exist */
	__u32 pad;
};

static long ux_mmsg_step(__u64 i, void *ctx)
{
	struct ux_mmsg *m = ctx;
	__u32 len = 0;
	bpf_probe_read_user(&len, sizeof(len),
			    (void *)(m->vec + i * sizeof(struct mmsghdr) + offsetof(struct mmsghdr, msg_len)));
	m->bytes += len;
	m->msgs += len > 0;
	return 0;
}

#define UIO_MAXIOV_ 1024 /* the kernel's bound on vlen */

static __always_inline int ux_mmsg_exit(long nr, long ret)
{
	struct ux_pending c;
	if (!ux_take(&c, nr) || ret <= 0 || c.tcp)
		return 0;
	struct ux_mmsg m = { .vec = SC_ARG1(cur_regs()) };
	bpf_loop(ret < UIO_MAXIOV_ ? ret : UIO_MAXIOV_, ux_mmsg_step, &m, 0);
	if (m.msgs)
		unix_io((struct sock *)c.sk, c.cookie, m.bytes, c.rx, m.msgs);
	return 0;
}

SEC("tp/syscalls/sys_exit_sendmmsg")
int sock_ux_x_sendmmsg(struct trace_event_raw_sys_exit *ctx)
{
	return ux_mmsg_exit(ctx->id, ctx->ret);
}

SEC("tp/syscalls/sys_exit_recvmmsg")
int sock_ux_x_recvmmsg(struct trace_event_raw_sys_exit *ctx)
{
	return ux_mmsg_exit(ctx->id, ctx->ret);
}

/* The first read of a TCP server socket: tcp_recvmsg calls tcp_rcv_space_adjust after each copy
 * to the reader, in the reader's context. Only inside a read the LSM hook marked for this socket
 * and thread (tcp_read_sock also calls it, from other contexts). */
SEC("tp_btf/tcp_rcv_space_adjust")
int BPF_PROG(sock_ux_tcp_read, struct sock *sk)
{
	if (!sock_on())
		return 0;
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct ux_pending *p = bpf_map_lookup_elem(&sock_ux_pending, &tid);
	if (!p || p->tcp != 1 || p->sk != (__u64)sk)
		return 0;
	p->tcp = 2; /* done: later copies of this read skip the look-up */
	return tcp_owner(sk);
}
