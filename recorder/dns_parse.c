// SPDX-License-Identifier: MIT
#include "dns_parse.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <ldns/ldns.h>

_Static_assert(LDNS_RR_TYPE_A == CR_DNS_TYPE_A && LDNS_RR_TYPE_AAAA == CR_DNS_TYPE_AAAA &&
		       LDNS_RR_TYPE_CNAME == CR_DNS_TYPE_CNAME,
	       "dns_answer.type stores the IANA numbers");

/*
 * A name in ldns' presentation form without the final dot. ldns escapes every byte that is
 * not a printable ASCII character (\DDD) and the separators ". ; ( ) \", so the result is
 * plain printable ASCII whatever the packet held.
 */
static char *name_of(const ldns_rdf *rdf)
{
	char *s;
	size_t n;

	if (!rdf || ldns_rdf_get_type(rdf) != LDNS_RDF_TYPE_DNAME)
		return NULL;
	s = ldns_rdf2str(rdf);
	if (!s)
		return NULL;
	n = strlen(s);
	/* "a.b." -> "a.b"; the root stays "."; an escaped final dot ("a\.") stays. */
	if (n > 1 && s[n - 1] == '.' && s[n - 2] != '\\')
		s[n - 1] = '\0';
	return s;
}

static int keep_rr(struct dns_msg *m, const ldns_rr *rr)
{
	ldns_rr_type type = ldns_rr_get_type(rr);
	const ldns_rdf *rd = ldns_rr_rdf(rr, 0);
	struct dns_rr *out;

	if (ldns_rr_get_class(rr) != LDNS_RR_CLASS_IN || !rd)
		return 0;
	if (type == LDNS_RR_TYPE_A) {
		if (ldns_rdf_get_type(rd) != LDNS_RDF_TYPE_A || ldns_rdf_size(rd) != 4)
			return 0;
	} else if (type == LDNS_RR_TYPE_AAAA) {
		if (ldns_rdf_get_type(rd) != LDNS_RDF_TYPE_AAAA || ldns_rdf_size(rd) != 16)
			return 0;
	} else if (type != LDNS_RR_TYPE_CNAME) {
		return 0; /* MX, TXT, RRSIG, ...: not kept */
	}
	if (m->n_rrs == DNS_MAX_RRS) {
		m->n_dropped++;
		return 0;
	}
	out = &m->rrs[m->n_rrs];
	memset(out, 0, sizeof(*out));
	out->type = (uint16_t)type;
	out->ttl = ldns_rr_ttl(rr);
	out->name = name_of(ldns_rr_owner(rr));
	if (!out->name)
		return -ENOMEM;
	if (type == LDNS_RR_TYPE_CNAME) {
		out->target = name_of(rd);
		if (!out->target) {
			free(out->name);
			return ldns_rdf_get_type(rd) == LDNS_RDF_TYPE_DNAME ? -ENOMEM : 0;
		}
	} else {
		memcpy(out->addr, ldns_rdf_data(rd), ldns_rdf_size(rd));
	}
	m->n_rrs++;
	return 0;
}

int dns_parse(const uint8_t *wire, size_t len, struct dns_msg *out)
{
	ldns_pkt *pkt = NULL;
	const ldns_rr_list *q, *an;
	const ldns_rr *q0;
	size_t n;
	int err = 0;

	memset(out, 0, sizeof(*out));
	if (ldns_wire2pkt(&pkt, wire, len) != LDNS_STATUS_OK || !pkt)
		return -EBADMSG;
	if (!ldns_pkt_qr(pkt)) {
		err = -ENOMSG;
		goto cleanup;
	}
	q = ldns_pkt_question(pkt);
	q0 = q && ldns_rr_list_rr_count(q) ? ldns_rr_list_rr(q, 0) : NULL;
	if (!q0 || !ldns_rr_owner(q0)) {
		err = -EBADMSG;
		goto cleanup;
	}
	out->id = ldns_pkt_id(pkt);
	out->qtype = (uint16_t)ldns_rr_get_type(q0);
	out->rcode = ldns_pkt_get_rcode(pkt);
	if (ldns_pkt_edns(pkt))
		out->rcode |= (uint16_t)(ldns_pkt_edns_extended_rcode(pkt) << 4);
	out->tc = ldns_pkt_tc(pkt);
	out->qname = name_of(ldns_rr_owner(q0));
	if (!out->qname) {
		err = -ENOMEM;
		goto cleanup;
	}
	an = ldns_pkt_answer(pkt);
	n = an ? ldns_rr_list_rr_count(an) : 0;
	if (n) {
		out->rrs = calloc(n < DNS_MAX_RRS ? n : DNS_MAX_RRS, sizeof(*out->rrs));
		if (!out->rrs) {
			err = -ENOMEM;
			goto cleanup;
		}
	}
	for (size_t i = 0; !err && i < n; i++)
		err = keep_rr(out, ldns_rr_list_rr(an, i));
cleanup:
	ldns_pkt_free(pkt);
	if (err)
		dns_msg_free(out);
	return err;
}

void dns_msg_free(struct dns_msg *m)
{
	for (size_t i = 0; i < m->n_rrs; i++) {
		free(m->rrs[i].name);
		free(m->rrs[i].target);
	}
	free(m->rrs);
	free(m->qname);
	memset(m, 0, sizeof(*m));
}
