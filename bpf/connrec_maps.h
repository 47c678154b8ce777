/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Keys and values of the BPF maps that userspace reads or writes too (the recorder walks the
 * tracking maps, seeds them from the start-up dump and asks for OPENs). One definition for
 * both sides, as for the event ABI: fixed-width types and explicit padding only.
 */
#ifndef CONNREC_MAPS_H
#define CONNREC_MAPS_H

#ifndef __bpf__
#include <linux/types.h>
#endif

#include "connrec_event.h"

/* tcp_flow.opened */
enum { FLOW_NEW = 0, FLOW_OPEN_SENT = 1, FLOW_CLOSED_FIRST = 2 };

/* What we remember about a TCP socket between its first state change and its close. */
struct tcp_flow {
	__u64 id;
	__u64 start_ns;
	__u64 cgroup_id;
	__u64 pstart_ns; /* the owner's start (see cr_event) */
	__u32 pid;
	__u32 uid;
	char comm[CR_COMM_LEN];
	/*
	 * FLOW_NEW until either the OPEN the recorder asks for or a CLOSE that carries the whole
	 * flow claims it, with a compare-and-swap: the two run on different CPUs, and exactly
	 * one of them must speak first.
	 */
	__u32 opened;
	__u8 direction;
	__u8 has_pid;
	__u8 pad[2];
};

/* One UDP flow is one socket talking to one peer. */
struct udp_key {
	__u64 cookie;
	__u8 raddr[16];
	__u16 rport;
	__u16 pad[3];
};

struct udp_flow {
	__u64 id;
	__u64 last_ns; /* last datagram, for the recorder's idle expiry */
};

/*
 * Per UDP socket: how many flows it started, and the key of the first. A socket with one
 * peer (the common client case) is ended here at release; a socket with several peers is
 * handed to the recorder, which walks udp_flows for its cookie.
 */
struct udp_sock_state {
	__u32 nflows;
	__u32 pad;
	struct udp_key first;
};

#endif /* CONNREC_MAPS_H */
