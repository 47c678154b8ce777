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

/*
 * tcp_flow.opened (and udp_sock_state.opened, which uses the first three). FLOW_ENDED: the
 * OPEN was sent, and a second-chance path (the socket's destruction, or the recorder's audit
 * of reported connections) or a CLOSE that met a full ring has claimed the right to send the
 * CLOSE, so that only one does. FLOW_END_KEPT: see struct tcp_kept_end.
 */
enum { FLOW_NEW = 0, FLOW_OPEN_SENT = 1, FLOW_CLOSED_FIRST = 2, FLOW_ENDED = 3, FLOW_END_KEPT = 4 };

/*
 * The end of a connection stored as open whose CLOSE found the ring full. Rather than count
 * it lost, BPF keeps it in tcp_flows, in the entry that tracked the socket, moved to the
 * flow's id as key (a socket's memory may serve a new socket at once; ids count up from 1
 * and never reach a kernel address, so the two kinds of key never meet), with opened =
 * FLOW_END_KEPT, and tells the recorder through the young journal (CR_YOUNG_KEPT_END). The
 * recorder has BPF send it (report_opens) once it made room in the ring: its time is the
 * close's, however long it waited. The owner is in the store since the OPEN, so these
 * fields take the owner's place and the entry does not grow.
 */
struct tcp_kept_end {
	__u64 end_ns;
	__u64 bytes_out;
	__u64 bytes_in;
	__u32 netns;
	__u16 lport;
	__u16 rport;
	__u8 end_reason;
	__u8 family;
	__u8 pad[6];
};

/* What we remember about a TCP socket between its first state change and its close. */
struct tcp_flow {
	__u64 id;
	union {
		struct {
			__u64 start_ns;
			__u64 cgroup_id;
			__u64 pstart_ns; /* the owner's start (see cr_event) */
			__u32 pid;
			__u32 uid;
			char comm[CR_COMM_LEN];
		};
		struct tcp_kept_end kept; /* opened == FLOW_END_KEPT only */
	};
	/*
	 * FLOW_NEW until either the OPEN the recorder asks for or a CLOSE that carries the whole
	 * flow claims it, with a compare-and-swap: the two run on different CPUs, and exactly
	 * one of them must speak first.
	 */
	__u32 opened;
	__u8 direction;
	__u8 has_pid;
	__u8 pad[2];
	/*
	 * The socket's ports (skc_portpair) when its OPEN was sent: the audit of reported
	 * connections takes other ports there for a sign that the socket was freed and its
	 * memory serves something else now.
	 */
	__u32 portpair;
	__u32 pad2;
};

/*
 * The young journal: every flow whose OPEN BPF holds back (a TCP socket it starts tracking, a
 * UDP socket's first flow) is appended, as (proto, map key, flow id), to a ring of
 * CR_YOUNG_SLOTS slots that belongs to the CPU it ran on, in the mmapable array `young` (CPU
 * c owns slots c * CR_YOUNG_SLOTS ...); young_heads[c].next counts what CPU c appended. The
 * recorder reads the journal, not the maps, to find the flows that live long enough to be
 * reported open: walking a map of a million entries costs ~0.3 s of CPU. A slot's seq is its
 * sequence number + 1, written last, so a reader never takes a slot that is half written or
 * from an earlier lap. CR_YOUNG_SLOTS is the most slots per CPU: userspace sets the number
 * (a power of two) in young_slots before load, fewer per CPU on hosts with many.
 */
#define CR_YOUNG_SLOTS 32768

/* young_slot.proto of an end kept in tcp_flows (struct tcp_kept_end); key and id: its id. */
#define CR_YOUNG_KEPT_END 255

struct young_slot {
	__u64 key; /* TCP: tcp_flows key (the socket); UDP: udp_socks key (the cookie) */
	__u64 id;
	__u64 seq;
	__u32 proto;
	__u32 pad;
};

struct young_head {
	__u64 next;
	__u64 pad[7]; /* one cache line per CPU */
};

/*
 * report_open's batch, in the program's .bss: the recorder fills key/id of n entries, runs
 * the program once, and reads each result (enum report_result). proto CR_YOUNG_KEPT_END asks
 * it to send a kept end (REPORT_SENT, or REPORT_RING_FULL: ask again after a drain).
 */
#define CR_REPORT_BATCH 256

enum report_result {
	REPORT_GONE = 0,      /* closed, or no longer ours, or (audit) still open: nothing to do */
	REPORT_SENT = 1,      /* its OPEN is in the ring */
	REPORT_NOT_READY = 2, /* still connecting, or not accepted yet: ask again later */
	REPORT_RING_FULL = 3, /* the ring was full: ask again later */
};

struct report_req {
	__u64 key;
	__u64 id;
	__u32 proto;
	__u32 result;
};

/* One UDP flow is one socket talking to one peer. */
struct udp_key {
	__u64 cookie;
	__u8 raddr[16];
	__u16 rport;
	__u16 pad[3];
};

/*
 * take_udp_flows (not attached): the recorder writes up to CR_TAKE_BATCH udp_flows keys of a
 * released socket into take_keys (global data), runs the program once, and reads each flow
 * that was still there, now removed from the map, from take_flows (take_found[i] = 1).
 */
#define CR_TAKE_BATCH 256

/*
 * A UDP flow's counters. The traffic counters are added to by the cgroup_skb programs
 * (bpf/udp_traffic.bpf.h): they find the socket's state in udp_socks by its cookie; when the
 * packet's peer is the socket's first peer, they count in udp_sock_state.first, else in the
 * flow in udp_flows by (cookie, peer). The CLOSE carries them (cr_event bytes and pkts).
 */
struct udp_flow {
	__u64 id;      /* 0: no flow here (its OPEN was lost, or it ended idle) */
	__u64 last_ns; /* last datagram, for the recorder's idle expiry */
	__u64 bytes_out;
	__u64 bytes_in;
	__u32 pkts_out;
	__u32 pkts_in;
	__u32 refused; /* the socket was told ECONNREFUSED (an ICMP port unreachable) */
	/*
	 * 1: a peer the socket connect()ed to after its first flow's. As for a connected first
	 * flow (udp_sock_state.connected), its send() and recv() run no hook that would refresh
	 * last_ns or start a new flow once this one ended, so it ends at the release, never as
	 * idle.
	 */
	__u32 connected;
};

/*
 * Per UDP socket (udp_socks, by cookie): its first flow, whole, because most UDP sockets are
 * clients that talk to one peer and close soon. BPF holds that flow's OPEN back like a TCP
 * connection's: the CLOSE at release carries it all, and the recorder asks for the OPEN of
 * one still alive after a second (the young journal). A second peer's flows go to udp_flows,
 * OPEN sent at once; at release the recorder ends those (CR_EV_UDP_RELEASE).
 */
struct udp_sock_state {
	struct udp_flow first;
	__u64 start_ns;
	__u64 cgroup_id;
	__u64 pstart_ns;
	__u32 pid;
	__u32 uid;
	__u32 netns;
	__u32 nflows;	 /* flows this socket started, the first included */
	__u32 opened;	 /* of the first flow: FLOW_NEW until its OPEN or CLOSE claims it */
	__u16 lport;
	__u16 rport;
	__u8 family;
	__u8 direction;
	/*
	 * 1: the first flow's peer is the socket's connected peer. Its datagrams (send(),
	 * recv()) run no hook that would refresh first.last_ns, and after a few of them they are
	 * counted on the socket itself (udp_sk_counts, bpf/udp_traffic.bpf.h), so first's
	 * counters hold only part of them: the flow ends at the release, which adds the two,
	 * and the recorder never ends it as idle. Set at the connect() (or by the first such
	 * datagram, for a socket connected before the recorder started).
	 */
	__u8 connected;
	__u8 pad[5];
	__u8 laddr[16];
	__u8 raddr[16];
	char comm[CR_COMM_LEN];
};

#endif /* CONNREC_MAPS_H */
