// SPDX-License-Identifier: MIT
/*
 * The schema check of the evidence reader: a segment's sqlite_schema must hold exactly the
 * objects of the embedded schema files for its user_version (schema/001..N), plus any that
 * sealing adds (schema/seal.sql). Anything else, such as an extra trigger or view, or an
 * altered table, is refused by name before any row is read.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "schema.h"
#include "store_read_internal.h"

int sr_first_text(sqlite3 *db, const char *sql, char *out, size_t len)
{
	sqlite3_stmt *st = NULL;
	int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);

	if (rc == SQLITE_OK)
		rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		const unsigned char *t = sqlite3_column_text(st, 0);

		snprintf(out, len, "%s", t ? (const char *)t : "");
		rc = SQLITE_OK;
	} else if (rc == SQLITE_DONE) {
		out[0] = '\0';
		rc = SQLITE_OK;
	}
	sqlite3_finalize(st);
	return rc;
}

/* One schema object as sqlite_schema lists it (the rootpage differs per file, so it is out). */
struct schema_obj {
	char *type, *name, *tbl, *sql;
};

struct schema_set {
	struct schema_obj *v;
	size_t n;
};

static void schema_set_free(struct schema_set *s)
{
	for (size_t i = 0; i < s->n; i++) {
		free(s->v[i].type);
		free(s->v[i].name);
		free(s->v[i].tbl);
		free(s->v[i].sql);
	}
	free(s->v);
	s->v = NULL;
	s->n = 0;
}

static char *dup_col(sqlite3_stmt *st, int i)
{
	const unsigned char *t = sqlite3_column_text(st, i);

	return strdup(t ? (const char *)t : "");
}

static int schema_read(sqlite3 *db, struct schema_set *out)
{
	sqlite3_stmt *st = NULL;
	int rc, err = 0;

	rc = sqlite3_prepare_v2(db, "SELECT type, name, tbl_name, sql FROM sqlite_schema", -1, &st,
				NULL);
	if (rc != SQLITE_OK)
		return -EBADMSG;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct schema_obj *v = realloc(out->v, (out->n + 1) * sizeof(*v));

		if (!v) {
			err = -ENOMEM;
			goto cleanup;
		}
		out->v = v;
		v[out->n] = (struct schema_obj){ dup_col(st, 0), dup_col(st, 1), dup_col(st, 2),
						 dup_col(st, 3) };
		out->n++;
		if (!v[out->n - 1].type || !v[out->n - 1].name || !v[out->n - 1].tbl ||
		    !v[out->n - 1].sql) {
			err = -ENOMEM;
			goto cleanup;
		}
	}
	if (rc != SQLITE_DONE)
		err = -EBADMSG;
cleanup:
	sqlite3_finalize(st);
	return err;
}

static const struct schema_obj *schema_find(const struct schema_set *s, const struct schema_obj *o)
{
	for (size_t i = 0; i < s->n; i++) {
		if (!strcmp(s->v[i].type, o->type) && !strcmp(s->v[i].name, o->name) &&
		    !strcmp(s->v[i].tbl, o->tbl) && !strcmp(s->v[i].sql, o->sql))
			return &s->v[i];
	}
	return NULL;
}

/* The embedded schema files, in order, into a scratch database. */
static int exec_all(sqlite3 *db, const char *const *sql, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		if (sqlite3_exec(db, sql[i], NULL, NULL, NULL) != SQLITE_OK)
			return -EINVAL;
	}
	return 0;
}

/*
 * The objects a version-V segment must have (schema/001..V applied) and those sealing may
 * add (schema/seal.sql), built from the embedded SQL in a private in-memory database. Built
 * once per version and kept: a query opens many segments.
 */
static int expected_schema(int version, struct schema_set *base, struct schema_set *seal)
{
	static struct schema_set cache_base, cache_seal;
	static int cache_version;
	sqlite3 *mem = NULL;
	struct schema_set all = { 0 };
	int err = 0;

	if (cache_version == version) {
		*base = cache_base;
		*seal = cache_seal;
		return 0;
	}
	schema_set_free(&cache_base);
	schema_set_free(&cache_seal);
	cache_version = 0;
	if (sqlite3_open_v2(":memory:", &mem, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK) {
		err = -ENOMEM;
		goto cleanup;
	}
	err = exec_all(mem, schema_sql, (unsigned)version);
	if (!err)
		err = schema_read(mem, &cache_base);
	if (err)
		goto cleanup;
	err = exec_all(mem, seal_sql, seal_sql_count);
	if (!err)
		err = schema_read(mem, &all);
	if (err)
		goto cleanup;
	for (size_t i = 0; i < all.n; i++) {
		struct schema_obj *v;

		if (schema_find(&cache_base, &all.v[i]))
			continue;
		v = realloc(cache_seal.v, (cache_seal.n + 1) * sizeof(*v));
		if (!v) {
			err = -ENOMEM;
			goto cleanup;
		}
		cache_seal.v = v;
		v[cache_seal.n++] = all.v[i];
		all.v[i] = (struct schema_obj){ 0 };
	}
	cache_version = version;
	*base = cache_base;
	*seal = cache_seal;
cleanup:
	schema_set_free(&all); /* the objects moved into cache_seal were zeroed there */
	sqlite3_close(mem);
	if (err) {
		schema_set_free(&cache_base);
		schema_set_free(&cache_seal);
	}
	return err;
}

static bool has_table(const struct schema_set *s, const char *name)
{
	for (size_t i = 0; i < s->n; i++) {
		if (!strcmp(s->v[i].type, "table") && !strcmp(s->v[i].name, name))
			return true;
	}
	return false;
}

/*
 * ANALYZE's statistics tables, in exactly the shape SQLite creates them: they only steer the
 * planner (connrec never writes them, but ANALYZE on a copy does). Any other sqlite_stat*
 * object, or one with other columns, is refused like any unexpected object.
 */
static bool is_stat_table(const struct schema_obj *o)
{
	static const struct schema_obj stats[] = {
		{ "table", "sqlite_stat1", "sqlite_stat1", "CREATE TABLE sqlite_stat1(tbl,idx,stat)" },
		{ "table", "sqlite_stat4", "sqlite_stat4",
		  "CREATE TABLE sqlite_stat4(tbl,idx,neq,nlt,ndlt,sample)" },
	};
	const struct schema_set allowed = { (struct schema_obj *)stats,
					    sizeof(stats) / sizeof(stats[0]) };

	return schema_find(&allowed, o) != NULL;
}

int sr_check_schema(sqlite3 *db, int *version_out, char *errbuf, size_t errlen)
{
	struct schema_set have = { 0 }, base = { 0 }, seal = { 0 };
	char uv[32], names[200] = "";
	long version;
	int err;

	err = schema_read(db, &have);
	if (err) {
		sr_set_err(errbuf, errlen, "cannot read the schema: %s", sqlite3_errmsg(db));
		goto cleanup;
	}
	if (!has_table(&have, "meta") || !has_table(&have, "conn")) {
		size_t o = 0;

		for (size_t i = 0; i < have.n && o < sizeof(names) - 1; i++) {
			if (strcmp(have.v[i].type, "table"))
				continue;
			o += (size_t)snprintf(names + o, sizeof(names) - o, "%s%.40s",
					      o ? ", " : "", have.v[i].name);
		}
		sr_set_err(errbuf, errlen,
			   "not a connrec segment: a foreign SQLite database (tables: %s)",
			   have.n ? names : "none");
		err = -EMEDIUMTYPE;
		goto cleanup;
	}
	if (sr_first_text(db, "PRAGMA user_version", uv, sizeof(uv)) != SQLITE_OK) {
		sr_set_err(errbuf, errlen, "cannot read the schema version: %s",
			   sqlite3_errmsg(db));
		err = -EBADMSG;
		goto cleanup;
	}
	version = strtol(uv, NULL, 10);
	if (version > (long)schema_sql_count) {
		sr_set_err(errbuf, errlen,
			   "schema version %ld is newer than this connrec reads (%u): use a newer "
			   "connrec",
			   version, schema_sql_count);
		err = -EPROTONOSUPPORT;
		goto cleanup;
	}
	if (version < 1) {
		sr_set_err(errbuf, errlen, "unknown schema version %ld", version);
		err = -EPROTONOSUPPORT;
		goto cleanup;
	}
	err = expected_schema((int)version, &base, &seal);
	if (err) {
		sr_set_err(errbuf, errlen, "cannot build the expected schema (%s)", strerror(-err));
		goto cleanup;
	}
	for (size_t i = 0; i < have.n; i++) {
		const struct schema_obj *o = &have.v[i];

		if (schema_find(&base, o) || schema_find(&seal, o))
			continue;
		if (is_stat_table(o))
			continue;
		sr_set_err(errbuf, errlen,
			   "schema differs from version %ld: unexpected or altered %.10s '%.60s'",
			   version, o->type, o->name);
		err = -EPROTO;
		goto cleanup;
	}
	for (size_t i = 0; i < base.n; i++) {
		if (!schema_find(&have, &base.v[i])) {
			sr_set_err(errbuf, errlen,
				   "schema differs from version %ld: %s '%s' is missing", version,
				   base.v[i].type, base.v[i].name);
			err = -EPROTO;
			goto cleanup;
		}
	}
	*version_out = (int)version;
cleanup:
	schema_set_free(&have);
	return err;
}
