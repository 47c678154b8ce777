// SPDX-License-Identifier: MIT
/*
 * The evidence reader's row iterators. Each statement is stepped by one loop (step_rows); a
 * decoder per row type turns the columns into the struct of store_read.h and calls the
 * caller's callback. Values are copied with bounds: a row may be damaged or hostile.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "schema_values.h"
#include "store_read_internal.h"

/* The caller's callback for one iterator, whatever its row type. */
struct row_cb {
	union {
		int (*conn)(const struct sr_conn *row, void *ctx);
		int (*end)(const struct sr_end *row, void *ctx);
		int (*gap)(const struct sr_gap *row, void *ctx);
		int (*run)(const struct sr_run *row, void *ctx);
		int (*life)(const struct sr_life *row, void *ctx);
		int (*life_exit)(const struct sr_life_exit *row, void *ctx);
		int (*cgroup)(const struct sr_cgroup *row, void *ctx);
	} fn;
	void *ctx;
};

/*
 * Hands every row of st to decode, stopping at its first non-zero return, which is returned;
 * -EBADMSG when stepping fails (a damaged page). Finalizes st.
 */
static int step_rows(sqlite3_stmt *st, int (*decode)(sqlite3_stmt *st, const struct row_cb *cb),
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

static void text_copy(sqlite3_stmt *st, int col, char *out, size_t len)
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

static size_t blob_copy(sqlite3_stmt *st, int col, uint8_t out[16])
{
	const void *p = sqlite3_column_blob(st, col);
	int n = sqlite3_column_bytes(st, col);

	memset(out, 0, 16);
	if (!p || n <= 0)
		return 0;
	memcpy(out, p, n > 16 ? 16 : (size_t)n);
	return n > 255 ? 255 : (size_t)n;
}

/* The columns of CONN_SELECT, in order. */
static int conn_row(sqlite3_stmt *st, const struct row_cb *cb)
{
	struct sr_conn r = { 0 };

	r.id = sqlite3_column_int64(st, 0);
	r.start_ns = sqlite3_column_int64(st, 1);
	r.proto = (uint8_t)sqlite3_column_int(st, 2);
	r.family = (uint8_t)sqlite3_column_int(st, 3);
	r.dir = (uint8_t)sqlite3_column_int(st, 4);
	r.laddr_len = (uint8_t)blob_copy(st, 5, r.laddr);
	r.lport = (uint16_t)sqlite3_column_int(st, 6);
	r.raddr_len = (uint8_t)blob_copy(st, 7, r.raddr);
	r.rport = (uint16_t)sqlite3_column_int(st, 8);
	r.flags = (uint8_t)sqlite3_column_int(st, 9);
	if (sqlite3_column_type(st, 13) != SQLITE_NULL) {
		/* Folded in: the flow had ended before its row was written. */
		r.has_end = true;
		r.end_folded = true;
		r.end_ns = (int64_t)((uint64_t)r.start_ns + (uint64_t)sqlite3_column_int64(st, 10));
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
	text_copy(st, 19, r.comm, sizeof(r.comm));
	r.uid = (uint32_t)sqlite3_column_int64(st, 20);
	r.netns = (uint32_t)sqlite3_column_int64(st, 21);
	r.cgroup = (uint64_t)sqlite3_column_int64(st, 22);
	r.pstart_ns = (uint64_t)sqlite3_column_int64(st, 23);
	return cb->fn.conn(&r, cb->ctx);
}

int sr_conns(struct sr_segment *seg, const struct sr_conn_filter *f,
	     int (*cb)(const struct sr_conn *row, void *ctx), void *ctx)
{
#define CONN_HEAD(PSTART)                                                                       \
	"SELECT c.id, c.start_ns, c.proto, c.family, c.dir, c.laddr, c.lport, c.raddr,"          \
	" c.rport, c.flags, c.dur_ns, c.bytes_out, c.bytes_in, c.reason,"                        \
	" e.end_ns, e.bytes_out, e.bytes_in, e.reason,"                                          \
	" p.pid, p.comm, p.uid, p.netns, p.cgroup, " PSTART                                      \
	" FROM conn c LEFT JOIN proc p ON p.id = c.proc"                                         \
	" LEFT JOIN conn_end e ON e.id = c.id WHERE 1"
	/* proc.pstart_ns came with schema 2. */
	const char *head = seg->meta.schema_version >= 2 ? CONN_HEAD("p.pstart_ns") : CONN_HEAD("0");
#undef CONN_HEAD
	const struct row_cb rcb = { .fn.conn = cb, .ctx = ctx };
	const struct match_sets *sets;
	struct match_sets own;
	sqlite3_stmt *st = NULL;
	int err = sr_filter_sets(f, &own, &sets);

	if (!err)
		err = sr_prepare_filtered(seg, head, f, sets, false, &st);
	if (err)
		sqlite3_finalize(st);
	else
		err = step_rows(st, conn_row, &rcb);
	match_sets_free(&own);
	return err;
}

int sr_count_folded(struct sr_segment *seg, const struct sr_conn_filter *f, uint64_t *count)
{
	const struct match_sets *sets;
	struct match_sets own;
	sqlite3_stmt *st = NULL;
	int err = sr_filter_sets(f, &own, &sets);

	if (err)
		goto cleanup;
	/* Without proc conditions the count never leaves the conn b-tree (and its indexes). */
	err = sr_prepare_filtered(
		seg,
		sr_filter_needs_proc(f) ? "SELECT count(*) FROM conn c JOIN proc p ON p.id = c.proc"
					  " WHERE 1"
					: "SELECT count(*) FROM conn c WHERE 1",
		f, sets, true, &st);
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
	struct sr_end e = end_from(st);

	return cb->fn.end(&e, cb->ctx);
}

int sr_ends(struct sr_segment *seg, int64_t since, int64_t until,
	    int (*cb)(const struct sr_end *row, void *ctx), void *ctx)
{
	const struct row_cb rcb = { .fn.end = cb, .ctx = ctx };
	sqlite3_stmt *st;
	int err = prepare_window(seg,
				 "SELECT id, end_ns, bytes_out, bytes_in, reason FROM conn_end"
				 " WHERE end_ns BETWEEN ?1 AND ?2 ORDER BY end_ns",
				 since, until, &st);

	return err ? err : step_rows(st, end_row, &rcb);
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
		*out = end_from(st);
		ret = 1;
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

	text_copy(st, 5, g.reason, sizeof(g.reason));
	return cb->fn.gap(&g, cb->ctx);
}

int sr_gaps(struct sr_segment *seg, int64_t since, int64_t until,
	    int (*cb)(const struct sr_gap *row, void *ctx), void *ctx)
{
	const struct row_cb rcb = { .fn.gap = cb, .ctx = ctx };
	sqlite3_stmt *st;
	int err = prepare_window(seg,
				 "SELECT id, kind, start_ns, end_ns, count, reason FROM gap"
				 " WHERE start_ns <= ?2 AND end_ns >= ?1 ORDER BY start_ns, id",
				 since, until, &st);

	return err ? err : step_rows(st, gap_row, &rcb);
}

static int run_row(sqlite3_stmt *st, const struct row_cb *cb)
{
	struct sr_run r = {
		.id = sqlite3_column_int64(st, 0),
		.ts_ns = sqlite3_column_int64(st, 1),
		.kind = sqlite3_column_int(st, 2),
		.pid = (uint32_t)sqlite3_column_int64(st, 3),
	};

	text_copy(st, 4, r.version, sizeof(r.version));
	return cb->fn.run(&r, cb->ctx);
}

int sr_runs(struct sr_segment *seg, int (*cb)(const struct sr_run *row, void *ctx), void *ctx)
{
	const struct row_cb rcb = { .fn.run = cb, .ctx = ctx };
	sqlite3_stmt *st;

	if (sqlite3_prepare_v2(seg->db,
			       "SELECT id, ts_ns, kind, pid, version FROM run ORDER BY ts_ns, id",
			       -1, &st, NULL) != SQLITE_OK)
		return -EBADMSG;
	return step_rows(st, run_row, &rcb);
}

/* ---- process lives (schema 2) ---- */

/* The statement over a schema 2 table; *st stays NULL in an older segment. */
static int prepare_v2_table(struct sr_segment *seg, const char *sql, sqlite3_stmt **st)
{
	*st = NULL;
	if (seg->meta.schema_version < 2)
		return 0;
	return sqlite3_prepare_v2(seg->db, sql, -1, st, NULL) == SQLITE_OK ? 0 : -EBADMSG;
}

static int life_row(sqlite3_stmt *st, const struct row_cb *cb)
{
	struct sr_life l = { 0 };

	l.id = sqlite3_column_int64(st, 0);
	l.pid = (uint32_t)sqlite3_column_int64(st, 1);
	l.pstart_ns = (uint64_t)sqlite3_column_int64(st, 2);
	l.start_ns = sqlite3_column_int64(st, 3);
	l.image_ns = sqlite3_column_int64(st, 4);
	l.ppid = (uint32_t)sqlite3_column_int64(st, 5);
	l.ppstart_ns = (uint64_t)sqlite3_column_int64(st, 6);
	text_copy(st, 7, l.pcomm, sizeof(l.pcomm));
	l.uid = (uint32_t)sqlite3_column_int64(st, 8);
	l.cgroup = (uint64_t)sqlite3_column_int64(st, 9);
	text_copy(st, 10, l.comm, sizeof(l.comm));
	text_copy(st, 11, l.exe, sizeof(l.exe));
	text_copy(st, 12, l.args, sizeof(l.args));
	l.flags = (uint16_t)sqlite3_column_int64(st, 13);
	l.has_exit = sqlite3_column_type(st, 14) != SQLITE_NULL;
	if (l.has_exit) {
		l.exit_ns = sqlite3_column_int64(st, 14);
		l.exit_code = (uint32_t)sqlite3_column_int64(st, 15);
	}
	return cb->fn.life(&l, cb->ctx);
}

int sr_lives(struct sr_segment *seg, int (*cb)(const struct sr_life *row, void *ctx), void *ctx)
{
	const struct row_cb rcb = { .fn.life = cb, .ctx = ctx };
	sqlite3_stmt *st;
	int err = prepare_v2_table(seg,
				   "SELECT id, pid, pstart_ns, start_ns, image_ns, ppid, ppstart_ns,"
				   " pcomm, uid, cgroup, comm, exe, args, flags, exit_ns, exit_code"
				   " FROM life ORDER BY id",
				   &st);

	return err || !st ? err : step_rows(st, life_row, &rcb);
}

static int life_exit_row(sqlite3_stmt *st, const struct row_cb *cb)
{
	struct sr_life_exit x = {
		.id = sqlite3_column_int64(st, 0),
		.pid = (uint32_t)sqlite3_column_int64(st, 1),
		.pstart_ns = (uint64_t)sqlite3_column_int64(st, 2),
		.exit_ns = sqlite3_column_int64(st, 3),
		.exit_code = (uint32_t)sqlite3_column_int64(st, 4),
	};

	return cb->fn.life_exit(&x, cb->ctx);
}

int sr_life_exits(struct sr_segment *seg, int (*cb)(const struct sr_life_exit *row, void *ctx),
		  void *ctx)
{
	const struct row_cb rcb = { .fn.life_exit = cb, .ctx = ctx };
	sqlite3_stmt *st;
	int err = prepare_v2_table(
		seg, "SELECT id, pid, pstart_ns, exit_ns, exit_code FROM life_exit ORDER BY id", &st);

	return err || !st ? err : step_rows(st, life_exit_row, &rcb);
}

static int cgroup_row(sqlite3_stmt *st, const struct row_cb *cb)
{
	struct sr_cgroup g = { .id = (uint64_t)sqlite3_column_int64(st, 0) };

	text_copy(st, 1, g.path, sizeof(g.path));
	text_copy(st, 2, g.container, sizeof(g.container));
	text_copy(st, 3, g.unit, sizeof(g.unit));
	return cb->fn.cgroup(&g, cb->ctx);
}

int sr_cgroups(struct sr_segment *seg, int (*cb)(const struct sr_cgroup *row, void *ctx),
	       void *ctx)
{
	const struct row_cb rcb = { .fn.cgroup = cb, .ctx = ctx };
	sqlite3_stmt *st;
	int err = prepare_v2_table(seg, "SELECT id, path, container, unit FROM cgroup ORDER BY id",
				   &st);

	return err || !st ? err : step_rows(st, cgroup_row, &rcb);
}
