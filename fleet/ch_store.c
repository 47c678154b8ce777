// SPDX-License-Identifier: MIT
/*
 * query --from: the shipped segments and their rows, read back with RowBinary SELECTs. Every
 * statement selects its segments twice: per host by ranges of segment ids and by the month
 * partitions they lie in (so the server reads only their parts of the sorting key), and by
 * the chosen attempts (so rows of an interrupted ship never count). Each row that comes back
 * is checked against the segment list in C as well: the server is not trusted to get it right.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ch_sql.h"
#include "ch_store.h"

/* " AND (...)" for the wanted segments and their chosen attempts. */
static void segments_sql(sqlite3_str *q, const char *db, const struct ch_seg *segs, size_t n,
			 const bool *wanted)
{
	int64_t lo = INT64_MAX, hi = INT64_MIN;
	bool any = false;

	sqlite3_str_appendall(q, " AND (");
	for (size_t i = 0; i < n;) {
		size_t j = i;

		if (!wanted[i]) {
			i++;
			continue;
		}
		while (j + 1 < n && wanted[j + 1] && !strcmp(segs[j + 1].key.host, segs[i].key.host))
			j++;
		sqlite3_str_appendall(q, any ? " OR (host = " : "(host = ");
		ch_sql_string(q, segs[i].key.host, strlen(segs[i].key.host));
		sqlite3_str_appendf(q, " AND segment_id BETWEEN %" PRIu64 " AND %" PRIu64 ")",
				    segs[i].key.segment_id, segs[j].key.segment_id);
		for (size_t k = i; k <= j; k++) {
			lo = segs[k].key.segment_ns < lo ? segs[k].key.segment_ns : lo;
			hi = segs[k].key.segment_ns > hi ? segs[k].key.segment_ns : hi;
		}
		any = true;
		i = j + 1;
	}
	if (!any) {
		sqlite3_str_appendall(q, "0)");
		return;
	}
	sqlite3_str_appendf(q,
			    ") AND segment_ns BETWEEN %" PRId64 " AND %" PRId64
			    " AND (host, segment_id, attempt) IN (SELECT host, segment_id,"
			    " min(attempt) FROM %s.segments GROUP BY host, segment_id)",
			    lo, hi, db);
}

static int seg_cmp(const struct ch_seg *s, const char *host, uint64_t id)
{
	int c = strcmp(s->key.host, host);

	if (c)
		return c;
	return s->key.segment_id < id ? -1 : s->key.segment_id > id;
}

/* The index of (host, segment_id) in the sorted segs, or n. */
static size_t find_seg(const struct ch_seg *segs, size_t n, const char *host, uint64_t id)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = seg_cmp(&segs[mid], host, id);

		if (!c)
			return mid;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return n;
}

static int malformed(struct ch_server *ch, const char *what, char *err, size_t errlen)
{
	snprintf(err, errlen, "%s: malformed answer (%s)", ch_url(ch), what);
	return -EBADMSG;
}

int ch_list_segments(struct ch_server *ch, int64_t since, struct ch_seg **out, size_t *n,
		     char *err, size_t errlen)
{
	const struct ch_table *t = &ch_segments_table;
	const char *db = ch_database(ch);
	sqlite3_str *q = sqlite3_str_new(NULL);
	struct ch_buf answer = { 0 };
	struct ch_seg *v = NULL;
	struct ch_reader r;
	uint64_t max;
	size_t cnt = 0;
	char *sql;
	int ret;

	*out = NULL;
	*n = 0;
	sqlite3_str_appendall(q, "SELECT host, segment_id, min(attempt), argMin(segment_ns, attempt)");
	for (size_t i = 0; i < t->n_cols; i++)
		sqlite3_str_appendf(q, ", argMin(%s, attempt)", t->cols[i].name);
	sqlite3_str_appendf(q, " FROM %s.segments GROUP BY host, segment_id", db);
	if (since != SR_NO_TIME)
		/* As the planner: a segment without a known end is never skipped for its end. */
		sqlite3_str_appendf(q,
				    " HAVING argMin(last_ns, attempt) >= %" PRId64
				    " OR argMin(last_ns, attempt) = %" PRId64
				    " OR (host, segment_id) IN (SELECT host, min(segment_id)"
				    " FROM %s.segments GROUP BY host)",
				    since, (int64_t)SR_NO_TIME, db);
	sqlite3_str_appendall(q, " ORDER BY host, segment_id FORMAT RowBinary");
	sql = ch_sql_finish(q);
	if (!sql)
		return -ENOMEM;
	/* A row takes some 900 bytes here: a smaller cap than for rows, whatever the server sends. */
	max = ch_set_max_answer(ch, CH_MAX_SEGMENT_LIST);
	ret = ch_query(ch, sql, &answer, err, errlen);
	ch_set_max_answer(ch, max);
	sqlite3_free(sql);
	r = (struct ch_reader){ answer.p, answer.p + answer.n };
	while (!ret && r.p < r.end) {
		struct ch_seg *nv = realloc(v, (cnt + 1) * sizeof(*v));

		if (!nv) {
			ret = -ENOMEM;
			break;
		}
		v = nv;
		if (ch_get_key(&r, &v[cnt].key) || ch_get_row(&r, t, &v[cnt].row)) {
			ret = malformed(ch, "segment list", err, errlen);
			break;
		}
		/* Sorted and unique, or the lookups below would miss. */
		if (cnt && seg_cmp(&v[cnt - 1], v[cnt].key.host, v[cnt].key.segment_id) >= 0) {
			ret = malformed(ch, "segment list out of order", err, errlen);
			break;
		}
		cnt++;
	}
	ch_buf_free(&answer);
	if (ret) {
		free(v);
		return ret;
	}
	*out = v;
	*n = cnt;
	return 0;
}

int ch_fetch(struct ch_server *ch, const struct ch_seg *segs, size_t n, const bool *wanted,
	     const struct ch_table *t, const char *where, const char *order, ch_row_fn cb,
	     void *ctx, char *err, size_t errlen)
{
	sqlite3_str *q = sqlite3_str_new(NULL);
	struct ch_buf answer = { 0 };
	struct ch_reader r;
	void *row = malloc(t->row_size);
	char *sql;
	int ret;

	if (!row)
		return -ENOMEM;
	sqlite3_str_appendall(q, "SELECT ");
	ch_sql_columns(q, t);
	sqlite3_str_appendf(q, " FROM %s.%s WHERE 1", ch_database(ch), t->name);
	segments_sql(q, ch_database(ch), segs, n, wanted);
	sqlite3_str_appendf(q, "%s ORDER BY host, segment_id, %s FORMAT RowBinary", where, order);
	sql = ch_sql_finish(q);
	if (!sql) {
		free(row);
		return -ENOMEM;
	}
	ret = ch_query(ch, sql, &answer, err, errlen);
	sqlite3_free(sql);
	r = (struct ch_reader){ answer.p, answer.p + answer.n };
	while (!ret && r.p < r.end) {
		struct ch_key k;
		size_t i;

		if (ch_get_key(&r, &k) || ch_get_row(&r, t, row)) {
			ret = malformed(ch, t->name, err, errlen);
			break;
		}
		i = find_seg(segs, n, k.host, k.segment_id);
		if (i == n || !wanted[i] || segs[i].key.attempt != k.attempt)
			continue; /* not asked for: the server is not trusted to filter */
		ret = cb(i, row, ctx);
	}
	ch_buf_free(&answer);
	free(row);
	return ret;
}

int ch_sql_waiting_ids(struct ch_server *ch, const struct ch_seg *segs, size_t n,
		       const bool *wanted, const struct sr_conn_filter *f, char **out)
{
	sqlite3_str *q = sqlite3_str_new(NULL);

	sqlite3_str_appendf(q, " AND (host, id) IN (SELECT host, id FROM %s.conn WHERE 1",
			    ch_database(ch));
	segments_sql(q, ch_database(ch), segs, n, wanted);
	if (ch_sql_conn_filter(q, f)) {
		sqlite3_free(sqlite3_str_finish(q));
		return -ENOMEM;
	}
	sqlite3_str_appendall(q, " AND end_ns IS NULL)");
	*out = ch_sql_finish(q);
	return *out ? 0 : -ENOMEM;
}
