// SPDX-License-Identifier: MIT
/*
 * A slot's rows: from its local segment through the evidence reader, or from the server
 * (remote.c). lifetimes.c and events.c read every slot through these calls, so a question
 * asked with --from is answered by the same code as one asked of files.
 */
#include <errno.h>

#include "query.h"
#include "remote.h"

const char *slot_errmsg(const struct query *q, const struct slot *s)
{
	return s->seg ? sr_errmsg(s->seg) : remote_errmsg(q);
}

int slot_conns(struct query *q, struct slot *s, const struct sr_conn_filter *f,
	       int (*cb)(const struct sr_conn *row, void *ctx), void *ctx)
{
	return s->remote ? remote_conns(q, s, f, cb, ctx) : sr_conns(s->seg, f, cb, ctx);
}

/* Only local: --count counts in SQL only where a segment is a file (filter.c). */
int slot_count_folded(struct query *q, struct slot *s, const struct sr_conn_filter *f,
		      uint64_t *count)
{
	(void)q;
	return s->seg ? sr_count_folded(s->seg, f, count) : -EINVAL;
}

bool slot_count_pays(struct query *q, struct slot *s, const struct sr_conn_filter *f)
{
	(void)q;
	return s->seg && sr_count_pays(s->seg, f);
}

int slot_read_who(struct query *q, struct slot *s)
{
	return s->remote ? remote_who(q, s, s->boot) : who_read_segment(&q->who, s->seg, s->boot);
}

/* DNS answers are not shipped yet: a remote slot has none (--dns and --name refuse --from). */
int slot_dns(struct query *q, struct slot *s, int64_t since, int64_t until,
	     int (*cb)(const struct sr_dns *row, void *ctx), void *ctx)
{
	(void)q;
	return s->remote ? 0 : sr_dns(s->seg, since, until, cb, ctx);
}

int slot_end_by_id(struct query *q, struct slot *s, int64_t id, struct sr_end *out)
{
	return s->remote ? remote_end_by_id(q, s, id, out) : sr_end_by_id(s->seg, id, out);
}

int slot_ends(struct query *q, struct slot *s, int64_t since, int64_t until,
	      int (*cb)(const struct sr_end *row, void *ctx), void *ctx)
{
	return s->remote ? remote_ends(q, s, since, until, cb, ctx)
			 : sr_ends(s->seg, since, until, cb, ctx);
}

int slot_gaps(struct query *q, struct slot *s, int64_t since, int64_t until,
	      int (*cb)(const struct sr_gap *row, void *ctx), void *ctx)
{
	return s->remote ? remote_gaps(q, s, since, until, cb, ctx)
			 : sr_gaps(s->seg, since, until, cb, ctx);
}

int slot_runs(struct query *q, struct slot *s, int (*cb)(const struct sr_run *row, void *ctx),
	      void *ctx)
{
	return s->remote ? remote_runs(q, s, cb, ctx) : sr_runs(s->seg, cb, ctx);
}
