/* SPDX-License-Identifier: MIT */
/*
 * The rows of one checkpoint interval, serialised by the writer as it inserts them, so that
 * the sealing thread hashes the interval ("chain=" records, ckpt.h) without reading the
 * segment back. Each row is kept as the bytes ckpt.c serialises from the file for it (the
 * rowid and every column, in the table's order); the sealing thread sorts them by table and
 * rowid and hashes them as verify does.
 */
#ifndef CONNREC_CKPT_ROWS_H
#define CONNREC_CKPT_ROWS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ckpt.h"
#include "store.h"

/* An interval's rows are cut once they take this much memory (about 55,000 conn rows). */
#define CKPT_ROWS_MAX (5 << 20)

struct ckpt_row_at {
	int64_t rid;
	uint32_t off, len; /* in buf */
	uint8_t tbl;	   /* enum ckpt_table */
	bool conn;	   /* a struct of ckpt_rows_conn(), not bytes yet */
};

struct ckpt_rows {
	struct ckpt_buf buf;
	struct ckpt_row_at *at;
	size_t n, cap;
	size_t open; /* buf offset of the row being built */
	bool lost;   /* out of memory once: the interval cannot be hashed from memory */
	/* The sealing thread's room for sorting, kept with the buffers for the next interval. */
	struct ckpt_row_at *by;
	uint32_t *slot;
	size_t by_cap, slot_cap;
};

/* A row of table T with rowid RID: 'R' and the rowid; add each column, then ckpt_row_end(). */
void ckpt_row_begin(struct ckpt_rows *r, enum ckpt_table t, int64_t rid);
void ckpt_row_int(struct ckpt_rows *r, int64_t v);
void ckpt_row_null(struct ckpt_rows *r);
void ckpt_row_text(struct ckpt_rows *r, const char *s);
void ckpt_row_blob(struct ckpt_rows *r, const void *p, size_t n);
void ckpt_row_end(struct ckpt_rows *r);

/*
 * The conn row the writer inserts for C (bind_conn() in store_writer.c, connrec_rows in
 * store_bulk.c): its id, PROC, and C's flags | EXTRA_FLAGS; its end columns only without
 * EXTRA_FLAGS.
 */
void ckpt_rows_conn(struct ckpt_rows *r, const struct store_conn *c, int64_t proc,
		    uint8_t extra_flags);

/* Forgets the rows from the N-th on (a transaction rolled back). */
void ckpt_rows_truncate(struct ckpt_rows *r, size_t n);
void ckpt_rows_free(struct ckpt_rows *r);

/*
 * The interval's hash D (ckpt.h) over R, for a checkpoint with marks MARKS (the tables it
 * names), sorting R. 0, -ENOMEM (or R lost a row), -EINVAL (a row of a table MARKS does not
 * name).
 */
int ckpt_rows_digest(struct ckpt_rows *r, const struct ckpt_marks *marks,
		     uint8_t digest[CKPT_HASH_LEN]);

#endif /* CONNREC_CKPT_ROWS_H */
