/* SPDX-License-Identifier: MIT */
/*
 * The ClickHouse tables that shipped segments go into, described once as column tables, and
 * their rows in ClickHouse's RowBinary format.
 *
 * Each table holds the rows the evidence reader gives for a segment (struct sr_conn, sr_end,
 * sr_gap, sr_run, and the process lives sr_life, sr_life_exit, sr_cgroup of
 * read/store_read.h), one column per struct field, after a key that says
 * where a row came from: host, segment_id, attempt (which shipping attempt wrote it; see
 * docs/fleet.md, "Exactly once") and segment_ns (the segment's creation time, the partition
 * key). One column table drives the DDL (`connrec ship --schema`), what ship writes and what
 * `query --from` reads back, so a new field is one line in ch_rows.c.
 */
#ifndef CONNREC_FLEET_CH_ROWS_H
#define CONNREC_FLEET_CH_ROWS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ch_buf.h"

/* How a C field is stored: the ClickHouse type follows from it. */
enum ch_type {
	CH_U8,	  /* uint8_t, UInt8 */
	CH_U16,	  /* uint16_t, UInt16 */
	CH_U32,	  /* uint32_t, UInt32 */
	CH_U64,	  /* uint64_t, UInt64 */
	CH_I64,	  /* int64_t, Int64 */
	CH_BOOL,  /* bool, UInt8 0 or 1 */
	CH_SMALL, /* int holding 0..255, UInt8 */
	CH_TEXT,  /* char[N], NUL-terminated, String */
	CH_BYTES, /* uint8_t[N] with a uint8_t length field, String (raw bytes) */
};

struct ch_col {
	const char *name;
	enum ch_type type;
	size_t off, size; /* the field in the row struct */
	size_t aux;	  /* CH_BYTES: offset of the length; nullable: offset of its bool flag */
	bool nullable;	  /* Nullable(T): NULL when the bool flag at aux is false */
};

struct ch_table {
	const char *name;
	const struct ch_col *cols;
	size_t n_cols;
	size_t row_size;      /* sizeof the row struct */
	const char *order_by; /* the sorting key, for the DDL */
};

/* The key every row starts with. segment_ns: the segment's meta created_ns. */
struct ch_key {
	char host[256];
	uint64_t segment_id, attempt;
	int64_t segment_ns;
};

/* A row of the segments table: one per shipped segment, written last (the commit marker). */
struct ch_segment_row {
	char name[64];
	char sha256[65];      /* of the sealed .db.zst file */
	char prev_sha256[72]; /* meta prev_sha256: the chain continues on the server */
	char boot_id[64];
	char kernel[128];
	char recorder_version[64];
	uint32_t schema_version;
	int64_t first_ns, last_ns; /* meta; INT64_MIN when missing */
	uint64_t conn_rows, end_rows, gap_rows, run_rows;
	uint64_t life_rows, life_exit_rows, cgroup_rows; /* 0 in markers of connrec before them */
	uint64_t anchor_rows;				 /* the same */
	int64_t shipped_ns;
	char shipper[64]; /* connrec version that shipped it */
};

extern const struct ch_table ch_conn_table;	/* struct sr_conn */
extern const struct ch_table ch_end_table;	/* struct sr_end */
extern const struct ch_table ch_gap_table;	/* struct sr_gap */
extern const struct ch_table ch_run_table;	/* struct sr_run */
extern const struct ch_table ch_life_table;	/* struct sr_life */
extern const struct ch_table ch_life_exit_table; /* struct sr_life_exit */
extern const struct ch_table ch_cgroup_table;	/* struct sr_cgroup */
extern const struct ch_table ch_anchor_table;	/* struct sr_anchor */
extern const struct ch_table ch_segments_table; /* struct ch_segment_row */

/* Every table, in the order the DDL creates them and ship fills them (segments last). */
extern const struct ch_table *const ch_tables[];
/* The tables of a segment's rows, in the order ship sends them (ch_tables without segments). */
#define CH_N_DATA_TABLES 8
extern const struct ch_table *const ch_data_tables[CH_N_DATA_TABLES];
extern const size_t ch_n_tables;

/* "UInt64", "Nullable(Int64)", ... */
const char *ch_type_name(const struct ch_col *c, char *buf, size_t len);

/* ---- writing RowBinary ---- */

/* The key as RowBinary (the same bytes start every row of one segment). */
int ch_put_key(struct ch_buf *b, const struct ch_key *k);
int ch_put_row(struct ch_buf *b, const struct ch_table *t, const void *row);

/* ---- reading RowBinary (untrusted: every length is checked) ---- */

struct ch_reader {
	const uint8_t *p, *end;
};

/* 0, or -EBADMSG when the answer is cut short or a length does not fit. */
int ch_get_key(struct ch_reader *r, struct ch_key *k);
int ch_get_row(struct ch_reader *r, const struct ch_table *t, void *row);
int ch_get_u64(struct ch_reader *r, uint64_t *v);
int ch_get_string(struct ch_reader *r, char *out, size_t len);

#endif /* CONNREC_FLEET_CH_ROWS_H */
