/* SPDX-License-Identifier: MIT */
/*
 * dns_parse: one DNS message off the wire into what connrec keeps of it, through libldns
 * (never by hand). The bytes come from the network and are hostile: anything ldns refuses is
 * reported as malformed, and every name is kept in ldns' presentation form, where any byte
 * that is not printable ASCII is escaped (\DDD): a name holds no control characters.
 */
#ifndef CONNREC_DNS_PARSE_H
#define CONNREC_DNS_PARSE_H

#include <stddef.h>
#include <stdint.h>

#include "schema_values.h"

/* Answer records kept per message; more are rare (and counted in n_dropped). */
#define DNS_MAX_RRS 128

struct dns_rr {
	uint16_t type; /* CR_DNS_TYPE_A, _AAAA or _CNAME */
	uint32_t ttl;
	uint8_t addr[16]; /* A: first 4 bytes; AAAA: 16 */
	char *name;	  /* owner name, without the final dot */
	char *target;	  /* CNAME: the canonical name; NULL otherwise */
};

struct dns_msg {
	uint16_t id;
	uint16_t qtype;
	uint16_t rcode; /* with the EDNS extended bits when an OPT record carries them */
	uint8_t tc;	/* the truncated (TC) flag: the full answer needs TCP */
	char *qname;	/* the question's name, without the final dot ("." for the root) */
	struct dns_rr *rrs;
	size_t n_rrs;
	size_t n_dropped; /* A/AAAA/CNAME answers beyond DNS_MAX_RRS */
};

/*
 * Parses a response. Returns 0 (*out filled; free with dns_msg_free), -EBADMSG when ldns
 * refuses the bytes or the message has no question, -ENOMSG when it is not a response (QR
 * clear: a query sent from port 53), -ENOMEM.
 */
int dns_parse(const uint8_t *wire, size_t len, struct dns_msg *out);

void dns_msg_free(struct dns_msg *m);

#endif /* CONNREC_DNS_PARSE_H */
