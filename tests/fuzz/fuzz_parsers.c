// SPDX-License-Identifier: MIT
/* libFuzzer target: every command-line parser of the query on arbitrary bytes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "timespec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);
	struct addr_cidr *c = NULL;
	struct addr_port_range *p = NULL;
	uint8_t fam, a[16];
	char buf[64];
	size_t n;
	int64_t v;
	uint64_t u;

	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	if (!ts_parse_duration(s, &v) && v < 0)
		abort(); /* durations are never negative */
	if (!ts_parse_time(s, 1800000000LL * TS_NSEC_PER_SEC, &v)) {
		if (v < 0)
			abort();
		ts_format_time(v, TS_FMT_UTC | TS_FMT_NANO, buf, sizeof(buf));
	}
	ts_parse_size(s, &u);
	if (!addr_parse_cidr_list(s, &c, &n)) {
		for (size_t i = 0; i < n; i++) {
			if (c[i].prefix > (c[i].family == 4 ? 32 : 128))
				abort();
			/* A CIDR contains its own base address. */
			if (!addr_cidr_match(&c[i], c[i].addr, c[i].family == 4 ? 4 : 16))
				abort();
		}
	}
	free(c);
	if (!addr_parse_port_list(s, &p, &n)) {
		for (size_t i = 0; i < n; i++) {
			if (p[i].lo > p[i].hi)
				abort();
		}
	}
	free(p);
	if (!addr_parse(s, &fam, a))
		addr_format(a, fam == 4 ? 4 : 16, buf);
	free(s);
	return 0;
}
