/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The event ABI between the BPF programs and the recorder.
 *
 * Every record on the ring buffer is one struct cr_event. It is fixed size, uses only
 * fixed-width types and spells out its padding, so the BPF object and userspace agree on
 * the layout whatever the compiler does. Userspace checks the size with _Static_assert.
 */
#ifndef CONNREC_EVENT_H
#define CONNREC_EVENT_H

#ifdef __bpf__
/* vmlinux.h already provides the __uN types. */
#else
#include <linux/types.h>
#endif

#include "schema_values.h"

#define CR_COMM_LEN 16

/* What happened. */
enum cr_event_kind {
	CR_EV_OPEN = 1,	 /* an endpoint began: connect, accept, listen, first datagram */
	CR_EV_CLOSE = 2, /* an endpoint ended: TCP close, listener closed */
	CR_EV_UDP_RELEASE = 3, /* a UDP socket was released: ends every flow on its cookie */
};

/*
 * The direction, end reason and flag values are the stored ones (conn.dir, conn.reason,
 * conn.flags): schema_values.h. These bits are never stored:
 */
#define CR_FLAG_OPEN_SENT 0x80	/* events only: the OPEN event of this flow was sent earlier */
#define CR_FLAG_UDP_PEER 0x40	/* events only: an OPEN of a flow kept in udp_flows (not first) */

struct cr_event {
	__u64 ts_boot_ns;  /* bpf_ktime_get_boot_ns() at the event */
	__u64 start_boot_ns; /* when the endpoint began (OPEN: same as ts or the handshake) */
	__u64 conn_id;	   /* BPF-assigned id; 0 means "not tracked in BPF" (see cookie) */
	__u64 cookie;	   /* socket cookie where known (UDP always; TCP when assigned) */
	__u64 cgroup_id;
	__u64 bytes_out; /* CLOSE: TCP bytes acked by the peer */
	__u64 bytes_in;	 /* CLOSE: TCP bytes received */
	/*
	 * The owner's start: task->group_leader->start_time (ns since boot, monotonic clock),
	 * so that (boot id, pid, pstart_ns) names one process even after its pid is reused.
	 * 0 when the owner is unknown.
	 */
	__u64 pstart_ns;
	__u32 pid;	 /* tgid; 0 when unknown */
	__u32 uid;
	__u32 netns;	 /* network namespace inode */
	__u32 pkts_out;	 /* CLOSE: packets sent and received where counted; 0 otherwise */
	__u32 pkts_in;
	__u16 lport;	 /* host byte order */
	__u16 rport;	 /* host byte order */
	__u8 kind;	 /* enum cr_event_kind */
	__u8 proto;	 /* IPPROTO_TCP or IPPROTO_UDP */
	__u8 family;	 /* 4 or 6 */
	__u8 direction;	 /* enum cr_direction */
	__u8 end_reason; /* enum cr_end_reason, CLOSE only */
	__u8 flags;	 /* CR_FLAG_* */
	__u8 pad[2];
	__u8 laddr[16]; /* first 4 bytes used for IPv4, network order */
	__u8 raddr[16];
	char comm[CR_COMM_LEN]; /* process (thread-group leader) name */
};

/*
 * Indexes into the per-CPU counter array. The first ones are losses (stored as gap rows);
 * the last three only say how often a second path had to step in.
 */
enum cr_drop_reason {
	CR_DROP_RINGBUF = 0,	/* ring buffer full: a flow's only record, so the flow is lost */
	CR_DROP_MAP_FULL = 1,	/* tracking map full: TCP flow stored from its close without
				   owner or start; UDP flow not stored */
	CR_DROP_RING_END = 2,	/* ring buffer full: the end of a flow already stored as open */
	CR_DROP_UNSEEN = 3,	/* a new socket took the address of a tracked one whose close
				   and destruction no program saw: that flow is lost */
	CR_DROP_RECURSION = 4,	/* userspace only: state changes the kernel skipped because
				   on_tcp_state was already running on that CPU */
	CR_DROP_LATE_CLOSE = 5, /* closes sent from tcp_destroy_sock after such a skip */
	CR_DROP_KEPT_END = 6,	/* ends that found the ring full and waited in tcp_flows for
				   the recorder (struct tcp_kept_end): not lost */
	CR_DROP_MAX = 7,
};

/* The counters above that are losses. */
#define CR_DROP_IS_LOSS(k) ((k) <= CR_DROP_UNSEEN)

#endif /* CONNREC_EVENT_H */
