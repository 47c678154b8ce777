// SPDX-License-Identifier: MIT
/*
 * Segment files of a data dir: their names, listing, hashing, the manifest of sealed
 * segments, and sealing (indexes, rollback journal, zstd, hash) done so that a crash at any
 * step leaves something the next call finishes.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <zstd.h>

#include "log.h"
#include "schema.h"
#include "store_internal.h"

#define SEG_PREFIX "seg-"
#define SEG_DIGITS 8
#define SEG_ZSTD_LEVEL 3
#define SEG_IO_CHUNK (1 << 20)

int64_t seg_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int seg_sqlite_err(int rc)
{
	switch (rc & 0xff) {
	case SQLITE_OK:
		return 0;
	case SQLITE_FULL:
		return -ENOSPC;
	case SQLITE_NOMEM:
		return -ENOMEM;
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return -EBUSY;
	case SQLITE_CANTOPEN:
		return -ENOENT;
	case SQLITE_PERM:
	case SQLITE_READONLY:
	case SQLITE_AUTH:
		return -EACCES;
	case SQLITE_CORRUPT:
	case SQLITE_NOTADB:
		return -EBADMSG;
	default:
		return -EIO;
	}
}

int seg_parse_name(const char *name, uint32_t *seq)
{
	const char *p = name;
	uint32_t v = 0;

	if (strncmp(p, SEG_PREFIX, strlen(SEG_PREFIX)))
		return 0;
	p += strlen(SEG_PREFIX);
	for (int i = 0; i < SEG_DIGITS; i++, p++) {
		if (*p < '0' || *p > '9')
			return 0;
		v = v * 10 + (uint32_t)(*p - '0');
	}
	if (v == 0)
		return 0;
	*seq = v;
	if (!strcmp(p, ".db"))
		return SEG_RAW;
	if (!strcmp(p, ".db.zst"))
		return SEG_ZST;
	if (!strcmp(p, ".db.zst.tmp"))
		return SEG_TMP;
	return 0;
}

void seg_format_name(char *buf, size_t len, uint32_t seq, enum seg_kind kind)
{
	static const char *const ext[] = { [SEG_RAW] = ".db",
					   [SEG_ZST] = ".db.zst",
					   [SEG_TMP] = ".db.zst.tmp" };

	snprintf(buf, len, SEG_PREFIX "%0*" PRIu32 "%s", SEG_DIGITS, seq, ext[kind]);
}

static int entry_cmp(const void *a, const void *b)
{
	const struct seg_entry *x = a, *y = b;

	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static uint64_t file_size_at(int dfd, const char *name)
{
	struct stat st;

	return fstatat(dfd, name, &st, 0) ? 0 : (uint64_t)st.st_size;
}

int seg_list(const char *dir, struct seg_entry **out, size_t *n)
{
	struct seg_entry *v = NULL, *e;
	size_t cnt = 0, cap = 0;
	struct dirent *de;
	DIR *d;
	int err = 0;

	*out = NULL;
	*n = 0;
	d = opendir(dir);
	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		char wal[sizeof(de->d_name) + 8];
		uint32_t seq;
		int kind = seg_parse_name(de->d_name, &seq);

		if (!kind)
			continue;
		e = NULL;
		for (size_t i = 0; i < cnt; i++) {
			if (v[i].seq == seq) {
				e = &v[i];
				break;
			}
		}
		if (!e) {
			if (cnt == cap) {
				size_t ncap = cap ? cap * 2 : 32;
				struct seg_entry *nv = realloc(v, ncap * sizeof(*v));

				if (!nv) {
					err = -ENOMEM;
					goto cleanup;
				}
				v = nv;
				cap = ncap;
			}
			e = &v[cnt++];
			memset(e, 0, sizeof(*e));
			e->seq = seq;
		}
		switch (kind) {
		case SEG_RAW:
			e->has_raw = 1;
			snprintf(wal, sizeof(wal), "%s-wal", de->d_name);
			e->raw_bytes = file_size_at(dirfd(d), de->d_name) +
				       file_size_at(dirfd(d), wal);
			break;
		case SEG_ZST:
			e->has_zst = 1;
			e->zst_bytes = file_size_at(dirfd(d), de->d_name);
			break;
		case SEG_TMP:
			e->has_tmp = 1;
			break;
		}
	}
	if (cnt)
		qsort(v, cnt, sizeof(*v), entry_cmp);
	*out = v;
	*n = cnt;
	v = NULL;
cleanup:
	free(v);
	closedir(d);
	return err;
}

static void to_hex(const unsigned char *md, unsigned len, char *hex)
{
	static const char digits[] = "0123456789abcdef";

	for (unsigned i = 0; i < len; i++) {
		hex[2 * i] = digits[md[i] >> 4];
		hex[2 * i + 1] = digits[md[i] & 15];
	}
	hex[2 * len] = '\0';
}

int seg_hash_file(const char *path, char hex[65])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned mdlen = 0;
	EVP_MD_CTX *ctx = NULL;
	char *buf = NULL;
	int fd = -1, err = 0;
	ssize_t r;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		err = -errno;
		goto cleanup;
	}
	buf = malloc(SEG_IO_CHUNK);
	ctx = EVP_MD_CTX_new();
	if (!buf || !ctx) {
		err = -ENOMEM;
		goto cleanup;
	}
	if (!EVP_DigestInit_ex(ctx, EVP_sha256(), NULL)) {
		err = -EIO;
		goto cleanup;
	}
	while ((r = read(fd, buf, SEG_IO_CHUNK)) != 0) {
		if (r < 0) {
			if (errno == EINTR)
				continue;
			err = -errno;
			goto cleanup;
		}
		EVP_DigestUpdate(ctx, buf, (size_t)r);
	}
	if (!EVP_DigestFinal_ex(ctx, md, &mdlen)) {
		err = -EIO;
		goto cleanup;
	}
	to_hex(md, mdlen, hex);
cleanup:
	EVP_MD_CTX_free(ctx);
	free(buf);
	if (fd >= 0)
		close(fd);
	return err;
}

int seg_fsync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int err = 0;

	if (fd < 0)
		return -errno;
	if (fsync(fd))
		err = -errno;
	close(fd);
	return err;
}

int seg_meta_get(sqlite3 *db, const char *key, char *buf, size_t len)
{
	sqlite3_stmt *st = NULL;
	int rc, err = -ENOENT;

	rc = sqlite3_prepare_v2(db, "SELECT value FROM meta WHERE key = ?1", -1, &st, NULL);
	if (rc != SQLITE_OK)
		return seg_sqlite_err(rc);
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		const unsigned char *v = sqlite3_column_text(st, 0);

		snprintf(buf, len, "%s", v ? (const char *)v : "");
		err = 0;
	} else if (rc != SQLITE_DONE) {
		err = seg_sqlite_err(rc);
	}
	sqlite3_finalize(st);
	return err;
}

int seg_manifest_append(const char *dir, const struct seg_info *info)
{
	char path[4096], line[256];
	int fd, n, err = 0;

	snprintf(path, sizeof(path), "%s/%s", dir, SEG_MANIFEST_NAME);
	fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	n = snprintf(line, sizeof(line), "%" PRIu32 " %s %" PRId64 " %" PRId64 " %" PRIu64 "\n",
		     info->seq, info->sha256, info->first_ns, info->last_ns, info->bytes);
	if (write(fd, line, (size_t)n) != n)
		err = errno ? -errno : -EIO;
	else if (fsync(fd))
		err = -errno;
	close(fd);
	return err;
}

int seg_manifest_find(const char *dir, uint32_t seq, struct seg_info *info)
{
	char path[4096], line[256];
	int err = -ENOENT;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, SEG_MANIFEST_NAME);
	f = fopen(path, "re");
	if (!f)
		return errno == ENOENT ? -ENOENT : -errno;
	while (fgets(line, sizeof(line), f)) {
		struct seg_info t;

		memset(&t, 0, sizeof(t));
		if (sscanf(line, "%" SCNu32 " %64s %" SCNd64 " %" SCNd64 " %" SCNu64, &t.seq,
			   t.sha256, &t.first_ns, &t.last_ns, &t.bytes) != 5)
			continue; /* a torn last line after a crash */
		if (t.seq == seq && strlen(t.sha256) == 64) {
			*info = t;
			err = 0;
		}
	}
	fclose(f);
	return err;
}

/* first_ns/last_ns: the earliest and latest time any row of the segment mentions. */
static const char range_sql[] =
	"SELECT min(a), max(b) FROM ("
	" SELECT min(start_ns) AS a, max(start_ns + coalesce(dur_ns, 0)) AS b FROM conn"
	" UNION ALL SELECT min(end_ns), max(end_ns) FROM conn_end"
	" UNION ALL SELECT min(start_ns), max(end_ns) FROM gap"
	" UNION ALL SELECT min(ts_ns), max(ts_ns) FROM run"
	" UNION ALL SELECT min(ts_ns), max(ts_ns) FROM retention)";

static int put_meta(sqlite3 *db, const char *key, const char *value)
{
	sqlite3_stmt *st = NULL;
	int rc;

	/* Only ever inserts: a key written earlier (e.g. prev_sha256 by the writer) stays. */
	rc = sqlite3_prepare_v2(db,
				"INSERT INTO meta(key, value) VALUES(?1, ?2) "
				"ON CONFLICT(key) DO NOTHING",
				-1, &st, NULL);
	if (rc == SQLITE_OK) {
		sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, value, -1, SQLITE_STATIC);
		rc = sqlite3_step(st);
		rc = rc == SQLITE_DONE ? SQLITE_OK : rc;
	}
	sqlite3_finalize(st);
	return rc;
}

/* Step 1 of sealing: indexes and the seal metadata, all in one transaction. */
static int seal_db(const char *path, const char *prev_sha256, struct seg_info *info)
{
	char val[128];
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	int rc, err = 0;

	rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL);
	if (rc != SQLITE_OK) {
		err = seg_sqlite_err(rc);
		goto cleanup;
	}
	sqlite3_busy_timeout(db, 5000);
	/*
	 * Switching to a rollback journal checkpoints and removes the WAL first. Doing it before
	 * the index build keeps the build out of a WAL that would double its size on disk.
	 */
	rc = sqlite3_exec(db, "PRAGMA journal_mode=DELETE; PRAGMA synchronous=FULL;", NULL, NULL,
			  NULL);
	if (rc != SQLITE_OK)
		goto sql_fail;
	if (!seg_meta_get(db, "sealed", val, sizeof(val)) && !strcmp(val, "1")) {
		if (seg_meta_get(db, "first_ns", val, sizeof(val)) == 0)
			info->first_ns = strtoll(val, NULL, 10);
		if (seg_meta_get(db, "last_ns", val, sizeof(val)) == 0)
			info->last_ns = strtoll(val, NULL, 10);
		goto cleanup;
	}
	rc = sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
	if (rc != SQLITE_OK)
		goto sql_fail;
	rc = sqlite3_prepare_v2(db, range_sql, -1, &st, NULL);
	if (rc != SQLITE_OK)
		goto sql_fail_tx;
	rc = sqlite3_step(st);
	if (rc != SQLITE_ROW)
		goto sql_fail_tx;
	info->first_ns = sqlite3_column_int64(st, 0);
	info->last_ns = sqlite3_column_int64(st, 1);
	if (sqlite3_column_type(st, 0) == SQLITE_NULL &&
	    seg_meta_get(db, "created_ns", val, sizeof(val)) == 0)
		info->first_ns = info->last_ns = strtoll(val, NULL, 10);
	sqlite3_finalize(st);
	st = NULL;
	for (unsigned i = 0; i < seal_sql_count; i++) {
		rc = sqlite3_exec(db, seal_sql[i], NULL, NULL, NULL);
		if (rc != SQLITE_OK)
			goto sql_fail_tx;
	}
	snprintf(val, sizeof(val), "%" PRId64, info->first_ns);
	rc = put_meta(db, "first_ns", val);
	if (rc == SQLITE_OK) {
		snprintf(val, sizeof(val), "%" PRId64, info->last_ns);
		rc = put_meta(db, "last_ns", val);
	}
	if (rc == SQLITE_OK && prev_sha256)
		rc = put_meta(db, "prev_sha256", prev_sha256);
	if (rc == SQLITE_OK) {
		snprintf(val, sizeof(val), "%" PRId64, seg_now_ns());
		rc = put_meta(db, "sealed_ns", val);
	}
	if (rc == SQLITE_OK)
		rc = put_meta(db, "sealed", "1");
	if (rc != SQLITE_OK)
		goto sql_fail_tx;
	rc = sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
	if (rc != SQLITE_OK)
		goto sql_fail_tx;
	goto cleanup;

sql_fail_tx:
	sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
sql_fail:
	err = seg_sqlite_err(rc);
	cr_warn("seal %s: %s", path, sqlite3_errmsg(db));
cleanup:
	sqlite3_finalize(st);
	sqlite3_close(db);
	return err;
}

static int write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len) {
		ssize_t w = write(fd, p, len);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += w;
		len -= (size_t)w;
	}
	return 0;
}

/* Steps 2-3: compress SRC into DST (created fresh), hashing the compressed bytes; fsync. */
static int compress_file(const char *src, const char *dst, struct seg_info *info)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned mdlen = 0;
	size_t outcap = ZSTD_CStreamOutSize();
	char *in = NULL, *out = NULL;
	EVP_MD_CTX *md_ctx = NULL;
	ZSTD_CCtx *zc = NULL;
	int ifd = -1, ofd = -1, err = 0, last = 0;
	uint64_t total = 0;

	ifd = open(src, O_RDONLY | O_CLOEXEC);
	if (ifd < 0) {
		err = -errno;
		goto cleanup;
	}
	ofd = open(dst, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (ofd < 0) {
		err = -errno;
		goto cleanup;
	}
	in = malloc(SEG_IO_CHUNK);
	out = malloc(outcap);
	zc = ZSTD_createCCtx();
	md_ctx = EVP_MD_CTX_new();
	if (!in || !out || !zc || !md_ctx) {
		err = -ENOMEM;
		goto cleanup;
	}
	ZSTD_CCtx_setParameter(zc, ZSTD_c_compressionLevel, SEG_ZSTD_LEVEL);
	/* The frame checksum lets any zstd tool detect a damaged segment on its own. */
	ZSTD_CCtx_setParameter(zc, ZSTD_c_checksumFlag, 1);
	EVP_DigestInit_ex(md_ctx, EVP_sha256(), NULL);
	while (!last) {
		ssize_t r = read(ifd, in, SEG_IO_CHUNK);
		ZSTD_inBuffer ib;

		if (r < 0) {
			if (errno == EINTR)
				continue;
			err = -errno;
			goto cleanup;
		}
		last = r == 0;
		ib = (ZSTD_inBuffer){ in, (size_t)r, 0 };
		for (;;) {
			ZSTD_outBuffer ob = { out, outcap, 0 };
			size_t left = ZSTD_compressStream2(zc, &ob, &ib,
							   last ? ZSTD_e_end : ZSTD_e_continue);

			if (ZSTD_isError(left)) {
				cr_warn("zstd: %s", ZSTD_getErrorName(left));
				err = -EIO;
				goto cleanup;
			}
			err = write_all(ofd, out, ob.pos);
			if (err)
				goto cleanup;
			EVP_DigestUpdate(md_ctx, out, ob.pos);
			total += ob.pos;
			if (last ? left == 0 : ib.pos == ib.size)
				break;
		}
	}
	if (fsync(ofd)) {
		err = -errno;
		goto cleanup;
	}
	EVP_DigestFinal_ex(md_ctx, md, &mdlen);
	to_hex(md, mdlen, info->sha256);
	info->bytes = total;
cleanup:
	EVP_MD_CTX_free(md_ctx);
	ZSTD_freeCCtx(zc);
	free(in);
	free(out);
	if (ifd >= 0)
		close(ifd);
	if (ofd >= 0 && close(ofd) && !err)
		err = -errno;
	if (err)
		unlink(dst);
	return err;
}

static void unlink_raw(const char *raw)
{
	static const char *const sfx[] = { "-wal", "-shm", "-journal" };
	char p[4200];

	for (size_t i = 0; i < sizeof(sfx) / sizeof(sfx[0]); i++) {
		snprintf(p, sizeof(p), "%s%s", raw, sfx[i]);
		unlink(p);
	}
	unlink(raw);
}

int seg_seal(const char *dir, uint32_t seq, const char *prev_sha256, struct seg_info *info)
{
	char name[SEG_NAME_MAX], raw[4200], zst[4200], tmp[4200];
	struct stat st;
	int err;

	memset(info, 0, sizeof(*info));
	info->seq = seq;
	seg_format_name(name, sizeof(name), seq, SEG_RAW);
	snprintf(raw, sizeof(raw), "%s/%s", dir, name);
	seg_format_name(name, sizeof(name), seq, SEG_ZST);
	snprintf(zst, sizeof(zst), "%s/%s", dir, name);
	seg_format_name(name, sizeof(name), seq, SEG_TMP);
	snprintf(tmp, sizeof(tmp), "%s/%s", dir, name);

	if (stat(zst, &st) == 0) {
		/* Compressed, fsynced and renamed before: only the raw file may be left. */
		if (seg_manifest_find(dir, seq, info)) {
			err = seg_hash_file(zst, info->sha256);
			if (err)
				return err;
			info->seq = seq;
			info->bytes = (uint64_t)st.st_size;
			err = seg_manifest_append(dir, info);
			if (err)
				return err;
		}
		if (access(raw, F_OK) == 0) {
			unlink_raw(raw);
			return seg_fsync_dir(dir);
		}
		return 0;
	}
	unlink(tmp); /* an unfinished compression: redo it */
	err = seal_db(raw, prev_sha256, info);
	if (err)
		return err;
	err = compress_file(raw, tmp, info);
	if (err)
		return err;
	/* The manifest line goes first: once the .zst exists, its line does too. */
	err = seg_manifest_append(dir, info);
	if (err)
		goto fail_tmp;
	if (rename(tmp, zst)) {
		err = -errno;
		goto fail_tmp;
	}
	err = seg_fsync_dir(dir);
	if (err)
		return err;
	unlink_raw(raw);
	return seg_fsync_dir(dir);
fail_tmp:
	unlink(tmp);
	return err;
}
