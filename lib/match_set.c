// SPDX-License-Identifier: MIT
#include "match_set.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static const uint8_t v4mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

int port_set_build(const struct addr_port_range *r, size_t n, struct port_set **out)
{
	struct port_set *s = calloc(1, sizeof(*s));

	*out = NULL;
	if (!s)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		for (uint32_t p = r[i].lo; p <= r[i].hi; p++)
			s->bits[p / 64] |= UINT64_C(1) << (p % 64);
	}
	*out = s;
	return 0;
}

/* ---- Addresses ---- */

/* The block as a range of 16-byte addresses (IPv4 blocks inside ::ffff:0:0/96). */
static void cidr_range(const struct addr_cidr *c, struct addr_range *r)
{
	unsigned prefix = c->prefix;

	memset(r, 0, sizeof(*r));
	if (c->family == 4) {
		memcpy(r->lo, v4mapped, 12);
		memcpy(r->lo + 12, c->addr, 4);
		prefix += 96;
	} else {
		memcpy(r->lo, c->addr, 16);
	}
	memcpy(r->hi, r->lo, 16);
	for (unsigned bit = prefix; bit < 128; bit++) {
		r->lo[bit / 8] &= (uint8_t)~(0x80 >> (bit % 8));
		r->hi[bit / 8] |= (uint8_t)(0x80 >> (bit % 8));
	}
}

static int range_cmp(const void *a, const void *b)
{
	const struct addr_range *x = a, *y = b;
	int c = memcmp(x->lo, y->lo, 16);

	return c ? c : memcmp(x->hi, y->hi, 16);
}

/* a + 1, false when it wraps (a is the highest address). */
static bool next_addr(const uint8_t a[16], uint8_t out[16])
{
	memcpy(out, a, 16);
	for (int i = 15; i >= 0; i--) {
		if (++out[i])
			return true;
	}
	return false;
}

static uint64_t be64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

int addr_set_build(const struct addr_cidr *c, size_t n, struct addr_set *out)
{
	struct addr_range *v;
	size_t w = 0;

	out->v = NULL;
	out->keys = NULL;
	out->v4_first = NULL;
	out->n = 0;
	if (!n)
		return 0;
	v = malloc(n * sizeof(*v));
	if (!v)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		cidr_range(&c[i], &v[i]);
	qsort(v, n, sizeof(*v), range_cmp);
	/* Merge what overlaps or touches: the search then needs no second look. */
	for (size_t i = 1; i < n; i++) {
		uint8_t after[16];
		bool touches = !next_addr(v[w].hi, after) || memcmp(v[i].lo, after, 16) <= 0;

		if (touches) {
			if (memcmp(v[i].hi, v[w].hi, 16) > 0)
				memcpy(v[w].hi, v[i].hi, 16);
		} else {
			v[++w] = v[i];
		}
	}
	out->v = v;
	out->n = w + 1;
	out->keys = malloc(out->n * sizeof(*out->keys));
	out->v4_first = malloc(65537 * sizeof(*out->v4_first));
	if (!out->keys || !out->v4_first) {
		addr_set_free(out);
		return -ENOMEM;
	}
	for (size_t i = 0; i < out->n; i++) {
		out->keys[i][0] = be64(v[i].lo);
		out->keys[i][1] = be64(v[i].lo + 8);
	}
	for (uint32_t t = 0, i = 0; t <= 65536; t++) {
		/* ::ffff:t.0.0 as the low word (the high one is 0); past the block: ::1:0:0:0. */
		uint64_t start = t < 65536 ? UINT64_C(0xffff) << 32 | (uint64_t)t << 16
					   : UINT64_C(1) << 48;

		while (i < out->n && out->keys[i][0] == 0 && out->keys[i][1] < start)
			i++;
		out->v4_first[t] = i;
	}
	return 0;
}

bool addr_set_has(const struct addr_set *s, const uint8_t *addr, size_t len)
{
	uint8_t a[16];
	uint64_t ah, al;
	size_t lo = 0, hi = s->n;

	if (!s->n)
		return false;
	if (len == 4) {
		memcpy(a, v4mapped, 12);
		memcpy(a + 12, addr, 4);
	} else if (len == 16) {
		memcpy(a, addr, 16);
	} else {
		return false;
	}
	/* The last range that starts at or before a, comparing 64-bit words. */
	ah = be64(a);
	al = be64(a + 8);
	if (ah == 0 && al >> 32 == 0xffff) {
		uint32_t t = (uint32_t)(al >> 16) & 0xffff;

		lo = s->v4_first[t];
		hi = s->v4_first[t + 1];
	}
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const uint64_t *k = s->keys[mid];

		if (k[0] < ah || (k[0] == ah && k[1] <= al))
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo && memcmp(a, s->v[lo - 1].hi, 16) <= 0;
}

void addr_set_free(struct addr_set *s)
{
	free(s->v);
	free(s->keys);
	free(s->v4_first);
	s->v = NULL;
	s->keys = NULL;
	s->v4_first = NULL;
	s->n = 0;
}

/* ---- Numbers ---- */

static int u64_cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

int num_set_build(const uint32_t *v32, const uint64_t *v64, size_t n, struct num_set *out)
{
	size_t w = 0;

	out->v = NULL;
	out->n = 0;
	if (!n)
		return 0;
	out->v = malloc(n * sizeof(*out->v));
	if (!out->v)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		out->v[i] = v32 ? v32[i] : v64[i];
	qsort(out->v, n, sizeof(*out->v), u64_cmp);
	for (size_t i = 1; i < n; i++) {
		if (out->v[i] != out->v[w])
			out->v[++w] = out->v[i];
	}
	out->n = w + 1;
	return 0;
}

bool num_set_has(const struct num_set *s, uint64_t x)
{
	size_t lo = 0, hi = s->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (s->v[mid] == x)
			return true;
		if (s->v[mid] < x)
			lo = mid + 1;
		else
			hi = mid;
	}
	return false;
}

void num_set_free(struct num_set *s)
{
	free(s->v);
	s->v = NULL;
	s->n = 0;
}

void match_sets_free(struct match_sets *m)
{
	struct addr_set *a = m->addrs;
	struct num_set *nums[] = { m->pids, m->uids, m->netns, m->cgroups };

	free(m->ports);
	free(m->lports);
	free(m->rports);
	if (a)
		addr_set_free(a);
	free(a);
	for (size_t i = 0; i < sizeof(nums) / sizeof(nums[0]); i++) {
		if (nums[i])
			num_set_free(nums[i]);
		free(nums[i]);
	}
	memset(m, 0, sizeof(*m));
}
