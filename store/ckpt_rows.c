// SPDX-License-Identifier: MIT
/*
 * One checkpoint interval's rows in memory (ckpt_rows.h). Building a row costs a few stores
 * into a growing buffer; hashing is left to the sealing thread.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "ckpt_rows.h"

/*
 * A row's columns are written straight into room reserved when it begins: a conn row, the
 * biggest the writer makes often, is about 150 bytes; texts may need more (ckpt_buf_put).
 */
#define ROW_ROOM 512

/*
 * An interval's buffers are made big enough for a whole interval when first used (its pages
 * are touched only as rows fill them), so that they do not move: grown by doubling from 64
 * KiB, the row buffer was copied by realloc at every step, 5 MiB per interval on the capture
 * thread in a storm, with the page faults of each new copy (bench/RESULTS.md). The cut comes
 * after the commit that passes CKPT_ROWS_MAX, hence some room past it; a bigger transaction
 * still grows them. A row's place is 24 bytes, a conn row about 100.
 */
#define BUF_FIRST (CKPT_ROWS_MAX + (1 << 20))
#define AT_FIRST (BUF_FIRST / 64)

/* An integer column, narrow (ckpt_narrow_int). */
static void put_int(struct ckpt_rows *r, int64_t v)
{
	if (r->lost)
		return;
	if (r->buf.n + 9 > r->buf.cap) { /* a row longer than its room (long texts) */
		if (!ckpt_buf_int(&r->buf, v))
			r->lost = true;
		return;
	}
	r->buf.n += ckpt_narrow_int(r->buf.v + r->buf.n, v);
}

void ckpt_row_begin(struct ckpt_rows *r, enum ckpt_table t, int64_t rid)
{
	struct ckpt_row_at *a;

	if (r->lost)
		return;
	if (r->n == r->cap) {
		size_t ncap = r->cap ? r->cap * 2 : AT_FIRST;
		struct ckpt_row_at *nv = realloc(r->at, ncap * sizeof(*nv));

		if (!nv) {
			r->lost = true;
			return;
		}
		r->at = nv;
		r->cap = ncap;
	}
	/* Room for the whole row, so that each column is a plain store. */
	if (r->buf.n + ROW_ROOM > r->buf.cap) {
		size_t cap = r->buf.cap ? r->buf.cap * 2 : BUF_FIRST;
		unsigned char *nv;

		while (cap < r->buf.n + ROW_ROOM)
			cap *= 2;
		nv = realloc(r->buf.v, cap);
		if (!nv) {
			r->lost = true;
			return;
		}
		r->buf.v = nv;
		r->buf.cap = cap;
	}
	a = &r->at[r->n];
	a->rid = rid;
	a->tbl = (uint8_t)t;
	a->conn = false;
	r->open = r->buf.n;
	r->buf.v[r->buf.n++] = 'R';
	put_int(r, rid);
}

void ckpt_row_int(struct ckpt_rows *r, int64_t v)
{
	put_int(r, v);
}

void ckpt_row_null(struct ckpt_rows *r)
{
	if (r->lost)
		return;
	if (r->buf.n < r->buf.cap)
		r->buf.v[r->buf.n++] = 'n';
	else if (!ckpt_buf_null(&r->buf))
		r->lost = true;
}

/* A text ('t') or blob ('b') of N bytes: tag, 4-byte big-endian length, bytes. */
static void put_bytes(struct ckpt_rows *r, char tag, const void *p, size_t n)
{
	unsigned char *d;
	uint32_t be = __builtin_bswap32((uint32_t)n);
	bool ok;

	if (r->lost)
		return;
	if (n <= UINT32_MAX && r->buf.n + 5 + n <= r->buf.cap) {
		d = r->buf.v + r->buf.n;
		d[0] = (unsigned char)tag;
		memcpy(d + 1, &be, 4);
		memcpy(d + 5, p, n);
		r->buf.n += 5 + n;
		return;
	}
	ok = tag == 't' ? ckpt_buf_text(&r->buf, p, n) : ckpt_buf_blob(&r->buf, p, n);
	if (!ok)
		r->lost = true;
}

void ckpt_row_text(struct ckpt_rows *r, const char *s)
{
	if (!s) /* bound as NULL */
		ckpt_row_null(r);
	else
		put_bytes(r, 't', s, strlen(s));
}

void ckpt_row_blob(struct ckpt_rows *r, const void *p, size_t n)
{
	put_bytes(r, 'b', p, n);
}

void ckpt_row_end(struct ckpt_rows *r)
{
	if (r->lost)
		return;
	if (r->buf.n > UINT32_MAX) {
		r->lost = true;
		return;
	}
	r->at[r->n].off = (uint32_t)r->open;
	r->at[r->n].len = (uint32_t)(r->buf.n - r->open);
	r->n++;
}

/* ---- conn rows, serialised at the cut ---- */

/*
 * What the conn row's columns need of a store_conn, about two thirds of its size: the writer
 * copies this much per row into the interval (its cache misses and page faults are most of
 * what checkpoints cost the capture thread, bench/RESULTS.md).
 */
struct conn_rec {
	int64_t id, start_ns, dur_ns, proc;
	uint64_t bytes_out, bytes_in;
	uint8_t laddr[16], raddr[16];
	uint16_t lport, rport;
	uint8_t proto, family, dir, flags, reason;
	bool end, has_bytes;
};

void ckpt_rows_conn(struct ckpt_rows *r, const struct store_conn *c, int64_t proc,
		    uint8_t extra_flags)
{
	struct conn_rec *k;

	ckpt_row_begin(r, CKPT_T_CONN, (int64_t)c->id);
	if (r->lost)
		return;
	/*
	 * No 'R' and rowid: the values go in as they are, at the next multiple of 8 (buf.v is
	 * malloc'd; ROW_ROOM holds the padding too).
	 */
	r->open = (r->open + 7) & ~(size_t)7;
	k = (struct conn_rec *)(void *)(r->buf.v + r->open);
	k->id = (int64_t)c->id;
	k->start_ns = c->start_ns;
	k->dur_ns = c->end_ns - c->start_ns;
	k->proc = proc;
	k->bytes_out = c->bytes_out;
	k->bytes_in = c->bytes_in;
	memcpy(k->laddr, c->laddr, sizeof(k->laddr));
	memcpy(k->raddr, c->raddr, sizeof(k->raddr));
	k->lport = c->lport;
	k->rport = c->rport;
	k->proto = c->proto;
	k->family = c->family;
	k->dir = c->dir;
	k->flags = c->flags | extra_flags;
	k->reason = c->reason;
	k->end = c->has_end && !extra_flags;
	k->has_bytes = c->has_bytes;
	r->buf.n = r->open + sizeof(*k);
	r->at[r->n].conn = true;
	ckpt_row_end(r);
}

#define CONN_ROW_MAX 192 /* 'R', 14 integers or NULLs of up to 9 bytes, two addresses of 21 */

static unsigned char *out_int(unsigned char *p, int64_t v)
{
	return p + ckpt_narrow_int(p, v);
}

static unsigned char *out_addr(unsigned char *p, const uint8_t *a, uint8_t family)
{
	uint32_t n = family == 4 ? 4 : 16, be = __builtin_bswap32(n);

	*p = 'b';
	memcpy(p + 1, &be, 4);
	memcpy(p + 5, a, n);
	return p + 5 + n;
}

/* The bytes ckpt.c reads from the file for the row: the rowid, then conn's columns. */
static size_t conn_serialise(const struct conn_rec *k, unsigned char out[CONN_ROW_MAX])
{
	unsigned char *p = out;

	*p++ = 'R';
	p = out_int(p, k->id); /* the rowid */
	p = out_int(p, k->id);
	p = out_int(p, k->start_ns);
	p = out_int(p, k->proto);
	p = out_int(p, k->family);
	p = out_int(p, k->dir);
	p = out_addr(p, k->laddr, k->family);
	p = out_int(p, k->lport);
	p = out_addr(p, k->raddr, k->family);
	p = out_int(p, k->rport);
	p = out_int(p, k->proc);
	p = out_int(p, k->flags);
	if (k->end) {
		p = out_int(p, k->dur_ns);
		if (k->has_bytes) {
			p = out_int(p, (int64_t)k->bytes_out);
			p = out_int(p, (int64_t)k->bytes_in);
		} else {
			*p++ = 'n';
			*p++ = 'n';
		}
		p = out_int(p, k->reason);
	} else {
		memset(p, 'n', 4);
		p += 4;
	}
	return (size_t)(p - out);
}

void ckpt_rows_truncate(struct ckpt_rows *r, size_t n)
{
	if (n >= r->n)
		return;
	r->n = n;
	r->buf.n = n ? r->at[n - 1].off + r->at[n - 1].len : 0;
}

void ckpt_rows_free(struct ckpt_rows *r)
{
	free(r->buf.v);
	free(r->at);
	free(r->by);
	free(r->slot);
	memset(r, 0, sizeof(*r));
}

static int cmp_at(const void *a, const void *b)
{
	const struct ckpt_row_at *x = a, *y = b;

	if (x->tbl != y->tbl)
		return x->tbl < y->tbl ? -1 : 1;
	return x->rid < y->rid ? -1 : x->rid > y->rid;
}

/* Room for N items of SIZE bytes in *P (capacity *CAP items), kept between intervals. */
static bool reserve(void **p, size_t *cap, size_t n, size_t size)
{
	void *nv;

	if (n <= *cap)
		return true;
	nv = realloc(*p, n * size);
	if (!nv)
		return false;
	*p = nv;
	*cap = n;
	return true;
}

/*
 * One table's M rows IN, rowids unique, into OUT in rowid order. A conn row goes in when its
 * flow ends with the id it got when it began, so an interval's conn rows are runs (one per
 * flush, store_flush.c) that overlap, of nearly consecutive ids: like conns_by_id() there,
 * each row drops into a slot by its rowid within a window below the largest, and the slots are
 * read back in order; rows below the window (long flows listed late) are sorted on their own
 * and go first. Linear, where qsort took a third of the sealing thread's time in a storm
 * (bench/RESULTS.md). A rowid seen twice (not from a real table) falls back to qsort.
 */
static int sort_table(struct ckpt_rows *r, const struct ckpt_row_at *in, size_t m,
		      struct ckpt_row_at *out)
{
	size_t span = 2 * m + 1024, below = 0, k;
	int64_t max = in[0].rid, lo;
	uint32_t *slot;

	if (m >= UINT32_MAX || !reserve((void **)&r->slot, &r->slot_cap, span, sizeof(*slot)))
		return -ENOMEM;
	slot = r->slot;
	for (size_t i = 1; i < m; i++)
		if (in[i].rid > max)
			max = in[i].rid;
	lo = max < INT64_MIN + (int64_t)span ? INT64_MIN : max - (int64_t)span + 1;
	memset(slot, 0xff, span * sizeof(*slot));
	for (size_t i = 0; i < m; i++) {
		if (in[i].rid < lo) {
			out[below++] = in[i];
			continue;
		}
		size_t at = (size_t)((uint64_t)in[i].rid - (uint64_t)lo); /* < span */

		if (slot[at] != UINT32_MAX)
			goto twice;
		slot[at] = (uint32_t)i;
	}
	qsort(out, below, sizeof(*out), cmp_at);
	k = below;
	for (size_t i = 0; i < span; i++)
		if (slot[i] != UINT32_MAX)
			out[k++] = in[slot[i]];
	return 0;
twice:
	memcpy(out, in, m * sizeof(*out));
	qsort(out, m, sizeof(*out), cmp_at);
	return 0;
}

/*
 * Rows come in commit order; verify reads them table by table, in rowid order: grouped by
 * table first (one pass), then each table's rows sorted where they are not in order already.
 */
static int sort_rows(struct ckpt_rows *r)
{
	size_t start[CKPT_T_COUNT + 1] = { 0 }, fill[CKPT_T_COUNT];
	struct ckpt_row_at *by;

	if (r->n < 2)
		return 0;
	if (!reserve((void **)&r->by, &r->by_cap, r->n, sizeof(*by)))
		return -ENOMEM;
	by = r->by;
	for (size_t i = 0; i < r->n; i++)
		start[r->at[i].tbl + 1]++;
	for (int t = 0; t < CKPT_T_COUNT; t++) {
		start[t + 1] += start[t];
		fill[t] = start[t];
	}
	for (size_t i = 0; i < r->n; i++)
		by[fill[r->at[i].tbl]++] = r->at[i];
	/* Back into r->at, table by table. */
	for (int t = 0; t < CKPT_T_COUNT; t++) {
		size_t a = start[t], m = start[t + 1] - start[t], i = 1;

		while (i < m && by[a + i - 1].rid < by[a + i].rid)
			i++;
		if (i >= m)
			memcpy(r->at + a, by + a, m * sizeof(*by));
		else if (sort_table(r, by + a, m, r->at + a))
			return -ENOMEM;
	}
	return 0;
}

static bool named(const struct ckpt_marks *m, const char *name)
{
	for (size_t i = 0; i < m->n; i++)
		if (!strcmp(m->t[i].name, name))
			return true;
	return false;
}

/* SHA-256 is fed in big pieces: an update costs about as much as hashing 100 bytes. */
struct feeder {
	size_t n;
	unsigned char v[16 << 10];
};

static void feed_flush(struct feeder *f, EVP_MD_CTX *md)
{
	if (f->n)
		EVP_DigestUpdate(md, f->v, f->n);
	f->n = 0;
}

static void feed(struct feeder *f, EVP_MD_CTX *md, const void *p, size_t n)
{
	if (f->n + n > sizeof(f->v)) {
		feed_flush(f, md);
		if (n > sizeof(f->v)) {
			EVP_DigestUpdate(md, p, n);
			return;
		}
	}
	memcpy(f->v + f->n, p, n);
	f->n += n;
}

int ckpt_rows_digest(struct ckpt_rows *r, const struct ckpt_marks *marks,
		     uint8_t digest[CKPT_HASH_LEN])
{
	static __thread struct feeder f; /* 16 KiB: not on the sealing thread's stack */
	EVP_MD_CTX *md;
	unsigned len = 0;
	size_t i = 0;
	int err = 0;

	if (r->lost)
		return -ENOMEM;
	md = EVP_MD_CTX_new();
	if (!md)
		return -ENOMEM;
	err = sort_rows(r);
	if (err) {
		EVP_MD_CTX_free(md);
		return err;
	}
	EVP_DigestInit_ex(md, EVP_sha256(), NULL);
	f.n = 0;
	for (int t = 0; t < CKPT_T_COUNT; t++) {
		const char *name = ckpt_tables[t];

		if (!named(marks, name)) {
			if (i < r->n && r->at[i].tbl == t)
				err = -EINVAL;
			continue;
		}
		feed(&f, md, "T", 1);
		feed(&f, md, name, strlen(name) + 1);
		for (; i < r->n && r->at[i].tbl == t; i++) {
			const struct ckpt_row_at *a = &r->at[i];
			if (!a->conn) {
				feed(&f, md, r->buf.v + a->off, a->len);
				continue;
			}
			if (f.n + CONN_ROW_MAX > sizeof(f.v))
				feed_flush(&f, md);
			f.n += conn_serialise((const struct conn_rec *)(const void *)(r->buf.v + a->off),
					      f.v + f.n);
		}
	}
	feed_flush(&f, md);
	if (i < r->n)
		err = -EINVAL;
	if (!err)
		EVP_DigestFinal_ex(md, digest, &len);
	EVP_MD_CTX_free(md);
	return err;
}
