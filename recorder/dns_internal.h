/* SPDX-License-Identifier: MIT */
/*
 * What dns_ingest.c shares with its two helpers:
 *   dns_owners.c  which process owns which socket, learnt from the flow events
 *   dns_tcp.c     DNS messages reassembled from the TCP segments BPF copied
 */
#ifndef CONNREC_DNS_INTERNAL_H
#define CONNREC_DNS_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * A socket, as both the flow events and the DNS records can name it: a UDP socket by its
 * cookie (UDP flow events always carry it), a TCP connection by its addresses and ports
 * (TCP flow events carry no cookie). Addresses are 16 bytes, IPv4 as ::ffff:a.b.c.d, so an
 * IPv4 packet on an IPv6 socket names the same connection. Zeroed before filling: the key is
 * hashed and compared as bytes.
 */
struct dns_sock_key {
	uint64_t cookie; /* UDP; 0 for TCP */
	uint8_t laddr[16], raddr[16];
	uint16_t lport, rport;
	uint8_t proto;
	uint8_t pad[3];
};

/* Fills a key's address from 4 (IPv4) or 16 bytes. */
void dns_key_addr(uint8_t out[16], const uint8_t *addr, uint8_t family);

struct dns_owner {
	uint32_t pid, uid, netns;
	uint64_t pstart_ns; /* cr_event.pstart_ns: with pid, the owner's process life */
	uint64_t cgroup;
	char comm[16];
};

/* ---- dns_owners.c ---- */

struct owner_ent;

struct dns_owners {
	struct owner_ent *v; /* open addressing, linear probing */
	size_t cap;	     /* power of two */
	size_t n;
	struct dead_ent *dead; /* entries to forget, in the order they died */
	size_t n_dead, cap_dead;
	uint64_t full; /* owners not remembered because the table was at its cap */
};

int dns_owners_init(struct dns_owners *o);
void dns_owners_free(struct dns_owners *o);
/* Remember (or replace) the owner of a socket. */
void dns_owners_put(struct dns_owners *o, const struct dns_sock_key *k, const struct dns_owner *who);
/* The socket is gone: forget it once dns_owners_sweep() passes gen. */
void dns_owners_kill(struct dns_owners *o, const struct dns_sock_key *k, uint32_t gen);
/* The owner, or NULL when unknown. */
const struct dns_owner *dns_owners_get(const struct dns_owners *o, const struct dns_sock_key *k);
/* Forget sockets that died in a generation before gen. */
void dns_owners_sweep(struct dns_owners *o, uint32_t gen);

/* ---- dns_tcp.c ---- */

struct tcp_stream;

struct dns_tcp {
	struct tcp_stream *v;
	size_t n, cap;
};

/* Called for each whole DNS message found in a stream. */
typedef void (*dns_tcp_msg_fn)(void *ctx, const struct dns_sock_key *k, const uint8_t *msg,
			       size_t len);

void dns_tcp_free(struct dns_tcp *t);
/*
 * One segment's payload: seq is the sequence number of its first byte, len the bytes copied
 * (wire_len in the packet). Returns how many answers were lost to it (a hole, a segment cut
 * short, a stream that could not be kept), 0 normally.
 */
unsigned dns_tcp_feed(struct dns_tcp *t, const struct dns_sock_key *k, uint32_t seq,
		      const uint8_t *p, size_t len, size_t wire_len, int64_t now_ns,
		      dns_tcp_msg_fn fn, void *ctx);
/* The connection ended: forget its stream. */
void dns_tcp_end(struct dns_tcp *t, const struct dns_sock_key *k);
/* Forget streams idle since before cutoff_ns. */
void dns_tcp_expire(struct dns_tcp *t, int64_t cutoff_ns);

#endif /* CONNREC_DNS_INTERNAL_H */
