// SPDX-License-Identifier: GPL-2.0
/* Count-only floor for the socket monitor's hooks: the same attach points as bpf/socket*.bpf.h
 * (tp_btf tracepoints and cgroup_skb ingress), each program only adding one to a per-CPU
 * counter. What observing those hooks costs at all, for bench/socket-overhead. */
#include "vmlinux.h" /* bpf/vmlinux/<arch>/ (shipped) or bpf/ (generated): -I from the bench */
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} hits SEC(".maps");

static __always_inline int hit(void)
{
	__u32 zero = 0;
	__u64 *n = bpf_map_lookup_elem(&hits, &zero);
	if (n)
		*n += 1;
	return 0;
}

SEC("tp_btf/inet_sock_set_state") int BPF_PROG(floor_state) { return hit(); }
SEC("tp_btf/tcp_destroy_sock") int BPF_PROG(floor_destroy) { return hit(); }
SEC("tp_btf/sock_send_length") int BPF_PROG(floor_send) { return hit(); }
SEC("tp_btf/sock_recv_length") int BPF_PROG(floor_recv) { return hit(); }
SEC("tp_btf/net_dev_start_xmit") int BPF_PROG(floor_xmit) { return hit(); }
SEC("cgroup_skb/ingress") int floor_in(struct __sk_buff *skb) { hit(); return 1; }

char LICENSE[] SEC("license") = "GPL";
