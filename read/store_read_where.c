// SPDX-License-Identifier: MIT
/*
 * A struct sr_conn_filter as SQL, so SQLite discards rows before they reach C (and uses an
 * index, should a segment have one). The SQL side is a prefilter: callers re-check in C, so it
 * may return more rows than match, never fewer.
 */
#include <errno.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "schema_values.h"
#include "store_read_internal.h"

/* Binding values are collected while the SQL text is built, then bound in order. */
struct binds {
	enum { B_INT, B_BLOB, B_TEXT } type[512];
	int64_t i[512];
	uint8_t blob[512][16];
	int blen[512];
	const char *text[512];
	int n;
	bool overflow;
};

static void bind_int(struct binds *b, sqlite3_str *s, int64_t v)
{
	if (b->n >= 512) {
		b->overflow = true;
		return;
	}
	b->type[b->n] = B_INT;
	b->i[b->n++] = v;
	sqlite3_str_appendf(s, "?%d", b->n);
}

static void bind_blob(struct binds *b, sqlite3_str *s, const uint8_t *v, int len)
{
	if (b->n >= 512) {
		b->overflow = true;
		return;
	}
	b->type[b->n] = B_BLOB;
	memcpy(b->blob[b->n], v, (size_t)len);
	b->blen[b->n++] = len;
	sqlite3_str_appendf(s, "?%d", b->n);
}

static void port_terms(struct binds *b, sqlite3_str *s, const char *col,
		       const struct addr_port_range *r, size_t n, bool *first)
{
	for (size_t i = 0; i < n; i++) {
		sqlite3_str_appendf(s, "%s", *first ? "" : " OR ");
		*first = false;
		if (r[i].lo == r[i].hi) {
			sqlite3_str_appendf(s, "%s = ", col);
			bind_int(b, s, r[i].lo);
		} else {
			sqlite3_str_appendf(s, "%s BETWEEN ", col);
			bind_int(b, s, r[i].lo);
			sqlite3_str_appendall(s, " AND ");
			bind_int(b, s, r[i].hi);
		}
	}
}

/* " AND (...)" with the port ranges on col, or on either of col and col2. */
static void port_list(struct binds *b, sqlite3_str *s, const char *col, const char *col2,
		      const struct addr_port_range *r, size_t n)
{
	bool first = true;

	if (!n)
		return;
	sqlite3_str_appendall(s, " AND (");
	port_terms(b, s, col, r, n, &first);
	if (col2)
		port_terms(b, s, col2, r, n, &first);
	sqlite3_str_appendall(s, ")");
}

static void int_list(struct binds *b, sqlite3_str *s, const char *col, const uint32_t *v32,
		     const uint64_t *v64, size_t n)
{
	if (!n)
		return;
	sqlite3_str_appendf(s, " AND %s IN (", col);
	for (size_t i = 0; i < n; i++) {
		if (i)
			sqlite3_str_appendall(s, ",");
		bind_int(b, s, v32 ? (int64_t)v32[i] : (int64_t)v64[i]);
	}
	sqlite3_str_appendall(s, ")");
}

/* One blob range on both address columns (the addr filter matches either end). */
static void addr_range(struct binds *b, sqlite3_str *s, const uint8_t *lo, const uint8_t *hi,
		       int len, bool *first)
{
	static const char *const cols[] = { "c.raddr", "c.laddr" };

	for (int i = 0; i < 2; i++) {
		sqlite3_str_appendf(s, "%s%s BETWEEN ", *first ? "" : " OR ", cols[i]);
		*first = false;
		bind_blob(b, s, lo, len);
		sqlite3_str_appendall(s, " AND ");
		bind_blob(b, s, hi, len);
	}
}

/*
 * Address ranges for the CIDR list, or nothing when some CIDR could match v4 addresses through
 * the v4-mapped rule in a way a blob range cannot express (e.g. ::/0): then C filters alone.
 */
static void addr_terms(struct binds *b, sqlite3_str *s, const struct addr_cidr *c, size_t n)
{
	static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
	bool first = true;

	for (size_t i = 0; i < n; i++) {
		if (c[i].family == 6 && c[i].prefix < 96) {
			struct addr_cidr m = { .family = 6, .prefix = 128 };

			memcpy(m.addr, mapped, 12);
			if (addr_cidr_match(&c[i], m.addr, 16))
				return;
		}
	}
	sqlite3_str_appendall(s, " AND (");
	for (size_t i = 0; i < n; i++) {
		uint8_t lo[16], hi[16], lo2[16], hi2[16];

		addr_cidr_bounds(&c[i], lo, hi);
		if (c[i].family == 4) {
			addr_range(b, s, lo, hi, 4, &first);
			memcpy(lo2, mapped, 12);
			memcpy(hi2, mapped, 12);
			memcpy(lo2 + 12, lo, 4);
			memcpy(hi2 + 12, hi, 4);
			addr_range(b, s, lo2, hi2, 16, &first);
		} else {
			addr_range(b, s, lo, hi, 16, &first);
			if (c[i].prefix >= 96 && !memcmp(c[i].addr, mapped, 12))
				addr_range(b, s, lo + 12, hi + 12, 4, &first);
		}
	}
	sqlite3_str_appendall(s, ")");
}

/*
 * The conditions of f as SQL. FOLDED rows have their end at start_ns + dur_ns, so the window
 * and duration bounds are exact there; see sr_prepare_filtered().
 */
static void build_where(struct binds *b, sqlite3_str *s, const struct sr_conn_filter *f,
			bool folded)
{
	static const char folded_sql[] = "(c.flags & " CR_SQL(CR_FLAG_CARRIED) ") = 0 AND c.reason IS NOT NULL";

	if (folded)
		sqlite3_str_appendf(s, " AND %s", folded_sql);
	else if (f->skip_folded)
		sqlite3_str_appendf(s, " AND NOT (%s)", folded_sql);
	if (f->until != SR_TIME_MAX) {
		sqlite3_str_appendall(s, " AND c.start_ns <= ");
		bind_int(b, s, f->until);
	}
	if (f->since != SR_NO_TIME && folded) {
		sqlite3_str_appendall(s, " AND c.start_ns + c.dur_ns >= ");
		bind_int(b, s, f->since);
	} else if (f->since != SR_NO_TIME) {
		/* Carried copies, and rows without an end here, may end in another segment. */
		sqlite3_str_appendall(s, " AND (c.flags & " CR_SQL(CR_FLAG_CARRIED) " OR c.start_ns >= ");
		bind_int(b, s, f->since);
		sqlite3_str_appendall(s, " OR COALESCE(c.start_ns + c.dur_ns, e.end_ns) IS NULL"
					 " OR COALESCE(c.start_ns + c.dur_ns, e.end_ns) >= ");
		bind_int(b, s, f->since);
		sqlite3_str_appendall(s, ")");
	}
	if (folded && f->min_dur >= 0) {
		sqlite3_str_appendall(s, " AND c.dur_ns >= ");
		bind_int(b, s, f->min_dur);
	}
	if (folded && f->max_dur >= 0) {
		sqlite3_str_appendall(s, " AND c.dur_ns <= ");
		bind_int(b, s, f->max_dur);
	}
	if (folded && f->short_lived >= 0) {
		sqlite3_str_appendall(s, " AND c.dur_ns <= ");
		bind_int(b, s, f->short_lived);
		if (f->since != SR_NO_TIME) {
			sqlite3_str_appendall(s, " AND c.start_ns >= ");
			bind_int(b, s, f->since);
		}
		if (f->until != SR_TIME_MAX) {
			sqlite3_str_appendall(s, " AND c.start_ns + c.dur_ns <= ");
			bind_int(b, s, f->until);
		}
	}
	port_list(b, s, "c.lport", "c.rport", f->ports, f->n_ports);
	port_list(b, s, "c.lport", NULL, f->lports, f->n_lports);
	port_list(b, s, "c.rport", NULL, f->rports, f->n_rports);
	if (f->n_addrs)
		addr_terms(b, s, f->addrs, f->n_addrs);
	if (f->proto) {
		sqlite3_str_appendall(s, " AND c.proto = ");
		bind_int(b, s, f->proto);
	}
	if (f->dir >= 0) {
		sqlite3_str_appendall(s, " AND c.dir = ");
		bind_int(b, s, f->dir);
	}
	int_list(b, s, "p.pid", f->pids, NULL, f->n_pids);
	int_list(b, s, "p.uid", f->uids, NULL, f->n_uids);
	int_list(b, s, "p.netns", f->netns, NULL, f->n_netns);
	int_list(b, s, "p.cgroup", NULL, f->cgroups, f->n_cgroups);
	/* The same fnmatch() the caller applies, not GLOB: they differ on '\\', '?' and '['. */
	if (f->comm && b->n < 512) {
		b->type[b->n] = B_TEXT;
		b->text[b->n++] = f->comm;
		sqlite3_str_appendf(s, " AND cr_comm_match(?%d, p.comm)", b->n);
	}
}

/* ---- Functions the filter SQL calls ---- */

/*
 * cr_comm_match(pattern, comm): fnmatch(pattern, comm, 0) on the name as the row reader
 * returns it (cut to struct sr_conn's comm), so SQL keeps exactly the rows C would keep.
 */
static void comm_match(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	const unsigned char *pat = sqlite3_value_text(argv[0]);
	const unsigned char *name = sqlite3_value_text(argv[1]);
	char comm[sizeof(((struct sr_conn *)0)->comm)];

	(void)argc;
	if (!pat || !name) {
		sqlite3_result_int(ctx, 0);
		return;
	}
	snprintf(comm, sizeof(comm), "%s", (const char *)name);
	sqlite3_result_int(ctx, fnmatch((const char *)pat, comm, 0) == 0);
}

int sr_register_functions(sqlite3 *db)
{
	/* Direct-only: only our statements may call them, never the file's schema. */
	const int flags = SQLITE_UTF8 | SQLITE_DETERMINISTIC | SQLITE_DIRECTONLY;

	if (sqlite3_create_function(db, "cr_comm_match", 2, flags, NULL, comm_match, NULL, NULL) !=
	    SQLITE_OK)
		return -EIO;
	return 0;
}

bool sr_filter_needs_proc(const struct sr_conn_filter *f)
{
	return f->n_pids || f->n_uids || f->n_netns || f->n_cgroups || f->comm;
}

static int prepare_bound(sqlite3 *db, sqlite3_str *s, struct binds *b, sqlite3_stmt **st)
{
	char *sql = sqlite3_str_finish(s);
	int rc;

	if (!sql)
		return -ENOMEM;
	if (b->overflow) {
		sqlite3_free(sql);
		return -E2BIG;
	}
	rc = sqlite3_prepare_v2(db, sql, -1, st, NULL);
	sqlite3_free(sql);
	if (rc != SQLITE_OK)
		return -EBADMSG;
	/* Blobs are copied (TRANSIENT): the binds go before the statement does. */
	for (int i = 0; i < b->n; i++) {
		if (b->type[i] == B_INT)
			sqlite3_bind_int64(*st, i + 1, b->i[i]);
		else if (b->type[i] == B_BLOB)
			sqlite3_bind_blob(*st, i + 1, b->blob[i], b->blen[i], SQLITE_TRANSIENT);
		else
			sqlite3_bind_text(*st, i + 1, b->text[i], -1, SQLITE_STATIC);
	}
	return 0;
}

int sr_prepare_filtered(struct sr_segment *seg, const char *head, const struct sr_conn_filter *f,
			bool folded, sqlite3_stmt **st)
{
	/* About 20 KiB: kept off the stack. */
	struct binds *b = calloc(1, sizeof(*b));
	sqlite3_str *s;
	int err;

	if (!b)
		return -ENOMEM;
	s = sqlite3_str_new(seg->db);
	sqlite3_str_appendall(s, head);
	build_where(b, s, f, folded);
	err = prepare_bound(seg->db, s, b, st);
	free(b);
	return err;
}
