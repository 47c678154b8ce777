// SPDX-License-Identifier: MIT
/*
 * libFuzzer target: what verify reads from a heads file or an anchor table, on arbitrary
 * bytes: seal records (sealrec_parse), checkpoint marks, verification keys. A record that
 * parses must format to a line that parses back to the same record, so that nothing it says
 * is lost.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ckpt.h"
#include "sealkey.h"
#include "sealrec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1), again[SEALKEY_LINE_MAX + 64], id[SEALKEY_ID_LEN + 1];
	struct ckpt_marks m;
	struct sealrec r;
	uint8_t k0[SEALKEY_LEN];

	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	if (!sealrec_parse(s, &r)) {
		const char *b = strstr(s, "connrec-anchor v=1 ");
		int n;

		if (r.kind != SEALREC_CHECKPOINT && r.kind != SEALREC_SEAL)
			abort();
		n = sealrec_format(&r, again, sizeof(again));
		/*
		 * What parsed must format to a line that parses back to what formats the same: the
		 * canonical line carries everything the record says. (The fields may come in another
		 * order in the input, so its text is not compared: an earlier form of this check
		 * went off on a reordered line of the same length.)
		 */
		if (n > 0 && (size_t)n < sizeof(again) - 8 - 2 * SEALKEY_LEN) {
			char back[sizeof(again)];
			struct sealrec r2;
			int m;

			if (r.keyed) {
				m = n + snprintf(again + n, sizeof(again) - (size_t)n, " mac=");
				for (size_t i = 0; i < SEALKEY_LEN; i++)
					m += snprintf(again + m, sizeof(again) - (size_t)m, "%02x", r.mac[i]);
			}
			if (sealrec_parse(again, &r2))
				abort();
			again[n] = '\0';
			m = sealrec_format(&r2, back, sizeof(back));
			if (m != n || memcmp(back, again, (size_t)n))
				abort();
		}
		if (r.keyed && r.mac_off + 5 + 2 * SEALKEY_LEN > strlen(b))
			abort();
	}
	if (!ckpt_marks_parse(s, &m) && m.n > CKPT_MAX_TABLES)
		abort();
	sealkey_parse_verify(s, k0, id);
	free(s);
	return 0;
}
