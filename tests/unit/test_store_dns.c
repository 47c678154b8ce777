// SPDX-License-Identifier: MIT
/*
 * DNS rows in the store: written with their records and owner, ids that a reopened store never
 * hands out again, answers still valid carried into the next segment (and the others not),
 * and an active version-3 segment (before DNS) upgraded in place when a newer recorder reopens it, which
 * the evidence reader accepts both before and after.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "check.h"
#include "log.h"
#include "store.h"
#include "store_internal.h"
#include "store_read.h"

static char base[256];

static int64_t q1(const char *db_path, const char *sql)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	int64_t v = -1;

	if (sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
	    sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	else
		fprintf(stderr, "q1(%s): %s\n", sql, db ? sqlite3_errmsg(db) : "?");
	sqlite3_finalize(st);
	sqlite3_close(db);
	return v;
}

static void qtext(const char *db_path, const char *sql, char *out, size_t len)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;

	out[0] = '\0';
	if (sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
	    sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
		snprintf(out, len, "%s", (const char *)sqlite3_column_text(st, 0));
	else
		fprintf(stderr, "qtext(%s): %s\n", sql, db ? sqlite3_errmsg(db) : "?");
	sqlite3_finalize(st);
	sqlite3_close(db);
}

static const struct store_dns_rr chain[] = {
	{ .type = CR_DNS_TYPE_CNAME, .ttl = 60, .name = "www.example.test",
	  .target = "cdn.example.test" },
	{ .type = CR_DNS_TYPE_A, .ttl = 300, .addr = { 10, 99, 0, 9 }, .name = "cdn.example.test" },
	{ .type = CR_DNS_TYPE_AAAA, .ttl = 30, .addr = { 0x20, 0x01, 0x0d, 0xb8, [15] = 9 },
	  .name = "cdn.example.test" },
};

static struct store_dns mk_dns(uint64_t id, int64_t ts, const char *qname, uint16_t rcode,
			       const struct store_dns_rr *rrs, size_t n)
{
	struct store_dns d = { .id = id, .ts_ns = ts, .pid = 4321, .uid = 1000, .netns = 4026532000U,
			       .cgroup = 77, .proto = 17, .family = 4, .lport = 40000, .rport = 53,
			       .txid = 0xbeef, .qtype = CR_DNS_TYPE_A, .rcode = rcode,
			       .qname = qname, .rrs = rrs, .n_rrs = n };

	snprintf(d.comm, sizeof(d.comm), "dig");
	memcpy(d.laddr, "\x0a\x63\x00\x01", 4);
	memcpy(d.raddr, "\x0a\x63\x00\x02", 4);
	return d;
}

static void test_rows(void)
{
	char dir[300], db[400], text[256];
	struct store_opts o = { .version = "test" };
	struct store *s = NULL;
	struct store_dns d;

	snprintf(dir, sizeof(dir), "%s/rows", base);
	snprintf(db, sizeof(db), "%s/seg-00000001.db", dir);
	o.dir = dir;
	CHECK_THAT(store_open(&s, &o) == 0);
	if (!s)
		return;
	d = mk_dns(500, seg_now_ns(), "www.example.test", 0, chain, 3);
	CHECK_THAT(store_add_dns(s, &d) == 0);
	d = mk_dns(501, seg_now_ns(), "nx.example.test", 3, NULL, 0);
	d.pid = d.uid = d.netns = 0;
	d.cgroup = 0;
	d.comm[0] = '\0';
	d.flags = CR_DNS_FLAG_NO_OWNER;
	CHECK_THAT(store_add_dns(s, &d) == 0);
	CHECK_THAT(store_flush(s) == 0);
	CHECK_THAT(store_get_stats(s)->dns_written == 2);
	CHECK_THAT(q1(db, "SELECT count(*) FROM dns") == 2);
	qtext(db,
	      "SELECT (d.ts_ns > 0) || '|' || p.pid || '|' || p.comm || '|' || p.netns || '|' ||"
	      " d.proto || '|' || hex(d.laddr) || '|' || d.lport || '|' || hex(d.raddr) || '|' ||"
	      " d.rport || '|' || d.flags || '|' || d.txid || '|' || d.qname || '|' || d.qtype ||"
	      " '|' || d.rcode FROM dns d JOIN proc p ON p.id = d.proc WHERE d.id = 500",
	      text, sizeof(text));
	CHECK(!strcmp(text, "1|4321|dig|4026532000|17|0A630001|40000|0A630002|53|0|48879|"
			    "www.example.test|1|0"),
	      "dns row: %s", text);
	qtext(db,
	      "SELECT group_concat(type || ':' || name || ':' || ttl || ':' || coalesce(nullif(hex(addr), ''),"
	      " '-') || ':' || coalesce(target, '-'), ' ') FROM (SELECT * FROM dns_answer"
	      " WHERE dns = 500 ORDER BY rowid)",
	      text, sizeof(text));
	CHECK(!strcmp(text, "5:www.example.test:60:-:cdn.example.test "
			    "1:cdn.example.test:300:0A630009:- "
			    "28:cdn.example.test:30:20010DB8000000000000000000000009:-"),
	      "answers: %s", text);
	CHECK_THAT(q1(db, "SELECT count(*) FROM dns_answer WHERE dns = 501") == 0);
	CHECK_THAT(q1(db, "SELECT p.pid + d.flags FROM dns d JOIN proc p ON p.id = d.proc"
			  " WHERE d.id = 501") == CR_DNS_FLAG_NO_OWNER);
	CHECK_THAT(q1(db, "SELECT rcode FROM dns WHERE id = 501") == 3);
	/* Append-only like every event table. */
	{
		sqlite3 *h = NULL;

		CHECK_THAT(sqlite3_open(db, &h) == SQLITE_OK);
		CHECK_THAT(sqlite3_exec(h, "UPDATE dns SET qname = 'x'", NULL, NULL, NULL) != SQLITE_OK);
		CHECK_THAT(sqlite3_exec(h, "DELETE FROM dns_answer", NULL, NULL, NULL) != SQLITE_OK);
		sqlite3_close(h);
	}
	CHECK_THAT(store_close(s) == 0);
	/* A reopened store hands out ids above the DNS rows' too (they share the counter). */
	CHECK_THAT(store_open(&s, &o) == 0);
	if (!s)
		return;
	CHECK(store_next_conn_id(s) == 502, "next id %" PRIu64, store_next_conn_id(s));
	CHECK_THAT(store_close(s) == 0);
}

static struct store_conn mk_conn(uint64_t id)
{
	struct store_conn c = { .id = id, .start_ns = seg_now_ns(), .proto = 6, .family = 4,
				.lport = 40000, .rport = 80, .pid = 9, .has_end = true,
				.reason = CR_END_LOCAL_FIN };

	c.end_ns = c.start_ns + 1000;
	snprintf(c.comm, sizeof(c.comm), "curl");
	return c;
}

static void test_carried(void)
{
	char dir[300], db2[400];
	struct store_opts o = { .version = "test", .rotate_size = 32 << 10,
				.retain_size = UINT64_MAX, .retain_age_ns = -1 };
	struct store *s = NULL;
	struct store_dns d;
	uint64_t id = 1000;
	int64_t now = seg_now_ns();

	snprintf(dir, sizeof(dir), "%s/carry", base);
	snprintf(db2, sizeof(db2), "%s/seg-00000002.db", dir);
	o.dir = dir;
	CHECK_THAT(store_open(&s, &o) == 0);
	if (!s)
		return;
	/* Valid: an address with a long TTL. */
	d = mk_dns(10, now, "www.example.test", 0, chain, 3);
	CHECK_THAT(store_add_dns(s, &d) == 0);
	/* No address: nothing to name a flow with. */
	d = mk_dns(11, now, "nx.example.test", 3, NULL, 0);
	CHECK_THAT(store_add_dns(s, &d) == 0);
	/* Expired: TTL 300 plus the grace ran out long ago. */
	d = mk_dns(12, now - (int64_t)(300 + CR_DNS_GRACE_S + 10) * NS_PER_SEC, "old.example.test",
		   0, chain + 1, 1);
	CHECK_THAT(store_add_dns(s, &d) == 0);
	while (store_get_stats(s)->active_seq < 2 && id < 20000) {
		for (int i = 0; i < 100; i++) {
			struct store_conn c = mk_conn(id++);

			store_add_conn(s, &c);
		}
		CHECK_THAT(store_flush(s) == 0);
	}
	CHECK_THAT(store_get_stats(s)->active_seq == 2);
	CHECK_THAT(q1(db2, "SELECT count(*) FROM dns") == 1);
	CHECK_THAT(q1(db2, "SELECT id FROM dns WHERE flags & 2") == 10);
	CHECK_THAT(q1(db2, "SELECT count(*) FROM dns_answer WHERE dns = 10") == 3);
	CHECK_THAT(q1(db2, "SELECT p.pid FROM dns d JOIN proc p ON p.id = d.proc") == 4321);
	CHECK_THAT(store_close(s) == 0);
}

/* An active segment of schema version 3, as a recorder before DNS left it. */
static void make_v3(const char *dir, const char *db)
{
	struct store_opts o = { .version = "old", .dir = dir };
	struct store *s = NULL;
	struct store_conn c = mk_conn(7);
	sqlite3 *h = NULL;

	CHECK_THAT(store_open(&s, &o) == 0);
	if (!s)
		return;
	store_add_conn(s, &c);
	CHECK_THAT(store_close(s) == 0);
	CHECK_THAT(sqlite3_open(db, &h) == SQLITE_OK);
	CHECK_THAT(sqlite3_exec(h,
				"DROP TABLE dns_answer; DROP TABLE dns; PRAGMA user_version = 3;"
				" UPDATE meta SET value = '3' WHERE key = 'schema_version'",
				NULL, NULL, NULL) == SQLITE_OK);
	sqlite3_close(h);
}

static int count_dns(const struct sr_dns *d, void *ctx)
{
	(void)d;
	++*(int *)ctx;
	return 0;
}

/* Opens db as evidence: its schema version, and how many DNS answers the reader lists. */
static int open_check(const char *db, int *version, int *answers)
{
	struct sr_open_opts oo = { 0 };
	struct sr_segment *seg = NULL;
	char err[256] = "";
	int rc = sr_open(db, &oo, &seg, err, sizeof(err));

	*answers = 0;
	if (rc)
		fprintf(stderr, "sr_open %s: %s\n", db, err);
	else {
		*version = sr_meta(seg)->schema_version;
		rc = sr_dns(seg, SR_NO_TIME, SR_TIME_MAX, count_dns, answers);
	}
	sr_close(seg);
	return rc;
}

static void test_upgrade(void)
{
	char dir[300], db[400], text[64];
	struct store_opts o = { .version = "test" };
	struct store *s = NULL;
	struct store_dns d;
	int version = 0, answers = -1;

	snprintf(dir, sizeof(dir), "%s/upgrade", base);
	snprintf(db, sizeof(db), "%s/seg-00000001.db", dir);
	o.dir = dir;
	make_v3(dir, db);
	CHECK_THAT(q1(db, "PRAGMA user_version") == 3);
	/* The reader takes a version-3 segment as it is: no DNS answers, no error. */
	CHECK_THAT(open_check(db, &version, &answers) == 0 && version == 3 && answers == 0);

	CHECK_THAT(store_open(&s, &o) == 0);
	if (!s)
		return;
	d = mk_dns(100, seg_now_ns(), "www.example.test", 0, chain, 3);
	CHECK_THAT(store_add_dns(s, &d) == 0);
	CHECK_THAT(store_close(s) == 0);
	CHECK_THAT(q1(db, "PRAGMA user_version") == STORE_SCHEMA_VERSION);
	qtext(db, "SELECT value FROM meta WHERE key = 'schema_version'", text, sizeof(text));
	CHECK(atoi(text) == STORE_SCHEMA_VERSION, "meta schema_version %s", text);
	CHECK_THAT(q1(db, "SELECT count(*) FROM conn WHERE id = 7") == 1);
	CHECK_THAT(q1(db, "SELECT count(*) FROM dns") == 1);
	/* Upgraded in place, it has exactly the schema of a new segment. */
	version = 0;
	CHECK_THAT(open_check(db, &version, &answers) == 0 && version == STORE_SCHEMA_VERSION);
	CHECK_THAT(answers == 1);
}

int main(void)
{
	char cmd[400];

	cr_log_set_level(getenv("V") ? CR_LOG_DEBUG : CR_LOG_WARN);
	snprintf(base, sizeof(base), "/tmp/connrec-test-store-dns.XXXXXX");
	if (!mkdtemp(base)) {
		perror("mkdtemp");
		return 1;
	}
	test_rows();
	test_carried();
	test_upgrade();
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", base);
	if (!check_failed && system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", base);
	return check_done();
}
