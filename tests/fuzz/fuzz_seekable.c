// SPDX-License-Identifier: MIT
/*
 * libFuzzer target: the seek table and frame reader of seekable sealed segments
 * (read/store_read_zseek.c) on arbitrary bytes, seeded with a real seekable segment. Each
 * input is written to a private file, opened, and, when its table is accepted, read whole in
 * pieces whose sizes and order come from the input's first bytes (so reads cross frame
 * boundaries and the cache is reused and evicted). A crash, a leak or a read that reports
 * success for bytes beyond the .db is a finding.
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store_read_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char path[64];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static unsigned char buf[70000];
	struct sr_zseek *z = NULL;
	char msg[256];
	uint64_t total, off = 0;
	int fd, err;

	if (!path[0]) {
		/* In the working directory (run.sh's own), as fuzz_open's. */
		snprintf(path, sizeof(path), "connrec-fuzzseek.XXXXXX");
		fd = mkstemp(path);
		if (fd < 0)
			abort();
		close(fd);
	}
	fd = open(path, O_WRONLY | O_TRUNC);
	if (fd < 0 || write(fd, data, size) != (ssize_t)size || close(fd))
		abort();
	err = sr_zseek_open(path, &z, msg, sizeof(msg));
	if (err || !z)
		return 0;
	total = sr_zseek_size(z);
	/* Piece sizes from the first bytes: 1 byte to 64 KiB; every other piece jumps back. */
	for (size_t k = 0; off < total + 10 && k < 4096; k++) {
		size_t n = 1 + ((size_t)data[k % size] << 8 | data[(k + 1) % size]);
		uint64_t at = k % 2 && off > 70000 ? off - 70000 : off;
		int r = sr_zseek_read(z, buf, n, at);

		if (r < 0)
			break;
		if (r == 0 && at + n > total)
			abort(); /* claimed bytes past the end */
		if (r == 1 && at + n <= total)
			abort(); /* a short read inside the .db */
		if (!(k % 2))
			off += n;
	}
	sr_zseek_close(z);
	return 0;
}
