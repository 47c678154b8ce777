// SPDX-License-Identifier: MIT
/*
 * A struct sr_conn_filter as SQL, so SQLite discards rows before they reach C (and uses an
 * index, should a segment have one). The SQL side is a prefilter: callers re-check in C, so it
 * may return more rows than match, never fewer. Lists (ports, addresses, process numbers) are
 * tested by functions on prebuilt sets (lib/match_set.h), not spelled out as SQL: a list of
 * 100,000 addresses costs a binary search per row, and no expression limit is ever reached.
 *
 * The conditions are written once, by sr_filter_sql(), for any SQL dialect: a dialect names
 * the column expressions and writes values and lists. The reader's own dialect (here) binds
 * values to a prepared statement; fleet/ writes the same conditions as ClickHouse SQL.
 */
#include <errno.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "match_set.h"
#include "schema_values.h"
#include "store_read_internal.h"

/* ---- The conditions, in any dialect ---- */

/* Ports on col (or either of col and col2): the set as a whole, or its ranges written out. */
static void port_cond(sqlite3_str *s, const struct sr_sql_dialect *d, void *ctx,
		      const struct addr_port_range *r, size_t n, const struct port_set *set,
		      const char *col, const char *col2)
{
	const char *cols[] = { col, col2 };

	if (!set || d->put_port_set(ctx, s, n, set, col, col2))
		return;
	sqlite3_str_appendall(s, " AND (0");
	for (size_t i = 0; i < n; i++) {
		for (int k = 0; k < 2 && cols[k]; k++) {
			/* One port is one comparison, not two (4% of a one-port scan in SQLite). */
			if (r[i].lo == r[i].hi) {
				sqlite3_str_appendf(s, " OR %s = ", cols[k]);
				d->put_int(ctx, s, r[i].lo);
				continue;
			}
			sqlite3_str_appendf(s, " OR %s BETWEEN ", cols[k]);
			d->put_int(ctx, s, r[i].lo);
			sqlite3_str_appendall(s, " AND ");
			d->put_int(ctx, s, r[i].hi);
		}
	}
	sqlite3_str_appendall(s, ")");
}

/* " OR (length(col) = len AND col BETWEEN lo AND hi)" for both address columns. */
static void addr_terms(sqlite3_str *s, const struct sr_sql_dialect *d, void *ctx,
		       const uint8_t *lo, const uint8_t *hi, int len)
{
	const char *const cols[] = { d->laddr, d->raddr };

	for (int k = 0; k < 2; k++) {
		sqlite3_str_appendf(s, " OR (length(%s) = %d AND %s BETWEEN ", cols[k], len,
				    cols[k]);
		d->put_blob(ctx, s, lo, len);
		sqlite3_str_appendall(s, " AND ");
		d->put_blob(ctx, s, hi, len);
		sqlite3_str_appendall(s, ")");
	}
}

/*
 * Addresses on either end: the set as a whole, or its ranges written out. A range is in the
 * 16-byte form with IPv4 as ::ffff:a.b.c.d (lib/match_set.h); its part inside ::ffff:0:0/96
 * also matches 4-byte addresses, and the length test keeps blob comparison exact.
 */
static void addr_cond(sqlite3_str *s, const struct sr_sql_dialect *d, void *ctx,
		      const struct addr_set *set)
{
	static const uint8_t m_lo[16] = { [10] = 0xff, [11] = 0xff };
	static const uint8_t m_hi[16] = { [10] = 0xff, [11] = 0xff, 0xff, 0xff, 0xff, 0xff };

	if (!set || d->put_addr_set(ctx, s, set, d->laddr, d->raddr))
		return;
	sqlite3_str_appendall(s, " AND (0");
	for (size_t i = 0; i < set->n; i++) {
		const uint8_t *lo = set->v[i].lo, *hi = set->v[i].hi;
		const uint8_t *in_lo = memcmp(lo, m_lo, 16) > 0 ? lo : m_lo;
		const uint8_t *in_hi = memcmp(hi, m_hi, 16) < 0 ? hi : m_hi;

		addr_terms(s, d, ctx, lo, hi, 16);
		if (memcmp(in_lo, in_hi, 16) <= 0)
			addr_terms(s, d, ctx, in_lo + 12, in_hi + 12, 4);
	}
	sqlite3_str_appendall(s, ")");
}

/* Numbers on col: the set as a whole, or "col IN (...)". */
static void num_cond(sqlite3_str *s, const struct sr_sql_dialect *d, void *ctx,
		     const struct num_set *set, const char *col)
{
	if (!set || d->put_num_set(ctx, s, set, col))
		return;
	sqlite3_str_appendf(s, " AND %s IN (", col);
	for (size_t i = 0; i < set->n; i++) {
		if (i)
			sqlite3_str_appendall(s, ",");
		d->put_int(ctx, s, (int64_t)set->v[i]);
	}
	sqlite3_str_appendall(s, ")");
}

void sr_filter_sql(sqlite3_str *s, const struct sr_conn_filter *f, const struct match_sets *m,
		   bool folded, const struct sr_sql_dialect *d, void *ctx)
{
	if (f->until != SR_TIME_MAX) {
		sqlite3_str_appendf(s, " AND %s <= ", d->start);
		d->put_int(ctx, s, f->until);
	}
	if (f->since != SR_NO_TIME && folded) {
		sqlite3_str_appendf(s, " AND %s >= ", d->folded_end);
		d->put_int(ctx, s, f->since);
	} else if (f->since != SR_NO_TIME) {
		/* Carried copies, and rows without an end here, may end in another segment. */
		sqlite3_str_appendf(s, " AND (%s OR %s >= ", d->carried, d->start);
		d->put_int(ctx, s, f->since);
		sqlite3_str_appendf(s, " OR %s IS NULL OR %s >= ", d->end, d->end);
		d->put_int(ctx, s, f->since);
		sqlite3_str_appendall(s, ")");
	}
	if (folded && f->min_dur >= 0) {
		sqlite3_str_appendf(s, " AND %s >= ", d->dur);
		d->put_int(ctx, s, f->min_dur);
	}
	if (folded && f->max_dur >= 0) {
		sqlite3_str_appendf(s, " AND %s <= ", d->dur);
		d->put_int(ctx, s, f->max_dur);
	}
	if (folded && f->short_lived >= 0) {
		sqlite3_str_appendf(s, " AND %s <= ", d->dur);
		d->put_int(ctx, s, f->short_lived);
		if (f->since != SR_NO_TIME) {
			sqlite3_str_appendf(s, " AND %s >= ", d->start);
			d->put_int(ctx, s, f->since);
		}
		if (f->until != SR_TIME_MAX) {
			sqlite3_str_appendf(s, " AND %s <= ", d->folded_end);
			d->put_int(ctx, s, f->until);
		}
	}
	port_cond(s, d, ctx, f->ports, f->n_ports, m->ports, d->lport, d->rport);
	port_cond(s, d, ctx, f->lports, f->n_lports, m->lports, d->lport, NULL);
	port_cond(s, d, ctx, f->rports, f->n_rports, m->rports, d->rport, NULL);
	addr_cond(s, d, ctx, m->addrs);
	if (f->proto) {
		sqlite3_str_appendf(s, " AND %s = ", d->proto);
		d->put_int(ctx, s, f->proto);
	}
	if (f->dir >= 0) {
		sqlite3_str_appendf(s, " AND %s = ", d->dir);
		d->put_int(ctx, s, f->dir);
	}
	num_cond(s, d, ctx, m->pids, d->pid);
	num_cond(s, d, ctx, m->uids, d->uid);
	num_cond(s, d, ctx, m->netns, d->netns);
	num_cond(s, d, ctx, m->cgroups, d->cgroup);
	if (f->comm)
		d->put_glob(ctx, s, d->comm, f->comm);
	/*
	 * Last: SQLite tests the terms in this order, and reason is conn's last column, the
	 * dearest to decode; a rare port first leaves it undecoded on most rows (a scan for one
	 * port over 416,666 rows: 504 M instructions with this test first, 288 M last).
	 */
	if (folded)
		sqlite3_str_appendf(s, " AND %s", d->folded);
	else if (f->skip_folded)
		sqlite3_str_appendf(s, " AND NOT (%s)", d->folded);
}

/* ---- The reader's dialect: SQLite, values bound to the statement ---- */


/* Binding values are collected while the SQL text is built, then bound in order. */
#define MAX_BINDS 128

struct binds {
	enum { B_INT, B_TEXT, B_PTR, B_BLOB } type[MAX_BINDS];
	int64_t i[MAX_BINDS];
	const char *text[MAX_BINDS];
	const void *ptr[MAX_BINDS];
	const char *ptr_type[MAX_BINDS];
	uint8_t blob[MAX_BINDS][16];
	int blen[MAX_BINDS];
	int n;
	bool overflow;
};

static void bind_int(void *ctx, sqlite3_str *s, int64_t v)
{
	struct binds *b = ctx;

	if (b->n >= MAX_BINDS) {
		b->overflow = true;
		return;
	}
	b->type[b->n] = B_INT;
	b->i[b->n++] = v;
	sqlite3_str_appendf(s, "?%d", b->n);
}

static void bind_blob(void *ctx, sqlite3_str *s, const uint8_t *v, int len)
{
	struct binds *b = ctx;

	if (b->n >= MAX_BINDS) {
		b->overflow = true;
		return;
	}
	b->type[b->n] = B_BLOB;
	memcpy(b->blob[b->n], v, (size_t)len);
	b->blen[b->n++] = len;
	sqlite3_str_appendf(s, "?%d", b->n);
}

/* A set, passed with sqlite3_bind_pointer(): SQL text can neither forge nor read it. */
static int bind_ptr(struct binds *b, const void *ptr, const char *type)
{
	if (b->n >= MAX_BINDS) {
		b->overflow = true;
		return 0;
	}
	b->type[b->n] = B_PTR;
	b->ptr[b->n] = ptr;
	b->ptr_type[b->n++] = type;
	return b->n;
}

#define PORT_SET_PTR "connrec_port_set"
#define ADDR_SET_PTR "connrec_addr_set"
#define NUM_SET_PTR "connrec_num_set"

/*
 * Short lists are written out as comparisons, which SQLite evaluates several times faster
 * than a call of the set functions (on 2M rows, --addr with one block: 0.17 s of CPU against
 * 0.33 s); longer ones go to the functions, whose cost does not grow with the list. Both are
 * exact, so either way SQL keeps exactly what C keeps.
 */
#define INLINE_PORT_RANGES 8
#define INLINE_ADDR_RANGES 4

/* " AND fn(?N, col[, col2])": a set on one column, or on either of two (one call). */
static void set_cond(struct binds *b, sqlite3_str *s, const char *fn, const void *set,
		     const char *type, const char *col, const char *col2)
{
	sqlite3_str_appendf(s, " AND %s(?%d, %s%s%s)", fn, bind_ptr(b, set, type), col,
			    col2 ? ", " : "", col2 ? col2 : "");
}

static bool bind_port_set(void *ctx, sqlite3_str *s, size_t n_ranges, const struct port_set *set,
			  const char *col, const char *col2)
{
	if (n_ranges <= INLINE_PORT_RANGES)
		return false;
	set_cond(ctx, s, "cr_port_in", set, PORT_SET_PTR, col, col2);
	return true;
}

static bool bind_addr_set(void *ctx, sqlite3_str *s, const struct addr_set *set,
			  const char *col, const char *col2)
{
	if (set->n <= INLINE_ADDR_RANGES)
		return false;
	set_cond(ctx, s, "cr_addr_in", set, ADDR_SET_PTR, col, col2);
	return true;
}

static bool bind_num_set(void *ctx, sqlite3_str *s, const struct num_set *set, const char *col)
{
	set_cond(ctx, s, "cr_num_in", set, NUM_SET_PTR, col, NULL);
	return true;
}

/* The same fnmatch() the caller applies, not GLOB: they differ on '\\', '?' and '['. */
static void bind_glob(void *ctx, sqlite3_str *s, const char *col, const char *pattern)
{
	struct binds *b = ctx;

	/* Out of parameters: C judges the name alone (the SQL side is only a prefilter). */
	if (b->n >= MAX_BINDS)
		return;
	b->type[b->n] = B_TEXT;
	b->text[b->n++] = pattern;
	sqlite3_str_appendf(s, " AND cr_comm_match(?%d, %s)", b->n, col);
}

/*
 * The reader's rows: conn c, proc p and the segment's own conn_end e. A FOLDED row has its
 * end at start_ns + dur_ns, so the window and duration bounds are exact there.
 */
static const struct sr_sql_dialect sqlite_dialect = {
	.folded = SR_SQL_FOLDED,
	.carried = "c.flags & " CR_SQL(CR_FLAG_CARRIED),
	.start = "c.start_ns",
	.folded_end = "c.start_ns + c.dur_ns",
	.end = "COALESCE(c.start_ns + c.dur_ns, e.end_ns)",
	.dur = "c.dur_ns",
	.lport = "c.lport",
	.rport = "c.rport",
	.laddr = "c.laddr",
	.raddr = "c.raddr",
	.proto = "c.proto",
	.dir = "c.dir",
	.pid = "p.pid",
	.uid = "p.uid",
	.netns = "p.netns",
	.cgroup = "p.cgroup",
	.comm = "p.comm",
	.put_int = bind_int,
	.put_blob = bind_blob,
	.put_port_set = bind_port_set,
	.put_addr_set = bind_addr_set,
	.put_num_set = bind_num_set,
	.put_glob = bind_glob,
};

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

/*
 * cr_port_in(set, port[, port2]), cr_addr_in(set, addr[, addr2]), cr_num_in(set, n): whether
 * a column's value (or either of two) is in a set of the filter, the same test the C filter
 * makes. A missing set (never passed by our SQL) keeps the row: SQL may only keep too much.
 */
static void port_in(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	const struct port_set *set = sqlite3_value_pointer(argv[0], PORT_SET_PTR);
	bool hit = !set;

	for (int i = 1; i < argc && !hit; i++) {
		sqlite3_int64 port = sqlite3_value_int64(argv[i]);

		hit = port >= 0 && port <= 65535 && port_set_has(set, (uint16_t)port);
	}
	sqlite3_result_int(ctx, hit);
}

static void addr_in(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	const struct addr_set *set = sqlite3_value_pointer(argv[0], ADDR_SET_PTR);
	bool hit = !set;

	for (int i = 1; i < argc && !hit; i++) {
		const void *addr = sqlite3_value_blob(argv[i]);

		hit = addr && addr_set_has(set, addr, (size_t)sqlite3_value_bytes(argv[i]));
	}
	sqlite3_result_int(ctx, hit);
}

static void num_in(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	const struct num_set *set = sqlite3_value_pointer(argv[0], NUM_SET_PTR);

	(void)argc;
	sqlite3_result_int(ctx, !set || num_set_has(set, (uint64_t)sqlite3_value_int64(argv[1])));
}

int sr_register_functions(sqlite3 *db)
{
	/* Direct-only: only our statements may call them, never the file's schema. */
	static const struct {
		const char *name;
		int args;
		void (*fn)(sqlite3_context *, int, sqlite3_value **);
	} fns[] = {
		{ "cr_comm_match", 2, comm_match }, { "cr_port_in", 2, port_in },
		{ "cr_port_in", 3, port_in },	    { "cr_addr_in", 2, addr_in },
		{ "cr_addr_in", 3, addr_in },	    { "cr_num_in", 2, num_in },
	};
	const int flags = SQLITE_UTF8 | SQLITE_DETERMINISTIC | SQLITE_DIRECTONLY;

	for (size_t i = 0; i < sizeof(fns) / sizeof(fns[0]); i++) {
		if (sqlite3_create_function(db, fns[i].name, fns[i].args, flags, NULL, fns[i].fn,
					    NULL, NULL) != SQLITE_OK)
			return -EIO;
	}
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
	for (int i = 0; i < b->n; i++) {
		if (b->type[i] == B_INT)
			sqlite3_bind_int64(*st, i + 1, b->i[i]);
		else if (b->type[i] == B_PTR)
			sqlite3_bind_pointer(*st, i + 1, (void *)b->ptr[i], b->ptr_type[i], NULL);
		else if (b->type[i] == B_BLOB)
			sqlite3_bind_blob(*st, i + 1, b->blob[i], b->blen[i], SQLITE_TRANSIENT);
		else
			sqlite3_bind_text(*st, i + 1, b->text[i], -1, SQLITE_STATIC);
	}
	return 0;
}

/* Whether a sealed segment's span is known: then it covers every time in its rows. */
static bool span_known(const struct sr_meta *meta)
{
	return meta->sealed && meta->first_ns != SR_NO_TIME && meta->last_ns != SR_NO_TIME;
}

bool sr_window_holds_segment(const struct sr_meta *meta, const struct sr_conn_filter *f)
{
	return span_known(meta) && (f->since == SR_NO_TIME || f->since <= meta->first_ns) &&
	       (f->until == SR_TIME_MAX || f->until >= meta->last_ns);
}

bool sr_filter_is_window_only(const struct sr_conn_filter *f)
{
	return !f->n_ports && !f->n_lports && !f->n_rports && !f->n_addrs && !f->proto &&
	       f->dir < 0 && !sr_filter_needs_proc(f) && f->min_dur < 0 && f->max_dur < 0 &&
	       f->short_lived < 0;
}

int64_t sr_zones_from_id(const struct sr_segment *seg, const struct sr_conn_filter *f)
{
	/* A lying zone would hide rows: only the recorder's own bytes are taken at their word. */
	if (!seg->vouched || f->since == SR_NO_TIME || !span_known(&seg->meta) ||
	    f->since <= seg->meta.first_ns)
		return INT64_MIN;
	return conn_zones_first_id(&seg->meta.zones, f->since);
}

int sr_prepare_filtered(struct sr_segment *seg, const char *head, const struct sr_conn_filter *f,
			const struct match_sets *m, bool folded, int64_t from_id, sqlite3_stmt **st)
{
	struct binds b = { .n = 0 };
	sqlite3_str *s = sqlite3_str_new(seg->db);
	struct sr_conn_filter inside;

	/*
	 * A sealed segment's meta span covers every time in its rows (the writer computes it,
	 * verify checks it, and query already skips segments by it). A window end beyond the
	 * span is true of every row, and its terms cost a column decode per row: left out.
	 */
	if (span_known(&seg->meta) &&
	    ((f->since != SR_NO_TIME && f->since <= seg->meta.first_ns) ||
	     (f->until != SR_TIME_MAX && f->until >= seg->meta.last_ns))) {
		inside = *f;
		if (f->since <= seg->meta.first_ns)
			inside.since = SR_NO_TIME;
		if (f->until >= seg->meta.last_ns)
			inside.until = SR_TIME_MAX;
		f = &inside;
	}
	sqlite3_str_appendall(s, head);
	/* First, so that SQLite starts its scan of conn there (a rowid range). */
	if (from_id != INT64_MIN) {
		sqlite3_str_appendall(s, " AND c.id >= ");
		bind_int(&b, s, from_id);
	}
	sr_filter_sql(s, f, m, folded, &sqlite_dialect, &b);
	return prepare_bound(seg->db, s, &b, st);
}

int sr_match_sets_build(const struct sr_conn_filter *f, struct match_sets *out)
{
	int err = 0;

	memset(out, 0, sizeof(*out));
	if (f->n_ports)
		err = port_set_build(f->ports, f->n_ports, &out->ports);
	if (!err && f->n_lports)
		err = port_set_build(f->lports, f->n_lports, &out->lports);
	if (!err && f->n_rports)
		err = port_set_build(f->rports, f->n_rports, &out->rports);
	if (!err && f->n_addrs) {
		out->addrs = calloc(1, sizeof(*out->addrs));
		err = out->addrs ? addr_set_build(f->addrs, f->n_addrs, out->addrs) : -ENOMEM;
	}
	struct {
		struct num_set **set;
		const uint32_t *v32;
		const uint64_t *v64;
		size_t n;
	} nums[] = {
		{ &out->pids, f->pids, NULL, f->n_pids },
		{ &out->uids, f->uids, NULL, f->n_uids },
		{ &out->netns, f->netns, NULL, f->n_netns },
		{ &out->cgroups, NULL, f->cgroups, f->n_cgroups },
	};
	for (size_t i = 0; !err && i < sizeof(nums) / sizeof(nums[0]); i++) {
		if (!nums[i].n)
			continue;
		*nums[i].set = calloc(1, sizeof(**nums[i].set));
		err = *nums[i].set
			      ? num_set_build(nums[i].v32, nums[i].v64, nums[i].n, *nums[i].set)
			      : -ENOMEM;
	}
	if (err)
		match_sets_free(out);
	return err;
}

int sr_filter_sets(const struct sr_conn_filter *f, struct match_sets *own,
		   const struct match_sets **sets)
{
	memset(own, 0, sizeof(*own));
	*sets = f->sets;
	if (f->sets)
		return 0;
	*sets = own;
	return sr_match_sets_build(f, own);
}
