// SPDX-License-Identifier: MIT
/*
 * The seekable segment layout (store/seekable.h): what seg_compress() writes is plain zstd
 * that `zstd -d` turns back into the exact input, with a seek table that describes it; and
 * the frame reader gives those bytes back at any offset.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "seekable.h"
#include "segment.h"
#include "store_read_internal.h"

static char base[256];

static uint32_t le32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static unsigned char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	unsigned char *buf = NULL;
	struct stat st;

	*len = 0;
	if (!f)
		return NULL;
	if (!fstat(fileno(f), &st)) {
		buf = malloc((size_t)st.st_size + 1);
		if (buf)
			*len = fread(buf, 1, (size_t)st.st_size, f);
	}
	fclose(f);
	return buf;
}

/* Text-like bytes that compress, with some noise so frames differ. */
static void make_input(const char *path, size_t n, unsigned seed)
{
	FILE *f = fopen(path, "wb");

	srand(seed);
	for (size_t i = 0; f && i < n; i++)
		fputc(i % 97 < 60 ? "connrec segment "[i % 16] : rand() & 0xff, f);
	if (f)
		fclose(f);
}

/* The seek table at the end of a .zst: frame count and the sizes it lists. */
static void check_table(const unsigned char *z, size_t zlen, size_t raw_len, const char *what)
{
	uint64_t csum = 0, dsum = 0;
	uint32_t n, payload;
	size_t table;

	CHECK(zlen >= SEEK_HEADER_BYTES + SEEK_FOOTER_BYTES, "%s: too short for a table", what);
	if (zlen < SEEK_HEADER_BYTES + SEEK_FOOTER_BYTES)
		return;
	CHECK(le32(z + zlen - 4) == SEEK_FOOTER_MAGIC, "%s: footer magic", what);
	CHECK(z[zlen - 5] == 0, "%s: descriptor", what);
	n = le32(z + zlen - SEEK_FOOTER_BYTES);
	CHECK(n == (raw_len + SEEK_FRAME_BYTES - 1) / SEEK_FRAME_BYTES, "%s: %u frames for %zu bytes",
	      what, n, raw_len);
	table = SEEK_HEADER_BYTES + (size_t)n * SEEK_ENTRY_BYTES + SEEK_FOOTER_BYTES;
	CHECK(table <= zlen, "%s: table larger than the file", what);
	if (table > zlen)
		return;
	CHECK(le32(z + zlen - table) == SEEK_SKIPPABLE_MAGIC, "%s: skippable magic", what);
	payload = le32(z + zlen - table + 4);
	CHECK(payload == table - SEEK_HEADER_BYTES, "%s: skippable frame size %u", what, payload);
	for (uint32_t i = 0; i < n; i++) {
		const unsigned char *e = z + zlen - table + SEEK_HEADER_BYTES + i * SEEK_ENTRY_BYTES;

		csum += le32(e);
		dsum += le32(e + 4);
		CHECK(i + 1 == n || le32(e + 4) == SEEK_FRAME_BYTES, "%s: frame %u size", what, i);
	}
	CHECK(csum + table == zlen, "%s: frames %llu + table %zu != file %zu", what,
	      (unsigned long long)csum, table, zlen);
	CHECK(dsum == raw_len, "%s: decompressed sizes add up to %llu, not %zu", what,
	      (unsigned long long)dsum, raw_len);
}

/* seg_compress() on n bytes: zstd -d gives them back, the hash and size are the file's. */
static void round_trip(size_t n)
{
	char raw[300], zst[320], out[320], cmd[1000], hex[65];
	struct seg_info info;
	unsigned char *a, *b, *z;
	size_t alen, blen, zlen;
	int err;

	snprintf(raw, sizeof(raw), "%s/in-%zu.db", base, n);
	snprintf(zst, sizeof(zst), "%s.zst", raw);
	snprintf(out, sizeof(out), "%s.out", raw);
	make_input(raw, n, (unsigned)n);
	memset(&info, 0, sizeof(info));
	err = seg_compress(raw, zst, &info);
	CHECK(err == 0, "seg_compress %zu bytes: %d", n, err);
	snprintf(cmd, sizeof(cmd), "zstd -q -d -c '%s' > '%s'", zst, out);
	CHECK(system(cmd) == 0, "zstd -d of %zu bytes fails", n);
	a = slurp(raw, &alen);
	b = slurp(out, &blen);
	CHECK(a && b && alen == n && blen == n && !memcmp(a, b, n),
	      "zstd -d of %zu bytes gives %zu different bytes", n, blen);
	z = slurp(zst, &zlen);
	CHECK(z && info.bytes == zlen, "info.bytes %llu, file %zu", (unsigned long long)info.bytes,
	      zlen);
	CHECK(seg_hash_file(zst, hex) == 0 && !strcmp(hex, info.sha256), "sha256 of %zu bytes", n);
	if (z)
		check_table(z, zlen, n, raw);
	free(a);
	free(b);
	free(z);
}

/*
 * The reader (read/store_read_zseek.c) on what the writer made: reads at random offsets and
 * sizes, across frames and through the cache's evictions, give the original bytes; a read
 * past the end is short and zero-filled; a single-frame file is not taken for seekable.
 */
static void read_back(size_t n)
{
	char raw[300], zst[320], cmd[1000], msg[256];
	struct sr_zseek *z = NULL;
	unsigned char *a, *buf;
	size_t alen, bad = 0;
	int err;

	snprintf(raw, sizeof(raw), "%s/rb-%zu.db", base, n);
	snprintf(zst, sizeof(zst), "%s.zst", raw);
	make_input(raw, n, 7);
	CHECK(seg_compress(raw, zst, &(struct seg_info){ 0 }) == 0, "seg_compress");
	a = slurp(raw, &alen);
	buf = malloc(3 * SEEK_FRAME_BYTES);
	err = sr_zseek_open(zst, &z, msg, sizeof(msg));
	CHECK(err == 0 && z, "sr_zseek_open: %d %s", err, msg);
	if (!z || !a || !buf)
		goto cleanup;
	CHECK(sr_zseek_size(z) == n, "size %llu", (unsigned long long)sr_zseek_size(z));
	srand(11);
	for (int i = 0; i < 3000; i++) {
		size_t len = 1 + (size_t)rand() % (3 * SEEK_FRAME_BYTES - 1);
		size_t off = (size_t)rand() % n;

		if (off + len > n)
			len = n - off;
		if (sr_zseek_read(z, buf, len, off) != 0 || memcmp(buf, a + off, len))
			bad++;
	}
	CHECK(bad == 0, "%zu of 3000 random reads differ from the original", bad);
	memset(buf, 0xaa, 100);
	CHECK(sr_zseek_read(z, buf, 100, n - 50) == 1 && !memcmp(buf, a + n - 50, 50) &&
		      buf[50] == 0 && buf[99] == 0,
	      "a read across the end is short and zero-filled");
	CHECK(sr_zseek_read(z, buf, 10, n + 5) == 1 && buf[0] == 0, "a read past the end");
	CHECK(sr_zseek_error(z)[0] == '\0', "no frame error: %s", sr_zseek_error(z));
	sr_zseek_close(z);
	z = NULL;
	/* The same bytes as one zstd frame, as sealed before: no seek table, not seekable. */
	snprintf(cmd, sizeof(cmd), "zstd -q -f -3 --check '%s' -o '%s'", raw, zst);
	CHECK(system(cmd) == 0, "zstd");
	err = sr_zseek_open(zst, &z, msg, sizeof(msg));
	CHECK(err == 0 && !z, "a single-frame file: %d, %s", err, z ? "taken for seekable" : "");
cleanup:
	sr_zseek_close(z);
	free(a);
	free(buf);
}

int main(void)
{
	char cmd[300];

	snprintf(base, sizeof(base), "/tmp/connrec-seek.XXXXXX");
	if (!mkdtemp(base))
		return 1;
	round_trip(0);
	round_trip(1);
	round_trip(SEEK_FRAME_BYTES);	      /* exactly one frame */
	round_trip(2 * SEEK_FRAME_BYTES + 4096); /* a short last frame */
	round_trip(5 * SEEK_FRAME_BYTES);
	read_back(40 * SEEK_FRAME_BYTES + 777); /* more frames than the cache holds */
	CHECK(seg_compress("/nonexistent/x.db", "/nonexistent/x.db.zst",
			   &(struct seg_info){ 0 }) == -ENOENT,
	      "a missing source is -ENOENT");
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", base);
	if (system(cmd))
		return 1;
	return check_done();
}
