// SPDX-License-Identifier: MIT
/*
 * Lifetime reconstruction and filters (query/flows.c): states from reason and direction,
 * merging carried copies, the pending table, and the window/duration rules.
 * query/ is not part of the library, so its one pure-logic file is compiled in here.
 */
#include "../../query/flows.c"

#include <stdio.h>

#include "check.h"

static struct flow mk(uint8_t proto, uint8_t dir, uint8_t flags, int end, uint8_t reason)
{
	struct flow f = { .id = 1,
			  .start_ns = 1000,
			  .proto = proto,
			  .dir = dir,
			  .flags = flags,
			  .end = (uint8_t)end,
			  .reason = reason,
			  .end_ns = 2000,
			  .lost_ns = 1500 };

	return f;
}

static void state_is(struct flow f, const char *want)
{
	const char *got = flow_state(&f);

	CHECK(!strcmp(got, want),
	      "state: got %s want %s (proto %u dir %u flags %u end %u reason %u)", got, want,
	      f.proto, f.dir, f.flags, f.end, f.reason);
}

int main(void)
{
	struct flow_table t;
	struct flow_filter q;
	struct flow f, *p;
	struct sr_conn r = { .id = 42, .start_ns = 5000, .proto = 6, .family = 4, .flags = 0 };

	/* States: the host's view; reset direction depends on who originated. */
	state_is(mk(6, CR_DIR_OUT, 0, FLOW_END_CLOSED, CR_END_LOCAL_FIN), "SF");
	state_is(mk(6, CR_DIR_IN, 0, FLOW_END_CLOSED, CR_END_PEER_FIN), "SF");
	state_is(mk(6, CR_DIR_OUT, 0, FLOW_END_CLOSED, CR_END_LOCAL_RST), "RSTO");
	state_is(mk(6, CR_DIR_OUT, 0, FLOW_END_CLOSED, CR_END_PEER_RST), "RSTR");
	state_is(mk(6, CR_DIR_IN, 0, FLOW_END_CLOSED, CR_END_LOCAL_RST), "RSTR");
	state_is(mk(6, CR_DIR_IN, 0, FLOW_END_CLOSED, CR_END_PEER_RST), "RSTO");
	state_is(mk(6, CR_DIR_OUT, 0, FLOW_END_CLOSED, CR_END_REFUSED), "REJ");
	state_is(mk(6, CR_DIR_OUT, 0, FLOW_END_CLOSED, CR_END_TIMEOUT), "S0");
	state_is(mk(6, CR_DIR_OUT, 0, FLOW_END_CLOSED, CR_END_UNKNOWN), "OTH");
	state_is(mk(6, CR_DIR_OUT, 0, FLOW_END_OPEN, 0), "S1");
	state_is(mk(6, CR_DIR_OUT, 0, FLOW_END_UNKNOWN, 0), "UNK");
	state_is(mk(6, CR_DIR_IN, CR_FLAG_PREEXISTING, FLOW_END_OPEN, 0), "OTH");
	state_is(mk(6, CR_DIR_IN, CR_FLAG_PREEXISTING, FLOW_END_CLOSED, CR_END_PEER_FIN), "OTH");
	state_is(mk(6, CR_DIR_IN, CR_FLAG_PREEXISTING, FLOW_END_UNKNOWN, 0), "UNK");
	/* A listener is LISTEN, however it began or ended. */
	state_is(mk(6, CR_DIR_LISTEN, 0, FLOW_END_CLOSED, CR_END_RELEASED), "LISTEN");
	state_is(mk(6, CR_DIR_LISTEN, 0, FLOW_END_OPEN, 0), "LISTEN");
	state_is(mk(6, CR_DIR_LISTEN, CR_FLAG_PREEXISTING, FLOW_END_OPEN, 0), "LISTEN");
	state_is(mk(6, CR_DIR_LISTEN, 0, FLOW_END_UNKNOWN, 0), "LISTEN");
	/* UDP: without byte counts (an older recorder) an end is SF; with them, what came back. */
	state_is(mk(17, CR_DIR_OUT, 0, FLOW_END_CLOSED, CR_END_RELEASED), "SF");
	f = mk(17, CR_DIR_OUT, 0, FLOW_END_CLOSED, CR_END_RELEASED);
	f.has_bytes = true;
	f.bytes_out = 40;
	state_is(f, "S0");
	f.bytes_in = 1;
	state_is(f, "SF");
	f.reason = CR_END_IDLE;
	state_is(f, "SF");
	f = mk(17, CR_DIR_IN, 0, FLOW_END_CLOSED, CR_END_IDLE);
	f.has_bytes = true;
	f.bytes_in = 12;
	state_is(f, "S0");
	f = mk(17, CR_DIR_OUT, 0, FLOW_END_CLOSED, CR_END_REFUSED);
	f.has_bytes = true;
	f.bytes_out = 10;
	state_is(f, "REJ");
	state_is(mk(17, CR_DIR_IN, 0, FLOW_END_OPEN, 0), "S1");
	CHECK(flow_state_bit("UNK") == 7 && flow_state_bit("LISTEN") == 8 &&
		      flow_state_bit("sf") == -1,
	      "state bits");

	/* Merge: the carried copy (later segment) brings the end; start stays the original's. */
	flow_from_row(&f, &r, 0, 1);
	CHECK(f.end == FLOW_END_OPEN && f.start_ns == 5000, "open from row");
	r.flags = CR_FLAG_CARRIED;
	r.has_end = true;
	r.end_ns = 9000;
	r.reason = CR_END_PEER_FIN;
	flow_merge_row(&f, &r, 2);
	CHECK(f.end == FLOW_END_CLOSED && f.end_ns == 9000 && f.start_ns == 5000 && f.last_seg == 2,
	      "merge end from copy");
	/* An earlier row seen later (files out of order) takes the start, keeps the end. */
	r.start_ns = 4000;
	r.has_end = false;
	r.flags = 0;
	flow_merge_row(&f, &r, 1);
	CHECK(f.start_ns == 4000 && f.end == FLOW_END_CLOSED && f.end_ns == 9000, "earlier row");

	/* Pending table: keyed by (host, id); grows. */
	flow_table_init(&t);
	for (int i = 0; i < 5000; i++) {
		struct flow g = { .id = i, .host = (uint32_t)(i % 3) };

		CHECK(!flow_table_add(&t, &g), "add %d", i);
	}
	p = flow_table_find(&t, 1, 4000);
	CHECK(p && p->id == 4000 && p->host == 1, "find");
	CHECK(!flow_table_find(&t, 2, 4000), "other host");
	CHECK(!flow_table_find(&t, 0, 99999), "missing");
	flow_table_free(&t);

	/* Window and durations. */
	flow_filter_init(&q);
	q.now = 100000;
	f = mk(6, CR_DIR_OUT, 0, FLOW_END_CLOSED, CR_END_LOCAL_FIN); /* [1000, 2000] */
	q.since = 2000;
	CHECK(flow_filter_match(&q, &f), "ends at since: overlaps");
	q.since = 2001;
	CHECK(!flow_filter_match(&q, &f), "ended before since");
	q.since = SR_NO_TIME;
	q.until = 999;
	CHECK(!flow_filter_match(&q, &f), "starts after until");
	q.until = SR_TIME_MAX;
	f.end = FLOW_END_OPEN;
	q.since = 50000;
	CHECK(flow_filter_match(&q, &f), "open flow overlaps any later window");
	f.end = FLOW_END_UNKNOWN; /* lost at 1500 */
	CHECK(!flow_filter_match(&q, &f), "unknown end: recording stopped before the window");
	q.since = 1400;
	CHECK(flow_filter_match(&q, &f), "unknown end: known alive into the window");
	flow_filter_init(&q);
	q.now = 100000;
	f = mk(6, CR_DIR_OUT, 0, FLOW_END_CLOSED, CR_END_LOCAL_FIN);
	q.short_lived = 1000;
	CHECK(flow_filter_match(&q, &f), "short-lived: 1000 <= 1000");
	q.short_lived = 999;
	CHECK(!flow_filter_match(&q, &f), "short-lived: too long");
	q.short_lived = 1000;
	q.since = 1001;
	CHECK(!flow_filter_match(&q, &f), "short-lived: began before the window");
	q.since = SR_NO_TIME;
	q.until = 1999;
	CHECK(!flow_filter_match(&q, &f), "short-lived: ended after the window");
	q.until = SR_TIME_MAX;
	f.end = FLOW_END_OPEN;
	CHECK(!flow_filter_match(&q, &f), "short-lived: an open flow never is");
	flow_filter_init(&q);
	q.now = 100000;
	q.min_dur = 50000;
	CHECK(flow_filter_match(&q, &f), "min-duration: open flow's age counts");
	f.end = FLOW_END_UNKNOWN;
	CHECK(!flow_filter_match(&q, &f), "min-duration: unknown end lived only until 1500");
	q.min_dur = -1;
	q.max_dur = 5000;
	CHECK(!flow_filter_match(&q, &f), "max-duration needs a known end");
	f = mk(6, CR_DIR_OUT, 0, FLOW_END_CLOSED, CR_END_LOCAL_FIN);
	CHECK(flow_filter_match(&q, &f), "max-duration");

	/* Process and address filters. */
	flow_filter_init(&q);
	q.comm = "isc-*";
	snprintf(f.comm, sizeof(f.comm), "isc-net-0000");
	CHECK(flow_filter_match(&q, &f), "comm glob");
	q.comm = "isc";
	CHECK(!flow_filter_match(&q, &f), "comm exact");
	q.comm = NULL;
	q.states = 1u << flow_state_bit("REJ");
	CHECK(!flow_filter_match(&q, &f), "state filter");
	q.states = 0;
	CHECK(!addr_parse_cidr_list("10.0.0.0/8", &q.addrs, &q.n_addrs), "cidr");
	CHECK(!flow_filter_build_sets(&q), "sets");
	f.laddr_len = 16;
	memcpy(f.laddr, "\0\0\0\0\0\0\0\0\0\0\xff\xff\x0a\x01\x02\x03", 16);
	CHECK(flow_filter_match(&q, &f), "v4 CIDR matches a v4-mapped local address");
	f.laddr[12] = 11;
	CHECK(!flow_filter_match(&q, &f), "v4 CIDR, other address");
	flow_filter_free(&q);

	return check_done();
}
