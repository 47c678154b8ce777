// SPDX-License-Identifier: MIT
/*
 * query --from URL: the segments shipped to a ClickHouse server, as slots. The planner sees
 * them as it sees local files (host, segment id, creation time, time range), and the lifetimes
 * and events code reads their rows through slot.c with the same calls. The difference is the
 * round trip: the first call of a kind (conn rows for a filter, ends, gaps, runs) fetches that
 * kind for every segment the plan reads, in one statement, and later calls are served from
 * memory, per segment. The filters go to the server as SQL (fleet/ch_sql.c, the same
 * conditions SQLite gets locally), and C checks every row again as it does for local rows.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ch_sql.h"
#include "ch_store.h"
#include "log.h"
#include "query.h"
#include "remote.h"

#define REMOTE_DEFAULT_TIMEOUT_NS (300LL * 1000000000)

/* Rows of one kind for one segment: an array of the reader's structs. */
struct rows {
	void *v;
	size_t n, cap;
};

struct remote_seg {
	size_t idx; /* into remote.segs */
	struct rows conns, ends_win, ends_id, gaps, runs;
	struct rows lives, exits, cgroups; /* process lives (schema 2), for who.c */
};

struct remote {
	struct ch_server *ch;
	struct ch_seg *segs;
	size_t n;
	struct remote_seg *rs;
	bool *wanted; /* the segments the plan reads */
	bool planned, failed;
	bool have_conns, have_ends_win, have_ends_id, have_gaps, have_runs, have_who;
	struct sr_conn_filter conns_f; /* what conns holds */
	int64_t win_since, win_until;  /* what ends_win holds */
	char err[512];
};

static void rows_free(struct rows *r)
{
	free(r->v);
	*r = (struct rows){ 0 };
}

static int rows_add(struct rows *r, const void *row, size_t size)
{
	if (r->n == r->cap) {
		size_t cap = r->cap ? r->cap * 2 : 64;
		void *v = realloc(r->v, cap * size);

		if (!v)
			return -ENOMEM;
		r->v = v;
		r->cap = cap;
	}
	memcpy((char *)r->v + r->n * size, row, size);
	r->n++;
	return 0;
}

/* ---- opening ---- */

static void slot_meta(struct sr_meta *m, const struct ch_seg *g)
{
	memset(m, 0, sizeof(*m));
	m->schema_version = (int)g->row.schema_version;
	m->segment_id = (int64_t)g->key.segment_id;
	snprintf(m->host, sizeof(m->host), "%s", g->key.host);
	snprintf(m->boot_id, sizeof(m->boot_id), "%s", g->row.boot_id);
	snprintf(m->kernel, sizeof(m->kernel), "%s", g->row.kernel);
	snprintf(m->recorder_version, sizeof(m->recorder_version), "%s", g->row.recorder_version);
	snprintf(m->prev_sha256, sizeof(m->prev_sha256), "%s", g->row.prev_sha256);
	m->created_ns = g->key.segment_ns;
	m->first_ns = g->row.first_ns;
	m->last_ns = g->row.last_ns;
	m->sealed = true;
}

int remote_open_sources(struct query *q)
{
	struct remote *r = calloc(1, sizeof(*r));
	int err;

	if (!r)
		return -ENOMEM;
	q->remote = r;
	/* A query can make the server think a while before its answer starts. */
	if (!q->from.timeout_ns)
		q->from.timeout_ns = REMOTE_DEFAULT_TIMEOUT_NS;
	err = ch_open(&r->ch, &q->from, r->err, sizeof(r->err));
	if (err && err != -ENOMEM) {
		cr_err("%s", r->err);
		return err == -EINVAL ? -EINVAL : -EREMOTEIO;
	}
	if (!err)
		err = ch_list_segments(r->ch, q->ff.since, &r->segs, &r->n, r->err, sizeof(r->err));
	if (err == -ENOMEM)
		return err;
	if (err) {
		cr_err("%s", r->err);
		return -EREMOTEIO;
	}
	if (!r->n) {
		cr_err("%s: no shipped segment in database %s (connrec ship sends them)",
		       ch_url(r->ch), ch_database(r->ch));
		return -EREMOTEIO;
	}
	r->rs = calloc(r->n ? r->n : 1, sizeof(*r->rs));
	r->wanted = calloc(r->n ? r->n : 1, sizeof(*r->wanted));
	q->slots = calloc(r->n ? r->n : 1, sizeof(*q->slots));
	if (!r->rs || !r->wanted || !q->slots)
		return -ENOMEM;
	for (size_t i = 0; i < r->n; i++) {
		struct slot *s = &q->slots[i];
		char name[sizeof(r->segs[i].row.name) + 8];

		r->rs[i].idx = i;
		s->remote = &r->rs[i];
		slot_meta(&s->meta, &r->segs[i]);
		/* For messages: the host and the segment's own file name. */
		snprintf(name, sizeof(name), "%s", r->segs[i].row.name);
		if (asprintf(&s->path, "%s:%s/%s", ch_url(r->ch), s->meta.host, name) < 0) {
			s->path = NULL;
			return -ENOMEM;
		}
		q->n_slots++;
	}
	cr_debug("%s: %zu segment(s) may hold rows for the window", ch_url(r->ch), r->n);
	return 0;
}

void remote_free(struct query *q)
{
	struct remote *r = q->remote;

	if (!r)
		return;
	for (size_t i = 0; r->rs && i < r->n; i++) {
		rows_free(&r->rs[i].conns);
		rows_free(&r->rs[i].ends_win);
		rows_free(&r->rs[i].ends_id);
		rows_free(&r->rs[i].gaps);
		rows_free(&r->rs[i].runs);
		rows_free(&r->rs[i].lives);
		rows_free(&r->rs[i].exits);
		rows_free(&r->rs[i].cgroups);
	}
	free(r->rs);
	free(r->wanted);
	free(r->segs);
	ch_close(r->ch);
	free(r);
	q->remote = NULL;
}

/* ---- fetching ---- */

/* The segments the plan reads: not skipped, and late ones only where lifetimes may need them. */
static void plan_wanted(struct query *q)
{
	struct remote *r = q->remote;

	if (r->planned)
		return;
	for (size_t i = 0; i < q->n_slots; i++) {
		const struct slot *s = &q->slots[i];

		if (s->remote)
			r->wanted[s->remote->idx] =
				!s->skip && !(s->late && q->mode != MODE_FLOWS && q->mode != MODE_COUNT);
	}
	r->planned = true;
}

struct sink {
	struct remote *r;
	size_t which; /* offsetof(struct remote_seg, <rows>) */
	size_t size;
};

static int on_fetched(size_t seg, const void *row, void *ctx)
{
	struct sink *k = ctx;
	struct rows *rows = (struct rows *)((char *)&k->r->rs[seg] + k->which);

	return rows_add(rows, row, k->size);
}

/* Fetches rows of t into each segment's rows at offset which, replacing what was there. */
static int fetch(struct query *q, const struct ch_table *t, size_t which, const char *where,
		 const char *order)
{
	struct remote *r = q->remote;
	struct sink k = { .r = r, .which = which, .size = t->row_size };
	int err;

	if (r->failed)
		return -EREMOTEIO;
	plan_wanted(q);
	for (size_t i = 0; i < r->n; i++)
		rows_free((struct rows *)((char *)&r->rs[i] + which));
	err = ch_fetch(r->ch, r->segs, r->n, r->wanted, t, where, order, on_fetched, &k, r->err,
		       sizeof(r->err));
	if (err == -ENOMEM)
		return err;
	if (err) {
		cr_err("%s", r->err);
		r->failed = true;
		return -EREMOTEIO;
	}
	return 0;
}

static bool same_filter(const struct sr_conn_filter *a, const struct sr_conn_filter *b)
{
	return a->since == b->since && a->until == b->until && a->ports == b->ports &&
	       a->n_ports == b->n_ports && a->lports == b->lports && a->n_lports == b->n_lports &&
	       a->rports == b->rports && a->n_rports == b->n_rports && a->addrs == b->addrs &&
	       a->n_addrs == b->n_addrs && a->proto == b->proto && a->dir == b->dir &&
	       a->pids == b->pids && a->n_pids == b->n_pids && a->uids == b->uids &&
	       a->n_uids == b->n_uids && a->netns == b->netns && a->n_netns == b->n_netns &&
	       a->cgroups == b->cgroups && a->n_cgroups == b->n_cgroups && a->comm == b->comm &&
	       a->min_dur == b->min_dur && a->max_dur == b->max_dur &&
	       a->short_lived == b->short_lived && a->skip_folded == b->skip_folded &&
	       a->sets == b->sets;
}

int remote_conns(struct query *q, struct slot *s, const struct sr_conn_filter *f,
		 int (*cb)(const struct sr_conn *row, void *ctx), void *ctx)
{
	struct remote *r = q->remote;
	const struct sr_conn *v;
	int err = 0;

	if (!r->have_conns || !same_filter(&r->conns_f, f)) {
		sqlite3_str *w = sqlite3_str_new(NULL);
		char *where;

		if (ch_sql_conn_filter(w, f)) {
			sqlite3_free(sqlite3_str_finish(w));
			return -ENOMEM;
		}
		ch_sql_life_filter(w, ch_database(r->ch),
				   &(struct ch_life_filter){ .exe = q->wf.exe,
							     .args = q->wf.args,
							     .container = q->wf.container,
							     .unit = q->wf.unit,
							     .ppid = q->wf.ppid });
		where = ch_sql_finish(w);
		if (!where)
			return -ENOMEM;
		err = fetch(q, &ch_conn_table, offsetof(struct remote_seg, conns), where, "id");
		sqlite3_free(where);
		if (err)
			return err;
		r->conns_f = *f;
		r->have_conns = true;
		r->have_ends_id = false; /* the ends waiting lifetimes need follow the filter */
	}
	v = s->remote->conns.v;
	for (size_t i = 0; !err && i < s->remote->conns.n; i++)
		err = cb(&v[i], ctx);
	return err;
}

int remote_end_by_id(struct query *q, struct slot *s, int64_t id, struct sr_end *out)
{
	struct remote *r = q->remote;
	const struct sr_end *v;
	size_t lo = 0, hi;

	if (!r->have_ends_id) {
		char *where = NULL;
		int err = 0;

		/* Only ends of connections whose rows matched and had no end of their own. */
		if (r->have_conns)
			err = ch_sql_waiting_ids(r->ch, r->segs, r->n, r->wanted, &r->conns_f,
						 &where);
		if (!err)
			err = fetch(q, &ch_end_table, offsetof(struct remote_seg, ends_id),
				    where ? where : "", "id");
		sqlite3_free(where);
		if (err)
			return err;
		r->have_ends_id = true;
	}
	/* Sorted by id within the segment (ORDER BY host, segment_id, id). */
	v = s->remote->ends_id.v;
	hi = s->remote->ends_id.n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (v[mid].id == id) {
			while (mid > lo && v[mid - 1].id == id)
				mid--;
			*out = v[mid];
			return 1;
		}
		if (v[mid].id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return 0;
}

int remote_ends(struct query *q, struct slot *s, int64_t since, int64_t until,
		int (*cb)(const struct sr_end *row, void *ctx), void *ctx)
{
	struct remote *r = q->remote;
	const struct sr_end *v;
	int err = 0;

	if (!r->have_ends_win || r->win_since != since || r->win_until != until) {
		char *where = sqlite3_mprintf(" AND end_ns BETWEEN %lld AND %lld",
					      (long long)since, (long long)until);

		if (!where)
			return -ENOMEM;
		err = fetch(q, &ch_end_table, offsetof(struct remote_seg, ends_win), where,
			    "end_ns, id");
		sqlite3_free(where);
		if (err)
			return err;
		r->have_ends_win = true;
		r->win_since = since;
		r->win_until = until;
	}
	v = s->remote->ends_win.v;
	for (size_t i = 0; !err && i < s->remote->ends_win.n; i++)
		err = cb(&v[i], ctx);
	return err;
}

/* Every gap row of the segments read; the window is applied here, as read/ does in SQL. */
int remote_gaps(struct query *q, struct slot *s, int64_t since, int64_t until,
		int (*cb)(const struct sr_gap *row, void *ctx), void *ctx)
{
	struct remote *r = q->remote;
	const struct sr_gap *v;
	int err = 0;

	if (!r->have_gaps) {
		err = fetch(q, &ch_gap_table, offsetof(struct remote_seg, gaps), "", "start_ns, id");
		if (err)
			return err;
		r->have_gaps = true;
	}
	v = s->remote->gaps.v;
	for (size_t i = 0; !err && i < s->remote->gaps.n; i++) {
		if (v[i].start_ns <= until && v[i].end_ns >= since)
			err = cb(&v[i], ctx);
	}
	return err;
}

int remote_runs(struct query *q, struct slot *s, int (*cb)(const struct sr_run *row, void *ctx),
		void *ctx)
{
	struct remote *r = q->remote;
	const struct sr_run *v;
	int err = 0;

	if (!r->have_runs) {
		err = fetch(q, &ch_run_table, offsetof(struct remote_seg, runs), "", "ts_ns, id");
		if (err)
			return err;
		r->have_runs = true;
	}
	v = s->remote->runs.v;
	for (size_t i = 0; !err && i < s->remote->runs.n; i++)
		err = cb(&v[i], ctx);
	return err;
}

/*
 * The process lives, their ends and cgroup names of every segment read, fetched at once (a
 * life row is large but lives are few next to flows), handed to who.c segment by segment in
 * the order a local file gives them, so the same lives answer the same --exe, --args, --ppid,
 * --container and --unit and print the same columns.
 */
int remote_who(struct query *q, struct slot *s, uint32_t boot)
{
	struct remote *r = q->remote;
	struct remote_seg *rs = s->remote;
	int err = 0;

	if (!r->have_who) {
		err = fetch(q, &ch_life_table, offsetof(struct remote_seg, lives), "", "id");
		if (!err)
			err = fetch(q, &ch_life_exit_table, offsetof(struct remote_seg, exits), "",
				    "id");
		if (!err)
			err = fetch(q, &ch_cgroup_table, offsetof(struct remote_seg, cgroups), "",
				    "id");
		if (err)
			return err;
		r->have_who = true;
	}
	err = who_read_rows(&q->who,
			    &(struct who_rows){ .lives = rs->lives.v,
						.n_lives = rs->lives.n,
						.exits = rs->exits.v,
						.n_exits = rs->exits.n,
						.cgroups = rs->cgroups.v,
						.n_cgroups = rs->cgroups.n },
			    boot);
	/* Read once per segment: who.c keeps what it needs. */
	rows_free(&rs->lives);
	rows_free(&rs->exits);
	rows_free(&rs->cgroups);
	return err;
}

void remote_seg_done(struct remote_seg *rs)
{
	rows_free(&rs->conns);
	rows_free(&rs->ends_win);
	rows_free(&rs->ends_id);
}

const char *remote_errmsg(const struct query *q)
{
	return q->remote ? q->remote->err : "";
}
