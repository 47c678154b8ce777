// SPDX-License-Identifier: MIT
/*
 * libFuzzer target: what verify reads from a heads file or an anchor table, on arbitrary
 * bytes: seal records (sealrec_parse), checkpoint marks, verification keys. A record that
 * parses must format back to the same line (less its MAC), so that nothing it says is lost.
 */
#include <stdint.h>
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
		size_t blen = r.keyed ? r.mac_off : strcspn(b, "\r\n");
		int n;

		if (r.kind != SEALREC_CHECKPOINT && r.kind != SEALREC_SEAL)
			abort();
		n = sealrec_format(&r, again, sizeof(again));
		/* Same fields, same text: only the canonical form parses back identically. */
		if (n > 0 && (size_t)n == blen && memcmp(again, b, blen))
			abort();
		if (r.keyed && r.mac_off + 5 + 2 * SEALKEY_LEN > strlen(b))
			abort();
	}
	if (!ckpt_marks_parse(s, &m) && m.n > CKPT_MAX_TABLES)
		abort();
	sealkey_parse_verify(s, k0, id);
	free(s);
	return 0;
}
