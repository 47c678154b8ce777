// SPDX-License-Identifier: MIT
/*
 * The column tables of the shipped rows, and RowBinary: integers little-endian, strings as a
 * LEB128 length and the bytes, Nullable(T) as one byte (1 = NULL) and, when not NULL, T.
 * Types used here exist unchanged from ClickHouse 18.16 (Debian 12) to current releases.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "ch_rows.h"
#include "store_read.h"

/* One line per column: the struct field gives the name, the offset and the size. */
#define COL(T, f, type) { #f, type, offsetof(T, f), sizeof(((T *)0)->f), 0, false }
#define COL_NULL(T, f, type, flag) \
	{ #f, type, offsetof(T, f), sizeof(((T *)0)->f), offsetof(T, flag), true }
#define COL_BYTES(T, f, len) { #f, CH_BYTES, offsetof(T, f), sizeof(((T *)0)->f), offsetof(T, len), false }
#define TABLE(n, T, cols, order) { n, cols, sizeof(cols) / sizeof(cols[0]), sizeof(T), order }

/* A conn row with the end its segment knows (folded in, or from the segment's conn_end). */
static const struct ch_col conn_cols[] = {
	COL(struct sr_conn, id, CH_I64),
	COL(struct sr_conn, start_ns, CH_I64),
	COL_NULL(struct sr_conn, end_ns, CH_I64, has_end),
	COL(struct sr_conn, end_folded, CH_BOOL),
	COL(struct sr_conn, reason, CH_U8),
	COL_NULL(struct sr_conn, bytes_out, CH_U64, has_bytes),
	COL_NULL(struct sr_conn, bytes_in, CH_U64, has_bytes),
	COL(struct sr_conn, proto, CH_U8),
	COL(struct sr_conn, family, CH_U8),
	COL(struct sr_conn, dir, CH_U8),
	COL(struct sr_conn, flags, CH_U8),
	COL_BYTES(struct sr_conn, laddr, laddr_len),
	COL(struct sr_conn, lport, CH_U16),
	COL_BYTES(struct sr_conn, raddr, raddr_len),
	COL(struct sr_conn, rport, CH_U16),
	COL(struct sr_conn, pid, CH_U32),
	COL(struct sr_conn, comm, CH_TEXT),
	COL(struct sr_conn, uid, CH_U32),
	COL(struct sr_conn, netns, CH_U32),
	COL(struct sr_conn, cgroup, CH_U64),
	COL(struct sr_conn, pstart_ns, CH_U64),
};

static const struct ch_col end_cols[] = {
	COL(struct sr_end, id, CH_I64),
	COL(struct sr_end, end_ns, CH_I64),
	COL_NULL(struct sr_end, bytes_out, CH_U64, has_bytes),
	COL_NULL(struct sr_end, bytes_in, CH_U64, has_bytes),
	COL(struct sr_end, reason, CH_U8),
};

static const struct ch_col gap_cols[] = {
	COL(struct sr_gap, id, CH_I64),
	COL(struct sr_gap, kind, CH_SMALL),
	COL(struct sr_gap, start_ns, CH_I64),
	COL(struct sr_gap, end_ns, CH_I64),
	COL(struct sr_gap, count, CH_U64),
	COL(struct sr_gap, reason, CH_TEXT),
};

static const struct ch_col run_cols[] = {
	COL(struct sr_run, id, CH_I64),
	COL(struct sr_run, ts_ns, CH_I64),
	COL(struct sr_run, kind, CH_SMALL),
	COL(struct sr_run, pid, CH_U32),
	COL(struct sr_run, version, CH_TEXT),
};

/* Process lives (schema 2): nothing in a version 1 segment. */
static const struct ch_col life_cols[] = {
	COL(struct sr_life, id, CH_I64),
	COL(struct sr_life, pid, CH_U32),
	COL(struct sr_life, pstart_ns, CH_U64),
	COL(struct sr_life, start_ns, CH_I64),
	COL(struct sr_life, image_ns, CH_I64),
	COL(struct sr_life, ppid, CH_U32),
	COL(struct sr_life, ppstart_ns, CH_U64),
	COL(struct sr_life, pcomm, CH_TEXT),
	COL(struct sr_life, uid, CH_U32),
	COL(struct sr_life, cgroup, CH_U64),
	COL(struct sr_life, comm, CH_TEXT),
	COL(struct sr_life, exe, CH_TEXT),
	COL(struct sr_life, args, CH_TEXT),
	COL(struct sr_life, flags, CH_U32),
	COL_NULL(struct sr_life, exit_ns, CH_I64, has_exit),
	COL_NULL(struct sr_life, exit_code, CH_I64, has_exit),
};

static const struct ch_col life_exit_cols[] = {
	COL(struct sr_life_exit, id, CH_I64),
	COL(struct sr_life_exit, pid, CH_U32),
	COL(struct sr_life_exit, pstart_ns, CH_U64),
	COL(struct sr_life_exit, exit_ns, CH_I64),
	COL(struct sr_life_exit, exit_code, CH_I64),
};

static const struct ch_col cgroup_cols[] = {
	COL(struct sr_cgroup, id, CH_U64),
	COL(struct sr_cgroup, path, CH_TEXT),
	COL(struct sr_cgroup, container, CH_TEXT),
	COL(struct sr_cgroup, unit, CH_TEXT),
};

/* Checkpoint and seal records (schema 3): the anchor lines as the recorder sent them. */
static const struct ch_col anchor_cols[] = {
	COL(struct sr_anchor, id, CH_I64),
	COL(struct sr_anchor, ts_ns, CH_I64),
	COL(struct sr_anchor, kind, CH_TEXT),
	COL(struct sr_anchor, line, CH_TEXT),
};

static const struct ch_col segment_cols[] = {
	COL(struct ch_segment_row, name, CH_TEXT),
	COL(struct ch_segment_row, sha256, CH_TEXT),
	COL(struct ch_segment_row, prev_sha256, CH_TEXT),
	COL(struct ch_segment_row, boot_id, CH_TEXT),
	COL(struct ch_segment_row, kernel, CH_TEXT),
	COL(struct ch_segment_row, recorder_version, CH_TEXT),
	COL(struct ch_segment_row, schema_version, CH_U32),
	COL(struct ch_segment_row, first_ns, CH_I64),
	COL(struct ch_segment_row, last_ns, CH_I64),
	COL(struct ch_segment_row, conn_rows, CH_U64),
	COL(struct ch_segment_row, end_rows, CH_U64),
	COL(struct ch_segment_row, gap_rows, CH_U64),
	COL(struct ch_segment_row, run_rows, CH_U64),
	COL(struct ch_segment_row, life_rows, CH_U64),
	COL(struct ch_segment_row, life_exit_rows, CH_U64),
	COL(struct ch_segment_row, cgroup_rows, CH_U64),
	COL(struct ch_segment_row, anchor_rows, CH_U64),
	COL(struct ch_segment_row, shipped_ns, CH_I64),
	COL(struct ch_segment_row, shipper, CH_TEXT),
};

/*
 * Sorting keys start with (host, segment_id): every query --from reads the segments a local
 * query would open, host by host. conn then sorts by remote port and address, the questions
 * most asked of one segment ("who talked to this service / this peer"), then time.
 */
const struct ch_table ch_conn_table =
	TABLE("conn", struct sr_conn, conn_cols, "host, segment_id, rport, raddr, start_ns");
const struct ch_table ch_end_table =
	TABLE("conn_end", struct sr_end, end_cols, "host, segment_id, id");
const struct ch_table ch_gap_table =
	TABLE("gap", struct sr_gap, gap_cols, "host, segment_id, start_ns");
const struct ch_table ch_run_table = TABLE("run", struct sr_run, run_cols, "host, segment_id, ts_ns");
const struct ch_table ch_life_table =
	TABLE("life", struct sr_life, life_cols, "host, segment_id, pid, pstart_ns, image_ns");
const struct ch_table ch_life_exit_table =
	TABLE("life_exit", struct sr_life_exit, life_exit_cols, "host, segment_id, pid, pstart_ns");
const struct ch_table ch_cgroup_table =
	TABLE("cgroup", struct sr_cgroup, cgroup_cols, "host, segment_id, id");
const struct ch_table ch_anchor_table =
	TABLE("anchor", struct sr_anchor, anchor_cols, "host, segment_id, id");
const struct ch_table ch_segments_table =
	TABLE("segments", struct ch_segment_row, segment_cols, "host, segment_id");

const struct ch_table *const ch_data_tables[CH_N_DATA_TABLES] = {
	&ch_conn_table, &ch_end_table,	     &ch_gap_table,    &ch_run_table,
	&ch_life_table, &ch_life_exit_table, &ch_cgroup_table, &ch_anchor_table,
};
const struct ch_table *const ch_tables[] = {
	&ch_conn_table,	  &ch_end_table,       &ch_gap_table,	 &ch_run_table,
	&ch_life_table,	  &ch_life_exit_table, &ch_cgroup_table, &ch_anchor_table,
	&ch_segments_table,
};
const size_t ch_n_tables = sizeof(ch_tables) / sizeof(ch_tables[0]);

const char *ch_type_name(const struct ch_col *c, char *buf, size_t len)
{
	static const char *const names[] = {
		[CH_U8] = "UInt8",   [CH_U16] = "UInt16", [CH_U32] = "UInt32",
		[CH_U64] = "UInt64", [CH_I64] = "Int64",  [CH_BOOL] = "UInt8",
		[CH_SMALL] = "UInt8", [CH_TEXT] = "String", [CH_BYTES] = "String",
	};

	if (c->nullable)
		snprintf(buf, len, "Nullable(%s)", names[c->type]);
	else
		snprintf(buf, len, "%s", names[c->type]);
	return buf;
}

/* ---- writing ---- */

static int put_le(struct ch_buf *b, uint64_t v, int bytes)
{
	uint8_t o[8];

	for (int i = 0; i < bytes; i++)
		o[i] = (uint8_t)(v >> (8 * i));
	return ch_buf_put(b, o, (size_t)bytes);
}

static int put_string(struct ch_buf *b, const void *s, size_t n)
{
	uint8_t len[10];
	size_t k = 0;
	uint64_t v = n;

	do {
		len[k] = (uint8_t)(v & 0x7f);
		v >>= 7;
		if (v)
			len[k] |= 0x80;
		k++;
	} while (v);
	return ch_buf_put(b, len, k) ?: ch_buf_put(b, s, n);
}

int ch_put_key(struct ch_buf *b, const struct ch_key *k)
{
	return put_string(b, k->host, strnlen(k->host, sizeof(k->host))) ?:
		       put_le(b, k->segment_id, 8) ?:
		       put_le(b, k->attempt, 8) ?: put_le(b, (uint64_t)k->segment_ns, 8);
}

static int put_col(struct ch_buf *b, const struct ch_col *c, const uint8_t *row)
{
	const uint8_t *f = row + c->off;
	uint64_t v = 0;
	int err;

	if (c->nullable) {
		bool present = *(const bool *)(row + c->aux);

		err = put_le(b, present ? 0 : 1, 1);
		if (err || !present)
			return err;
	}
	switch (c->type) {
	case CH_U8:
		return put_le(b, *f, 1);
	case CH_BOOL:
		return put_le(b, *(const bool *)f ? 1 : 0, 1);
	case CH_SMALL:
		return put_le(b, (uint8_t) * (const int *)f, 1);
	case CH_U16:
		return put_le(b, *(const uint16_t *)f, 2);
	case CH_U32:
		return put_le(b, *(const uint32_t *)f, 4);
	case CH_U64:
		memcpy(&v, f, 8);
		return put_le(b, v, 8);
	case CH_I64:
		memcpy(&v, f, 8);
		return put_le(b, v, 8);
	case CH_TEXT:
		return put_string(b, f, strnlen((const char *)f, c->size));
	case CH_BYTES: {
		size_t n = row[c->aux];

		return put_string(b, f, n < c->size ? n : c->size);
	}
	}
	return -EINVAL;
}

int ch_put_row(struct ch_buf *b, const struct ch_table *t, const void *row)
{
	int err = 0;

	for (size_t i = 0; i < t->n_cols && !err; i++)
		err = put_col(b, &t->cols[i], row);
	return err;
}

/* ---- reading ---- */

static int get_le(struct ch_reader *r, int bytes, uint64_t *v)
{
	if (r->end - r->p < bytes)
		return -EBADMSG;
	*v = 0;
	for (int i = 0; i < bytes; i++)
		*v |= (uint64_t)r->p[i] << (8 * i);
	r->p += bytes;
	return 0;
}

int ch_get_u64(struct ch_reader *r, uint64_t *v)
{
	return get_le(r, 8, v);
}

/* A string's bytes, left in place: *s points into the answer. */
static int get_bytes(struct ch_reader *r, const uint8_t **s, size_t *n)
{
	uint64_t len = 0;

	for (int shift = 0;; shift += 7) {
		if (r->p == r->end || shift > 63)
			return -EBADMSG;
		len |= (uint64_t)(*r->p & 0x7f) << shift;
		if (!(*r->p++ & 0x80))
			break;
	}
	if (len > (uint64_t)(r->end - r->p))
		return -EBADMSG;
	*s = r->p;
	*n = (size_t)len;
	r->p += len;
	return 0;
}

/* Copied NUL-terminated, cut at len - 1 bytes (and at an embedded NUL when printed). */
int ch_get_string(struct ch_reader *r, char *out, size_t len)
{
	const uint8_t *s;
	size_t n;
	int err = get_bytes(r, &s, &n);

	if (err)
		return err;
	if (n > len - 1)
		n = len - 1;
	memcpy(out, s, n);
	out[n] = '\0';
	return 0;
}

int ch_get_key(struct ch_reader *r, struct ch_key *k)
{
	uint64_t ns = 0;
	int err = ch_get_string(r, k->host, sizeof(k->host)) ?: get_le(r, 8, &k->segment_id) ?:
		  get_le(r, 8, &k->attempt) ?: get_le(r, 8, &ns);

	k->segment_ns = (int64_t)ns;
	return err;
}

static int get_col(struct ch_reader *r, const struct ch_col *c, uint8_t *row)
{
	uint8_t *f = row + c->off;
	uint64_t v;
	int err;

	if (c->nullable) {
		err = get_le(r, 1, &v);
		if (err)
			return err;
		*(bool *)(row + c->aux) = v == 0;
		if (v)
			return 0;
	}
	switch (c->type) {
	case CH_U8:
		err = get_le(r, 1, &v);
		*f = (uint8_t)v;
		return err;
	case CH_BOOL:
		err = get_le(r, 1, &v);
		*(bool *)f = v != 0;
		return err;
	case CH_SMALL:
		err = get_le(r, 1, &v);
		*(int *)f = (int)v;
		return err;
	case CH_U16:
		err = get_le(r, 2, &v);
		*(uint16_t *)f = (uint16_t)v;
		return err;
	case CH_U32:
		err = get_le(r, 4, &v);
		*(uint32_t *)f = (uint32_t)v;
		return err;
	case CH_U64:
	case CH_I64:
		err = get_le(r, 8, &v);
		memcpy(f, &v, 8);
		return err;
	case CH_TEXT:
		return ch_get_string(r, (char *)f, c->size);
	case CH_BYTES: {
		const uint8_t *s;
		size_t n;

		err = get_bytes(r, &s, &n);
		if (err)
			return err;
		/* As the local reader does: at most the field, the length says what it was. */
		memset(f, 0, c->size);
		memcpy(f, s, n < c->size ? n : c->size);
		row[c->aux] = (uint8_t)(n > 255 ? 255 : n);
		return 0;
	}
	}
	return -EINVAL;
}

int ch_get_row(struct ch_reader *r, const struct ch_table *t, void *row)
{
	int err = 0;

	memset(row, 0, t->row_size);
	for (size_t i = 0; i < t->n_cols && !err; i++)
		err = get_col(r, &t->cols[i], row);
	return err;
}
