// SPDX-License-Identifier: MIT
/*
 * The store's writer, single segment: open/add/flush/close/reopen, the directory lock,
 * append-only triggers, the down gap after an unclean exit, and a failed flush that keeps
 * its queue (SQLITE_FULL provoked with PRAGMA max_page_count).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sqlite3.h>

#include "connrec_event.h"
#include "log.h"
#include "anchor.h"
#include "schema.h"
#include "store_read.h"
#include "store.h"
#include "store_dir.h"
#include "store_internal.h"
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

static struct store_conn mk_conn(uint64_t id, uint32_t pid, const char *comm, int family)
{
	struct store_conn c;

	memset(&c, 0, sizeof(c));
	c.id = id;
	c.start_ns = 1700000000000000000LL + (int64_t)id * 1000;
	c.proto = 6;
	c.family = (uint8_t)family;
	c.dir = CR_DIR_OUT;
	c.lport = 40000;
	c.rport = 80;
	c.pid = pid;
	c.uid = 1000;
	c.netns = 4026531840U;
	c.cgroup = 1234;
	snprintf(c.comm, sizeof(c.comm), "%s", comm);
	if (family == 4) {
		memcpy(c.laddr, "\x7f\x00\x00\x01", 4);
		memcpy(c.raddr, "\x7f\x00\x00\x02", 4);
	} else {
		c.laddr[15] = 1;
		c.raddr[15] = 1;
	}
	return c;
}

static void test_basic(void)
{
	char dir[300], db[400];
	struct store_opts o = { .version = "test" };
	struct store *s = NULL, *s2 = NULL;
	struct store_conn c;
	struct store_end e = { .id = 2, .end_ns = 1700000000000005000LL, .bytes_out = 10,
			       .bytes_in = 20, .has_bytes = true, .reason = CR_END_PEER_FIN };
	struct stat st;

	snprintf(dir, sizeof(dir), "%s/basic/sub", base);
	snprintf(db, sizeof(db), "%s/seg-00000001.db", dir);
	o.dir = dir;
	CHECK_THAT(store_open(&s, &o) == 0);
	if (!s)
		return;
	CHECK_THAT(stat(dir, &st) == 0 && (st.st_mode & 0777) == 0700);
	CHECK_THAT(store_next_conn_id(s) == 1);
	c = mk_conn(1, 100, "curl", 4);
	c.has_end = true;
	c.end_ns = c.start_ns + 500;
	c.bytes_out = 5;
	c.bytes_in = 7;
	c.reason = CR_END_LOCAL_FIN;
	CHECK_THAT(store_add_conn(s, &c) == 0);
	c = mk_conn(2, 100, "curl", 6);
	CHECK_THAT(store_add_conn(s, &c) == 0);
	c = mk_conn(3, 200, "python3", 4);
	CHECK_THAT(store_add_conn(s, &c) == 0);
	CHECK_THAT(store_add_end(s, &e) == 0);
	CHECK_THAT(store_add_gap(s, CR_GAP_LOST, 1, 2, 42, "ringbuf") == 0);
	CHECK_THAT(store_get_stats(s)->queued == 0); /* updated by flush */
	CHECK_THAT(store_flush(s) == 0);
	CHECK_THAT(store_get_stats(s)->conns_written == 3);
	CHECK_THAT(store_get_stats(s)->lost_events == 42);

	/* Data is visible to a reader while the recorder runs. */
	CHECK_THAT(q1(db, "SELECT count(*) FROM conn") == 3);
	CHECK_THAT(q1(db, "SELECT count(*) FROM proc") == 2);
	CHECK_THAT(q1(db, "SELECT length(laddr) FROM conn WHERE id = 1") == 4);
	CHECK_THAT(q1(db, "SELECT length(raddr) FROM conn WHERE id = 2") == 16);
	CHECK_THAT(q1(db, "SELECT dur_ns FROM conn WHERE id = 1") == 500);
	CHECK_THAT(q1(db, "SELECT count(*) FROM conn WHERE id = 2 AND dur_ns IS NULL AND reason IS NULL") ==
	      1);
	CHECK_THAT(q1(db, "SELECT bytes_in FROM flows WHERE conn_id = 2") == 20);
	CHECK_THAT(q1(db, "SELECT count FROM gap WHERE kind = 1") == 42);
	CHECK_THAT(q1(db, "SELECT count(*) FROM run WHERE kind = 1") == 1);
	CHECK_THAT(q1(db, "SELECT count(*) FROM meta WHERE key IN ('schema_version', 'segment_id',"
		     " 'host', 'boot_id', 'kernel', 'recorder_version', 'clock_offset_ns',"
		     " 'created_ns')") == 8);
	CHECK_THAT(q1(db, "PRAGMA user_version") == STORE_SCHEMA_VERSION);
	CHECK_THAT(q1(db, "PRAGMA journal_mode = wal") >= -1); /* just opens */

	/* The lock: a second recorder on the same dir is refused. */
	CHECK_THAT(store_open(&s2, &o) == -EBUSY);
	CHECK_THAT(s2 == NULL);

	/* Append-only: the triggers refuse UPDATE and DELETE, REPLACE included. */
	{
		sqlite3 *h = NULL;

		CHECK_THAT(sqlite3_open(db, &h) == SQLITE_OK);
		sqlite3_exec(h, "PRAGMA recursive_triggers=ON", NULL, NULL, NULL);
		CHECK_THAT(sqlite3_exec(h, "UPDATE conn SET lport = 1", NULL, NULL, NULL) != SQLITE_OK);
		CHECK_THAT(sqlite3_exec(h, "DELETE FROM conn", NULL, NULL, NULL) != SQLITE_OK);
		CHECK_THAT(sqlite3_exec(h, "DELETE FROM gap", NULL, NULL, NULL) != SQLITE_OK);
		CHECK_THAT(sqlite3_exec(h, "UPDATE proc SET pid = 1", NULL, NULL, NULL) != SQLITE_OK);
		CHECK_THAT(sqlite3_exec(h, "INSERT OR REPLACE INTO conn_end VALUES(2, 1, 1, 1, 1)", NULL,
				   NULL, NULL) != SQLITE_OK);
		sqlite3_close(h);
	}
	CHECK_THAT(q1(db, "SELECT count(*) FROM conn") == 3);
	CHECK_THAT(store_close(s) == 0);

	/* Reopen: ids continue, a clean stop leaves no down gap. */
	CHECK_THAT(store_open(&s, &o) == 0);
	if (!s)
		return;
	CHECK_THAT(store_next_conn_id(s) == 4);
	c = mk_conn(4, 100, "curl", 4);
	CHECK_THAT(store_add_conn(s, &c) == 0);
	CHECK_THAT(store_close(s) == 0);
	CHECK_THAT(q1(db, "SELECT count(*) FROM gap WHERE kind = 2") == 0);
	CHECK_THAT(q1(db, "SELECT count(*) FROM run WHERE kind = 1") == 2);
	CHECK_THAT(q1(db, "SELECT count(*) FROM run WHERE kind = 2") == 2);
	CHECK_THAT(q1(db, "SELECT count(*) FROM conn") == 4);
	CHECK_THAT(q1(db, "PRAGMA integrity_check") == -1 ? 0 : 1);
}

/* Queues an ended UDP flow (700 ns, released; no byte counts); returns its id. */
static uint64_t add_udp_ended(struct store *s, uint64_t id)
{
	struct store_conn c = mk_conn(id, 100, "dig", 4);

	c.proto = 17;
	c.has_end = true;
	c.end_ns = c.start_ns + 700;
	c.reason = CR_END_RELEASED;
	CHECK_THAT(store_add_conn(s, &c) == 0);
	return id;
}

/*
 * The flush writes conn rows in id order, not queue order: rows queued out of order (as flows
 * end, or reversed) are all stored, and of two rows with one id the first queued is kept.
 */
static void test_order(void)
{
	char dir[300], db[400];
	struct store_opts o = { .version = "test" };
	struct store *s = NULL;
	struct store_conn c;
	uint64_t sum = 0;

	snprintf(dir, sizeof(dir), "%s/order", base);
	snprintf(db, sizeof(db), "%s/seg-00000001.db", dir);
	o.dir = dir;
	CHECK_THAT(store_open(&s, &o) == 0);
	if (!s)
		return;
	/* 45 ids: more than two batches of 16 and a tail; 7 steps through them out of order. */
	for (uint64_t k = 0; k < 45; k++) {
		uint64_t id = 1 + (k * 7) % 45;

		c = mk_conn(id, 100, id == 20 ? "first" : "curl", 4);
		CHECK_THAT(store_add_conn(s, &c) == 0);
		sum += id;
	}
	c = mk_conn(20, 300, "second", 4);
	CHECK_THAT(store_add_conn(s, &c) == 0);
	/* Ended UDP flows have no byte counts: NULL, here (row by row) and below (in bulk). */
	sum += add_udp_ended(s, 2000);
	CHECK_THAT(store_flush(s) == 0);
	CHECK_THAT(store_get_stats(s)->rows_rejected == 1);
	/* Far from order (reversed): more moves than the insertion sort may spend. */
	for (uint64_t id = 1000; id > 500; id--) {
		c = mk_conn(id, 100, "curl", 4);
		CHECK_THAT(store_add_conn(s, &c) == 0);
		sum += id;
	}
	sum += add_udp_ended(s, 2001);
	CHECK_THAT(store_flush(s) == 0);
	/* Mostly recent ids, and a few long flows' ids far below them. */
	for (uint64_t id = 100000; id < 100100; id++) {
		c = mk_conn(id, 100, "curl", 4);
		CHECK_THAT(store_add_conn(s, &c) == 0);
		sum += id;
		if (id % 20 == 0) {
			c = mk_conn(3000 + id % 7, 100, "sshd", 4);
			CHECK_THAT(store_add_conn(s, &c) == 0);
			sum += c.id;
		}
	}
	CHECK_THAT(store_flush(s) == 0);
	CHECK_THAT(store_close(s) == 0);
	CHECK_THAT(q1(db, "SELECT count(*) FROM conn") == 652);
	CHECK_THAT(q1(db, "SELECT count(*) FROM conn WHERE proto = 17 AND dur_ns = 700 AND"
		      " bytes_out IS NULL AND bytes_in IS NULL AND reason = 7") == 2);
	CHECK_THAT(q1(db, "SELECT sum(id) FROM conn") == (int64_t)sum);
	CHECK_THAT(q1(db, "SELECT p.pid FROM conn c JOIN proc p ON p.id = c.proc WHERE c.id = 20") ==
		   100);
}

static void test_unclean(void)
{
	char dir[300], db[400];
	struct store_opts o = { .version = "test" };
	struct store *s = NULL;
	pid_t pid;
	int status = 0;

	snprintf(dir, sizeof(dir), "%s/unclean", base);
	snprintf(db, sizeof(db), "%s/seg-00000001.db", dir);
	o.dir = dir;
	pid = fork();
	if (pid == 0) {
		struct store_conn c = mk_conn(7, 300, "child", 4);

		if (store_open(&s, &o))
			_exit(1);
		store_add_conn(s, &c);
		_exit(store_flush(s) ? 1 : 0); /* no store_close: an unclean exit */
	}
	CHECK_THAT(pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status) &&
	      WEXITSTATUS(status) == 0);
	CHECK_THAT(store_open(&s, &o) == 0);
	if (!s)
		return;
	CHECK_THAT(store_next_conn_id(s) == 8);
	CHECK_THAT(store_close(s) == 0);
	CHECK_THAT(q1(db, "SELECT count(*) FROM gap WHERE kind = 2") == 1);
	/* The gap runs from the child's last write to the new start. */
	CHECK_THAT(q1(db, "SELECT count(*) FROM gap g, run r WHERE g.kind = 2 AND r.id ="
		     " (SELECT min(id) FROM run WHERE kind = 1) AND g.start_ns >= r.ts_ns"
		     " AND g.end_ns >= g.start_ns") == 1);
	CHECK_THAT(q1(db, "SELECT count(*) FROM conn WHERE id = 7") == 1);
}

static void test_full(void)
{
	char dir[300], db[400];
	struct store_opts o = { .version = "test" };
	struct store *s = NULL;
	int64_t pages;
	char sql[128];
	int err = 0, n = 0;

	snprintf(dir, sizeof(dir), "%s/full", base);
	snprintf(db, sizeof(db), "%s/seg-00000001.db", dir);
	o.dir = dir;
	CHECK_THAT(store_open(&s, &o) == 0);
	if (!s)
		return;
	pages = q1(db, "PRAGMA page_count");
	snprintf(sql, sizeof(sql), "PRAGMA max_page_count = %" PRId64, pages + 2);
	CHECK_THAT(sqlite3_exec(store_test_active_db(s), sql, NULL, NULL, NULL) == SQLITE_OK);
	/* Many distinct processes so proc rows are part of the failed transaction. */
	for (int i = 1; i <= 5000; i++) {
		char comm[16];
		struct store_conn c;

		snprintf(comm, sizeof(comm), "p%d", i % 700);
		c = mk_conn((uint64_t)i, (uint32_t)(i % 700), comm, i % 2 ? 4 : 6);
		store_add_conn(s, &c);
	}
	err = store_flush(s);
	CHECK_THAT(err == -ENOSPC);
	CHECK_THAT(store_get_stats(s)->queued == 5000);
	CHECK_THAT(store_get_stats(s)->flush_failures == 1);
	CHECK_THAT(store_flush(s) == -ENOSPC); /* still full: retried, still kept */
	CHECK_THAT(q1(db, "SELECT count(*) FROM conn") == 0);
	CHECK_THAT(sqlite3_exec(store_test_active_db(s), "PRAGMA max_page_count = 1073741823", NULL,
			   NULL, NULL) == SQLITE_OK);
	CHECK_THAT(store_flush(s) == 0);
	CHECK_THAT(store_get_stats(s)->queued == 0);
	n = (int)q1(db, "SELECT count(*) FROM conn");
	CHECK_THAT(n == 5000);
	CHECK_THAT(q1(db, "SELECT count(*) FROM proc") == 700);
	CHECK_THAT(q1(db, "SELECT count(*) FROM conn c LEFT JOIN proc p ON p.id = c.proc"
		     " WHERE p.id IS NULL OR p.comm != 'p' || (c.id % 700)") == 0);
	/* The failure stretch is recorded as a gap with nothing dropped. */
	CHECK_THAT(q1(db, "SELECT count(*) FROM gap WHERE kind = 1 AND count = 0") == 1);
	CHECK_THAT(store_close(s) == 0);
}

/* Beyond max_queued while the store cannot be written, the oldest rows go and are counted. */
static void test_queue_cap(void)
{
	char dir[300], db[400], sql[128];
	struct store_opts o = { .version = "test", .max_queued = 1000 };
	struct store *s = NULL;
	uint64_t dropped;

	snprintf(dir, sizeof(dir), "%s/cap", base);
	snprintf(db, sizeof(db), "%s/seg-00000001.db", dir);
	o.dir = dir;
	CHECK_THAT(store_open(&s, &o) == 0);
	if (!s)
		return;
	snprintf(sql, sizeof(sql), "PRAGMA max_page_count = %" PRId64,
		 q1(db, "PRAGMA page_count") + 1);
	CHECK_THAT(sqlite3_exec(store_test_active_db(s), sql, NULL, NULL, NULL) == SQLITE_OK);
	for (int i = 1; i <= 3000; i++) {
		struct store_conn c = mk_conn((uint64_t)i, 1, "x", 4);

		store_add_conn(s, &c);
		if (i % 500 == 0)
			CHECK_THAT(store_flush(s) == -ENOSPC);
	}
	dropped = store_get_stats(s)->rows_dropped;
	CHECK_THAT(dropped > 0 && store_get_stats(s)->queued <= 1000);
	CHECK_THAT(store_get_stats(s)->lost_events == dropped);
	CHECK_THAT(sqlite3_exec(store_test_active_db(s), "PRAGMA max_page_count = 1073741823", NULL,
			   NULL, NULL) == SQLITE_OK);
	CHECK_THAT(store_flush(s) == 0);
	CHECK_THAT(store_close(s) == 0);
	/* The newest rows are kept; the gap counts exactly the dropped ones. */
	CHECK_THAT(q1(db, "SELECT count(*) FROM conn") == 3000 - (int64_t)dropped);
	CHECK_THAT(q1(db, "SELECT max(id) FROM conn") == 3000);
	CHECK_THAT(q1(db, "SELECT sum(count) FROM gap WHERE kind = 1") == (int64_t)dropped);
}

/*
 * A stop while the store cannot be written: the status file says what the final flush could
 * not store, and the next start records it as a lost gap with that count (and a down gap).
 */
static void test_full_at_stop(void)
{
	char dir[300], db[400], sql[256];
	struct store_opts o = { .version = "test", .max_queued = 1000 };
	struct store_status st;
	struct store *s = NULL;

	snprintf(dir, sizeof(dir), "%s/fullstop", base);
	snprintf(db, sizeof(db), "%s/seg-00000001.db", dir);
	o.dir = dir;
	CHECK_THAT(store_open(&s, &o) == 0);
	if (!s)
		return;
	snprintf(sql, sizeof(sql), "PRAGMA max_page_count = %" PRId64,
		 q1(db, "PRAGMA page_count") + 1);
	CHECK_THAT(sqlite3_exec(store_test_active_db(s), sql, NULL, NULL, NULL) == SQLITE_OK);
	for (int i = 1; i <= 3000; i++) {
		struct store_conn c = mk_conn((uint64_t)i, 1, "x", 4);

		store_add_conn(s, &c);
		if (i % 500 == 0)
			CHECK_THAT(store_flush(s) == -ENOSPC);
	}
	CHECK_THAT(store_get_stats(s)->rows_dropped > 0);
	CHECK_THAT(store_close(s) == -ENOSPC);
	CHECK_THAT(store_status_read(dir, &st) == 0);
	CHECK(!strcmp(st.state, "failed"), "state %s", st.state);
	CHECK(st.unstored_events == 3000, "unstored_events %" PRIu64, st.unstored_events);
	CHECK_THAT(st.failing_since_ns > 0 && st.failing_since_ns <= st.updated_ns);
	CHECK(strstr(st.last_error, "space") != NULL, "last_error %s", st.last_error);
	/* The next start stores them as one lost gap, over the failing stretch. */
	s = NULL;
	CHECK_THAT(store_open(&s, &o) == 0);
	CHECK_THAT(store_close(s) == 0);
	snprintf(sql, sizeof(sql),
		 "SELECT count(*) FROM gap WHERE kind = 1 AND count = 3000 AND start_ns = %" PRId64
		 " AND end_ns = %" PRId64 " AND reason LIKE 'store not writable at the stop%%'",
		 st.failing_since_ns, st.updated_ns);
	CHECK_THAT(q1(db, sql) == 1);
	CHECK_THAT(q1(db, "SELECT count(*) FROM gap WHERE kind = 2 AND reason LIKE"
			  " '%could not write%'") == 1);
	CHECK_THAT(q1(db, "SELECT count(*) FROM conn") == 0);
}

static void read_line(const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "r");

	buf[0] = '\0';
	if (f && fgets(buf, (int)len, f))
		buf[strcspn(buf, "\n")] = '\0';
	if (f)
		fclose(f);
}

static void meta_text(const char *db_path, const char *key, char *buf, size_t len)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;

	buf[0] = '\0';
	if (sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
	    sqlite3_prepare_v2(db, "SELECT value FROM meta WHERE key = ?1", -1, &st, NULL) ==
		    SQLITE_OK) {
		sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
		if (sqlite3_step(st) == SQLITE_ROW)
			snprintf(buf, len, "%s", (const char *)sqlite3_column_text(st, 0));
	}
	sqlite3_finalize(st);
	sqlite3_close(db);
}

/* Every store has one id: made once, in connrec.id and in each segment, kept across restarts. */
static void test_store_id(void)
{
	char dir[300], db[400], idf[400], sock[100], id[80], id2[80], m[160], got[1024];
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct store_opts o = { .version = "test" };
	struct anchor_opts ao = { .socket_path = sock, .facility = ANCHOR_DEFAULT_FACILITY };
	struct store *s = NULL;
	ssize_t n;
	int rfd;

	snprintf(dir, sizeof(dir), "%s/ident", base);
	snprintf(db, sizeof(db), "%s/seg-00000001.db", dir);
	snprintf(idf, sizeof(idf), "%s/connrec.id", dir);
	snprintf(sock, sizeof(sock), "%.80s/log.sock", base);
	memcpy(sa.sun_path, sock, strlen(sock) + 1);
	rfd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	CHECK_THAT(rfd >= 0 && bind(rfd, (struct sockaddr *)&sa, sizeof(sa)) == 0);
	CHECK_THAT(anchor_open(&o.anchor, &ao) == 0);
	o.dir = dir;
	CHECK_THAT(store_open(&s, &o) == 0);
	CHECK_THAT(store_close(s) == 0);
	read_line(idf, id, sizeof(id));
	meta_text(db, "store_id", m, sizeof(m));
	CHECK(store_id_valid(id) && !strcmp(id, m), "id file '%s', meta '%s'", id, m);

	/* The start and stop lines name the store and the segment. */
	n = recv(rfd, got, sizeof(got) - 1, MSG_DONTWAIT);
	got[n > 0 ? n : 0] = '\0';
	snprintf(m, sizeof(m), "store=%s kind=start seg=1 pid=", id);
	CHECK(strstr(got, m) != NULL, "start line: %s", got);
	/* Then the last checkpoint, then the stop. */
	do {
		n = recv(rfd, got, sizeof(got) - 1, MSG_DONTWAIT);
		got[n > 0 ? n : 0] = '\0';
	} while (n > 0 && !strstr(got, "kind=stop"));
	CHECK(strstr(got, "kind=stop seg=1 pid=") != NULL, "stop line: %s", got);
	anchor_close(o.anchor);
	o.anchor = NULL;
	close(rfd);

	/* Lost file: the segment still knows it. */
	unlink(idf);
	CHECK_THAT(store_open(&s, &o) == 0);
	CHECK_THAT(store_close(s) == 0);
	read_line(idf, id2, sizeof(id2));
	CHECK(!strcmp(id, id2), "restored id '%s', was '%s'", id2, id);

	/* Another store, another id. */
	snprintf(dir, sizeof(dir), "%s/ident2", base);
	snprintf(idf, sizeof(idf), "%s/connrec.id", dir);
	CHECK_THAT(store_open(&s, &o) == 0);
	CHECK_THAT(store_close(s) == 0);
	read_line(idf, id2, sizeof(id2));
	CHECK(store_id_valid(id2) && strcmp(id, id2), "second store's id '%s'", id2);
}

/* A version-1 segment: readable as it is; an active one is brought to this version on open. */
static void test_migrate(void)
{
	char dir[300], db[400], err[256], boot[64], *sql;
	struct store_opts o = { .version = "test" };
	struct store *s = NULL;
	struct sr_segment *seg = NULL;
	struct sr_open_opts ro = { 0 };
	sqlite3 *h = NULL;

	snprintf(dir, sizeof(dir), "%s/migrate", base);
	snprintf(db, sizeof(db), "%s/seg-00000001.db", dir);
	mkdir(dir, 0700);
	CHECK_THAT(sqlite3_open(db, &h) == SQLITE_OK);
	CHECK_THAT(sqlite3_exec(h, schema_sql[0], NULL, NULL, NULL) == SQLITE_OK);
	read_line("/proc/sys/kernel/random/boot_id", boot, sizeof(boot));
	sql = sqlite3_mprintf("INSERT INTO meta VALUES ('schema_version', '1'), ('segment_id', '1'),"
			      " ('created_ns', '1'), ('boot_id', %Q)", boot);
	CHECK_THAT(sqlite3_exec(h, sql, NULL, NULL, NULL) == SQLITE_OK);
	sqlite3_free(sql);
	CHECK_THAT(sqlite3_exec(h,
				"INSERT INTO proc VALUES (1, 10, 'x', 0, 1, 1);"
				" INSERT INTO conn(id, start_ns, proto, family, dir, laddr, lport, raddr,"
				" rport, proc, flags) VALUES (7, 5, 6, 4, 0, x'7f000001', 1, x'7f000001',"
				" 2, 1, 0);",
				NULL, NULL, NULL) == SQLITE_OK);
	sqlite3_close(h);
	CHECK(sr_open(db, &ro, &seg, err, sizeof(err)) == 0, "version 1 readable: %s", err);
	sr_close(seg);
	CHECK_THAT(q1(db, "PRAGMA user_version") == 1);

	o.dir = dir;
	CHECK_THAT(store_open(&s, &o) == 0);
	CHECK_THAT(store_next_conn_id(s) == 8);
	CHECK_THAT(store_close(s) == 0);
	CHECK_THAT(q1(db, "PRAGMA user_version") == STORE_SCHEMA_VERSION);
	CHECK_THAT(q1(db, "SELECT value FROM meta WHERE key = 'schema_version'") ==
		   STORE_SCHEMA_VERSION);
	CHECK_THAT(q1(db, "SELECT count(*) FROM anchor WHERE kind = 'checkpoint'") == 1);
	CHECK_THAT(q1(db, "SELECT count(*) FROM conn") == 1);
	seg = NULL;
	CHECK(sr_open(db, &ro, &seg, err, sizeof(err)) == 0, "migrated readable: %s", err);
	sr_close(seg);
}

int main(void)
{
	char cmd[400];

	cr_log_set_level(getenv("V") ? CR_LOG_DEBUG : CR_LOG_WARN);
	snprintf(base, sizeof(base), "/tmp/connrec-test-store.XXXXXX");
	if (!mkdtemp(base)) {
		perror("mkdtemp");
		return 1;
	}
	test_basic();
	test_order();
	test_unclean();
	test_full();
	test_queue_cap();
	test_full_at_stop();
	test_store_id();
	test_migrate();
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", base);
	if (!check_failed && system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", base);
	return check_done();
}
