// SPDX-License-Identifier: MIT
/*
 * libFuzzer target: a ClickHouse server's answer is untrusted. Decodes arbitrary bytes as the
 * RowBinary rows of every shipped table (fleet/ch_rows.c), as query --from reads them: it must
 * stop with an error at the first bad length, never read past the answer, and keep every field
 * within its struct (ASan checks both).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ch_rows.h"
#include "store_read.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	union {
		struct sr_conn c;
		struct sr_end e;
		struct sr_gap g;
		struct sr_run r;
		struct sr_life l;
		struct sr_life_exit x;
		struct sr_cgroup c2;
		struct ch_segment_row s;
	} row;

	for (size_t t = 0; t < ch_n_tables; t++) {
		/* A copy of exactly size bytes, so ASan sees any read past the end. */
		uint8_t *copy = malloc(size ? size : 1);
		struct ch_reader r;
		struct ch_key k;

		if (!copy)
			return 0;
		memcpy(copy, data, size);
		r = (struct ch_reader){ copy, copy + size };
		while (r.p < r.end && !ch_get_key(&r, &k) && !ch_get_row(&r, ch_tables[t], &row)) {
			if (strlen(k.host) >= sizeof(k.host) || r.p > r.end)
				abort();
		}
		if (r.p > r.end)
			abort();
		free(copy);
	}
	return 0;
}
