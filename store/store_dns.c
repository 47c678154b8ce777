// SPDX-License-Identifier: MIT
/*
 * DNS answer rows (schema/004_dns.sql): their queue, how one is written, and the answers a new
 * segment carries.
 *
 * A flow is named at query time by the answers received before it began (docs/query.md). So
 * that one copied segment still names its flows, a segment opens with copies of the answers
 * that can still name a flow (within their TTL plus CR_DNS_GRACE_S), flagged carried and
 * keeping their ids, as it opens with copies of the connections still open.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "store_internal.h"

#define DNS_QUEUE_MAX (1U << 16) /* answers held while the disk is full */
#define DNS_LIVE_MAX (1U << 14)	 /* answers remembered for carrying */

static struct dns_row *row_at(const struct vec *q, size_t i)
{
	return *(struct dns_row **)vec_at(q, i);
}

/* Frees rows [0, k) of q and closes the hole. */
static void drop_front(struct vec *q, size_t k)
{
	if (!k)
		return;
	for (size_t i = 0; i < k; i++)
		free(row_at(q, i));
	vec_drop_front(q, k);
}

static size_t str_size(const char *s)
{
	return s ? strlen(s) + 1 : 0;
}

static char *put_str(char **p, const char *s)
{
	char *at = *p;
	size_t n = str_size(s);

	if (!s)
		return NULL;
	memcpy(at, s, n);
	*p += n;
	return at;
}

/* Until when this answer can name a flow; 0 when it holds no address. */
static int64_t valid_until(const struct store_dns *d)
{
	int64_t ttl = -1;

	for (size_t i = 0; i < d->n_rrs; i++) {
		const struct store_dns_rr *r = &d->rrs[i];

		if (r->type != CR_DNS_TYPE_A && r->type != CR_DNS_TYPE_AAAA)
			continue;
		ttl = (int64_t)r->ttl > ttl ? (int64_t)r->ttl : ttl;
	}
	if (ttl < 0)
		return 0;
	if (ttl > CR_DNS_MAX_TTL_S)
		ttl = CR_DNS_MAX_TTL_S;
	return d->ts_ns + (ttl + CR_DNS_GRACE_S) * NS_PER_SEC;
}

size_t dns_enforce_cap(struct store *s)
{
	size_t k;

	if (s->dns.n < DNS_QUEUE_MAX)
		return 0;
	k = s->dns.n / 8 + 1;
	drop_front(&s->dns, k);
	return k;
}

int store_add_dns(struct store *s, const struct store_dns *d)
{
	size_t size = sizeof(struct dns_row) + d->n_rrs * sizeof(struct store_dns_rr) +
		      str_size(d->qname);
	struct dns_row *row, **slot;
	size_t dropped;
	char *p;

	for (size_t i = 0; i < d->n_rrs; i++)
		size += str_size(d->rrs[i].name) + str_size(d->rrs[i].target);
	dropped = dns_enforce_cap(s);
	if (dropped) {
		s->stats.rows_dropped += dropped;
		s->stats.lost_events += dropped;
		s->dropped_in_fail += dropped;
		if (!s->fail_since_ns)
			s->fail_since_ns = seg_now_ns();
		cr_warn("store: queue full while the store cannot be written, dropped %zu DNS "
			"answers", dropped);
	}
	row = malloc(size);
	if (!row)
		return -ENOMEM;
	row->d = *d;
	p = (char *)&row->rrs[d->n_rrs];
	row->d.qname = put_str(&p, d->qname ? d->qname : "");
	for (size_t i = 0; i < d->n_rrs; i++) {
		row->rrs[i] = d->rrs[i];
		row->rrs[i].name = put_str(&p, d->rrs[i].name ? d->rrs[i].name : "");
		row->rrs[i].target = put_str(&p, d->rrs[i].target);
	}
	row->d.rrs = row->rrs;
	row->valid_until_ns = valid_until(d);
	slot = vec_push(&s->dns);
	if (!slot) {
		free(row);
		return -ENOMEM;
	}
	*slot = row;
	return 0;
}

static void bind_addr(sqlite3_stmt *st, int col, size_t len, const uint8_t *a)
{
	sqlite3_bind_blob(st, col, a, (int)len, SQLITE_STATIC);
}

static int step_insert(sqlite3_stmt *st)
{
	int rc = sqlite3_step(st);

	sqlite3_reset(st);
	return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

int writer_put_dns(struct writer *w, const struct store_dns *d, uint8_t extra_flags)
{
	sqlite3_stmt *st = w->st[ST_DNS];
	size_t alen = d->family == 4 ? 4 : 16;
	struct store_conn owner = {
		.pid = d->pid, .uid = d->uid, .netns = d->netns, .cgroup = d->cgroup,
		.pstart_ns = d->pstart_ns,
	};
	struct ckpt_rows *ck;
	int64_t proc = 0;
	int rc;

	memcpy(owner.comm, d->comm, sizeof(owner.comm));
	rc = writer_proc_of(w, &owner, &proc);
	if (rc != SQLITE_OK)
		return rc;
	sqlite3_bind_int64(st, 1, (int64_t)d->id);
	sqlite3_bind_int64(st, 2, d->ts_ns);
	sqlite3_bind_int64(st, 3, proc);
	sqlite3_bind_int(st, 4, d->proto);
	sqlite3_bind_int(st, 5, d->family);
	bind_addr(st, 6, alen, d->laddr);
	sqlite3_bind_int(st, 7, d->lport);
	bind_addr(st, 8, alen, d->raddr);
	sqlite3_bind_int(st, 9, d->rport);
	sqlite3_bind_int(st, 10, d->flags | extra_flags);
	sqlite3_bind_int(st, 11, d->txid);
	sqlite3_bind_text(st, 12, d->qname, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 13, d->qtype);
	sqlite3_bind_int(st, 14, d->rcode);
	rc = step_insert(st);
	ck = rc == SQLITE_OK ? writer_ck_rows(w) : NULL;
	if (ck) { /* the row as the file holds it, for the next checkpoint (ckpt_rows.h) */
		ckpt_row_begin(ck, CKPT_T_DNS, (int64_t)d->id);
		ckpt_row_int(ck, (int64_t)d->id);
		ckpt_row_int(ck, d->ts_ns);
		ckpt_row_int(ck, proc);
		ckpt_row_int(ck, d->proto);
		ckpt_row_int(ck, d->family);
		ckpt_row_blob(ck, d->laddr, alen);
		ckpt_row_int(ck, d->lport);
		ckpt_row_blob(ck, d->raddr, alen);
		ckpt_row_int(ck, d->rport);
		ckpt_row_int(ck, d->flags | extra_flags);
		ckpt_row_int(ck, d->txid);
		ckpt_row_text(ck, d->qname);
		ckpt_row_int(ck, d->qtype);
		ckpt_row_int(ck, d->rcode);
		ckpt_row_end(ck);
	}
	st = w->st[ST_DNS_ANSWER];
	for (size_t i = 0; rc == SQLITE_OK && i < d->n_rrs; i++) {
		const struct store_dns_rr *r = &d->rrs[i];

		sqlite3_bind_int64(st, 1, (int64_t)d->id);
		sqlite3_bind_int(st, 2, r->type);
		sqlite3_bind_text(st, 3, r->name, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 4, r->ttl);
		if (r->type == CR_DNS_TYPE_A || r->type == CR_DNS_TYPE_AAAA)
			bind_addr(st, 5, r->type == CR_DNS_TYPE_A ? 4 : 16, r->addr);
		else
			sqlite3_bind_null(st, 5);
		if (r->target)
			sqlite3_bind_text(st, 6, r->target, -1, SQLITE_STATIC);
		else
			sqlite3_bind_null(st, 6);
		rc = step_insert(st);
		if (rc != SQLITE_OK || !ck)
			continue;
		ckpt_row_begin(ck, CKPT_T_DNS_ANSWER, sqlite3_last_insert_rowid(w->db));
		ckpt_row_int(ck, (int64_t)d->id);
		ckpt_row_int(ck, r->type);
		ckpt_row_text(ck, r->name);
		ckpt_row_int(ck, r->ttl);
		if (r->type == CR_DNS_TYPE_A || r->type == CR_DNS_TYPE_AAAA)
			ckpt_row_blob(ck, r->addr, r->type == CR_DNS_TYPE_A ? 4 : 16);
		else
			ckpt_row_null(ck);
		if (r->target)
			ckpt_row_text(ck, r->target);
		else
			ckpt_row_null(ck);
		ckpt_row_end(ck);
	}
	return rc;
}

int dns_write_queued(struct store *s)
{
	int rc = SQLITE_OK;

	for (size_t i = 0; rc == SQLITE_OK && i < s->dns.n; i++) {
		const struct store_dns *d = &row_at(&s->dns, i)->d;

		rc = writer_put_dns(s->w, d, 0);
		/* A row SQLite refuses on its own (a duplicate id) must not block the rest. */
		if ((rc & 0xff) == SQLITE_CONSTRAINT) {
			if (s->stats.rows_rejected++ < 10)
				cr_warn("store: dns row %" PRIu64 " rejected: %s", d->id,
					sqlite3_errmsg(s->w->db));
			rc = SQLITE_OK;
		}
	}
	return rc;
}

/* Forgets the answers that can no longer name a flow. */
static void live_expire(struct store *s, int64_t now)
{
	size_t k = 0;

	for (size_t i = 0; i < s->dns_live.n; i++) {
		struct dns_row *r = row_at(&s->dns_live, i);

		if (r->valid_until_ns > now)
			*(struct dns_row **)vec_at(&s->dns_live, k++) = r;
		else
			free(r);
	}
	s->dns_live.n = k;
}

static void live_add(struct store *s, struct dns_row *r)
{
	struct dns_row **slot;

	if (s->dns_live.n >= DNS_LIVE_MAX) {
		live_expire(s, seg_now_ns());
		/* Still full (a flood of long-lived answers): the oldest are not carried. */
		if (s->dns_live.n >= DNS_LIVE_MAX)
			drop_front(&s->dns_live, s->dns_live.n / 8 + 1);
	}
	slot = vec_push(&s->dns_live);
	if (!slot) {
		free(r);
		return;
	}
	*slot = r;
}

void dns_after_commit(struct store *s)
{
	for (size_t i = 0; i < s->dns.n; i++) {
		struct dns_row *r = row_at(&s->dns, i);

		if (r->d.id >= s->next_conn_id)
			s->next_conn_id = r->d.id + 1;
		if (r->valid_until_ns)
			live_add(s, r);
		else
			free(r);
	}
	s->w->rows += s->dns.n;
	s->stats.dns_written += s->dns.n;
	s->dns.n = 0;
}

int dns_put_carried(struct store *s, struct writer *w)
{
	int rc = SQLITE_OK;

	live_expire(s, w->created_ns);
	for (size_t i = 0; rc == SQLITE_OK && i < s->dns_live.n; i++)
		rc = writer_put_dns(w, &row_at(&s->dns_live, i)->d, CR_DNS_FLAG_CARRIED);
	return rc;
}

void dns_free_all(struct store *s)
{
	drop_front(&s->dns, s->dns.n);
	drop_front(&s->dns_live, s->dns_live.n);
	vec_free(&s->dns);
	vec_free(&s->dns_live);
}
