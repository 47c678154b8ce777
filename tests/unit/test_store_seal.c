// SPDX-License-Identifier: MIT
/*
 * Rotation, sealing, the hash chain, verify, retention and crashes during sealing, driven
 * through the store API with small segments.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sqlite3.h>

#include "connrec_event.h"
#include "log.h"
#include "store.h"
#include "store_internal.h"
#include "check.h"
#include "store_read.h"
#include "store_verify.h"


static char base[256];

static struct store_conn mk_conn(uint64_t id, bool ended)
{
	struct store_conn c;

	memset(&c, 0, sizeof(c));
	c.id = id;
	c.start_ns = 1700000000000000000LL + (int64_t)id * 1000;
	c.proto = id % 3 ? 6 : 17;
	c.family = id % 2 ? 4 : 6;
	c.dir = CR_DIR_OUT;
	c.lport = (uint16_t)(30000 + id % 20000);
	c.rport = 443;
	c.pid = (uint32_t)(100 + id % 50);
	c.uid = 0;
	c.netns = 4026531840U;
	c.cgroup = 1;
	snprintf(c.comm, sizeof(c.comm), "proc%u", c.pid);
	c.laddr[0] = 10;
	c.raddr[0] = 192;
	c.raddr[3] = (uint8_t)id;
	if (ended) {
		c.has_end = true;
		c.end_ns = c.start_ns + 100;
		c.bytes_out = id;
		c.bytes_in = 2 * id;
		c.reason = CR_END_LOCAL_FIN;
	}
	return c;
}

/* The findings as "FAIL SEGMENT: what" and "note: SEGMENT what" lines. */
static void verify_lines(void *ctx, const struct verify_item *it)
{
	if (it->kind == VERIFY_PROBLEM)
		fprintf(ctx, "FAIL %s: %s\n", it->segment, it->message);
	else if (it->kind == VERIFY_NOTE)
		fprintf(ctx, "note: %s %s\n", it->segment, it->message);
}

static int verify_out(const char *dir, char **text)
{
	size_t len = 0;
	FILE *f = open_memstream(text, &len);
	char err[256];
	int rc = store_verify(dir, NULL, 0, NULL, verify_lines, f, err, sizeof(err));

	fclose(f);
	return rc;
}

static void sh(const char *fmt, const char *a, const char *b)
{
	char cmd[1024];

	snprintf(cmd, sizeof(cmd), fmt, a, b);
	if (system(cmd) != 0)
		fprintf(stderr, "command failed: %s\n", cmd);
}

/*
 * Inverts the byte at OFF of DIR/NAME: writing a fixed byte there left the file unchanged
 * whenever it already held that byte (1 run in 256: the compressed bytes vary per run).
 */
static void flip_byte(const char *dir, const char *name, off_t off)
{
	char path[512];
	unsigned char b = 0;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "r+b");
	CHECK_THAT(f != NULL);
	if (!f)
		return;
	CHECK_THAT(fseeko(f, off, SEEK_SET) == 0 && fread(&b, 1, 1, f) == 1);
	b = (unsigned char)~b;
	CHECK_THAT(fseeko(f, off, SEEK_SET) == 0 && fwrite(&b, 1, 1, f) == 1);
	CHECK_THAT(fclose(f) == 0);
}

static int count_zst(const char *dir)
{
	struct seg_entry *v = NULL;
	size_t n = 0;
	int k = 0;

	if (seg_list(dir, &v, &n))
		return -1;
	for (size_t i = 0; i < n; i++)
		k += v[i].has_zst && !v[i].has_raw;
	free(v);
	return k;
}

struct scan {
	uint8_t *seen;	/* per id: bit 1 original row, bit 2 carried copy, bit 4 end */
	uint64_t max_id;
	uint32_t seg_of_orig[4096], seg_of_end[4096];
	uint32_t cur;
};

static int scan_conn(const struct sr_conn *r, void *arg)
{
	struct scan *s = arg;

	if (r->id <= 0 || (uint64_t)r->id > s->max_id)
		return 0;
	if (r->flags & CR_FLAG_CARRIED) {
		s->seen[r->id] |= 2;
	} else {
		s->seen[r->id] |= 1;
		if (r->id < 4096)
			s->seg_of_orig[r->id] = s->cur;
	}
	if (r->has_end && !(r->flags & CR_FLAG_CARRIED) && r->id < 4096)
		s->seg_of_end[r->id] = s->cur;
	return 0;
}

/* Reads every segment of DIR through the evidence reader. Returns segments read or -1. */
static int scan_dir(const char *dir, struct scan *s)
{
	struct sr_entry *list = NULL;
	size_t n = 0;
	char err[256];
	struct sr_conn_filter f;

	sr_conn_filter_init(&f);
	if (sr_list_dir(dir, &list, &n, err, sizeof(err)))
		return -1;
	for (size_t i = 0; i < n; i++) {
		struct sr_open_opts o = { .flags = list[i].live ? SR_OPEN_LIVE : 0 };
		struct sr_segment *seg = NULL;

		if (sr_open(list[i].path, &o, &seg, err, sizeof(err))) {
			fprintf(stderr, "%s: %s\n", list[i].path, err);
			sr_free_list(list, n);
			return -1;
		}
		s->cur = (uint32_t)list[i].seq;
		sr_conns(seg, &f, scan_conn, s);
		sr_close(seg);
	}
	sr_free_list(list, n);
	return (int)n;
}

/* Writes flows 1..until into a store with 64 KiB segments; flow 1 and LONG stay open. */
static void test_rotation(char *dir, size_t dlen)
{
	struct store_opts o = { .version = "test", .rotate_size = 64 << 10,
				.retain_size = UINT64_MAX, .retain_age_ns = -1 };
	struct store *s = NULL;
	struct scan sc = { 0 };
	uint64_t id = 1, straddle = 0;
	uint32_t seq_at_open = 0;
	char *text = NULL;

	snprintf(dir, dlen, "%s/rot", base);
	o.dir = dir;
	CHECK_THAT(store_open(&s, &o) == 0);
	if (!s)
		return;
	struct store_conn c = mk_conn(id++, false);

	store_add_conn(s, &c);
	while (store_get_stats(s)->active_seq < 5 && id < 3000) {
		for (int i = 0; i < 50; i++) {
			c = mk_conn(id++, true);
			store_add_conn(s, &c);
		}
		if (!straddle) {
			straddle = id++;
			c = mk_conn(straddle, false);
			store_add_conn(s, &c);
			seq_at_open = store_get_stats(s)->active_seq;
		} else if (seq_at_open && store_get_stats(s)->active_seq > seq_at_open) {
			struct store_end e = { .id = straddle, .end_ns = seg_now_ns(),
					       .has_bytes = true, .bytes_out = 1, .bytes_in = 1,
					       .reason = CR_END_PEER_FIN };

			store_add_end(s, &e);
			seq_at_open = 0;
		}
		CHECK_THAT(store_flush(s) == 0);
	}
	struct store_end e1 = { .id = 1, .end_ns = seg_now_ns(), .reason = CR_END_RELEASED };

	store_add_end(s, &e1);
	CHECK_THAT(store_close(s) == 0);
	CHECK_THAT(count_zst(dir) >= 3);

	sc.max_id = id;
	sc.seen = calloc(id + 1, 1);
	CHECK_THAT(scan_dir(dir, &sc) >= 4);
	int missing = 0;

	for (uint64_t i = 1; i < id; i++)
		missing += !(sc.seen[i] & 1);
	CHECK_THAT(missing == 0);
	CHECK_THAT(sc.seen[1] & 2); /* the long-lived flow was carried into later segments */
	CHECK_THAT(straddle && (sc.seen[straddle] & 2));
	free(sc.seen);

	CHECK_THAT(verify_out(dir, &text) == 0);
	if (check_failed)
		fprintf(stderr, "%s", text);
	free(text);
}

static void test_tamper(const char *src)
{
	char d[300], *text = NULL;

	/* A middle segment removed. */
	snprintf(d, sizeof(d), "%s/t-missing", base);
	sh("cp -a '%s' '%s'", src, d);
	sh("rm '%s/seg-00000002.db.zst'%s", d, "");
	CHECK_THAT(verify_out(d, &text) == 1);
	CHECK_THAT(text && strstr(text, "FAIL seg-00000002.db.zst: missing"));
	free(text);

	/* One byte changed. */
	snprintf(d, sizeof(d), "%s/t-flip", base);
	sh("cp -a '%s' '%s'", src, d);
	flip_byte(d, "seg-00000002.db.zst", 200);
	CHECK_THAT(verify_out(d, &text) == 1);
	CHECK_THAT(text && strstr(text, "FAIL seg-00000002.db.zst:"));
	free(text);

	/* Two segments swapped names. */
	snprintf(d, sizeof(d), "%s/t-swap", base);
	sh("cp -a '%s' '%s'", src, d);
	sh("cd '%s' && mv seg-00000002.db.zst x.tmp && mv seg-00000003.db.zst seg-00000002.db.zst"
	   " && mv x.tmp seg-00000003.db.zst%s", d, "");
	CHECK_THAT(verify_out(d, &text) == 1);
	CHECK_THAT(text && strstr(text, "FAIL seg-00000002.db.zst:"));
	CHECK_THAT(text && strstr(text, "FAIL seg-00000003.db.zst:"));
	free(text);

	/*
	 * Decompressed and left as a plain .db (edited or not): its successor records the hash
	 * of the sealed file, which nothing can check any more.
	 */
	snprintf(d, sizeof(d), "%s/t-unpacked", base);
	sh("cp -a '%s' '%s'", src, d);
	sh("cd '%s' && zstd -q -d seg-00000002.db.zst -o seg-00000002.db && rm seg-00000002.db.zst"
	   "%s", d, "");
	CHECK_THAT(verify_out(d, &text) == 1);
	CHECK(text && strstr(text, "FAIL seg-00000002.db: plain .db, but seg-00000003.db.zst "
				   "records the SHA-256"), "%s", text);
	free(text);

	/*
	 * The same with the newest sealed one, its hash removed from the active segment: the
	 * chain alone takes it for an interrupted sealing, but the store's seal record of it
	 * says it was sealed (an intruder who also removes that record is caught by the key or
	 * the off-host lines: test_store_ckpt).
	 */
	snprintf(d, sizeof(d), "%s/t-unpacked-last", base);
	sh("cp -a '%s' '%s'", src, d);
	sh("cd '%s' && last=$(ls seg-*.db.zst | tail -n 1) && zstd -q -d $last && rm $last && "
	   "sqlite3 $(ls seg-*.db | tail -n 1) \"DELETE FROM meta WHERE key = 'prev_sha256'\"%s",
	   d, "");
	CHECK_THAT(verify_out(d, &text) == 1);
	CHECK(text && strstr(text, ".db marked sealed but not compressed yet") &&
		      strstr(text, ".db: sealed (seal of "),
	      "%s", text);
	free(text);
}

static void test_retention(const char *src)
{
	char d[300], *text = NULL;
	struct store_opts o = { .version = "test", .rotate_size = 64 << 10, .retain_age_ns = -1 };
	struct store *s = NULL;
	struct seg_entry *v = NULL;
	size_t n = 0;
	int before;

	snprintf(d, sizeof(d), "%s/t-ret", base);
	sh("cp -a '%s' '%s'", src, d);
	before = count_zst(d);
	/* Keep only the newest sealed segment. */
	CHECK_THAT(seg_list(d, &v, &n) == 0);
	for (size_t i = n; i-- > 0;) {
		if (v[i].has_zst) {
			o.retain_size = v[i].zst_bytes;
			break;
		}
	}
	free(v);
	o.dir = d;
	CHECK_THAT(store_open(&s, &o) == 0);
	CHECK_THAT(store_close(s) == 0);
	CHECK_THAT(count_zst(d) == 1 && before > 1);
	CHECK_THAT(store_get_stats == store_get_stats);
	CHECK_THAT(verify_out(d, &text) == 0);
	CHECK_THAT(text && strstr(text, "deleted by retention"));
	if (check_failed)
		fprintf(stderr, "%s", text);
	free(text);
}

/* kill at a random point of sealing: a child exits right after a rotation. */
static void test_crash(int variant)
{
	char d[300], *text = NULL;
	struct store_opts o = { .version = "test", .rotate_size = 48 << 10,
				.retain_size = UINT64_MAX, .retain_age_ns = -1 };
	struct store *s = NULL;
	struct scan sc = { 0 };
	int fds[2], status = 0;
	uint64_t committed = 0, v;
	pid_t pid;

	snprintf(d, sizeof(d), "%s/crash%d", base, variant);
	o.dir = d;
	CHECK_THAT(pipe(fds) == 0);
	pid = fork();
	if (pid == 0) {
		uint64_t id = 1;
		uint32_t rotations = 0, last = 0;

		close(fds[0]);
		if (store_open(&s, &o))
			_exit(1);
		last = store_get_stats(s)->active_seq;
		for (;;) {
			for (int i = 0; i < 40 + variant * 7; i++) {
				struct store_conn c = mk_conn(id++, i % 5 != 0);

				store_add_conn(s, &c);
			}
			if (store_flush(s))
				_exit(1);
			v = id - 1;
			if (write(fds[1], &v, sizeof(v)) != sizeof(v))
				_exit(1);
			if (store_get_stats(s)->active_seq != last) {
				last = store_get_stats(s)->active_seq;
				if (++rotations == 2 + (unsigned)variant % 3)
					_exit(0); /* while the sealer works on the old one */
			}
		}
	}
	close(fds[1]);
	while (read(fds[0], &v, sizeof(v)) == sizeof(v))
		committed = v;
	close(fds[0]);
	CHECK_THAT(waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0);
	CHECK_THAT(store_open(&s, &o) == 0);
	CHECK_THAT(store_next_conn_id(s) == committed + 1);
	CHECK_THAT(store_close(s) == 0);
	CHECK_THAT(verify_out(d, &text) == 0);
	if (check_failed)
		fprintf(stderr, "%s", text);
	free(text);
	sc.max_id = committed;
	sc.seen = calloc(committed + 1, 1);
	CHECK_THAT(scan_dir(d, &sc) >= 3);
	int missing = 0;

	for (uint64_t i = 1; i <= committed; i++)
		missing += !(sc.seen[i] & 1);
	CHECK_THAT(committed > 0 && missing == 0);
	free(sc.seen);
}

/* One naming rule for the writer (seg_list) and the evidence reader (sr_list_dir). */
static void test_segment_names(const char *dir)
{
	static const struct {
		const char *name;
		int kind;
		uint32_t seq;
	} cases[] = {
		{ "seg-00000001.db", SEG_RAW, 1 },
		{ "seg-00000042.db.zst", SEG_ZST, 42 },
		{ "seg-00000042.db.zst.tmp", SEG_TMP, 42 },
		{ "seg-123456789.db", SEG_RAW, 123456789 },
		{ "seg-4294967295.db.zst", SEG_ZST, 4294967295u },
		{ "seg-1.db", 0, 0 },		  /* not padded */
		{ "seg-000000002.db", 0, 0 },	  /* padded too far */
		{ "seg-00000000.db", 0, 0 },	  /* numbers start at 1 */
		{ "seg-4294967296.db", 0, 0 },	  /* above uint32 */
		{ "seg-00000001.db-wal", 0, 0 },
		{ "seg-0000000a.db", 0, 0 },
		{ "seg-12345678901.db", 0, 0 },
	};
	struct seg_entry *segs = NULL;
	struct sr_entry *list = NULL;
	size_t n = 0, m = 0;
	char path[512], ebuf[256];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint32_t seq = 0;
		int kind = seg_parse_name(cases[i].name, &seq);

		CHECK(kind == cases[i].kind && (!kind || seq == cases[i].seq), "%s: kind %d seq %u",
		      cases[i].name, kind, seq);
		if (kind) {
			seg_format_name(path, sizeof(path), seq, (enum seg_kind)kind);
			CHECK(!strcmp(path, cases[i].name), "%s formats back as %s", cases[i].name,
			      path);
		}
		snprintf(path, sizeof(path), "%s/%s", dir, cases[i].name);
		fclose(fopen(path, "w"));
	}
	CHECK_THAT(seg_list(dir, &segs, &n) == 0);
	CHECK_THAT(sr_list_dir(dir, &list, &m, ebuf, sizeof(ebuf)) == 0);
	/* 1, 42 (.zst), 123456789, 4294967295 for both; the reader skips the .tmp. */
	CHECK(n == 4 && m == 4, "writer sees %zu segments, reader %zu", n, m);
	for (size_t i = 0; i < n && i < m; i++)
		CHECK(segs[i].seq == list[i].seq, "segment %zu: writer %u, reader %llu", i,
		      segs[i].seq, (unsigned long long)list[i].seq);
	free(segs);
	sr_free_list(list, m);
}

/* A number from segment SEQ's raw file in DIR (the active one, or one not sealed yet). */
static int64_t seg_q(const char *dir, uint32_t seq, const char *sql)
{
	char path[400];
	sqlite3 *db = NULL;
	int64_t v = -1;

	snprintf(path, sizeof(path), "%s/seg-%08u.db", dir, seq);
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK)
		v = seg_query_i64(db, sql, -1);
	sqlite3_close(db);
	return v;
}

/* Runs SQL on segment SEQ's raw file (beside the writer, which waits its turn). */
static int seg_exec(const char *dir, uint32_t seq, const char *sql)
{
	char path[400];
	sqlite3 *db = NULL;
	int rc;

	snprintf(path, sizeof(path), "%s/seg-%08u.db", dir, seq);
	rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL);
	if (rc == SQLITE_OK) {
		sqlite3_busy_timeout(db, 5000);
		rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
		if (rc != SQLITE_OK)
			fprintf(stderr, "seg_exec: %s\n", sqlite3_errmsg(db));
	}
	sqlite3_close(db);
	return rc;
}

/* Flushes until the sealing thread has carried at least WANT rows in all (or 10 s pass). */
static void wait_carried(struct store *s, uint64_t want)
{
	for (int i = 0; i < 1000 && store_get_stats(s)->carried_rows < want; i++) {
		usleep(10000);
		store_flush(s);
	}
}

/*
 * The sealing thread's carry (store_carry.c): every connection open when a segment rotates,
 * and only those, is copied into the next one with its proc row and the carried flag; its
 * bytes do not count towards the next rotation; open rows of an earlier run are not carried.
 */
static void test_carry(void)
{
	struct store_opts o = { .version = "test", .rotate_size = 256 << 10,
				.retain_size = UINT64_MAX, .retain_age_ns = -1 };
	enum { OPEN = 12000 };
	struct store *s = NULL;
	uint64_t id = 1, ended_open = 0;
	char dir[300];

	snprintf(dir, sizeof(dir), "%s/carry", base);
	o.dir = dir;
	CHECK_THAT(store_open(&s, &o) == 0);
	if (!s)
		return;
	/* 12000 open connections (about 600 KB of rows), then every third of them ends. */
	for (int i = 0; i < OPEN; i++) {
		struct store_conn c = mk_conn(id++, false);

		store_add_conn(s, &c);
	}
	/*
	 * And one open flow whose proc row names a process life (written here the way the
	 * process-lives code writes them; proc id -5 is one the writer never hands out).
	 */
	CHECK_THAT(seg_exec(dir, 1,
			    "INSERT INTO proc(id, pid, comm, uid, netns, cgroup, pstart_ns)"
			    " VALUES(-5, 4242, 'lived', 0, 1, 77, 99);"
			    "INSERT INTO conn(id, start_ns, proto, family, dir, laddr, lport, raddr,"
			    " rport, proc, flags) VALUES(900000, 1, 6, 4, 0, x'0a000001', 1,"
			    " x'0a000002', 2, -5, 0);"
			    "INSERT INTO life(pid, pstart_ns, start_ns, image_ns, ppid, ppstart_ns,"
			    " pcomm, uid, cgroup, comm, exe, args, flags) VALUES(4242, 99, 1, 1, 1, 1,"
			    " 'init', 0, 77, 'lived', '/bin/lived', 'lived -d', 1);"
			    "INSERT INTO life(pid, pstart_ns, start_ns, image_ns, ppid, ppstart_ns,"
			    " pcomm, uid, cgroup, comm, exe, args, flags) VALUES(4343, 7, 1, 1, 1, 1,"
			    " 'init', 0, 78, 'other', '/bin/other', 'other', 1);"
			    "INSERT INTO cgroup(id, path, container, unit) VALUES(77, '/a', '', 'a.service');"
			    "INSERT INTO cgroup(id, path, container, unit) VALUES(78, '/b', '', '');") == 0);
	CHECK_THAT(store_flush(s) == 0);
	CHECK_THAT(store_get_stats(s)->active_seq == 2); /* those rows alone rotated segment 1 */
	for (uint64_t k = 1; k <= OPEN; k += 3, ended_open++) {
		struct store_end e = { .id = k, .end_ns = seg_now_ns(), .reason = CR_END_PEER_FIN };

		store_add_end(s, &e);
	}
	CHECK_THAT(store_flush(s) == 0);
	wait_carried(s, OPEN + 1);
	CHECK_THAT(store_get_stats(s)->carried_rows == OPEN + 1);
	/* The flow with a life: its proc row, its life (flagged carried) and cgroup, no other. */
	CHECK_THAT(seg_q(dir, 2, "SELECT count(*) FROM conn c JOIN proc p ON p.id = c.proc"
				 " WHERE c.id = 900000 AND c.flags = 2 AND p.pstart_ns = 99") == 1);
	CHECK_THAT(seg_q(dir, 2, "SELECT count(*) FROM life WHERE pid = 4242 AND pstart_ns = 99"
				 " AND exe = '/bin/lived' AND flags = 3") == 1);
	CHECK_THAT(seg_q(dir, 2, "SELECT count(*) FROM life WHERE pid = 4343") == 0);
	CHECK_THAT(seg_q(dir, 2, "SELECT count(*) FROM cgroup WHERE id = 77 AND unit = 'a.service'") ==
		   1);
	/* Carried: all of them (the ends came after the rotation), with their proc rows. */
	CHECK_THAT(seg_q(dir, 2, "SELECT count(*) FROM conn WHERE flags & 2") == OPEN + 1);
	CHECK_THAT(seg_q(dir, 2, "SELECT count(*) FROM conn c JOIN proc p ON p.id = c.proc"
				 " WHERE c.flags & 2 AND p.comm = 'proc' || p.pid"
				 " AND c.lport = 30000 + c.id % 20000") == OPEN);
	CHECK_THAT(seg_q(dir, 2, "SELECT count(*) FROM conn_end") == (int64_t)ended_open);
	/* The copies are twice rotate_size: they must not rotate segment 2. */
	for (int round = 0; round < 5; round++) {
		struct store_conn c = mk_conn(id++, true);

		store_add_conn(s, &c);
		CHECK_THAT(store_flush(s) == 0);
	}
	CHECK(store_get_stats(s)->active_seq == 2, "carried copies rotated segment 2 (now %u)",
	      store_get_stats(s)->active_seq);
	/* Rotate again: only the connections still open are carried on. */
	while (store_get_stats(s)->active_seq == 2 && id < 100000) {
		for (int i = 0; i < 100; i++) {
			struct store_conn c = mk_conn(id++, true);

			store_add_conn(s, &c);
		}
		CHECK_THAT(store_flush(s) == 0);
	}
	CHECK_THAT(store_get_stats(s)->active_seq == 3);
	wait_carried(s, OPEN + 1 + (OPEN - ended_open) + 1);
	CHECK_THAT(seg_q(dir, 3, "SELECT count(*) FROM conn WHERE flags & 2") ==
		   (int64_t)(OPEN - ended_open) + 1);
	/* Carried on again: the life comes along once more, once. */
	CHECK_THAT(seg_q(dir, 3, "SELECT count(*) FROM life WHERE pid = 4242 AND flags = 3") == 1);
	CHECK_THAT(seg_q(dir, 3, "SELECT count(*) FROM conn WHERE flags & 2 AND (id - 1) % 3 = 0") ==
		   0);
	CHECK_THAT(store_close(s) == 0);

	/* A new run: the open rows of the last one are not carried (their ends were not seen). */
	s = NULL;
	CHECK_THAT(store_open(&s, &o) == 0);
	if (!s)
		return;
	uint32_t first = store_get_stats(s)->active_seq;
	uint64_t before = store_get_stats(s)->carried_rows;

	while (store_get_stats(s)->active_seq == first && id < 200000) {
		for (int i = 0; i < 100; i++) {
			struct store_conn c = mk_conn(id++, true);

			store_add_conn(s, &c);
		}
		CHECK_THAT(store_flush(s) == 0);
	}
	CHECK_THAT(store_close(s) == 0); /* the sealing thread finishes its carry first */
	CHECK_THAT(before == 0);
	CHECK_THAT(seg_q(dir, first + 1, "SELECT count(*) FROM conn WHERE flags & 2") == 0);
}

int main(void)
{
	char dir[300], cmd[400];

	cr_log_set_level(getenv("V") ? CR_LOG_DEBUG : CR_LOG_ERROR);
	snprintf(base, sizeof(base), "/tmp/connrec-test-seal.XXXXXX");
	if (!mkdtemp(base)) {
		perror("mkdtemp");
		return 1;
	}
	snprintf(dir, sizeof(dir), "%s/names", base);
	mkdir(dir, 0700);
	test_segment_names(dir);
	test_carry();
	test_rotation(dir, sizeof(dir));
	test_tamper(dir);
	test_retention(dir);
	for (int i = 0; i < 6; i++)
		test_crash(i);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", base);
	if (!check_failed && !getenv("KEEP") && system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", base);
	else if (check_failed || getenv("KEEP"))
		fprintf(stderr, "kept %s\n", base);
	return check_done();
}
