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

static void put_int(struct ckpt_rows *r, int64_t v)
{
	unsigned char *p;
	uint64_t be = __builtin_bswap64((uint64_t)v);

	if (r->lost)
		return;
	if (r->buf.n + 9 > r->buf.cap) { /* a row longer than its room (long texts) */
		if (!ckpt_buf_int(&r->buf, v))
			r->lost = true;
		return;
	}
	p = r->buf.v + r->buf.n;
	p[0] = 'i';
	memcpy(p + 1, &be, 8);
	r->buf.n += 9;
}

void ckpt_row_begin(struct ckpt_rows *r, enum ckpt_table t, int64_t rid)
{
	struct ckpt_row_at *a;

	if (r->lost)
		return;
	if (r->n == r->cap) {
		size_t ncap = r->cap ? r->cap * 2 : 1024;
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
		size_t cap = r->buf.cap ? r->buf.cap * 2 : 64 << 10;
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
	if (!r->lost && !ckpt_buf_null(&r->buf))
		r->lost = true;
}

void ckpt_row_text(struct ckpt_rows *r, const char *s)
{
	if (!s) /* bound as NULL */
		ckpt_row_null(r);
	else if (!r->lost && !ckpt_buf_text(&r->buf, s, strlen(s)))
		r->lost = true;
}

void ckpt_row_blob(struct ckpt_rows *r, const void *p, size_t n)
{
	if (!r->lost && !ckpt_buf_blob(&r->buf, p, n))
		r->lost = true;
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
	memset(r, 0, sizeof(*r));
}

static int cmp_at(const void *a, const void *b)
{
	const struct ckpt_row_at *x = a, *y = b;

	if (x->tbl != y->tbl)
		return x->tbl < y->tbl ? -1 : 1;
	return x->rid < y->rid ? -1 : x->rid > y->rid;
}

static bool named(const struct ckpt_marks *m, const char *name)
{
	for (size_t i = 0; i < m->n; i++)
		if (!strcmp(m->t[i].name, name))
			return true;
	return false;
}

int ckpt_rows_digest(struct ckpt_rows *r, const struct ckpt_marks *marks,
		     uint8_t digest[CKPT_HASH_LEN])
{
	EVP_MD_CTX *md;
	unsigned len = 0;
	size_t i = 0;
	int err = 0;

	if (r->lost)
		return -ENOMEM;
	md = EVP_MD_CTX_new();
	if (!md)
		return -ENOMEM;
	/* Rows come in commit order; verify reads them table by table, in rowid order. */
	if (r->n > 1)
		qsort(r->at, r->n, sizeof(*r->at), cmp_at);
	EVP_DigestInit_ex(md, EVP_sha256(), NULL);
	for (int t = 0; t < CKPT_T_COUNT; t++) {
		const char *name = ckpt_tables[t];

		if (!named(marks, name)) {
			if (i < r->n && r->at[i].tbl == t)
				err = -EINVAL;
			continue;
		}
		EVP_DigestUpdate(md, "T", 1);
		EVP_DigestUpdate(md, name, strlen(name) + 1);
		/* Rows lie in the buffer in commit order: hash runs of neighbours in one call. */
		while (i < r->n && r->at[i].tbl == t) {
			size_t j = i + 1, end = (size_t)r->at[i].off + r->at[i].len;

			while (j < r->n && r->at[j].tbl == t && r->at[j].off == end) {
				end += r->at[j].len;
				j++;
			}
			EVP_DigestUpdate(md, r->buf.v + r->at[i].off, end - r->at[i].off);
			i = j;
		}
	}
	if (i < r->n)
		err = -EINVAL;
	if (!err)
		EVP_DigestFinal_ex(md, digest, &len);
	EVP_MD_CTX_free(md);
	return err;
}
