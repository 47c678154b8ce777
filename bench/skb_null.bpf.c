// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The floor under connrec's packet hooks: a cgroup_skb ingress and an egress program that
 * allow every packet at once and read nothing. Attached at the cgroup root (bench/skb_null.c),
 * what they cost a transfer is the kernel's cgroup_skb dispatch alone, which any program
 * there pays, whatever it does.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

SEC("cgroup_skb/ingress")
int null_ingress(struct __sk_buff *skb)
{
	return 1;
}

SEC("cgroup_skb/egress")
int null_egress(struct __sk_buff *skb)
{
	return 1;
}

/*
 * Not a packet hook: what a syscall tracepoint costs every syscall of every process (while
 * one is attached, each syscall takes the kernel's slow path to the tracepoint and back),
 * as connrec's accept and connect exits do. Attached only with --syscall-tp.
 */
SEC("tracepoint/syscalls/sys_exit_connect")
int null_sys_exit(void *ctx)
{
	return 0;
}
