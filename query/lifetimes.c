// SPDX-License-Identifier: MIT
/*
 * Lifetimes: each host's segments are read in order and their rows merged by (host, conn id),
 * see flows.h. Only lifetimes still waiting for an end stay in memory (q->pending); a row that
 * is complete on its own is judged at once. A lifetime whose end never came is open, or
 * unknown when recording stopped (or lost track of it) after its start.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "schema_values.h"
#include "log.h"
#include "progress.h"
#include "query.h"
#include "timespec.h"
#include "store.h"

static int flow_cmp(const void *a, const void *b)
{
	const struct flow *x = a, *y = b;

	if (x->start_ns != y->start_ns)
		return x->start_ns < y->start_ns ? -1 : 1;
	if (x->host != y->host)
		return x->host < y->host ? -1 : 1;
	if (x->id != y->id)
		return x->id < y->id ? -1 : 1;
	/* Two rows of one id (a copy that repeats one): in the order they were read. */
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* > 0 when a comes after b in the output (--order): the worse of two to keep under --limit. */
static int rank(const struct query *q, const struct flow *a, const struct flow *b)
{
	int c = flow_cmp(a, b);

	return q->newest_first ? -c : c;
}

static void swap_flows(struct flow *a, struct flow *b)
{
	struct flow t = *a;

	*a = *b;
	*b = t;
}

/*
 * --limit N: q->out holds only the N flows that come first in the output, as a heap with the
 * last of them at its root, so that memory stays N rows however many match; query_order()
 * sorts them at the end. The order is total (start, host, conn id, then the order in which
 * they were kept), so the N kept are exactly the first N of the whole sorted list.
 */
static void keep_limited(struct query *q, const struct flow *f)
{
	struct flow *h = q->out;
	size_t n = q->n_out, i = 0;

	if (n < q->limit) {
		h[n] = *f;
		for (i = n; i && rank(q, &h[i], &h[(i - 1) / 2]) > 0; i = (i - 1) / 2)
			swap_flows(&h[i], &h[(i - 1) / 2]);
		q->n_out++;
		return;
	}
	if (rank(q, f, &h[0]) >= 0)
		return;
	h[0] = *f;
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, worst = i;

		if (l < n && rank(q, &h[l], &h[worst]) > 0)
			worst = l;
		if (r < n && rank(q, &h[r], &h[worst]) > 0)
			worst = r;
		if (worst == i)
			break;
		swap_flows(&h[i], &h[worst]);
		i = worst;
	}
}

static int emit(struct query *q, const struct flow *row)
{
	struct flow named = *row, *f = &named;
	struct who_info wi;

	/* Named once the lifetime is whole: its start and owner are final. */
	if (q->names)
		f->name = names_for_flow(q->names, f);
	if (!flow_filter_match(&q->ff, f))
		return 0;
	if (q->mode == MODE_PROCS) {
		/* Counted for its process life; --procs lists the lives, not the flows. */
		who_of_flow(&q->who, f, &wi);
		if (wi.life)
			((struct who_life *)wi.life)->flows++;
		return 0;
	}
	if (who_filter_set(&q->wf)) {
		who_of_flow(&q->who, f, &wi);
		if (!who_filter_match(&q->wf, &wi))
			return 0;
	}
	q->count++;
	if (q->mode == MODE_COUNT)
		return 0;
	f->seq = q->count;
	if (q->n_out == q->cap_out && (!q->limit || q->n_out < q->limit)) {
		size_t cap = q->cap_out ? q->cap_out * 2 : 1024;
		struct flow *v;

		if (q->limit && cap > q->limit)
			cap = (size_t)q->limit;
		v = realloc(q->out, cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		q->out = v;
		q->cap_out = cap;
	}
	if (q->limit)
		keep_limited(q, f);
	else
		q->out[q->n_out++] = *f;
	return 0;
}

static int on_dns(const struct sr_dns *d, void *ctx)
{
	struct query *q = ctx;

	return names_add(q->names, q->cur_host, d);
}

static int on_row(const struct sr_conn *r, void *ctx)
{
	struct query *q = ctx;
	struct flow f, *p;

	/* The common case, a lifetime complete in one row, never touches the table. */
	if (!(r->flags & CR_FLAG_CARRIED) && r->has_end) {
		flow_from_row(&f, r, q->cur_host, q->cur_seg);
		f.boot = q->cur_boot;
		return emit(q, &f);
	}
	p = flow_table_find(&q->pending, q->cur_host, r->id);
	if (p) {
		flow_merge_row(p, r, q->cur_seg);
		return 0;
	}
	flow_from_row(&f, r, q->cur_host, q->cur_seg);
	f.boot = q->cur_boot;
	return flow_table_add(&q->pending, &f);
}

static int add_stop(struct query *q, int64_t ts_ns, bool is_start)
{
	struct stop_mark *v = realloc(q->stops, (q->n_stops + 1) * sizeof(*v));

	if (!v)
		return -ENOMEM;
	q->stops = v;
	v[q->n_stops++] = (struct stop_mark){ q->cur_host, ts_ns, is_start };
	return 0;
}

static int on_run(const struct sr_run *r, void *ctx)
{
	if (r->kind != 1 && r->kind != 2)
		return 0;
	return add_stop(ctx, r->ts_ns, r->kind == 1);
}

static int on_gap_stop(const struct sr_gap *g, void *ctx)
{
	if (g->kind != CR_GAP_DOWN)
		return 0;
	return add_stop(ctx, g->start_ns, false);
}

static int on_gap_count(const struct sr_gap *g, void *ctx)
{
	struct query *q = ctx;

	q->n_gaps_in_window++;
	if (g->kind == CR_GAP_TAMPER)
		q->n_tamper_in_window++;
	return 0;
}

/* The first moment after the flow's start at which recording stopped, or SR_NO_TIME. */
static int64_t stopped_after(const struct query *q, const struct flow *f)
{
	int64_t best = SR_NO_TIME;

	for (size_t i = 0; i < q->n_stops; i++) {
		const struct stop_mark *m = &q->stops[i];

		if (m->host != f->host || m->ts_ns <= f->start_ns)
			continue;
		/* A pre-existing flow was found by its own run's start-up dump: that start (or
		 * any later one) proves nothing on its own; a stop or a down gap does. */
		if (m->is_start && (f->flags & CR_FLAG_PREEXISTING))
			continue;
		if (best == SR_NO_TIME || m->ts_ns < best)
			best = m->ts_ns;
	}
	return best;
}

/* Ends for waiting lifetimes that a later segment stored without a carried copy. */
static int late_ends(struct query *q, struct slot *s, uint32_t seg)
{
	for (size_t i = 0; i < q->pending.n; i++) {
		struct flow *f = &q->pending.v[i];
		struct sr_end e;
		int rc;

		if (f->host != s->host || f->end != FLOW_END_OPEN || f->last_seg >= seg)
			continue;
		rc = slot_end_by_id(q, s, f->id, &e);
		if (rc < 0)
			return rc;
		if (rc == 1) {
			struct sr_conn r = { .has_end = true,
					     .end_ns = e.end_ns,
					     .reason = e.reason,
					     .has_bytes = e.has_bytes,
					     .bytes_out = e.bytes_out,
					     .bytes_in = e.bytes_in,
					     .start_ns = INT64_MAX };

			flow_merge_row(f, &r, seg);
		}
	}
	return 0;
}

/* Are lifetimes of this host still waiting for an end that the segment after prev may hold? */
static bool waiting(const struct query *q, uint32_t host, uint32_t prev)
{
	for (size_t i = 0; i < q->pending.n; i++) {
		const struct flow *f = &q->pending.v[i];

		if (f->host == host && f->end == FLOW_END_OPEN && f->last_seg == prev)
			return true;
	}
	return false;
}

/* Run rows and down gaps (for lifetimes whose end never came), and gaps in the window. */
static int read_stops(struct query *q, struct slot *s)
{
	int err = slot_runs(q, s, on_run, q);

	if (!err)
		err = slot_gaps(q, s, SR_NO_TIME, SR_TIME_MAX, on_gap_stop, q);
	if (!err && !s->late)
		err = slot_gaps(q, s, q->ff.since, q->ff.until, on_gap_count, q);
	return err;
}

/* At most this many rows to merge are held while a check runs (about 4 MiB). */
#define AHEAD_MAX_ROWS 32768

/* A segment's --count, read while its check still ran: used only once the check passed. */
struct ahead {
	bool done;
	uint64_t count;
	struct sr_conn *rows; /* the rows to merge */
	size_t n, cap;
	const struct query *q; /* for count_or_hold(): the filter, and where the rows are */
	uint32_t host, seg;
};

static int hold_row(const struct sr_conn *r, void *ctx)
{
	struct ahead *a = ctx;

	if (a->n == a->cap) {
		size_t cap = a->cap ? a->cap * 2 : 256;
		struct sr_conn *v;

		if (cap > AHEAD_MAX_ROWS)
			return -E2BIG;
		v = realloc(a->rows, cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		a->rows = v;
		a->cap = cap;
	}
	a->rows[a->n++] = *r;
	return 0;
}

/*
 * A row of a one-pass count read ahead: a whole lifetime is judged by the C filter as emit()
 * would judge it (a fast count has no name, process or state condition, so that is all
 * emit() does with it); any other row is held for the merge.
 */
static int count_or_hold(const struct sr_conn *r, void *ctx)
{
	struct ahead *a = ctx;
	struct flow f;

	if ((r->flags & CR_FLAG_CARRIED) || !r->has_end)
		return hold_row(r, a);
	flow_from_row(&f, r, a->host, a->seg);
	a->count += flow_filter_match(&a->q->ff, &f);
	return 0;
}

/*
 * A --count of a segment opened while planning, whose quick_check runs in a thread of its
 * own (the active segment): the whole lifetimes are counted (in SQL, or in C where one pass
 * costs less: sr_count_pays()) and the rows to merge held, none of which touches the query,
 * so that the check and the reading take the two cores at once. On any error (or too many
 * rows to hold) nothing is kept: the segment is read as usual once the check has passed.
 */
static void count_ahead(struct query *q, struct slot *s, uint32_t ord, struct ahead *a)
{
	struct sr_conn_filter rest = q->sf;

	if (!q->fast_count || s->late || !s->seg || !sr_check_pending(s->seg))
		return;
	a->q = q;
	a->host = s->host;
	a->seg = ord;
	rest.skip_folded = slot_count_pays(q, s, &q->sf);
	if (rest.skip_folded)
		a->done = !slot_count_folded(q, s, &q->sf, &a->count) &&
			  !slot_conns(q, s, &rest, hold_row, a);
	else
		a->done = !slot_conns(q, s, &rest, count_or_hold, a);
	if (!a->done)
		a->n = 0;
}

/* The rows of a segment: the count read ahead, or now. */
static int read_rows(struct query *q, struct slot *s, const struct ahead *a)
{
	/* Counted in SQL where that pays; every row through C where it does not. */
	bool in_sql = q->fast_count && slot_count_pays(q, s, &q->sf);
	struct sr_conn_filter f = q->sf;
	int err = 0;

	if (a->done) {
		q->count += a->count;
		for (size_t i = 0; !err && i < a->n; i++)
			err = on_row(&a->rows[i], q);
		return err;
	}
	f.skip_folded = in_sql;
	if (in_sql) {
		uint64_t n = 0;

		err = slot_count_folded(q, s, &q->sf, &n);
		q->count += n;
	}
	return err ? err : slot_conns(q, s, &f, on_row, q);
}

/*
 * --limit N, oldest first: once N lifetimes are kept, a sealed segment whose rows all begin
 * after the last of them (meta first_ns, which verify checks) cannot give one that comes
 * before it: neither its own flows nor the carried copies it holds (those begin at or after
 * first_ns too). Its stops, process lives and the ends of lifetimes still waiting are read
 * all the same. Only for a segment the hash chain vouches for: with no window, first_ns
 * decides nothing else, and a copy whose first_ns lies would hide the rows that --limit
 * alone asked for, with no word.
 */
static bool rows_beyond_limit(const struct query *q, const struct slot *s)
{
	return q->limit && !q->newest_first && q->mode != MODE_COUNT && q->mode != MODE_PROCS &&
	       !s->remote && s->trusted && q->n_out == q->limit && s->meta.sealed &&
	       s->meta.first_ns != SR_NO_TIME && s->meta.first_ns > q->out[0].start_ns;
}

/*
 * One segment: its stops, then its rows when the window needs them. Each segment is opened
 * and closed here, one at a time, so no more than one private copy exists at once.
 */
static int read_segment(struct query *q, struct slot *s, uint32_t ord, uint32_t *last_read)
{
	struct ahead a = { 0 };
	int err;

	progress_say("reading segment %u of %zu: %s", ord, q->n_slots, s->path);
	count_ahead(q, s, ord, &a);
	if (query_seg_open(q, s)) {
		free(a.rows);
		return 0;
	}
	q->cur_host = s->host;
	q->cur_seg = ord;
	err = read_stops(q, s);
	if (!err && (!s->late || waiting(q, s->host, last_read[s->host]))) {
		/* Its lives first: the flows about to be judged name them. */
		s->boot = who_boot(&q->who, s->host, s->meta.boot_id);
		q->cur_boot = s->boot;
		err = slot_read_who(q, s);
		if (err && err != -ENOMEM && err != -EREMOTEIO) {
			/* Damaged process lives: say so, and read its flows all the same. */
			query_seg_warn(q, s, err);
			err = 0;
		}
		if (!err)
			err = late_ends(q, s, ord);
		/*
		 * Its answers before its rows: a flow is named by answers received before it
		 * began, which are in this segment or carried into it, or in an earlier one.
		 */
		if (!err && q->names && !s->late)
			err = slot_dns(q, s, SR_NO_TIME, q->ff.until, on_dns, q);
		if (!err && rows_beyond_limit(q, s))
			cr_debug("%s: its rows all begin after the first %" PRIu64 " kept; not read",
				 s->path, q->limit);
		else if (!err)
			err = read_rows(q, s, &a);
		s->read = true;
		last_read[s->host] = ord;
	}
	free(a.rows);
	if (err && err != -ENOMEM && err != -EREMOTEIO)
		query_seg_warn(q, s, err);
	query_seg_close(s);
	/* Out of memory, or the server failed (said already): the query cannot go on. */
	return err == -ENOMEM || err == -EREMOTEIO ? err : 0;
}

/*
 * Stops are only used once every segment was read (to judge lifetimes whose end never came),
 * so reading them segment by segment, with the rows, gives what reading them all first would.
 */
static int read_flows(struct query *q)
{
	uint32_t *last_read = calloc(q->n_hosts ? q->n_hosts : 1, sizeof(*last_read));
	int64_t *next_created = NULL;
	int err = 0;

	if (!last_read)
		return -ENOMEM;
	for (size_t i = 0; i < q->n_slots; i++) {
		struct slot *s = &q->slots[i];

		if (s->skip)
			continue;
		err = read_segment(q, s, (uint32_t)i + 1, last_read);
		if (err)
			goto cleanup;
	}
	next_created = malloc((q->n_slots + 2) * sizeof(*next_created));
	if (!next_created) {
		err = -ENOMEM;
		goto cleanup;
	}
	for (size_t i = 0; i < q->n_slots; i++)
		next_created[i + 1] = q->slots[i].meta.created_ns;
	for (size_t i = 0; i < q->pending.n; i++) {
		struct flow *f = &q->pending.v[i];

		if (f->end == FLOW_END_OPEN) {
			int64_t stop = stopped_after(q, f);

			if (stop != SR_NO_TIME) {
				f->end = FLOW_END_UNKNOWN;
				f->lost_ns = stop;
			} else if (f->last_seg < last_read[f->host]) {
				/* A later segment was read and did not carry it: the recorder lost
				 * track of it when that segment began. */
				f->end = FLOW_END_UNKNOWN;
				f->lost_ns = next_created[f->last_seg + 1] != SR_NO_TIME
						     ? next_created[f->last_seg + 1]
						     : f->start_ns;
			}
		}
		f->flags &= (uint8_t)~CR_FLAG_CARRIED;
		err = emit(q, f);
		if (err)
			goto cleanup;
	}
cleanup:
	free(last_read);
	free(next_created);
	return err;
}

/*
 * A window that begins before the oldest segment of a host reaches into time these files do
 * not cover (the store began later, or older segments were deleted or not copied): say so,
 * like a gap. Slots are sorted by host and segment, so each host's first slot is its oldest.
 */
static void warn_uncovered_start(const struct query *q)
{
	for (size_t i = 0; i < q->n_slots; i++) {
		const struct slot *s = &q->slots[i];
		char when[64];

		if (i && q->slots[i - 1].host == s->host)
			continue;
		if (q->ff.since == SR_NO_TIME || !s->meta.created_ns ||
		    q->ff.since >= s->meta.created_ns)
			continue;
		if (ts_format_time(s->meta.created_ns, 0, when, sizeof(when)))
			snprintf(when, sizeof(when), "%" PRId64 " ns", s->meta.created_ns);
		cr_warn("the window starts before the oldest segment of host %s (%s): nothing "
			"earlier is in these files",
			s->host < q->n_hosts ? q->hosts[s->host] : "?", when);
	}
}

int query_lifetimes(struct query *q, const struct printer *p, const struct out_ctx *o)
{
	struct out_ctx po = *o;
	int close_err;
	int err = 0;

	/* Every output but --procs prints the name; --count and --procs need it to filter by it. */
	if ((q->mode != MODE_COUNT && q->mode != MODE_PROCS) || q->ff.name)
		err = names_new(&q->names);
	if (!err)
		err = read_flows(q);

	if (err)
		return err;
	po.f = query_out_open(q);
	if (q->mode == MODE_COUNT)
		fprintf(po.f, "%" PRIu64 "\n", q->count);
	else if (q->mode == MODE_PROCS)
		err = query_procs(q, p, &po);
	else
		p->flows(&po, q->out, query_order(q, q->out, q->n_out, sizeof(*q->out), flow_cmp));
	close_err = query_out_close(po.f);
	if (!err)
		err = close_err;
	if (err)
		return err;
	/* "Not recorded" must never read as "did not happen". */
	if (q->n_gaps_in_window && !strcmp(q->format, "table"))
		cr_warn("the window contains %zu recording gap(s) (events lost or recorder "
			"down); see --gaps",
			q->n_gaps_in_window);
	/* Someone blinded the recorder in the window: worth its own line. */
	if (q->n_tamper_in_window && !strcmp(q->format, "table"))
		cr_warn("the window overlaps %zu tamper gap(s): someone detached the recorder's "
			"hooks or removed its files, and it was blind until it healed; see --gaps",
			q->n_tamper_in_window);
	if (!strcmp(q->format, "table"))
		warn_uncovered_start(q);
	return 0;
}
