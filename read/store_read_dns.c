// SPDX-License-Identifier: MIT
/*
 * The DNS answers of a segment (dns and dns_answer, schema version 3), one struct sr_dns per
 * answer with its records. One statement reads both tables joined, ordered by answer and
 * record; consecutive rows of one answer are gathered. The file may be hostile: counts and
 * string lengths are capped, addresses of a wrong size are left out.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "schema_values.h"
#include "store_read_internal.h"

/* Gathers the rows of one answer; names live in text until the callback returns. */
struct gather {
	struct sr_dns row;
	struct sr_dns_rr rrs[SR_DNS_MAX_RRS];
	/* qname, then each record's name and target, each at most SR_DNS_NAME_MAX bytes */
	char text[(2 * SR_DNS_MAX_RRS + 1) * SR_DNS_NAME_MAX];
	size_t used;
	bool open;
};

static const char *keep_text(struct gather *g, sqlite3_stmt *st, int col)
{
	const unsigned char *t = sqlite3_column_text(st, col);
	size_t n = t ? strnlen((const char *)t, SR_DNS_NAME_MAX - 1) : 0;
	char *at = g->text + g->used;

	if (g->used + n + 1 > sizeof(g->text))
		return "";
	memcpy(at, t ? (const char *)t : "", n);
	at[n] = '\0';
	g->used += n + 1;
	return at;
}

/* Columns 0..17: the answer and its owner. */
static void start_row(struct gather *g, sqlite3_stmt *st)
{
	struct sr_dns *r = &g->row;
	const unsigned char *comm;

	memset(r, 0, sizeof(*r));
	g->used = 0;
	g->open = true;
	r->id = sqlite3_column_int64(st, 0);
	r->ts_ns = sqlite3_column_int64(st, 1);
	r->proto = (uint8_t)sqlite3_column_int(st, 2);
	r->family = (uint8_t)sqlite3_column_int(st, 3);
	r->laddr_len = (uint8_t)sr_blob16(st, 4, r->laddr);
	r->lport = (uint16_t)sqlite3_column_int(st, 5);
	r->raddr_len = (uint8_t)sr_blob16(st, 6, r->raddr);
	r->rport = (uint16_t)sqlite3_column_int(st, 7);
	r->flags = (uint8_t)sqlite3_column_int(st, 8);
	r->txid = (uint16_t)sqlite3_column_int(st, 9);
	r->qname = keep_text(g, st, 10);
	r->qtype = (uint16_t)sqlite3_column_int(st, 11);
	r->rcode = (uint16_t)sqlite3_column_int(st, 12);
	r->pid = (uint32_t)sqlite3_column_int64(st, 13);
	comm = sqlite3_column_text(st, 14);
	snprintf(r->comm, sizeof(r->comm), "%s", comm ? (const char *)comm : "");
	r->uid = (uint32_t)sqlite3_column_int64(st, 15);
	r->netns = (uint32_t)sqlite3_column_int64(st, 16);
	r->cgroup = (uint64_t)sqlite3_column_int64(st, 17);
	r->rrs = g->rrs;
}

/* Columns 18..22: one record, when the LEFT JOIN found one. */
static void add_rr(struct gather *g, sqlite3_stmt *st)
{
	struct sr_dns *r = &g->row;
	struct sr_dns_rr *rr;
	size_t alen;

	if (sqlite3_column_type(st, 18) == SQLITE_NULL)
		return;
	if (r->n_rrs == SR_DNS_MAX_RRS) {
		r->n_rrs_dropped++;
		return;
	}
	rr = &g->rrs[r->n_rrs++];
	memset(rr, 0, sizeof(*rr));
	rr->type = (uint16_t)sqlite3_column_int(st, 18);
	rr->name = keep_text(g, st, 19);
	rr->ttl = (uint32_t)sqlite3_column_int64(st, 20);
	alen = sr_blob16(st, 21, rr->addr);
	if ((rr->type == 1 && alen == 4) || (rr->type == 28 && alen == 16))
		rr->addr_len = (uint8_t)alen;
	if (sqlite3_column_type(st, 22) != SQLITE_NULL)
		rr->target = keep_text(g, st, 22);
}

int sr_dns(struct sr_segment *seg, int64_t since, int64_t until,
	   int (*cb)(const struct sr_dns *row, void *ctx), void *ctx)
{
	static const char sql[] =
		"SELECT d.id, d.ts_ns, d.proto, d.family, d.laddr, d.lport, d.raddr, d.rport,"
		" d.flags, d.txid, d.qname, d.qtype, d.rcode,"
		" p.pid, p.comm, p.uid, p.netns, p.cgroup,"
		" a.type, a.name, a.ttl, a.addr, a.target"
		" FROM dns d LEFT JOIN proc p ON p.id = d.proc"
		" LEFT JOIN dns_answer a ON a.dns = d.id"
		" WHERE d.ts_ns BETWEEN ?1 AND ?2 ORDER BY d.id, a.rowid";
	struct gather *g = NULL;
	sqlite3_stmt *st = NULL;
	int rc, err = 0;

	if (seg->meta.schema_version < CR_SCHEMA_DNS)
		return 0;
	g = malloc(sizeof(*g));
	if (!g)
		return -ENOMEM;
	g->open = false;
	if (sqlite3_prepare_v2(seg->db, sql, -1, &st, NULL) != SQLITE_OK) {
		err = -EBADMSG;
		goto cleanup;
	}
	sqlite3_bind_int64(st, 1, since);
	sqlite3_bind_int64(st, 2, until);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (g->open && sqlite3_column_int64(st, 0) != g->row.id) {
			err = cb(&g->row, ctx);
			if (err)
				goto cleanup;
			g->open = false;
		}
		if (!g->open)
			start_row(g, st);
		add_rr(g, st);
	}
	if (rc != SQLITE_DONE) {
		err = -EBADMSG;
		goto cleanup;
	}
	if (g->open)
		err = cb(&g->row, ctx);
cleanup:
	sqlite3_finalize(st);
	free(g);
	return err;
}
