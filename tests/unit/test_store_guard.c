// SPDX-License-Identifier: MIT
/*
 * The segment-identity check (store/store_guard.c): store_check_files() finds the active
 * segment's files removed or replaced, and the data dir removed or replaced; it saves the old
 * segment's rows, goes on in a new segment, keeps other people's files, says each event once
 * as a tamper gap, and finds nothing when nothing changed.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#include "log.h"
#include "store.h"
#include "store_internal.h"
#include "store_verify.h"
#include "check.h"

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

static struct store_conn mk_conn(uint64_t id, bool ended)
{
	struct store_conn c;

	memset(&c, 0, sizeof(c));
	c.id = id;
	c.start_ns = seg_now_ns();
	c.proto = CR_PROTO_TCP;
	c.family = CR_FAMILY_V4;
	c.dir = CR_DIR_OUT;
	c.lport = (uint16_t)(40000 + id);
	c.rport = 80;
	c.pid = 100;
	snprintf(c.comm, sizeof(c.comm), "curl");
	memcpy(c.laddr, "\x7f\x00\x00\x01", 4);
	memcpy(c.raddr, "\x7f\x00\x00\x02", 4);
	if (ended) {
		c.has_end = true;
		c.end_ns = c.start_ns + 1000;
		c.reason = CR_END_LOCAL_FIN;
	}
	return c;
}

static void add_conns(struct store *s, uint64_t from, uint64_t to)
{
	for (uint64_t id = from; id <= to; id++) {
		struct store_conn c = mk_conn(id, id != from); /* the first one stays open */

		CHECK_THAT(store_add_conn(s, &c) == 0);
	}
}

static void seg_file(char *buf, size_t len, const char *dir, uint32_t seq, const char *sfx)
{
	snprintf(buf, len, "%s/seg-%08" PRIu32 ".db%s", dir, seq, sfx);
}

static bool exists(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0;
}

/* How many files in DIR have a name starting with PREFIX; the path of the last one in PATH. */
static int find_prefixed(const char *dir, const char *prefix, char *path, size_t len)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int n = 0;

	if (!d)
		return -1;
	while ((de = readdir(d))) {
		if (strncmp(de->d_name, prefix, strlen(prefix)))
			continue;
		n++;
		if (path)
			snprintf(path, len, "%s/%s", dir, de->d_name);
	}
	closedir(d);
	return n;
}

/* The tamper gaps of segment SEQ whose reason contains TEXT. */
static int64_t tamper_gaps(const char *dir, uint32_t seq, const char *text)
{
	char db[600], sql[300];

	seg_file(db, sizeof(db), dir, seq, "");
	snprintf(sql, sizeof(sql),
		 "SELECT count(*) FROM gap WHERE kind = %d AND count = 0 AND start_ns <= end_ns"
		 " AND instr(reason, '%s') > 0",
		 CR_GAP_TAMPER, text);
	return q1(db, sql);
}

/* verify's findings as lines: "SEGMENT STATE N conns", "gap KIND REASON", "FAIL ...". */
static void verify_lines(void *ctx, const struct verify_item *it)
{
	switch (it->kind) {
	case VERIFY_SEGMENT:
		fprintf(ctx, "%s  %s  %" PRId64 " conns\n", it->segment, it->state, it->conns);
		break;
	case VERIFY_GAP:
		fprintf(ctx, "gap %s %s\n", sr_gap_kind_name(it->gap->kind), it->gap->reason);
		break;
	case VERIFY_PROBLEM:
		fprintf(ctx, "FAIL %s: %s\n", it->segment, it->message);
		break;
	case VERIFY_SUMMARY:
		fprintf(ctx, "%d tamper gaps\n", it->tampers);
		break;
	default:
		break;
	}
}

/* `connrec verify` of DIR: its exit value, and its findings in OUT. */
static int verify(const char *dir, char *out, size_t len)
{
	char *buf = NULL, err[256];
	size_t n = 0;
	FILE *f = open_memstream(&buf, &n);
	int rc;

	if (!f)
		return -1;
	rc = store_verify(dir, NULL, 0, NULL, verify_lines, f, err, sizeof(err));
	fclose(f);
	snprintf(out, len, "%s", buf ? buf : "");
	free(buf);
	return rc;
}

static bool lock_is_held(const char *dir)
{
	char path[600];
	int fd, busy;

	snprintf(path, sizeof(path), "%s/%s", dir, STORE_LOCK_NAME);
	fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return false;
	/* flock conflicts between two open files even within one process. */
	busy = flock(fd, LOCK_EX | LOCK_NB) && errno == EWOULDBLOCK;
	close(fd);
	return busy;
}

static void test_segment_removed(void)
{
	char dir[300], p[600], report[8192];
	struct store_opts o = { .version = "test" };
	struct store *s = NULL;

	snprintf(dir, sizeof(dir), "%s/removed", base);
	o.dir = dir;
	CHECK_THAT(store_open(&s, &o) == 0);
	if (!s)
		return;
	add_conns(s, 1, 3);
	CHECK_THAT(store_flush(s) == 0);
	CHECK_THAT(store_check_files(s) == 0);

	/* The intruder's `rm DIR/seg-*.db*`, then rows that are still in memory. */
	for (const char *const *sfx = (const char *const[]){ "", "-wal", "-shm", NULL }; *sfx;
	     sfx++) {
		seg_file(p, sizeof(p), dir, 1, *sfx);
		CHECK(unlink(p) == 0, "unlink %s: %s", p, strerror(errno));
	}
	add_conns(s, 4, 5);
	CHECK_THAT(store_check_files(s) == 1);
	CHECK_THAT(store_get_stats(s)->tamper_events == 1);
	CHECK_THAT(store_get_stats(s)->active_seq == 2);
	CHECK_THAT(store_flush(s) == 0);
	/* Healed once is healed: the new segment's files are what the next check expects. */
	CHECK_THAT(store_check_files(s) == 0);
	CHECK_THAT(store_get_stats(s)->tamper_events == 1);

	seg_file(p, sizeof(p), dir, 2, "");
	CHECK_THAT(tamper_gaps(dir, 2, "active segment seg-00000001.db removed") == 1);
	CHECK_THAT(tamper_gaps(dir, 2, "rows saved back into seg-00000001.db") == 1);
	CHECK_THAT(q1(p, "SELECT count(*) FROM conn WHERE id IN (4, 5) AND flags = 0") == 2);
	CHECK_THAT(find_prefixed(dir, "seg-00000001.db.rescue", NULL, 0) == 0);
	CHECK_THAT(store_close(s) == 0);
	/*
	 * The connection still open was carried, as at a rotation: by the sealing thread, which
	 * store_close lets finish.
	 */
	CHECK_THAT(q1(p, "SELECT count(*) FROM conn WHERE id = 1 AND flags = 2") == 1);

	/* The saved copy was sealed into the chain: verify finds everything in place. */
	CHECK_THAT(verify(dir, report, sizeof(report)) == 0);
	CHECK(strstr(report, "seg-00000001.db.zst  sealed  3 conns"),
	      "verify report: %s", report);
	CHECK(strstr(report, "gap tamper active segment seg-00000001.db removed") &&
		      strstr(report, "\n1 tamper gaps"), "verify report: %s",
	      report);
}

static void test_segment_replaced(void)
{
	char dir[300], p[600], foreign[600], aside[700], report[8192];
	struct store_opts o = { .version = "test" };
	struct store *s = NULL;
	sqlite3 *db = NULL;

	snprintf(dir, sizeof(dir), "%s/replaced", base);
	o.dir = dir;
	CHECK_THAT(store_open(&s, &o) == 0);
	if (!s)
		return;
	add_conns(s, 1, 3);
	CHECK_THAT(store_flush(s) == 0);

	/* Another SQLite file moved over the active segment. */
	snprintf(foreign, sizeof(foreign), "%s/foreign.db", base);
	CHECK_THAT(sqlite3_open(foreign, &db) == SQLITE_OK);
	CHECK_THAT(sqlite3_exec(db, "CREATE TABLE planted(x); INSERT INTO planted VALUES(7);",
				NULL, NULL, NULL) == SQLITE_OK);
	sqlite3_close(db);
	seg_file(p, sizeof(p), dir, 1, "");
	CHECK_THAT(rename(foreign, p) == 0);
	CHECK_THAT(store_check_files(s) == 1);
	CHECK_THAT(store_flush(s) == 0);
	CHECK_THAT(tamper_gaps(dir, 2, "active segment seg-00000001.db replaced") == 1);
	/* Ours is back under its name, the planted file is kept beside it, not deleted. */
	CHECK_THAT(find_prefixed(dir, "seg-00000001.db.replaced-", aside, sizeof(aside)) == 1);
	CHECK_THAT(q1(aside, "SELECT x FROM planted") == 7);
	CHECK_THAT(store_close(s) == 0);
	CHECK_THAT(verify(dir, report, sizeof(report)) == 0);
	CHECK(strstr(report, "seg-00000001.db.zst  sealed  3 conns"),
	      "verify report: %s", report);
}

static void test_wal_removed(void)
{
	char dir[300], p[600], report[8192];
	struct store_opts o = { .version = "test" };
	struct store *s = NULL;

	snprintf(dir, sizeof(dir), "%s/wal", base);
	o.dir = dir;
	CHECK_THAT(store_open(&s, &o) == 0);
	if (!s)
		return;
	add_conns(s, 1, 3);
	CHECK_THAT(store_flush(s) == 0);
	/* Only the WAL, where the committed rows still are: a crash now would lose them. */
	seg_file(p, sizeof(p), dir, 1, "-wal");
	CHECK_THAT(unlink(p) == 0);
	CHECK_THAT(store_check_files(s) == 1);
	CHECK_THAT(store_flush(s) == 0);
	CHECK_THAT(tamper_gaps(dir, 2, "active segment seg-00000001.db-wal removed") == 1);
	CHECK_THAT(store_close(s) == 0);
	CHECK_THAT(verify(dir, report, sizeof(report)) == 0);
	CHECK(strstr(report, "seg-00000001.db.zst  sealed  3 conns"),
	      "verify report: %s", report);
}

static void test_dir_replaced(void)
{
	char dir[300], old[320], p[600];
	struct store_opts o = { .version = "test" };
	struct store *s = NULL;

	snprintf(dir, sizeof(dir), "%s/moved", base);
	snprintf(old, sizeof(old), "%s/moved.old", base);
	o.dir = dir;
	CHECK_THAT(store_open(&s, &o) == 0);
	if (!s)
		return;
	add_conns(s, 1, 3);
	CHECK_THAT(store_flush(s) == 0);
	CHECK_THAT(rename(dir, old) == 0);
	add_conns(s, 4, 4);
	CHECK_THAT(store_check_files(s) == 1);
	CHECK_THAT(store_flush(s) == 0);
	/* The dir is made again, locked, and holds the saved segment and the new one. */
	CHECK_THAT(lock_is_held(dir));
	seg_file(p, sizeof(p), dir, 2, "");
	CHECK_THAT(tamper_gaps(dir, 2, "data dir removed") == 1);
	CHECK_THAT(q1(p, "SELECT count(*) FROM conn WHERE id = 4") == 1);
	seg_file(p, sizeof(p), dir, 1, "");
	CHECK_THAT(exists(p) || (seg_file(p, sizeof(p), dir, 1, ".zst"), exists(p)));
	CHECK_THAT(store_close(s) == 0);
}

static void test_lock_removed(void)
{
	char dir[300], p[600];
	struct store_opts o = { .version = "test" };
	struct store *s = NULL;

	snprintf(dir, sizeof(dir), "%s/lock", base);
	o.dir = dir;
	CHECK_THAT(store_open(&s, &o) == 0);
	if (!s)
		return;
	snprintf(p, sizeof(p), "%s/%s", dir, STORE_LOCK_NAME);
	CHECK_THAT(unlink(p) == 0);
	CHECK_THAT(!lock_is_held(dir));
	CHECK_THAT(store_check_files(s) == 1);
	CHECK_THAT(lock_is_held(dir));
	CHECK_THAT(store_check_files(s) == 0);
	CHECK_THAT(store_flush(s) == 0);
	/* Only the lock: the segment stays the active one. */
	CHECK_THAT(store_get_stats(s)->active_seq == 1);
	CHECK_THAT(tamper_gaps(dir, 1, "lock file connrec.lock removed; locked again") == 1);
	CHECK_THAT(store_close(s) == 0);
}

/* A problem that cannot be healed at once is said once, retried, and said again when healed. */
static void test_heal_later(void)
{
	char dir[300], old[320];
	struct store_opts o = { .version = "test" };
	struct store *s = NULL;
	int fd;

	snprintf(dir, sizeof(dir), "%s/later", base);
	snprintf(old, sizeof(old), "%s/later.old", base);
	o.dir = dir;
	CHECK_THAT(store_open(&s, &o) == 0);
	if (!s)
		return;
	add_conns(s, 1, 2);
	CHECK_THAT(store_flush(s) == 0);
	CHECK_THAT(rename(dir, old) == 0);
	fd = open(dir, O_CREAT | O_WRONLY | O_CLOEXEC, 0600); /* a file where the dir was */
	CHECK_THAT(fd >= 0);
	close(fd);
	CHECK_THAT(store_check_files(s) < 0);
	CHECK_THAT(store_check_files(s) < 0);
	CHECK_THAT(store_get_stats(s)->tamper_events == 1);
	CHECK_THAT(unlink(dir) == 0);
	CHECK_THAT(store_check_files(s) == 1);
	CHECK_THAT(store_get_stats(s)->tamper_events == 2);
	CHECK_THAT(store_flush(s) == 0);
	CHECK_THAT(tamper_gaps(dir, 2, "cannot heal yet") == 1);
	CHECK_THAT(tamper_gaps(dir, 2, "rows saved back into seg-00000001.db") == 1);
	CHECK_THAT(store_close(s) == 0);
}

static void test_untouched(void)
{
	char dir[300];
	struct store_opts o = { .version = "test" };
	struct store *s = NULL;

	snprintf(dir, sizeof(dir), "%s/untouched", base);
	o.dir = dir;
	CHECK_THAT(store_open(&s, &o) == 0);
	if (!s)
		return;
	for (int i = 0; i < 5; i++) {
		add_conns(s, (uint64_t)i * 3 + 1, (uint64_t)i * 3 + 3);
		CHECK_THAT(store_flush(s) == 0);
		CHECK_THAT(store_check_files(s) == 0);
	}
	CHECK_THAT(store_get_stats(s)->tamper_events == 0);
	CHECK_THAT(store_get_stats(s)->active_seq == 1);
	CHECK_THAT(store_close(s) == 0);
}

int main(void)
{
	char cmd[400];

	cr_log_set_level(getenv("V") ? CR_LOG_DEBUG : CR_LOG_ERROR);
	snprintf(base, sizeof(base), "/tmp/connrec-test-guard.XXXXXX");
	if (!mkdtemp(base)) {
		perror("mkdtemp");
		return 1;
	}
	test_untouched();
	test_segment_removed();
	test_segment_replaced();
	test_wal_removed();
	test_dir_replaced();
	test_lock_removed();
	test_heal_later();
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", base);
	if (!check_failed && system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", base);
	return check_done();
}
