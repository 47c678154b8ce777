// SPDX-License-Identifier: MIT
/*
 * Process lives in the store (schema/002): one row per fork+exec, exits folded or in
 * life_exit, two lives of one pid kept apart, a failed flush written again exactly once,
 * lives carried into the segment that refers to them, cgroups named once per segment, the
 * upgrade of a version-1 active segment, and a new segment after a reboot.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#include "check.h"
#include "sqlq.h"
#include "log.h"
#include "schema.h"
#include "store.h"
#include "store_internal.h"
#include "store_read.h"
#include "store_verify.h"

#define T0 1700000000000000000LL

static char base[256];



static void seg_path_of(char *buf, size_t len, const char *dir, int seq)
{
	snprintf(buf, len, "%s/seg-%08d.db", dir, seq);
}

static struct store_life mk_life(uint32_t pid, uint64_t pstart, uint32_t ppid, uint64_t ppstart,
				 const char *comm)
{
	struct store_life l;

	memset(&l, 0, sizeof(l));
	l.pid = pid;
	l.pstart_ns = pstart;
	l.ppid = ppid;
	l.ppstart_ns = ppstart;
	l.uid = 1000;
	l.cgroup = 77;
	l.start_ns = T0 + (int64_t)pstart;
	l.image_ns = l.start_ns;
	snprintf(l.comm, sizeof(l.comm), "%s", comm);
	snprintf(l.pcomm, sizeof(l.pcomm), "parent");
	return l;
}

static int cgroup_calls;

static void name_cgroup(void *ctx, uint64_t id, struct store_cgroup *out)
{
	(void)ctx;
	cgroup_calls++;
	memset(out, 0, sizeof(*out));
	snprintf(out->path, sizeof(out->path), "/system.slice/unit%" PRIu64 ".service", id);
	snprintf(out->unit, sizeof(out->unit), "unit%" PRIu64 ".service", id);
	snprintf(out->container, sizeof(out->container), "c%" PRIu64, id);
}

static void test_rows(void)
{
	char dir[300], db[400], s1[300];
	struct store_opts o = { .version = "test", .cgroup_name = name_cgroup };
	struct store *s = NULL;
	struct store_life l;

	snprintf(dir, sizeof(dir), "%s/rows", base);
	seg_path_of(db, sizeof(db), dir, 1);
	o.dir = dir;
	CHECK_THAT(store_open(&s, &o) == 0);
	if (!s)
		return;
	/* The shell, found at start. */
	l = mk_life(100, 10, 1, 1, "bash");
	l.flags = CR_LIFE_SEEDED;
	l.exe = "/bin/bash";
	l.args = "bash -i";
	CHECK_THAT(store_life_begin(s, &l) == 0);
	/* It forks a child that execs curl and exits, all before the next flush. */
	l = mk_life(200, 20, 100, 10, "bash");
	CHECK_THAT(store_life_begin(s, &l) == 0);
	l.image_ns = l.start_ns + 5;
	l.flags = CR_LIFE_EXEC;
	snprintf(l.comm, sizeof(l.comm), "curl");
	l.exe = "/usr/bin/curl";
	l.args = "curl http://x";
	CHECK_THAT(store_life_exec(s, &l) == 0);
	CHECK_THAT(store_life_exit(s, 200, 20, T0 + 999, 0) == 0);
	/* A forked worker that never execs: the parent's image. */
	l = mk_life(300, 30, 100, 10, "bash");
	CHECK_THAT(store_life_begin(s, &l) == 0);
	CHECK_THAT(store_flush(s) == 0);

	CHECK_THAT(q1(db, "SELECT count(*) FROM life") == 3);
	CHECK_THAT(q1(db, "SELECT count(*) FROM life WHERE pid = 200") == 1);
	qs(db, "SELECT exe || '|' || args || '|' || comm || '|' || ppid || '|' || pcomm || '|' ||"
	       " start_ns || '|' || image_ns || '|' || exit_ns || '|' || flags FROM life WHERE pid = 200",
	   s1, sizeof(s1));
	CHECK(!strcmp(s1, "/usr/bin/curl|curl http://x|curl|100|parent|1700000000000000020|"
			  "1700000000000000025|1700000000000000999|4"),
	      "fork+exec+exit row: %s", s1);
	qs(db, "SELECT exe || '|' || args || '|' || flags FROM life WHERE pid = 300", s1, sizeof(s1));
	CHECK(!strcmp(s1, "/bin/bash|bash -i|0"), "forked worker: %s", s1);
	CHECK_THAT(q1(db, "SELECT flags FROM life WHERE pid = 100") == CR_LIFE_SEEDED);
	CHECK_THAT(q1(db, "SELECT count(*) FROM life_exit") == 0);
	/* One cgroup, named once. */
	CHECK_THAT(cgroup_calls == 1);
	qs(db, "SELECT path || '|' || container || '|' || unit FROM cgroup WHERE id = 77", s1,
	   sizeof(s1));
	CHECK(!strcmp(s1, "/system.slice/unit77.service|c77|unit77.service"), "cgroup row: %s", s1);
	qs(db, "SELECT unit FROM lives WHERE pid = 300", s1, sizeof(s1));
	CHECK(!strcmp(s1, "unit77.service"), "lives view: %s", s1);

	/* The worker execs after its fork image is stored: a second row; then it exits. */
	l = mk_life(300, 30, 100, 10, "python3");
	l.image_ns = l.start_ns + 100;
	l.flags = CR_LIFE_EXEC;
	l.exe = "/usr/bin/python3";
	l.args = "python3 -c 'print(1)'";
	CHECK_THAT(store_life_exec(s, &l) == 0);
	CHECK_THAT(store_flush(s) == 0);
	CHECK_THAT(store_life_exit(s, 300, 30, T0 + 5000, 256) == 0);
	CHECK_THAT(store_flush(s) == 0);
	CHECK_THAT(q1(db, "SELECT count(*) FROM life WHERE pid = 300") == 2);
	CHECK_THAT(q1(db, "SELECT count(*) FROM life WHERE pid = 300 AND exit_ns IS NOT NULL") == 0);
	CHECK_THAT(q1(db, "SELECT exit_code FROM life_exit WHERE pid = 300 AND pstart_ns = 30") ==
		   256);
	CHECK_THAT(q1(db, "SELECT count(*) FROM lives WHERE pid = 300 AND exit_ns = " "1700000000000005000") == 2);

	/* A reused pid: another life of pid 200 stays apart from the first. */
	l = mk_life(200, 40, 100, 10, "bash");
	CHECK_THAT(store_life_begin(s, &l) == 0);
	l.flags = CR_LIFE_EXEC;
	l.image_ns = l.start_ns + 1;
	l.exe = "/usr/bin/wget";
	l.args = "wget x";
	CHECK_THAT(store_life_exec(s, &l) == 0);
	CHECK_THAT(store_life_exit(s, 200, 40, T0 + 7000, 0) == 0);
	CHECK_THAT(store_life_exit(s, 200, 40, T0 + 8000, 0) == 0); /* repeated: ignored */
	CHECK_THAT(store_flush(s) == 0);
	CHECK_THAT(q1(db, "SELECT count(*) FROM life WHERE pid = 200") == 2);
	qs(db, "SELECT group_concat(pstart_ns || ':' || exe || ':' || exit_ns, ',') FROM"
	       " (SELECT * FROM life WHERE pid = 200 ORDER BY pstart_ns)",
	   s1, sizeof(s1));
	CHECK(!strcmp(s1, "20:/usr/bin/curl:1700000000000000999,40:/usr/bin/wget:1700000000000007000"),
	      "pid reuse: %s", s1);
	/* An exit of a life never seen begin: a life_exit row of its own. */
	CHECK_THAT(store_life_exit(s, 999, 99, T0 + 9000, 9) == 0);
	CHECK_THAT(store_flush(s) == 0);
	CHECK_THAT(q1(db, "SELECT count(*) FROM life_exit WHERE pid = 999 AND exit_code = 9") == 1);
	CHECK_THAT(store_get_stats(s)->lives_written == 5);
	CHECK_THAT(store_close(s) == 0);
}

/* A flush that fails (disk full) writes its lives again, exactly once, when it succeeds. */
static void test_rollback(void)
{
	char dir[300], db[400], sql[128];
	struct store_opts o = { .version = "test", .cgroup_name = name_cgroup };
	struct store *s = NULL;

	snprintf(dir, sizeof(dir), "%s/rollback", base);
	seg_path_of(db, sizeof(db), dir, 1);
	o.dir = dir;
	CHECK_THAT(store_open(&s, &o) == 0);
	if (!s)
		return;
	snprintf(sql, sizeof(sql), "PRAGMA max_page_count = %" PRId64,
		 q1(db, "PRAGMA page_count") + 1);
	CHECK_THAT(sqlite3_exec(store_test_active_db(s), sql, NULL, NULL, NULL) == SQLITE_OK);
	cgroup_calls = 0;
	for (uint32_t i = 1; i <= 3000; i++) {
		struct store_life l = mk_life(i, i, 1, 1, "w");

		l.cgroup = i % 5;
		l.exe = "/bin/w";
		l.args = "w --with-a-long-argument-to-fill-pages";
		CHECK_THAT(store_life_begin(s, &l) == 0);
		if (i % 3 == 0)
			store_life_exit(s, i, i, T0 + i, 0);
	}
	CHECK_THAT(store_flush(s) == -ENOSPC);
	CHECK_THAT(store_flush(s) == -ENOSPC);
	CHECK_THAT(sqlite3_exec(store_test_active_db(s), "PRAGMA max_page_count = 1073741823", NULL,
				NULL, NULL) == SQLITE_OK);
	CHECK_THAT(store_flush(s) == 0);
	CHECK_THAT(q1(db, "SELECT count(*) FROM life") == 3000);
	CHECK_THAT(q1(db, "SELECT count(DISTINCT pid) FROM life") == 3000);
	CHECK_THAT(q1(db, "SELECT count(*) FROM life WHERE exit_ns IS NOT NULL") == 1000);
	CHECK_THAT(q1(db, "SELECT count(*) FROM cgroup") == 5);
	CHECK_THAT(cgroup_calls == 5); /* named once each, though written in a retried flush */
	CHECK_THAT(store_close(s) == 0);
}

/* A later segment that refers to a life holds its rows too, marked carried. */
static void test_carry(void)
{
	char dir[300], db2[400], s1[200];
	struct store_opts o = { .version = "test", .cgroup_name = name_cgroup };
	struct store *s = NULL;
	struct store_life l;
	struct store_conn c;

	snprintf(dir, sizeof(dir), "%s/carry", base);
	seg_path_of(db2, sizeof(db2), dir, 2);
	o.dir = dir;
	CHECK_THAT(store_open(&s, &o) == 0);
	if (!s)
		return;
	cgroup_calls = 0;
	l = mk_life(500, 50, 1, 1, "nginx");
	l.flags = CR_LIFE_SEEDED;
	l.exe = "/usr/sbin/nginx";
	l.args = "nginx: master";
	CHECK_THAT(store_life_begin(s, &l) == 0);
	l.pid = 501;
	l.pstart_ns = 51;
	CHECK_THAT(store_life_begin(s, &l) == 0);
	/* A flush that finds the segment big enough rotates: segment 2 begins. */
	s->rotate_size = 1;
	memset(&c, 0, sizeof(c));
	c.id = 1;
	c.start_ns = T0;
	c.proto = 6;
	c.family = 4;
	c.has_end = true;
	c.end_ns = T0 + 1;
	c.cgroup = 77;
	CHECK_THAT(store_add_conn(s, &c) == 0);
	CHECK_THAT(store_flush(s) == 0);
	s->rotate_size = STORE_DEFAULT_ROTATE_SIZE;
	CHECK_THAT(store_get_stats(s)->active_seq == 2);
	CHECK_THAT(store_get_stats(s)->lives_written == 2); /* into segment 1 (being sealed) */
	CHECK_THAT(q1(db2, "SELECT count(*) FROM life") == 0);

	/* Something in segment 2 refers to life 500: its rows follow, flagged carried. */
	CHECK_THAT(lives_ref(&s->lives, 500, 50, s->w->seq) == 0);
	CHECK_THAT(lives_ref(&s->lives, 12345, 1, s->w->seq) == 0); /* unknown: nothing */
	CHECK_THAT(store_flush(s) == 0);
	CHECK_THAT(q1(db2, "SELECT count(*) FROM life") == 1);
	qs(db2, "SELECT exe || '|' || flags FROM life WHERE pid = 500", s1, sizeof(s1));
	CHECK(!strcmp(s1, "/usr/sbin/nginx|3"), "carried row: %s", s1); /* seeded | carried */
	CHECK_THAT(q1(db2, "SELECT count(*) FROM cgroup WHERE id = 77") == 1);
	CHECK_THAT(cgroup_calls == 1); /* remembered, not looked up again */
	/* Referred to again in the same segment: nothing more. */
	CHECK_THAT(lives_ref(&s->lives, 500, 50, s->w->seq) == 0);
	CHECK_THAT(store_flush(s) == 0);
	CHECK_THAT(q1(db2, "SELECT count(*) FROM life") == 1);

	/* Life 501 ends while segment 2 is active: its row comes along with the exit folded in. */
	CHECK_THAT(store_life_exit(s, 501, 51, T0 + 77, 0) == 0);
	CHECK_THAT(store_flush(s) == 0);
	CHECK_THAT(q1(db2, "SELECT count(*) FROM life WHERE pid = 501 AND exit_ns = " "1700000000000000077 AND flags = 3") == 1);
	CHECK_THAT(q1(db2, "SELECT count(*) FROM life_exit") == 0);
	CHECK_THAT(store_close(s) == 0);
}

static struct store_conn mk_conn(uint64_t id, uint32_t pid, uint64_t pstart, bool ended)
{
	struct store_conn c;

	memset(&c, 0, sizeof(c));
	c.id = id;
	c.start_ns = T0 + 100000 + (int64_t)id;
	c.proto = 6;
	c.family = 4;
	c.pid = pid;
	c.pstart_ns = pstart;
	c.cgroup = 88;
	snprintf(c.comm, sizeof(c.comm), "p%" PRIu32, pid);
	c.has_end = ended;
	c.end_ns = c.start_ns + 1;
	return c;
}

/*
 * Flows name their life through proc (pid, pstart_ns): the flows view shows its exe; a flow
 * from the start-up dump (pstart_ns 0, or /proc's in clock ticks) gets the pid's running
 * life; a segment that only
 * refers to a life gets its rows; ended lives are forgotten, and the lives of the open
 * connections carried into the next segment come with them (store_carry.c).
 */
static void test_flows(void)
{
	char dir[300], db1[400], db2[400], s1[200];
	struct store_opts o = { .version = "test", .cgroup_name = name_cgroup };
	struct store *s = NULL;
	struct store_life l;
	struct store_conn c;

	snprintf(dir, sizeof(dir), "%s/flows", base);
	seg_path_of(db1, sizeof(db1), dir, 1);
	seg_path_of(db2, sizeof(db2), dir, 2);
	o.dir = dir;
	CHECK_THAT(store_open(&s, &o) == 0);
	if (!s)
		return;
	/* pid 700 twice: an old life that ended, and the one running now. */
	l = mk_life(700, 70, 1, 1, "old");
	l.exe = "/bin/old";
	CHECK_THAT(store_life_begin(s, &l) == 0);
	CHECK_THAT(store_life_exit(s, 700, 70, T0 + 100, 0) == 0);
	l = mk_life(700, 71, 1, 1, "new");
	l.exe = "/bin/new";
	CHECK_THAT(store_life_begin(s, &l) == 0);
	/* Many short lives that ended, and one long one whose connection stays open. */
	for (uint32_t i = 0; i < 2000; i++) {
		l = mk_life(10000 + i, 5, 1, 1, "short");
		l.exe = "/bin/short";
		CHECK_THAT(store_life_begin(s, &l) == 0);
		CHECK_THAT(store_life_exit(s, 10000 + i, 5, T0 + 1, 0) == 0);
	}
	c = mk_conn(1, 700, 70, true); /* the old life's flow, from BPF: exact key */
	CHECK_THAT(store_add_conn(s, &c) == 0);
	c = mk_conn(2, 700, 0, false); /* from the start-up dump: the running life */
	CHECK_THAT(store_add_conn(s, &c) == 0);
	c = mk_conn(3, 10007, 5, false); /* open, its owner has ended */
	CHECK_THAT(store_add_conn(s, &c) == 0);
	/* From the start-up dump with /proc's start (clock ticks): no life has it exactly. */
	c = mk_conn(5, 700, 69, true);
	c.flags = CR_FLAG_PREEXISTING;
	CHECK_THAT(store_add_conn(s, &c) == 0);
	/* From BPF, an exact start whose life is unknown: kept as it is, never another life. */
	c = mk_conn(6, 700, 72, true);
	CHECK_THAT(store_add_conn(s, &c) == 0);
	CHECK_THAT(store_flush(s) == 0);
	qs(db1, "SELECT group_concat(conn_id || ':' || pstart_ns || ':' || exe || ':' || unit, ',')"
		" FROM (SELECT * FROM flows ORDER BY conn_id)",
	   s1, sizeof(s1));
	CHECK(!strcmp(s1, "1:70:/bin/old:unit88.service,2:71:/bin/new:unit88.service,"
			  "3:5:/bin/short:unit88.service,5:71:/bin/new:unit88.service"),
	      "flows: %s", s1);
	CHECK_THAT(q1(db1, "SELECT pstart_ns FROM flows WHERE conn_id = 6") == 72);
	/* The ended lives were forgotten: the segment holds them, for the carry to copy. */
	CHECK(store_get_stats(s)->lives_known == 1, "lives known: %" PRIu64, store_get_stats(s)->lives_known);

	/* In the next segment only the carried connections' lives are written. */
	s->rotate_size = 1;
	c = mk_conn(4, 700, 71, true);
	CHECK_THAT(store_add_conn(s, &c) == 0);
	CHECK_THAT(store_flush(s) == 0);
	s->rotate_size = STORE_DEFAULT_ROTATE_SIZE;
	CHECK_THAT(store_get_stats(s)->active_seq == 2);
	/* The sealing thread carries the open connections of segment 1; closing waits for it. */
	CHECK_THAT(store_close(s) == 0);
	qs(db2, "SELECT group_concat(pid || ':' || pstart_ns || ':' || flags, ',') FROM"
		" (SELECT * FROM life ORDER BY pid)",
	   s1, sizeof(s1));
	CHECK(!strcmp(s1, "700:71:2,10007:5:2"), "carried lives: %s", s1);
	qs(db2, "SELECT group_concat(conn_id || ':' || exe, ',') FROM (SELECT * FROM flows ORDER BY"
		" conn_id)",
	   s1, sizeof(s1));
	CHECK(!strcmp(s1, "2:/bin/new,3:/bin/short"), "carried flows: %s", s1);
	CHECK_THAT(q1(db2, "SELECT count(*) FROM life_exit") == 0);
	CHECK_THAT(q1(db2, "SELECT count(*) FROM life WHERE pid = 10007 AND exit_ns IS NOT NULL") ==
		   1);
}

static bool only_even_pids_run(void *ctx, uint32_t pid, int64_t start_ns)
{
	(void)ctx;
	(void)start_ns;
	return pid % 2 == 0;
}

/* Lives whose exit was lost are forgotten once /proc says they are gone; no end is made up. */
static void test_sweep(void)
{
	char dir[300], db[400];
	struct store_opts o = { .version = "test" };
	struct store *s = NULL;

	snprintf(dir, sizeof(dir), "%s/sweep", base);
	seg_path_of(db, sizeof(db), dir, 1);
	o.dir = dir;
	CHECK_THAT(store_open(&s, &o) == 0);
	if (!s)
		return;
	for (uint32_t pid = 2000; pid < 2010; pid++) {
		struct store_life l = mk_life(pid, pid, 1, 1, "w");

		CHECK_THAT(store_life_begin(s, &l) == 0);
	}
	CHECK_THAT(store_life_exit(s, 2001, 2001, T0 + 5, 0) == 0); /* a real exit: kept */
	CHECK_THAT(store_flush(s) == 0);
	CHECK_THAT(store_lives_sweep(s, only_even_pids_run, NULL) == 4); /* 2003 .. 2009 */
	CHECK_THAT(store_lives_sweep(s, only_even_pids_run, NULL) == 0);
	CHECK_THAT(store_flush(s) == 0);
	CHECK_THAT(q1(db, "SELECT count(*) FROM life") == 10);
	CHECK_THAT(q1(db, "SELECT count(*) FROM life WHERE exit_ns IS NOT NULL") == 1);
	CHECK_THAT(q1(db, "SELECT count(*) FROM life_exit") == 0);
	CHECK_THAT(store_close(s) == 0);
}

static int problems;

static void count_problems(void *ctx, const struct verify_item *it)
{
	(void)ctx;
	if (it->kind == VERIFY_PROBLEM) {
		problems++;
		fprintf(stderr, "verify: FAIL %s: %s\n", it->segment, it->message);
	}
}

/* A recorder restarted on the same active segment names a cgroup the segment already has. */
static void test_restart(void)
{
	char dir[300], db[400], err[256];
	struct store_opts o = { .version = "test", .cgroup_name = name_cgroup };
	struct store *s = NULL;
	struct store_life l = mk_life(600, 60, 1, 1, "a");

	snprintf(dir, sizeof(dir), "%s/restart", base);
	seg_path_of(db, sizeof(db), dir, 1);
	o.dir = dir;
	for (int run = 0; run < 2; run++) {
		s = NULL;
		CHECK_THAT(store_open(&s, &o) == 0);
		if (!s)
			return;
		l.pid = 600 + (uint32_t)run;
		CHECK_THAT(store_life_begin(s, &l) == 0);
		CHECK_THAT(store_flush(s) == 0);
		CHECK_THAT(store_close(s) == 0);
	}
	CHECK_THAT(q1(db, "SELECT count(*) FROM life") == 2);
	CHECK_THAT(q1(db, "SELECT count(*) FROM cgroup WHERE id = 77") == 1);
	/* The insert that did nothing is no late row: run 1's last checkpoint still holds. */
	CHECK_THAT(q1(db, "SELECT count(*) FROM ckpt_late") == 0);
	CHECK(store_verify(dir, NULL, 0, NULL, count_problems, NULL, err, sizeof(err)) == 0 &&
		      problems == 0,
	      "verify after the restart: %d problems", problems);
}

/* A version-1 active segment is upgraded in place; the result reads like a new one. */
static void test_upgrade(void)
{
	char dir[300], db[400], fresh_dir[300], fresh[400], err[256], v[64];
	struct store_opts o = { .version = "test" };
	struct store *s = NULL;
	struct sr_segment *seg = NULL;
	struct sr_open_opts ro = { .flags = 0 };
	sqlite3 *h = NULL;
	char boot[64];
	FILE *f;

	snprintf(dir, sizeof(dir), "%s/upgrade", base);
	seg_path_of(db, sizeof(db), dir, 1);
	snprintf(fresh_dir, sizeof(fresh_dir), "%s/fresh", base);
	seg_path_of(fresh, sizeof(fresh), fresh_dir, 1);
	CHECK_THAT(mkdir(dir, 0700) == 0);
	f = fopen("/proc/sys/kernel/random/boot_id", "r");
	CHECK_THAT(f && fgets(boot, sizeof(boot), f));
	if (f)
		fclose(f);
	boot[strcspn(boot, "\n")] = '\0';
	/* What a version-1 recorder left: schema 001 only, one flow, a clean stop. */
	CHECK_THAT(sqlite3_open(db, &h) == SQLITE_OK);
	CHECK_THAT(sqlite3_exec(h, "PRAGMA journal_mode=WAL", NULL, NULL, NULL) == SQLITE_OK);
	CHECK_THAT(sqlite3_exec(h, schema_sql[0], NULL, NULL, NULL) == SQLITE_OK);
	{
		char *sql = sqlite3_mprintf(
			"INSERT INTO meta VALUES ('schema_version','1'), ('segment_id','1'),"
			" ('host','h'), ('boot_id',%Q), ('kernel','k'), ('recorder_version','0'),"
			" ('clock_offset_ns','0'), ('created_ns','%lld'), ('conn_id_floor','1');"
			"INSERT INTO proc VALUES (1, 42, 'curl', 0, 1, 1);"
			"INSERT INTO conn(id, start_ns, proto, family, dir, laddr, lport, raddr, rport,"
			" proc, flags) VALUES (5, %lld, 6, 4, 0, x'7f000001', 1, x'7f000001', 2, 1, 0);"
			"INSERT INTO run(ts_ns, kind, pid, version) VALUES (%lld, 2, 1, '0');",
			boot, (long long)T0, (long long)T0, (long long)T0);

		CHECK_THAT(sqlite3_exec(h, sql, NULL, NULL, NULL) == SQLITE_OK);
		sqlite3_free(sql);
	}
	sqlite3_close(h);
	/* The reader takes it as it is: version 1. */
	CHECK_THAT(sr_open(db, &ro, &seg, err, sizeof(err)) == 0);
	CHECK(seg && sr_meta(seg)->schema_version == 1, "v1 read: %s", err);
	sr_close(seg);
	seg = NULL;

	o.dir = dir;
	CHECK_THAT(store_open(&s, &o) == 0);
	CHECK_THAT(store_get_stats(s) && store_get_stats(s)->active_seq == 1);
	CHECK_THAT(store_close(s) == 0);
	CHECK_THAT(q1(db, "PRAGMA user_version") == STORE_SCHEMA_VERSION);
	qs(db, "SELECT value FROM meta WHERE key = 'schema_version'", v, sizeof(v));
	CHECK(atoi(v) == STORE_SCHEMA_VERSION, "meta schema_version %s", v);
	CHECK_THAT(q1(db, "SELECT count(*) FROM flows WHERE conn_id = 5 AND pstart_ns = 0") == 1);

	/* Same schema text as a segment made new. */
	o.dir = fresh_dir;
	s = NULL;
	CHECK_THAT(store_open(&s, &o) == 0);
	CHECK_THAT(store_close(s) == 0);
	CHECK_THAT(q1(db, "SELECT count(*) FROM sqlite_schema") ==
		   q1(fresh, "SELECT count(*) FROM sqlite_schema"));
	{
		char a[64], b[64];

		qs(db, "SELECT hex(sha3_query) FROM (SELECT group_concat(type || name || sql, '|')"
		       " AS sha3_query FROM (SELECT * FROM sqlite_schema ORDER BY name))",
		   a, sizeof(a));
		qs(fresh, "SELECT hex(sha3_query) FROM (SELECT group_concat(type || name || sql, '|')"
			  " AS sha3_query FROM (SELECT * FROM sqlite_schema ORDER BY name))",
		   b, sizeof(b));
		CHECK(a[0] && !strcmp(a, b), "schema text of upgraded and new segments differ");
	}
	/* And the reader takes the upgraded one as version 2. */
	CHECK_THAT(sr_open(db, &ro, &seg, err, sizeof(err)) == 0);
	CHECK(seg && sr_meta(seg)->schema_version == STORE_SCHEMA_VERSION, "v2 read: %s", err);
	sr_close(seg);
}

/* A segment from before a reboot is left to be sealed; the new boot gets its own. */
static void test_reboot(void)
{
	char dir[300], db[400];
	struct store_opts o = { .version = "test" };
	struct store *s = NULL;
	sqlite3 *h = NULL;

	snprintf(dir, sizeof(dir), "%s/reboot", base);
	seg_path_of(db, sizeof(db), dir, 1);
	o.dir = dir;
	CHECK_THAT(store_open(&s, &o) == 0);
	CHECK_THAT(store_close(s) == 0);
	CHECK_THAT(sqlite3_open(db, &h) == SQLITE_OK);
	CHECK_THAT(sqlite3_exec(h, "UPDATE meta SET value = 'another-boot' WHERE key = 'boot_id'",
				NULL, NULL, NULL) == SQLITE_OK);
	sqlite3_close(h);
	s = NULL;
	CHECK_THAT(store_open(&s, &o) == 0);
	CHECK_THAT(s && store_get_stats(s)->active_seq == 2);
	CHECK_THAT(store_close(s) == 0);
	/* Same boot: the active segment is reused. */
	s = NULL;
	CHECK_THAT(store_open(&s, &o) == 0);
	CHECK_THAT(s && store_get_stats(s)->active_seq == 2);
	CHECK_THAT(store_close(s) == 0);
}

int main(void)
{
	char cmd[300];

	cr_log_set_level(CR_LOG_ERROR);
	snprintf(base, sizeof(base), "/tmp/connrec-test-lives.XXXXXX");
	if (!mkdtemp(base)) {
		perror("mkdtemp");
		return 1;
	}
	test_rows();
	test_rollback();
	test_carry();
	test_flows();
	test_sweep();
	test_restart();
	test_upgrade();
	test_reboot();
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", base);
	if (check_failed == 0 && system(cmd) != 0)
		fprintf(stderr, "cleanup of %s failed\n", base);
	return check_done();
}
