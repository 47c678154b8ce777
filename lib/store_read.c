// SPDX-License-Identifier: MIT
/*
 * The evidence reader; see store_read.h for the rules it keeps. The SQL here only reads:
 * every connection is hardened before the first statement that touches the file's content.
 */
#include "store_read.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

#include "schema.h"

struct sr_segment {
	char *path;
	sqlite3 *db;
	char tmpdir[PATH_MAX]; /* "" when opened in place */
	struct sr_meta meta;
};

static void set_err(char *buf, size_t len, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void set_err(char *buf, size_t len, const char *fmt, ...)
{
	va_list ap;

	if (!buf || !len)
		return;
	va_start(ap, fmt);
	vsnprintf(buf, len, fmt, ap);
	va_end(ap);
}

/* ---- Files and private temp dirs ---- */

/*
 * The temp dirs in use, for sr_cleanup_on_signal(): fixed storage, because a signal handler
 * may neither allocate nor walk a list that is being changed.
 */
#define SR_MAX_TMPDIRS 64
static char live_tmpdirs[SR_MAX_TMPDIRS][PATH_MAX];

static void track_tmpdir(const char *dir, bool add)
{
	for (int i = 0; i < SR_MAX_TMPDIRS; i++) {
		if (add && !live_tmpdirs[i][0]) {
			snprintf(live_tmpdirs[i], PATH_MAX, "%s", dir);
			return;
		}
		if (!add && !strcmp(live_tmpdirs[i], dir)) {
			live_tmpdirs[i][0] = '\0';
			return;
		}
	}
}

void sr_cleanup_on_signal(void)
{
	/* Only unlink() and rmdir() here: both are async-signal-safe; the names are ours. */
	static const char *const names[] = { "segment.db", "segment.db-wal", "segment.db-shm",
					     "segment.db-journal" };
	char p[PATH_MAX + 32];

	for (int i = 0; i < SR_MAX_TMPDIRS; i++) {
		size_t n = strnlen(live_tmpdirs[i], PATH_MAX);

		if (!n || n >= PATH_MAX)
			continue;
		for (size_t k = 0; k < sizeof(names) / sizeof(names[0]); k++) {
			size_t m = strlen(names[k]);

			memcpy(p, live_tmpdirs[i], n);
			p[n] = '/';
			memcpy(p + n + 1, names[k], m + 1);
			unlink(p);
		}
		rmdir(live_tmpdirs[i]);
	}
}

static int make_tmpdir(const struct sr_open_opts *o, char out[PATH_MAX])
{
	const char *base = o->tmpdir;

	if (!base || !*base)
		base = getenv("TMPDIR");
	if (!base || !*base)
		base = "/tmp";
	if (snprintf(out, PATH_MAX, "%s/connrec-read.XXXXXX", base) >= PATH_MAX)
		return -ENAMETOOLONG;
	/* mkdtemp creates the directory 0700: only we can see the decompressed evidence. */
	if (!mkdtemp(out)) {
		out[0] = '\0';
		return -errno;
	}
	track_tmpdir(out, true);
	return 0;
}

/* Removes the files SQLite or we put in a private temp dir, then the dir. */
static void remove_tmpdir(const char *dir)
{
	DIR *d;
	struct dirent *de;
	char p[PATH_MAX];

	if (!dir[0])
		return;
	track_tmpdir(dir, false);
	d = opendir(dir);
	if (d) {
		while ((de = readdir(d))) {
			if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
				continue;
			if (snprintf(p, sizeof(p), "%s/%s", dir, de->d_name) < (int)sizeof(p))
				unlink(p);
		}
		closedir(d);
	}
	rmdir(dir);
}

static int write_all(int fd, const void *buf, size_t n)
{
	const char *p = buf;

	while (n) {
		ssize_t w = write(fd, p, n);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Copies src to dst (created 0600, must not exist), refusing more than cap bytes. */
static int copy_file(const char *src, const char *dst, uint64_t cap)
{
	char buf[1 << 16];
	uint64_t total = 0;
	int in, out = -1, err = 0;
	ssize_t r;

	in = open(src, O_RDONLY | O_CLOEXEC);
	if (in < 0)
		return -errno;
	out = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (out < 0) {
		err = -errno;
		goto cleanup;
	}
	while ((r = read(in, buf, sizeof(buf))) != 0) {
		if (r < 0) {
			if (errno == EINTR)
				continue;
			err = -errno;
			goto cleanup;
		}
		total += (uint64_t)r;
		if (total > cap) {
			err = -EFBIG;
			goto cleanup;
		}
		err = write_all(out, buf, (size_t)r);
		if (err)
			goto cleanup;
	}
cleanup:
	close(in);
	if (out >= 0 && close(out) && !err)
		err = -errno;
	return err;
}

/*
 * Streams a zstd file into dst. Stops with -EFBIG past cap: a small hostile .zst can claim
 * (or really hold) terabytes, and the frame header's content size is not to be trusted.
 */
static int unzstd_file(const char *src, const char *dst, uint64_t cap, char *errbuf, size_t errlen)
{
	size_t in_cap = ZSTD_DStreamInSize(), out_cap = ZSTD_DStreamOutSize();
	void *inb = malloc(in_cap), *outb = malloc(out_cap);
	ZSTD_DCtx *dctx = ZSTD_createDCtx();
	uint64_t total = 0;
	size_t last = 0;
	bool any = false;
	int in = -1, out = -1, err = 0;
	ssize_t r;

	if (!inb || !outb || !dctx) {
		err = -ENOMEM;
		goto cleanup;
	}
	/* Bounds the window a frame may ask for, so a header cannot make us allocate GBs. */
	ZSTD_DCtx_setParameter(dctx, ZSTD_d_windowLogMax, 27);
	in = open(src, O_RDONLY | O_CLOEXEC);
	if (in < 0) {
		err = -errno;
		set_err(errbuf, errlen, "%s", strerror(errno));
		goto cleanup;
	}
	out = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (out < 0) {
		err = -errno;
		set_err(errbuf, errlen, "cannot create temp file: %s", strerror(errno));
		goto cleanup;
	}
	while ((r = read(in, inb, in_cap)) != 0) {
		ZSTD_inBuffer ib = { inb, 0, 0 };

		if (r < 0) {
			if (errno == EINTR)
				continue;
			err = -errno;
			set_err(errbuf, errlen, "%s", strerror(errno));
			goto cleanup;
		}
		ib.size = (size_t)r;
		any = true;
		while (ib.pos < ib.size) {
			ZSTD_outBuffer ob = { outb, out_cap, 0 };

			last = ZSTD_decompressStream(dctx, &ob, &ib);
			if (ZSTD_isError(last)) {
				err = -EBADMSG;
				set_err(errbuf, errlen, "not a valid zstd file: %s",
					ZSTD_getErrorName(last));
				goto cleanup;
			}
			total += ob.pos;
			if (total > cap) {
				err = -EFBIG;
				set_err(errbuf, errlen,
					"decompresses to more than %" PRIu64 " bytes (the cap)",
					cap);
				goto cleanup;
			}
			err = write_all(out, outb, ob.pos);
			if (err) {
				set_err(errbuf, errlen, "writing temp file: %s", strerror(-err));
				goto cleanup;
			}
		}
	}
	/* Flush what the decoder still holds for the last frame. */
	while (any && last != 0) {
		ZSTD_inBuffer ib = { inb, 0, 0 };
		ZSTD_outBuffer ob = { outb, out_cap, 0 };

		last = ZSTD_decompressStream(dctx, &ob, &ib);
		if (ZSTD_isError(last) || ob.pos == 0)
			break;
		total += ob.pos;
		if (total > cap) {
			err = -EFBIG;
			set_err(errbuf, errlen,
				"decompresses to more than %" PRIu64 " bytes (the cap)", cap);
			goto cleanup;
		}
		err = write_all(out, outb, ob.pos);
		if (err)
			goto cleanup;
	}
	if (!any || last != 0) {
		err = -EBADMSG;
		set_err(errbuf, errlen, "truncated zstd file");
	}
cleanup:
	if (in >= 0)
		close(in);
	if (out >= 0 && close(out) && !err)
		err = -errno;
	ZSTD_freeDCtx(dctx);
	free(inb);
	free(outb);
	return err;
}

/* file: URI for path with extra query parameters; the path is percent-encoded. */
static int make_uri(const char *path, const char *params, char *out, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0;

	if (len < 8)
		return -ENAMETOOLONG;
	o = (size_t)snprintf(out, len, "file:");
	for (const unsigned char *p = (const unsigned char *)path; *p; p++) {
		bool plain = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
			     (*p >= '0' && *p <= '9') || strchr("/-_.~", *p);

		if (o + 4 >= len)
			return -ENAMETOOLONG;
		if (plain) {
			out[o++] = (char)*p;
		} else {
			out[o++] = '%';
			out[o++] = hex[*p >> 4];
			out[o++] = hex[*p & 15];
		}
	}
	if (o + strlen(params) + 2 >= len)
		return -ENAMETOOLONG;
	snprintf(out + o, len - o, "%s%s", params[0] ? "?" : "", params);
	return 0;
}

static bool exists(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0;
}

/* ---- Hardening and checks ---- */

static int harden(sqlite3 *db)
{
	static const struct {
		int id, value;
	} limits[] = {
		/* clang-format off */
		{ SQLITE_LIMIT_LENGTH, 1 << 20 }, /* no legitimate value is anywhere near */
		{ SQLITE_LIMIT_SQL_LENGTH, 1 << 20 },
		{ SQLITE_LIMIT_COLUMN, 100 },
		{ SQLITE_LIMIT_EXPR_DEPTH, 200 },
		{ SQLITE_LIMIT_COMPOUND_SELECT, 4 },
		{ SQLITE_LIMIT_VDBE_OP, 1000000 },
		{ SQLITE_LIMIT_FUNCTION_ARG, 8 },
		{ SQLITE_LIMIT_ATTACHED, 0 },
		{ SQLITE_LIMIT_LIKE_PATTERN_LENGTH, 64 },
		{ SQLITE_LIMIT_VARIABLE_NUMBER, 2000 },
		{ SQLITE_LIMIT_TRIGGER_DEPTH, 1 },
		{ SQLITE_LIMIT_WORKER_THREADS, 0 },
		/* clang-format on */
	};
	int rc = SQLITE_OK;

	rc |= sqlite3_db_config(db, SQLITE_DBCONFIG_DEFENSIVE, 1, NULL);
	rc |= sqlite3_db_config(db, SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, NULL);
	rc |= sqlite3_db_config(db, SQLITE_DBCONFIG_ENABLE_TRIGGER, 0, NULL);
	rc |= sqlite3_db_config(db, SQLITE_DBCONFIG_ENABLE_VIEW, 0, NULL);
	rc |= sqlite3_db_config(db, SQLITE_DBCONFIG_ENABLE_LOAD_EXTENSION, 0, NULL);
	rc |= sqlite3_db_config(db, SQLITE_DBCONFIG_ENABLE_FKEY, 0, NULL);
	if (rc != SQLITE_OK)
		return -EIO;
	for (size_t i = 0; i < sizeof(limits) / sizeof(limits[0]); i++)
		sqlite3_limit(db, limits[i].id, limits[i].value);
	/* cell_size_check catches damaged b-tree pages early, before they are trusted. */
	rc = sqlite3_exec(db,
			  "PRAGMA cell_size_check=ON; PRAGMA mmap_size=0; PRAGMA query_only=ON;"
			  "PRAGMA trusted_schema=OFF;",
			  NULL, NULL, NULL);
	return rc == SQLITE_OK ? 0 : -EIO;
}

/* Checks the 16-byte magic before SQLite parses anything: gives a clear message. */
static int check_magic(const char *path, const char *magic, size_t n, bool *ok)
{
	unsigned char buf[16];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t r;

	if (fd < 0)
		return -errno;
	r = read(fd, buf, n);
	close(fd);
	*ok = r == (ssize_t)n && !memcmp(buf, magic, n);
	return 0;
}

static int first_text(sqlite3 *db, const char *sql, char *out, size_t len)
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
	for (int i = 0; i < version; i++) {
		if (sqlite3_exec(mem, schema_sql[i], NULL, NULL, NULL) != SQLITE_OK) {
			err = -EINVAL;
			goto cleanup;
		}
	}
	err = schema_read(mem, &cache_base);
	if (err)
		goto cleanup;
	for (unsigned i = 0; i < seal_sql_count; i++) {
		if (sqlite3_exec(mem, seal_sql[i], NULL, NULL, NULL) != SQLITE_OK) {
			err = -EINVAL;
			goto cleanup;
		}
	}
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
	for (size_t i = 0; i < all.n; i++) {
		free(all.v[i].type);
		free(all.v[i].name);
		free(all.v[i].tbl);
		free(all.v[i].sql);
	}
	free(all.v);
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

static int check_schema(sqlite3 *db, int *version_out, char *errbuf, size_t errlen)
{
	struct schema_set have = { 0 }, base = { 0 }, seal = { 0 };
	char uv[32], names[200] = "";
	long version;
	int err;

	err = schema_read(db, &have);
	if (err) {
		set_err(errbuf, errlen, "cannot read the schema: %s", sqlite3_errmsg(db));
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
		set_err(errbuf, errlen,
			"not a connrec segment: a foreign SQLite database (tables: %s)",
			have.n ? names : "none");
		err = -EMEDIUMTYPE;
		goto cleanup;
	}
	if (first_text(db, "PRAGMA user_version", uv, sizeof(uv)) != SQLITE_OK) {
		set_err(errbuf, errlen, "cannot read the schema version: %s", sqlite3_errmsg(db));
		err = -EBADMSG;
		goto cleanup;
	}
	version = strtol(uv, NULL, 10);
	if (version > (long)schema_sql_count) {
		set_err(errbuf, errlen,
			"schema version %ld is newer than this connrec reads (%u): use a newer "
			"connrec",
			version, schema_sql_count);
		err = -EPROTONOSUPPORT;
		goto cleanup;
	}
	if (version < 1) {
		set_err(errbuf, errlen, "unknown schema version %ld", version);
		err = -EPROTONOSUPPORT;
		goto cleanup;
	}
	err = expected_schema((int)version, &base, &seal);
	if (err) {
		set_err(errbuf, errlen, "cannot build the expected schema (%s)", strerror(-err));
		goto cleanup;
	}
	for (size_t i = 0; i < have.n; i++) {
		const struct schema_obj *o = &have.v[i];

		if (schema_find(&base, o) || schema_find(&seal, o))
			continue;
		/* ANALYZE's statistics only steer the planner; sealing may write them. */
		if (!strcmp(o->type, "table") && !strncmp(o->name, "sqlite_stat", 11))
			continue;
		set_err(errbuf, errlen,
			"schema differs from version %ld: unexpected or altered %.10s '%.60s'",
			version, o->type, o->name);
		err = -EPROTO;
		goto cleanup;
	}
	for (size_t i = 0; i < base.n; i++) {
		if (!schema_find(&have, &base.v[i])) {
			set_err(errbuf, errlen,
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

static bool parse_i64(const char *s, int64_t *out)
{
	char *end;
	long long v;

	if (!*s)
		return false;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || *end)
		return false;
	*out = v;
	return true;
}

static int read_meta(sqlite3 *db, struct sr_meta *m, char *errbuf, size_t errlen)
{
	sqlite3_stmt *st = NULL;
	int rc, err = 0;

	m->segment_id = -1;
	m->clock_offset_ns = 0;
	m->created_ns = m->first_ns = m->last_ns = SR_NO_TIME;
	rc = sqlite3_prepare_v2(db, "SELECT key, value FROM meta", -1, &st, NULL);
	if (rc != SQLITE_OK) {
		set_err(errbuf, errlen, "cannot read meta: %s", sqlite3_errmsg(db));
		return -EBADMSG;
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *k = (const char *)sqlite3_column_text(st, 0);
		const char *v = (const char *)sqlite3_column_text(st, 1);
		int64_t iv;

		if (!k || !v)
			continue;
		if (!strcmp(k, "host"))
			snprintf(m->host, sizeof(m->host), "%s", v);
		else if (!strcmp(k, "boot_id"))
			snprintf(m->boot_id, sizeof(m->boot_id), "%s", v);
		else if (!strcmp(k, "kernel"))
			snprintf(m->kernel, sizeof(m->kernel), "%s", v);
		else if (!strcmp(k, "recorder_version"))
			snprintf(m->recorder_version, sizeof(m->recorder_version), "%s", v);
		else if (!strcmp(k, "prev_sha256"))
			snprintf(m->prev_sha256, sizeof(m->prev_sha256), "%s", v);
		else if (!strcmp(k, "sealed"))
			m->sealed = !strcmp(v, "1");
		else if (!parse_i64(v, &iv))
			continue; /* a damaged number is treated as missing */
		else if (!strcmp(k, "segment_id"))
			m->segment_id = iv;
		else if (!strcmp(k, "clock_offset_ns"))
			m->clock_offset_ns = iv;
		else if (!strcmp(k, "created_ns"))
			m->created_ns = iv;
		else if (!strcmp(k, "first_ns"))
			m->first_ns = iv;
		else if (!strcmp(k, "last_ns"))
			m->last_ns = iv;
		else if (!strcmp(k, "schema_version") && iv != m->schema_version) {
			set_err(errbuf, errlen,
				"meta schema_version %" PRId64 " disagrees with user_version %d",
				iv, m->schema_version);
			err = -EPROTO;
			break;
		}
	}
	if (!err && rc != SQLITE_DONE) {
		set_err(errbuf, errlen, "cannot read meta: %s", sqlite3_errmsg(db));
		err = -EBADMSG;
	}
	sqlite3_finalize(st);
	return err;
}

/* ---- Opening ---- */

static int open_db(const char *file, const char *params, int flags, sqlite3 **out)
{
	char uri[PATH_MAX * 3 + 64];
	int err = make_uri(file, params, uri, sizeof(uri));

	if (err)
		return err;
	/* SQLITE_OPEN_EXRESCODE is not needed: errors come back through sqlite3_errmsg. */
	if (sqlite3_open_v2(uri, out, flags | SQLITE_OPEN_URI | SQLITE_OPEN_NOMUTEX, NULL) !=
	    SQLITE_OK)
		return -EBADMSG;
	return 0;
}

/* Does the directory holding path have a write bit set (mode, not access(): root ignores it)? */
static bool dir_writable(const char *path)
{
	char dir[PATH_MAX];
	const char *slash = strrchr(path, '/');
	struct stat st;

	if (!slash)
		snprintf(dir, sizeof(dir), ".");
	else if (slash == path)
		snprintf(dir, sizeof(dir), "/");
	else
		snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path);
	return stat(dir, &st) == 0 && (st.st_mode & 0222);
}

int sr_open(const char *path, const struct sr_open_opts *opts, struct sr_segment **out,
	    char *errbuf, size_t errlen)
{
	static const struct sr_open_opts defaults = { 0 };
	const struct sr_open_opts *o = opts ? opts : &defaults;
	uint64_t cap = o->max_unpacked ? o->max_unpacked : SR_DEFAULT_MAX_UNPACKED;
	struct sr_segment *seg = NULL;
	char side[PATH_MAX + 16], work[PATH_MAX + 16], sum[256];
	const char *file = path, *params = "immutable=1";
	size_t plen = strlen(path);
	bool zst = plen > 4 && !strcmp(path + plen - 4, ".zst"), ok;
	struct stat st;
	int err = 0, flags = SQLITE_OPEN_READONLY;

	*out = NULL;
	if (stat(path, &st)) {
		err = -errno;
		set_err(errbuf, errlen, "%s", strerror(errno));
		goto cleanup;
	}
	if (!S_ISREG(st.st_mode)) {
		err = -EINVAL;
		set_err(errbuf, errlen, "not a regular file");
		goto cleanup;
	}
	if (plen >= PATH_MAX) {
		err = -ENAMETOOLONG;
		set_err(errbuf, errlen, "path too long");
		goto cleanup;
	}
	seg = calloc(1, sizeof(*seg));
	if (!seg || !(seg->path = strdup(path))) {
		err = -ENOMEM;
		set_err(errbuf, errlen, "out of memory");
		goto cleanup;
	}

	if (zst) {
		err = check_magic(path, "\x28\xb5\x2f\xfd", 4, &ok);
		if (!err && !ok) {
			err = -EBADMSG;
			set_err(errbuf, errlen, "not a zstd-compressed segment (bad magic)");
		}
		if (!err && (err = make_tmpdir(o, seg->tmpdir)))
			set_err(errbuf, errlen, "cannot make a private temp dir: %s",
				strerror(-err));
		if (err)
			goto cleanup;
		snprintf(work, sizeof(work), "%s/segment.db", seg->tmpdir);
		err = unzstd_file(path, work, cap, errbuf, errlen);
		if (err)
			goto cleanup;
		file = work;
	} else {
		bool wal, shm, journal;

		snprintf(side, sizeof(side), "%s-wal", path);
		wal = exists(side);
		snprintf(side, sizeof(side), "%s-shm", path);
		shm = exists(side);
		snprintf(side, sizeof(side), "%s-journal", path);
		journal = exists(side);
		if (wal && shm && (o->flags & SR_OPEN_LIVE) && dir_writable(path)) {
			/*
			 * The recorder's own active segment: read it as any WAL reader does, so
			 * committed rows still in the WAL are seen. The -shm already exists.
			 */
			params = "";
		} else if (wal || journal) {
			/*
			 * immutable=1 would ignore the -wal (committed rows vanish) or a hot
			 * journal; a plain open would create files beside the evidence. So read a
			 * private copy, sidecar included.
			 */
			const char *sfx = wal ? "-wal" : "-journal";
			char dst[PATH_MAX + 32];

			err = make_tmpdir(o, seg->tmpdir);
			if (err) {
				set_err(errbuf, errlen, "cannot make a private temp dir: %s",
					strerror(-err));
				goto cleanup;
			}
			snprintf(work, sizeof(work), "%s/segment.db", seg->tmpdir);
			snprintf(side, sizeof(side), "%s%s", path, sfx);
			snprintf(dst, sizeof(dst), "%s%s", work, sfx);
			err = copy_file(path, work, cap);
			if (!err)
				err = copy_file(side, dst, cap);
			if (err) {
				set_err(errbuf, errlen, "cannot copy into a private temp dir: %s",
					strerror(-err));
				goto cleanup;
			}
			file = work;
			params = "";
			/* Only a read-write handle may replay a hot journal; it is our copy. */
			if (journal && !wal)
				flags = SQLITE_OPEN_READWRITE;
		}
	}

	err = check_magic(file, "SQLite format 3\0", 16, &ok);
	if (!err && !ok) {
		err = -EBADMSG;
		set_err(errbuf, errlen, "not an SQLite database (bad header)");
	}
	if (err) {
		if (err != -EBADMSG)
			set_err(errbuf, errlen, "%s", strerror(-err));
		goto cleanup;
	}
	err = open_db(file, params, flags, &seg->db);
	if (err) {
		set_err(errbuf, errlen, "cannot open: %s",
			seg->db ? sqlite3_errmsg(seg->db) : strerror(-err));
		goto cleanup;
	}
	err = harden(seg->db);
	if (err) {
		set_err(errbuf, errlen, "cannot apply the untrusted-file settings: %s",
			sqlite3_errmsg(seg->db));
		goto cleanup;
	}
	err = check_schema(seg->db, &seg->meta.schema_version, errbuf, errlen);
	if (err)
		goto cleanup;
	if (!(o->flags & SR_OPEN_NO_CHECK)) {
		if (first_text(seg->db, "PRAGMA quick_check(1)", sum, sizeof(sum)) != SQLITE_OK) {
			err = -EBADMSG;
			set_err(errbuf, errlen, "damaged: %s", sqlite3_errmsg(seg->db));
			goto cleanup;
		}
		if (strcmp(sum, "ok")) {
			err = -EBADMSG;
			set_err(errbuf, errlen, "damaged (quick_check: %.150s)", sum);
			goto cleanup;
		}
	}
	err = read_meta(seg->db, &seg->meta, errbuf, errlen);
	if (err)
		goto cleanup;
	*out = seg;
	seg = NULL;
cleanup:
	sr_close(seg);
	return err;
}

void sr_close(struct sr_segment *seg)
{
	if (!seg)
		return;
	sqlite3_close_v2(seg->db);
	remove_tmpdir(seg->tmpdir);
	free(seg->path);
	free(seg);
}

const struct sr_meta *sr_meta(const struct sr_segment *seg)
{
	return &seg->meta;
}

const char *sr_path(const struct sr_segment *seg)
{
	return seg->path;
}

sqlite3 *sr_db(struct sr_segment *seg)
{
	return seg->db;
}

const char *sr_errmsg(struct sr_segment *seg)
{
	return sqlite3_errmsg(seg->db);
}

/* ---- Data dirs ---- */

static int entry_cmp(const void *a, const void *b)
{
	const struct sr_entry *x = a, *y = b;

	if (x->seq != y->seq)
		return x->seq < y->seq ? -1 : 1;
	return (int)y->zst - (int)x->zst; /* .zst first, so the dedup keeps it */
}

/* seg-<digits>.db or seg-<digits>.db.zst; nothing else. */
static bool parse_seg_name(const char *name, uint64_t *seq, bool *zst)
{
	const char *p = name + 4;
	uint64_t v = 0;
	int digits = 0;

	if (strncmp(name, "seg-", 4))
		return false;
	while (*p >= '0' && *p <= '9' && digits < 19) {
		v = v * 10 + (uint64_t)(*p - '0');
		p++;
		digits++;
	}
	if (!digits)
		return false;
	if (!strcmp(p, ".db"))
		*zst = false;
	else if (!strcmp(p, ".db.zst"))
		*zst = true;
	else
		return false;
	*seq = v;
	return true;
}

int sr_list_dir(const char *dir, struct sr_entry **out, size_t *n, char *errbuf, size_t errlen)
{
	struct sr_entry *v = NULL;
	size_t cnt = 0, w = 0;
	DIR *d = opendir(dir);
	struct dirent *de;
	int err = 0;

	*out = NULL;
	*n = 0;
	if (!d) {
		err = -errno;
		set_err(errbuf, errlen, "%s: %s", dir, strerror(errno));
		return err;
	}
	while ((de = readdir(d))) {
		struct sr_entry e = { 0 }, *nv;
		char p[PATH_MAX];

		if (!parse_seg_name(de->d_name, &e.seq, &e.zst))
			continue;
		if (snprintf(p, sizeof(p), "%s/%s", dir, de->d_name) >= (int)sizeof(p))
			continue;
		nv = realloc(v, (cnt + 1) * sizeof(*v));
		if (!nv || !(e.path = strdup(p))) {
			if (nv)
				v = nv;
			err = -ENOMEM;
			set_err(errbuf, errlen, "out of memory");
			goto cleanup;
		}
		v = nv;
		v[cnt++] = e;
	}
	qsort(v, cnt, sizeof(*v), entry_cmp);
	for (size_t i = 0; i < cnt; i++) {
		if (w && v[w - 1].seq == v[i].seq) {
			free(v[i].path);
			continue;
		}
		v[w++] = v[i];
	}
	if (w && !v[w - 1].zst)
		v[w - 1].active = true;
	*out = v;
	*n = w;
	v = NULL;
	cnt = 0;
cleanup:
	closedir(d);
	sr_free_list(v, cnt);
	return err;
}

void sr_free_list(struct sr_entry *list, size_t n)
{
	for (size_t i = 0; list && i < n; i++)
		free(list[i].path);
	free(list);
}

/* ---- Rows ---- */

void sr_conn_filter_init(struct sr_conn_filter *f)
{
	memset(f, 0, sizeof(*f));
	f->since = SR_NO_TIME;
	f->until = SR_TIME_MAX;
	f->dir = -1;
	f->min_dur = f->max_dur = f->short_lived = -1;
}

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

static size_t blob_copy(sqlite3_stmt *st, int col, uint8_t out[16])
{
	const void *p = sqlite3_column_blob(st, col);
	int n = sqlite3_column_bytes(st, col);

	memset(out, 0, 16);
	if (!p || n <= 0)
		return 0;
	memcpy(out, p, n > 16 ? 16 : (size_t)n);
	return n > 255 ? 255 : (size_t)n;
}

/*
 * The conditions of f as SQL. FOLDED: only the rows complete on their own (not carried, end
 * folded in); their end is start_ns + dur_ns, so the window and duration bounds are exact
 * there. Otherwise the rows that need the caller's merge; see sr_conn_filter.
 */
static void build_where(struct binds *b, sqlite3_str *s, const struct sr_conn_filter *f,
			bool folded)
{
	static const char folded_sql[] = "(c.flags & 2) = 0 AND c.reason IS NOT NULL";

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
		sqlite3_str_appendall(s, " AND (c.flags & 2 OR c.start_ns >= ");
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
	if (f->n_ports) {
		bool first = true;

		sqlite3_str_appendall(s, " AND (");
		port_terms(b, s, "c.lport", f->ports, f->n_ports, &first);
		port_terms(b, s, "c.rport", f->ports, f->n_ports, &first);
		sqlite3_str_appendall(s, ")");
	}
	if (f->n_lports) {
		bool first = true;

		sqlite3_str_appendall(s, " AND (");
		port_terms(b, s, "c.lport", f->lports, f->n_lports, &first);
		sqlite3_str_appendall(s, ")");
	}
	if (f->n_rports) {
		bool first = true;

		sqlite3_str_appendall(s, " AND (");
		port_terms(b, s, "c.rport", f->rports, f->n_rports, &first);
		sqlite3_str_appendall(s, ")");
	}
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
	/* GLOB and fnmatch agree on '*' and '?' only; bracket patterns are left to C. */
	if (f->comm && !strchr(f->comm, '[') && b->n < 512) {
		bool glob = strpbrk(f->comm, "*?") != NULL;

		b->type[b->n] = B_TEXT;
		b->text[b->n++] = f->comm;
		sqlite3_str_appendf(s, " AND p.comm %s ?%d", glob ? "GLOB" : "=", b->n);
	}
}

static bool needs_proc(const struct sr_conn_filter *f)
{
	return f->n_pids || f->n_uids || f->n_netns || f->n_cgroups || f->comm;
}

static int prepare_bound(struct sr_segment *seg, sqlite3_str *s, struct binds *b, sqlite3_stmt **st)
{
	char *sql = sqlite3_str_finish(s);
	int rc;

	if (!sql)
		return -ENOMEM;
	if (b->overflow) {
		sqlite3_free(sql);
		return -E2BIG;
	}
	rc = sqlite3_prepare_v2(seg->db, sql, -1, st, NULL);
	sqlite3_free(sql);
	if (rc != SQLITE_OK)
		return -EBADMSG;
	for (int i = 0; i < b->n; i++) {
		if (b->type[i] == B_INT)
			sqlite3_bind_int64(*st, i + 1, b->i[i]);
		else if (b->type[i] == B_BLOB)
			sqlite3_bind_blob(*st, i + 1, b->blob[i], b->blen[i], SQLITE_STATIC);
		else
			sqlite3_bind_text(*st, i + 1, b->text[i], -1, SQLITE_STATIC);
	}
	return 0;
}

int sr_count_folded(struct sr_segment *seg, const struct sr_conn_filter *f, uint64_t *count)
{
	struct binds *b = calloc(1, sizeof(*b));
	sqlite3_stmt *st = NULL;
	sqlite3_str *s;
	int rc, err;

	if (!b)
		return -ENOMEM;
	s = sqlite3_str_new(seg->db);
	/* Without proc conditions the count never leaves the conn b-tree (and its indexes). */
	sqlite3_str_appendf(s, "SELECT count(*) FROM conn c%s WHERE 1",
			    needs_proc(f) ? " JOIN proc p ON p.id = c.proc" : "");
	build_where(b, s, f, true);
	err = prepare_bound(seg, s, b, &st);
	if (err)
		goto cleanup;
	rc = sqlite3_step(st);
	if (rc != SQLITE_ROW) {
		err = -EBADMSG;
		goto cleanup;
	}
	*count = (uint64_t)sqlite3_column_int64(st, 0);
cleanup:
	sqlite3_finalize(st);
	free(b);
	return err;
}

int sr_conns(struct sr_segment *seg, const struct sr_conn_filter *f,
	     int (*cb)(const struct sr_conn *row, void *ctx), void *ctx)
{
	struct binds *b = calloc(1, sizeof(*b));
	sqlite3_str *s;
	sqlite3_stmt *st = NULL;
	int rc, err = 0;

	if (!b)
		return -ENOMEM;
	s = sqlite3_str_new(seg->db);
	sqlite3_str_appendall(
		s, "SELECT c.id, c.start_ns, c.proto, c.family, c.dir, c.laddr, c.lport, c.raddr,"
		   " c.rport, c.flags, c.dur_ns, c.bytes_out, c.bytes_in, c.reason,"
		   " e.end_ns, e.bytes_out, e.bytes_in, e.reason,"
		   " p.pid, p.comm, p.uid, p.netns, p.cgroup"
		   " FROM conn c LEFT JOIN proc p ON p.id = c.proc"
		   " LEFT JOIN conn_end e ON e.id = c.id WHERE 1");
	build_where(b, s, f, false);
	err = prepare_bound(seg, s, b, &st);
	if (err)
		goto cleanup;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct sr_conn r = { 0 };
		const unsigned char *comm;

		r.id = sqlite3_column_int64(st, 0);
		r.start_ns = sqlite3_column_int64(st, 1);
		r.proto = (uint8_t)sqlite3_column_int(st, 2);
		r.family = (uint8_t)sqlite3_column_int(st, 3);
		r.dir = (uint8_t)sqlite3_column_int(st, 4);
		r.laddr_len = (uint8_t)blob_copy(st, 5, r.laddr);
		r.lport = (uint16_t)sqlite3_column_int(st, 6);
		r.raddr_len = (uint8_t)blob_copy(st, 7, r.raddr);
		r.rport = (uint16_t)sqlite3_column_int(st, 8);
		r.flags = (uint8_t)sqlite3_column_int(st, 9);
		if (sqlite3_column_type(st, 13) != SQLITE_NULL) {
			/* Folded in: the flow had ended before its row was written. */
			r.has_end = true;
			r.end_folded = true;
			r.end_ns = (int64_t)((uint64_t)r.start_ns +
					     (uint64_t)sqlite3_column_int64(st, 10));
			r.reason = (uint8_t)sqlite3_column_int(st, 13);
			r.has_bytes = sqlite3_column_type(st, 11) != SQLITE_NULL;
			r.bytes_out = (uint64_t)sqlite3_column_int64(st, 11);
			r.bytes_in = (uint64_t)sqlite3_column_int64(st, 12);
		} else if (sqlite3_column_type(st, 14) != SQLITE_NULL) {
			/* A conn_end row: the end was written later, on its own. */
			r.has_end = true;
			r.end_ns = sqlite3_column_int64(st, 14);
			r.reason = (uint8_t)sqlite3_column_int(st, 17);
			r.has_bytes = sqlite3_column_type(st, 15) != SQLITE_NULL;
			r.bytes_out = (uint64_t)sqlite3_column_int64(st, 15);
			r.bytes_in = (uint64_t)sqlite3_column_int64(st, 16);
		}
		r.pid = (uint32_t)sqlite3_column_int64(st, 18);
		comm = sqlite3_column_text(st, 19);
		snprintf(r.comm, sizeof(r.comm), "%s", comm ? (const char *)comm : "");
		r.uid = (uint32_t)sqlite3_column_int64(st, 20);
		r.netns = (uint32_t)sqlite3_column_int64(st, 21);
		r.cgroup = (uint64_t)sqlite3_column_int64(st, 22);
		err = cb(&r, ctx);
		if (err)
			goto cleanup;
	}
	if (rc != SQLITE_DONE)
		err = -EBADMSG;
cleanup:
	sqlite3_finalize(st);
	free(b);
	return err;
}

int sr_ends(struct sr_segment *seg, int64_t since, int64_t until,
	    int (*cb)(const struct sr_end *row, void *ctx), void *ctx)
{
	sqlite3_stmt *st = NULL;
	int rc, err = 0;

	rc = sqlite3_prepare_v2(seg->db,
				"SELECT id, end_ns, bytes_out, bytes_in, reason FROM conn_end"
				" WHERE end_ns BETWEEN ?1 AND ?2 ORDER BY end_ns",
				-1, &st, NULL);
	if (rc != SQLITE_OK)
		return -EBADMSG;
	sqlite3_bind_int64(st, 1, since);
	sqlite3_bind_int64(st, 2, until);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct sr_end e = {
			.id = sqlite3_column_int64(st, 0),
			.end_ns = sqlite3_column_int64(st, 1),
			.has_bytes = sqlite3_column_type(st, 2) != SQLITE_NULL,
			.bytes_out = (uint64_t)sqlite3_column_int64(st, 2),
			.bytes_in = (uint64_t)sqlite3_column_int64(st, 3),
			.reason = (uint8_t)sqlite3_column_int(st, 4),
		};

		err = cb(&e, ctx);
		if (err)
			goto cleanup;
	}
	if (rc != SQLITE_DONE)
		err = -EBADMSG;
cleanup:
	sqlite3_finalize(st);
	return err;
}

int sr_end_by_id(struct sr_segment *seg, int64_t id, struct sr_end *out)
{
	sqlite3_stmt *st = NULL;
	int rc, ret = 0;

	rc = sqlite3_prepare_v2(
		seg->db, "SELECT end_ns, bytes_out, bytes_in, reason FROM conn_end WHERE id = ?1",
		-1, &st, NULL);
	if (rc != SQLITE_OK)
		return -EBADMSG;
	sqlite3_bind_int64(st, 1, id);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*out = (struct sr_end){
			.id = id,
			.end_ns = sqlite3_column_int64(st, 0),
			.has_bytes = sqlite3_column_type(st, 1) != SQLITE_NULL,
			.bytes_out = (uint64_t)sqlite3_column_int64(st, 1),
			.bytes_in = (uint64_t)sqlite3_column_int64(st, 2),
			.reason = (uint8_t)sqlite3_column_int(st, 3),
		};
		ret = 1;
	} else if (rc != SQLITE_DONE) {
		ret = -EBADMSG;
	}
	sqlite3_finalize(st);
	return ret;
}

int sr_gaps(struct sr_segment *seg, int64_t since, int64_t until,
	    int (*cb)(const struct sr_gap *row, void *ctx), void *ctx)
{
	sqlite3_stmt *st = NULL;
	int rc, err = 0;

	rc = sqlite3_prepare_v2(seg->db,
				"SELECT id, kind, start_ns, end_ns, count, reason FROM gap"
				" WHERE start_ns <= ?2 AND end_ns >= ?1 ORDER BY start_ns, id",
				-1, &st, NULL);
	if (rc != SQLITE_OK)
		return -EBADMSG;
	sqlite3_bind_int64(st, 1, since);
	sqlite3_bind_int64(st, 2, until);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const unsigned char *why = sqlite3_column_text(st, 5);
		struct sr_gap g = {
			.id = sqlite3_column_int64(st, 0),
			.kind = sqlite3_column_int(st, 1),
			.start_ns = sqlite3_column_int64(st, 2),
			.end_ns = sqlite3_column_int64(st, 3),
			.count = (uint64_t)sqlite3_column_int64(st, 4),
		};

		snprintf(g.reason, sizeof(g.reason), "%s", why ? (const char *)why : "");
		err = cb(&g, ctx);
		if (err)
			goto cleanup;
	}
	if (rc != SQLITE_DONE)
		err = -EBADMSG;
cleanup:
	sqlite3_finalize(st);
	return err;
}

int sr_runs(struct sr_segment *seg, int (*cb)(const struct sr_run *row, void *ctx), void *ctx)
{
	sqlite3_stmt *st = NULL;
	int rc, err = 0;

	rc = sqlite3_prepare_v2(seg->db,
				"SELECT id, ts_ns, kind, pid, version FROM run"
				" ORDER BY ts_ns, id",
				-1, &st, NULL);
	if (rc != SQLITE_OK)
		return -EBADMSG;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const unsigned char *v = sqlite3_column_text(st, 4);
		struct sr_run r = {
			.id = sqlite3_column_int64(st, 0),
			.ts_ns = sqlite3_column_int64(st, 1),
			.kind = sqlite3_column_int(st, 2),
			.pid = (uint32_t)sqlite3_column_int64(st, 3),
		};

		snprintf(r.version, sizeof(r.version), "%s", v ? (const char *)v : "");
		err = cb(&r, ctx);
		if (err)
			goto cleanup;
	}
	if (rc != SQLITE_DONE)
		err = -EBADMSG;
cleanup:
	sqlite3_finalize(st);
	return err;
}
