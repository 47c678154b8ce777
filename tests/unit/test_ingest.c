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
