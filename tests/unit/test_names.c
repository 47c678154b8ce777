// SPDX-License-Identifier: MIT
/*
 * Which DNS answer names a flow (query/names.c) and --name matching (flow_name_match): the
 * namespace, the time window (received before the start, TTL plus grace after), the CNAME
 * chain, the tie-breaking (same process, then latest, then highest id), carried copies, and
 * answers without an owner. query/ is not part of the library, so its files are compiled in.
 */
#include "../../query/flows.c"
#include "../../query/names.c"

#include <stdio.h>

#include "check.h"

#define S 1000000000LL

static const uint8_t ip1[4] = { 192, 0, 2, 1 }, ip2[4] = { 192, 0, 2, 2 };

/* www.example.test CNAME edge.cdn.test, edge.cdn.test A 192.0.2.1 (ttl), unrelated A ip2. */
static struct sr_dns_rr rrs[] = {
	{ .type = CR_DNS_TYPE_CNAME, .ttl = 600, .name = "WWW.example.test",
	  .target = "edge.cdn.test" },
	{ .type = CR_DNS_TYPE_A, .ttl = 60, .addr_len = 4, .addr = { 192, 0, 2, 1 },
	  .name = "edge.cdn.test" },
	{ .type = CR_DNS_TYPE_A, .ttl = 60, .addr_len = 4, .addr = { 192, 0, 2, 2 },
	  .name = "elsewhere.test" },
};

static struct sr_dns answer(int64_t id, int64_t ts, uint32_t pid, uint32_t netns,
			    const char *qname)
{
	return (struct sr_dns){ .id = id, .ts_ns = ts, .pid = pid, .netns = netns,
				.qname = qname, .rrs = rrs, .n_rrs = 3 };
}

/* qname A 192.0.2.1, TTL 60 (records in a small pool that outlives the test). */
static struct sr_dns direct(int64_t id, int64_t ts, uint32_t pid, uint32_t netns,
			    const char *qname)
{
	static struct sr_dns_rr pool[16];
	static size_t used;
	struct sr_dns_rr *r = &pool[used++ % 16];

	*r = (struct sr_dns_rr){ .type = CR_DNS_TYPE_A, .ttl = 60, .addr_len = 4,
				 .addr = { 192, 0, 2, 1 }, .name = qname };
	return (struct sr_dns){ .id = id, .ts_ns = ts, .pid = pid, .netns = netns,
				.qname = qname, .rrs = r, .n_rrs = 1 };
}

static struct flow out_to(const uint8_t *a, int64_t start, uint32_t pid, uint32_t netns)
{
	struct flow f = { .start_ns = start, .pid = pid, .netns = netns, .dir = CR_DIR_OUT,
			  .raddr_len = 4 };

	memcpy(f.raddr, a, 4);
	return f;
}

static const char *rname(struct name_index *ni, struct flow f)
{
	const struct flow_name *n = names_for_flow(ni, &f);

	return n ? n->rname : "(none)";
}

static void test_basic(void)
{
	struct name_index *ni;
	struct sr_dns d = answer(10, 100 * S, 7, 4000, "www.example.test");
	struct flow f = out_to(ip1, 101 * S, 7, 4000);
	const struct flow_name *n;

	CHECK_THAT(names_new(&ni) == 0);
	CHECK_THAT(names_add(ni, 0, &d) == 0);
	n = names_for_flow(ni, &f);
	CHECK(n && !strcmp(n->rname, "www.example.test"), "rname %s", n ? n->rname : "NULL");
	CHECK_THAT(n && n->n_chain == 1 && !strcmp(n->chain[0], "edge.cdn.test"));
	/* Another process in the same namespace: named too (no better answer). */
	CHECK_THAT(!strcmp(rname(ni, out_to(ip1, 101 * S, 8, 4000)), "www.example.test"));
	/* Another namespace, another host: not named. */
	CHECK_THAT(!strcmp(rname(ni, out_to(ip1, 101 * S, 7, 4001)), "(none)"));
	f.host = 1;
	CHECK_THAT(names_for_flow(ni, &f) == NULL);
	/* Before the answer arrived; after TTL + grace; at the very edge of both. */
	CHECK_THAT(!strcmp(rname(ni, out_to(ip1, 100 * S - 1, 7, 4000)), "(none)"));
	CHECK_THAT(!strcmp(rname(ni, out_to(ip1, 100 * S, 7, 4000)), "www.example.test"));
	CHECK_THAT(!strcmp(rname(ni, out_to(ip1, (160 + CR_DNS_GRACE_S) * S, 7, 4000)),
			   "www.example.test"));
	CHECK_THAT(!strcmp(rname(ni, out_to(ip1, (160 + CR_DNS_GRACE_S) * S + 1, 7, 4000)),
			   "(none)"));
	/* An address the chain does not reach names nothing. */
	CHECK_THAT(!strcmp(rname(ni, out_to(ip2, 101 * S, 7, 4000)), "(none)"));
	/* The same address on an IPv6 socket (v4-mapped). */
	{
		struct flow m = out_to(ip1, 101 * S, 7, 4000);

		memset(m.raddr, 0, 16);
		m.raddr[10] = m.raddr[11] = 0xff;
		memcpy(m.raddr + 12, ip1, 4);
		m.raddr_len = 16;
		CHECK_THAT(!strcmp(rname(ni, m), "www.example.test"));
		m.dir = CR_DIR_LISTEN;
		CHECK_THAT(!strcmp(rname(ni, m), "(none)"));
	}
	names_free(ni);
}

static void test_ties(void)
{
	struct name_index *ni;
	struct sr_dns a = direct(20, 100 * S, 7, 4000, "mine.test");
	struct sr_dns b = direct(21, 110 * S, 8, 4000, "theirs.test");
	struct sr_dns c = direct(22, 110 * S, 9, 4000, "theirs-too.test");
	struct sr_dns none = direct(23, 115 * S, 0, 0, "unowned.test");

	CHECK_THAT(names_new(&ni) == 0);
	CHECK_THAT(names_add(ni, 0, &b) == 0 && names_add(ni, 0, &a) == 0);
	CHECK_THAT(names_add(ni, 0, &c) == 0);
	none.flags = CR_DNS_FLAG_NO_OWNER;
	CHECK_THAT(names_add(ni, 0, &none) == 0);
	/* Its own lookup wins over a later one of another process. */
	CHECK_THAT(!strcmp(rname(ni, out_to(ip1, 120 * S, 7, 4000)), "mine.test"));
	/* A third process: the latest; of two at one instant, the higher id. */
	CHECK_THAT(!strcmp(rname(ni, out_to(ip1, 120 * S, 99, 4000)), "theirs-too.test"));
	/* Before the others arrived, only its own counts. */
	CHECK_THAT(!strcmp(rname(ni, out_to(ip1, 105 * S, 99, 4000)), "mine.test"));
	/* A carried copy (same id, later segment) changes nothing, even with another name. */
	{
		struct sr_dns copy = direct(22, 110 * S, 9, 4000, "copy.test");

		copy.flags = CR_DNS_FLAG_CARRIED;
		CHECK_THAT(names_add(ni, 0, &copy) == 0);
		CHECK_THAT(!strcmp(rname(ni, out_to(ip1, 120 * S, 99, 4000)), "theirs-too.test"));
	}
	/* An answer without an owner (namespace unknown) names nothing, not even netns 0. */
	CHECK_THAT(!strcmp(rname(ni, out_to(ip1, 120 * S, 99, 0)), "(none)"));
	names_free(ni);
}

static void test_chain_and_match(void)
{
	static struct sr_dns_rr loop[] = {
		{ .type = CR_DNS_TYPE_CNAME, .ttl = 5, .name = "a.test", .target = "b.test" },
		{ .type = CR_DNS_TYPE_CNAME, .ttl = 5, .name = "b.test", .target = "A.test" },
		{ .type = CR_DNS_TYPE_A, .ttl = 5, .addr_len = 4, .addr = { 192, 0, 2, 1 },
		  .name = "b.test" },
	};
	struct sr_dns d = { .id = 1, .ts_ns = S, .pid = 1, .netns = 1, .qname = "a.test",
			    .rrs = loop, .n_rrs = 3 };
	struct name_index *ni;
	const struct flow_name *n;
	struct flow f = out_to(ip1, 2 * S, 1, 1);

	CHECK_THAT(names_new(&ni) == 0);
	CHECK_THAT(names_add(ni, 0, &d) == 0);
	n = names_for_flow(ni, &f);
	CHECK(n && n->n_chain == CHAIN_MAX, "a CNAME loop stops (%zu links)", n ? n->n_chain : 0);
	names_free(ni);

	{
		const char *chain[] = { "edge.cdn.test", "e1.akamai.example" };
		struct flow_name fn = { .rname = "www.Example.com", .chain = chain, .n_chain = 2 };

		CHECK_THAT(flow_name_match(&fn, "www.example.com"));
		CHECK_THAT(flow_name_match(&fn, "*.EXAMPLE.com"));
		CHECK_THAT(flow_name_match(&fn, "*.akamai.*"));
		CHECK_THAT(flow_name_match(&fn, "edge.cdn.test"));
		CHECK_THAT(!flow_name_match(&fn, "cdn.test"));
		CHECK_THAT(!flow_name_match(&fn, "*.org"));
	}
	/* The filter: --name keeps named flows that match, never unnamed ones. */
	{
		struct flow_filter q;
		const char *chain[] = { "edge.cdn.test" };
		struct flow_name fn = { .rname = "www.example.test", .chain = chain, .n_chain = 1 };
		struct flow g = out_to(ip1, 2 * S, 1, 1);

		flow_filter_init(&q);
		q.name = "*.cdn.test";
		g.end = FLOW_END_OPEN;
		CHECK_THAT(!flow_filter_match(&q, &g));
		g.name = &fn;
		CHECK_THAT(flow_filter_match(&q, &g));
		q.name = "*.other";
		CHECK_THAT(!flow_filter_match(&q, &g));
	}
}

int main(void)
{
	test_basic();
	test_ties();
	test_chain_and_match();
	return check_done();
}
