/* SPDX-License-Identifier: MIT */
/*
 * Checkpoints of a segment's rows (docs/store.md, "Checkpoints and seals"): which rows a
 * checkpoint covers, and the hash over them. The writer's side (when to cut, which rows are
 * late) is store_ckpt.c; `connrec verify` recomputes the hashes with this from the file.
 *
 * Checkpoint k of a segment is cut at a commit: each covered table's high-water mark W_k is its
 * largest rowid then. The rows it covers are all rows of those tables with rowid <= W_k, except
 * the ones listed in ckpt_late with an interval after k (committed after the cut, but with a
 * rowid below the mark: a conn row for a long flow, a conn_end; the writer lists them). Each
 * row is serialised as 'R', its rowid and every column with a type tag (ckpt.c).
 *
 * Two hashes, told apart by the record's field name:
 *
 * - "hash=" (the first version): SHA-256 over all the rows checkpoint k covers, table by table
 *   in ckpt_tables order (each table the checkpoint names: 'T', its name, NUL), each table's
 *   rows in rowid order. Computing it reads the whole segment back at every cut.
 * - "chain=": a chain over intervals. Interval k holds the rows checkpoint k covers and k - 1
 *   does not (the rows committed between the two cuts); D_k is SHA-256 over them in the same
 *   layout, and H_k = SHA-256(H_{k-1} || D_k), H_0 all zero. The writer keeps each row when
 *   it inserts it (ckpt_rows.c) and the sealing thread hashes one interval at a cut, with
 *   nothing read back; verify needs the marks of checkpoints 1..k (their lines) to check k.
 * - "chain2=": the same chain with integers serialised narrow (ckpt_narrow_int): a conn row
 *   takes about 70 bytes to hash instead of 145. What the recorder makes now; "hash=" and
 *   "chain=" records of older stores are still checked.
 */
#ifndef CONNREC_CKPT_H
#define CONNREC_CKPT_H

#include <stdbool.h>
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

/*
 * The chained hashes H_1..H_n of checkpoints 1..n of a segment (MARKS[i] is checkpoint i + 1's)
 * and the rows each covers (intervals 1..k), reading the rows once: of "chain2=" records with
 * NARROW, else of "chain=" ones. Errors as ckpt_hash().
 */
int ckpt_chain_many(sqlite3 *db, size_t n, const struct ckpt_marks *marks, bool narrow,
		    uint8_t (*hash)[CKPT_HASH_LEN], uint64_t *rows);

/* H_k = SHA-256(H_{k-1} || D_k). */
void ckpt_chain_step(const uint8_t prev[CKPT_HASH_LEN], const uint8_t digest[CKPT_HASH_LEN],
		     uint8_t out[CKPT_HASH_LEN]);

/* ---- the serialised form of a row (ckpt.c), shared with the writer's ckpt_rows.c ---- */

/* A growable byte string. */
struct ckpt_buf {
	unsigned char *v;
	size_t n, cap;
};

bool ckpt_buf_put(struct ckpt_buf *b, const void *p, size_t n);

/*
 * An integer column in the narrow form ("chain2="): a tag byte 0..8, the number of bytes of V
 * as an unsigned 64-bit number without its leading zero bytes (0 for 0, 8 for a negative V),
 * then those bytes, big-endian. Writes 9 bytes at P (the tail is junk past the returned length).
 */
static inline size_t ckpt_narrow_int(unsigned char *p, int64_t v)
{
	uint64_t u = (uint64_t)v, be;
	unsigned n = u ? 8 - (unsigned)__builtin_clzll(u) / 8 : 0;

	be = n ? __builtin_bswap64(u << (64 - 8 * n)) : 0;
	p[0] = (unsigned char)n;
	__builtin_memcpy(p + 1, &be, 8);
	return 1 + n;
}

/* One column: a narrow integer, a NULL ('n'), a text ('t') or a blob ('b'). */
bool ckpt_buf_int(struct ckpt_buf *b, int64_t v);
bool ckpt_buf_null(struct ckpt_buf *b);
bool ckpt_buf_text(struct ckpt_buf *b, const char *s, size_t n);
bool ckpt_buf_blob(struct ckpt_buf *b, const void *p, size_t n);

/* The table of index I of ckpt_tables (the writer's rows name their table by index). */
enum ckpt_table {
	CKPT_T_PROC,
	CKPT_T_CONN,
	CKPT_T_CONN_END,
	CKPT_T_GAP,
	CKPT_T_RUN,
	CKPT_T_RETENTION,
	CKPT_T_LIFE,
	CKPT_T_LIFE_EXIT,
	CKPT_T_CGROUP,
	CKPT_T_DNS,
	CKPT_T_DNS_ANSWER,
	CKPT_T_COUNT,
};

#endif /* CONNREC_CKPT_H */
