// SPDX-License-Identifier: MIT
/*
 * The tables on the server: `ship --schema` prints their DDL, or with --to creates what is
 * missing (CREATE ... IF NOT EXISTS, then ALTER TABLE ADD COLUMN for columns a newer connrec
 * ships: 18.16 has no ADD COLUMN IF NOT EXISTS, so system.columns says what is there). Before
 * shipping, the same listing proves every column ship writes exists with its type.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ch_sql.h"
#include "log.h"
#include "ship.h"

/* The columns the server has in the database: "table\0name\0type\0" triples. */
struct server_cols {
	char (*v)[3][128];
	size_t n;
};

static int list_columns(struct ch_server *ch, struct server_cols *out, char *err, size_t errlen)
{
	sqlite3_str *q = sqlite3_str_new(NULL);
	struct ch_buf answer = { 0 };
	struct ch_reader r;
	char *sql;
	int ret;

	out->v = NULL;
	out->n = 0;
	sqlite3_str_appendall(q, "SELECT table, name, type FROM system.columns WHERE database = ");
	ch_sql_string(q, ch_database(ch), strlen(ch_database(ch)));
	sqlite3_str_appendall(q, " FORMAT RowBinary");
	sql = ch_sql_finish(q);
	if (!sql)
		return -ENOMEM;
	ret = ch_query(ch, sql, &answer, err, errlen);
	sqlite3_free(sql);
	r = (struct ch_reader){ answer.p, answer.p + answer.n };
	while (!ret && r.p < r.end) {
		char(*v)[3][128];

		/* A row takes 384 bytes here and may take 6 in the answer: bounded before growing. */
		if (out->n == SHIP_MAX_SERVER_COLUMNS) {
			snprintf(err, errlen, "%s: malformed answer listing columns (more than %d)",
				 ch_url(ch), SHIP_MAX_SERVER_COLUMNS);
			ret = -EBADMSG;
			break;
		}
		v = realloc(out->v, (out->n + 1) * sizeof(*v));
		if (!v) {
			ret = -ENOMEM;
			break;
		}
		out->v = v;
		for (int k = 0; k < 3 && !ret; k++)
			ret = ch_get_string(&r, v[out->n][k], sizeof(v[out->n][k]));
		if (ret)
			snprintf(err, errlen, "%s: malformed answer listing columns", ch_url(ch));
		out->n++;
	}
	ch_buf_free(&answer);
	return ret;
}

/* The server's type of table.col, or NULL when it has no such column. */
static const char *server_type(const struct server_cols *c, const char *table, const char *col)
{
	for (size_t i = 0; i < c->n; i++) {
		if (!strcmp(c->v[i][0], table) && !strcmp(c->v[i][1], col))
			return c->v[i][2];
	}
	return NULL;
}

static bool has_table(const struct server_cols *c, const char *table)
{
	for (size_t i = 0; i < c->n; i++) {
		if (!strcmp(c->v[i][0], table))
			return true;
	}
	return false;
}

int ship_check_tables(struct ship *s)
{
	const char *db = ch_database(s->ch);
	struct server_cols c;
	char type[48];
	int err = list_columns(s->ch, &c, s->err, sizeof(s->err));

	for (size_t t = 0; !err && t < ch_n_tables; t++) {
		const struct ch_table *tb = ch_tables[t];

		if (!has_table(&c, tb->name)) {
			snprintf(s->err, sizeof(s->err),
				 "%s: no table %s.%s (create the tables with: connrec ship"
				 " --schema --to URL)",
				 ch_url(s->ch), db, tb->name);
			err = -ENOENT;
			break;
		}
		for (size_t i = 0; !err && i < tb->n_cols; i++) {
			const char *have = server_type(&c, tb->name, tb->cols[i].name);

			ch_type_name(&tb->cols[i], type, sizeof(type));
			if (!have)
				snprintf(s->err, sizeof(s->err),
					 "%s: table %s.%s has no column %s (add it with: connrec"
					 " ship --schema --to URL)",
					 ch_url(s->ch), db, tb->name, tb->cols[i].name);
			else if (strcmp(have, type))
				snprintf(s->err, sizeof(s->err),
					 "%s: column %s.%s.%s is %.64s, connrec writes %s",
					 ch_url(s->ch), db, tb->name, tb->cols[i].name, have, type);
			if (!have || strcmp(have, type))
				err = -EPROTO;
		}
	}
	free(c.v);
	return err;
}

/* Runs one statement, saying which on error. */
static int run(struct ch_server *ch, char *sql, char *err, size_t errlen)
{
	int ret;

	if (!sql)
		return -ENOMEM;
	ret = ch_query(ch, sql, NULL, err, errlen);
	sqlite3_free(sql);
	return ret;
}

static int apply(struct ch_server *ch, char *err, size_t errlen)
{
	const char *db = ch_database(ch);
	struct server_cols c = { 0 };
	size_t created = 0, added = 0;
	char type[48];
	int ret;

	ret = run(ch, sqlite3_mprintf("CREATE DATABASE IF NOT EXISTS %s", db), err, errlen);
	if (!ret)
		ret = list_columns(ch, &c, err, errlen);
	for (size_t t = 0; !ret && t < ch_n_tables; t++) {
		const struct ch_table *tb = ch_tables[t];
		sqlite3_str *q;

		if (!has_table(&c, tb->name)) {
			q = sqlite3_str_new(NULL);
			ch_sql_create_table(q, db, tb);
			ret = run(ch, ch_sql_finish(q), err, errlen);
			created++;
			continue;
		}
		for (size_t i = 0; !ret && i < tb->n_cols; i++) {
			const struct ch_col *col = &tb->cols[i];

			if (server_type(&c, tb->name, col->name))
				continue;
			ret = run(ch,
				  sqlite3_mprintf("ALTER TABLE %s.%s ADD COLUMN %s %s AFTER %s", db,
						  tb->name, col->name,
						  ch_type_name(col, type, sizeof(type)),
						  i ? tb->cols[i - 1].name : "segment_ns"),
				  err, errlen);
			added++;
		}
	}
	free(c.v);
	if (!ret)
		fprintf(stderr, "connrec ship: %s: database %s: %zu table%s created, %zu column%s added\n",
			ch_url(ch), db, created, created == 1 ? "" : "s", added,
			added == 1 ? "" : "s");
	return ret;
}

int ship_schema(const struct ship_opts *o, bool to_server)
{
	struct ch_server *ch = NULL;
	char err[512];
	int ret;

	if (!to_server) {
		const char *db = o->ch.database ? o->ch.database : CH_DEFAULT_DATABASE;
		sqlite3_str *q;
		char *text;

		if (!ch_valid_database(db)) {
			cr_err("invalid --database '%.64s': 1-63 letters, digits or '_'", db);
			return -EINVAL;
		}
		q = sqlite3_str_new(NULL);
		ch_sql_schema_text(q, db);
		text = ch_sql_finish(q);
		if (!text)
			return -ENOMEM;
		fputs(text, stdout);
		sqlite3_free(text);
		return fflush(stdout) ? -EIO : 0;
	}
	ret = ch_open(&ch, &o->ch, err, sizeof(err));
	if (!ret)
		ret = apply(ch, err, sizeof(err));
	if (ret)
		cr_err("%s", err);
	ch_close(ch);
	return ret;
}
