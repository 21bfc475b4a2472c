// SPDX-License-Identifier: GPL-2.0
/* Count-only floor for payload capture (-p): the same hooks as bpf/payload.bpf.h's packet
 * programs (cgroup_skb egress and ingress on the cgroup v2 root), each only counting. Loaded by
 * sock-floor.c, for bench/dns-flood. */
#include "vmlinux.h" /* bpf/vmlinux/<arch>/ (shipped) or bpf/ (generated): -I from the bench */
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} hits SEC(".maps");

static __always_inline void hit(void)
{
	__u32 zero = 0;
	__u64 *n = bpf_map_lookup_elem(&hits, &zero);
	if (n)
		*n += 1;
}

SEC("cgroup_skb/ingress") int plfloor_in(struct __sk_buff *skb) { hit(); return 1; }
SEC("cgroup_skb/egress") int plfloor_out(struct __sk_buff *skb) { hit(); return 1; }

char LICENSE[] SEC("license") = "GPL";
