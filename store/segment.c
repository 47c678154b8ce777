// SPDX-License-Identifier: MIT
/*
 * Segment files of a data dir: their names, listing, hashing, removal and the manifest of
 * sealed segments. Sealing itself is in segment_seal.c.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "fileio.h"
#include "log.h"
#include "segment.h"
#include "timespec.h"

#define SEG_PREFIX "seg-"
#define SEG_DIGITS 8

int64_t seg_now_ns(void)
{
	return ts_now_ns();
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
	const char *digits, *p;
	uint64_t v = 0;
	size_t n;

	if (strncmp(name, SEG_PREFIX, strlen(SEG_PREFIX)))
		return 0;
	digits = p = name + strlen(SEG_PREFIX);
	/* At most 10 digits: UINT32_MAX has 10, and more could overflow v. */
	while (*p >= '0' && *p <= '9' && p - digits < 10)
		v = v * 10 + (uint64_t)(*p++ - '0');
	n = (size_t)(p - digits);
	/* Only the spelling seg_format_name() writes: 8 digits, or more without a leading 0. */
	if (n < SEG_DIGITS || (n > SEG_DIGITS && digits[0] == '0') || v == 0 || v > UINT32_MAX)
		return 0;
	*seq = (uint32_t)v;
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

void seg_path(char *buf, size_t len, const char *dir, uint32_t seq, enum seg_kind kind)
{
	char name[SEG_NAME_MAX];

	seg_format_name(name, sizeof(name), seq, kind);
	snprintf(buf, len, "%s/%s", dir, name);
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

void seg_unlink_raw(const char *dir, uint32_t seq)
{
	static const char *const sfx[] = { "-wal", "-shm", "-journal" };
	char raw[4200], p[4200 + 16];

	seg_path(raw, sizeof(raw), dir, seq, SEG_RAW);
	for (size_t i = 0; i < sizeof(sfx) / sizeof(sfx[0]); i++) {
		snprintf(p, sizeof(p), "%s%s", raw, sfx[i]);
		unlink(p);
	}
	unlink(raw);
}

int seg_secure_files(const char *path, bool create)
{
	static const char *const sfx[] = { "", "-wal", "-shm", "-journal" };
	char p[4200 + 16];
	struct stat st;

	for (size_t i = 0; i < sizeof(sfx) / sizeof(sfx[0]); i++) {
		int fd;

		snprintf(p, sizeof(p), "%s%s", path, sfx[i]);
		if (lstat(p, &st)) {
			if (errno != ENOENT)
				return -errno;
			if (i > 0)
				continue; /* SQLite makes it, with the segment's mode */
			if (!create)
				return -ENOENT;
		}
		fd = cr_open_private(p, O_RDWR);
		if (fd < 0) {
			cr_err("store: %s: %s", p, cr_open_strerror(fd));
			return fd;
		}
		close(fd);
	}
	return 0;
}

void seg_hex(const unsigned char *md, unsigned len, char *hex)
{
	static const char digits[] = "0123456789abcdef";

	for (unsigned i = 0; i < len; i++) {
		hex[2 * i] = digits[md[i] >> 4];
		hex[2 * i + 1] = digits[md[i] & 15];
	}
	hex[2 * len] = '\0';
}

int seg_unhex(const char *hex, unsigned char *out, size_t len)
{
	for (size_t i = 0; i < 2 * len; i++) {
		char c = hex[i];
		int v = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;

		if (v < 0)
			return -EINVAL;
		out[i / 2] = (unsigned char)(i % 2 ? out[i / 2] << 4 | v : v);
	}
	return 0;
}

int seg_hash_file(const char *path, char hex[65])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned mdlen = 0;
	EVP_MD_CTX *ctx = NULL;
	char *buf = NULL;
	int fd = -1, err = 0;
	ssize_t r;

	fd = cr_open_regular(path);
	if (fd < 0) {
		err = fd;
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
	seg_hex(md, mdlen, hex);
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

int64_t seg_query_i64(sqlite3 *db, const char *sql, int64_t dflt)
{
	sqlite3_stmt *st = NULL;
	int64_t v = dflt;

	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

int seg_manifest_append(const char *dir, const struct seg_info *info)
{
	char path[4096], line[256];
	int fd, n, err = 0;

	snprintf(path, sizeof(path), "%s/%s", dir, SEG_MANIFEST_NAME);
	fd = cr_open_private(path, O_WRONLY | O_APPEND);
	if (fd < 0)
		return fd;
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
	f = cr_fopen_regular(path);
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
