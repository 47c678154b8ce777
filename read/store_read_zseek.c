// SPDX-License-Identifier: MIT
/*
 * Reading a seekable sealed segment (store/seekable.h) in place: the seek table, then any
 * byte range of the .db by decompressing only the frames that hold it, through a small cache.
 *
 * Everything here comes from the evidence file: the table is checked as a whole before any
 * frame is read (frames exactly tile the file up to the table, every size within bounds, a
 * frame count the file can hold), and each frame must be one zstd frame that decompresses,
 * checksum included, to exactly the size the table gives it.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
/* For ZSTD_d_forceIgnoreChecksum (sr_zseek_skip_checksums()). */
#define ZSTD_STATIC_LINKING_ONLY
#include <zstd.h>

#include "fileio.h"
#include "seekable.h"
#include "store_read_internal.h"

/* Bounds on what a table may claim: frames of at most 1 MiB (the writer makes 128 KiB), at
 * most 2M frames (256 GiB at 128 KiB), so the offsets take at most 32 MB. */
#define ZS_MAX_FRAME_BYTES (1u << 20)
#define ZS_MAX_FRAMES	   (1u << 21)
/*
 * Decompressed frames kept: about 4 MiB, 32 frames of 128 KiB (at least 8 of larger frames).
 * A scan with its joins touches frames all over the file (b-tree interior pages were
 * allocated as it grew): 8 frames of 128 KiB made the 10M-flow full count 4x slower, 16 was
 * close to and 32 as fast as any larger cache (bench/RESULTS.md).
 */
#define ZS_CACHE_BYTES	   (4u << 20)
#define ZS_CACHE_MAX_SLOTS 32
#define ZS_CACHE_MIN_SLOTS 8

struct zs_slot {
	int64_t frame; /* -1: empty */
	uint64_t used; /* for least-recently-used replacement */
	unsigned char *buf;
};

struct sr_zseek {
	int fd;
	uint32_t frames;
	uint64_t *coff; /* frame i's compressed bytes: [coff[i], coff[i+1]) of the file */
	uint64_t *doff; /* its decompressed bytes: [doff[i], doff[i+1]) of the .db */
	size_t max_csize, max_dsize;
	unsigned char *cbuf; /* one compressed frame */
	ZSTD_DCtx *dctx;
	struct zs_slot slot[ZS_CACHE_MAX_SLOTS];
	unsigned nslots; /* used of slot[], by the largest frame */
	uint64_t clock;
	unsigned last; /* the slot of the last read, tried first */
	char err[256];
};

static uint32_t le32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static int pread_full(int fd, void *buf, size_t n, uint64_t off)
{
	size_t got = 0;

	while (got < n) {
		ssize_t r = pread(fd, (char *)buf + got, n - got, (off_t)(off + got));

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (r == 0)
			return -EBADMSG; /* the file shrank under us */
		got += (size_t)r;
	}
	return 0;
}

void sr_zseek_close(struct sr_zseek *z)
{
	if (!z)
		return;
	for (unsigned i = 0; i < ZS_CACHE_MAX_SLOTS; i++)
		free(z->slot[i].buf);
	ZSTD_freeDCtx(z->dctx);
	free(z->cbuf);
	free(z->coff);
	free(z->doff);
	if (z->fd >= 0)
		close(z->fd);
	free(z);
}

/* The table's entries into z's offset arrays, every one checked. */
static int load_entries(struct sr_zseek *z, const unsigned char *e, size_t esz, uint64_t data_end,
			char *errbuf, size_t errlen)
{
	size_t cbound = ZSTD_compressBound(ZS_MAX_FRAME_BYTES);

	z->coff[0] = z->doff[0] = 0;
	for (uint32_t i = 0; i < z->frames; i++, e += esz) {
		uint32_t c = le32(e), d = le32(e + 4);

		if (c == 0 || c > cbound || d == 0 || d > ZS_MAX_FRAME_BYTES) {
			sr_set_err(errbuf, errlen,
				   "damaged seek table: frame %" PRIu32 " claims %" PRIu32
				   " compressed and %" PRIu32 " decompressed bytes",
				   i, c, d);
			return -EBADMSG;
		}
		z->coff[i + 1] = z->coff[i] + c;
		z->doff[i + 1] = z->doff[i] + d;
		if (z->coff[i + 1] > data_end) {
			sr_set_err(errbuf, errlen,
				   "damaged seek table: frame %" PRIu32 " ends at byte %" PRIu64
				   ", past the table at %" PRIu64,
				   i, z->coff[i + 1], data_end);
			return -EBADMSG;
		}
		if (c > z->max_csize)
			z->max_csize = c;
		if (d > z->max_dsize)
			z->max_dsize = d;
	}
	if (z->coff[z->frames] != data_end) {
		sr_set_err(errbuf, errlen,
			   "damaged seek table: its frames cover %" PRIu64
			   " bytes, the file has %" PRIu64 " before the table",
			   z->coff[z->frames], data_end);
		return -EBADMSG;
	}
	return 0;
}

int sr_zseek_open(const char *path, struct sr_zseek **out, char *errbuf, size_t errlen)
{
	unsigned char foot[SEEK_FOOTER_BYTES], head[SEEK_HEADER_BYTES], *entries = NULL;
	struct sr_zseek *z = NULL;
	uint64_t size, table;
	struct stat st;
	size_t esz;
	int fd, err = 0;

	*out = NULL;
	fd = cr_open_regular(path);
	if (fd < 0) {
		sr_set_err(errbuf, errlen, "cannot read: %s", cr_open_strerror(fd));
		return fd;
	}
	if (fstat(fd, &st)) {
		err = -errno;
		sr_set_err(errbuf, errlen, "cannot read: %s", strerror(errno));
		goto cleanup;
	}
	size = (uint64_t)st.st_size;
	if (size < SEEK_HEADER_BYTES + SEEK_FOOTER_BYTES)
		goto cleanup; /* too short for a table: an older single-frame file, or garbage */
	err = pread_full(fd, foot, sizeof(foot), size - sizeof(foot));
	if (err) {
		sr_set_err(errbuf, errlen, "cannot read: %s", strerror(-err));
		goto cleanup;
	}
	if (le32(foot + 5) != SEEK_FOOTER_MAGIC)
		goto cleanup; /* no seek table: an older single-frame segment */
	z = calloc(1, sizeof(*z));
	if (!z) {
		err = -ENOMEM;
		sr_set_err(errbuf, errlen, "out of memory");
		goto cleanup;
	}
	z->fd = fd;
	fd = -1;
	z->frames = le32(foot);
	/* Bit 7: 4-byte checksums follow each entry (zstd's tool writes them; they are skipped,
	 * each frame's own checksum is checked instead). Other bits are reserved. */
	if (foot[4] & 0x7f) {
		err = -EBADMSG;
		sr_set_err(errbuf, errlen, "damaged seek table: unknown descriptor 0x%02x", foot[4]);
		goto cleanup;
	}
	esz = foot[4] & 0x80 ? SEEK_ENTRY_BYTES + 4 : SEEK_ENTRY_BYTES;
	table = SEEK_HEADER_BYTES + (uint64_t)z->frames * esz + SEEK_FOOTER_BYTES;
	if (z->frames > ZS_MAX_FRAMES || table > size) {
		err = -EBADMSG;
		sr_set_err(errbuf, errlen,
			   "damaged seek table: %" PRIu32 " frames in a file of %" PRIu64 " bytes",
			   z->frames, size);
		goto cleanup;
	}
	err = pread_full(z->fd, head, sizeof(head), size - table);
	if (!err && (le32(head) != SEEK_SKIPPABLE_MAGIC || le32(head + 4) != table - sizeof(head)))
		err = -EBADMSG;
	if (err) {
		sr_set_err(errbuf, errlen, "damaged seek table: bad skippable frame header");
		goto cleanup;
	}
	entries = malloc(table - sizeof(head) - sizeof(foot) + 1);
	z->coff = malloc(((size_t)z->frames + 1) * sizeof(*z->coff));
	z->doff = malloc(((size_t)z->frames + 1) * sizeof(*z->doff));
	z->dctx = ZSTD_createDCtx();
	if (!entries || !z->coff || !z->doff || !z->dctx) {
		err = -ENOMEM;
		sr_set_err(errbuf, errlen, "out of memory");
		goto cleanup;
	}
	err = pread_full(z->fd, entries, table - sizeof(head) - sizeof(foot),
			 size - table + sizeof(head));
	if (err) {
		sr_set_err(errbuf, errlen, "cannot read the seek table: %s", strerror(-err));
		goto cleanup;
	}
	err = load_entries(z, entries, esz, size - table, errbuf, errlen);
	if (err)
		goto cleanup;
	z->cbuf = malloc(z->max_csize + 1);
	if (!z->cbuf) {
		err = -ENOMEM;
		sr_set_err(errbuf, errlen, "out of memory");
		goto cleanup;
	}
	z->nslots = z->max_dsize ? (unsigned)(ZS_CACHE_BYTES / z->max_dsize) : 1;
	if (z->nslots > ZS_CACHE_MAX_SLOTS)
		z->nslots = ZS_CACHE_MAX_SLOTS;
	if (z->nslots < ZS_CACHE_MIN_SLOTS)
		z->nslots = ZS_CACHE_MIN_SLOTS;
	for (unsigned i = 0; i < ZS_CACHE_MAX_SLOTS; i++)
		z->slot[i].frame = -1;
	*out = z;
	z = NULL;
cleanup:
	free(entries);
	sr_zseek_close(z);
	if (fd >= 0)
		close(fd);
	return err;
}

uint64_t sr_zseek_size(const struct sr_zseek *z)
{
	return z->doff[z->frames];
}

void sr_zseek_skip_checksums(struct sr_zseek *z)
{
	/* zstd's experimental parameter: a version without it keeps checking (no harm). */
	ZSTD_DCtx_setParameter(z->dctx, ZSTD_d_forceIgnoreChecksum, ZSTD_d_ignoreChecksum);
}

const char *sr_zseek_error(const struct sr_zseek *z)
{
	return z->err;
}

/* The frame that holds byte off (< size): the last i with doff[i] <= off. */
static uint32_t find_frame(const struct sr_zseek *z, uint64_t off)
{
	uint32_t lo = 0, hi = z->frames - 1;

	while (lo < hi) {
		uint32_t mid = lo + (hi - lo + 1) / 2;

		if (z->doff[mid] <= off)
			lo = mid;
		else
			hi = mid - 1;
	}
	return lo;
}

static int frame_fail(struct sr_zseek *z, uint32_t i, const char *why)
{
	snprintf(z->err, sizeof(z->err),
		 "damaged frame %" PRIu32 " (bytes %" PRIu64 "-%" PRIu64 " of the .db): %s", i,
		 z->doff[i], z->doff[i + 1], why);
	return -EBADMSG;
}

/* Frame i, decompressed, from the cache or into its least recently used slot. */
static int load_frame(struct sr_zseek *z, uint32_t i, const unsigned char **out)
{
	size_t csize = (size_t)(z->coff[i + 1] - z->coff[i]);
	size_t dsize = (size_t)(z->doff[i + 1] - z->doff[i]);
	struct zs_slot *s = &z->slot[z->last];
	unsigned long long want;
	size_t got;
	int err;

	if (s->frame != (int64_t)i) {
		unsigned pick = 0;

		for (unsigned k = 0; k < z->nslots; k++) {
			if (z->slot[k].frame == (int64_t)i) {
				pick = k;
				break;
			}
			if (z->slot[k].used < z->slot[pick].used)
				pick = k;
		}
		s = &z->slot[pick];
		z->last = pick;
	}
	s->used = ++z->clock;
	if (s->frame == (int64_t)i) {
		*out = s->buf;
		return 0;
	}
	s->frame = -1;
	if (!s->buf && !(s->buf = malloc(z->max_dsize)))
		return -ENOMEM;
	err = pread_full(z->fd, z->cbuf, csize, z->coff[i]);
	if (err)
		return frame_fail(z, i, strerror(-err));
	/* Exactly one zstd frame (not a skippable one, not two), of the size the table says. */
	if (csize < 4 || le32(z->cbuf) != ZSTD_MAGICNUMBER)
		return frame_fail(z, i, "not a zstd frame");
	if (ZSTD_findFrameCompressedSize(z->cbuf, csize) != csize)
		return frame_fail(z, i, "its size disagrees with the seek table");
	want = ZSTD_getFrameContentSize(z->cbuf, csize);
	if (want != ZSTD_CONTENTSIZE_UNKNOWN && want != dsize)
		return frame_fail(z, i, "its content size disagrees with the seek table");
	got = ZSTD_decompressDCtx(z->dctx, s->buf, dsize, z->cbuf, csize);
	if (ZSTD_isError(got))
		return frame_fail(z, i, ZSTD_getErrorName(got));
	if (got != dsize)
		return frame_fail(z, i, "shorter than the seek table says");
	s->frame = i;
	*out = s->buf;
	return 0;
}

int sr_zseek_read(struct sr_zseek *z, void *buf, size_t n, uint64_t off)
{
	uint64_t size = sr_zseek_size(z);
	unsigned char *dst = buf;

	while (n && off < size) {
		uint32_t i = find_frame(z, off);
		const unsigned char *frame;
		size_t at = (size_t)(off - z->doff[i]);
		size_t take = (size_t)(z->doff[i + 1] - off);
		int err = load_frame(z, i, &frame);

		if (err)
			return err;
		if (take > n)
			take = n;
		memcpy(dst, frame + at, take);
		dst += take;
		off += take;
		n -= take;
	}
	if (n) {
		memset(dst, 0, n); /* SQLite wants the rest of a short read zeroed */
		return 1;
	}
	return 0;
}
