// SPDX-License-Identifier: MIT
/*
 * `connrec verify`: checks a data dir (or a set of segment files) for integrity, the hash
 * chain between segments and the retention records, and lists the recording gaps.
 *
 * The chain: segment N+1 records in meta prev_sha256 the SHA-256 of the file
 * seg-N.db.zst, byte for byte. So a missing, modified or renamed sealed segment breaks
 * the link to its successor, and meta segment_id catches files that swapped names. The
 * oldest remaining segment's predecessor must be named by a retention row (name and hash).
 * Segments are opened through the evidence reader (read/), never written.
 */
#include <errno.h>
#include <inttypes.h>
#include <libgen.h>
#include <stdarg.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fileio.h"
#include "segment.h"
#include "store.h"
#include "progress.h"
#include "store_read.h"
#include "store_read_internal.h"
#include "store_verify.h"
#include "sealkey.h"
#include "timespec.h"
#include "verify_seal.h"

struct vseg {
	char path[PATH_MAX];
	char name[SEG_NAME_MAX + 16];
	uint32_t seq;	/* from the file name; 0 when the name is not a segment name */
	bool zst, active, live, opened;
	struct sr_meta meta;
	char sha256[65]; /* of the .zst file */
	int64_t conns;
};

struct ret {
	char name[SEG_NAME_MAX + 16];
	char sha256[72];
	char in[SEG_NAME_MAX + 16]; /* segment that holds the record */
	int64_t first_ns, last_ns;
};

struct vctx {
	verify_fn fn;
	void *ctx;
	int problems;
	int tampers; /* tamper gaps seen: not problems of the store, but the reader must know */
	struct ret *rets;
	size_t nrets;
	struct vseal *seal; /* checkpoints and seals (verify_seal.c) */
};

static void emit(struct vctx *c, const struct verify_item *it)
{
	c->fn(c->ctx, it);
}

/* A finding in words: a problem (counted) or a note. */
static void say(struct vctx *c, enum verify_kind kind, const char *seg, const char *fmt,
		va_list ap) __attribute__((format(printf, 4, 0)));

static void say(struct vctx *c, enum verify_kind kind, const char *seg, const char *fmt,
		va_list ap)
{
	char what[1536];
	struct verify_item it = { .kind = kind, .segment = seg, .message = what };

	vsnprintf(what, sizeof(what), fmt, ap);
	emit(c, &it);
}

static void problem(struct vctx *c, const char *seg, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void problem(struct vctx *c, const char *seg, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	say(c, VERIFY_PROBLEM, seg, fmt, ap);
	va_end(ap);
	c->problems++;
}

static void note(struct vctx *c, const char *seg, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void note(struct vctx *c, const char *seg, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	say(c, VERIFY_NOTE, seg, fmt, ap);
	va_end(ap);
}

struct gap_ctx {
	struct vctx *c;
	const char *seg;
};

static int emit_gap(const struct sr_gap *g, void *arg)
{
	struct gap_ctx *gc = arg;
	struct verify_item it = { .kind = VERIFY_GAP, .segment = gc->seg, .gap = g };

	if (g->kind == CR_GAP_TAMPER)
		gc->c->tampers++;
	emit(gc->c, &it);
	return 0;
}

static int load_rets(struct vctx *c, struct vseg *v, sqlite3 *db)
{
	sqlite3_stmt *st = NULL;
	int rc;

	rc = sqlite3_prepare_v2(db, "SELECT name, sha256, first_ns, last_ns FROM retention", -1,
				&st, NULL);
	if (rc != SQLITE_OK)
		return -EIO;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct ret *nr = realloc(c->rets, (c->nrets + 1) * sizeof(*nr));
		const unsigned char *n = sqlite3_column_text(st, 0);
		const unsigned char *h = sqlite3_column_text(st, 1);

		if (!nr)
			break;
		c->rets = nr;
		nr = &c->rets[c->nrets++];
		snprintf(nr->name, sizeof(nr->name), "%s", n ? (const char *)n : "");
		snprintf(nr->sha256, sizeof(nr->sha256), "%s", h ? (const char *)h : "");
		snprintf(nr->in, sizeof(nr->in), "%s", v->name);
		nr->first_ns = sqlite3_column_int64(st, 2);
		nr->last_ns = sqlite3_column_int64(st, 3);
	}
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : -EIO;
}

static int ignore_conn(const struct sr_conn *row, void *ctx)
{
	(void)row, (void)ctx;
	return 0;
}

static int ignore_end(const struct sr_end *row, void *ctx)
{
	(void)row, (void)ctx;
	return 0;
}

static int ignore_gap(const struct sr_gap *row, void *ctx)
{
	(void)row, (void)ctx;
	return 0;
}

static int ignore_run(const struct sr_run *row, void *ctx)
{
	(void)row, (void)ctx;
	return 0;
}

static int ignore_life(const struct sr_life *row, void *ctx)
{
	(void)row, (void)ctx;
	return 0;
}

static int ignore_life_exit(const struct sr_life_exit *row, void *ctx)
{
	(void)row, (void)ctx;
	return 0;
}

static int ignore_cgroup(const struct sr_cgroup *row, void *ctx)
{
	(void)row, (void)ctx;
	return 0;
}

/*
 * A sealed segment's meta first_ns..last_ns is what query trusts to skip it without reading
 * it, so it must cover every time in its rows (the writer computes it from them at sealing).
 * A span narrowed after sealing hides rows from a query window: it is a problem, named.
 */
static void check_span(struct vctx *c, const struct vseg *v, struct sr_segment *seg)
{
	/* One statement each: the reader allows few compound SELECTs. */
	static const char *const sql[] = {
		"SELECT min(start_ns), max(start_ns + coalesce(dur_ns, 0)) FROM conn",
		"SELECT min(end_ns), max(end_ns) FROM conn_end",
		"SELECT min(start_ns), max(end_ns) FROM gap",
		"SELECT min(ts_ns), max(ts_ns) FROM run",
		"SELECT min(ts_ns), max(ts_ns) FROM retention",
	};
	const struct sr_meta *m = &v->meta;
	int64_t lo = INT64_MAX, hi = INT64_MIN;

	if (!m->sealed || m->first_ns == SR_NO_TIME || m->last_ns == SR_NO_TIME)
		return;
	for (size_t i = 0; i < sizeof(sql) / sizeof(sql[0]); i++) {
		sqlite3_stmt *st = NULL;
		int rc = sqlite3_prepare_v2(sr_db(seg), sql[i], -1, &st, NULL);

		if (rc == SQLITE_OK)
			rc = sqlite3_step(st);
		if (rc == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL) {
			int64_t a = sqlite3_column_int64(st, 0), b = sqlite3_column_int64(st, 1);

			lo = a < lo ? a : lo;
			hi = b > hi ? b : hi;
		}
		sqlite3_finalize(st);
		if (rc != SQLITE_ROW) {
			problem(c, v->name, "cannot read its time span: %s", sr_errmsg(seg));
			return;
		}
	}
	if (lo <= hi && (lo < m->first_ns || hi > m->last_ns))
		problem(c, v->name,
			"its metadata says its rows span %" PRId64 "..%" PRId64 " ns, but they span"
			" %" PRId64 "..%" PRId64 ": a query window would skip some",
			m->first_ns, m->last_ns, lo, hi);
}

/*
 * A sealed segment's meta conn_whole (schema/seal.sql) answers a --count for the whole
 * segment when the hash chain vouches for the file, so it must be the number of its rows
 * that hold a whole lifetime. Counted with the reader's own test of such a row.
 */
static void check_whole_count(struct vctx *c, const struct vseg *v, struct sr_segment *seg)
{
	const struct sr_meta *m = &v->meta;
	sqlite3_stmt *st = NULL;
	int rc;

	if (m->conn_whole < 0)
		return;
	rc = sqlite3_prepare_v2(sr_db(seg), "SELECT count(*) FROM conn c WHERE " SR_SQL_FOLDED, -1,
				&st, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_step(st);
	if (rc != SQLITE_ROW)
		problem(c, v->name, "cannot count its conn rows: %s", sr_errmsg(seg));
	else if (sqlite3_column_int64(st, 0) != m->conn_whole)
		problem(c, v->name,
			"its metadata says it holds %" PRId64 " whole lifetimes, but it holds %" PRId64
			": a --count would be wrong",
			m->conn_whole, (int64_t)sqlite3_column_int64(st, 0));
	sqlite3_finalize(st);
}

/*
 * A sealed segment's end zones (meta conn_end_zones, conn_zones.h) let a --since window skip
 * the whole lifetimes below a conn id unread when the hash chain vouches for the file; a zone
 * whose latest end is too early would hide rows. Computed again from the rows, in the stored
 * shape, each zone must be what the writer stored.
 */
static void check_zones(struct vctx *c, const struct vseg *v, struct sr_segment *seg)
{
	const struct conn_zones *z = &v->meta.zones;
	struct conn_zones truth;

	if (v->meta.zones_bad) {
		problem(c, v->name, "its metadata %s is not in the form connrec writes",
			CONN_ZONES_META);
		return;
	}
	if (!z->n)
		return;
	if (conn_zones_of_db(sr_db(seg), z, &truth) != SQLITE_OK) {
		problem(c, v->name, "cannot read its conn rows: %s", sr_errmsg(seg));
		return;
	}
	for (unsigned j = 0; j < z->n; j++) {
		if (truth.end[j] == z->end[j])
			continue;
		problem(c, v->name,
			"its metadata (%s) says the whole lifetimes of zone %u (conn ids from %" PRId64
			") end by %" PRId64 " ns, but the latest ends at %" PRId64
			" ns: a --since window would skip rows or read rows for nothing",
			CONN_ZONES_META, j, j ? (z->base + (int64_t)j) << z->shift : (int64_t)0,
			z->end[j], truth.end[j]);
		return;
	}
}

/*
 * Values connrec never writes: a segment number below 1 (or none), a time before 1970 in the
 * metadata, and every row the reader refuses (a time before 1970, an end past 64 bits, a port
 * or pid that does not fit), process lives and cgroups included. Each row is read the way query reads it, so what query refuses
 * verify names, and a doctored or damaged store does not pass as OK.
 */
static void check_values(struct vctx *c, const struct vseg *v, struct sr_segment *seg)
{
	const struct sr_meta *m = &v->meta;
	const int64_t times[] = { m->created_ns, m->first_ns, m->last_ns };
	struct sr_conn_filter all;
	int err;

	if (m->segment_id < 1 || m->segment_id > UINT32_MAX) /* names hold a 32-bit number */
		problem(c, v->name, "its metadata has no valid segment number");
	for (size_t i = 0; i < sizeof(times) / sizeof(times[0]); i++) {
		if (times[i] != SR_NO_TIME && times[i] < 0) {
			problem(c, v->name, "its metadata has a time before 1970 (%" PRId64 ")",
				times[i]);
			break;
		}
	}
	sr_conn_filter_init(&all);
	err = sr_conns(seg, &all, ignore_conn, NULL);
	if (!err)
		err = sr_ends(seg, SR_NO_TIME, SR_TIME_MAX, ignore_end, NULL);
	if (!err)
		err = sr_gaps(seg, SR_NO_TIME, SR_TIME_MAX, ignore_gap, NULL);
	if (!err)
		err = sr_runs(seg, ignore_run, NULL);
	if (!err) /* the process lives query --procs reads (none before schema version 2) */
		err = sr_lives(seg, ignore_life, NULL);
	if (!err)
		err = sr_life_exits(seg, ignore_life_exit, NULL);
	if (!err)
		err = sr_cgroups(seg, ignore_cgroup, NULL);
	if (err == -ERANGE)
		problem(c, v->name, "%s", sr_errmsg(seg));
	else if (err)
		problem(c, v->name, "cannot read its rows: %s", sr_errmsg(seg));
	else {
		check_span(c, v, seg);
		check_whole_count(c, v, seg);
		check_zones(c, v, seg);
	}
}

static int64_t vseg_num(const struct vseg *v);

static struct vs_seg vs_seg_of(const struct vseg *v)
{
	return (struct vs_seg){ .num = (uint32_t)vseg_num(v), .name = v->name, .path = v->path,
				.zst = v->zst, .opened = v->opened, .active = v->active,
				.sha256 = v->sha256 };
}

/* Opens one segment, runs integrity_check, reads its metadata, gaps and retention rows. */
static void check_one(struct vctx *c, struct vseg *v)
{
	struct sr_open_opts o = { .flags = v->live ? SR_OPEN_LIVE : 0 };
	struct sr_segment *seg = NULL;
	sqlite3_stmt *st = NULL;
	struct verify_item it = { .kind = VERIFY_SEGMENT };
	struct gap_ctx gc = { c, v->name };
	char err[512];
	int rc;

	if (v->zst) {
		rc = seg_hash_file(v->path, v->sha256);
		if (rc) {
			problem(c, v->name, "cannot read: %s", cr_open_strerror(rc));
			return;
		}
	}
	rc = sr_open(v->path, &o, &seg, err, sizeof(err));
	if (rc) {
		problem(c, v->name, "cannot open as a segment: %s", err);
		return;
	}
	v->opened = true;
	v->meta = *sr_meta(seg);
	rc = sqlite3_prepare_v2(sr_db(seg), "PRAGMA integrity_check", -1, &st, NULL);
	if (rc == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW) {
		const unsigned char *r = sqlite3_column_text(st, 0);

		if (!r || strcmp((const char *)r, "ok"))
			problem(c, v->name, "integrity_check: %s", r ? (const char *)r : "?");
	} else {
		problem(c, v->name, "integrity_check failed: %s", sr_errmsg(seg));
	}
	sqlite3_finalize(st);
	st = NULL;
	check_values(c, v, seg);
	if (sqlite3_prepare_v2(sr_db(seg), "SELECT count(*) FROM conn", -1, &st, NULL) ==
		    SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW)
		v->conns = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);

	if (v->seq && v->meta.segment_id != (int64_t)v->seq)
		problem(c, v->name, "its metadata says it is segment %" PRId64
			" (renamed, swapped or replaced)", v->meta.segment_id);
	if (v->zst && !v->meta.sealed)
		problem(c, v->name, "compressed but not marked sealed");
	if (load_rets(c, v, sr_db(seg)))
		problem(c, v->name, "cannot read its retention records: %s", sr_errmsg(seg));

	it.segment = v->name;
	it.state = v->zst ? "sealed" : v->active ? "active" : "unsealed";
	it.first_ns = v->meta.first_ns != SR_NO_TIME ? v->meta.first_ns : v->meta.created_ns;
	it.last_ns = v->meta.last_ns;
	it.conns = v->conns;
	it.sha256 = v->zst ? v->sha256 : NULL;
	emit(c, &it);
	sr_gaps(seg, SR_NO_TIME, SR_TIME_MAX, emit_gap, &gc);
	struct vs_seg vsg = vs_seg_of(v);

	vseal_read_segment(c->seal, &vsg, sr_db(seg));
	sr_close(seg);
}

/* Its number: from the file name, else (a file given under another name) from its meta. */
static int64_t vseg_num(const struct vseg *v)
{
	return v->seq ? v->seq : v->meta.segment_id;
}

static int vseg_cmp(const void *a, const void *b)
{
	int64_t sx = vseg_num(a), sy = vseg_num(b);

	return sx < sy ? -1 : sx > sy;
}

/*
 * A sealed segment is only ever kept compressed: once its successor records the hash of the
 * .zst, a plain .db of it was decompressed afterwards (and maybe edited), and nothing can
 * prove its rows. One marked sealed is checked like a .zst would be: a sealed successor must
 * record its hash; an active one may not yet, as when a crash interrupted its sealing (which a
 * recorder started on the dir finishes) -- or when an intruder decompressed the newest sealed
 * segment and removed its hash from the active one, which only its seal record can tell.
 */
static void check_plain_sealed(struct vctx *c, const struct vseg *v, const struct vseg *next)
{
	if (next && next->opened && next->meta.prev_sha256[0])
		problem(c, v->name, "plain .db, but %s records the SHA-256 of its sealed file: "
				    "decompressed after sealing (and maybe edited); its rows are not "
				    "proven",
			next->name);
	else if (v->meta.sealed && next && next->zst)
		problem(c, v->name, "marked sealed but not compressed, and %s (sealed) records no "
				    "hash of it: decompressed and maybe edited",
			next->name);
	else if (v->meta.sealed)
		note(c, v->name, "marked sealed but not compressed yet: its sealing was "
				 "interrupted (a recorder started on the dir finishes it), or it was "
				 "decompressed; no hash proves its rows until then");
}

static void check_chain(struct vctx *c, struct vseg *v, size_t n, bool whole_dir)
{
	for (size_t i = 0; i < n; i++) {
		struct vseg *cur = &v[i], *prev = i ? &v[i - 1] : NULL;
		uint32_t cs = (uint32_t)vseg_num(cur);
		uint32_t ps = prev ? (uint32_t)vseg_num(prev) : 0;
		char want[SEG_NAME_MAX];

		if (!cur->opened)
			continue;
		if (prev && cs == ps + 1) {
			bool renamed = (cur->seq && cur->meta.segment_id != cur->seq) ||
				       (prev->seq && prev->meta.segment_id != prev->seq);

			if (!prev->zst || !prev->opened || renamed)
				continue; /* not sealed: no hash to compare (check_plain_sealed) */
			if (!cur->meta.prev_sha256[0]) {
				if (cur->zst)
					problem(c, cur->name, "does not record the hash of %s",
						prev->name);
				else
					note(c, cur->name,
					     "does not record the hash of %s yet (sealing"
					     " just finished)",
					     prev->name);
			} else if (strcmp(cur->meta.prev_sha256, prev->sha256)) {
				problem(c, prev->name,
					"SHA-256 differs from the one recorded in %s: modified or"
					" replaced", cur->name);
			}
			continue;
		}
		if (prev && cs > ps + 1) {
			seg_format_name(want, sizeof(want), ps + 1, SEG_ZST);
			if (whole_dir)
				problem(c, want, "missing (between %s and %s)", prev->name,
					cur->name);
			else
				note(c, want, "not given");
			continue;
		}
		if (prev)
			continue; /* duplicate numbers: already reported by segment_id */
		/* The oldest one: its predecessor must have been deleted by retention. */
		if (cs <= 1 || !whole_dir)
			continue;
		seg_format_name(want, sizeof(want), cs - 1, SEG_ZST);
		bool found = false;

		for (size_t r = 0; r < c->nrets; r++) {
			if (strcmp(c->rets[r].name, want))
				continue;
			found = true;
			if (cur->meta.prev_sha256[0] &&
			    strcmp(c->rets[r].sha256, cur->meta.prev_sha256))
				problem(c, want, "deleted by retention (recorded in %s) but the"
						 " recorded hash differs from the one in %s",
					c->rets[r].in, cur->name);
			else
				note(c, want, "and older were deleted by retention (recorded in %s)",
				     c->rets[r].in);
			break;
		}
		if (!found)
			problem(c, want, "missing before %s and not recorded as deleted by"
					 " retention", cur->name);
	}
}

/* The path and the file name the report uses. */
static void vseg_set_path(struct vseg *v, const char *path)
{
	char tmp[PATH_MAX];

	snprintf(v->path, sizeof(v->path), "%s", path);
	snprintf(tmp, sizeof(tmp), "%s", path);
	snprintf(v->name, sizeof(v->name), "%s", basename(tmp));
}

/* The segments of a data dir, as the evidence reader lists them. */
static int vsegs_of_dir(const char *dir, struct vseg **out, size_t *n, char *ebuf,
			size_t elen)
{
	struct sr_entry *list = NULL;
	struct vseg *v;
	int err;

	err = sr_list_dir(dir, &list, n, ebuf, elen);
	if (err)
		return err;
	v = calloc(*n ? *n : 1, sizeof(*v));
	if (!v) {
		sr_free_list(list, *n);
		return -ENOMEM;
	}
	for (size_t i = 0; i < *n; i++) {
		vseg_set_path(&v[i], list[i].path);
		v[i].zst = list[i].zst;
		v[i].active = list[i].active;
		v[i].live = list[i].live;
		if (!seg_parse_name(v[i].name, &v[i].seq))
			v[i].seq = 0;
	}
	sr_free_list(list, *n);
	*out = v;
	return 0;
}

/* Segment files named on the command line, in any directory and under any name. */
static int vsegs_of_files(char *const *files, size_t nfiles, struct vseg **out, size_t *n)
{
	struct vseg *v = calloc(nfiles ? nfiles : 1, sizeof(*v));

	if (!v)
		return -ENOMEM;
	for (size_t i = 0; i < nfiles; i++) {
		size_t l = strlen(files[i]);

		vseg_set_path(&v[i], files[i]);
		v[i].zst = l > 4 && !strcmp(files[i] + l - 4, ".zst");
		if (seg_parse_name(v[i].name, &v[i].seq) == SEG_TMP)
			v[i].seq = 0;
	}
	*out = v;
	*n = nfiles;
	return 0;
}

/* The records' checks, after everything else: they need every segment's facts. */
static void check_records(struct vctx *c, struct vseg *v, size_t n)
{
	struct vs_seg *segs = calloc(n ? n : 1, sizeof(*segs));
	struct vs_ret *rets = calloc(c->nrets ? c->nrets : 1, sizeof(*rets));

	if (!segs || !rets) {
		problem(c, "records", "out of memory");
		goto cleanup;
	}
	for (size_t i = 0; i < n; i++)
		segs[i] = vs_seg_of(&v[i]);
	for (size_t i = 0; i < c->nrets; i++)
		rets[i] = (struct vs_ret){ c->rets[i].name, c->rets[i].sha256 };
	c->problems += vseal_finish(c->seal, segs, n, rets, c->nrets, c->fn, c->ctx);
cleanup:
	free(segs);
	free(rets);
}

int store_verify(const char *dir, char *const *files, size_t nfiles,
		 const struct verify_opts *opts, verify_fn fn, void *ctx, char *err_buf,
		 size_t err_len)
{
	struct vctx c = { .fn = fn, .ctx = ctx };
	struct verify_item sum = { .kind = VERIFY_SUMMARY, .dir = dir };
	struct vseal_opts so = { .whole_dir = dir != NULL };
	char key_file[PATH_MAX + 32];
	struct vseg *v = NULL;
	size_t n = 0;
	int err;

	if (opts) {
		so.verify_key = opts->verify_key;
		so.heads_file = opts->heads_file;
		so.key_file = opts->key_file;
	}
	if (!so.key_file && dir) {
		snprintf(key_file, sizeof(key_file), "%s/%s", dir, SEALKEY_NAME);
		so.key_file = key_file;
	}
	err = vseal_new(&so, &c.seal, err_buf, err_len);
	if (err)
		return err;
	snprintf(err_buf, err_len, "%s", strerror(ENOMEM));
	err = dir ? vsegs_of_dir(dir, &v, &n, err_buf, err_len)
		  : vsegs_of_files(files, nfiles, &v, &n);
	if (err) {
		vseal_free(c.seal);
		return err;
	}
	for (size_t i = 0; i < n; i++) {
		progress_say("checking segment %zu of %zu: %s", i + 1, n, v[i].name);
		check_one(&c, &v[i]);
	}
	if (n > 1)
		qsort(v, n, sizeof(*v), vseg_cmp);
	check_chain(&c, v, n, dir != NULL);
	for (size_t i = 0; i < n; i++) {
		bool has_next = i + 1 < n && vseg_num(&v[i + 1]) == vseg_num(&v[i]) + 1;

		if (!v[i].zst && v[i].opened)
			check_plain_sealed(&c, &v[i], has_next ? &v[i + 1] : NULL);
	}
	check_records(&c, v, n);
	vseal_summary(c.seal, &sum);
	sum.segments = n;
	sum.problems = c.problems;
	sum.tampers = c.tampers;
	emit(&c, &sum);
	free(c.rets);
	free(v);
	vseal_free(c.seal);
	return c.problems ? 1 : 0;
}
