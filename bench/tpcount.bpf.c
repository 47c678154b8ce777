// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The physical line for `make bench`: the least any program watching TCP state changes can
 * cost. It counts every run of the tracepoint connrec's TCP capture uses, per CPU, and does
 * nothing else (bench/tpcount.c loads it).
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
