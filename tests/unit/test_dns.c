// SPDX-License-Identifier: MIT
/*
 * The recorder's DNS pieces without BPF: the parser (messages built with ldns itself, plus
 * hostile bytes), the TCP stream reassembly (split, retransmitted, lost and cut segments), the
 * socket owner table (against a plain reference under random puts, kills and sweeps), and which
 * flow events make dns_ingest remember and forget a UDP socket's owner.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <ldns/ldns.h>

#include "check.h"
#include "dns_ingest.h"
#include "dns_internal.h"
#include "dns_parse.h"

/* A response built from zone-file lines: question, then answer records. */
static size_t build(uint8_t *out, size_t cap, const char *qname, ldns_rr_type qtype,
		    ldns_pkt_rcode rcode, const char *const *answers, size_t n)
{
	ldns_pkt *pkt = ldns_pkt_query_new(ldns_dname_new_frm_str(qname), qtype, LDNS_RR_CLASS_IN,
					   LDNS_RD);
	uint8_t *wire = NULL;
	size_t len = 0;

	ldns_pkt_set_qr(pkt, true);
	ldns_pkt_set_id(pkt, 4242);
	ldns_pkt_set_rcode(pkt, (uint8_t)rcode);
	for (size_t i = 0; i < n; i++) {
		ldns_rr *rr = NULL;

		if (ldns_rr_new_frm_str(&rr, answers[i], 0, NULL, NULL) != LDNS_STATUS_OK) {
			fprintf(stderr, "bad test record: %s\n", answers[i]);
			exit(2);
		}
		ldns_pkt_push_rr(pkt, LDNS_SECTION_ANSWER, rr);
	}
	if (ldns_pkt2wire(&wire, pkt, &len) != LDNS_STATUS_OK || len > cap)
		exit(2);
	memcpy(out, wire, len);
	free(wire);
	ldns_pkt_free(pkt);
	return len;
}

static void test_parse_chain(void)
{
	static const char *const an[] = {
		"www.example.com. 60 IN CNAME edge.cdn.example.net.",
		"edge.cdn.example.net. 300 IN CNAME e1.cdn.example.net.",
		"e1.cdn.example.net. 20 IN A 192.0.2.7",
		"e1.cdn.example.net. 20 IN A 192.0.2.8",
		"e1.cdn.example.net. 20 IN MX 10 mail.example.net.",
		"e1.cdn.example.net. 40 IN AAAA 2001:db8::7",
	};
	uint8_t wire[2048];
	size_t len = build(wire, sizeof(wire), "www.Example.com.", LDNS_RR_TYPE_A,
			   LDNS_RCODE_NOERROR, an, 6);
	struct dns_msg m;

	CHECK_THAT(dns_parse(wire, len, &m) == 0);
	CHECK_THAT(m.id == 4242);
	CHECK_THAT(m.qtype == CR_DNS_TYPE_A);
	CHECK_THAT(m.rcode == 0);
	CHECK(!strcmp(m.qname, "www.Example.com"), "qname kept as sent: %s", m.qname);
	CHECK(m.n_rrs == 5, "MX left out: %zu records", m.n_rrs);
	CHECK_THAT(m.rrs[0].type == CR_DNS_TYPE_CNAME && m.rrs[0].ttl == 60);
	/* ldns compresses the owner into a pointer to the question: case may follow it. */
	CHECK_THAT(!strcasecmp(m.rrs[0].name, "www.example.com"));
	CHECK_THAT(!strcmp(m.rrs[0].target, "edge.cdn.example.net"));
	CHECK_THAT(!strcmp(m.rrs[1].target, "e1.cdn.example.net"));
	CHECK_THAT(m.rrs[2].type == CR_DNS_TYPE_A && m.rrs[2].ttl == 20 && !m.rrs[2].target);
	CHECK_THAT(!memcmp(m.rrs[2].addr, "\xc0\x00\x02\x07", 4));
	CHECK_THAT(!memcmp(m.rrs[3].addr, "\xc0\x00\x02\x08", 4));
	CHECK_THAT(m.rrs[4].type == CR_DNS_TYPE_AAAA && m.rrs[4].ttl == 40);
	CHECK_THAT(!memcmp(m.rrs[4].addr, "\x20\x01\x0d\xb8\0\0\0\0\0\0\0\0\0\0\0\x07", 16));
	dns_msg_free(&m);
}

static void test_parse_rcodes_and_refusals(void)
{
	uint8_t wire[1024], bad[1024];
	size_t len = build(wire, sizeof(wire), "nx.example.", LDNS_RR_TYPE_AAAA,
			   LDNS_RCODE_NXDOMAIN, NULL, 0);
	struct dns_msg m;

	CHECK_THAT(dns_parse(wire, len, &m) == 0);
	CHECK_THAT(m.rcode == 3 && m.n_rrs == 0 && m.qtype == CR_DNS_TYPE_AAAA);
	CHECK_THAT(!strcmp(m.qname, "nx.example"));
	dns_msg_free(&m);

	/* A query (QR clear) is not an answer. */
	memcpy(bad, wire, len);
	bad[2] &= 0x7f;
	CHECK_THAT(dns_parse(bad, len, &m) == -ENOMSG);
	/* Cut short, garbage, empty: malformed, never a crash. */
	CHECK_THAT(dns_parse(wire, len - 3, &m) == -EBADMSG);
	CHECK_THAT(dns_parse(wire, 5, &m) == -EBADMSG);
	CHECK_THAT(dns_parse(wire, 0, &m) == -EBADMSG);
	/* No question: qdcount 0. */
	memcpy(bad, wire, 12);
	bad[4] = bad[5] = 0;
	CHECK_THAT(dns_parse(bad, 12, &m) == -EBADMSG);
	/* A compression pointer that points at itself. */
	memcpy(bad, wire, 12);
	bad[12] = 0xc0;
	bad[13] = 12;
	memset(bad + 14, 0, 4);
	CHECK_THAT(dns_parse(bad, 18, &m) == -EBADMSG);
}

static void test_parse_hostile_names(void)
{
	/* A label with a newline, an escape and a dot inside it: printable, escaped text. */
	static const char *const an[] = { "a\\010b\\.c\\\\.example. 5 IN A 198.51.100.1" };
	uint8_t wire[1024];
	size_t len = build(wire, sizeof(wire), "a\\010b\\.c\\\\.example.", LDNS_RR_TYPE_A,
			   LDNS_RCODE_NOERROR, an, 1);
	struct dns_msg m;

	CHECK_THAT(dns_parse(wire, len, &m) == 0);
	CHECK(!strcmp(m.qname, "a\\010b\\.c\\\\.example"), "escaped qname: %s", m.qname);
	for (const char *c = m.qname; *c; c++)
		CHECK(*c >= 0x21 && *c <= 0x7e, "only printable ASCII in names (0x%02x)", *c);
	CHECK_THAT(m.n_rrs == 1 && !strcmp(m.rrs[0].name, m.qname));
	dns_msg_free(&m);
}

static void test_parse_many_records(void)
{
	static char lines[DNS_MAX_RRS + 10][64];
	const char *an[DNS_MAX_RRS + 10];
	static uint8_t wire[16384];
	struct dns_msg m;
	size_t len;

	for (int i = 0; i < DNS_MAX_RRS + 10; i++) {
		snprintf(lines[i], sizeof(lines[i]), "big.example. 9 IN A 10.0.%d.%d", i / 250,
			 i % 250);
		an[i] = lines[i];
	}
	len = build(wire, sizeof(wire), "big.example.", LDNS_RR_TYPE_A, LDNS_RCODE_NOERROR, an,
		    DNS_MAX_RRS + 10);
	CHECK_THAT(dns_parse(wire, len, &m) == 0);
	CHECK_THAT(m.n_rrs == DNS_MAX_RRS && m.n_dropped == 10);
	dns_msg_free(&m);
}

/* ---- TCP streams ---- */

struct got {
	size_t n;
	size_t len[8];
	uint8_t first[8];
};

static void on_msg(void *ctx, const struct dns_sock_key *k, const uint8_t *msg, size_t len)
{
	struct got *g = ctx;

	(void)k;
	if (g->n < 8) {
		g->len[g->n] = len;
		g->first[g->n] = len ? msg[0] : 0;
	}
	g->n++;
}

static void test_tcp_streams(void)
{
	uint8_t s[300];
	struct dns_tcp t = { 0 };
	struct dns_sock_key k = { .proto = 6, .lport = 40000, .rport = 53 };
	struct got g = { 0 };
	uint32_t seq = 0xfffffff0u; /* wraps inside the stream */

	/* Two messages: 100 bytes of 0xaa, 150 bytes of 0xbb, each with its length first. */
	s[0] = 0;
	s[1] = 100;
	memset(s + 2, 0xaa, 100);
	s[102] = 0;
	s[103] = 150;
	memset(s + 104, 0xbb, 150);
	/* Split inside the first length, inside the first body, and mid second message. */
	CHECK_THAT(dns_tcp_feed(&t, &k, seq, s, 1, 1, 1, on_msg, &g) == 0);
	CHECK_THAT(dns_tcp_feed(&t, &k, seq + 1, s + 1, 50, 50, 2, on_msg, &g) == 0);
	CHECK_THAT(g.n == 0);
	/* A retransmission overlapping what was seen, carrying new bytes too. */
	CHECK_THAT(dns_tcp_feed(&t, &k, seq + 20, s + 20, 120, 120, 3, on_msg, &g) == 0);
	CHECK(g.n == 1 && g.len[0] == 100 && g.first[0] == 0xaa, "first message (%zu)", g.n);
	/* A pure duplicate. */
	CHECK_THAT(dns_tcp_feed(&t, &k, seq, s, 60, 60, 4, on_msg, &g) == 0);
	CHECK_THAT(dns_tcp_feed(&t, &k, seq + 140, s + 140, 114, 114, 5, on_msg, &g) == 0);
	CHECK(g.n == 2 && g.len[1] == 150 && g.first[1] == 0xbb, "second message (%zu)", g.n);

	/* Another connection: a hole loses the stream, counted once. */
	k.lport = 40001;
	g.n = 0;
	CHECK_THAT(dns_tcp_feed(&t, &k, 1000, s, 50, 50, 6, on_msg, &g) == 0);
	CHECK_THAT(dns_tcp_feed(&t, &k, 1100, s + 100, 50, 50, 7, on_msg, &g) == 1);
	CHECK_THAT(dns_tcp_feed(&t, &k, 1050, s + 50, 50, 50, 8, on_msg, &g) == 0);
	CHECK_THAT(g.n == 0);
	/* A segment cut short (copied less than it held) also loses it. */
	k.lport = 40002;
	CHECK_THAT(dns_tcp_feed(&t, &k, 7, s, 40, 254, 9, on_msg, &g) == 1);
	CHECK_THAT(g.n == 0);
	/* The end of a connection forgets it; idle ones expire. */
	CHECK_THAT(t.n == 3);
	dns_tcp_end(&t, &k);
	CHECK_THAT(t.n == 2);
	dns_tcp_expire(&t, 7);
	CHECK(t.n == 1, "only the one active at 8 is left (%zu)", t.n);
	dns_tcp_free(&t);
}

/* ---- the owner table ---- */

#define REF_N 4000

static void test_owners(void)
{
	static struct {
		bool live, dead;
		uint32_t pid, gen;
	} ref[REF_N];
	struct dns_owners o;
	uint32_t gen = 1;
	unsigned seed = 7;
	int bad = 0;

	CHECK_THAT(dns_owners_init(&o) == 0);
	for (int step = 0; step < 200000; step++) {
		unsigned r = (seed = seed * 1103515245u + 12345u) >> 8;
		uint32_t i = r % REF_N;
		struct dns_sock_key k = { .cookie = 1000 + i, .proto = 17 };
		struct dns_owner who = { .pid = step + 1 };

		if ((r >> 12) % 3 == 0) {
			dns_owners_put(&o, &k, &who);
			ref[i].live = true;
			ref[i].dead = false;
			ref[i].pid = who.pid;
		} else if ((r >> 12) % 3 == 1 && ref[i].live && !ref[i].dead) {
			dns_owners_kill(&o, &k, gen);
			ref[i].dead = true;
			ref[i].gen = gen;
		}
		if (step % 500 == 0) {
			dns_owners_sweep(&o, gen);
			for (int j = 0; j < REF_N; j++)
				if (ref[j].live && ref[j].dead && ref[j].gen < gen)
					ref[j].live = false;
			gen++;
		}
		if (step % 997 == 0) {
			for (int j = 0; j < REF_N; j++) {
				struct dns_sock_key q = { .cookie = 1000 + (uint64_t)j, .proto = 17 };
				const struct dns_owner *w = dns_owners_get(&o, &q);

				if (ref[j].live ? !w || w->pid != ref[j].pid : w != NULL)
					bad++;
			}
		}
	}
	CHECK(bad == 0, "owner table differs from the reference %d times", bad);
	/* A TCP key is its addresses: v4 and v4-mapped name the same connection. */
	{
		struct dns_sock_key a = { .proto = 6, .lport = 1, .rport = 53 }, b = a;
		struct dns_owner who = { .pid = 99 };

		dns_key_addr(a.raddr, (const uint8_t *)"\x0a\x00\x00\x01", 4);
		dns_key_addr(b.raddr,
			     (const uint8_t *)"\0\0\0\0\0\0\0\0\0\0\xff\xff\x0a\x00\x00\x01", 16);
		dns_owners_put(&o, &a, &who);
		CHECK_THAT(dns_owners_get(&o, &b) && dns_owners_get(&o, &b)->pid == 99);
	}
	dns_owners_free(&o);
}

/* A UDP flow event of socket COOKIE whose peer port is RPORT. */
static struct cr_event udp_ev(uint8_t kind, uint64_t cookie, uint16_t rport, uint32_t flags)
{
	struct cr_event e = { .kind = kind, .proto = 17, .family = 4, .cookie = cookie,
			      .rport = rport, .lport = 40000, .pid = 7, .flags = flags };

	memcpy(e.comm, "dig", 4);
	return e;
}

/* Owners remembered after two commits (a killed owner is swept at the second). */
static uint64_t owners_after_commits(struct dns_ingest *d)
{
	CHECK_THAT(dns_ingest_commit(d, NULL, false) == 0);
	CHECK_THAT(dns_ingest_commit(d, NULL, false) == 0);
	return dns_ingest_get_stats(d)->owners;
}

/*
 * Every socket with a flow to port 53 is forgotten once its end is read, whichever flow went
 * to port 53; and a socket with none is never remembered.
 */
static void test_udp_owner_lifetime(void)
{
	struct dns_ingest *d;
	struct cr_event e;

	CHECK_THAT(dns_ingest_new(&d, NULL, NULL, NULL, NULL) == 0);
	/* A lookup: its CLOSE carries the whole flow to port 53. */
	e = udp_ev(CR_EV_CLOSE, 11, 53, 0);
	dns_ingest_flow(d, &e);
	CHECK(owners_after_commits(d) == 0, "a lookup's socket stays remembered");
	/* A first flow to port 53 stored as open, then its end. */
	e = udp_ev(CR_EV_OPEN, 12, 53, 0);
	dns_ingest_flow(d, &e);
	CHECK(owners_after_commits(d) == 1, "an open socket to port 53 is not remembered");
	e = udp_ev(CR_EV_CLOSE, 12, 53, CR_FLAG_OPEN_SENT);
	dns_ingest_flow(d, &e);
	CHECK(owners_after_commits(d) == 0, "a closed socket to port 53 stays remembered");
	/* A first flow elsewhere, then a second peer on port 53: the release forgets it. */
	e = udp_ev(CR_EV_OPEN, 13, 53, 0);
	dns_ingest_flow(d, &e);
	e = udp_ev(CR_EV_CLOSE, 13, 4000, 0);
	dns_ingest_flow(d, &e);
	e = udp_ev(CR_EV_UDP_RELEASE, 13, 0, 0);
	dns_ingest_flow(d, &e);
	CHECK(owners_after_commits(d) == 0, "a released multi-peer socket stays remembered");
	/* No flow to port 53 at all. */
	e = udp_ev(CR_EV_OPEN, 14, 4000, 0);
	dns_ingest_flow(d, &e);
	e = udp_ev(CR_EV_CLOSE, 14, 4000, CR_FLAG_OPEN_SENT);
	dns_ingest_flow(d, &e);
	CHECK(owners_after_commits(d) == 0, "a socket never on port 53 was remembered");
	dns_ingest_free(d);
}

int main(void)
{
	test_parse_chain();
	test_parse_rcodes_and_refusals();
	test_parse_hostile_names();
	test_parse_many_records();
	test_tcp_streams();
	test_owners();
	test_udp_owner_lifetime();
	return check_done();
}
