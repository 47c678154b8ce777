/* SPDX-License-Identifier: MIT */
/*
 * What the evidence reader's own files share; callers use store_read.h. The reader is split
 * by concern:
 *   store_read.c         opening a segment: header check, hardened connection, meta
 *   store_read_copy.c    where SQLite opens it from: in place, or a private copy (WAL, .zst)
 *   store_read_zseek.c   a seekable .zst's seek table and frames, read in place
 *   store_read_vfs.c     the read-only SQLite VFS that serves pages from those frames
 *   store_read_schema.c  the schema check against the embedded schema files
 *   store_read_dir.c     the segment list of a data dir
 *   store_read_where.c   a conn filter as SQL with bound values
 *   store_read_rows.c    the row iterators
 *   store_read_lives.c   the row iterators of process lives and cgroups (version 2)
 *   store_read_dns.c     the DNS answer iterator (version 3)
 *   store_read_anchor.c  the checkpoint and seal records (version 3)
 */
#ifndef CONNREC_STORE_READ_INTERNAL_H
#define CONNREC_STORE_READ_INTERNAL_H

#include <limits.h>

#include "match_set.h"
#include "schema_values.h"
#include "store_read.h"

/* A private copy of a segment (store_read_copy.c). */
struct sr_copy {
	char path[PATH_MAX + 48]; /* the copy's .db */
	uint64_t bytes;		  /* written so far, counted against the cap */
	uint64_t cap;		  /* on all copies together */
	unsigned long id;
	bool used; /* false: read in place, nothing to remove */
};

struct sr_zseek;
struct sr_check;

struct sr_segment {
	char *path;
	sqlite3 *db;
	struct sr_copy copy;
	/* A seekable .zst read in place: owned until the connection takes it, then only for
	 * its frame errors (the connection closes it). */
	struct sr_zseek *zs;
	bool zs_owned;
	struct sr_meta meta;
	bool vouched; /* opened with SR_OPEN_VOUCHED */
	struct sr_check *check; /* SR_OPEN_CHECK_AHEAD: the check running beside, until waited */
	char row_err[160]; /* why the last row read was refused ("" when none was) */
};

/* A one-line message into the caller's buffer (which may be NULL). */
void sr_set_err(char *buf, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Whether the file starts with the n-byte magic (*ok); 0 or -errno when it cannot be read. */
int sr_check_magic(const char *path, const char *magic, size_t n, bool *ok);

/* ---- store_read_rows.c ---- */

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
		int (*anchor)(const struct sr_anchor *row, void *ctx);
	} fn;
	void *ctx;
	struct sr_segment *seg; /* where a refused row is explained (row_err) */
};

/*
 * Hands every row of st to decode, stopping at its first non-zero return, which is returned;
 * -EBADMSG when stepping fails (a damaged page). Finalizes st.
 */
int sr_step_rows(sqlite3_stmt *st, int (*decode)(sqlite3_stmt *st, const struct row_cb *cb),
		 const struct row_cb *cb);

/* The first column of a row of st as text, bounded and terminated ("" for NULL). */
void sr_text_copy(sqlite3_stmt *st, int col, char *out, size_t len);

/*
 * Values connrec never writes: the row is refused. sr_refuse_row() says which row, column and
 * value in cb->seg's sr_errmsg() and returns -ERANGE; sr_time_check() refuses a time before
 * 1970.
 */
int sr_refuse_row(const struct row_cb *cb, const char *table, int64_t id, const char *col,
		  int64_t value);
int sr_time_check(const struct row_cb *cb, const char *table, int64_t id, const char *col,
		  int64_t t);

/*
 * Columns read into narrower C types (ports, pids, one-byte codes): a value that does not fit
 * is not connrec's and is refused, not truncated into another value (-1 is no port 65535).
 */
struct sr_narrow_col {
	int col, id_col; /* the value, and the id of the row it belongs to */
	const char *table, *name;
	int64_t max; /* 0 is the minimum */
};

/* The first column of V[0..n) that is out of its range refuses the row (sr_refuse_row). */
int sr_check_narrow(const struct row_cb *cb, sqlite3_stmt *st, const struct sr_narrow_col *v,
		    size_t n);

/* ---- store_read_copy.c ---- */

/* What SQLite opens for a segment, and how. */
struct sr_source {
	const char *file;   /* the evidence itself, or the private copy */
	const char *params; /* URI query parameters */
	struct sr_zseek *zs; /* a seekable .zst: read through the VFS, no copy */
};

/*
 * Decides where path is read from (see store_read.h) and makes the private copy in *copy when
 * one is needed (remove it with sr_copy_remove(), also on error). Sets the message on error.
 */
int sr_stage(const char *path, const struct sr_open_opts *o, struct sr_copy *copy,
	     struct sr_source *src, char *errbuf, size_t errlen);
/* Removes a copy and what SQLite put beside it, and the temp dir with the last copy. */
void sr_copy_remove(struct sr_copy *c);
/*
 * The first max bytes of a .zst, decompressed into *out (malloc()ed, *len bytes; fewer when
 * the file holds fewer): enough to read a segment's schema and meta without a private copy.
 */
int sr_peek_zst(const char *path, size_t max, unsigned char **out, size_t *len, char *errbuf,
		size_t errlen);

/* ---- store_read_zseek.c ---- */

/*
 * Opens path as a seekable .zst and checks its whole seek table: 0 with *out set; 0 with *out
 * NULL when the file has no seek table (an older single-frame segment); -EBADMSG (damaged
 * table) or -errno with the message.
 */
int sr_zseek_open(const char *path, struct sr_zseek **out, char *errbuf, size_t errlen);
void sr_zseek_close(struct sr_zseek *z);
/* Size of the decompressed .db. */
uint64_t sr_zseek_size(const struct sr_zseek *z);
/*
 * n bytes of the .db at off: 0; 1 when the .db ends first (the rest of buf zeroed); -EBADMSG
 * for a damaged frame (sr_zseek_error() says which and why), -ENOMEM.
 */
int sr_zseek_read(struct sr_zseek *z, void *buf, size_t n, uint64_t off);
/* The last frame error, "" when none. */
const char *sr_zseek_error(const struct sr_zseek *z);
/*
 * Stop checking each frame's XXH64: for a file whose SHA-256 the caller has checked already
 * (SR_OPEN_VOUCHED), which covers every byte; the checksum is 15% of decompressing a frame.
 */
void sr_zseek_skip_checksums(struct sr_zseek *z);

/* ---- store_read_vfs.c ---- */

/*
 * sqlite3_open_v2(uri) read-only through the seekable VFS, serving *z. On success the
 * connection owns *z (set to NULL; it is closed with the connection). 0 or -EBADMSG/-EIO;
 * *db may be set either way (close it).
 */
int sr_vfs_open(const char *uri, struct sr_zseek **z, sqlite3 **db);

/* ---- store_read_schema.c ---- */

/* The first column of the first row of sql as text ("" for no row); an SQLITE_* code. */
int sr_first_text(sqlite3 *db, const char *sql, char *out, size_t len);
/*
 * Refuses a foreign database (-EMEDIUMTYPE), an unknown or newer version (-EPROTONOSUPPORT)
 * and any object that is not in the embedded schema of its version (-EPROTO).
 */
int sr_check_schema(sqlite3 *db, int *version_out, char *errbuf, size_t errlen);

/* ---- store_read_rows.c ---- */

/* An address column into 16 bytes (zero-padded); its stored length, 0 when NULL or empty. */
size_t sr_blob16(sqlite3_stmt *st, int col, uint8_t out[16]);

/* ---- store_read_where.c ---- */

/* A conn row "c" that holds a whole lifetime on its own (schema_values.h). */
#define SR_SQL_FOLDED CR_SQL_WHOLE_ROW

/*
 * Whether f's window holds the whole span of a sealed segment (meta first_ns..last_ns), so
 * every row of it is inside; false for a segment not sealed or without a span.
 */
bool sr_window_holds_segment(const struct sr_meta *meta, const struct sr_conn_filter *f);
/* Whether f has no condition but its window. */
bool sr_filter_is_window_only(const struct sr_conn_filter *f);
/* Whether f needs the proc table joined (as "p"). */
bool sr_filter_needs_proc(const struct sr_conn_filter *f);
/*
 * head ("SELECT ... FROM conn c ... WHERE 1") followed by f's conditions, prepared and bound,
 * its lists tested against the sets m (which must outlive the statement). FOLDED: only the
 * rows complete on their own (not carried, end folded in); otherwise the rows that need the
 * caller's merge. Returns 0, -ENOMEM, -E2BIG (too many values) or -EBADMSG.
 */
int sr_prepare_filtered(struct sr_segment *seg, const char *head, const struct sr_conn_filter *f,
			const struct match_sets *m, bool folded, int64_t from_id, sqlite3_stmt **st);
/*
 * The lowest conn id a whole-lifetime row in f's window can have in seg, from its end zones
 * (meta conn_end_zones), which are trusted only when the hash chain vouches for the file;
 * INT64_MIN when no row can be left out. FROM_ID of sr_prepare_filtered() ("c.id >= ?").
 */
int64_t sr_zones_from_id(const struct sr_segment *seg, const struct sr_conn_filter *f);
/* f->sets, or sets built from f's lists into *own (match_sets_free() it either way). */
int sr_filter_sets(const struct sr_conn_filter *f, struct match_sets *own,
		   const struct match_sets **sets);
/* Registers the functions that filter SQL calls (direct-only) on a reader connection. */
int sr_register_functions(sqlite3 *db);

#endif /* CONNREC_STORE_READ_INTERNAL_H */
