// SPDX-License-Identifier: MIT
/*
 * End zones (store/conn_zones.h): the bound itself against brute force, its text form, and a
 * store written through the store API with rows that arrive out of id order (late whole
 * lifetimes), rows split over segments, carried copies and flows never ended: a --since
 * window read with the zones (a segment the chain vouches for) gives exactly the rows and
 * counts it gives without them; a copy whose zones lie is not trusted unvouched, and verify
 * names it.
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
#include "connrec_event.h"
#include "conn_zones.h"
#include "log.h"
#include "segment.h"
#include "store.h"
#include "store_read.h"
#include "store_verify.h"

static char base[256];

static uint64_t rng = 88172645463325252ULL;
static uint64_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

/* ---- the bound, against brute force ---- */

struct row {
	int64_t id, end;
};

/* Every row below conn_zones_first_id(since) ends before since. */
static int skipped_wrongly(const struct conn_zones *z, const struct row *r, size_t n,
			   int64_t since)
{
	int64_t from = conn_zones_first_id(z, since);

	for (size_t i = 0; i < n; i++)
		if (r[i].id < from && r[i].end >= since)
			return 1;
	return 0;
}

static void test_bound(void)
{
	enum { N = 20000 };
	struct row *r = calloc(N, sizeof(*r));
	struct conn_zones z, back;
	char text[CONN_ZONES_TEXT_MAX];
	int bad = 0, useful = 0;

	if (!r)
		return;
	/* Ids in start order, ends mostly soon after; one row in 50 ends much later. */
	for (int i = 0; i < N; i++) {
		r[i].id = 5000 + i;
		r[i].end = 1000000 + (int64_t)i * 10 + (int64_t)(rnd() % 30);
		if (rnd() % 50 == 0)
			r[i].end += (int64_t)(rnd() % 100000);
	}
	/* Shuffled: rows reach the writer in end order, not id order. */
	for (int i = N - 1; i > 0; i--) {
		int k = (int)(rnd() % (uint64_t)(i + 1));
		struct row t = r[i];

		r[i] = r[k];
		r[k] = t;
	}
	conn_zones_init(&z, 5000);
	for (int i = 0; i < N; i++)
		conn_zones_add(&z, r[i].id, r[i].end);
	CHECK(z.n > 100 && z.n <= CONN_ZONES_MAX, "zones in use: %u", z.n);
	for (int64_t since = 900000; since < 1000000 + 10 * N + 200000; since += 977) {
		bad += skipped_wrongly(&z, r, N, since);
		useful += conn_zones_first_id(&z, since) > 5000 + N / 2;
	}
	CHECK(bad == 0, "%d windows skipped rows they hold", bad);
	CHECK(useful > 50, "only %d late windows could skip half the rows", useful);

	/* A row below zone 0 (a flow that began before the segment) is in zone 0. */
	conn_zones_add(&z, 10, 99999999999LL);
	CHECK_THAT(conn_zones_first_id(&z, 99999999999LL) == INT64_MIN);

	CHECK_THAT(conn_zones_format(&z, text, sizeof(text)) == 0);
	CHECK_THAT(conn_zones_parse(text, &back) == 0);
	CHECK_THAT(back.n == z.n && back.shift == z.shift && back.base == z.base &&
		   !memcmp(back.end, z.end, z.n * sizeof(z.end[0])));
	CHECK_THAT(conn_zones_format(&z, text, 10) == -ENOSPC);

	static const char *const bad_text[] = {
		"", "x", "1", "63 0 5", "1 -1 5", "1 0 5 ", "1 0  5", "1 0 5x", "01x 0",
		"1 0 99999999999999999999", "62 2 0", "1 9223372036854775807 1", "9 444 00",
		"01 0 5",
	};
	for (size_t i = 0; i < sizeof(bad_text) / sizeof(bad_text[0]); i++)
		CHECK(conn_zones_parse(bad_text[i], &back) == -EINVAL && back.n == 0,
		      "\"%s\" parsed", bad_text[i]);
	CHECK_THAT(conn_zones_parse(NULL, &back) == -EINVAL);
	/* More zones than CONN_ZONES_MAX. */
	size_t off = (size_t)snprintf(text, sizeof(text), "0 0");
	for (int i = 0; i <= CONN_ZONES_MAX; i++)
		off += (size_t)snprintf(text + off, sizeof(text) - off, " 1");
	CHECK_THAT(conn_zones_parse(text, &back) == -EINVAL);
	CHECK_THAT(conn_zones_parse("3 7 0 12 0", &back) == 0 && back.n == 3);
	CHECK_THAT(conn_zones_first_id(&back, 5) == 8 << 3);
	CHECK_THAT(conn_zones_first_id(&back, 13) == 10 << 3); /* past the last zone */
	CHECK_THAT(conn_zones_first_id(&back, 0) == INT64_MIN);
	free(r);
}

/* ---- a store written out of order, read with and without its zones ---- */

#define T0 1700000000000000000LL
#define MS 1000000LL

enum kind { WHOLE, LATE, SPLIT, NEVER };

struct flow {
	uint64_t id;
	int64_t start, end;
	enum kind kind;
};

/* When a flow's rows reach the store: a whole one at its end, the others 20 ms in. */
struct write {
	int64_t at;
	const struct flow *f;
	bool end_row;
};

static int cmp_write(const void *a, const void *b)
{
	const struct write *x = a, *y = b;

	return x->at < y->at ? -1 : x->at > y->at;
}

static struct store_conn conn_of(const struct flow *f, bool whole)
{
	struct store_conn c;

	memset(&c, 0, sizeof(c));
	c.id = f->id;
	c.start_ns = f->start;
	c.proto = 6;
	c.family = 4;
	c.dir = CR_DIR_OUT;
	c.lport = (uint16_t)(30000 + f->id % 1000);
	c.rport = f->id % 3 ? 443 : 53;
	c.pid = 100;
	c.netns = 4026531840U;
	c.cgroup = 1;
	snprintf(c.comm, sizeof(c.comm), "p");
	c.laddr[0] = 10;
	c.raddr[0] = 192;
	if (whole) {
		c.has_end = true;
		c.end_ns = f->end;
		c.reason = CR_END_LOCAL_FIN;
	}
	return c;
}

/* The rows a window gives, as (id, end or -1) pairs in id order. */
struct rows {
	int64_t v[2 * 8192];
	size_t n;
};

static int collect(const struct sr_conn *r, void *arg)
{
	struct rows *out = arg;

	if (out->n + 2 > sizeof(out->v) / sizeof(out->v[0]))
		return -E2BIG;
	out->v[out->n++] = r->id;
	out->v[out->n++] = r->has_end ? r->end_ns : -1;
	return 0;
}

static int cmp_pair(const void *a, const void *b)
{
	const int64_t *x = a, *y = b;

	return x[0] != y[0] ? (x[0] < y[0] ? -1 : 1) : (x[1] > y[1]) - (x[1] < y[1]);
}

static int window(struct sr_segment *seg, int64_t since, struct rows *rows, uint64_t *count)
{
	struct sr_conn_filter f;
	int err;

	sr_conn_filter_init(&f);
	f.since = since;
	rows->n = 0;
	err = sr_conns(seg, &f, collect, rows);
	qsort(rows->v, rows->n / 2, 2 * sizeof(rows->v[0]), cmp_pair);
	if (!err)
		err = sr_count_folded(seg, &f, count);
	return err;
}

static int open_seg(const char *path, bool vouched, struct sr_segment **seg)
{
	struct sr_open_opts o = { .flags = SR_OPEN_NO_CHECK | (vouched ? SR_OPEN_VOUCHED : 0) };
	char err[256];
	int rc = sr_open(path, &o, seg, err, sizeof(err));

	if (rc)
		fprintf(stderr, "open %s: %s\n", path, err);
	return rc;
}

static int64_t latest_end(const struct conn_zones *z)
{
	int64_t e = 0;

	for (unsigned j = 0; j < z->n; j++)
		e = z->end[j] > e ? z->end[j] : e;
	return e;
}

/* Every --since window across the segment: the same rows and counts with and without zones. */
static int compare_windows(const char *path, const char *trusted_path, int *skips)
{
	struct sr_segment *with = NULL, *without = NULL;
	static struct rows a, b;
	struct sr_meta m;
	int differ = 0;

	if (open_seg(path, true, &with) || open_seg(trusted_path, false, &without)) {
		sr_close(with);
		sr_close(without);
		return -1;
	}
	m = *sr_meta(with);
	/* From before the first row to after the last end (run rows are in real time). */
	int64_t hi = latest_end(&m.zones) + MS;

	for (int64_t since = m.first_ns - MS; since <= hi; since += (hi - m.first_ns) / 97 + 1) {
		uint64_t na = 0, nb = 0;
		int ea = window(with, since, &a, &na), eb = window(without, since, &b, &nb);

		if (ea || eb || na != nb || a.n != b.n ||
		    memcmp(a.v, b.v, a.n * sizeof(a.v[0]))) {
			if (!differ)
				fprintf(stderr, "%s since %" PRId64 ": %zu rows %" PRIu64
						" counted, against %zu and %" PRIu64 " (err %d %d)\n",
					path, since, a.n / 2, na, b.n / 2, nb, ea, eb);
			differ++;
		}
		*skips += conn_zones_first_id(&m.zones, since) != INT64_MIN;
	}
	sr_close(with);
	sr_close(without);
	return differ;
}

static void sh(const char *fmt, const char *a, const char *b)
{
	char cmd[1200];

	snprintf(cmd, sizeof(cmd), fmt, a, b);
	CHECK(system(cmd) == 0, "%s", cmd);
}

/* The findings of verify, one "FAIL SEGMENT: what" line each. */
static void verify_lines(void *ctx, const struct verify_item *it)
{
	if (it->kind == VERIFY_PROBLEM)
		fprintf(ctx, "FAIL %s: %s\n", it->segment, it->message);
}

static int verify_text(const char *dir, const char *file, char **text)
{
	size_t len = 0;
	FILE *f = open_memstream(text, &len);
	char *files[] = { (char *)file };
	char err[256];
	int rc = store_verify(dir, file ? files : NULL, file ? 1 : 0, NULL, verify_lines, f, err,
			      sizeof(err));

	fclose(f);
	return rc;
}

/*
 * Rewrites a copy's conn_end_zones: every zone ending at `end`, or the text given.
 */
static int set_zones(const char *file, int64_t end, const char *text)
{
	char buf[CONN_ZONES_TEXT_MAX];
	struct conn_zones z;
	sqlite3_stmt *st = NULL;
	sqlite3 *db = NULL;
	int rc = sqlite3_open(file, &db);

	if (rc == SQLITE_OK)
		rc = sqlite3_prepare_v2(db, "SELECT value FROM meta WHERE key = 'conn_end_zones'",
					-1, &st, NULL);
	if (rc == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW &&
	    !conn_zones_parse((const char *)sqlite3_column_text(st, 0), &z)) {
		for (unsigned j = 0; j < z.n; j++)
			z.end[j] = end;
		conn_zones_format(&z, buf, sizeof(buf));
	} else {
		rc = SQLITE_ERROR;
	}
	sqlite3_finalize(st);
	st = NULL;
	if (rc == SQLITE_OK)
		rc = sqlite3_prepare_v2(db, "UPDATE meta SET value = ?1 WHERE key = 'conn_end_zones'",
					-1, &st, NULL);
	if (rc == SQLITE_OK) {
		sqlite3_bind_text(st, 1, text ? text : buf, -1, SQLITE_STATIC);
		rc = sqlite3_step(st) == SQLITE_DONE ? SQLITE_OK : SQLITE_ERROR;
	}
	sqlite3_finalize(st);
	sqlite3_close(db);
	return rc;
}

static void test_store(void)
{
	enum { N = 6000 };
	struct store_opts o = { .version = "test", .rotate_size = 96 << 10,
				.retain_size = UINT64_MAX, .retain_age_ns = -1 };
	struct flow *fl = calloc(N, sizeof(*fl));
	struct write *w = calloc(2 * N, sizeof(*w));
	char dir[300], path[700], plain[400], lie[700];
	struct store *s = NULL;
	size_t nw = 0;
	int kinds[4] = { 0 };
	bool restarted = false;

	snprintf(dir, sizeof(dir), "%s/store", base);
	o.dir = dir;
	if (!fl || !w || store_open(&s, &o) != 0) {
		CHECK(0, "cannot open a store in %s", dir);
		goto cleanup;
	}
	for (int i = 0; i < N; i++) {
		struct flow *f = &fl[i];
		uint64_t r = rnd() % 100;

		f->id = (uint64_t)i + 1;
		f->start = T0 + i * MS;
		f->kind = r < 80 ? WHOLE : r < 90 ? LATE : r < 98 ? SPLIT : NEVER;
		f->end = f->start + (int64_t)(rnd() % (5 * MS));
		if (f->kind == LATE) /* written long after rows that began later */
			f->end = f->start + 100 * MS + (int64_t)(rnd() % (900 * MS));
		if (f->kind == SPLIT)
			f->end = f->start + 30 * MS + (int64_t)(rnd() % (2000 * MS));
		kinds[f->kind]++;
		if (f->kind == WHOLE || f->kind == LATE) {
			w[nw++] = (struct write){ f->end, f, false };
			continue;
		}
		w[nw++] = (struct write){ f->start + 20 * MS, f, false };
		if (f->kind == SPLIT)
			w[nw++] = (struct write){ f->end, f, true };
	}
	qsort(w, nw, sizeof(*w), cmp_write);
	/*
	 * A flush every 10 ms of flow time; rows of one flush go in the order they came. Halfway,
	 * a restart: the reopened active segment was not seen whole by one writer, so sealing
	 * computes its zones.
	 */
	for (size_t i = 0; i < nw;) {
		int64_t until = w[i].at + 10 * MS;

		if (i >= nw / 2 && !restarted) {
			restarted = true;
			CHECK_THAT(store_close(s) == 0);
			s = NULL;
			CHECK_THAT(store_open(&s, &o) == 0);
			if (!s)
				goto cleanup;
		}

		for (; i < nw && w[i].at < until; i++) {
			const struct flow *f = w[i].f;

			if (w[i].end_row) {
				struct store_end e = { .id = f->id, .end_ns = f->end,
						       .reason = CR_END_PEER_FIN };

				store_add_end(s, &e);
			} else {
				struct store_conn c = conn_of(f, f->kind == WHOLE || f->kind == LATE);

				store_add_conn(s, &c);
			}
		}
		CHECK_THAT(store_flush(s) == 0);
	}
	CHECK_THAT(store_close(s) == 0);
	s = NULL;

	/* Each sealed segment: with its zones (vouched) as without (its plain copy). */
	int segs = 0, differ = 0, skips = 0;

	snprintf(plain, sizeof(plain), "%s/plain", base);
	mkdir(plain, 0700);
	for (uint32_t seq = 1;; seq++) {
		struct sr_meta m;
		char err[256];
		struct sr_open_opts ro = { 0 };

		seg_path(path, sizeof(path), dir, seq, SEG_ZST);
		if (access(path, F_OK))
			break;
		CHECK_THAT(sr_read_meta(path, &ro, &m, err, sizeof(err)) == 0);
		CHECK(m.zones.n > 1, "segment %u has %u end zones", seq, m.zones.n);
		snprintf(lie, sizeof(lie), "%s/seg-%u.db", plain, seq);
		sh("zstd -q -d -f '%s' -o '%s'", path, lie);
		segs++;
		differ += compare_windows(path, lie, &skips);
	}
	CHECK(segs >= 4, "only %d sealed segments", segs);
	CHECK(differ == 0, "%d windows differ with the zones", differ);
	CHECK(skips > 3 * segs, "the zones let only %d of the windows skip rows", skips);
	CHECK(kinds[LATE] > 100 && kinds[SPLIT] > 100 && kinds[NEVER] > 20, "kinds %d %d %d",
	      kinds[LATE], kinds[SPLIT], kinds[NEVER]);

	/* The recorder's zones are what verify computes from the rows. */
	char *text = NULL;

	CHECK_THAT(verify_text(dir, NULL, &text) == 0);
	if (text && strstr(text, "FAIL"))
		fprintf(stderr, "%s", text);
	free(text);

	/* A copy of segment 2 whose zones say every whole lifetime ended at 1 ns. */
	snprintf(path, sizeof(path), "%s/seg-2.db", plain);
	snprintf(lie, sizeof(lie), "%s/seg-00000002.db", base);
	sh("cp '%s' '%s'", path, lie);
	struct sr_segment *seg = NULL;
	int64_t late = 0;
	struct sr_meta m;
	static struct rows a, b;
	uint64_t na = 0, nb = 0;

	if (open_seg(path, false, &seg) == 0) {
		late = latest_end(&sr_meta(seg)->zones) - 50 * MS;
		sr_close(seg);
	}
	CHECK_THAT(set_zones(lie, 1, NULL) == 0);
	if (open_seg(lie, false, &seg) == 0) {
		m = *sr_meta(seg);
		CHECK(m.zones.n > 1 && m.zones.end[0] == 1, "the lie did not take: %u zones",
		      m.zones.n);
		/* Unvouched, the lie is not used: the late window finds its rows. */
		window(seg, late, &a, &na);
		sr_close(seg);
		if (open_seg(path, false, &seg) == 0) {
			window(seg, late, &b, &nb);
			sr_close(seg);
		}
		CHECK(a.n > 0 && a.n == b.n && na == nb && !memcmp(a.v, b.v, a.n * sizeof(a.v[0])),
		      "an unvouched lying copy gave %zu rows, %" PRIu64 " counted; the truth %zu, %"
		      PRIu64, a.n / 2, na, b.n / 2, nb);
		/* Taken at its word, it would hide them: the zones are really what is used. */
		if (open_seg(lie, true, &seg) == 0) {
			window(seg, late, &a, &na);
			sr_close(seg);
		}
		CHECK(na < nb, "a lying copy read as vouched still counted %" PRIu64, na);
	}
	text = NULL;
	CHECK_THAT(verify_text(NULL, lie, &text) == 1);
	CHECK(text && strstr(text, "FAIL seg-00000002.db: its metadata (conn_end_zones) says the"
				   " whole lifetimes of zone 0"),
	      "verify of lying zones: %s", text ? text : "");
	free(text);
	CHECK_THAT(set_zones(lie, 0, "1 2 x") == 0);
	text = NULL;
	CHECK_THAT(verify_text(NULL, lie, &text) == 1);
	CHECK(text && strstr(text, "FAIL seg-00000002.db: its metadata conn_end_zones is not in the"
				   " form connrec writes"),
	      "verify of unreadable zones: %s", text ? text : "");
	free(text);
cleanup:
	if (s)
		store_close(s);
	free(fl);
	free(w);
}

int main(void)
{
	char cmd[400];

	cr_log_set_level(getenv("V") ? CR_LOG_DEBUG : CR_LOG_ERROR);
	snprintf(base, sizeof(base), "/tmp/connrec-test-zones.XXXXXX");
	if (!mkdtemp(base)) {
		perror("mkdtemp");
		return 1;
	}
	test_bound();
	test_store();
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", base);
	if (!check_failed && !getenv("KEEP") && system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", base);
	else if (check_failed || getenv("KEEP"))
		fprintf(stderr, "kept %s\n", base);
	return check_done();
}
