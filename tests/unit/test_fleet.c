// SPDX-License-Identifier: MIT
/*
 * fleet/ without a server: the column tables fit their structs, RowBinary goes both ways and
 * refuses cut or hostile answers, literals are escaped, the query filter becomes the SQL
 * expected (globs as LIKE supersets), and passwords are masked in URL arguments.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "ch_http.h"
#include "ch_rows.h"
#include "ch_sql.h"
#include "check.h"

/* Every column's C field has the size its type says, and flags point at bools. */
static void tables_fit(void)
{
	for (size_t t = 0; t < ch_n_tables; t++) {
		const struct ch_table *tb = ch_tables[t];

		for (size_t i = 0; i < tb->n_cols; i++) {
			const struct ch_col *c = &tb->cols[i];
			size_t want = 0;

			switch (c->type) {
			case CH_U8:
				want = 1;
				break;
			case CH_U16:
				want = 2;
				break;
			case CH_U32:
				want = 4;
				break;
			case CH_U64:
			case CH_I64:
				want = 8;
				break;
			case CH_BOOL:
				want = sizeof(bool);
				break;
			case CH_SMALL:
				want = sizeof(int);
				break;
			case CH_TEXT:
			case CH_BYTES:
				want = c->size;
				break;
			}
			CHECK(c->size == want && c->off + c->size <= tb->row_size,
			      "%s.%s: field of %zu bytes for its type", tb->name, c->name, c->size);
			CHECK(!c->nullable || c->aux + sizeof(bool) <= tb->row_size, "%s.%s: flag",
			      tb->name, c->name);
			for (size_t j = 0; j < i; j++)
				CHECK(strcmp(c->name, tb->cols[j].name), "%s.%s twice", tb->name,
				      c->name);
		}
	}
}

static void conn_round_trip(void)
{
	struct sr_conn a = { .id = 42,
			     .start_ns = -5,
			     .end_ns = INT64_MAX,
			     .has_end = true,
			     .end_folded = true,
			     .reason = 3,
			     .bytes_out = UINT64_MAX,
			     .bytes_in = 7,
			     .has_bytes = true,
			     .proto = 6,
			     .family = 6,
			     .dir = 1,
			     .flags = 2,
			     .laddr_len = 16,
			     .lport = 65535,
			     .raddr_len = 4,
			     .rport = 53,
			     .pid = 4000000000u,
			     .uid = 1000,
			     .netns = 4026531840u,
			     .cgroup = UINT64_MAX - 1 };
	struct ch_key k = { .host = "h\x01st", .segment_id = 9, .attempt = 77, .segment_ns = -1 }, k2;
	struct sr_conn b, open = a;
	struct ch_buf buf = { 0 };
	struct ch_reader r;
	int err;

	memset(a.laddr, 0xab, 16);
	memcpy(a.raddr, "\x7f\0\0\x01", 4);
	strcpy(a.comm, "isc-net-0000");
	open = a;
	open.has_end = open.has_bytes = open.end_folded = false;
	open.end_ns = open.bytes_out = open.bytes_in = 0;
	open.reason = 0;
	err = ch_put_key(&buf, &k) ?: ch_put_row(&buf, &ch_conn_table, &a) ?:
		ch_put_key(&buf, &k) ?: ch_put_row(&buf, &ch_conn_table, &open);
	CHECK_THAT(!err);
	r = (struct ch_reader){ buf.p, buf.p + buf.n };
	CHECK_THAT(!ch_get_key(&r, &k2) && !strcmp(k2.host, k.host) && k2.segment_id == 9 &&
		   k2.attempt == 77 && k2.segment_ns == -1);
	CHECK_THAT(!ch_get_row(&r, &ch_conn_table, &b));
	CHECK(!memcmp(&a, &b, sizeof(a)), "a conn row comes back as it went");
	CHECK_THAT(!ch_get_key(&r, &k2) && !ch_get_row(&r, &ch_conn_table, &b));
	CHECK(!memcmp(&open, &b, sizeof(open)), "an open conn row (NULL end) comes back");
	CHECK_THAT(r.p == r.end);

	/* Every cut answer is refused, never read past. */
	for (size_t cut = 0; cut < buf.n / 2; cut++) {
		r = (struct ch_reader){ buf.p, buf.p + cut };
		CHECK(ch_get_key(&r, &k2) || ch_get_row(&r, &ch_conn_table, &b) == -EBADMSG,
		      "answer cut at %zu", cut);
	}
	ch_buf_free(&buf);
}

static void hostile_answers(void)
{
	/* A string length beyond the answer; a varint that never ends. */
	static const uint8_t long_len[] = { 0xff, 0xff, 0xff, 0xff, 0x0f, 'a' };
	static const uint8_t endless[] = { 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80,
					   0x80, 0x80, 0x80, 0x80 };
	/* An address of 40 bytes: kept to 16, its length says 40 (a damaged row, as locally). */
	uint8_t big[200];
	struct ch_reader r;
	struct ch_key k;
	struct sr_conn c;
	size_t n = 0;
	char s[8];

	r = (struct ch_reader){ long_len, long_len + sizeof(long_len) };
	CHECK_THAT(ch_get_string(&r, s, sizeof(s)) == -EBADMSG);
	r = (struct ch_reader){ endless, endless + sizeof(endless) };
	CHECK_THAT(ch_get_string(&r, s, sizeof(s)) == -EBADMSG);

	memset(big, 0, sizeof(big));
	/* id start_ns: 16 bytes; end_ns NULL; end_folded reason; bytes NULL NULL; proto family
	 * dir flags; laddr (40 bytes) */
	n = 16;
	big[n++] = 1;
	n += 2;
	big[n++] = 1;
	big[n++] = 1;
	n += 4;
	big[n++] = 40;
	memset(big + n, 0xee, 40);
	n += 40;
	n += 2;	    /* lport */
	big[n++] = 4; /* raddr */
	n += 4 + 2 + 4;
	big[n++] = 30; /* comm: 30 bytes, cut to 16 */
	memset(big + n, 'c', 30);
	n += 30;
	n += 4 + 4 + 8 + 8; /* uid netns cgroup pstart_ns */
	r = (struct ch_reader){ big, big + n };
	CHECK_THAT(!ch_get_row(&r, &ch_conn_table, &c) && r.p == r.end);
	CHECK_THAT(c.laddr_len == 40 && c.laddr[15] == 0xee && !c.has_end && !c.has_bytes);
	CHECK_THAT(strlen(c.comm) == 16);
	(void)k;
}

/* The text s built, for comparisons. */
static char *built(sqlite3_str *s)
{
	return ch_sql_finish(s);
}

static void literals(void)
{
	sqlite3_str *s = sqlite3_str_new(NULL);
	char *t;

	ch_sql_string(s, "a'b\\c\n\x01\xff%_", 10);
	t = built(s);
	CHECK(t && !strcmp(t, "'a\\x27b\\x5Cc\\x0A\\x01\\xFF%_'"), "literal: %s", t ? t : "NULL");
	sqlite3_free(t);
}

/* The ClickHouse conditions for a filter with only --comm PATTERN. */
static void comm_sql(const char *pattern, const char *want)
{
	struct sr_conn_filter f;
	sqlite3_str *s = sqlite3_str_new(NULL);
	char *t;

	sr_conn_filter_init(&f);
	f.comm = pattern;
	ch_sql_conn_filter(s, &f);
	t = built(s);
	CHECK(t && !strcmp(t, want), "--comm '%s': got \"%s\" want \"%s\"", pattern, t ? t : "NULL",
	      want);
	sqlite3_free(t);
}

/* Lists too long to write into a statement are left to C: no condition at all. */
static void long_lists(void)
{
	enum { NP = 300, NA = 100, NN = 3000 };
	struct addr_port_range *ports = calloc(NP, sizeof(*ports));
	struct addr_cidr *addrs = calloc(NA, sizeof(*addrs));
	uint32_t *pids = calloc(NN, sizeof(*pids));
	struct sr_conn_filter f;
	sqlite3_str *s = sqlite3_str_new(NULL);
	char *t;

	for (int i = 0; i < NP; i++)
		ports[i].lo = ports[i].hi = (uint16_t)(2 * i + 1);
	for (int i = 0; i < NA; i++) {
		addrs[i].family = 4;
		addrs[i].prefix = 32;
		addrs[i].addr[0] = 10;
		addrs[i].addr[3] = (uint8_t)(2 * i);
	}
	for (int i = 0; i < NN; i++)
		pids[i] = (uint32_t)(i + 1);
	sr_conn_filter_init(&f);
	f.ports = ports;
	f.n_ports = NP;
	f.addrs = addrs;
	f.n_addrs = NA;
	f.pids = pids;
	f.n_pids = NN;
	CHECK_THAT(!ch_sql_conn_filter(s, &f));
	t = ch_sql_finish(s);
	CHECK(t && !strcmp(t, ""), "long lists: got \"%.80s...\"", t ? t : "NULL");
	sqlite3_free(t);
	free(ports);
	free(addrs);
	free(pids);
}

static void filters(void)
{
	struct addr_port_range ports[] = { { 53, 53 }, { 8000, 8100 } };
	struct addr_cidr c = { .family = 4, .prefix = 8, .addr = { 10 } };
	uint32_t pids[] = { 1, 2 };
	struct sr_conn_filter f;
	sqlite3_str *s = sqlite3_str_new(NULL);
	char *t;
	const char *want =
		" AND start_ns <= 2000 AND (bitAnd(flags, 0x2) != 0 OR start_ns >= -1000 OR end_ns IS"
		" NULL OR end_ns >= -1000) AND (0 OR lport = 53 OR rport = 53"
		" OR lport BETWEEN 8000 AND 8100 OR rport BETWEEN 8000 AND 8100) AND (0 OR"
		" (length(laddr) = 16 AND laddr BETWEEN"
		" '\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\xFF\\xFF\\x0A\\x00\\x00\\x00' AND"
		" '\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\xFF\\xFF\\x0A\\xFF\\xFF\\xFF') OR"
		" (length(raddr) = 16 AND raddr BETWEEN"
		" '\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\xFF\\xFF\\x0A\\x00\\x00\\x00' AND"
		" '\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\xFF\\xFF\\x0A\\xFF\\xFF\\xFF') OR"
		" (length(laddr) = 4 AND laddr BETWEEN '\\x0A\\x00\\x00\\x00' AND '\\x0A\\xFF\\xFF\\xFF') OR"
		" (length(raddr) = 4 AND raddr BETWEEN '\\x0A\\x00\\x00\\x00' AND '\\x0A\\xFF\\xFF\\xFF'))"
		" AND proto = 6 AND pid IN (1,2)";

	sr_conn_filter_init(&f);
	f.since = -1000;
	f.until = 2000;
	f.ports = ports;
	f.n_ports = 2;
	f.addrs = &c;
	f.n_addrs = 1;
	f.proto = 6;
	f.pids = pids;
	f.n_pids = 2;
	ch_sql_conn_filter(s, &f);
	t = built(s);
	CHECK(t && !strcmp(t, want), "filter SQL:\n got %s\nwant %s", t ? t : "NULL", want);
	sqlite3_free(t);

	long_lists();
	comm_sql("curl", " AND comm = 'curl'");
	comm_sql("isc-*", " AND comm LIKE 'isc-%'");
	comm_sql("a?b**", " AND comm LIKE 'a%b%'");
	comm_sql("50%_off*", " AND comm LIKE '50\\x5C%\\x5C_off%'");
	comm_sql("a\\*b", " AND comm LIKE 'a*b'");
	comm_sql("back\\\\slash", " AND comm LIKE 'back\\x5C\\x5Cslash'");
	comm_sql("[ab]*", "");
	comm_sql("tail\\", "");
	comm_sql("it's", " AND comm = 'it\\x27s'");
}

static void masking(void)
{
	char a[] = "http://user:secret@host:8123/", b[] = "https://host:8123/?x=1",
	     c[] = "http://user@host/", d[] = "http://host/p@th:x";

	CHECK_THAT(ch_mask_password(a) && !strcmp(a, "http://user:xxxxxx@host:8123/"));
	CHECK_THAT(!ch_mask_password(b) && !strcmp(b, "https://host:8123/?x=1"));
	CHECK_THAT(!ch_mask_password(c));
	CHECK_THAT(!ch_mask_password(d) && !strcmp(d, "http://host/p@th:x"));
	CHECK_THAT(ch_valid_database("connrec_2") && !ch_valid_database("a.b") &&
		   !ch_valid_database("") && !ch_valid_database("x`y"));
}

int main(void)
{
	tables_fit();
	conn_round_trip();
	hostile_answers();
	literals();
	filters();
	masking();
	return check_done();
}
