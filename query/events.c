// SPDX-License-Identifier: MIT
/*
 * --gaps and --events: the recording gaps in the window, or the stored rows themselves by
 * time. No merge: each row is shown as it was stored.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "schema_values.h"
#include "progress.h"
#include "query.h"

struct collect {
	struct query *q;
	struct out_gap *gaps;
	struct out_event *ev;
	size_t n, cap;
	struct flow_table seen; /* conn ids whose rows matched, for their close events */
};

static void *grow(void **v, size_t *cap, size_t n, size_t size)
{
	if (n == *cap) {
		size_t c = *cap ? *cap * 2 : 64;
		void *p = realloc(*v, c * size);

		if (!p)
			return NULL;
		*v = p;
		*cap = c;
	}
	return (char *)*v + n * size;
}

static int on_gap_row(const struct sr_gap *g, void *ctx)
{
	struct collect *c = ctx;
	struct out_gap *o;

	/* The same gap can be recorded in two segments around a rotation; print it once. */
	for (size_t i = 0; i < c->n; i++) {
		if (c->gaps[i].host == c->q->cur_host && c->gaps[i].kind == g->kind &&
		    c->gaps[i].start_ns == g->start_ns && c->gaps[i].end_ns == g->end_ns)
			return 0;
	}
	o = grow((void **)&c->gaps, &c->cap, c->n, sizeof(*o));
	if (!o)
		return -ENOMEM;
	*o = (struct out_gap){ .host = c->q->cur_host,
			       .kind = g->kind,
			       .start_ns = g->start_ns,
			       .end_ns = g->end_ns,
			       .count = g->count };
	snprintf(o->reason, sizeof(o->reason), "%s", g->reason);
	c->n++;
	return 0;
}

static int gap_cmp(const void *a, const void *b)
{
	const struct out_gap *x = a, *y = b;

	if (x->start_ns != y->start_ns)
		return x->start_ns < y->start_ns ? -1 : 1;
	return x->host < y->host ? -1 : x->host > y->host;
}

static struct out_event *new_event(struct collect *c, int64_t ts, const char *kind)
{
	struct out_event *e = grow((void **)&c->ev, &c->cap, c->n, sizeof(*e));

	if (!e)
		return NULL;
	memset(e, 0, sizeof(*e));
	e->ts_ns = ts;
	e->kind = kind;
	e->host = c->q->cur_host;
	e->conn_id = -1;
	c->n++;
	return e;
}

/* An open or close event: it carries the connection's row as a flow. */
static struct out_event *new_conn_event(struct collect *c, int64_t ts, const char *kind,
					const struct flow *f)
{
	struct out_event *e = new_event(c, ts, kind);

	if (e) {
		e->conn_id = f->id;
		e->has_flow = true;
		e->flow = *f;
	}
	return e;
}

static bool in_window(const struct query *q, int64_t t)
{
	return (q->ff.since == SR_NO_TIME || t >= q->ff.since) && t <= q->ff.until;
}

static int on_event_row(const struct sr_conn *r, void *ctx)
{
	struct collect *c = ctx;
	struct query *q = c->q;
	struct out_event *e;
	struct flow f;

	flow_from_row(&f, r, q->cur_host, q->cur_seg);
	if (!flow_table_find(&c->seen, f.host, f.id) && flow_table_add(&c->seen, &f))
		return -ENOMEM;
	if (in_window(q, r->start_ns)) {
		e = new_conn_event(c, r->start_ns, "open", &f);
		if (!e)
			return -ENOMEM;
		e->flow.end = FLOW_END_OPEN;
		if (r->flags & CR_FLAG_CARRIED)
			snprintf(e->detail, sizeof(e->detail), "carried copy");
	}
	/* An end folded into the row is a close event of its own. */
	if (r->end_folded && in_window(q, r->end_ns)) {
		e = new_conn_event(c, r->end_ns, "close", &f);
		if (!e)
			return -ENOMEM;
	}
	return 0;
}

static int on_event_end(const struct sr_end *x, void *ctx)
{
	struct collect *c = ctx;
	struct flow *f = flow_table_find(&c->seen, c->q->cur_host, x->id);
	struct out_event *e;

	if (!f)
		return 0; /* its conn row did not match the filters */
	e = new_conn_event(c, x->end_ns, "close", f);
	if (!e)
		return -ENOMEM;
	e->flow.end = FLOW_END_CLOSED;
	e->flow.end_ns = x->end_ns;
	e->flow.reason = x->reason;
	e->flow.has_bytes = x->has_bytes;
	e->flow.bytes_out = x->bytes_out;
	e->flow.bytes_in = x->bytes_in;
	return 0;
}

static int on_event_run(const struct sr_run *r, void *ctx)
{
	static const char *const kinds[] = { "run", "run_start", "run_stop", "segment" };
	struct collect *c = ctx;
	struct out_event *e;

	if (!in_window(c->q, r->ts_ns))
		return 0;
	e = new_event(c, r->ts_ns, kinds[r->kind >= 1 && r->kind <= 3 ? r->kind : 0]);
	if (!e)
		return -ENOMEM;
	snprintf(e->detail, sizeof(e->detail), "pid %" PRIu32 " version %s", r->pid, r->version);
	return 0;
}

static const char *gap_event_kind(int kind)
{
	switch (kind) {
	case CR_GAP_LOST:
		return "gap_lost";
	case CR_GAP_TAMPER:
		return "gap_tamper";
	default:
		return "gap_down";
	}
}

static int on_event_gap(const struct sr_gap *g, void *ctx)
{
	struct collect *c = ctx;
	struct out_event *e = new_event(c, g->start_ns, gap_event_kind(g->kind));

	if (!e)
		return -ENOMEM;
	e->end_ns = g->end_ns;
	e->count = g->count;
	snprintf(e->detail, sizeof(e->detail), "%s", g->reason);
	return 0;
}

static int event_cmp(const void *a, const void *b)
{
	const struct out_event *x = a, *y = b;

	if (x->ts_ns != y->ts_ns)
		return x->ts_ns < y->ts_ns ? -1 : 1;
	if (x->host != y->host)
		return x->host < y->host ? -1 : 1;
	return x->conn_id < y->conn_id ? -1 : x->conn_id > y->conn_id;
}

static int read_gaps_or_events(struct query *q, struct collect *c)
{
	int err = 0;

	for (size_t i = 0; i < q->n_slots; i++) {
		struct slot *s = &q->slots[i];

		if (s->skip || s->late)
			continue;
		progress_say("reading segment %zu of %zu: %s", i + 1, q->n_slots, s->path);
		if (query_seg_open(q, s))
			continue;
		q->cur_host = s->host;
		q->cur_seg = (uint32_t)i + 1;
		if (q->mode == MODE_GAPS) {
			err = slot_gaps(q, s, q->ff.since, q->ff.until, on_gap_row, c);
		} else {
			struct sr_conn_filter f = q->sf;

			/* Rows that began before the window still name the conns of its closes. */
			f.since = SR_NO_TIME;
			err = slot_conns(q, s, &f, on_event_row, c);
			if (!err)
				err = slot_ends(q, s, q->ff.since, q->ff.until, on_event_end, c);
			if (!err)
				err = slot_runs(q, s, on_event_run, c);
			if (!err)
				err = slot_gaps(q, s, q->ff.since, q->ff.until, on_event_gap, c);
		}
		if (err && err != -ENOMEM && err != -EREMOTEIO)
			query_seg_warn(q, s, err);
		query_seg_close(s);
		if (err == -ENOMEM || err == -EREMOTEIO)
			return err;
		err = 0;
	}
	return 0;
}

int query_gaps_events(struct query *q, const struct printer *p, const struct out_ctx *o)
{
	struct collect c = { .q = q };
	struct out_ctx po = *o;
	int err;

	flow_table_init(&c.seen);
	err = read_gaps_or_events(q, &c);
	if (err)
		goto cleanup;
	po.f = query_out_open(q);
	if (q->mode == MODE_GAPS) {
		if (c.n > 1)
			qsort(c.gaps, c.n, sizeof(*c.gaps), gap_cmp);
		p->gaps(&po, c.gaps, c.n);
	} else {
		p->events(&po, c.ev, query_order(q, c.ev, c.n, sizeof(*c.ev), event_cmp));
	}
	err = query_out_close(po.f);
cleanup:
	free(c.gaps);
	free(c.ev);
	flow_table_free(&c.seen);
	return err;
}
