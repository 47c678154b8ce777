// SPDX-License-Identifier: MIT
/*
 * --procs: the process lives of the window, each with the number of its flows that the other
 * filters keep. query_lifetimes() has read the segments (and counted each flow for its life)
 * before this runs.
 *
 * A life is in the window when it ran during it: started by its end, and not ended before its
 * start (a life known only from its end counts from that end). --pid, --uid and --comm select
 * lives; --exe, --args, --ppid, --container and --unit select lives with an image that
 * matches; the flow filters (ports, addresses, protocol, direction, state, durations, netns,
 * cgroup) keep only lives with at least one matching flow.
 */
#include <errno.h>
#include <fnmatch.h>
#include <stdlib.h>

#include "query.h"

static bool flow_filters_set(const struct flow_filter *f)
{
	return f->n_ports || f->n_lports || f->n_rports || f->n_addrs || f->proto || f->dir >= 0 ||
	       f->n_netns || f->n_cgroups || f->states || f->min_dur >= 0 || f->max_dur >= 0 ||
	       f->short_lived >= 0;
}

static bool in_window(const struct flow_filter *ff, const struct who_life *l)
{
	int64_t start = l->first >= 0 ? l->start_ns : l->exit_ns;

	if (start > ff->until)
		return false;
	return ff->since == SR_NO_TIME || !l->has_exit || l->exit_ns >= ff->since;
}

/* Whether some image of l passes the image conditions (uid, comm and the who filters). */
static bool some_image(const struct query *q, const struct who_life *l)
{
	const struct who *w = &q->who;
	bool image_conds = q->ff.sets.uids || q->ff.comm || who_filter_set(&q->wf);

	if (l->first < 0)
		return !image_conds;
	for (int32_t i = l->first; i >= 0; i = w->images[i].next) {
		const struct who_image *m = &w->images[i];

		if (q->ff.sets.uids && !num_set_has(q->ff.sets.uids, m->uid))
			continue;
		if (q->ff.comm && fnmatch(q->ff.comm, m->comm, 0))
			continue;
		if (who_filter_match_image(&q->wf, w, l, m))
			return true;
	}
	return false;
}

static int proc_cmp(const void *a, const void *b)
{
	const struct out_proc *x = a, *y = b;
	int64_t sx = x->life->first >= 0 ? x->life->start_ns : x->life->exit_ns;
	int64_t sy = y->life->first >= 0 ? y->life->start_ns : y->life->exit_ns;

	if (sx != sy)
		return sx < sy ? -1 : 1;
	if (x->host != y->host)
		return x->host < y->host ? -1 : 1;
	if (x->life->pid != y->life->pid)
		return x->life->pid < y->life->pid ? -1 : 1;
	return x->life->pstart_ns < y->life->pstart_ns ? -1 : x->life->pstart_ns > y->life->pstart_ns;
}

int query_procs(struct query *q, const struct printer *p, const struct out_ctx *o)
{
	const struct who *w = &q->who;
	bool need_flows = flow_filters_set(&q->ff);
	struct out_proc *v = NULL;
	size_t n = 0;

	if (w->n_lives) {
		v = calloc(w->n_lives, sizeof(*v));
		if (!v)
			return -ENOMEM;
	}
	for (size_t i = 0; i < w->n_lives; i++) {
		const struct who_life *l = &w->lives[i];
		const struct who_image *m;

		if (!in_window(&q->ff, l) || (need_flows && !l->flows))
			continue;
		if (q->ff.sets.pids && !num_set_has(q->ff.sets.pids, l->pid))
			continue;
		if (!some_image(q, l))
			continue;
		m = who_last_image(w, l);
		v[n++] = (struct out_proc){
			.life = l,
			.image = m,
			.cgroup = m ? who_cgroup_of(w, l->boot, m->cgroup) : NULL,
			.host = who_boot_host(w, l->boot),
		};
	}
	p->procs(o, v, query_order(q, v, n, sizeof(*v), proc_cmp));
	free(v);
	return 0;
}
