// SPDX-License-Identifier: MIT
/* The values of the query's list options. */
#include <errno.h>
#include <stdlib.h>

#include "opts.h"
#include "query.h"

/* Comma-separated unsigned integers up to max. */
int query_parse_uints(const char *s, uint64_t max, uint64_t **out, size_t *n)
{
	uint64_t *v = NULL;
	size_t cnt = 0;
	const char *p = s;

	if (!*s)
		return -EINVAL;
	for (;;) {
		char *end;
		unsigned long long x;
		uint64_t *nv;

		if (*p < '0' || *p > '9') {
			free(v);
			return -EINVAL;
		}
		errno = 0;
		x = strtoull(p, &end, 10);
		if (errno || x > max || (*end && *end != ',')) {
			free(v);
			return -EINVAL;
		}
		nv = realloc(v, (cnt + 1) * sizeof(*v));
		if (!nv) {
			free(v);
			return -ENOMEM;
		}
		v = nv;
		v[cnt++] = x;
		if (!*end)
			break;
		p = end + 1;
	}
	*out = v;
	*n = cnt;
	return 0;
}

int query_parse_u32s(const struct opt *o, const char *s, uint32_t **out, size_t *n)
{
	uint64_t *v;
	size_t cnt;
	uint32_t *w;

	if (query_parse_uints(s, UINT32_MAX, &v, &cnt))
		return opt_bad_value(o, s, "expected a comma-separated list of numbers");
	w = malloc(cnt * sizeof(*w));
	if (!w) {
		free(v);
		return -ENOMEM;
	}
	for (size_t i = 0; i < cnt; i++)
		w[i] = (uint32_t)v[i];
	free(v);
	free(*out);
	*out = w;
	*n = cnt;
	return 0;
}
