// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * connrec capture programs. Only tracepoints and cgroup-sock hooks are used, because the
 * target kernels have neither kprobes nor fentry:
 *
 *   raw_tp/inet_sock_set_state   every TCP state change (attaches by name, no tracefs needed)
 *   raw_tp/tcp_destroy_sock      a second chance for a CLOSE the kernel skipped (on_tcp_destroy)
 *   tp/syscalls/sys_exit_accept* who accepted a passive connection (needs tracefs)
 *   tp/syscalls/sys_exit_connect the bound local port of a connected UDP socket
 *   cgroup/connect4|6            makes the kernel assign a socket cookie to UDP sockets
 *   cgroup/sendmsg4|6, recvmsg4|6 unconnected UDP datagrams, with the peer's address
 *   cgroup/sock_release          the end of a UDP socket
 *   cgroup_skb/ingress           DNS answers (bpf/dns.bpf.h); UDP bytes received
 *   cgroup_skb/egress            UDP bytes sent (bpf/udp_traffic.bpf.h)
 *   raw_tp/inet_sk_error_report  a UDP flow refused by an ICMP port unreachable
 *
 * Every cgroup hook returns 1 ("allow"): connrec observes, it never changes traffic.
 * Each flow gets a 64-bit id from one global counter that userspace seeds above every id
 * already in the store; the id ties the OPEN and CLOSE events of one endpoint together.
 *
 * A TCP connection's OPEN is not sent when it opens: most connections are short, and their
 * CLOSE carries the whole flow in one record. The recorder asks for the OPEN of the ones that
 * live longer (report_open, run on demand), so long connections still show while open.
 */
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "connrec_maps.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#define AF_INET 2
#define AF_INET6 10
#define SOCK_DGRAM 2
#define IPPROTO_TCP 6
#define IPPROTO_UDP 17
#define ECONNREFUSED 111
#define ECONNRESET 104
#define EPIPE 32
#define EEXIST 17
#define SEND_SHUTDOWN 2

/* Userspace sets both capacities before load (hidden flags --ring-size and --max-flows). */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 16 << 20);
} events SEC(".maps");

/* Claim the right to send this flow's OPEN. */
static __always_inline bool claim_open(struct tcp_flow *f)
{
	return __sync_val_compare_and_swap(&f->opened, FLOW_NEW, FLOW_OPEN_SENT) == FLOW_NEW;
}

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, __u64); /* struct sock pointer: unique while the socket lives */
	__type(value, struct tcp_flow);
} tcp_flows SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, struct udp_key);
	__type(value, struct udp_flow);
} udp_flows SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, __u64); /* socket cookie */
	__type(value, struct udp_sock_state);
} udp_socks SEC(".maps");

/* The young journal (connrec_maps.h); userspace sizes both to the number of CPUs. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, CR_YOUNG_SLOTS);
	__type(key, __u32);
	__type(value, struct young_slot);
} young SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct young_head);
} young_heads SEC(".maps");

/* Slots per CPU in `young`, a power of two up to CR_YOUNG_SLOTS; set by userspace. */
const volatile __u32 young_slots = CR_YOUNG_SLOTS;

/* Losses, per CPU so counting never contends: index enum cr_drop_reason. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, CR_DROP_MAX);
	__type(key, __u32);
	__type(value, __u64);
} drops SEC(".maps");

/* Seeded by userspace before attach; shared with it through the mmaped .bss. */
__u64 next_conn_id = 1;

/* Fault injection for tests (recorder flag --skip-close-port); 0 leaves the check out. */
const volatile __u16 skip_close_port = 0;

/*
 * Fault injection for tests (--lose-close-port): neither the CLOSE nor the destruction is
 * seen, as if the kernel had skipped both. 0 leaves the check out.
 */
const volatile __u16 lose_close_port = 0;

static __always_inline bool port_is(struct sock *sk, __u16 port)
{
	__u16 lport = bpf_ntohs(BPF_CORE_READ((struct inet_sock *)sk, inet_sport));
	__u16 rport = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));

	return lport == port || rport == port;
}

static __always_inline void count_drop(__u32 reason)
{
	__u64 *n = bpf_map_lookup_elem(&drops, &reason);

	if (n)
		*n += 1;
}

static __always_inline __u64 new_conn_id(void)
{
	return __sync_fetch_and_add(&next_conn_id, 1);
}

/* A zeroed record, or NULL when the ring is full (the caller knows what that loses). */
static __always_inline struct cr_event *event_reserve(void)
{
	struct cr_event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);

	if (e)
		__builtin_memset(e, 0, sizeof(*e));
	return e;
}

/*
 * Never wake the consumer from here; it polls on its own timer (every 50 ms). A wakeup is an
 * irq_work, which raises an interrupt on this CPU while the program still runs; when the
 * program runs in process context with softirqs enabled (a socket's backlog processed in
 * release_sock), the kernel runs pending softirqs on that interrupt's exit, nested inside the
 * program, and every TCP state change in them is skipped: the kernel never runs a program
 * nested in itself (docs/capture.md). Under a mass close that skipped hundreds of closes at
 * a time, whenever a quarter of the ring was in use.
 */
static __always_inline void event_submit(struct cr_event *e)
{
	bpf_ringbuf_submit(e, BPF_RB_NO_WAKEUP);
}

/*
 * Process identity of the current task: tgid, the thread-group leader's name and start time
 * (the start tells a process from a later one with the same pid).
 */
static __always_inline void current_identity(__u32 *pid, __u32 *uid, __u64 *cgroup, char *comm,
					     __u64 *pstart)
{
	/* A BTF task pointer: plain loads instead of a probe-read helper call per field. */
	struct task_struct *leader = bpf_get_current_task_btf()->group_leader;

	*pid = bpf_get_current_pid_tgid() >> 32;
	*uid = (__u32)bpf_get_current_uid_gid();
	*cgroup = bpf_get_current_cgroup_id();
	*pstart = leader->start_time;
	/* The leader's name, not the thread's: dig's resolver thread is "isc-net-0000". */
	__builtin_memcpy(comm, leader->comm, CR_COMM_LEN);
}

static __always_inline __u32 current_netns(void)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();

	return BPF_CORE_READ(task, nsproxy, net_ns, ns.inum);
}

/*
 * Every probe read is a helper call, and a socket's addresses, ports, family, namespace and
 * flags all sit in the first ~100 bytes of struct sock_common: copy that once and pick the
 * fields out at their CO-RE offsets. A kernel whose layout does not fit falls back to one read per field
 * (the size checks are constants after relocation, so the verifier keeps one branch).
 */
#define SKC_COPY_LEN 104
#define SKC_FITS(field)                                                                          \
	(bpf_core_field_offset(struct sock_common, field) +                                      \
		 bpf_core_field_size(struct sock_common, field) <=                               \
	 SKC_COPY_LEN)
#define SKC_AT(buf, type, field)                                                                 \
	(*(type *)((buf) + bpf_core_field_offset(struct sock_common, field)))

static __always_inline bool skc_copy_fits(void)
{
	return SKC_FITS(skc_daddr) && SKC_FITS(skc_rcv_saddr) && SKC_FITS(skc_dport) &&
	       SKC_FITS(skc_family) && SKC_FITS(skc_net) && SKC_FITS(skc_v6_daddr) &&
	       SKC_FITS(skc_v6_rcv_saddr);
}

/* Older kernels keep sk_flags in struct sock; 6.x moved it into sock_common. */
struct sock___old {
	unsigned long sk_flags;
} __attribute__((preserve_access_index));

/* The socket's flags, from skc (a copy of its sock_common, or NULL) when they are in it. */
static __always_inline unsigned long sock_flags_of(struct sock *sk, const __u8 *skc)
{
	if (!bpf_core_field_exists(sk->__sk_common.skc_flags))
		return BPF_CORE_READ((struct sock___old *)sk, sk_flags);
	if (skc && SKC_FITS(skc_flags))
		return SKC_AT(skc, unsigned long, skc_flags);
	return BPF_CORE_READ(sk, __sk_common.skc_flags);
}

/* Local/remote address, ports and namespace of a socket into the event; its flags if asked. */
static __always_inline void sock_tuple(struct sock *sk, struct cr_event *e, unsigned long *flags)
{
	__u8 buf[SKC_COPY_LEN];
	struct net *net;
	__u16 family;

	if (skc_copy_fits() && !bpf_probe_read_kernel(buf, sizeof(buf), &sk->__sk_common)) {
		family = SKC_AT(buf, __u16, skc_family);
		net = SKC_AT(buf, struct net *, skc_net);
		e->rport = bpf_ntohs(SKC_AT(buf, __u16, skc_dport));
		if (family == AF_INET6) {
			__builtin_memcpy(e->laddr, &SKC_AT(buf, __u8, skc_v6_rcv_saddr), 16);
			__builtin_memcpy(e->raddr, &SKC_AT(buf, __u8, skc_v6_daddr), 16);
		} else {
			__builtin_memcpy(e->laddr, &SKC_AT(buf, __u32, skc_rcv_saddr), 4);
			__builtin_memcpy(e->raddr, &SKC_AT(buf, __u32, skc_daddr), 4);
		}
		if (flags)
			*flags = sock_flags_of(sk, buf);
	} else {
		family = BPF_CORE_READ(sk, __sk_common.skc_family);
		net = BPF_CORE_READ(sk, __sk_common.skc_net.net);
		e->rport = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
		if (family == AF_INET6) {
			BPF_CORE_READ_INTO(&e->laddr, sk,
					   __sk_common.skc_v6_rcv_saddr.in6_u.u6_addr8);
			BPF_CORE_READ_INTO(&e->raddr, sk, __sk_common.skc_v6_daddr.in6_u.u6_addr8);
		} else {
			BPF_CORE_READ_INTO((__u32 *)e->laddr, sk, __sk_common.skc_rcv_saddr);
			BPF_CORE_READ_INTO((__u32 *)e->raddr, sk, __sk_common.skc_daddr);
		}
		if (flags)
			*flags = sock_flags_of(sk, NULL);
	}
	e->family = family == AF_INET6 ? 6 : 4;
	e->netns = BPF_CORE_READ(net, ns.inum);
	/*
	 * inet_sport, not skc_num: on the way to CLOSE the kernel releases an auto-bound port
	 * (skc_num = 0) before the tracepoint fires, but inet_sport keeps it.
	 */
	e->lport = bpf_ntohs(BPF_CORE_READ((struct inet_sock *)sk, inet_sport));
	if (!e->lport)
		e->lport = BPF_CORE_READ(sk, __sk_common.skc_num);
}

static __always_inline void fill_from_flow(struct cr_event *e, const struct tcp_flow *f)
{
	e->conn_id = f->id;
	e->start_boot_ns = f->start_ns;
	e->pid = f->pid;
	e->uid = f->uid;
	e->cgroup_id = f->cgroup_id;
	e->pstart_ns = f->pstart_ns;
	e->direction = f->direction;
	__builtin_memcpy(e->comm, f->comm, sizeof(e->comm));
	if (!f->has_pid)
		e->flags |= CR_FLAG_NO_PID;
}

/* The states from which reaching CLOSE means our FIN was sent. */
static __always_inline bool fin_was_sent(int oldstate)
{
	return oldstate == TCP_FIN_WAIT1 || oldstate == TCP_FIN_WAIT2 || oldstate == TCP_CLOSING ||
	       oldstate == TCP_LAST_ACK;
}

/*
 * Payload bytes each way. The kernel counters also count sequence space used by control
 * flags: bytes_acked includes our SYN (active opens only: a passive child starts with its
 * SYN already acked) and our FIN once acked; bytes_received includes the peer's FIN
 * (SOCK_DONE is set when it arrives). Subtract those so both ends agree.
 */
static __always_inline void payload_bytes(struct sock *sk, const struct tcp_flow *f,
					  int oldstate, unsigned long flags, __u64 *bytes_out,
					  __u64 *bytes_in)
{
	struct tcp_sock *tp = (struct tcp_sock *)sk;
	__u64 acked = BPF_CORE_READ(tp, bytes_acked);
	__u64 received = BPF_CORE_READ(tp, bytes_received);
	__u64 control = 0;

	/*
	 * An active open that got past SYN_SENT had its SYN acked. Untracked (pre-existing)
	 * flows: the recorder knows their direction and fixes it.
	 */
	if (f && f->direction == CR_DIR_OUT && oldstate != TCP_SYN_SENT)
		control++;
	if (fin_was_sent(oldstate) && BPF_CORE_READ(tp, snd_una) == BPF_CORE_READ(tp, write_seq))
		control++;
	*bytes_out = acked > control ? acked - control : 0;
	if ((flags & (1UL << bpf_core_enum_value(enum sock_flags, SOCK_DONE))) && received)
		received--;
	*bytes_in = received;
}

/*
 * Sends one TCP record; false if the ring was full: then a CLOSE is the caller's to keep
 * (keep_end) or count lost, an OPEN the caller's to undo.
 */
static __always_inline bool emit_tcp(struct sock *sk, struct tcp_flow *f, __u8 kind,
				     __u8 end_reason, int oldstate, __u64 now)
{
	struct cr_event *e = event_reserve();
	unsigned long flags = 0;

	if (!e)
		return false;
	e->kind = kind;
	e->proto = IPPROTO_TCP;
	e->ts_boot_ns = now;
	e->end_reason = end_reason;
	sock_tuple(sk, e, kind == CR_EV_CLOSE ? &flags : NULL);
	if (f) {
		fill_from_flow(e, f);
		if (f->opened == FLOW_OPEN_SENT || f->opened == FLOW_ENDED)
			e->flags |= CR_FLAG_OPEN_SENT;
	} else {
		/* Not tracked here: opened before we attached, or the map was full. */
		e->cookie = BPF_CORE_READ(sk, __sk_common.skc_cookie.counter);
		e->start_boot_ns = now;
		e->flags |= CR_FLAG_NO_PID;
		/* A listener says so; in or out is for the recorder to infer from its listeners. */
		e->direction = oldstate == TCP_LISTEN ? CR_DIR_LISTEN : CR_DIR_OUT;
	}
	if (kind == CR_EV_CLOSE)
		payload_bytes(sk, f, oldstate, flags, &e->bytes_out, &e->bytes_in);
	event_submit(e);
	return true;
}

/*
 * Sends the OPEN of a tracked flow if nothing has spoken for it yet. If the ring is full the
 * claim is given back: the recorder asks again later, or the CLOSE carries the flow.
 */
static __always_inline bool send_open(struct sock *sk, struct tcp_flow *f, __u64 ts)
{
	if (!claim_open(f))
		return false;
	f->portpair = BPF_CORE_READ(sk, __sk_common.skc_portpair);
	if (emit_tcp(sk, f, CR_EV_OPEN, 0, 0, ts))
		return true;
	__sync_val_compare_and_swap(&f->opened, FLOW_OPEN_SENT, FLOW_NEW);
	return false;
}

/*
 * Tell the recorder about a socket that started being tracked (connrec_maps.h, the young
 * journal). A softirq may interrupt this on the same CPU: the atomic add gives each its own
 * slot, and the exchange that marks the slot complete orders it after the slot's contents.
 */
static __always_inline void journal_add(__u32 proto, __u64 key, __u64 id)
{
	__u32 cpu = bpf_get_smp_processor_id(), idx;
	struct young_head *h = bpf_map_lookup_elem(&young_heads, &cpu);
	struct young_slot *slot;
	__u64 n;

	if (!h)
		return;
	n = __sync_fetch_and_add(&h->next, 1);
	idx = cpu * young_slots + (__u32)(n & (young_slots - 1));
	slot = bpf_map_lookup_elem(&young, &idx);
	if (!slot)
		return;
	slot->key = key;
	slot->id = id;
	slot->proto = proto;
	__sync_lock_test_and_set(&slot->seq, n + 1);
}

/*
 * The CLOSE of a connection stored as open found the ring full, and the caller claimed its
 * end (opened: FLOW_OPEN_SENT -> FLOW_ENDED). Keep the end in the tracking map instead of
 * losing it (struct tcp_kept_end): the entry at KEY (the socket) moves to the flow's id. The
 * delete comes first, so that the insert finds a free slot even in a full map (its element
 * goes back to this CPU's free list, where the insert looks first). scratch: stack room for
 * the copy. Either the end is kept or its loss counted.
 */
static __always_inline void keep_end(struct sock *sk, __u64 key, const struct tcp_flow *f,
				     struct tcp_flow *scratch, __u8 end_reason, int oldstate,
				     __u64 now)
{
	struct tcp_kept_end *k = &scratch->kept;
	__u16 family = BPF_CORE_READ(sk, __sk_common.skc_family);
	__u64 bytes_out, bytes_in;

	*scratch = *f;
	payload_bytes(sk, f, oldstate, sock_flags_of(sk, NULL), &bytes_out, &bytes_in);
	/* The owner's fields end here: the union's other half is written from now on. */
	__builtin_memset(k, 0, sizeof(*k));
	k->end_ns = now;
	k->bytes_out = bytes_out;
	k->bytes_in = bytes_in;
	k->end_reason = end_reason;
	k->family = family == AF_INET6 ? 6 : 4;
	k->netns = BPF_CORE_READ(sk, __sk_common.skc_net.net, ns.inum);
	k->rport = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
	k->lport = bpf_ntohs(BPF_CORE_READ((struct inet_sock *)sk, inet_sport));
	if (!k->lport)
		k->lport = BPF_CORE_READ(sk, __sk_common.skc_num);
	scratch->opened = FLOW_END_KEPT;
	bpf_map_delete_elem(&tcp_flows, &key);
	if (bpf_map_update_elem(&tcp_flows, &scratch->id, scratch, BPF_NOEXIST)) {
		count_drop(CR_DROP_RING_END);
		return;
	}
	journal_add(CR_YOUNG_KEPT_END, scratch->id, scratch->id);
	count_drop(CR_DROP_KEPT_END);
}

/* Start tracking a socket; f is filled in for the caller. False if the map is full. */
static __always_inline bool track_tcp(__u64 key, struct tcp_flow *f, __u8 direction,
				      bool in_task, __u32 opened, __u64 now, bool count_full)
{
	long err;

	f->id = new_conn_id();
	f->start_ns = now;
	f->direction = direction;
	f->opened = opened;
	if (in_task) {
		current_identity(&f->pid, &f->uid, &f->cgroup_id, f->comm, &f->pstart_ns);
		f->has_pid = 1;
	}
	err = bpf_map_update_elem(&tcp_flows, &key, f, BPF_NOEXIST);
	/*
	 * An entry is already there: the socket that had this address before was freed, yet
	 * neither its CLOSE nor its destruction reached a program (rare, under core-saturating
	 * storms; the kernel counts no recursion miss for it). Its flow is lost: count it, and
	 * take the entry over.
	 */
	if (err == -EEXIST) {
		count_drop(CR_DROP_UNSEEN);
		err = bpf_map_update_elem(&tcp_flows, &key, f, BPF_ANY);
	}
	if (err) {
		/* Once per flow: accept's second try for the same socket does not count. */
		if (count_full)
			count_drop(CR_DROP_MAP_FULL);
		return false;
	}
	journal_add(IPPROTO_TCP, key, f->id);
	return true;
}

/*
 * Why a TCP socket went to CLOSE, from the state it left and the error it carries. The state
 * alone says who closed first: LAST_ACK is only reached after the peer's FIN (CLOSE_WAIT),
 * the FIN_WAIT states and CLOSING only after ours. That also works for connections that
 * were open before we attached.
 */
static __always_inline __u8 close_reason(struct sock *sk, int oldstate)
{
	int err = BPF_CORE_READ(sk, sk_err);

	if (oldstate == TCP_SYN_SENT)
		return err == ECONNREFUSED ? CR_END_REFUSED : CR_END_TIMEOUT;
	if (err == ECONNRESET || err == EPIPE)
		return CR_END_PEER_RST;
	if (err)
		return CR_END_UNKNOWN;
	switch (oldstate) {
	case TCP_ESTABLISHED:
	case TCP_CLOSE_WAIT:
	case TCP_SYN_RECV:
		/* Straight from an open state to CLOSE without an error: we aborted (RST). */
		return CR_END_LOCAL_RST;
	case TCP_LAST_ACK:
		return CR_END_PEER_FIN;
	case TCP_FIN_WAIT1:
	case TCP_FIN_WAIT2:
	case TCP_CLOSING:
		return CR_END_LOCAL_FIN;
	}
	return CR_END_UNKNOWN;
}

static __always_inline int handle_tcp_state(struct sock *sk, int oldstate, int newstate)
{
	struct tcp_flow *f, nf = {};
	__u64 key = (__u64)sk;
	__u8 reason;
	__u64 now;

	/*
	 * Most transitions (ESTABLISHED, FIN_WAIT*, CLOSE_WAIT, LAST_ACK) carry nothing we need:
	 * leave before paying for any kernel memory read.
	 */
	if (newstate != TCP_SYN_SENT && newstate != TCP_SYN_RECV && newstate != TCP_LISTEN &&
	    newstate != TCP_CLOSE)
		return 0;
	if (BPF_CORE_READ(sk, sk_protocol) != IPPROTO_TCP)
		return 0;
	now = bpf_ktime_get_boot_ns();

	switch (newstate) {
	case TCP_SYN_SENT:
		/* connect() runs this in the caller's context: the owner is current. */
		track_tcp(key, &nf, CR_DIR_OUT, true, FLOW_NEW, now, true);
		return 0;
	case TCP_SYN_RECV:
		/* A child socket born in softirq: no owner yet, accept() supplies it. */
		track_tcp(key, &nf, CR_DIR_IN, false, FLOW_NEW, now, true);
		return 0;
	case TCP_LISTEN:
		/* Listeners are few and long-lived: say so at once. */
		if (track_tcp(key, &nf, CR_DIR_LISTEN, true, FLOW_NEW, now, true)) {
			f = bpf_map_lookup_elem(&tcp_flows, &key);
			if (f)
				send_open(sk, f, now);
		}
		return 0;
	case TCP_CLOSE:
		if ((skip_close_port && port_is(sk, skip_close_port)) ||
		    (lose_close_port && port_is(sk, lose_close_port)))
			return 0;
		f = bpf_map_lookup_elem(&tcp_flows, &key);
		/* Never opened (failed connect, not accepted yet): this CLOSE carries the flow. */
		if (f)
			__sync_val_compare_and_swap(&f->opened, FLOW_NEW, FLOW_CLOSED_FIRST);
		reason = oldstate == TCP_LISTEN ? CR_END_RELEASED : close_reason(sk, oldstate);
		if (emit_tcp(sk, f, CR_EV_CLOSE, reason, oldstate, now)) {
			if (f)
				bpf_map_delete_elem(&tcp_flows, &key);
			return 0;
		}
		/* The ring is full. Stored as open: keep its end until there is room. */
		if (f && __sync_val_compare_and_swap(&f->opened, FLOW_OPEN_SENT, FLOW_ENDED) ==
				 FLOW_OPEN_SENT) {
			keep_end(sk, key, f, &nf, reason, oldstate, now);
			return 0;
		}
		/* The whole flow was in this record (or another path claimed its end). */
		count_drop(CR_DROP_RINGBUF);
		if (f)
			bpf_map_delete_elem(&tcp_flows, &key);
		return 0;
	}
	return 0;
}

SEC("raw_tp/inet_sock_set_state")
int BPF_PROG(on_tcp_state, struct sock *sk, int oldstate, int newstate)
{
	return handle_tcp_state(sk, oldstate, newstate);
}

/*
 * Claims the right to send a late CLOSE: false if another path sent it already (the audit and
 * the destruction may both find a socket whose CLOSE no program saw). Two rounds: a failed
 * OPEN may turn FLOW_OPEN_SENT back into FLOW_NEW between the two swaps.
 */
static __always_inline bool claim_late_close(struct tcp_flow *f)
{
	for (int i = 0; i < 2; i++) {
		if (__sync_val_compare_and_swap(&f->opened, FLOW_NEW, FLOW_CLOSED_FIRST) == FLOW_NEW)
			return true;
		if (__sync_val_compare_and_swap(&f->opened, FLOW_OPEN_SENT, FLOW_ENDED) ==
		    FLOW_OPEN_SENT)
			return true;
	}
	return f->opened != FLOW_CLOSED_FIRST && f->opened != FLOW_ENDED;
}

/*
 * Sends the CLOSE that on_tcp_state never saw, for a tracked socket already in TCP_CLOSE, and
 * stops tracking it. The time is now, and the reason only what sk_err says.
 */
static __always_inline void late_close(struct sock *sk, struct tcp_flow *f, __u64 key)
{
	__u8 reason = CR_END_UNKNOWN;
	int oldstate = TCP_ESTABLISHED;
	struct tcp_flow scratch;
	unsigned long flags;
	__u64 now;
	int err;

	if (!claim_late_close(f)) {
		bpf_map_delete_elem(&tcp_flows, &key);
		return;
	}
	err = BPF_CORE_READ(sk, sk_err);
	if (err == ECONNREFUSED)
		reason = CR_END_REFUSED;
	else if (err == ECONNRESET || err == EPIPE)
		reason = CR_END_PEER_RST;
	/*
	 * The state it left is unknown: stand in one that gives payload_bytes the right control
	 * flags. Both FINs exchanged (our side shut, the peer's FIN seen) reads like FIN_WAIT2;
	 * anything else like an open state (an active open's SYN counts as acked).
	 */
	flags = sock_flags_of(sk, NULL);
	if (!err && (BPF_CORE_READ_BITFIELD_PROBED(sk, sk_shutdown) & SEND_SHUTDOWN) &&
	    (flags & (1UL << bpf_core_enum_value(enum sock_flags, SOCK_DONE))))
		oldstate = TCP_FIN_WAIT2;
	now = bpf_ktime_get_boot_ns();
	count_drop(CR_DROP_LATE_CLOSE);
	if (emit_tcp(sk, f, CR_EV_CLOSE, reason, oldstate, now)) {
		bpf_map_delete_elem(&tcp_flows, &key);
		return;
	}
	/* The ring is full: an end (claimed above from FLOW_OPEN_SENT) waits for room. */
	if (f->opened == FLOW_ENDED) {
		keep_end(sk, key, f, &scratch, reason, oldstate, now);
		return;
	}
	count_drop(CR_DROP_RINGBUF);
	bpf_map_delete_elem(&tcp_flows, &key);
}

/*
 * A second chance for closes. The kernel never runs a program nested inside itself on one
 * CPU: when a softirq interrupts on_tcp_state and changes another socket's state, that run
 * is skipped and only counted (recursion_misses). A second program on the same tracepoint
 * would catch those, but two programs cost every state change an indirect call each instead
 * of one direct call. Instead: every TCP socket reaches tcp_destroy_sock after its last state
 * change, and on_tcp_state deletes a flow at its CLOSE, so a socket still tracked here lost
 * its CLOSE. Send it now; the time is the destroy's, and the reason only what sk_err says.
 * (A skipped SYN_RECV is made up for at accept; the other skippable transitions carry
 * nothing connrec needs.)
 */
SEC("raw_tp/tcp_destroy_sock")
int BPF_PROG(on_tcp_destroy, struct sock *sk)
{
	__u64 key = (__u64)sk;
	struct tcp_flow *f;

	if (lose_close_port && port_is(sk, lose_close_port))
		return 0;
	f = bpf_map_lookup_elem(&tcp_flows, &key);
	if (f)
		late_close(sk, f, key);
	return 0;
}

/* The struct sock behind file descriptor fd of the current task, or NULL. */
static __always_inline struct sock *fd_to_sock(long fd)
{
	/* Plain loads down to the fd array; the rest are untyped, so probe reads. */
	struct fdtable *fdt = bpf_get_current_task_btf()->files->fdt;
	struct file *file = NULL;
	struct file **fds;
	struct socket *sock;

	if (fd < 0 || (unsigned long)fd >= fdt->max_fds)
		return NULL;
	fds = fdt->fd;
	if (bpf_probe_read_kernel(&file, sizeof(file), &fds[fd]) || !file)
		return NULL;
	sock = BPF_CORE_READ(file, private_data);
	if (!sock)
		return NULL;
	return BPF_CORE_READ(sock, sk);
}

/* accept() names the owner of a passive connection; its CLOSE (or OPEN) will carry it. */
static __always_inline int on_accept_exit(long ret)
{
	struct sock *sk = fd_to_sock(ret);
	struct tcp_flow *f;
	__u64 key = (__u64)sk;

	if (!sk)
		return 0;
	f = bpf_map_lookup_elem(&tcp_flows, &key);
	if (!f) {
		/*
		 * Untracked: its SYN_RECV was skipped (see on_tcp_destroy) or the map was full,
		 * or it was established before we attached, or it already closed (a peer that
		 * resets at once) and its CLOSE was sent. The start-up dump gave the third kind a
		 * socket cookie; track the first two from here (start = accept time). The state
		 * alone does not rule out the fourth: the state tracepoint fires before the new
		 * state is stored, so a CLOSE running on another CPU may have sent the flow and
		 * untracked it while the state still reads open. The error that closed it (reset,
		 * timeout, abort) is stored before that tracepoint fires, so check it too. And
		 * accept() also serves Unix stream sockets (whose states reuse TCP's numbers).
		 */
		struct tcp_flow nf = {};

		if (BPF_CORE_READ(sk, sk_protocol) == IPPROTO_TCP &&
		    BPF_CORE_READ(sk, __sk_common.skc_state) != TCP_CLOSE &&
		    !BPF_CORE_READ(sk, sk_err) &&
		    !BPF_CORE_READ(sk, __sk_common.skc_cookie.counter))
			track_tcp(key, &nf, CR_DIR_IN, true, FLOW_NEW, bpf_ktime_get_boot_ns(),
				  false);
		return 0;
	}
	if (f->direction != CR_DIR_IN || f->has_pid || f->opened != FLOW_NEW)
		return 0;
	current_identity(&f->pid, &f->uid, &f->cgroup_id, f->comm, &f->pstart_ns);
	f->has_pid = 1;
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_accept4")
int on_accept4_exit(struct trace_event_raw_sys_exit *ctx)
{
	return on_accept_exit(ctx->ret);
}

SEC("tracepoint/syscalls/sys_exit_accept")
int on_accept_exit_plain(struct trace_event_raw_sys_exit *ctx)
{
	return on_accept_exit(ctx->ret);
}

/*
 * Both ports of a skc_portpair (skc_dport, skc_num) are set: a connection's, fixed once it is
 * established. A listener has no peer port, and its OPEN may be sent before the kernel picks
 * its own port (listen() without bind()), so its ports say nothing.
 */
static __always_inline bool connected_ports(__u32 portpair)
{
	return (portpair & 0xffff) && (portpair >> 16);
}

/*
 * The audit of a connection stored as open (the recorder asks about each one now and then).
 * A tracked socket in TCP_CLOSE closed with no program seeing it: its state change and its
 * destruction were both skipped. Freed socket memory reads TCP_CLOSE too, until something
 * else takes it: other ports than when the OPEN was sent say so (a new connection there
 * would have taken the entry over, see track_tcp). Send its CLOSE now; the payload counts
 * are what the memory says. The state is read before the entry is looked up again:
 * on_tcp_state deletes the entry before the kernel stores TCP_CLOSE, so a CLOSE it sent is
 * not sent twice.
 */
static __always_inline void audit_tcp(struct sock *sk, __u64 key, __u64 id, __u32 portpair)
{
	struct tcp_flow *f;

	if (BPF_CORE_READ(sk, __sk_common.skc_state) != TCP_CLOSE &&
	    (!connected_ports(portpair) ||
	     BPF_CORE_READ(sk, __sk_common.skc_portpair) == portpair))
		return;
	f = bpf_map_lookup_elem(&tcp_flows, &key);
	if (f && f->id == id && f->opened == FLOW_OPEN_SENT)
		late_close(sk, f, key);
}

/*
 * What the recorder asks about a connection from the young journal that has been open for a
 * while, given the map key (the socket) and the flow id it read there. The id check guards
 * against the socket having closed and its memory serving a new one since. A socket already
 * in TCP_CLOSE lost its CLOSE to a skipped state change and is not destroyed yet (its owner
 * still holds it): its CLOSE is sent instead.
 */
static __always_inline __u32 report_tcp(__u64 key, __u64 id)
{
	struct tcp_flow *f = bpf_map_lookup_elem(&tcp_flows, &key);
	struct sock *sk = (struct sock *)key;
	int state;

	if (f && f->id == id && f->opened == FLOW_OPEN_SENT) {
		audit_tcp(sk, key, id, f->portpair);
		return REPORT_GONE;
	}
	if (!f || f->id != id || f->opened != FLOW_NEW)
		return REPORT_GONE;
	if (f->direction == CR_DIR_IN && !f->has_pid)
		return REPORT_NOT_READY; /* nobody accepted it yet */
	state = BPF_CORE_READ(sk, __sk_common.skc_state);
	if (state == TCP_CLOSE) {
		/*
		 * No peer port: this memory is now a new, unconnected socket, and the tracked one
		 * was freed unseen (see track_tcp). Count that flow lost rather than report it.
		 */
		if (!BPF_CORE_READ(sk, __sk_common.skc_dport)) {
			count_drop(CR_DROP_UNSEEN);
			bpf_map_delete_elem(&tcp_flows, &key);
			return REPORT_GONE;
		}
		late_close(sk, f, key);
		return REPORT_GONE;
	}
	if (state == TCP_SYN_SENT || state == TCP_SYN_RECV)
		return REPORT_NOT_READY;
	if (send_open(sk, f, f->start_ns))
		return REPORT_SENT;
	return f->opened == FLOW_NEW ? REPORT_RING_FULL : REPORT_GONE;
}

/*
 * What the recorder asks about an end kept in tcp_flows (struct tcp_kept_end), now that it
 * made room in the ring: send it as the CLOSE it would have been, and forget the flow. The
 * recorder is the only one to touch an entry keyed by an id, so the delete is its own.
 */
static __always_inline __u32 send_kept_end(__u64 id)
{
	struct tcp_flow *f = bpf_map_lookup_elem(&tcp_flows, &id);
	struct cr_event *e;

	if (!f || f->id != id || f->opened != FLOW_END_KEPT)
		return REPORT_GONE;
	e = event_reserve();
	if (!e)
		return REPORT_RING_FULL;
	e->kind = CR_EV_CLOSE;
	e->proto = IPPROTO_TCP;
	e->conn_id = id;
	e->ts_boot_ns = f->kept.end_ns;
	e->end_reason = f->kept.end_reason;
	e->bytes_out = f->kept.bytes_out;
	e->bytes_in = f->kept.bytes_in;
	e->netns = f->kept.netns;
	e->lport = f->kept.lport;
	e->rport = f->kept.rport;
	e->family = f->kept.family;
	e->direction = f->direction;
	/* The owner and the addresses went to the store with the OPEN. */
	e->flags = CR_FLAG_OPEN_SENT | CR_FLAG_NO_PID;
	event_submit(e);
	bpf_map_delete_elem(&tcp_flows, &id);
	return REPORT_SENT;
}

/* ---- UDP ---- */

/* Two 16-byte addresses, both 8-byte aligned (udp_key, udp_sock_state). */
static __always_inline bool same_addr(const __u8 *a, const __u8 *b)
{
	const __u64 *x = (const __u64 *)a, *y = (const __u64 *)b;

	return x[0] == y[0] && x[1] == y[1];
}

/* UDP bytes each way and refusals, counted into the flows started below. */
#include "udp_traffic.bpf.h"

/* A UDP flow's identity in an event: the socket's (owner, local end) and the peer in key. */
static __always_inline void udp_identity(struct cr_event *e, const struct udp_sock_state *us,
					 const struct udp_key *key)
{
	e->proto = IPPROTO_UDP;
	e->cookie = key->cookie;
	e->family = us->family;
	e->direction = us->direction;
	e->netns = us->netns;
	e->lport = us->lport;
	e->rport = key->rport;
	__builtin_memcpy(e->laddr, us->laddr, 16);
	__builtin_memcpy(e->raddr, key->raddr, 16);
	e->pid = us->pid;
	e->uid = us->uid;
	e->cgroup_id = us->cgroup_id;
	e->pstart_ns = us->pstart_ns;
	__builtin_memcpy(e->comm, us->comm, CR_COMM_LEN);
	if (!us->pid)
		e->flags |= CR_FLAG_NO_PID;
}

/* An OPEN for a UDP flow. False if the ring is full. */
static __always_inline bool emit_udp_open(const struct udp_sock_state *us, __u64 id,
					   const struct udp_key *key, __u64 start)
{
	struct cr_event *e = event_reserve();

	if (!e)
		return false;
	udp_identity(e, us, key);
	e->kind = CR_EV_OPEN;
	e->ts_boot_ns = start;
	e->start_boot_ns = start;
	e->conn_id = id;
	event_submit(e);
	return true;
}

/*
 * A socket's first datagram (or connect): its state, with the whole first flow. Nothing is
 * sent: the release carries the flow, or the recorder asks for its OPEN a second later.
 * netns 0: the current task's, read only here (three dependent reads that a datagram of a
 * socket already known does not need).
 */
static __always_inline void udp_first_flow(const struct udp_key *key, __u8 direction,
					   __u8 family, const __u8 *laddr, __u16 lport,
					   __u32 netns, bool connected, __u64 now)
{
	struct udp_sock_state ns = {};

	ns.first.id = new_conn_id();
	ns.first.last_ns = now;
	ns.start_ns = now;
	ns.nflows = 1;
	ns.opened = FLOW_NEW;
	ns.connected = connected;
	ns.family = family;
	ns.direction = direction;
	ns.netns = netns ? netns : current_netns();
	ns.lport = lport;
	ns.rport = key->rport;
	__builtin_memcpy(ns.laddr, laddr, 16);
	__builtin_memcpy(ns.raddr, key->raddr, 16);
	current_identity(&ns.pid, &ns.uid, &ns.cgroup_id, ns.comm, &ns.pstart_ns);
	/* Another CPU may have won the race for this socket's first flow: then it is its. */
	if (bpf_map_update_elem(&udp_socks, &key->cookie, &ns, BPF_NOEXIST)) {
		if (!bpf_map_lookup_elem(&udp_socks, &key->cookie))
			count_drop(CR_DROP_MAP_FULL);
		return;
	}
	udp_take_early(key);
	journal_add(IPPROTO_UDP, key->cookie, ns.first.id);
}

/*
 * A flow with a second (third, ...) peer of a socket: udp_flows, OPEN at once, owned by the
 * process that sends or receives this datagram (servers may share a socket).
 */
static __always_inline void udp_other_flow(struct udp_sock_state *us, const struct udp_key *key,
					   __u8 direction, bool connected, __u64 now)
{
	struct udp_flow *uf = bpf_map_lookup_elem(&udp_flows, key);
	struct udp_flow nf = {};
	struct cr_event *e;

	if (uf) {
		uf->last_ns = now;
		if (connected)
			uf->connected = 1;
		return;
	}
	nf.id = new_conn_id();
	nf.last_ns = now;
	nf.connected = connected;
	if (bpf_map_update_elem(&udp_flows, key, &nf, BPF_NOEXIST)) {
		count_drop(CR_DROP_MAP_FULL);
		return;
	}
	__sync_fetch_and_add(&us->nflows, 1);
	udp_take_early(key);
	e = event_reserve();
	if (e) {
		udp_identity(e, us, key);
		e->kind = CR_EV_OPEN;
		e->ts_boot_ns = now;
		e->start_boot_ns = now;
		e->conn_id = nf.id;
		e->direction = direction;
		e->flags &= ~CR_FLAG_NO_PID;
		e->flags |= CR_FLAG_UDP_PEER; /* the recorder learns the socket's keys from these */
		current_identity(&e->pid, &e->uid, &e->cgroup_id, e->comm, &e->pstart_ns);
		event_submit(e);
	} else {
		/* The flow is lost; id 0 keeps later datagrams, its release and expiry quiet. */
		count_drop(CR_DROP_RINGBUF);
		uf = bpf_map_lookup_elem(&udp_flows, key);
		if (uf)
			uf->id = 0;
	}
}

/*
 * A datagram to or from the peer in key: start a flow if (socket, peer) is new, refresh its
 * idle timer otherwise. The socket's identity (owner, local address) is the first flow's;
 * netns 0 stands for the current task's (udp_first_flow). connected: the socket just
 * connect()ed to this peer, so the flow ends at the release, never as idle: from now on its
 * datagrams run no hook that would refresh it, and the packet programs count them whenever
 * they come (udp_sock_state.connected, udp_flow.connected).
 */
static __always_inline void udp_seen(struct udp_key *key, __u8 direction, __u8 family,
				     const __u8 *laddr, __u16 lport, __u32 netns, bool connected)
{
	__u64 now = bpf_ktime_get_boot_ns();
	struct udp_sock_state *us = bpf_map_lookup_elem(&udp_socks, &key->cookie);

	if (!us) {
		udp_first_flow(key, direction, family, laddr, lport, netns, connected, now);
		return;
	}
	/* The first flow's peer, and that flow still going: the common case. */
	if (us->first.id && us->rport == key->rport && same_addr(us->raddr, key->raddr)) {
		us->first.last_ns = now;
		if (connected)
			us->connected = 1;
		return;
	}
	udp_other_flow(us, key, direction, connected, now);
}

/*
 * report_opens for a UDP socket's first flow (the young journal's key is its cookie). The
 * claim is the same compare-and-swap as TCP's: exactly one of this OPEN and the release's
 * CLOSE speaks first.
 */
static __always_inline __u32 report_udp(__u64 cookie, __u64 id)
{
	struct udp_sock_state *us = bpf_map_lookup_elem(&udp_socks, &cookie);
	struct udp_key key = { .cookie = cookie };

	if (!us || us->first.id != id)
		return REPORT_GONE;
	if (__sync_val_compare_and_swap(&us->opened, FLOW_NEW, FLOW_OPEN_SENT) != FLOW_NEW)
		return REPORT_GONE;
	key.rport = us->rport;
	__builtin_memcpy(key.raddr, us->raddr, 16);
	if (emit_udp_open(us, id, &key, us->start_ns))
		return REPORT_SENT;
	__sync_val_compare_and_swap(&us->opened, FLOW_OPEN_SENT, FLOW_NEW);
	return REPORT_RING_FULL;
}

/* Filled by the recorder before each run of report_opens (connrec_maps.h). */
struct report_req report_batch[CR_REPORT_BATCH];
__u32 report_n;

static long report_one(__u32 i, void *ctx)
{
	struct report_req *r;

	if (i >= CR_REPORT_BATCH)
		return 1;
	r = &report_batch[i];
	if (r->proto == CR_YOUNG_KEPT_END)
		r->result = send_kept_end(r->id);
	else if (r->proto == IPPROTO_UDP)
		r->result = report_udp(r->key, r->id);
	else
		r->result = report_tcp(r->key, r->id);
	return 0;
}

/*
 * Not attached: the recorder runs this (BPF_PROG_TEST_RUN) for up to CR_REPORT_BATCH
 * connections at a time, one system call for all of them.
 */
SEC("raw_tp")
int report_opens(void *ctx)
{
	bpf_loop(report_n < CR_REPORT_BATCH ? report_n : CR_REPORT_BATCH, report_one, NULL, 0);
	return 0;
}

/* Filled by the recorder before each run of take_udp_flows (connrec_maps.h). */
struct udp_key take_keys[CR_TAKE_BATCH];
struct udp_flow take_flows[CR_TAKE_BATCH];
__u8 take_found[CR_TAKE_BATCH];
__u32 take_n;

static long take_one(__u32 i, void *ctx)
{
	struct udp_flow *f;

	if (i >= CR_TAKE_BATCH)
		return 1;
	take_found[i] = 0;
	f = bpf_map_lookup_elem(&udp_flows, &take_keys[i]);
	if (!f)
		return 0;
	take_flows[i] = *f;
	take_found[i] = !bpf_map_delete_elem(&udp_flows, &take_keys[i]);
	return 0;
}

/*
 * Not attached: the recorder runs this (BPF_PROG_TEST_RUN) for a released socket's flows, up
 * to CR_TAKE_BATCH at a time. No datagram changes them any more (the socket is out of the
 * kernel's tables once its release is read), so each is read and removed as it is.
 */
SEC("raw_tp")
int take_udp_flows(void *ctx)
{
	bpf_loop(take_n < CR_TAKE_BATCH ? take_n : CR_TAKE_BATCH, take_one, NULL, 0);
	return 0;
}

/* v4 address into a 16-byte field: as is for AF_INET sockets, v4-mapped for AF_INET6 ones. */
static __always_inline void put_v4(__u8 *dst, __u32 addr, bool mapped)
{
	if (mapped) {
		dst[10] = 0xff;
		dst[11] = 0xff;
		__builtin_memcpy(dst + 12, &addr, 4);
	} else {
		__builtin_memcpy(dst, &addr, 4);
	}
}

static __always_inline int udp_msg4(struct bpf_sock_addr *ctx, __u8 direction)
{
	struct udp_key key = {};
	__u8 laddr[16] = {};
	struct bpf_sock *sk = ctx->sk;
	bool mapped;

	if (ctx->type != SOCK_DGRAM || ctx->protocol != IPPROTO_UDP || !sk)
		return 1;
	mapped = sk->family == AF_INET6;
	key.cookie = bpf_get_socket_cookie(ctx);
	put_v4(key.raddr, ctx->user_ip4, mapped);
	key.rport = bpf_ntohs((__u16)ctx->user_port);
	put_v4(laddr, sk->src_ip4, mapped);
	udp_seen(&key, direction, mapped ? 6 : 4, laddr, (__u16)sk->src_port, 0, false);
	return 1;
}

static __always_inline int udp_msg6(struct bpf_sock_addr *ctx, __u8 direction)
{
	struct udp_key key = {};
	__u8 laddr[16] = {};
	struct bpf_sock *sk = ctx->sk;

	if (ctx->type != SOCK_DGRAM || ctx->protocol != IPPROTO_UDP || !sk)
		return 1;
	key.cookie = bpf_get_socket_cookie(ctx);
	/* Context fields only allow plain 32-bit loads, one word at a time. */
	((__u32 *)key.raddr)[0] = ctx->user_ip6[0];
	((__u32 *)key.raddr)[1] = ctx->user_ip6[1];
	((__u32 *)key.raddr)[2] = ctx->user_ip6[2];
	((__u32 *)key.raddr)[3] = ctx->user_ip6[3];
	key.rport = bpf_ntohs((__u16)ctx->user_port);
	((__u32 *)laddr)[0] = sk->src_ip6[0];
	((__u32 *)laddr)[1] = sk->src_ip6[1];
	((__u32 *)laddr)[2] = sk->src_ip6[2];
	((__u32 *)laddr)[3] = sk->src_ip6[3];
	udp_seen(&key, direction, 6, laddr, (__u16)sk->src_port, 0, false);
	return 1;
}

SEC("cgroup/sendmsg4")
int on_sendmsg4(struct bpf_sock_addr *ctx)
{
	return udp_msg4(ctx, CR_DIR_OUT);
}

SEC("cgroup/sendmsg6")
int on_sendmsg6(struct bpf_sock_addr *ctx)
{
	return udp_msg6(ctx, CR_DIR_OUT);
}

SEC("cgroup/recvmsg4")
int on_recvmsg4(struct bpf_sock_addr *ctx)
{
	return udp_msg4(ctx, CR_DIR_IN);
}

SEC("cgroup/recvmsg6")
int on_recvmsg6(struct bpf_sock_addr *ctx)
{
	return udp_msg6(ctx, CR_DIR_IN);
}

/*
 * connect() on a UDP socket. The cgroup hook runs before the kernel binds the local port, so
 * it only marks the calling thread (and makes sure the socket has a cookie); the flow is
 * started at syscall exit, once the socket is bound and connected. TCP connects only cost
 * the exit hook a failed lookup.
 */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH); /* a thread killed inside connect() never exits it */
	__uint(max_entries, 16384);
	__type(key, __u64); /* pid_tgid of the calling thread */
	__type(value, __u8);
} udp_connecting SEC(".maps");

static __always_inline int udp_connect(struct bpf_sock_addr *ctx)
{
	__u64 tid = bpf_get_current_pid_tgid();
	__u8 one = 1;

	if (ctx->type != SOCK_DGRAM || ctx->protocol != IPPROTO_UDP)
		return 1;
	bpf_get_socket_cookie(ctx);
	bpf_map_update_elem(&udp_connecting, &tid, &one, BPF_ANY);
	return 1;
}

SEC("cgroup/connect4")
int on_connect4(struct bpf_sock_addr *ctx)
{
	return udp_connect(ctx);
}

SEC("cgroup/connect6")
int on_connect6(struct bpf_sock_addr *ctx)
{
	return udp_connect(ctx);
}

SEC("tracepoint/syscalls/sys_exit_connect")
int on_connect_exit(struct trace_event_raw_sys_exit *ctx)
{
	__u64 tid = bpf_get_current_pid_tgid();
	struct udp_key key = {};
	struct cr_event t = {};
	struct pt_regs *regs;
	struct sock *sk;

	if (!bpf_map_lookup_elem(&udp_connecting, &tid))
		return 0;
	bpf_map_delete_elem(&udp_connecting, &tid);
	if (ctx->ret != 0)
		return 0;
	/* The exit tracepoint has no arguments: take the fd from the caller's saved registers. */
	regs = (struct pt_regs *)bpf_task_pt_regs(bpf_get_current_task_btf());
	sk = fd_to_sock((long)PT_REGS_PARM1_CORE_SYSCALL(regs));
	/* connect(AF_UNSPEC) dissolves the association: no peer, no flow. */
	if (!sk || BPF_CORE_READ(sk, __sk_common.skc_state) != TCP_ESTABLISHED)
		return 0;
	sock_tuple(sk, &t, NULL);
	key.cookie = BPF_CORE_READ(sk, __sk_common.skc_cookie.counter);
	__builtin_memcpy(key.raddr, t.raddr, 16);
	key.rport = t.rport;
	udp_seen(&key, CR_DIR_OUT, t.family, t.laddr, t.lport, t.netns, true);
	return 0;
}

/*
 * The end of a socket's first flow at its release: the whole flow when its OPEN was not
 * sent, else just the end.
 */
static __always_inline void udp_close_first(struct udp_sock_state *us, __u64 cookie, __u64 now)
{
	bool whole = __sync_val_compare_and_swap(&us->opened, FLOW_NEW, FLOW_CLOSED_FIRST) ==
		     FLOW_NEW;
	struct udp_key key = { .cookie = cookie, .rport = us->rport };
	struct cr_event *e = event_reserve();

	if (!e) {
		count_drop(whole ? CR_DROP_RINGBUF : CR_DROP_RING_END);
		return;
	}
	__builtin_memcpy(key.raddr, us->raddr, 16);
	udp_identity(e, us, &key);
	e->kind = CR_EV_CLOSE;
	e->ts_boot_ns = now;
	e->start_boot_ns = us->start_ns;
	e->conn_id = us->first.id;
	e->end_reason = CR_END_RELEASED;
	e->bytes_out = us->first.bytes_out;
	e->bytes_in = us->first.bytes_in;
	e->pkts_out = us->first.pkts_out;
	e->pkts_in = us->first.pkts_in;
	if (us->first.refused)
		e->end_reason = CR_END_REFUSED;
	if (!whole)
		e->flags |= CR_FLAG_OPEN_SENT;
	event_submit(e);
}

SEC("cgroup/sock_release")
int on_sock_release(struct bpf_sock *ctx)
{
	struct udp_sock_state *us;
	struct cr_event *e;
	__u64 cookie, now;

	if (ctx->protocol != IPPROTO_UDP)
		return 1;
	cookie = bpf_get_socket_cookie(ctx);
	us = bpf_map_lookup_elem(&udp_socks, &cookie);
	if (!us)
		return 1;
	now = bpf_ktime_get_boot_ns();
	/* id 0: the recorder ended it as idle, or its OPEN was lost (counted). */
	if (us->first.id) {
		udp_add_sock_counts(ctx, us);
		udp_close_first(us, cookie, now);
	}
	if (us->nflows > 1) {
		/*
		 * Several peers: the recorder ends this cookie's flows in udp_flows. With the
		 * ring full they stay there, and the recorder ends them as idle later.
		 */
		e = event_reserve();
		if (e) {
			e->kind = CR_EV_UDP_RELEASE;
			e->proto = IPPROTO_UDP;
			e->ts_boot_ns = now;
			e->cookie = cookie;
			e->end_reason = CR_END_RELEASED;
			event_submit(e);
		}
	}
	bpf_map_delete_elem(&udp_socks, &cookie);
	return 1;
}

/* Process lives (exec, fork, exit, and the start-up seed walk): their own ring and counters. */
#include "proc.bpf.h"

/* DNS answers: their own ring and counters. */
#include "dns.bpf.h"
