// SPDX-License-Identifier: MIT
/*
 * Carrying the open connections of a rotated segment into the next one (docs/store.md,
 * "Segments stand alone"), on the sealing thread: with a million connections open that is
 * a million rows, which must not stall recording.
 *
 * Nothing about them is kept in memory: the rotated segment itself says which connections
 * were open when it was closed (conn rows of this run without an end, neither folded in nor
 * in conn_end), and its rows are copied as they are, schema-agnostically, with
 * CR_FLAG_CARRIED set and the proc rows they use. The copy runs in short transactions while
 * the writer goes on appending to the same file; the order of rows inside a segment does not
 * matter to readers, who join conn and conn_end by id.
 *
 * proc ids stay as they were: the writer numbers the new segment's own proc rows from the
 * rotated segment's next id on (rotate()), so the two never collide. The process lives the
 * carried proc rows name (schema 2: life, life_exit, cgroup) come along, flagged carried, so
 * that a segment still holds every life its flows refer to; life rows get new ids.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>

#include "log.h"
#include "store_internal.h"

/* Rows per transaction: the writer waits at most for one of them. */
#define CARRY_CHUNK 4096

static const char stage_sql[] =
	"CREATE TEMP TABLE IF NOT EXISTS carry AS SELECT * FROM src.conn WHERE 0;"
	"DELETE FROM temp.carry;";

/*
 * One chunk: open conns of this run (id >= ?2) after ?1, in id order. A row's end may be
 * folded in (reason set) or in conn_end; either way it is not open.
 */
static const char chunk_sql[] =
	"INSERT INTO temp.carry SELECT * FROM src.conn c"
	" WHERE c.id > ?1 AND c.id >= ?2 AND c.reason IS NULL"
	" AND NOT EXISTS (SELECT 1 FROM src.conn_end e WHERE e.id = c.id)"
	" ORDER BY c.id LIMIT " CR_SQL(CARRY_CHUNK);

static const char copy_sql[] =
	"UPDATE temp.carry SET flags = flags | " CR_SQL(CR_FLAG_CARRIED) ";"
	"INSERT OR IGNORE INTO main.proc SELECT * FROM src.proc"
	" WHERE id IN (SELECT proc FROM temp.carry);"
	"INSERT OR IGNORE INTO main.conn SELECT * FROM temp.carry;";

static const char stage_lives_sql[] =
	"CREATE TEMP TABLE IF NOT EXISTS carry_life AS SELECT * FROM src.life WHERE 0;"
	"CREATE TEMP TABLE IF NOT EXISTS carry_exit AS SELECT * FROM src.life_exit WHERE 0;";

/*
 * The lives of this chunk's processes that the new segment does not hold yet: every image,
 * the exit, and the cgroups named by the procs and the images. The writer may add the same
 * life meanwhile; a repeated image row reads the same in the views.
 */
static const char copy_lives_sql[] =
	"DELETE FROM temp.carry_life; DELETE FROM temp.carry_exit;"
	"CREATE TEMP VIEW IF NOT EXISTS carry_keys AS SELECT DISTINCT p.pid, p.pstart_ns"
	" FROM src.proc p WHERE p.id IN (SELECT proc FROM temp.carry) AND p.pstart_ns != 0;"
	"INSERT INTO temp.carry_life SELECT l.* FROM temp.carry_keys k"
	" JOIN src.life l ON l.pid = k.pid AND l.pstart_ns = k.pstart_ns"
	" WHERE NOT EXISTS (SELECT 1 FROM main.life m WHERE m.pid = l.pid"
	" AND m.pstart_ns = l.pstart_ns AND m.image_ns = l.image_ns);"
	"INSERT INTO temp.carry_exit SELECT x.* FROM temp.carry_keys k"
	" JOIN src.life_exit x ON x.pid = k.pid AND x.pstart_ns = k.pstart_ns"
	" WHERE NOT EXISTS (SELECT 1 FROM main.life_exit m WHERE m.pid = x.pid"
	" AND m.pstart_ns = x.pstart_ns);"
	"UPDATE temp.carry_life SET id = NULL, flags = flags | " CR_SQL(CR_LIFE_CARRIED) ";"
	"UPDATE temp.carry_exit SET id = NULL;"
	"INSERT OR IGNORE INTO main.cgroup SELECT * FROM src.cgroup WHERE id IN"
	" (SELECT cgroup FROM src.proc WHERE id IN (SELECT proc FROM temp.carry)"
	" UNION SELECT cgroup FROM temp.carry_life);"
	"INSERT INTO main.life SELECT * FROM temp.carry_life;"
	"INSERT INTO main.life_exit SELECT * FROM temp.carry_exit;";

static int64_t pages(sqlite3 *db)
{
	return seg_query_i64(db, "PRAGMA main.page_count", 0);
}

/* One transaction: up to CARRY_CHUNK rows after *last. *n = rows copied. */
static int carry_chunk(sqlite3 *db, sqlite3_stmt *chunk, uint64_t floor, bool lives,
		       int64_t *last, int64_t *n, int64_t *pages_added)
{
	int64_t before;
	int rc;

	*n = 0;
	rc = sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
	if (rc != SQLITE_OK)
		return rc;
	before = pages(db);
	sqlite3_bind_int64(chunk, 1, *last);
	sqlite3_bind_int64(chunk, 2, floor > INT64_MAX ? INT64_MAX : (int64_t)floor);
	rc = sqlite3_step(chunk);
	sqlite3_reset(chunk);
	if (rc == SQLITE_DONE) {
		*n = sqlite3_changes(db);
		*last = seg_query_i64(db, "SELECT coalesce(max(id), 0) FROM temp.carry", *last);
		rc = sqlite3_exec(db, copy_sql, NULL, NULL, NULL);
		if (rc == SQLITE_OK && lives)
			rc = sqlite3_exec(db, copy_lives_sql, NULL, NULL, NULL);
	}
	if (rc == SQLITE_OK || rc == SQLITE_DONE)
		rc = sqlite3_exec(db, "DELETE FROM temp.carry", NULL, NULL, NULL);
	if (rc == SQLITE_OK) {
		*pages_added = pages(db) - before;
		rc = sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
	}
	if (rc != SQLITE_OK)
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
	return rc;
}

int carry_open_conns(struct store *s, uint32_t from, uint32_t to)
{
	char src[PATH_MAX + SEG_NAME_MAX], dst[PATH_MAX + SEG_NAME_MAX];
	int64_t last = 0, n = 0, added = 0, rows = 0, bytes = 0, page_size, t0 = mono_ns();
	bool lives = false;
	sqlite3_stmt *chunk = NULL;
	sqlite3_stmt *attach = NULL;
	sqlite3 *db = NULL;
	int rc, err = 0;

	seg_path(src, sizeof(src), s->dir, from, SEG_RAW);
	seg_path(dst, sizeof(dst), s->dir, to, SEG_RAW);
	rc = sqlite3_open_v2(dst, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL);
	if (rc != SQLITE_OK)
		goto fail;
	/* The writer holds the lock for one flush at a time; wait that long and more. */
	sqlite3_busy_timeout(db, 10000);
	sqlite3_db_config(db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, NULL);
	rc = sqlite3_prepare_v2(db, "ATTACH ?1 AS src", -1, &attach, NULL);
	if (rc == SQLITE_OK) {
		sqlite3_bind_text(attach, 1, src, -1, SQLITE_STATIC);
		rc = sqlite3_step(attach);
		rc = rc == SQLITE_DONE ? SQLITE_OK : rc;
	}
	if (rc == SQLITE_OK)
		rc = sqlite3_exec(db, "PRAGMA temp_store = MEMORY;", NULL, NULL, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_exec(db, stage_sql, NULL, NULL, NULL);
	/* Segments of schema 1 have no lives to carry. */
	lives = seg_query_i64(db, "SELECT count(*) FROM src.sqlite_schema WHERE name = 'life'", 0) &&
		seg_query_i64(db, "SELECT count(*) FROM main.sqlite_schema WHERE name = 'life'", 0);
	if (rc == SQLITE_OK && lives)
		rc = sqlite3_exec(db, stage_lives_sql, NULL, NULL, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_prepare_v2(db, chunk_sql, -1, &chunk, NULL);
	page_size = seg_query_i64(db, "PRAGMA main.page_size", 4096);
	do {
		if (rc != SQLITE_OK)
			break;
		rc = carry_chunk(db, chunk, s->run_id_floor, lives, &last, &n, &added);
		rows += n;
		bytes += added * page_size;
		pthread_mutex_lock(&s->mu);
		s->carry_seq = to;
		s->carry_bytes = bytes;
		pthread_mutex_unlock(&s->mu);
	} while (n == CARRY_CHUNK);
	if (rc != SQLITE_OK)
		goto fail;
	cr_debug("store: carried %" PRId64 " open connections from segment %" PRIu32 " into %" PRIu32
		 " (%" PRId64 " bytes, %.3f s)",
		 rows, from, to, bytes, (double)(mono_ns() - t0) / 1e9);
	pthread_mutex_lock(&s->mu);
	s->stats.carried_rows += (uint64_t)rows;
	s->stats.carry_ns = (uint64_t)(mono_ns() - t0);
	pthread_mutex_unlock(&s->mu);
	goto cleanup;
fail:
	err = seg_sqlite_err(rc);
	cr_warn("store: carrying open connections into segment %" PRIu32 " stopped after %" PRId64
		" rows: %s",
		to, rows, db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
cleanup:
	sqlite3_finalize(chunk);
	sqlite3_finalize(attach);
	sqlite3_close(db);
	return err;
}
