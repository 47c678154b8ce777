// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The physical line for `make bench`: the least any program watching TCP state changes can
 * cost. count_state counts every run of the tracepoint connrec's TCP capture uses, per CPU,
 * and does nothing else. pass_ingress/pass_egress are the least a packet hook at the cgroup
 * root can cost: they return 1 ("allow") at once. connrec attaches two such hooks (DNS
 * capture, UDP bytes) that the kernel runs for every packet, TCP included, so the line a TCP
 * recorder can reach is the counter plus that dispatch. bench/tpcount.c loads them.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} runs SEC(".maps");

SEC("raw_tp/inet_sock_set_state")
int BPF_PROG(count_state, struct sock *sk, int oldstate, int newstate)
{
	__u32 k = 0;
	__u64 *n = bpf_map_lookup_elem(&runs, &k);

	if (n)
		*n += 1;
	return 0;
}

SEC("cgroup_skb/ingress")
int pass_ingress(struct __sk_buff *skb)
{
	return 1;
}

SEC("cgroup_skb/egress")
int pass_egress(struct __sk_buff *skb)
{
	return 1;
}
