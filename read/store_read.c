// SPDX-License-Identifier: MIT
/*
 * The evidence reader's open sequence; see store_read.h for the rules it keeps and
 * store_read_internal.h for the other files. The SQL here only reads: every connection is
 * hardened before the first statement that touches the file's content.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fileio.h"
#include "store_read_internal.h"

void sr_set_err(char *buf, size_t len, const char *fmt, ...)
{
	va_list ap;

	if (!buf || !len)
		return;
	va_start(ap, fmt);
	vsnprintf(buf, len, fmt, ap);
	va_end(ap);
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
	if (sr_register_functions(db))
		return -EIO;
	/* cell_size_check catches damaged b-tree pages early, before they are trusted. */
	rc = sqlite3_exec(db,
			  "PRAGMA cell_size_check=ON; PRAGMA mmap_size=0; PRAGMA query_only=ON;"
			  "PRAGMA trusted_schema=OFF;",
			  NULL, NULL, NULL);
	return rc == SQLITE_OK ? 0 : -EIO;
}

/* n is at most 16. */
int sr_check_magic(const char *path, const char *magic, size_t n, bool *ok)
{
	unsigned char buf[16];
	int fd = cr_open_regular(path);
	ssize_t r;

	if (fd < 0)
		return fd;
	r = read(fd, buf, n);
	close(fd);
	*ok = r == (ssize_t)n && !memcmp(buf, magic, n);
	return 0;
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
	m->conn_whole = -1;
	conn_zones_init(&m->zones, -1);
	m->zones_bad = false;
	rc = sqlite3_prepare_v2(db, "SELECT key, value FROM meta", -1, &st, NULL);
	if (rc != SQLITE_OK) {
		sr_set_err(errbuf, errlen, "cannot read meta: %s", sqlite3_errmsg(db));
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
		else if (!strcmp(k, CONN_ZONES_META))
			m->zones_bad = conn_zones_parse(v, &m->zones) != 0;
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
		else if (!strcmp(k, "conn_whole") && iv >= 0)
			m->conn_whole = iv;
		else if (!strcmp(k, "schema_version") && iv != m->schema_version) {
			sr_set_err(errbuf, errlen,
				   "meta schema_version %" PRId64 " disagrees with user_version %d",
				   iv, m->schema_version);
			err = -EPROTO;
			break;
		}
	}
	if (!err && rc != SQLITE_DONE) {
		sr_set_err(errbuf, errlen, "cannot read meta: %s", sqlite3_errmsg(db));
		err = -EBADMSG;
	}
	sqlite3_finalize(st);
	return err;
}

/* ---- Opening ---- */

/* Evidence is only ever opened read-only: SQLite writes nothing through this handle. */
static int open_db(const char *file, const char *params, struct sr_segment *seg, sqlite3 **out)
{
	char uri[PATH_MAX * 3 + 64];
	int flags, err = make_uri(file, params, uri, sizeof(uri));

	if (err)
		return err;
	if (seg->zs) {
		struct sr_zseek *z = seg->zs;

		err = sr_vfs_open(uri, &z, out);
		seg->zs_owned = z != NULL;
		return err;
	}
	/* SQLITE_OPEN_EXRESCODE is not needed: errors come back through sqlite3_errmsg. */
	flags = SQLITE_OPEN_READONLY | SQLITE_OPEN_URI | SQLITE_OPEN_NOMUTEX;
	if (sqlite3_open_v2(uri, out, flags, NULL) != SQLITE_OK)
		return -EBADMSG;
	return 0;
}

/* A clear message for a file that is not SQLite at all, before SQLite parses anything. */
static int check_header(const char *file, struct sr_zseek *zs, char *errbuf, size_t errlen)
{
	unsigned char head[16];
	bool ok;
	int err;

	if (zs) {
		err = sr_zseek_read(zs, head, sizeof(head), 0);
		if (err < 0) {
			sr_set_err(errbuf, errlen, "%s", sr_zseek_error(zs));
			return err;
		}
		ok = !memcmp(head, "SQLite format 3\0", 16);
	} else {
		err = sr_check_magic(file, "SQLite format 3\0", 16, &ok);
	}

	if (err) {
		sr_set_err(errbuf, errlen, "%s", cr_open_strerror(err));
		return err;
	}
	if (!ok) {
		sr_set_err(errbuf, errlen, "not an SQLite database (bad header)");
		return -EBADMSG;
	}
	return 0;
}

static int quick_check(sqlite3 *db, char *errbuf, size_t errlen)
{
	char sum[256];

	if (sr_first_text(db, "PRAGMA quick_check(1)", sum, sizeof(sum)) != SQLITE_OK) {
		sr_set_err(errbuf, errlen, "damaged: %s", sqlite3_errmsg(db));
		return -EBADMSG;
	}
	if (strcmp(sum, "ok")) {
		sr_set_err(errbuf, errlen, "damaged (quick_check: %.150s)", sum);
		return -EBADMSG;
	}
	return 0;
}

/* ---- Checking in a thread of its own (SR_OPEN_CHECK_AHEAD) ---- */

struct sr_check {
	pthread_t thread;
	char uri[PATH_MAX * 3 + 64];
	int err;
	char msg[256];
};

/* A second read-only connection, hardened like the first: quick_check there. */
static void *check_thread(void *arg)
{
	struct sr_check *c = arg;
	sqlite3 *db = NULL;

	c->err = -EBADMSG;
	if (sqlite3_open_v2(c->uri, &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI | SQLITE_OPEN_NOMUTEX,
			    NULL) != SQLITE_OK)
		sr_set_err(c->msg, sizeof(c->msg), "cannot open: %s",
			   db ? sqlite3_errmsg(db) : "out of memory");
	else if (harden(db))
		sr_set_err(c->msg, sizeof(c->msg), "cannot apply the untrusted-file settings: %s",
			   sqlite3_errmsg(db));
	else
		c->err = quick_check(db, c->msg, sizeof(c->msg));
	sqlite3_close_v2(db);
	return NULL;
}

/* The check of src in a thread; -errno when it cannot start (the caller checks at once). */
static int check_start(struct sr_segment *seg, const struct sr_source *src)
{
	struct sr_check *c = calloc(1, sizeof(*c));
	int err = c ? make_uri(src->file, src->params, c->uri, sizeof(c->uri)) : -ENOMEM;

	if (!err && pthread_create(&c->thread, NULL, check_thread, c))
		err = -EAGAIN;
	if (err) {
		free(c);
		return err;
	}
	seg->check = c;
	return 0;
}

bool sr_check_pending(const struct sr_segment *seg)
{
	return seg->check != NULL;
}

int sr_check_wait(struct sr_segment *seg, char *errbuf, size_t errlen)
{
	struct sr_check *c = seg->check;
	int err;

	if (!c)
		return 0;
	pthread_join(c->thread, NULL);
	err = c->err;
	if (err)
		sr_set_err(errbuf, errlen, "%s", c->msg);
	free(c);
	seg->check = NULL;
	return err;
}

int sr_open(const char *path, const struct sr_open_opts *opts, struct sr_segment **out,
	    char *errbuf, size_t errlen)
{
	static const struct sr_open_opts defaults = { 0 };
	const struct sr_open_opts *o = opts ? opts : &defaults;
	struct sr_segment *seg = NULL;
	struct sr_source src;
	int fd, err = 0;

	*out = NULL;
	/* Only a regular file, checked before anything reads it (a FIFO would hang a reader). */
	fd = cr_open_regular(path);
	if (fd < 0) {
		err = fd;
		sr_set_err(errbuf, errlen, "%s", cr_open_strerror(err));
		goto cleanup;
	}
	close(fd);
	if (strlen(path) >= PATH_MAX) {
		err = -ENAMETOOLONG;
		sr_set_err(errbuf, errlen, "path too long");
		goto cleanup;
	}
	seg = calloc(1, sizeof(*seg));
	if (!seg || !(seg->path = strdup(path))) {
		err = -ENOMEM;
		sr_set_err(errbuf, errlen, "out of memory");
		goto cleanup;
	}
	err = sr_stage(path, o, &seg->copy, &src, errbuf, errlen);
	seg->zs = src.zs;
	seg->zs_owned = src.zs != NULL;
	if (err)
		goto cleanup;
	if (seg->zs && (o->flags & SR_OPEN_VOUCHED))
		sr_zseek_skip_checksums(seg->zs);
	err = check_header(src.file, seg->zs, errbuf, errlen);
	if (err)
		goto cleanup;
	err = open_db(src.file, src.params, seg, &seg->db);
	if (err) {
		sr_set_err(errbuf, errlen, "cannot open: %s",
			   seg->db ? sqlite3_errmsg(seg->db) : strerror(-err));
		goto cleanup;
	}
	err = harden(seg->db);
	if (err) {
		sr_set_err(errbuf, errlen, "cannot apply the untrusted-file settings: %s",
			   sqlite3_errmsg(seg->db));
		goto cleanup;
	}
	err = sr_check_schema(seg->db, &seg->meta.schema_version, errbuf, errlen);
	if (err)
		goto cleanup;
	/* Read in place (no copy, no frames), a file can be checked on a second connection. */
	if (!(o->flags & SR_OPEN_NO_CHECK) &&
	    (!(o->flags & SR_OPEN_CHECK_AHEAD) || seg->zs || seg->copy.used ||
	     check_start(seg, &src))) {
		err = quick_check(seg->db, errbuf, errlen);
		if (err)
			goto cleanup;
	}
	err = read_meta(seg->db, &seg->meta, errbuf, errlen);
	if (err)
		goto cleanup;
	seg->vouched = o->flags & SR_OPEN_VOUCHED;
	*out = seg;
	seg = NULL;
cleanup:
	/* SQLite says "disk I/O error" for a damaged frame; the frame reader says which. */
	if (err && seg && seg->zs && sr_zseek_error(seg->zs)[0])
		sr_set_err(errbuf, errlen, "%s", sr_zseek_error(seg->zs));
	sr_close(seg);
	return err;
}

/* How much of a .zst sr_read_meta() decompresses: the schema and meta sit in the first pages. */
#define SR_PEEK_BYTES (1u << 20)

/*
 * The meta of a .zst from its first pages, decompressed in memory and opened as a read-only
 * in-memory database, hardened and schema-checked like any segment. The header is made to
 * say the file ends there, so a reference past the head is "damaged" and the caller falls
 * back to a whole copy. This image is ours, not the evidence.
 */
static int peek_meta(const char *path, struct sr_meta *m)
{
	unsigned char *img = NULL;
	sqlite3 *db = NULL;
	size_t len = 0;
	uint32_t page;
	int err;

	err = sr_peek_zst(path, SR_PEEK_BYTES, &img, &len, NULL, 0);
	if (err)
		return err;
	err = -EBADMSG;
	if (len < 100 || memcmp(img, "SQLite format 3\0", 16))
		goto cleanup;
	page = (uint32_t)img[16] << 8 | img[17];
	if (page == 1)
		page = 65536;
	if (page < 512 || (page & (page - 1)) || len < page)
		goto cleanup;
	len -= len % page;
	/* Pages in the file: what we have, valid for this change counter; no WAL. */
	memcpy(img + 92, img + 24, 4);
	img[28] = (unsigned char)((len / page) >> 24);
	img[29] = (unsigned char)((len / page) >> 16);
	img[30] = (unsigned char)((len / page) >> 8);
	img[31] = (unsigned char)(len / page);
	img[18] = img[19] = 1;
	if (sqlite3_open_v2(":memory:", &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL) !=
		    SQLITE_OK ||
	    sqlite3_deserialize(db, "main", img, (sqlite3_int64)len, (sqlite3_int64)len,
				SQLITE_DESERIALIZE_READONLY) != SQLITE_OK)
		goto cleanup;
	err = harden(db);
	if (!err)
		err = sr_check_schema(db, &m->schema_version, NULL, 0);
	if (!err)
		err = read_meta(db, m, NULL, 0);
cleanup:
	sqlite3_close_v2(db);
	free(img);
	return err;
}

int sr_read_meta(const char *path, const struct sr_open_opts *opts, struct sr_meta *out,
		 char *errbuf, size_t errlen)
{
	struct sr_open_opts o = opts ? *opts : (struct sr_open_opts){ 0 };
	struct sr_segment *seg = NULL;
	size_t plen = strlen(path);
	int err;

	memset(out, 0, sizeof(*out));
	if (plen > 4 && !strcmp(path + plen - 4, ".zst") && !peek_meta(path, out))
		return 0;
	o.flags |= SR_OPEN_NO_CHECK;
	err = sr_open(path, &o, &seg, errbuf, errlen);
	if (!err)
		*out = seg->meta;
	sr_close(seg);
	return err;
}

void sr_close(struct sr_segment *seg)
{
	if (!seg)
		return;
	sr_check_wait(seg, NULL, 0);
	sqlite3_close_v2(seg->db);
	if (seg->zs_owned)
		sr_zseek_close(seg->zs);
	sr_copy_remove(&seg->copy);
	free(seg->path);
	free(seg);
}

bool sr_has_copy(const struct sr_segment *seg)
{
	return seg->copy.used;
}

const struct sr_meta *sr_meta(const struct sr_segment *seg)
{
	return &seg->meta;
}

sqlite3 *sr_db(struct sr_segment *seg)
{
	return seg->db;
}

const char *sr_errmsg(struct sr_segment *seg)
{
	if (seg->row_err[0])
		return seg->row_err;
	/* SQLite only says "disk I/O error" for a frame that fails; the frame reader says why. */
	if (seg->zs && sr_zseek_error(seg->zs)[0])
		return sr_zseek_error(seg->zs);
	return sqlite3_errmsg(seg->db);
}
