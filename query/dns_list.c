// SPDX-License-Identifier: MIT
/*
 * --dns: the DNS answers the segments hold, filtered and printed. An answer carried into later
 * segments is listed once: of the rows with one (host, id), the original is kept, or one
 * carried copy when only copies were read.
 */
#include <errno.h>
#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>

#include "query.h"
#include "schema_values.h"

struct dns_list {
	struct query *q;
	struct out_dns *v;
	size_t n, cap;
};

static bool addr_in(const struct flow_filter *f, const uint8_t *a, size_t len)
{
	return addr_set_has(f->sets.addrs, a, len);
}

/* --name: the question or any record's name or target (DNS names: case-insensitive). */
static bool name_in(const char *glob, const struct sr_dns *d)
{
	if (!fnmatch(glob, d->qname, FNM_CASEFOLD))
		return true;
	for (size_t i = 0; i < d->n_rrs; i++) {
		const struct sr_dns_rr *r = &d->rrs[i];

		if (!fnmatch(glob, r->name, FNM_CASEFOLD) ||
		    (r->target && !fnmatch(glob, r->target, FNM_CASEFOLD)))
			return true;
	}
	return false;
}

/* --addr: either end of the answer's packet, or an address it holds. */
static bool addr_match(const struct flow_filter *f, const struct sr_dns *d)
{
	if (addr_in(f, d->laddr, d->laddr_len) || addr_in(f, d->raddr, d->raddr_len))
		return true;
	for (size_t i = 0; i < d->n_rrs; i++)
		if (d->rrs[i].addr_len && addr_in(f, d->rrs[i].addr, d->rrs[i].addr_len))
			return true;
	return false;
}

static bool dns_match(const struct flow_filter *f, const struct sr_dns *d)
{
	if (d->ts_ns > f->until || (f->since != SR_NO_TIME && d->ts_ns < f->since))
		return false;
	if (f->proto && d->proto != f->proto)
		return false;
	if (!flow_filter_ports(f, d->lport, d->rport))
		return false;
	if (!flow_filter_owner(f, d->pid, d->uid, d->netns, d->cgroup, d->comm))
		return false;
	if (f->sets.addrs && !addr_match(f, d))
		return false;
	if (f->name && !name_in(f->name, d))
		return false;
	return true;
}

/* A copy of d that owns its strings and records, in one allocation. */
static int keep(struct dns_list *l, const struct sr_dns *d)
{
	size_t size = d->n_rrs * sizeof(struct sr_dns_rr) + strlen(d->qname) + 1;
	struct sr_dns_rr *rrs;
	struct out_dns *x;
	char *p;

	for (size_t i = 0; i < d->n_rrs; i++)
		size += strlen(d->rrs[i].name) + 1 +
			(d->rrs[i].target ? strlen(d->rrs[i].target) + 1 : 0);
	if (l->n == l->cap) {
		size_t cap = l->cap ? 2 * l->cap : 256;
		struct out_dns *v = realloc(l->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		l->v = v;
		l->cap = cap;
	}
	rrs = malloc(size);
	if (!rrs)
		return -ENOMEM;
	p = (char *)(rrs + d->n_rrs);
	x = &l->v[l->n++];
	x->d = *d;
	x->host = l->q->cur_host;
	x->d.qname = strcpy(p, d->qname);
	p += strlen(d->qname) + 1;
	for (size_t i = 0; i < d->n_rrs; i++) {
		rrs[i] = d->rrs[i];
		rrs[i].name = strcpy(p, d->rrs[i].name);
		p += strlen(d->rrs[i].name) + 1;
		if (d->rrs[i].target) {
			rrs[i].target = strcpy(p, d->rrs[i].target);
			p += strlen(d->rrs[i].target) + 1;
		}
	}
	x->d.rrs = rrs;
	return 0;
}

static int on_dns(const struct sr_dns *d, void *ctx)
{
	struct dns_list *l = ctx;

	return dns_match(&l->q->ff, d) ? keep(l, d) : 0;
}

/* By host and id, the original (not carried) first. */
static int id_cmp(const void *a, const void *b)
{
	const struct out_dns *x = a, *y = b;
	int xc = (x->d.flags & CR_DNS_FLAG_CARRIED) != 0;
	int yc = (y->d.flags & CR_DNS_FLAG_CARRIED) != 0;

	if (x->host != y->host)
		return x->host < y->host ? -1 : 1;
	if (x->d.id != y->d.id)
		return x->d.id < y->d.id ? -1 : 1;
	return xc - yc;
}

/* One row per (host, id). */
static void dedup(struct dns_list *l)
{
	size_t k = 0;

	if (l->n > 1)
		qsort(l->v, l->n, sizeof(*l->v), id_cmp);
	for (size_t i = 0; i < l->n; i++) {
		if (k && l->v[k - 1].host == l->v[i].host && l->v[k - 1].d.id == l->v[i].d.id) {
			free((void *)l->v[i].d.rrs);
			continue;
		}
		l->v[k++] = l->v[i];
	}
	l->n = k;
}

static int dns_cmp(const void *a, const void *b)
{
	const struct out_dns *x = a, *y = b;

	if (x->d.ts_ns != y->d.ts_ns)
		return x->d.ts_ns < y->d.ts_ns ? -1 : 1;
	if (x->host != y->host)
		return x->host < y->host ? -1 : 1;
	return x->d.id < y->d.id ? -1 : x->d.id > y->d.id;
}

int query_dns(struct query *q, const struct printer *p, const struct out_ctx *o)
{
	struct dns_list l = { .q = q };
	int err = 0;

	for (size_t i = 0; i < q->n_slots; i++) {
		struct slot *s = &q->slots[i];

		/* One segment open at a time: its private copy is gone before the next. */
		if (s->skip || query_seg_open(q, s))
			continue;
		q->cur_host = s->host;
		err = slot_dns(q, s, q->ff.since, q->ff.until, on_dns, &l);
		query_seg_close(s);
		if (err == -ENOMEM)
			goto cleanup;
		if (err)
			query_seg_warn(q, s, err);
		err = 0;
	}
	dedup(&l);
	p->dns(o, l.v, query_order(q, l.v, l.n, sizeof(*l.v), dns_cmp));
cleanup:
	for (size_t i = 0; i < l.n; i++)
		free((void *)l.v[i].d.rrs);
	free(l.v);
	return err;
}
