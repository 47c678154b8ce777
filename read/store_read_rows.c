// SPDX-License-Identifier: MIT
/*
 * The evidence reader's row iterators. Each statement is stepped by one loop (step_rows); a
 * decoder per row type turns the columns into the struct of store_read.h and calls the
 * caller's callback. Values are copied with bounds: a row may be damaged or hostile.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "schema_values.h"
#include "store_read_internal.h"

/*
 * Every time connrec stores is nanoseconds since the epoch, at or after 0, and an end is a
 * start plus a duration that fits in 64 bits. A row outside that is not connrec's: it is
 * refused (the read stops with -ERANGE and sr_errmsg() names the row) rather than handed on,
 * where subtracting such times would overflow.
 */
int sr_refuse_row(const struct row_cb *cb, const char *table, int64_t id, const char *col,
		  int64_t value)
{
	snprintf(cb->seg->row_err, sizeof(cb->seg->row_err),
		 "%s row %lld: %s %lld is not a value connrec writes", table, (long long)id, col,
		 (long long)value);
	return -ERANGE;
}

int sr_time_check(const struct row_cb *cb, const char *table, int64_t id, const char *col,
		  int64_t t)
{
	return t >= 0 ? 0 : sr_refuse_row(cb, table, id, col, t);
}

int sr_step_rows(sqlite3_stmt *st, int (*decode)(sqlite3_stmt *st, const struct row_cb *cb),
		 const struct row_cb *cb)
{
	int rc, err = 0;

	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		err = decode(st, cb);
		if (err)
			goto cleanup;
	}
	if (rc != SQLITE_DONE)
		err = -EBADMSG;
cleanup:
	sqlite3_finalize(st);
	return err;
}

/* sql with ?1 = since and ?2 = until bound, or -EBADMSG. */
static int prepare_window(struct sr_segment *seg, const char *sql, int64_t since, int64_t until,
			  sqlite3_stmt **st)
{
	if (sqlite3_prepare_v2(seg->db, sql, -1, st, NULL) != SQLITE_OK)
		return -EBADMSG;
	sqlite3_bind_int64(*st, 1, since);
	sqlite3_bind_int64(*st, 2, until);
	return 0;
}

void sr_text_copy(sqlite3_stmt *st, int col, char *out, size_t len)
{
	const unsigned char *t = sqlite3_column_text(st, col);

	snprintf(out, len, "%s", t ? (const char *)t : "");
}

/* ---- conn ---- */

void sr_conn_filter_init(struct sr_conn_filter *f)
{
	memset(f, 0, sizeof(*f));
	f->since = SR_NO_TIME;
	f->until = SR_TIME_MAX;
	f->dir = -1;
	f->min_dur = f->max_dur = f->short_lived = -1;
}

size_t sr_blob16(sqlite3_stmt *st, int col, uint8_t out[16])
{
	const void *p = sqlite3_column_blob(st, col);
	int n = sqlite3_column_bytes(st, col);

	memset(out, 0, 16);
	if (!p || n <= 0)
		return 0;
	memcpy(out, p, n > 16 ? 16 : (size_t)n);
	return n > 255 ? 255 : (size_t)n;
}

int sr_check_narrow(const struct row_cb *cb, sqlite3_stmt *st, const struct sr_narrow_col *v,
		    size_t n)
{
	for (size_t i = 0; i < n; i++) {
		int64_t x = sqlite3_column_int64(st, v[i].col);

		if (x < 0 || x > v[i].max)
			return sr_refuse_row(cb, v[i].table, sqlite3_column_int64(st, v[i].id_col),
					     v[i].name, x);
	}
	return 0;
}

/* The columns of CONN_SELECT, in order. */
static int conn_row(sqlite3_stmt *st, const struct row_cb *cb)
{
	static const struct sr_narrow_col narrow[] = {
		{ 2, 0, "conn", "proto", UINT8_MAX },	    { 3, 0, "conn", "family", UINT8_MAX },
		{ 4, 0, "conn", "dir", UINT8_MAX },	    { 6, 0, "conn", "lport", UINT16_MAX },
		{ 8, 0, "conn", "rport", UINT16_MAX },	    { 9, 0, "conn", "flags", UINT8_MAX },
		{ 13, 0, "conn", "reason", UINT8_MAX },	    { 17, 0, "conn_end", "reason", UINT8_MAX },
		{ 18, 23, "proc", "pid", UINT32_MAX },	    { 20, 23, "proc", "uid", UINT32_MAX },
		{ 21, 23, "proc", "netns", UINT32_MAX },
	};
	struct sr_conn r = { 0 };
	int err = sr_check_narrow(cb, st, narrow, sizeof(narrow) / sizeof(narrow[0]));

	if (err)
		return err;
	r.id = sqlite3_column_int64(st, 0);
	r.start_ns = sqlite3_column_int64(st, 1);
	r.proto = (uint8_t)sqlite3_column_int(st, 2);
	r.family = (uint8_t)sqlite3_column_int(st, 3);
	r.dir = (uint8_t)sqlite3_column_int(st, 4);
	r.laddr_len = (uint8_t)sr_blob16(st, 5, r.laddr);
	r.lport = (uint16_t)sqlite3_column_int(st, 6);
	r.raddr_len = (uint8_t)sr_blob16(st, 7, r.raddr);
	r.rport = (uint16_t)sqlite3_column_int(st, 8);
	r.flags = (uint8_t)sqlite3_column_int(st, 9);
	if (sqlite3_column_type(st, 13) != SQLITE_NULL) {
		/* Folded in: the flow had ended before its row was written. */
		r.has_end = true;
		r.end_folded = true;
		int64_t dur = sqlite3_column_int64(st, 10);

		if (__builtin_add_overflow(r.start_ns, dur, &r.end_ns))
			return sr_refuse_row(cb, "conn", r.id, "dur_ns", dur); /* no end fits */
		r.reason = (uint8_t)sqlite3_column_int(st, 13);
		r.has_bytes = sqlite3_column_type(st, 11) != SQLITE_NULL;
		r.bytes_out = (uint64_t)sqlite3_column_int64(st, 11);
		r.bytes_in = (uint64_t)sqlite3_column_int64(st, 12);
	} else if (sqlite3_column_type(st, 14) != SQLITE_NULL) {
		/* A conn_end row: the end was written later, on its own. */
		r.has_end = true;
		r.end_ns = sqlite3_column_int64(st, 14);
		r.reason = (uint8_t)sqlite3_column_int(st, 17);
		r.has_bytes = sqlite3_column_type(st, 15) != SQLITE_NULL;
		r.bytes_out = (uint64_t)sqlite3_column_int64(st, 15);
		r.bytes_in = (uint64_t)sqlite3_column_int64(st, 16);
	}
	r.pid = (uint32_t)sqlite3_column_int64(st, 18);
	sr_text_copy(st, 19, r.comm, sizeof(r.comm));
	r.uid = (uint32_t)sqlite3_column_int64(st, 20);
	r.netns = (uint32_t)sqlite3_column_int64(st, 21);
	r.cgroup = (uint64_t)sqlite3_column_int64(st, 22);
	if (sqlite3_column_count(st) > 24) /* version 2 on: the process life's key */
		r.pstart_ns = (uint64_t)sqlite3_column_int64(st, 24);
	if (sr_time_check(cb, "conn", r.id, "start_ns", r.start_ns) ||
	    (r.has_end && sr_time_check(cb, r.end_folded ? "conn" : "conn_end", r.id, "end_ns",
				     r.end_ns)))
		return -ERANGE;
	return cb->fn.conn(&r, cb->ctx);
}

int sr_conns(struct sr_segment *seg, const struct sr_conn_filter *f,
	     int (*cb)(const struct sr_conn *row, void *ctx), void *ctx)
{
#define CONN_SELECT(extra)                                                                       \
	"SELECT c.id, c.start_ns, c.proto, c.family, c.dir, c.laddr, c.lport, c.raddr,"          \
	" c.rport, c.flags, c.dur_ns, c.bytes_out, c.bytes_in, c.reason,"                        \
	" e.end_ns, e.bytes_out, e.bytes_in, e.reason,"                                          \
	" p.pid, p.comm, p.uid, p.netns, p.cgroup, p.id" extra                                   \
	" FROM conn c LEFT JOIN proc p ON p.id = c.proc"                                         \
	" LEFT JOIN conn_end e ON e.id = c.id WHERE 1"
	const struct row_cb rcb = { .fn.conn = cb, .ctx = ctx, .seg = seg };
	const struct match_sets *sets;
	struct match_sets own;
	sqlite3_stmt *st = NULL;
	int err = sr_filter_sets(f, &own, &sets);
	const char *head = seg->meta.schema_version >= 2 ? CONN_SELECT(", p.pstart_ns")
							  : CONN_SELECT("");
	int64_t from_id = f->skip_folded ? INT64_MIN : sr_zones_from_id(seg, f);
	struct sr_conn_filter rest;
#undef CONN_SELECT

	if (!err && from_id != INT64_MIN) {
		/*
		 * The end zones put every whole lifetime of the window at from_id or above: those
		 * by rowid from there, then the other rows (conn_unfolded) wherever they are.
		 */
		err = sr_prepare_filtered(seg, head, f, sets, true, from_id, &st);
		if (!err)
			err = sr_step_rows(st, conn_row, &rcb);
		st = NULL;
		rest = *f;
		rest.skip_folded = true;
		f = &rest;
	}
	if (!err)
		err = sr_prepare_filtered(seg, head, f, sets, false, INT64_MIN, &st);
	if (err)
		sqlite3_finalize(st);
	else
		err = sr_step_rows(st, conn_row, &rcb);
	match_sets_free(&own);
	return err;
}

/* The one number a count statement returns. */
static int count_rows(struct sr_segment *seg, const char *sql, uint64_t *n)
{
	sqlite3_stmt *st = NULL;
	int err = sqlite3_prepare_v2(seg->db, sql, -1, &st, NULL) == SQLITE_OK ? 0 : -EBADMSG;

	if (!err && sqlite3_step(st) != SQLITE_ROW)
		err = -EBADMSG;
	if (!err)
		*n = (uint64_t)sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return err;
}

/*
 * Every whole lifetime of a segment the window holds: all conn rows less the others. A bare
 * count(*) reads only each page's cell count (SQLite's count optimisation), where a WHERE
 * decodes two columns of every row (416,666 rows: 7.5 M instructions against 427 M), and
 * the others are the few rows of conn_unfolded (schema/seal.sql) when the segment has it.
 */
static int count_all_folded(struct sr_segment *seg, uint64_t *count)
{
	uint64_t all = 0, other = 0;
	int err = count_rows(seg, "SELECT count(*) FROM conn", &all);

	if (!err)
		err = count_rows(seg, "SELECT count(*) FROM conn c WHERE NOT (" SR_SQL_FOLDED ")",
				 &other);
	if (!err && other > all)
		err = -EBADMSG;
	if (!err)
		*count = all - other;
	return err;
}

bool sr_count_pays(struct sr_segment *seg, const struct sr_conn_filter *f)
{
	uint64_t indexed = 0;

	/* Only a needle (a port, a process) makes few rows reach C; a proto or a direction
	 * keeps about as many as it drops. */
	if (!f->n_ports && !f->n_lports && !f->n_rports && !sr_filter_needs_proc(f))
		return true;
	return !count_rows(seg,
			   "SELECT count(*) FROM sqlite_schema WHERE type = 'index' AND"
			   " name = 'conn_unfolded'",
			   &indexed) &&
	       indexed;
}

int sr_count_folded(struct sr_segment *seg, const struct sr_conn_filter *f, uint64_t *count)
{
	const struct match_sets *sets;
	struct match_sets own;
	sqlite3_stmt *st = NULL;
	int err;

	if (sr_filter_is_window_only(f) && sr_window_holds_segment(&seg->meta, f)) {
		/* The file is what sealing counted: not a page of conn to read. */
		if (seg->vouched && seg->meta.conn_whole >= 0) {
			*count = (uint64_t)seg->meta.conn_whole;
			return 0;
		}
		return count_all_folded(seg, count);
	}
	err = sr_filter_sets(f, &own, &sets);
	if (err)
		goto cleanup;
	/* Without proc conditions the count never leaves the conn b-tree. */
	err = sr_prepare_filtered(
		seg,
		sr_filter_needs_proc(f) ? "SELECT count(*) FROM conn c JOIN proc p ON p.id = c.proc"
					  " WHERE 1"
					: "SELECT count(*) FROM conn c WHERE 1",
		f, sets, true, sr_zones_from_id(seg, f), &st);
	if (err)
		goto cleanup;
	if (sqlite3_step(st) != SQLITE_ROW) {
		err = -EBADMSG;
		goto cleanup;
	}
	*count = (uint64_t)sqlite3_column_int64(st, 0);
cleanup:
	sqlite3_finalize(st);
	match_sets_free(&own);
	return err;
}

/* ---- conn_end ---- */

/* id, end_ns, bytes_out, bytes_in, reason */
static struct sr_end end_from(sqlite3_stmt *st)
{
	return (struct sr_end){
		.id = sqlite3_column_int64(st, 0),
		.end_ns = sqlite3_column_int64(st, 1),
		.has_bytes = sqlite3_column_type(st, 2) != SQLITE_NULL,
		.bytes_out = (uint64_t)sqlite3_column_int64(st, 2),
		.bytes_in = (uint64_t)sqlite3_column_int64(st, 3),
		.reason = (uint8_t)sqlite3_column_int(st, 4),
	};
}

static int end_row(sqlite3_stmt *st, const struct row_cb *cb)
{
	static const struct sr_narrow_col narrow[] = { { 4, 0, "conn_end", "reason", UINT8_MAX } };
	struct sr_end e = end_from(st);

	if (sr_check_narrow(cb, st, narrow, 1) ||
	    sr_time_check(cb, "conn_end", e.id, "end_ns", e.end_ns))
		return -ERANGE;
	return cb->fn.end(&e, cb->ctx);
}

int sr_ends(struct sr_segment *seg, int64_t since, int64_t until,
	    int (*cb)(const struct sr_end *row, void *ctx), void *ctx)
{
	const struct row_cb rcb = { .fn.end = cb, .ctx = ctx, .seg = seg };
	sqlite3_stmt *st;
	int err = prepare_window(seg,
				 "SELECT id, end_ns, bytes_out, bytes_in, reason FROM conn_end"
				 " WHERE end_ns BETWEEN ?1 AND ?2 ORDER BY end_ns",
				 since, until, &st);

	return err ? err : sr_step_rows(st, end_row, &rcb);
}

int sr_end_by_id(struct sr_segment *seg, int64_t id, struct sr_end *out)
{
	sqlite3_stmt *st = NULL;
	int rc, ret = 0;

	rc = sqlite3_prepare_v2(
		seg->db,
		"SELECT id, end_ns, bytes_out, bytes_in, reason FROM conn_end WHERE id = ?1", -1,
		&st, NULL);
	if (rc != SQLITE_OK)
		return -EBADMSG;
	sqlite3_bind_int64(st, 1, id);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		const struct row_cb rcb = { .seg = seg };

		static const struct sr_narrow_col narrow[] = {
			{ 4, 0, "conn_end", "reason", UINT8_MAX },
		};

		*out = end_from(st);
		ret = 1;
		if (sr_check_narrow(&rcb, st, narrow, 1) ||
		    sr_time_check(&rcb, "conn_end", out->id, "end_ns", out->end_ns))
			ret = -ERANGE;
	} else if (rc != SQLITE_DONE) {
		ret = -EBADMSG;
	}
	sqlite3_finalize(st);
	return ret;
}

/* ---- gap and run ---- */

const char *sr_gap_kind_name(int kind)
{
	switch (kind) {
	case CR_GAP_LOST:
		return "lost";
	case CR_GAP_DOWN:
		return "down";
	case CR_GAP_TAMPER:
		return "tamper";
	default:
		return "?";
	}
}

static int gap_row(sqlite3_stmt *st, const struct row_cb *cb)
{
	struct sr_gap g = {
		.id = sqlite3_column_int64(st, 0),
		.kind = sqlite3_column_int(st, 1),
		.start_ns = sqlite3_column_int64(st, 2),
		.end_ns = sqlite3_column_int64(st, 3),
		.count = (uint64_t)sqlite3_column_int64(st, 4),
	};

	sr_text_copy(st, 5, g.reason, sizeof(g.reason));
	if (sr_time_check(cb, "gap", g.id, "start_ns", g.start_ns) ||
	    sr_time_check(cb, "gap", g.id, "end_ns", g.end_ns))
		return -ERANGE;
	return cb->fn.gap(&g, cb->ctx);
}

int sr_gaps(struct sr_segment *seg, int64_t since, int64_t until,
	    int (*cb)(const struct sr_gap *row, void *ctx), void *ctx)
{
	const struct row_cb rcb = { .fn.gap = cb, .ctx = ctx, .seg = seg };
	sqlite3_stmt *st;
	int err = prepare_window(seg,
				 "SELECT id, kind, start_ns, end_ns, count, reason FROM gap"
				 " WHERE start_ns <= ?2 AND end_ns >= ?1 ORDER BY start_ns, id",
				 since, until, &st);

	return err ? err : sr_step_rows(st, gap_row, &rcb);
}

static int run_row(sqlite3_stmt *st, const struct row_cb *cb)
{
	static const struct sr_narrow_col narrow[] = { { 3, 0, "run", "pid", UINT32_MAX } };
	struct sr_run r = {
		.id = sqlite3_column_int64(st, 0),
		.ts_ns = sqlite3_column_int64(st, 1),
		.kind = sqlite3_column_int(st, 2),
		.pid = (uint32_t)sqlite3_column_int64(st, 3),
	};

	sr_text_copy(st, 4, r.version, sizeof(r.version));
	if (sr_check_narrow(cb, st, narrow, 1) || sr_time_check(cb, "run", r.id, "ts_ns", r.ts_ns))
		return -ERANGE;
	return cb->fn.run(&r, cb->ctx);
}

int sr_runs(struct sr_segment *seg, int (*cb)(const struct sr_run *row, void *ctx), void *ctx)
{
	const struct row_cb rcb = { .fn.run = cb, .ctx = ctx, .seg = seg };
	sqlite3_stmt *st;

	if (sqlite3_prepare_v2(seg->db,
			       "SELECT id, ts_ns, kind, pid, version FROM run ORDER BY ts_ns, id",
			       -1, &st, NULL) != SQLITE_OK)
		return -EBADMSG;
	return sr_step_rows(st, run_row, &rcb);
}
