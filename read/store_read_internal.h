/* SPDX-License-Identifier: MIT */
/*
 * What the evidence reader's own files share; callers use store_read.h. The reader is split
 * by concern:
 *   store_read.c         opening a segment: header check, hardened connection, meta
 *   store_read_copy.c    where SQLite opens it from: in place, or a private copy (WAL, .zst)
 *   store_read_schema.c  the schema check against the embedded schema files
 *   store_read_dir.c     the segment list of a data dir
 *   store_read_where.c   a conn filter as SQL with bound values
 *   store_read_rows.c    the row iterators
 */
#ifndef CONNREC_STORE_READ_INTERNAL_H
#define CONNREC_STORE_READ_INTERNAL_H

#include <limits.h>

#include "store_read.h"

struct sr_segment {
	char *path;
	sqlite3 *db;
	char tmpdir[PATH_MAX]; /* "" when opened in place */
	struct sr_meta meta;
};

/* A one-line message into the caller's buffer (which may be NULL). */
void sr_set_err(char *buf, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Whether the file starts with the n-byte magic (*ok); 0 or -errno when it cannot be read. */
int sr_check_magic(const char *path, const char *magic, size_t n, bool *ok);

/* ---- store_read_copy.c ---- */

/* What SQLite opens for a segment, and how. */
struct sr_source {
	const char *file;   /* the evidence itself, or work */
	const char *params; /* URI query parameters */
	char work[PATH_MAX + 16]; /* the private copy, when there is one */
};

/*
 * Decides where path is read from (see store_read.h) and makes the private copy when one is
 * needed, in a new temp dir whose name goes to tmpdir (removed by sr_remove_tmpdir(), also on
 * error). Sets the message on error.
 */
int sr_stage(const char *path, const struct sr_open_opts *o, char tmpdir[PATH_MAX],
	     struct sr_source *src, char *errbuf, size_t errlen);
/* Removes the files SQLite or we put in a private temp dir, then the dir. "" is a no-op. */
void sr_remove_tmpdir(const char *dir);

/* ---- store_read_schema.c ---- */

/* The first column of the first row of sql as text ("" for no row); an SQLITE_* code. */
int sr_first_text(sqlite3 *db, const char *sql, char *out, size_t len);
/*
 * Refuses a foreign database (-EMEDIUMTYPE), an unknown or newer version (-EPROTONOSUPPORT)
 * and any object that is not in the embedded schema of its version (-EPROTO).
 */
int sr_check_schema(sqlite3 *db, int *version_out, char *errbuf, size_t errlen);

/* ---- store_read_where.c ---- */

/* Whether f needs the proc table joined (as "p"). */
bool sr_filter_needs_proc(const struct sr_conn_filter *f);
/*
 * head ("SELECT ... FROM conn c ... WHERE 1") followed by f's conditions, prepared and bound.
 * FOLDED: only the rows complete on their own (not carried, end folded in); otherwise the rows
 * that need the caller's merge. Returns 0, -ENOMEM, -E2BIG (too many values) or -EBADMSG.
 */
int sr_prepare_filtered(struct sr_segment *seg, const char *head, const struct sr_conn_filter *f,
			bool folded, sqlite3_stmt **st);
/* Registers the functions that filter SQL calls (direct-only) on a reader connection. */
int sr_register_functions(sqlite3 *db);

#endif /* CONNREC_STORE_READ_INTERNAL_H */
