// SPDX-License-Identifier: MIT
/*
 * Shipping one sealed segment, exactly once:
 *
 *   1. a fresh random attempt id; every row sent carries (host, segment_id, attempt);
 *   2. the rows the evidence reader gives (conn with the end the segment knows, conn_end,
 *      gap, run, the process lives: life, life_exit, cgroup, and the checkpoint and seal
 *      records: anchor) go out as RowBinary INSERTs of about --chunk bytes each;
 *   3. the server counts the rows of this attempt, table by table; they must equal what was
 *      sent (a lost, cut or doubled INSERT shows here);
 *   4. only then the marker: one row in `segments` with the same key, the file's SHA-256,
 *      its meta and the counts.
 *
 * Readers (query --from, docs/fleet.md) see a row only when `segments` holds its key, taking
 * the smallest attempt when a segment was marked twice. So a ship killed before step 4 leaves
 * rows no one sees, the next run sends the segment again under a new attempt, and a segment is
 * never visible twice or in part. Nothing here is retried within one attempt: a failed INSERT
 * may or may not have been committed, so the whole segment starts over under a new one.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "ch_sql.h"
#include "log.h"
#include "segment.h"
#include "ship.h"
#include "store_read.h"
#include "timespec.h"

struct sender {
	struct ship *s;
	const struct ch_table *t;
	struct ch_key key;
	struct ch_buf buf;
	char *insert_sql;
	uint64_t rows; /* of this table */
	int err;
};

static uint64_t new_attempt(void)
{
	uint64_t v = 0;

	while (!v) {
		if (getrandom(&v, sizeof(v), 0) != (ssize_t)sizeof(v))
			v = (uint64_t)ts_now_ns() ^ ((uint64_t)getpid() << 32);
	}
	return v;
}

static int flush(struct sender *x)
{
	struct ship *s = x->s;
	int err;

	if (!x->buf.n)
		return 0;
	if (ship_stopping())
		return -ECANCELED;
	err = ch_insert(s->ch, x->insert_sql, x->buf.p, x->buf.n, s->err, sizeof(s->err));
	if (!err) {
		s->st.bytes += x->buf.n;
		ship_progress(s, false);
	}
	x->buf.n = 0;
	return err;
}

/* Appends one row; sends the chunk once it is full. */
static int add_row(struct sender *x, const void *row)
{
	int err = ch_put_key(&x->buf, &x->key) ?: ch_put_row(&x->buf, x->t, row);

	if (err)
		return err;
	x->rows++;
	x->s->st.rows++;
	if (x->buf.n >= x->s->o->chunk)
		return flush(x);
	return 0;
}

static int on_conn(const struct sr_conn *r, void *ctx)
{
	return add_row(ctx, r);
}

static int on_end(const struct sr_end *r, void *ctx)
{
	return add_row(ctx, r);
}

static int on_gap(const struct sr_gap *r, void *ctx)
{
	return add_row(ctx, r);
}

static int on_run(const struct sr_run *r, void *ctx)
{
	return add_row(ctx, r);
}

static int on_life(const struct sr_life *r, void *ctx)
{
	return add_row(ctx, r);
}

static int on_life_exit(const struct sr_life_exit *r, void *ctx)
{
	return add_row(ctx, r);
}

static int on_cgroup(const struct sr_cgroup *r, void *ctx)
{
	return add_row(ctx, r);
}

static int on_anchor(const struct sr_anchor *r, void *ctx)
{
	return add_row(ctx, r);
}

static int begin_table(struct sender *x, const struct ch_table *t)
{
	sqlite3_str *q = sqlite3_str_new(NULL);

	x->t = t;
	x->rows = 0;
	x->buf.n = 0;
	sqlite3_free(x->insert_sql);
	sqlite3_str_appendf(q, "INSERT INTO %s.%s (", ch_database(x->s->ch), t->name);
	ch_sql_columns(q, t);
	sqlite3_str_appendall(q, ") FORMAT RowBinary");
	x->insert_sql = ch_sql_finish(q);
	return x->insert_sql ? 0 : -ENOMEM;
}

/* Reads every row of one table through the reader and sends it. */
static int send_table(struct sender *x, struct sr_segment *seg, const struct ch_table *t,
		      uint64_t *count)
{
	struct sr_conn_filter all;
	int err = begin_table(x, t);

	sr_conn_filter_init(&all);
	if (!err) {
		if (t == &ch_conn_table)
			err = sr_conns(seg, &all, on_conn, x);
		else if (t == &ch_end_table)
			err = sr_ends(seg, SR_NO_TIME, SR_TIME_MAX, on_end, x);
		else if (t == &ch_gap_table)
			err = sr_gaps(seg, SR_NO_TIME, SR_TIME_MAX, on_gap, x);
		else if (t == &ch_run_table)
			err = sr_runs(seg, on_run, x);
		else if (t == &ch_life_table)
			err = sr_lives(seg, on_life, x);
		else if (t == &ch_life_exit_table)
			err = sr_life_exits(seg, on_life_exit, x);
		else if (t == &ch_cgroup_table)
			err = sr_cgroups(seg, on_cgroup, x);
		else
			err = sr_anchors(seg, on_anchor, x);
	}
	if (err == -EBADMSG)
		snprintf(x->s->err, sizeof(x->s->err), "reading %s rows: %s", t->name,
			 sr_errmsg(seg));
	if (!err)
		err = flush(x);
	*count = x->rows;
	return err;
}

/* The server's count of this attempt's rows in each table; must equal what was sent. */
static int check_counts(struct ship *s, const struct ch_key *k, const uint64_t *sent)
{
	const struct ch_table *const *tables = ch_data_tables;
	sqlite3_str *q = sqlite3_str_new(NULL);
	struct ch_buf answer = { 0 };
	struct ch_reader r;
	char *sql;
	int err;

	sqlite3_str_appendall(q, "SELECT ");
	for (size_t i = 0; i < CH_N_DATA_TABLES; i++) {
		sqlite3_str_appendf(q, "%s(SELECT toUInt64(count()) FROM %s.%s WHERE host = ",
				    i ? ", " : "", ch_database(s->ch), tables[i]->name);
		ch_sql_string(q, k->host, strlen(k->host));
		sqlite3_str_appendf(q, " AND segment_id = %" PRIu64 " AND attempt = %" PRIu64 ")",
				    k->segment_id, k->attempt);
	}
	sqlite3_str_appendall(q, " FORMAT RowBinary");
	sql = ch_sql_finish(q);
	if (!sql)
		return -ENOMEM;
	err = ch_query(s->ch, sql, &answer, s->err, sizeof(s->err));
	sqlite3_free(sql);
	r = (struct ch_reader){ answer.p, answer.p + answer.n };
	for (size_t i = 0; !err && i < CH_N_DATA_TABLES; i++) {
		uint64_t got;

		if (ch_get_u64(&r, &got)) {
			snprintf(s->err, sizeof(s->err), "%s: malformed answer to a row count",
				 ch_url(s->ch));
			err = -EBADMSG;
		} else if (got != sent[i]) {
			snprintf(s->err, sizeof(s->err),
				 "%s: the server holds %" PRIu64 " %s rows of this attempt, %" PRIu64
				 " were sent; not marked shipped",
				 ch_url(s->ch), got, tables[i]->name, sent[i]);
			err = -EAGAIN;
		}
	}
	ch_buf_free(&answer);
	return err;
}

static int send_marker(struct ship *s, const struct ch_key *k, const struct ch_segment_row *m)
{
	struct sender x = { .s = s, .key = *k };
	int err = begin_table(&x, &ch_segments_table);

	if (!err)
		err = ch_put_key(&x.buf, k) ?: ch_put_row(&x.buf, &ch_segments_table, m);
	if (!err)
		err = ch_insert(s->ch, x.insert_sql, x.buf.p, x.buf.n, s->err, sizeof(s->err));
	sqlite3_free(x.insert_sql);
	ch_buf_free(&x.buf);
	return err;
}

/* Whether segments holds (host, seq) already: for a segment written under an older name. */
static int marked(struct ship *s, const char *host, uint32_t seq, bool *yes)
{
	sqlite3_str *q = sqlite3_str_new(NULL);
	struct ch_buf answer = { 0 };
	struct ch_reader r;
	uint64_t n = 0;
	char *sql;
	int err;

	sqlite3_str_appendf(q, "SELECT toUInt64(count()) FROM %s.segments WHERE host = ",
			    ch_database(s->ch));
	ch_sql_string(q, host, strlen(host));
	sqlite3_str_appendf(q, " AND segment_id = %" PRIu32 " FORMAT RowBinary", seq);
	sql = ch_sql_finish(q);
	if (!sql)
		return -ENOMEM;
	err = ch_query(s->ch, sql, &answer, s->err, sizeof(s->err));
	sqlite3_free(sql);
	r = (struct ch_reader){ answer.p, answer.p + answer.n };
	if (!err && ch_get_u64(&r, &n)) {
		snprintf(s->err, sizeof(s->err), "%s: malformed answer to a row count",
			 ch_url(s->ch));
		err = -EBADMSG;
	}
	*yes = n > 0;
	ch_buf_free(&answer);
	return err;
}

static void fill_marker(struct ch_segment_row *m, const struct sr_meta *meta, const char *path,
			const char *sha256, const uint64_t *counts)
{
	const char *base = strrchr(path, '/');

	memset(m, 0, sizeof(*m));
	snprintf(m->name, sizeof(m->name), "%s", base ? base + 1 : path);
	snprintf(m->sha256, sizeof(m->sha256), "%s", sha256);
	snprintf(m->prev_sha256, sizeof(m->prev_sha256), "%s", meta->prev_sha256);
	snprintf(m->boot_id, sizeof(m->boot_id), "%s", meta->boot_id);
	snprintf(m->kernel, sizeof(m->kernel), "%s", meta->kernel);
	snprintf(m->recorder_version, sizeof(m->recorder_version), "%s", meta->recorder_version);
	m->schema_version = (uint32_t)meta->schema_version;
	m->first_ns = meta->first_ns;
	m->last_ns = meta->last_ns;
	m->conn_rows = counts[0];
	m->end_rows = counts[1];
	m->gap_rows = counts[2];
	m->run_rows = counts[3];
	m->life_rows = counts[4];
	m->life_exit_rows = counts[5];
	m->cgroup_rows = counts[6];
	m->anchor_rows = counts[7];
	m->shipped_ns = ts_now_ns();
	snprintf(m->shipper, sizeof(m->shipper), "connrec %s", CONNREC_VERSION);
}

int ship_segment(struct ship *s, const char *path, uint32_t seq, const char *host)
{
	struct sr_open_opts oo = { 0 };
	struct sr_segment *seg = NULL;
	struct sender x = { .s = s };
	struct ch_segment_row marker;
	const struct sr_meta *meta;
	uint64_t counts[CH_N_DATA_TABLES] = { 0 };
	char sha256[65];
	int err;

	err = seg_hash_file(path, sha256);
	if (err) {
		snprintf(s->err, sizeof(s->err), "%s: %s", path, strerror(-err));
		return err;
	}
	err = sr_open(path, &oo, &seg, s->err, sizeof(s->err));
	if (err)
		return err;
	meta = sr_meta(seg);
	if (meta->segment_id != (int64_t)seq || !meta->sealed) {
		snprintf(s->err, sizeof(s->err), "%s: not sealed segment %" PRIu32, path, seq);
		err = -EPROTO;
		goto cleanup;
	}
	if (strcmp(meta->host, host)) {
		bool yes = false;

		err = marked(s, meta->host, seq, &yes);
		if (err || yes) {
			err = err ? err : SHIP_ALREADY_THERE;
			goto cleanup;
		}
	}
	snprintf(x.key.host, sizeof(x.key.host), "%s", meta->host);
	x.key.segment_id = seq;
	x.key.attempt = new_attempt();
	x.key.segment_ns = meta->created_ns;
	for (size_t i = 0; i < CH_N_DATA_TABLES && !err; i++)
		err = send_table(&x, seg, ch_data_tables[i], &counts[i]);
	if (!err)
		err = check_counts(s, &x.key, counts);
	if (!err) {
		fill_marker(&marker, meta, path, sha256, counts);
		err = send_marker(s, &x.key, &marker);
	}
	if (err == -ECANCELED)
		snprintf(s->err, sizeof(s->err), "interrupted");
	/* Rows count once their segment is marked; these were read for nothing. */
	for (size_t i = 0; err && i < CH_N_DATA_TABLES; i++)
		s->st.rows -= counts[i];
cleanup:
	sqlite3_free(x.insert_sql);
	ch_buf_free(&x.buf);
	sr_close(seg);
	return err;
}
