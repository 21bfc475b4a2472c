/* SPDX-License-Identifier: GPL-2.0 */
/*
 * UNIX socket bytes on kernels without the sock_send_length/sock_recv_length tracepoints (e.g.
 * Debian 12's 6.1), where BPF LSM is active: the socket_sendmsg/socket_recvmsg hooks (every
 * read, write, send and receive on a socket passes them) name the socket for the calling thread,
 * and the syscall's exit adds what it returned to the same per-socket entry socket.bpf.h's
 * unix_io() keeps. The sensor loads these only where those tracepoints are missing.
 * Not counted this way: sendmmsg/recvmmsg, splice and sendfile into or out of a UNIX socket.
 */
#pragma once
#include "socket.bpf.h"

struct ux_pending {
	__u64 sk;
	__u64 cookie;
	__u32 rx;
	__u32 pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32); /* tid */
	__type(value, struct ux_pending);
} sock_ux_pending SEC(".maps");

static __always_inline int ux_mark(struct socket *sock, __u32 rx)
{
	if (!sock_on() || !sock)
		return 0;
	struct sock *sk = sock->sk;
	if (!sk || sk->__sk_common.skc_family != AF_UNIX_)
		return 0;
	__u64 pt = bpf_get_current_pid_tgid();
	if (is_self(pt >> 32))
		return 0;
	struct ux_pending p = { .sk = (__u64)sk, .cookie = bpf_get_socket_cookie(sk), .rx = rx };
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

static __always_inline int ux_exit(long ret)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct ux_pending *p = bpf_map_lookup_elem(&sock_ux_pending, &tid);
	if (!p)
		return 0;
	struct ux_pending c = *p;
	bpf_map_delete_elem(&sock_ux_pending, &tid);
	if (ret > 0 && sock_on())
		unix_io((struct sock *)c.sk, c.cookie, ret, c.rx); /* CO-RE reads only: the address is plain */
	return 0;
}

#define UX_EXIT(name)                                                                           \
	SEC("tp/syscalls/sys_exit_" #name)                                                      \
	int sock_ux_x_##name(struct trace_event_raw_sys_exit *ctx)                              \
	{                                                                                       \
		return ux_exit(ctx->ret);                                                       \
	}

UX_EXIT(read)
UX_EXIT(write)
UX_EXIT(readv)
UX_EXIT(writev)
UX_EXIT(sendto)
UX_EXIT(recvfrom)
UX_EXIT(sendmsg)
UX_EXIT(recvmsg)
