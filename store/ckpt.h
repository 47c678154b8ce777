/* SPDX-License-Identifier: MIT */
/*
 * Checkpoints of a segment's rows (docs/store.md, "Checkpoints and seals"): which rows a
 * checkpoint covers, and the running hash over them. The writer's side (when to cut, which
 * rows are late) is store_ckpt.c; the sealing thread computes the hashes with this, and
 * `connrec verify` recomputes them with the same code from the file.
 *
 * Checkpoint k of a segment is cut at a commit: each covered table's high-water mark W_k is its
 * largest rowid then. The rows it covers are all rows of those tables with rowid <= W_k, except
 * the ones listed in ckpt_late with an interval after k (committed after the cut, but with a
 * rowid below the mark: a conn row for a long flow, a conn_end; the writer lists them). Its
 * hash is SHA-256 over those rows, table by table in ckpt_tables order (each table that the
 * checkpoint names: 'T', its name, NUL), each table's rows in rowid order, each row serialised
 * as 'R', its rowid and every column with a type tag (ckpt.c). So each checkpoint stands on
 * its own: checking it needs only its line and the segment.
 */
#ifndef CONNREC_CKPT_H
#define CONNREC_CKPT_H

#include <stddef.h>
#include <stdint.h>

#include <sqlite3.h>

#define CKPT_HASH_LEN 32
#define CKPT_MAX_TABLES 16
#define CKPT_TABLE_NAME_MAX 16

/* High-water marks: the largest rowid of each covered table at a cut. */
struct ckpt_marks {
	size_t n;
	struct {
		char name[CKPT_TABLE_NAME_MAX];
		int64_t w;
	} t[CKPT_MAX_TABLES];
};

/* The tables a checkpoint made now covers, in hashing order; NULL-terminated. */
extern const char *const ckpt_tables[];

/* The marks of DB's committed rows (outside any transaction, or in the caller's). */
int ckpt_marks_now(sqlite3 *db, struct ckpt_marks *m);
/* The mark of NAME in M; 0 when M does not name it (the table was not covered yet). */
int64_t ckpt_mark_of(const struct ckpt_marks *m, const char *name);

/* "proc:12,conn:40,...". Returns the length or -ENOSPC. */
int ckpt_marks_format(const struct ckpt_marks *m, char *buf, size_t len);
/* The reverse; -EINVAL on anything malformed (names: [a-z_], marks: 0..INT64_MAX). */
int ckpt_marks_parse(const char *s, struct ckpt_marks *m);

/*
 * The hash of checkpoint K with marks MARKS over DB, and the number of rows it covers.
 * 0, -EBADMSG (DB unreadable; see sqlite3_errmsg), -EINVAL (a table it does not know), or
 * -ENOMEM.
 */
int ckpt_hash(sqlite3 *db, int64_t k, const struct ckpt_marks *marks,
	      uint8_t hash[CKPT_HASH_LEN], uint64_t *rows);
/* The same for N checkpoints of one segment, reading its rows once. */
int ckpt_hash_many(sqlite3 *db, size_t n, const int64_t *k, const struct ckpt_marks *marks,
		   uint8_t (*hash)[CKPT_HASH_LEN], uint64_t *rows);

#endif /* CONNREC_CKPT_H */
