// SPDX-License-Identifier: MIT
/*
 * libFuzzer target: every command-line parser of the query on arbitrary bytes, and the end
 * zones of a segment's meta (store/conn_zones.h), which come from the evidence.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "conn_zones.h"
#include "timespec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Zones that parse write back as the same text, and every zone's first id is a number. */
static void zones_round_trip(const char *s)
{
	static char out[CONN_ZONES_TEXT_MAX];
	struct conn_zones z;

	if (conn_zones_parse(s, &z))
		return;
	if (conn_zones_format(&z, out, sizeof(out)) || strcmp(out, s))
		abort();
	for (int64_t since = 0; since < 4; since++)
		conn_zones_first_id(&z, since);
	conn_zones_first_id(&z, INT64_MAX);
}

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
	zones_round_trip(s);
	free(s);
	return 0;
}
