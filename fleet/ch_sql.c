// SPDX-License-Identifier: MIT
/*
 * ClickHouse SQL: literals, DDL, and the query filter of read/ in ClickHouse's dialect.
 *
 * Values never reach SQL text unescaped: numbers are printed by printf, strings and address
 * bytes as '\xHH' literals. The filter is the reader's own (sr_filter_sql()), with column
 * expressions for the shipped conn table, so the server prefilters exactly as SQLite does
 * on a local segment and C checks every row again.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "ch_sql.h"
#include "schema_values.h"

void ch_sql_string(sqlite3_str *s, const void *v, size_t n)
{
	const unsigned char *p = v;

	sqlite3_str_appendchar(s, 1, '\'');
	for (size_t i = 0; i < n; i++) {
		if (p[i] >= 0x20 && p[i] < 0x7f && p[i] != '\'' && p[i] != '\\')
			sqlite3_str_appendchar(s, 1, (char)p[i]);
		else
			sqlite3_str_appendf(s, "\\x%02X", p[i]);
	}
	sqlite3_str_appendchar(s, 1, '\'');
}

char *ch_sql_finish(sqlite3_str *s)
{
	char *text;

	if (sqlite3_str_errcode(s)) {
		sqlite3_free(sqlite3_str_finish(s));
		return NULL;
	}
	text = sqlite3_str_finish(s);
	/* sqlite3_str_finish() gives NULL for "" too. */
	return text ? text : sqlite3_mprintf("%s", "");
}

/* ---- DDL ---- */

static const char key_cols[] = "host, segment_id, attempt, segment_ns";

void ch_sql_columns(sqlite3_str *s, const struct ch_table *t)
{
	sqlite3_str_appendall(s, key_cols);
	for (size_t i = 0; i < t->n_cols; i++)
		sqlite3_str_appendf(s, ", %s", t->cols[i].name);
}

void ch_sql_create_table(sqlite3_str *s, const char *db, const struct ch_table *t)
{
	char type[48];

	sqlite3_str_appendf(s,
			    "CREATE TABLE IF NOT EXISTS %s.%s\n(\n"
			    "    host String,\n"
			    "    segment_id UInt64,\n"
			    "    attempt UInt64,\n"
			    "    segment_ns Int64",
			    db, t->name);
	for (size_t i = 0; i < t->n_cols; i++)
		sqlite3_str_appendf(s, ",\n    %s %s", t->cols[i].name,
				    ch_type_name(&t->cols[i], type, sizeof(type)));
	/*
	 * Partitions by the month the segment was created, the same key in every table, so
	 * one segment lands in one partition of each, and dropping a month drops whole
	 * segments everywhere at once.
	 */
	sqlite3_str_appendf(s,
			    "\n)\nENGINE = MergeTree()\n"
			    "PARTITION BY toYYYYMM(toDateTime(intDiv(segment_ns, 1000000000)))\n"
			    "ORDER BY (%s)",
			    t->order_by);
}

void ch_sql_schema_text(sqlite3_str *s, const char *db)
{
	sqlite3_str_appendf(
		s,
		"-- connrec: tables for `connrec ship` and `connrec query --from` (ClickHouse 18.16\n"
		"-- and later). Apply with: connrec ship --schema --to URL, or clickhouse-client -n.\n"
		"-- A row belongs to the data once segments holds its (host, segment_id, attempt):\n"
		"-- rows of an interrupted shipping attempt stay invisible (docs/fleet.md).\n\n"
		"CREATE DATABASE IF NOT EXISTS %s;\n",
		db);
	for (size_t i = 0; i < ch_n_tables; i++) {
		sqlite3_str_appendall(s, "\n");
		ch_sql_create_table(s, db, ch_tables[i]);
		sqlite3_str_appendall(s, ";\n");
	}
	sqlite3_str_appendf(
		s,
		"\n-- Over a cluster: create the tables above on every shard (ON CLUSTER or each\n"
		"-- server), then one Distributed table per table on the servers that are asked,\n"
		"-- in a database of its own whose tables keep the same names, e.g. for conn:\n"
		"--\n"
		"--   CREATE DATABASE IF NOT EXISTS %s_all;\n"
		"--   CREATE TABLE %s_all.conn AS %s.conn\n"
		"--       ENGINE = Distributed(my_cluster, %s, conn, sipHash64(host));\n"
		"--\n"
		"-- Sharding by host keeps each host's segments on one shard. Ship to a shard's\n"
		"-- %s (or to %s_all with insert_distributed_sync=1 in the URL: ship counts the\n"
		"-- rows it wrote before it marks a segment shipped); query with --database %s_all.\n",
		db, db, db, db, db, db, db);
}

/* ---- the conn filter ---- */

static void put_int(void *ctx, sqlite3_str *s, int64_t v)
{
	(void)ctx;
	sqlite3_str_appendf(s, "%" PRId64, v);
}

static void put_blob(void *ctx, sqlite3_str *s, const uint8_t *v, int len)
{
	(void)ctx;
	ch_sql_string(s, v, (size_t)len);
}

/*
 * An fnmatch() pattern as LIKE. LIKE compares characters of UTF-8 where fnmatch() compares
 * bytes, so '?' (one byte) cannot be written exactly: both '*' and '?' become '%', a superset
 * that C narrows down; "\\c" is a literal c. Brackets, and a trailing '\\', are left to C.
 */
static void put_glob(void *ctx, sqlite3_str *s, const char *col, const char *pattern)
{
	char like[256];
	size_t o = 0;

	(void)ctx;
	if (strchr(pattern, '['))
		return;
	if (!strpbrk(pattern, "*?\\")) {
		sqlite3_str_appendf(s, " AND %s = ", col);
		ch_sql_string(s, pattern, strlen(pattern));
		return;
	}
	for (const char *p = pattern; *p; p++) {
		if (o + 3 >= sizeof(like))
			return; /* too long to write: C alone judges it */
		if (*p == '*' || *p == '?') {
			if (!o || like[o - 1] != '%' || (o > 1 && like[o - 2] == '\\'))
				like[o++] = '%';
			continue;
		}
		if (*p == '\\' && !*++p)
			return;
		if (*p == '%' || *p == '_' || *p == '\\')
			like[o++] = '\\';
		like[o++] = *p;
	}
	sqlite3_str_appendf(s, " AND %s LIKE ", col);
	ch_sql_string(s, like, o);
}

/*
 * Lists longer than these are left to C: written out they would pass ClickHouse's query size
 * limit (max_query_size, 256 KiB by default), and the SQL side only has to keep a superset.
 */
#define CH_MAX_PORT_RANGES 256
#define CH_MAX_ADDR_RANGES 64
#define CH_MAX_NUMBERS 2048

static bool port_set_too_long(void *ctx, sqlite3_str *s, size_t n_ranges,
			      const struct port_set *set, const char *col, const char *col2)
{
	(void)ctx, (void)s, (void)set, (void)col, (void)col2;
	return n_ranges > CH_MAX_PORT_RANGES;
}

static bool addr_set_too_long(void *ctx, sqlite3_str *s, const struct addr_set *set,
			      const char *col, const char *col2)
{
	(void)ctx, (void)s, (void)col, (void)col2;
	return set->n > CH_MAX_ADDR_RANGES;
}

static bool num_set_too_long(void *ctx, sqlite3_str *s, const struct num_set *set,
			     const char *col)
{
	(void)ctx, (void)s, (void)col;
	return set->n > CH_MAX_NUMBERS;
}

/* The conn table holds sr_conn rows: the end the segment knows is end_ns (NULL when none). */
static const struct sr_sql_dialect ch_dialect = {
	.folded = "bitAnd(flags, " CR_SQL(CR_FLAG_CARRIED) ") = 0 AND end_folded = 1",
	.carried = "bitAnd(flags, " CR_SQL(CR_FLAG_CARRIED) ") != 0",
	.start = "start_ns",
	.folded_end = "end_ns",
	.end = "end_ns",
	.dur = "(end_ns - start_ns)",
	.lport = "lport",
	.rport = "rport",
	.laddr = "laddr",
	.raddr = "raddr",
	.proto = "proto",
	.dir = "dir",
	.pid = "pid",
	.uid = "uid",
	.netns = "netns",
	.cgroup = "cgroup",
	.comm = "comm",
	.put_int = put_int,
	.put_blob = put_blob,
	.put_port_set = port_set_too_long,
	.put_addr_set = addr_set_too_long,
	.put_num_set = num_set_too_long,
	.put_glob = put_glob,
};

int ch_sql_conn_filter(sqlite3_str *s, const struct sr_conn_filter *f)
{
	struct match_sets own;
	int err = 0;

	if (f->sets) {
		sr_filter_sql(s, f, f->sets, false, &ch_dialect, NULL);
		return 0;
	}
	err = sr_match_sets_build(f, &own);
	if (err)
		return err;
	sr_filter_sql(s, f, &own, false, &ch_dialect, NULL);
	match_sets_free(&own);
	return 0;
}

/* " AND col LIKE 'prefix%'", the prefix taken literally. */
static void put_prefix(sqlite3_str *s, const char *col, const char *prefix)
{
	sqlite3_str *like = sqlite3_str_new(NULL);
	char *text;

	for (const char *p = prefix; *p; p++) {
		if (*p == '%' || *p == '_' || *p == '\\')
			sqlite3_str_appendchar(like, 1, '\\');
		sqlite3_str_appendchar(like, 1, *p);
	}
	sqlite3_str_appendchar(like, 1, '%');
	text = sqlite3_str_finish(like);
	sqlite3_str_appendf(s, " AND %s LIKE ", col);
	if (text)
		ch_sql_string(s, text, strlen(text));
	else
		sqlite3_str_appendall(s, "'%'"); /* out of memory: any, C judges */
	sqlite3_free(text);
}

void ch_sql_life_filter(sqlite3_str *s, const char *db, const struct ch_life_filter *f)
{
	/* ppid 0 also matches lives known only by their end: left to C. */
	if (f->exe || f->args || f->ppid > 0) {
		sqlite3_str_appendf(s, " AND (host, pid, pstart_ns) IN (SELECT host, pid, pstart_ns"
				       " FROM %s.life WHERE 1", db);
		if (f->exe)
			put_glob(NULL, s, "exe", f->exe);
		if (f->args) {
			char pat[512];

			if ((size_t)snprintf(pat, sizeof(pat), "*%s*", f->args) < sizeof(pat))
				put_glob(NULL, s, "args", pat);
		}
		if (f->ppid > 0)
			sqlite3_str_appendf(s, " AND ppid = %lld", (long long)f->ppid);
		sqlite3_str_appendall(s, ")");
	}
	/* The flow's own cgroup names its container and unit, with or without a life. */
	if (f->container || f->unit) {
		sqlite3_str_appendf(s, " AND (host, cgroup) IN (SELECT host, id FROM %s.cgroup"
				       " WHERE 1", db);
		if (f->container)
			put_prefix(s, "container", f->container);
		if (f->unit)
			put_glob(NULL, s, "unit", f->unit);
		sqlite3_str_appendall(s, ")");
	}
}
