// SPDX-License-Identifier: MIT
/*
 * Compressing a segment into the seekable layout of seekable.h: independent zstd frames of
 * SEEK_FRAME_BYTES and a seek table, hashing the compressed bytes as they are written.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <zstd.h>

#include "fileio.h"
#include "log.h"
#include "seekable.h"
#include "segment.h"

#define SEG_ZSTD_LEVEL 3

struct zwriter {
	int fd;
	EVP_MD_CTX *md;
	uint64_t total;
	unsigned char *table; /* the seek table's entries, grown as frames are written */
	size_t table_len, table_cap;
	uint32_t frames;
};

static void put_le32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)v;
	p[1] = (unsigned char)(v >> 8);
	p[2] = (unsigned char)(v >> 16);
	p[3] = (unsigned char)(v >> 24);
}

static int emit(struct zwriter *w, const void *buf, size_t n)
{
	int err = cr_write_all(w->fd, buf, n);

	if (err)
		return err;
	EVP_DigestUpdate(w->md, buf, n);
	w->total += n;
	return 0;
}

static int add_entry(struct zwriter *w, uint32_t csize, uint32_t dsize)
{
	if (w->frames == UINT32_MAX)
		return -EFBIG;
	if (w->table_len + SEEK_ENTRY_BYTES > w->table_cap) {
		size_t cap = w->table_cap ? w->table_cap * 2 : 4096;
		unsigned char *t = realloc(w->table, cap);

		if (!t)
			return -ENOMEM;
		w->table = t;
		w->table_cap = cap;
	}
	put_le32(w->table + w->table_len, csize);
	put_le32(w->table + w->table_len + 4, dsize);
	w->table_len += SEEK_ENTRY_BYTES;
	w->frames++;
	return 0;
}

/* Reads up to n bytes, fewer only at the end of the file. */
static ssize_t read_full(int fd, unsigned char *buf, size_t n)
{
	size_t got = 0;

	while (got < n) {
		ssize_t r = read(fd, buf + got, n - got);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (r == 0)
			break;
		got += (size_t)r;
	}
	return (ssize_t)got;
}

static int write_table(struct zwriter *w)
{
	unsigned char head[SEEK_HEADER_BYTES], foot[SEEK_FOOTER_BYTES];
	uint64_t payload = (uint64_t)w->table_len + SEEK_FOOTER_BYTES;
	int err;

	if (payload > UINT32_MAX)
		return -EFBIG;
	put_le32(head, SEEK_SKIPPABLE_MAGIC);
	put_le32(head + 4, (uint32_t)payload);
	put_le32(foot, w->frames);
	foot[4] = 0; /* descriptor: no per-frame checksums in the table */
	put_le32(foot + 5, SEEK_FOOTER_MAGIC);
	err = emit(w, head, sizeof(head));
	if (!err && w->table_len)
		err = emit(w, w->table, w->table_len);
	if (!err)
		err = emit(w, foot, sizeof(foot));
	return err;
}

int seg_compress(const char *src, const char *dst, struct seg_info *info)
{
	size_t outcap = ZSTD_compressBound(SEEK_FRAME_BYTES);
	struct zwriter w = { .fd = -1 };
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned char *in = NULL, *out = NULL;
	unsigned mdlen = 0;
	ZSTD_CCtx *zc = NULL;
	int ifd = -1, err = 0;

	ifd = cr_open_regular(src);
	if (ifd < 0) {
		err = ifd;
		goto cleanup;
	}
	/* A temporary name, made fresh: seg_seal() removed any leftover (or planted link). */
	w.fd = cr_open_private(dst, O_WRONLY | O_EXCL);
	if (w.fd < 0) {
		err = w.fd;
		goto cleanup;
	}
	in = malloc(SEEK_FRAME_BYTES);
	out = malloc(outcap);
	zc = ZSTD_createCCtx();
	w.md = EVP_MD_CTX_new();
	if (!in || !out || !zc || !w.md) {
		err = -ENOMEM;
		goto cleanup;
	}
	ZSTD_CCtx_setParameter(zc, ZSTD_c_compressionLevel, SEG_ZSTD_LEVEL);
	/* The frame checksum lets any zstd tool, and the reader, detect a damaged frame. */
	ZSTD_CCtx_setParameter(zc, ZSTD_c_checksumFlag, 1);
	EVP_DigestInit_ex(w.md, EVP_sha256(), NULL);
	for (;;) {
		ssize_t r = read_full(ifd, in, SEEK_FRAME_BYTES);
		size_t n;

		if (r < 0) {
			err = (int)r;
			goto cleanup;
		}
		if (r == 0)
			break;
		/* One frame per chunk, each on its own: a reader can start at any frame. */
		n = ZSTD_compress2(zc, out, outcap, in, (size_t)r);
		if (ZSTD_isError(n)) {
			cr_warn("zstd: %s", ZSTD_getErrorName(n));
			err = -EIO;
			goto cleanup;
		}
		err = emit(&w, out, n);
		if (!err)
			err = add_entry(&w, (uint32_t)n, (uint32_t)r);
		if (err)
			goto cleanup;
		if ((size_t)r < SEEK_FRAME_BYTES)
			break;
	}
	err = write_table(&w);
	if (err)
		goto cleanup;
	if (fsync(w.fd)) {
		err = -errno;
		goto cleanup;
	}
	EVP_DigestFinal_ex(w.md, md, &mdlen);
	seg_hex(md, mdlen, info->sha256);
	info->bytes = w.total;
cleanup:
	EVP_MD_CTX_free(w.md);
	ZSTD_freeCCtx(zc);
	free(w.table);
	free(in);
	free(out);
	if (ifd >= 0)
		close(ifd);
	if (w.fd >= 0 && close(w.fd) && !err)
		err = -errno;
	if (err)
		unlink(dst);
	return err;
}
