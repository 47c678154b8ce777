// SPDX-License-Identifier: MIT
/*
 * The evidence reader's iterators over process lives, their ends and cgroup names (schema
 * version 2; a version-1 segment has none of them and yields no rows). Rows are copied with
 * bounds, as every row of a file that may be hostile, and a number connrec never writes (a pid
 * past 32 bits, a negative start, a time before 1970) refuses the row, as in every iterator.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "store_read_internal.h"

static int prepare(struct sr_segment *seg, const char *sql, sqlite3_stmt **st)
{
	*st = NULL;
	if (seg->meta.schema_version < 2)
		return 0; /* nothing to read */
	return sqlite3_prepare_v2(seg->db, sql, -1, st, NULL) == SQLITE_OK ? 0 : -EBADMSG;
}

/* The columns of LIFE_SELECT that must fit, and the times it holds. */
static int life_check(sqlite3_stmt *st, const struct row_cb *cb)
{
	static const struct sr_narrow_col narrow[] = {
		{ 0, 15, "life", "pid", UINT32_MAX },	 { 1, 15, "life", "pstart_ns", INT64_MAX },
		{ 4, 15, "life", "ppid", UINT32_MAX },	 { 5, 15, "life", "ppstart_ns", INT64_MAX },
		{ 7, 15, "life", "uid", UINT32_MAX },	 { 8, 15, "life", "cgroup", INT64_MAX },
		{ 12, 15, "life", "flags", UINT16_MAX }, { 14, 15, "life", "exit_code", UINT32_MAX },
	};
	static const struct {
		int col;
		const char *name;
	} times[] = { { 2, "start_ns" }, { 3, "image_ns" }, { 13, "exit_ns" } };
	int64_t id = sqlite3_column_int64(st, 15);
	int err = sr_check_narrow(cb, st, narrow, sizeof(narrow) / sizeof(narrow[0]));

	for (size_t i = 0; !err && i < sizeof(times) / sizeof(times[0]); i++)
		err = sr_time_check(cb, "life", id, times[i].name,
				    sqlite3_column_int64(st, times[i].col)); /* NULL reads 0 */
	return err;
}

static int life_row(sqlite3_stmt *st, const struct row_cb *cb)
{
	struct sr_life r;
	int err = life_check(st, cb);

	if (err)
		return err;
	memset(&r, 0, sizeof(r));
	r.pid = (uint32_t)sqlite3_column_int64(st, 0);
	r.pstart_ns = (uint64_t)sqlite3_column_int64(st, 1);
	r.start_ns = sqlite3_column_int64(st, 2);
	r.image_ns = sqlite3_column_int64(st, 3);
	r.ppid = (uint32_t)sqlite3_column_int64(st, 4);
	r.ppstart_ns = (uint64_t)sqlite3_column_int64(st, 5);
	sr_text_copy(st, 6, r.pcomm, sizeof(r.pcomm));
	r.uid = (uint32_t)sqlite3_column_int64(st, 7);
	r.cgroup = (uint64_t)sqlite3_column_int64(st, 8);
	sr_text_copy(st, 9, r.comm, sizeof(r.comm));
	sr_text_copy(st, 10, r.exe, sizeof(r.exe));
	sr_text_copy(st, 11, r.args, sizeof(r.args));
	r.flags = (uint32_t)sqlite3_column_int64(st, 12);
	if (sqlite3_column_type(st, 13) != SQLITE_NULL) {
		r.has_exit = true;
		r.exit_ns = sqlite3_column_int64(st, 13);
		r.exit_code = sqlite3_column_int64(st, 14);
	}
	r.id = sqlite3_column_int64(st, 15);
	return cb->fn.life(&r, cb->ctx);
}

int sr_lives(struct sr_segment *seg, int (*cb)(const struct sr_life *row, void *ctx), void *ctx)
{
	sqlite3_stmt *st;
	int err = prepare(seg,
			  "SELECT pid, pstart_ns, start_ns, image_ns, ppid, ppstart_ns, pcomm, uid,"
			  " cgroup, comm, exe, args, flags, exit_ns, exit_code, id FROM life",
			  &st);

	const struct row_cb c = { .fn.life = cb, .ctx = ctx, .seg = seg };

	return err || !st ? err : sr_step_rows(st, life_row, &c);
}

static int exit_row(sqlite3_stmt *st, const struct row_cb *cb)
{
	static const struct sr_narrow_col narrow[] = {
		{ 0, 4, "life_exit", "pid", UINT32_MAX },
		{ 1, 4, "life_exit", "pstart_ns", INT64_MAX },
		{ 3, 4, "life_exit", "exit_code", UINT32_MAX },
	};
	struct sr_life_exit r = {
		.pid = (uint32_t)sqlite3_column_int64(st, 0),
		.pstart_ns = (uint64_t)sqlite3_column_int64(st, 1),
		.id = sqlite3_column_int64(st, 4),
		.exit_ns = sqlite3_column_int64(st, 2),
		.exit_code = sqlite3_column_int64(st, 3),
	};

	if (sr_check_narrow(cb, st, narrow, sizeof(narrow) / sizeof(narrow[0])) ||
	    sr_time_check(cb, "life_exit", sqlite3_column_int64(st, 4), "exit_ns", r.exit_ns))
		return -ERANGE;
	return cb->fn.life_exit(&r, cb->ctx);
}

int sr_life_exits(struct sr_segment *seg, int (*cb)(const struct sr_life_exit *row, void *ctx),
		  void *ctx)
{
	sqlite3_stmt *st;
	int err = prepare(seg, "SELECT pid, pstart_ns, exit_ns, exit_code, id FROM life_exit", &st);

	const struct row_cb c = { .fn.life_exit = cb, .ctx = ctx, .seg = seg };

	return err || !st ? err : sr_step_rows(st, exit_row, &c);
}

static int cgroup_row(sqlite3_stmt *st, const struct row_cb *cb)
{
	/* A cgroup id is the inode number of its directory: never past 63 bits. */
	static const struct sr_narrow_col narrow[] = { { 0, 0, "cgroup", "id", INT64_MAX } };
	struct sr_cgroup r;

	if (sr_check_narrow(cb, st, narrow, 1))
		return -ERANGE;
	memset(&r, 0, sizeof(r));
	r.id = (uint64_t)sqlite3_column_int64(st, 0);
	sr_text_copy(st, 1, r.path, sizeof(r.path));
	sr_text_copy(st, 2, r.container, sizeof(r.container));
	sr_text_copy(st, 3, r.unit, sizeof(r.unit));
	return cb->fn.cgroup(&r, cb->ctx);
}

int sr_cgroups(struct sr_segment *seg, int (*cb)(const struct sr_cgroup *row, void *ctx),
	       void *ctx)
{
	sqlite3_stmt *st;
	int err = prepare(seg, "SELECT id, path, container, unit FROM cgroup", &st);

	const struct row_cb c = { .fn.cgroup = cb, .ctx = ctx, .seg = seg };

	return err || !st ? err : sr_step_rows(st, cgroup_row, &c);
}
