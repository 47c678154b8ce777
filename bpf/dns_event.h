/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The DNS ring's record, shared by bpf/dns.bpf.h and the recorder.
 *
 * DNS answers travel on a ring of their own (dns_events), so a flood of answers can never
 * cost a flow record and the flow ring's ABI (connrec_event.h) stays as it is. Each record
 * is this fixed header followed by the first `len` bytes of the DNS message (the UDP
 * payload, or the TCP segment's payload, which userspace reassembles). The record itself is
 * a little larger than header + len: BPF reserves one of a few fixed sizes.
 */
#ifndef CONNREC_DNS_EVENT_H
#define CONNREC_DNS_EVENT_H

#ifndef __bpf__
#include <linux/types.h>
#endif

/*
 * The most payload bytes one record carries. Any UDP answer a resolver sends without
 * fragmenting (EDNS0 buffers are 1232 by default, 4096 at most in common configurations)
 * fits; a longer TCP segment is cut here and counted as truncated.
 */
#define CR_DNS_SNAPLEN 4096

struct cr_dns_event {
	__u64 ts_boot_ns; /* bpf_ktime_get_boot_ns() when the packet reached the socket */
	__u64 cookie;	  /* the receiving socket's cookie */
	__u32 wire_len;	  /* payload bytes in the packet; more than len means truncated */
	__u32 tcp_seq;	  /* TCP: sequence number of the first payload byte; UDP: 0 */
	__u16 len;	  /* payload bytes that follow this header */
	__u16 lport;	  /* host byte order: the receiving socket's port */
	__u16 rport;	  /* host byte order: the server's port (53) */
	__u8 proto;	  /* IPPROTO_UDP or IPPROTO_TCP */
	__u8 family;	  /* 4 or 6: the packet's IP version */
	__u8 laddr[16];	  /* the packet's destination; first 4 bytes for IPv4, network order */
	__u8 raddr[16];	  /* the packet's source: the server */
};

/* Indexes into dns_drops, counted per CPU in BPF. */
enum cr_dns_drop {
	CR_DNS_DROP_RING = 0, /* the DNS ring was full: an answer (or a TCP segment) lost */
	CR_DNS_DROP_MAX = 1,
};

#endif /* CONNREC_DNS_EVENT_H */
