/* SPDX-License-Identifier: MIT */
/*
 * ClickHouse SQL text: literals, the DDL of the shipped tables, and the query filter of
 * read/ (struct sr_conn_filter) written in ClickHouse's dialect. Statements are built with
 * SQLite's string builder (sqlite3_str), which needs no database. Only syntax and functions
 * that ClickHouse 18.16 (Debian 12) and current releases share are used.
 */
#ifndef CONNREC_FLEET_CH_SQL_H
#define CONNREC_FLEET_CH_SQL_H

#include <sqlite3.h>
#include <stdbool.h>

#include "ch_rows.h"
#include "store_read.h"

/* 'text' with every byte that is not a plain printable character written as \xHH. */
void ch_sql_string(sqlite3_str *s, const void *v, size_t n);

/* "host, segment_id, attempt, segment_ns, <the table's columns>" (what RowBinary carries). */
void ch_sql_columns(sqlite3_str *s, const struct ch_table *t);

/* "CREATE TABLE IF NOT EXISTS db.t (...) ENGINE = ..." for one table. */
void ch_sql_create_table(sqlite3_str *s, const char *db, const struct ch_table *t);

/* The whole schema as `connrec ship --schema` prints it, with a commented Distributed example. */
void ch_sql_schema_text(sqlite3_str *s, const char *db);

/*
 * " AND ..." conditions of f on db.conn rows (a superset of the matches, as in read/), its lists
 * from f->sets or built here. 0 or -ENOMEM.
 */
int ch_sql_conn_filter(sqlite3_str *s, const struct sr_conn_filter *f);

/* What query's --exe, --args, --ppid, --container and --unit ask of a flow's process. */
struct ch_life_filter {
	const char *exe, *args, *container, *unit; /* NULL when not asked */
	int64_t ppid;				   /* -1 when not asked */
};

/*
 * " AND ..." on db.conn rows: their process life (host, pid, pstart_ns) has an image that
 * matches --exe, --args and --ppid in some segment of the host, and their cgroup is named
 * with a matching container or unit. A superset (C judges the image the flow began under,
 * and the boot); nothing when f asks nothing.
 */
void ch_sql_life_filter(sqlite3_str *s, const char *db, const struct ch_life_filter *f);

/* The text built in s ("" when empty), or NULL (out of memory). Free with sqlite3_free(). */
char *ch_sql_finish(sqlite3_str *s);

#endif /* CONNREC_FLEET_CH_SQL_H */
