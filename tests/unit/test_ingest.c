// SPDX-License-Identifier: MIT
/*
 * ingest: every flow's start and end reach the store exactly once, whatever the order of
 * OPEN and CLOSE events and wherever the commits fall. Flows open and close in a random
 * interleaving with random commit points; afterwards each id must have one conn row and an
 * end (folded into the row or in conn_end), with the end reason it was given.
 * Also: loss counters that go back (someone wrote the map) become a tamper gap, not a loss.
 */
#include <errno.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "connrec_event.h"
#include "ingest.h"
#include "store.h"

#define NFLOWS 200000
#define OPEN_AT_ONCE 3000

static uint64_t next_id = 1;

static uint64_t new_id(void *ctx)
{
	(void)ctx;
	return next_id++;
}

static void event(struct ingest *g, uint8_t kind, uint64_t id, uint64_t ts, uint8_t reason)
{
	struct cr_event e = { .kind = kind, .conn_id = id, .ts_boot_ns = ts, .proto = 6,
			      .family = 4, .pid = 1, .netns = 1, .lport = (uint16_t)id,
			      .rport = 80, .end_reason = reason };

	e.start_boot_ns = ts;
	if (kind == CR_EV_CLOSE)
		e.flags = CR_FLAG_OPEN_SENT;
	memcpy(e.comm, "t", 2);
	ingest_event(g, &e);
}

static int64_t count_rows(const char *dir, const char *sql)
{
	char path[128];
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	int64_t n = -1;

	snprintf(path, sizeof(path), "%s/seg-00000001.db", dir);
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
	    sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
		n = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return n;
}

static void test_counter_back(void)
{
	char dir[] = "/tmp/connrec-test-ingest-back.XXXXXX", cmd[160];
	struct store_opts so = { .version = "test" };
	uint64_t drops[CR_DROP_MAX] = { 0 };
	struct store *store = NULL;
	struct ingest *g = NULL;

	if (!mkdtemp(dir))
		return;
	so.dir = dir;
	CHECK_THAT(store_open(&store, &so) == 0);
	CHECK_THAT(store && ingest_new(&g, store, new_id, NULL) == 0);
	if (!g)
		return;
	drops[CR_DROP_RINGBUF] = 5;
	CHECK_THAT(ingest_losses(g, drops) == 0);
	drops[CR_DROP_RINGBUF] = 0; /* zeroed from outside */
	CHECK_THAT(ingest_losses(g, drops) == 0);
	drops[CR_DROP_RINGBUF] = 2; /* and counting again from there */
	CHECK_THAT(ingest_losses(g, drops) == 0);
	CHECK_THAT(store_get_stats(store)->tamper_events == 1);
	CHECK_THAT(store_get_stats(store)->lost_events == 7);
	CHECK_THAT(store_flush(store) == 0);
	CHECK_THAT(count_rows(dir, "SELECT count(*) FROM gap WHERE kind = 3 AND reason ="
				   " 'loss counter 0 went back from 5 to 0 (map written from outside)'") ==
		   1);
	CHECK_THAT(count_rows(dir, "SELECT sum(count) FROM gap WHERE kind = 1") == 7);
	CHECK_THAT(count_rows(dir, "SELECT count(*) FROM gap WHERE kind = 1") == 2);
	ingest_free(g);
	CHECK_THAT(store_close(store) == 0);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (!check_failed && system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", dir);
}

static int64_t q1(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *st = NULL;
	int64_t v = -1;

	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

static struct cr_event ev(uint8_t kind, uint8_t proto, uint64_t id, uint64_t ts)
{
	struct cr_event e = { .kind = kind, .proto = proto, .conn_id = id, .ts_boot_ns = ts,
			      .start_boot_ns = ts, .family = 4, .pid = 7, .netns = 11,
			      .lport = 1000, .rport = 80, .direction = CR_DIR_OUT };

	memcpy(e.comm, "t", 2);
	return e;
}

/*
 * Every way a flow reaches the store: a CLOSE carrying the whole flow; an OPEN and its
 * CLOSE in one commit (one row) or in two (a row and a conn_end); UDP ends from the recorder
 * loop, folded or not; a pre-existing connection ended by cookie; a close nobody tracked.
 */
static void test_paths(void)
{
	char dir[] = "/tmp/connrec-test-ingest-paths.XXXXXX", path[128], cmd[160];
	struct store_opts so = { .version = "test" };
	struct store *store = NULL;
	struct ingest *g = NULL;
	struct cr_event e;
	sqlite3 *db = NULL;

	if (!mkdtemp(dir))
		return;
	so.dir = dir;
	next_id = 1000;
	CHECK_THAT(store_open(&store, &so) == 0);
	CHECK_THAT(ingest_new(&g, store, new_id, NULL) == 0);
	if (!g)
		return;
	/* 1: whole flow from its CLOSE. */
	e = ev(CR_EV_CLOSE, 6, 1, 5000);
	e.bytes_out = 10;
	e.bytes_in = 20;
	e.end_reason = CR_END_LOCAL_FIN;
	ingest_event(g, &e);
	/* 2: OPEN and CLOSE in one commit. */
	e = ev(CR_EV_OPEN, 6, 2, 5000);
	ingest_event(g, &e);
	e = ev(CR_EV_CLOSE, 6, 2, 9000);
	e.flags = CR_FLAG_OPEN_SENT;
	e.end_reason = CR_END_PEER_FIN;
	e.bytes_out = 3;
	ingest_event(g, &e);
	/* 3 and 5: OPENs whose ends come after a commit. 4: a UDP flow ended before it. */
	e = ev(CR_EV_OPEN, 6, 3, 5000);
	ingest_event(g, &e);
	e = ev(CR_EV_OPEN, 17, 4, 5000);
	ingest_event(g, &e);
	ingest_udp_end(g, 4, ingest_wall_ns(g, 7000), CR_END_RELEASED, 40, 4);
	e = ev(CR_EV_OPEN, 17, 5, 5000);
	ingest_event(g, &e);
	/* 6: pre-existing, outgoing: its CLOSE comes by cookie, its SYN still in bytes_acked. */
	struct sockdump_entry d = { .proto = 6, .family = 4, .direction = CR_DIR_OUT,
				    .lport = 2000, .rport = 443, .cookie = 777, .pid = 9 };

	CHECK_THAT(ingest_preexisting(g, &d, 6, ingest_wall_ns(g, 4000)) == 0);
	/* A listener on 8080, so an untracked close on that port is an accepted one. */
	e = ev(CR_EV_OPEN, 6, 7, 5000);
	e.direction = CR_DIR_LISTEN;
	e.lport = 8080;
	ingest_event(g, &e);
	CHECK_THAT(ingest_commit(g) == 0);

	e = ev(CR_EV_CLOSE, 6, 3, 9000);
	e.flags = CR_FLAG_OPEN_SENT;
	e.end_reason = CR_END_LOCAL_RST;
	ingest_event(g, &e);
	ingest_udp_end(g, 5, ingest_wall_ns(g, 8000), CR_END_IDLE, 0, 12);
	e = ev(CR_EV_CLOSE, 6, 0, 9000);
	e.cookie = 777;
	e.bytes_out = 5;
	e.end_reason = CR_END_PEER_FIN;
	ingest_event(g, &e);
	/* 8: untracked, unknown cookie, on the listened-on port: stored whole, as accepted. */
	e = ev(CR_EV_CLOSE, 6, 0, 9000);
	e.cookie = 999;
	e.lport = 8080;
	e.end_reason = CR_END_PEER_RST;
	ingest_event(g, &e);
	CHECK_THAT(ingest_commit(g) == 0);
	ingest_free(g);
	CHECK_THAT(store_close(store) == 0);

	snprintf(path, sizeof(path), "%s/seg-00000001.db", dir);
	CHECK_THAT(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK);
	CHECK_THAT(q1(db, "SELECT count(*) FROM conn") == 8);
	CHECK_THAT(q1(db, "SELECT count(*) FROM conn WHERE id = 1 AND reason = 1"
			  " AND bytes_out = 10 AND bytes_in = 20 AND dur_ns = 0") == 1);
	CHECK_THAT(q1(db, "SELECT count(*) FROM conn WHERE id = 2 AND reason = 2"
			  " AND bytes_out = 3 AND dur_ns = 4000") == 1);
	CHECK_THAT(q1(db, "SELECT count(*) FROM conn c JOIN conn_end e USING (id) WHERE id = 3"
			  " AND c.reason IS NULL AND e.reason = 3") == 1);
	/* UDP ends carry the bytes the cgroup_skb programs counted. */
	CHECK_THAT(q1(db, "SELECT count(*) FROM conn WHERE id = 4 AND reason = 7"
			  " AND bytes_out = 40 AND bytes_in = 4 AND dur_ns = 2000") == 1);
	CHECK_THAT(q1(db, "SELECT count(*) FROM conn_end WHERE id = 5 AND reason = 9"
			  " AND bytes_out = 0 AND bytes_in = 12") == 1);
	CHECK_THAT(q1(db, "SELECT count(*) FROM conn_end WHERE id = 6 AND bytes_out = 4") == 1);
	CHECK_THAT(q1(db, "SELECT count(*) FROM conn WHERE id = 1000 AND dir = 1 AND flags & 1"
			  " AND reason = 4") == 1);
	CHECK_THAT(q1(db, "SELECT count(*) FROM conn_end") == 3);
	sqlite3_close(db);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (!check_failed && system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", dir);
}

int main(void)
{
	char dir[] = "/tmp/connrec-test-ingest.XXXXXX";
	struct store_opts so = { .version = "test" };
	static uint64_t open_ids[OPEN_AT_ONCE];
	struct store *store = NULL;
	struct ingest *g = NULL;
	uint64_t ts = 1000, opened = 0;
	size_t nopen = 0;
	char path[128], cmd[160];
	sqlite3 *db = NULL;
	sqlite3_stmt *st;

	test_paths();
	next_id = 1;
	srand(12345);
	if (!mkdtemp(dir))
		return 1;
	so.dir = dir;
	CHECK_THAT(store_open(&store, &so) == 0);
	CHECK_THAT(ingest_new(&g, store, new_id, NULL) == 0);
	if (check_failed)
		return check_done();
	while (opened < NFLOWS || nopen) {
		int r = rand() % 100;

		ts += 1000;
		if (r < 50 && opened < NFLOWS && nopen < OPEN_AT_ONCE) {
			open_ids[nopen++] = new_id(NULL);
			event(g, CR_EV_OPEN, open_ids[nopen - 1], ts, 0);
			opened++;
		} else if (r < 99 && nopen) {
			size_t k = (size_t)rand() % nopen;
			uint64_t id = open_ids[k];

			open_ids[k] = open_ids[--nopen];
			event(g, CR_EV_CLOSE, id, ts, (uint8_t)(1 + id % 2));
		} else {
			CHECK_THAT(ingest_commit(g) == 0);
		}
	}
	CHECK_THAT(ingest_commit(g) == 0);
	ingest_free(g);
	CHECK_THAT(store_close(store) == 0);

	snprintf(path, sizeof(path), "%s/seg-00000001.db", dir);
	CHECK_THAT(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK);
	CHECK_THAT(sqlite3_prepare_v2(db,
				      "SELECT count(*), count(DISTINCT conn_id), "
				      "sum(end_ns IS NULL), sum(reason != 1 + conn_id % 2) FROM flows",
				      -1, &st, NULL) == SQLITE_OK);
	CHECK_THAT(sqlite3_step(st) == SQLITE_ROW);
	CHECK(sqlite3_column_int64(st, 0) == NFLOWS, "rows %lld, want %d",
	      (long long)sqlite3_column_int64(st, 0), NFLOWS);
	CHECK(sqlite3_column_int64(st, 1) == NFLOWS, "distinct ids %lld",
	      (long long)sqlite3_column_int64(st, 1));
	CHECK(sqlite3_column_int64(st, 2) == 0, "flows without end: %lld",
	      (long long)sqlite3_column_int64(st, 2));
	CHECK(sqlite3_column_int64(st, 3) == 0, "flows with another flow's end: %lld",
	      (long long)sqlite3_column_int64(st, 3));
	sqlite3_finalize(st);
	sqlite3_close(db);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (!check_failed && system(cmd) != 0)
		return 1;
	test_counter_back();
	return check_done();
}
