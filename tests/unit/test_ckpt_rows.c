// SPDX-License-Identifier: MIT
/*
 * The writer's in-memory checkpoint hash (ckpt_rows.h) equals what verify recomputes from the
 * file (ckpt_chain_many), over a store that holds a row of every kind a checkpoint covers:
 * conn rows (short flows, open ones, long ones written late), conn_end rows, proc rows,
 * gaps, runs, retention rows, process lives with their images and exits, life_exit rows,
 * cgroups, DNS answers, and the open connections carried into a new segment at rotation. Then a restart on
 * the same segment, whose checkpoints keep the first version of the hash.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "check.h"
#include "ckpt.h"
#include "log.h"
#include "sealrec.h"
#include "store.h"
#include "store_internal.h"
#include "store_verify.h"

static int64_t T0;

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000 };

	nanosleep(&ts, NULL);
}

static void name_cgroup(void *ctx, uint64_t id, struct store_cgroup *out)
{
	(void)ctx;
	snprintf(out->path, sizeof(out->path), "/system.slice/unit-%" PRIu64 ".service", id);
	snprintf(out->unit, sizeof(out->unit), "unit-%" PRIu64 ".service", id);
	if (id % 2)
		snprintf(out->container, sizeof(out->container), "c%" PRIu64, id);
}

static struct store_life mk_life(uint32_t pid, uint64_t pstart, const char *comm)
{
	struct store_life l;

	memset(&l, 0, sizeof(l));
	l.pid = pid;
	l.pstart_ns = pstart;
	l.ppid = 1;
	l.ppstart_ns = 1;
	l.uid = 1000 + pid % 3;
	l.cgroup = 7000 + pid % 5;
	l.start_ns = T0 + (int64_t)pstart;
	l.image_ns = l.start_ns;
	snprintf(l.comm, sizeof(l.comm), "%s", comm);
	snprintf(l.pcomm, sizeof(l.pcomm), "init");
	l.exe = "/usr/bin/worker";
	l.args = "worker --with 'quoted arg'";
	return l;
}

static struct store_conn mk_conn(uint64_t id, uint32_t pid, uint64_t pstart, bool ended)
{
	struct store_conn c;

	memset(&c, 0, sizeof(c));
	c.id = id;
	c.start_ns = seg_now_ns();
	c.proto = id % 3 ? 6 : 17;
	c.family = id % 4 ? 4 : 6;
	c.dir = (uint8_t)(id % 3);
	c.lport = (uint16_t)(30000 + id % 20000);
	c.rport = 443;
	c.pid = pid;
	c.pstart_ns = pstart;
	c.uid = 1000 + pid % 3;
	c.netns = 4026531840U;
	c.cgroup = 7000 + pid % 5;
	snprintf(c.comm, sizeof(c.comm), "w%u", pid);
	c.laddr[0] = 10;
	c.raddr[0] = 192;
	c.raddr[15] = (uint8_t)id;
	if (ended) {
		c.has_end = true;
		c.end_ns = c.start_ns + 100;
		c.has_bytes = id % 5 != 0;
		c.bytes_out = id * 3;
		c.bytes_in = id * 7;
		c.reason = CR_END_LOCAL_FIN;
	}
	return c;
}

/* Every chained checkpoint of the segment at PATH recomputed from the file; how many matched. */
static int check_segment(const char *path, uint32_t seq, int64_t *from_memory)
{
	struct ckpt_marks marks[256];
	struct sealrec recs[256];
	uint8_t hashes[256][CKPT_HASH_LEN];
	uint64_t rows[256];
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	size_t n = 0;
	int matched = 0;

	CHECK_THAT(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK);
	CHECK_THAT(sqlite3_prepare_v2(db, "SELECT line FROM anchor WHERE kind = 'checkpoint'"
					  " ORDER BY id",
				      -1, &st, NULL) == SQLITE_OK);
	while (st && sqlite3_step(st) == SQLITE_ROW && n < 256) {
		struct sealrec *r = &recs[n];

		CHECK_THAT(sealrec_parse((const char *)sqlite3_column_text(st, 0), r) == 0);
		if (r->seg != seq)
			continue; /* the previous segment's last ones, stored after its rotation */
		CHECK(r->chained && r->narrow, "%s: checkpoint %" PRId64 " is not chain2=", path,
		      r->ck);
		CHECK(r->ck == (int64_t)n + 1, "%s: checkpoint %" PRId64 " in place %zu", path, r->ck,
		      n + 1);
		marks[n++] = r->marks;
	}
	sqlite3_finalize(st);
	CHECK(n >= 3, "%s: %zu checkpoints", path, n);
	CHECK_THAT(ckpt_chain_many(db, n, marks, true, hashes, rows) == 0);
	for (size_t i = 0; i < n; i++) {
		bool same = !memcmp(hashes[i], recs[i].hash, CKPT_HASH_LEN) && rows[i] == recs[i].rows;

		CHECK(same, "%s: checkpoint %zu: made from memory %" PRIu64 " rows, file %" PRIu64,
		      path, i + 1, recs[i].rows, rows[i]);
		matched += same;
	}
	*from_memory = (int64_t)n - 1; /* the first interval after a carry is read back */
	sqlite3_close(db);
	return matched;
}

static int64_t q1(const char *path, const char *sql)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	int64_t v = -1;

	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
	    sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return v;
}

static void lines(void *ctx, const struct verify_item *it)
{
	int *problems = ctx;

	if (it->kind == VERIFY_PROBLEM) {
		(*problems)++;
		fprintf(stderr, "verify: %s: %s\n", it->segment, it->message);
	}
}

/*
 * The rows of one interval are held in memory until its cut: a storm must not grow them
 * without bound while the 15 minutes run. 70,000 conn rows with an hour between timed cuts
 * still get checkpoints, each from memory, and verify agrees.
 */
static void test_memory_cut(const char *base)
{
	char dir[200], path[300], err[256];
	struct store_opts o = { .version = "test", .retain_size = UINT64_MAX,
				.retain_age_ns = -1, .checkpoint_every_ns = 3600 * 1000000000LL };
	struct store *s = NULL;
	int problems = 0;

	snprintf(dir, sizeof(dir), "%s/storm", base);
	o.dir = dir;
	CHECK_THAT(store_open(&s, &o) == 0);
	for (uint64_t id = 1; s && id <= 70000; id++) {
		struct store_conn c = mk_conn(id, 7, 7001, true);

		store_add_conn(s, &c);
		if (id % 5000 == 0)
			CHECK_THAT(store_flush(s) == 0);
	}
	for (int i = 0; s && i < 200 && !store_get_stats(s)->records_made; i++) {
		sleep_ms(5); /* the sealing thread makes the record */
		store_flush(s);
	}
	seg_path(path, sizeof(path), dir, 1, SEG_RAW);
	CHECK(q1(path, "SELECT count(*) FROM anchor WHERE kind = 'checkpoint'") >= 1,
	      "no checkpoint before the stop, after 70,000 rows: the interval grew unbounded");
	CHECK_THAT(s && store_close(s) == 0);
	{
		struct verify_opts vo = { 0 };

		CHECK_THAT(store_verify(dir, NULL, 0, &vo, lines, &problems, err, sizeof(err)) == 0);
		CHECK(problems == 0, "verify found %d problems", problems);
	}
}

static void count_problems(void *ctx, const struct verify_item *it)
{
	*(int *)ctx += it->kind == VERIFY_PROBLEM;
}

/*
 * The chain2= records of segment SEQ at PATH stored again (the table is append-only) as
 * "chain=" records: with the hashes of that older serialisation (RECOMPUTE), or only renamed,
 * keeping the chain2= hash.
 */
static void to_old_chain(const char *path, uint32_t seq, bool recompute)
{
	struct ckpt_marks marks[256];
	struct sealrec recs[256];
	uint8_t hashes[256][CKPT_HASH_LEN];
	uint64_t rows[256];
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	size_t n = 0;

	CHECK_THAT(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL) == SQLITE_OK);
	CHECK_THAT(sqlite3_prepare_v2(db, "SELECT line FROM anchor WHERE kind = 'checkpoint'"
					  " ORDER BY id",
				      -1, &st, NULL) == SQLITE_OK);
	while (st && sqlite3_step(st) == SQLITE_ROW && n < 256) {
		const char *line = (const char *)sqlite3_column_text(st, 0);
		char again[SEALKEY_LINE_MAX];

		CHECK_THAT(sealrec_parse(line, &recs[n]) == 0);
		if (recs[n].seg != seq || !recs[n].narrow)
			continue;
		CHECK_THAT(sealrec_format(&recs[n], again, sizeof(again)) > 0 && !strcmp(again, line));
		marks[n] = recs[n].marks;
		n++;
	}
	sqlite3_finalize(st);
	CHECK(n >= 3, "%s: %zu chain2= records", path, n);
	CHECK_THAT(ckpt_chain_many(db, n, marks, false, hashes, rows) == 0);
	CHECK_THAT(sqlite3_prepare_v2(db, "INSERT INTO anchor (ts_ns, kind, line)"
					  " VALUES (1, 'checkpoint', ?1)",
				      -1, &st, NULL) == SQLITE_OK);
	for (size_t i = 0; st && i < n; i++) {
		char line[SEALKEY_LINE_MAX];

		recs[i].narrow = false;
		if (recompute)
			memcpy(recs[i].hash, hashes[i], CKPT_HASH_LEN);
		CHECK_THAT(sealrec_format(&recs[i], line, sizeof(line)) > 0);
		CHECK_THAT(strstr(line, " chain=") != NULL);
		sqlite3_bind_text(st, 1, line, -1, SQLITE_TRANSIENT);
		CHECK_THAT(sqlite3_step(st) == SQLITE_DONE);
		sqlite3_reset(st);
	}
	sqlite3_finalize(st);
	sqlite3_close(db);
}

/*
 * A store recorded before "chain2=" holds "chain=" records, hashed with 8-byte integers: verify
 * still checks them (made here by rewriting a copy's records, as that recorder made them), and
 * a chain2= hash passed off as chain= fails.
 */
static void test_old_chain(const char *base, const char *dir, uint32_t seq)
{
	char cmd[600], copy[200], path[300], err[256];

	for (int renamed = 0; renamed < 2; renamed++) {
		struct verify_opts vo = { 0 };
		int problems = 0;

		snprintf(copy, sizeof(copy), "%s/old%d", base, renamed);
		snprintf(cmd, sizeof(cmd), "cp -a '%s' '%s'", dir, copy);
		CHECK_THAT(system(cmd) == 0);
		seg_path(path, sizeof(path), copy, seq, SEG_RAW);
		to_old_chain(path, seq, !renamed);
		int rc = store_verify(copy, NULL, 0, &vo, renamed ? count_problems : lines, &problems,
				      err, sizeof(err));

		if (renamed)
			CHECK(rc == 1 && problems > 0, "chain2= hashes renamed chain= passed verify");
		else
			CHECK(rc == 0 && problems == 0, "verify found %d problems in chain= records",
			      problems);
	}
}

/* Row I of the sort test: a conn row, every 7th a proc row. */
static void add_sort_row(struct ckpt_rows *r, int64_t id)
{
	if (id % 7 == 0) {
		ckpt_row_begin(r, CKPT_T_PROC, id);
		ckpt_row_int(r, id);
		ckpt_row_text(r, "worker");
		ckpt_row_end(r);
	} else {
		struct store_conn c = mk_conn((uint64_t)id, 9, 9001, id % 3 != 0);

		c.start_ns = id * 1000; /* the same row both times */
		c.end_ns = c.start_ns + 100;
		ckpt_rows_conn(r, &c, id / 7, 0);
	}
}

/*
 * An interval's rows reach the sealing thread in commit order, which is not rowid order: a
 * flush writes its conn rows by id, but the next flush's runs back below them (flows that
 * began earlier and ended later), and a long flow's row comes with an id far below the rest.
 * Hashed in any such order, the digest is the one of the rows in rowid order.
 */
static void test_sort(void)
{
	enum { N = 20000, RUN = 500 };
	struct ckpt_marks m = { .n = 2 };
	struct ckpt_rows in_order = { 0 }, mixed = { 0 };
	uint8_t d1[CKPT_HASH_LEN], d2[CKPT_HASH_LEN];
	static const int64_t far[] = { 3, 11, 12, 40 }; /* long flows, below any window */

	snprintf(m.t[0].name, sizeof(m.t[0].name), "proc");
	snprintf(m.t[1].name, sizeof(m.t[1].name), "conn");
	for (size_t i = 0; i < sizeof(far) / sizeof(far[0]); i++)
		add_sort_row(&in_order, far[i]);
	for (int64_t id = 1000; id < 1000 + N; id++)
		add_sort_row(&in_order, id);
	/* Runs of RUN ids, each run's odd ids held back to the next one, the far ones amid. */
	for (int64_t run = 0; run <= N / RUN; run++) {
		for (int64_t id = 1000 + run * RUN; id < 1000 + (run + 1) * RUN && id < 1000 + N;
		     id++)
			if (id % 2 == 0)
				add_sort_row(&mixed, id);
		for (int64_t id = 1000 + (run - 1) * RUN; run > 0 && id < 1000 + run * RUN; id++)
			if (id % 2)
				add_sort_row(&mixed, id);
		if (run % 10 == 5 && run / 10 < (int64_t)(sizeof(far) / sizeof(far[0])))
			add_sort_row(&mixed, far[run / 10]);
	}
	CHECK_THAT(in_order.n == mixed.n);
	CHECK_THAT(ckpt_rows_digest(&in_order, &m, d1) == 0);
	CHECK_THAT(ckpt_rows_digest(&mixed, &m, d2) == 0);
	CHECK(!memcmp(d1, d2, sizeof(d1)), "rows out of order hashed to another digest");
	/* Again with the room the first sort left (the buffers go back to the writer). */
	mixed.n = mixed.buf.n = 0;
	for (int64_t id = 1000 + N - 1; id >= 1000; id--)
		add_sort_row(&mixed, id);
	for (size_t i = 0; i < sizeof(far) / sizeof(far[0]); i++)
		add_sort_row(&mixed, far[i]);
	CHECK_THAT(ckpt_rows_digest(&mixed, &m, d2) == 0);
	CHECK(!memcmp(d1, d2, sizeof(d1)), "rows in reverse order hashed to another digest");
	ckpt_rows_free(&in_order);
	ckpt_rows_free(&mixed);
}

/*
 * Without --checkpoint-every, the active segment is checkpointed every 15 minutes: the next
 * timed cut is due 15 minutes after the store opens (not sooner: no cut after a flush now),
 * and when the clock reaches it (moved here, not waited for), a cut is made and the next one
 * is due 15 minutes later.
 */
static void test_default_every(const char *base)
{
	const int64_t every = 15 * 60 * 1000000000LL, slack = 5 * 1000000000LL;
	char dir[200];
	struct store_opts o = { .version = "test", .retain_size = UINT64_MAX, .retain_age_ns = -1 };
	struct store *s = NULL;
	int64_t t0 = mono_ns(), t1;

	snprintf(dir, sizeof(dir), "%s/default", base);
	o.dir = dir;
	CHECK_THAT(store_open(&s, &o) == 0);
	if (!s)
		return;
	for (uint64_t id = 1; id <= 100; id++) {
		struct store_conn c = mk_conn(id, 7, 7001, true);

		store_add_conn(s, &c);
	}
	CHECK_THAT(store_flush(s) == 0);
	sleep_ms(50);
	CHECK_THAT(store_flush(s) == 0);
	t1 = mono_ns();
	CHECK(store_get_stats(s)->records_made == 0, "a checkpoint made right after the start");
	CHECK(s->ck.next_ns >= t0 + every && s->ck.next_ns <= t1 + every,
	      "next checkpoint due %.1f s after the start, not 900", (double)(s->ck.next_ns - t0) / 1e9);
	s->ck.next_ns = mono_ns() - 1; /* 15 minutes later */
	t0 = mono_ns();
	CHECK_THAT(store_flush(s) == 0);
	for (int i = 0; i < 200 && !store_get_stats(s)->records_made; i++) {
		sleep_ms(5); /* the sealing thread makes the record */
		store_flush(s);
	}
	t1 = mono_ns();
	CHECK(store_get_stats(s)->records_made == 1, "%" PRIu64 " records when the 15 minutes ran out",
	      store_get_stats(s)->records_made);
	CHECK(s->ck.next_ns >= t0 + every && s->ck.next_ns <= t1 + every + slack,
	      "after a timed cut the next is due in %.1f s, not 900", (double)(s->ck.next_ns - t0) / 1e9);
	CHECK_THAT(store_close(s) == 0);
}

int main(void)
{
	char base[] = "/tmp/connrec-test-ckptrows.XXXXXX", dir[100], act[200], err[256];
	uint32_t act_seq = 0;
	struct store_opts o = { .version = "test", .rotate_size = 256 << 10,
				.retain_size = 1, .retain_age_ns = -1,
				.checkpoint_every_ns = 15 * 1000000LL, .cgroup_name = name_cgroup };
	struct store *s = NULL;
	uint64_t id = 1, open_ids[64], held[64];
	size_t n_open = 0, n_held = 0;
	int problems = 0, calm = 0;
	uint32_t calm_seq = 0;

	cr_log_set_level(getenv("V") ? CR_LOG_DEBUG : CR_LOG_ERROR);
	T0 = seg_now_ns() - 1000000000;
	if (!mkdtemp(base))
		return 1;
	snprintf(dir, sizeof(dir), "%s/store", base);
	o.dir = dir;
	CHECK_THAT(store_open(&s, &o) == 0);
	if (!s)
		return check_done();
	for (int round = 0; round < 1000; round++) {
		uint32_t pid = 100 + (uint32_t)round;
		uint64_t pstart = (uint64_t)round * 1000 + 1;
		struct store_life l = mk_life(pid, pstart, "worker");
		bool last_segment = store_get_stats(s)->active_seq >= 4;

		/* A life: begun, exec'd, and (every other one) ended in a later flush. */
		store_life_begin(s, &l);
		if (round % 3 == 0) {
			l.flags = CR_LIFE_EXEC;
			l.image_ns = l.start_ns + 5;
			l.exe = "/usr/bin/curl";
			l.args = "curl -s http://10.0.0.1/";
			store_life_exec(s, &l);
		}
		if (round % 2 && round > 0)
			store_life_exit(s, pid - 1, pstart - 1000, T0 + (int64_t)pstart + 99, 256);
		if (round % 4 == 0) { /* a short life: its exit folded into its row */
			l = mk_life(50000 + (uint32_t)round, pstart, "short");
			store_life_begin(s, &l);
			store_life_exit(s, l.pid, l.pstart_ns, l.start_ns + 10, 0);
		}
		if (round % 7 == 0)
			store_life_exit(s, 90000 + (uint32_t)round, 5, T0 + 50, 9); /* never seen begin */
		for (int i = 0; i < (last_segment ? 4 : 40); i++, id++) {
			struct store_conn c;
			bool stays = i % 9 == 0 && n_open < 64;

			if ((id % 11 == 0 || (last_segment && i == 1)) && n_held < 64) {
				/* Written rounds later, after a cut: a late conn row. */
				held[n_held++] = id;
				continue;
			}
			c = mk_conn(id, pid, pstart, !stays);
			if (stays)
				open_ids[n_open++] = id;
			store_add_conn(s, &c);
		}
		if ((round % 4 == 1 || last_segment) && n_held) {
			struct store_conn c = mk_conn(held[0], pid, pstart, true);

			memmove(held, held + 1, --n_held * sizeof(*held));
			store_add_conn(s, &c);
		}
		if (round % 5 == 2 && n_open > 20) { /* ends of older flows: conn_end rows */
			struct store_end e = { .id = open_ids[--n_open], .end_ns = seg_now_ns(),
					       .has_bytes = round % 2, .bytes_out = 5, .reason = 2 };

			store_add_end(s, &e);
		}
		if (round % 2 == 0) { /* a DNS answer: an A record and a CNAME */
			struct store_dns_rr rr[2] = {
				{ .type = CR_DNS_TYPE_CNAME, .ttl = 60, .name = "www.example.org",
				  .target = "edge.example.net" },
				{ .type = CR_DNS_TYPE_A, .ttl = 30, .addr = { 93, 184, 216, 34 },
				  .name = "edge.example.net" },
			};
			struct store_dns d = { .id = id++, .ts_ns = seg_now_ns(), .pid = pid,
					       .uid = 1000, .netns = 4026531840U, .cgroup = 7001,
					       .pstart_ns = pstart, .proto = 17, .family = 4,
					       .laddr = { 127, 0, 0, 1 }, .raddr = { 127, 0, 0, 53 },
					       .lport = 40000, .rport = 53, .txid = (uint16_t)round,
					       .qtype = 1, .qname = "www.example.org", .rrs = rr,
					       .n_rrs = round % 4 ? 2 : 0 };

			snprintf(d.comm, sizeof(d.comm), "w%u", pid);
			store_add_dns(s, &d);
		}
		if (round % 6 == 3)
			store_add_gap(s, CR_GAP_LOST, seg_now_ns() - 1000, seg_now_ns(), 7,
				      "ring buffer full: 7 events 'lost'");
		CHECK_THAT(store_flush(s) == 0);
		if (last_segment) {
			sleep_ms(4); /* several timed cuts in the active segment */
			/* 30 calm rounds in one segment, after its carry. */
			calm = calm_seq == store_get_stats(s)->active_seq ? calm + 1 : 0;
			calm_seq = store_get_stats(s)->active_seq;
			if (calm == 30)
				break;
		}
	}
	CHECK_THAT(store_close(s) == 0);

	/* The active segment: a row of every kind, every checkpoint the same from the file. */
	{
		struct seg_entry *v = NULL;
		size_t n = 0;

		CHECK_THAT(seg_list(dir, &v, &n) == 0 && n > 0);
		if (n) {
			act_seq = v[n - 1].seq;
			seg_path(act, sizeof(act), dir, act_seq, SEG_RAW);
		}
		free(v);
	}
	static const char *const kinds[] = {
		"SELECT count(*) FROM conn WHERE reason IS NOT NULL",
		"SELECT count(*) FROM conn WHERE reason IS NULL",
		"SELECT count(*) FROM conn WHERE flags & 2",
		"SELECT count(*) FROM conn_end",
		"SELECT count(*) FROM proc",
		"SELECT count(*) FROM gap",
		"SELECT count(*) FROM run",
		"SELECT count(*) FROM life WHERE exit_ns IS NULL",
		"SELECT count(*) FROM life WHERE exit_ns IS NOT NULL",
		"SELECT count(*) FROM life WHERE flags & 2",
		"SELECT count(*) FROM life_exit",
		"SELECT count(*) FROM cgroup WHERE container != ''",
		"SELECT count(*) FROM ckpt_late WHERE tbl = 'conn'",
		"SELECT count(*) FROM retention",
		"SELECT count(*) FROM dns",
		"SELECT count(*) FROM dns_answer WHERE addr IS NULL",
		"SELECT count(*) FROM dns_answer WHERE addr IS NOT NULL",
	};
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		CHECK(q1(act, kinds[i]) > 0, "%s: none in %s", kinds[i], act);
	int64_t from_memory = 0;
	int matched = check_segment(act, act_seq, &from_memory);

	CHECK(matched >= 3 && from_memory >= 2, "%d checkpoints matched, %" PRId64 " from memory",
	      matched, from_memory);
	printf("active segment: %d checkpoints match the file (%" PRId64 " hashed from memory)\n",
	       matched, from_memory);
	/*
	 * A recorder started again on the same active segment has not its earlier rows in
	 * memory: its checkpoints there are of the first version ("hash="), which verify checks
	 * beside the chained ones.
	 */
	o.rotate_size = 64 << 20; /* stay on it */
	o.retain_size = UINT64_MAX;
	CHECK_THAT(store_open(&s, &o) == 0);
	for (int round = 0; s && round < 12; round++, id++) {
		struct store_conn c = mk_conn(id, 7, 7001, round % 2);

		store_add_conn(s, &c);
		CHECK_THAT(store_flush(s) == 0);
		sleep_ms(4);
	}
	CHECK_THAT(s && store_close(s) == 0);
	CHECK(q1(act, "SELECT count(*) FROM anchor WHERE kind = 'checkpoint' AND line LIKE '% hash=%'") >
		      0,
	      "no checkpoint of the first version after the restart in %s", act);
	/* And verify agrees over the whole store, sealed segments included. */
	{
		struct verify_opts vo = { 0 };

		CHECK_THAT(store_verify(dir, NULL, 0, &vo, lines, &problems, err, sizeof(err)) == 0);
		CHECK(problems == 0, "verify found %d problems", problems);
	}
	test_old_chain(base, dir, act_seq);
	test_memory_cut(base);
	test_sort();
	test_default_every(base);
	if (!check_failed) {
		char cmd[200];

		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", base);
		if (system(cmd) != 0)
			fprintf(stderr, "cannot remove %s\n", base);
	} else {
		fprintf(stderr, "kept %s\n", base);
	}
	return check_done();
}
