// SPDX-License-Identifier: MIT
/*
 * Checkpoint membership and the running hash (ckpt.h). Reads only: the sealing thread runs it
 * on its own read connection to the active segment, verify on the evidence reader's handle.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "ckpt.h"

/*
 * Every table of rows the recorder saw, each written only by appending with rowids that only
 * grow, except conn and conn_end (the rowid is the connection id) and cgroup (the cgroup id),
 * whose rows below the last cut's mark the writer lists in ckpt_late. A table added to the
 * schema joins the end of this list (and, if its rowids do not only grow, the late list:
 * store_ckpt.c), gets its entry in enum ckpt_table (ckpt.h, same order), and the writer
 * serialises each row it inserts into it (ckpt_row_*(), ckpt_rows.h), or checkpoints hashed
 * from memory miss its rows and verify fails them; older checkpoints name the tables they
 * covered, so they stay checkable.
 */
const char *const ckpt_tables[] = { "proc",	 "conn",      "conn_end", "gap", "run", "retention",
				    "life",	 "life_exit", "cgroup",	  "dns", "dns_answer", NULL };

static bool known_table(const char *name)
{
	for (const char *const *t = ckpt_tables; *t; t++)
		if (!strcmp(*t, name))
			return true;
	return false;
}

int ckpt_marks_now(sqlite3 *db, struct ckpt_marks *m)
{
	char sql[96];

	memset(m, 0, sizeof(*m));
	for (const char *const *t = ckpt_tables; *t && m->n < CKPT_MAX_TABLES; t++) {
		sqlite3_stmt *st = NULL;
		int rc;

		snprintf(sql, sizeof(sql), "SELECT max(rowid) FROM \"%s\"", *t);
		rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
		if (rc == SQLITE_OK)
			rc = sqlite3_step(st);
		if (rc != SQLITE_ROW) {
			sqlite3_finalize(st);
			return -EBADMSG;
		}
		snprintf(m->t[m->n].name, sizeof(m->t[m->n].name), "%s", *t);
		m->t[m->n].w = sqlite3_column_int64(st, 0); /* NULL (empty) reads as 0 */
		m->n++;
		sqlite3_finalize(st);
	}
	return 0;
}

int64_t ckpt_mark_of(const struct ckpt_marks *m, const char *name)
{
	for (size_t i = 0; i < m->n; i++)
		if (!strcmp(m->t[i].name, name))
			return m->t[i].w;
	return 0;
}

int ckpt_marks_format(const struct ckpt_marks *m, char *buf, size_t len)
{
	size_t o = 0;

	if (len)
		buf[0] = '\0';
	for (size_t i = 0; i < m->n; i++) {
		int n = snprintf(buf + o, len - o, "%s%s:%" PRId64, i ? "," : "", m->t[i].name,
				 m->t[i].w);

		if (n < 0 || (size_t)n >= len - o)
			return -ENOSPC;
		o += (size_t)n;
	}
	return (int)o;
}

int ckpt_marks_parse(const char *s, struct ckpt_marks *m)
{
	memset(m, 0, sizeof(*m));
	while (*s) {
		size_t nl = strspn(s, "abcdefghijklmnopqrstuvwxyz_");
		char *end;
		unsigned long long w;

		if (!nl || nl >= CKPT_TABLE_NAME_MAX || s[nl] != ':' || m->n == CKPT_MAX_TABLES)
			return -EINVAL;
		memcpy(m->t[m->n].name, s, nl);
		m->t[m->n].name[nl] = '\0';
		s += nl + 1;
		if (*s < '0' || *s > '9')
			return -EINVAL;
		errno = 0;
		w = strtoull(s, &end, 10);
		if (errno || w > INT64_MAX || (*end && *end != ','))
			return -EINVAL;
		for (size_t i = 0; i < m->n; i++)
			if (!strcmp(m->t[i].name, m->t[m->n].name))
				return -EINVAL; /* named twice */
		m->t[m->n++].w = (int64_t)w;
		s = *end ? end + 1 : end;
		if (*end && !*s)
			return -EINVAL; /* trailing comma */
	}
	return 0;
}

/* ---- hashing ---- */

/*
 * The digest is fed through a buffer: SHA-256 costs about as much per call as per 100 bytes,
 * and a row is a dozen small fields.
 */
#define FEED_SIZE (16 << 10)

struct feed {
	EVP_MD_CTX *md;
	size_t n;
	unsigned char buf[FEED_SIZE];
};

static void feed_flush(struct feed *f)
{
	if (f->n)
		EVP_DigestUpdate(f->md, f->buf, f->n);
	f->n = 0;
}

static void feed(struct feed *f, const void *p, size_t n)
{
	if (f->n + n > sizeof(f->buf)) {
		feed_flush(f);
		if (n > sizeof(f->buf)) {
			EVP_DigestUpdate(f->md, p, n);
			return;
		}
	}
	memcpy(f->buf + f->n, p, n);
	f->n += n;
}

bool ckpt_buf_put(struct ckpt_buf *b, const void *p, size_t n)
{
	if (b->n + n > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		unsigned char *nv;

		while (cap < b->n + n)
			cap *= 2;
		nv = realloc(b->v, cap);
		if (!nv)
			return false;
		b->v = nv;
		b->cap = cap;
	}
	memcpy(b->v + b->n, p, n);
	b->n += n;
	return true;
}

static bool put_u64(struct ckpt_buf *b, char tag, uint64_t v)
{
	unsigned char x[9] = { (unsigned char)tag };

	for (int i = 8; i >= 1; i--, v >>= 8)
		x[i] = (unsigned char)v;
	return ckpt_buf_put(b, x, sizeof(x));
}

static bool put_bytes(struct ckpt_buf *b, char tag, const void *p, size_t n)
{
	unsigned char x[5] = { (unsigned char)tag, (unsigned char)(n >> 24),
			       (unsigned char)(n >> 16), (unsigned char)(n >> 8), (unsigned char)n };

	return ckpt_buf_put(b, x, sizeof(x)) && (!n || ckpt_buf_put(b, p, n));
}

bool ckpt_buf_int(struct ckpt_buf *b, int64_t v)
{
	unsigned char x[9];

	return ckpt_buf_put(b, x, ckpt_narrow_int(x, v));
}

bool ckpt_buf_null(struct ckpt_buf *b)
{
	return ckpt_buf_put(b, "n", 1);
}

bool ckpt_buf_text(struct ckpt_buf *b, const char *s, size_t n)
{
	return put_bytes(b, 't', s, n);
}

bool ckpt_buf_blob(struct ckpt_buf *b, const void *p, size_t n)
{
	return put_bytes(b, 'b', p, n);
}

/*
 * One row: 'R', then each column (the rowid first) as a type tag and its value; integers as
 * 'i' and 8 bytes ("hash=", "chain="), or NARROW ("chain2=").
 */
static bool row_serialise(struct ckpt_buf *r, sqlite3_stmt *st, bool narrow)
{
	int n = sqlite3_column_count(st);
	bool ok = true;

	r->n = 0;
	ok = ckpt_buf_put(r, "R", 1);
	for (int i = 0; ok && i < n; i++) {
		double d;
		uint64_t bits;
		int len;

		switch (sqlite3_column_type(st, i)) {
		case SQLITE_INTEGER:
			ok = narrow ? ckpt_buf_int(r, sqlite3_column_int64(st, i))
				    : put_u64(r, 'i', (uint64_t)sqlite3_column_int64(st, i));
			break;
		case SQLITE_FLOAT:
			d = sqlite3_column_double(st, i);
			memcpy(&bits, &d, sizeof(bits));
			ok = put_u64(r, 'f', bits);
			break;
		case SQLITE_TEXT:
			len = sqlite3_column_bytes(st, i);
			ok = put_bytes(r, 't', sqlite3_column_text(st, i), len > 0 ? (size_t)len : 0);
			break;
		case SQLITE_BLOB:
			len = sqlite3_column_bytes(st, i);
			ok = put_bytes(r, 'b', sqlite3_column_blob(st, i), len > 0 ? (size_t)len : 0);
			break;
		default:
			ok = ckpt_buf_null(r);
			break;
		}
	}
	return ok;
}

struct ids {
	int64_t *v;
	size_t n;
};

/* TBL's rowids at or below HI listed in ckpt_late with an interval after K, ascending. */
static int late_after(sqlite3 *db, const char *tbl, int64_t k, int64_t hi, struct ids *out)
{
	sqlite3_stmt *st = NULL;
	size_t cap = 0;
	int rc;

	out->v = NULL;
	out->n = 0;
	rc = sqlite3_prepare_v2(db,
				"SELECT rid FROM ckpt_late WHERE tbl = ?1 AND ck > ?2 AND rid <= ?3"
				" ORDER BY rid",
				-1, &st, NULL);
	if (rc != SQLITE_OK)
		return -EBADMSG;
	sqlite3_bind_text(st, 1, tbl, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, k);
	sqlite3_bind_int64(st, 3, hi);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (out->n == cap) {
			int64_t *nv = realloc(out->v, (cap = cap ? cap * 2 : 64) * sizeof(*nv));

			if (!nv) {
				sqlite3_finalize(st);
				return -ENOMEM;
			}
			out->v = nv;
		}
		out->v[out->n++] = sqlite3_column_int64(st, 0);
	}
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : -EBADMSG;
}

/* Whether DB has a ckpt_late table (schema version 2 on). */
static bool has_late_table(sqlite3 *db)
{
	sqlite3_stmt *st = NULL;
	bool yes = false;

	if (sqlite3_prepare_v2(db, "SELECT 1 FROM sqlite_schema WHERE type = 'table' AND "
				   "name = 'ckpt_late'", -1, &st, NULL) == SQLITE_OK)
		yes = sqlite3_step(st) == SQLITE_ROW;
	sqlite3_finalize(st);
	return yes;
}

/* One checkpoint being computed by ckpt_hash_many(). */
struct pass {
	int64_t k, mark; /* the mark of the table being read; -1: not covered */
	struct feed *f;
	struct ids skip; /* rowids at or below the mark committed after the cut */
	size_t si;
	uint64_t rows;
};

/* Each row of TBL, in rowid order, into every checkpoint that covers it. */
static int hash_table(sqlite3 *db, const char *tbl, struct pass *p, size_t n, bool late_table,
		      struct ckpt_buf *row)
{
	sqlite3_stmt *st = NULL;
	int64_t top = -1;
	char sql[128];
	int rc, err = 0;

	for (size_t i = 0; i < n; i++) {
		p[i].si = 0;
		p[i].skip.n = 0;
		if (p[i].mark < 0)
			continue;
		top = p[i].mark > top ? p[i].mark : top;
		feed(p[i].f, "T", 1);
		feed(p[i].f, tbl, strlen(tbl) + 1);
		if (late_table) {
			free(p[i].skip.v);
			err = late_after(db, tbl, p[i].k, p[i].mark, &p[i].skip);
			if (err)
				return err;
		}
	}
	if (top < 0)
		return 0;
	snprintf(sql, sizeof(sql), "SELECT rowid, * FROM \"%s\" WHERE rowid <= ?1 ORDER BY rowid",
		 tbl);
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		return -EBADMSG;
	sqlite3_bind_int64(st, 1, top);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		int64_t id = sqlite3_column_int64(st, 0);

		row->n = 0;
		for (size_t i = 0; i < n; i++) {
			struct pass *q = &p[i];

			if (id > q->mark)
				continue;
			while (q->si < q->skip.n && q->skip.v[q->si] < id)
				q->si++;
			if (q->si < q->skip.n && q->skip.v[q->si] == id)
				continue; /* committed after this cut */
			if (!row->n && !row_serialise(row, st, false)) {
				err = -ENOMEM;
				goto cleanup;
			}
			feed(q->f, row->v, row->n);
			q->rows++;
		}
	}
	if (rc != SQLITE_DONE)
		err = -EBADMSG;
cleanup:
	sqlite3_finalize(st);
	return err;
}

int ckpt_hash_many(sqlite3 *db, size_t n, const int64_t *k, const struct ckpt_marks *marks,
		   uint8_t (*hash)[CKPT_HASH_LEN], uint64_t *rows)
{
	struct pass *p = calloc(n ? n : 1, sizeof(*p));
	bool late_table = has_late_table(db);
	struct ckpt_buf row = { 0 };
	int err = 0;

	if (!p)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		for (size_t t = 0; t < marks[i].n; t++)
			if (!known_table(marks[i].t[t].name))
				err = -EINVAL;
		p[i].k = k[i];
		p[i].f = malloc(sizeof(*p[i].f));
		if (p[i].f) {
			p[i].f->n = 0;
			p[i].f->md = EVP_MD_CTX_new();
		}
		if (!p[i].f || !p[i].f->md)
			err = -ENOMEM;
		else
			EVP_DigestInit_ex(p[i].f->md, EVP_sha256(), NULL);
	}
	for (const char *const *t = ckpt_tables; !err && *t; t++) {
		for (size_t i = 0; i < n; i++) {
			bool named = false;

			for (size_t j = 0; j < marks[i].n; j++)
				named |= !strcmp(marks[i].t[j].name, *t);
			p[i].mark = named ? ckpt_mark_of(&marks[i], *t) : -1;
		}
		err = hash_table(db, *t, p, n, late_table, &row);
	}
	for (size_t i = 0; i < n; i++) {
		unsigned len = 0;

		if (!err) {
			feed_flush(p[i].f);
			EVP_DigestFinal_ex(p[i].f->md, hash[i], &len);
			rows[i] = p[i].rows;
		}
		if (p[i].f)
			EVP_MD_CTX_free(p[i].f->md);
		free(p[i].f);
		free(p[i].skip.v);
	}
	free(row.v);
	free(p);
	return err;
}

int ckpt_hash(sqlite3 *db, int64_t k, const struct ckpt_marks *marks,
	      uint8_t hash[CKPT_HASH_LEN], uint64_t *rows)
{
	return ckpt_hash_many(db, 1, &k, marks, (uint8_t(*)[CKPT_HASH_LEN])hash, rows);
}

/* ---- the chained hash ---- */

void ckpt_chain_step(const uint8_t prev[CKPT_HASH_LEN], const uint8_t digest[CKPT_HASH_LEN],
		     uint8_t out[CKPT_HASH_LEN])
{
	unsigned char in[2 * CKPT_HASH_LEN];
	unsigned len = 0;

	memcpy(in, prev, CKPT_HASH_LEN);
	memcpy(in + CKPT_HASH_LEN, digest, CKPT_HASH_LEN);
	EVP_Digest(in, sizeof(in), out, &len, EVP_sha256(), NULL);
}

/* ckpt_late's listings of TBL, by rowid: the interval each row was committed in. */
struct late_list {
	struct {
		int64_t rid, ck;
	} *v;
	size_t n;
};

static int late_all(sqlite3 *db, const char *tbl, struct late_list *out)
{
	sqlite3_stmt *st = NULL;
	size_t cap = 0;
	int rc;

	out->n = 0;
	if (sqlite3_prepare_v2(db, "SELECT rid, ck FROM ckpt_late WHERE tbl = ?1 ORDER BY rid, ck",
			       -1, &st, NULL) != SQLITE_OK)
		return -EBADMSG;
	sqlite3_bind_text(st, 1, tbl, -1, SQLITE_STATIC);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (out->n == cap) {
			size_t ncap = cap ? cap * 2 : 64;
			void *nv = realloc(out->v, ncap * sizeof(*out->v));

			if (!nv) {
				sqlite3_finalize(st);
				return -ENOMEM;
			}
			out->v = nv;
			cap = ncap;
		}
		out->v[out->n].rid = sqlite3_column_int64(st, 0);
		out->v[out->n].ck = sqlite3_column_int64(st, 1);
		out->n++;
	}
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : -EBADMSG;
}

/*
 * The rows of TBL into the interval each belongs to: the one ckpt_late lists it in (the
 * first listing), else the first checkpoint whose mark is at or above its rowid. MARK[i] is
 * checkpoint i + 1's mark of TBL, -1 when it does not name TBL.
 */
static int chain_table(sqlite3 *db, const char *tbl, const int64_t *mark, size_t n,
		       struct feed **f, uint64_t *rows, bool late_table, bool narrow,
		       struct ckpt_buf *row)
{
	struct late_list late = { 0 };
	sqlite3_stmt *st = NULL;
	int64_t top = -1;
	size_t li = 0, j = 0;
	char sql[128];
	int rc, err = 0;

	for (size_t i = 0; i < n; i++) {
		if (mark[i] < 0)
			continue;
		top = mark[i] > top ? mark[i] : top;
		feed(f[i], "T", 1);
		feed(f[i], tbl, strlen(tbl) + 1);
	}
	if (top < 0)
		return 0;
	if (late_table) {
		err = late_all(db, tbl, &late);
		if (err)
			goto cleanup;
	}
	snprintf(sql, sizeof(sql), "SELECT rowid, * FROM \"%s\" WHERE rowid <= ?1 ORDER BY rowid",
		 tbl);
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
		err = -EBADMSG;
		goto cleanup;
	}
	sqlite3_bind_int64(st, 1, top);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		int64_t id = sqlite3_column_int64(st, 0);
		size_t k = n;

		while (li < late.n && late.v[li].rid < id)
			li++;
		if (li < late.n && late.v[li].rid == id && late.v[li].ck >= 1) {
			if ((uint64_t)late.v[li].ck <= n)
				k = (size_t)late.v[li].ck - 1;
		} else {
			while (j < n && (mark[j] < 0 || id > mark[j]))
				j++;
			k = j;
		}
		if (k >= n || mark[k] < 0)
			continue; /* not covered by any of the checkpoints */
		if (!row_serialise(row, st, narrow)) {
			err = -ENOMEM;
			goto cleanup;
		}
		feed(f[k], row->v, row->n);
		rows[k]++;
	}
	if (rc != SQLITE_DONE)
		err = -EBADMSG;
cleanup:
	sqlite3_finalize(st);
	free(late.v);
	return err;
}

int ckpt_chain_many(sqlite3 *db, size_t n, const struct ckpt_marks *marks, bool narrow,
		    uint8_t (*hash)[CKPT_HASH_LEN], uint64_t *rows)
{
	struct feed **f = calloc(n ? n : 1, sizeof(*f));
	int64_t *mark = calloc(n ? n : 1, sizeof(*mark));
	uint64_t *in = calloc(n ? n : 1, sizeof(*in));
	bool late_table = has_late_table(db);
	struct ckpt_buf row = { 0 };
	int err = f && mark && in ? 0 : -ENOMEM;

	for (size_t i = 0; !err && i < n; i++) {
		for (size_t t = 0; t < marks[i].n; t++)
			if (!known_table(marks[i].t[t].name))
				err = -EINVAL;
		f[i] = malloc(sizeof(*f[i]));
		if (f[i]) {
			f[i]->n = 0;
			f[i]->md = EVP_MD_CTX_new();
		}
		if (!f[i] || !f[i]->md)
			err = -ENOMEM;
		else
			EVP_DigestInit_ex(f[i]->md, EVP_sha256(), NULL);
	}
	for (const char *const *t = ckpt_tables; !err && *t; t++) {
		for (size_t i = 0; i < n; i++) {
			bool named = false;

			for (size_t j = 0; j < marks[i].n; j++)
				named |= !strcmp(marks[i].t[j].name, *t);
			mark[i] = named ? ckpt_mark_of(&marks[i], *t) : -1;
		}
		err = chain_table(db, *t, mark, n, f, in, late_table, narrow, &row);
	}
	uint8_t prev[CKPT_HASH_LEN] = { 0 }, d[CKPT_HASH_LEN];
	uint64_t total = 0;

	for (size_t i = 0; i < n; i++) {
		unsigned len = 0;

		if (!err) {
			feed_flush(f[i]);
			EVP_DigestFinal_ex(f[i]->md, d, &len);
			ckpt_chain_step(prev, d, hash[i]);
			memcpy(prev, hash[i], CKPT_HASH_LEN);
			total += in[i];
			rows[i] = total;
		}
		if (f && f[i])
			EVP_MD_CTX_free(f[i]->md);
		if (f)
			free(f[i]);
	}
	free(row.v);
	free(f);
	free(mark);
	free(in);
	return err;
}
