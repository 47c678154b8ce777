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

/*
 * --track hash|array: the least a recorder that stores each TCP endpoint whole must do per
 * connection, in place of the counter: at SYN_SENT (in the connecting task) and SYN_RECV
 * start tracking the socket (an id from a shared counter, the start time, at SYN_SENT the
 * owner), and at CLOSE look it up, send one connrec-sized record to a ring with the
 * socket's addresses, and stop tracking it. "hash" keeps the sockets in a preallocated hash
 * map as connrec does; "array" in an array used as an open-addressing table whose slots are
 * claimed with a compare-and-swap (no lock, no element to allocate).
 */
#include "connrec_event.h"

struct min_flow {
	__u64 id;
	__u64 start_ns;
	__u64 cgroup_id;
	__u32 pid;
	__u32 uid;
	char comm[CR_COMM_LEN];
	__u64 pad[2]; /* the size of connrec's struct tcp_flow: 64 bytes */
};

struct min_slot {
	__u64 key; /* the socket; 0: free */
	struct min_flow f;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536); /* userspace sizes it as connrec would */
	__type(key, __u64);
	__type(value, struct min_flow);
} flows SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 65536); /* a power of two, set by userspace */
	__type(key, __u32);
	__type(value, struct min_slot);
} slots SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 16 << 20);
} records SEC(".maps");

const volatile bool track_array = false;
const volatile __u32 slot_mask = 65535;
__u64 next_id = 1;

#define MIN_PROBES 8
#define TCP_SYN_SENT_ 2
#define TCP_SYN_RECV_ 3
#define TCP_CLOSE_ 7

static __always_inline __u32 slot_of(__u64 key, __u32 i)
{
	return ((__u32)((key * 0x9E3779B97F4A7C15ULL) >> 32) + i) & slot_mask;
}

static __always_inline void start_flow(__u64 key, bool owner)
{
	struct min_flow f = {};

	f.id = __sync_fetch_and_add(&next_id, 1);
	f.start_ns = bpf_ktime_get_boot_ns();
	if (owner) {
		struct task_struct *leader = bpf_get_current_task_btf()->group_leader;

		f.pid = bpf_get_current_pid_tgid() >> 32;
		f.uid = (__u32)bpf_get_current_uid_gid();
		f.cgroup_id = bpf_get_current_cgroup_id();
		__builtin_memcpy(f.comm, leader->comm, CR_COMM_LEN);
	}
	if (!track_array) {
		bpf_map_update_elem(&flows, &key, &f, BPF_NOEXIST);
		return;
	}
	for (__u32 i = 0; i < MIN_PROBES; i++) {
		__u32 idx = slot_of(key, i);
		struct min_slot *s = bpf_map_lookup_elem(&slots, &idx);

		if (s && __sync_val_compare_and_swap(&s->key, 0, key) == 0) {
			s->f = f;
			return;
		}
	}
}

static __always_inline void end_flow(struct sock *sk, __u64 key)
{
	struct min_slot *s = NULL;
	struct min_flow *f = NULL;
	struct cr_event *e;

	if (!track_array) {
		f = bpf_map_lookup_elem(&flows, &key);
	} else {
		for (__u32 i = 0; i < MIN_PROBES; i++) {
			__u32 idx = slot_of(key, i);

			s = bpf_map_lookup_elem(&slots, &idx);
			if (s && s->key == key) {
				f = &s->f;
				break;
			}
		}
	}
	if (!f)
		return;
	e = bpf_ringbuf_reserve(&records, sizeof(*e), 0);
	if (e) {
		__builtin_memset(e, 0, sizeof(*e));
		e->kind = CR_EV_CLOSE;
		e->conn_id = f->id;
		e->start_boot_ns = f->start_ns;
		e->ts_boot_ns = bpf_ktime_get_boot_ns();
		e->pid = f->pid;
		e->uid = f->uid;
		e->cgroup_id = f->cgroup_id;
		__builtin_memcpy(e->comm, f->comm, CR_COMM_LEN);
		bpf_probe_read_kernel(e->laddr, 32, &sk->__sk_common.skc_v6_daddr);
		bpf_ringbuf_submit(e, BPF_RB_NO_WAKEUP);
	}
	if (!track_array)
		bpf_map_delete_elem(&flows, &key);
	else if (s)
		__sync_lock_test_and_set(&s->key, 0);
}

SEC("raw_tp/inet_sock_set_state")
int BPF_PROG(track_state, struct sock *sk, int oldstate, int newstate)
{
	if (newstate != TCP_SYN_SENT_ && newstate != TCP_SYN_RECV_ && newstate != TCP_CLOSE_)
		return 0;
	if (newstate == TCP_CLOSE_)
		end_flow(sk, (__u64)sk);
	else
		start_flow((__u64)sk, newstate == TCP_SYN_SENT_);
	return 0;
}
