/* SPDX-License-Identifier: MIT */
/*
 * dns_ingest: turns the DNS ring's records into dns rows, each with the process that owns the
 * receiving socket.
 *
 * BPF cannot tell who owns a socket when an answer arrives (often in softirq), but the flow
 * events already say it: every UDP flow's OPEN carries the socket cookie and its owner, and a
 * TCP connection's events carry its addresses and owner. So this module listens to the flow
 * events too (only those that touch port 53), remembers those owners per socket, and gives
 * each answer the owner of the socket it reached: dig, a resolver thread's process, the
 * process asking systemd-resolved's stub, a container's resolver, each in its own netns.
 *
 * The two rings are read in turn, so an answer can be read before the OPEN of its socket:
 * answers wait until the next commit, and up to DNS_OWNER_WAIT_NS for an owner; then they are
 * stored without one (flag CR_DNS_FLAG_NO_OWNER). TCP answers are reassembled from their
 * segments first (dns_tcp.c).
 */
#ifndef CONNREC_DNS_INGEST_H
#define CONNREC_DNS_INGEST_H

#include <stdbool.h>
#include <stdint.h>

#include "connrec_event.h"
#include "dns_event.h"
#include "ingest.h"
#include "sockdump.h"
#include "store.h"

struct dns_ingest;

int dns_ingest_new(struct dns_ingest **out, struct store *store, const struct ingest *clock,
		   ingest_id_fn new_id, void *id_ctx);
void dns_ingest_free(struct dns_ingest *d);

/* A flow event: learn or forget a socket's owner. Cheap for everything not on port 53. */
void dns_ingest_flow(struct dns_ingest *d, const struct cr_event *e);

/* A socket the start-up dump found. */
void dns_ingest_preexisting(struct dns_ingest *d, const struct sockdump_entry *e);

/* capture_dns_fn: one record of the DNS ring. */
void dns_ingest_record(void *d, const struct cr_dns_event *e, const uint8_t *payload);

/*
 * Before each store flush: answers whose owner is known (or that waited long enough) go to
 * the store, and what was lost since the last call becomes gap rows. final: store every
 * waiting answer now (the recorder is stopping).
 */
int dns_ingest_commit(struct dns_ingest *d, const uint64_t drops[CR_DNS_DROP_MAX], bool final);

struct dns_ingest_stats {
	uint64_t records;     /* DNS ring records */
	uint64_t stored;      /* dns rows handed to the store */
	uint64_t no_owner;    /* of those, without an owner */
	uint64_t malformed;   /* refused by the parser: not stored */
	uint64_t truncated;   /* longer than a record carries: not stored */
	uint64_t not_answers; /* queries sent from port 53: not stored */
	uint64_t ring_lost;   /* records the DNS ring had no room for */
	uint64_t tcp_lost;    /* TCP answers lost to a hole in their stream */
	uint64_t dropped;     /* too many waiting for an owner, or out of memory */
	uint64_t owners;      /* sockets whose owner is remembered, after the last commit */
};
const struct dns_ingest_stats *dns_ingest_get_stats(const struct dns_ingest *d);

#endif /* CONNREC_DNS_INGEST_H */
