// SPDX-License-Identifier: MIT
#include "addr.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const uint8_t v4mapped_prefix[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

int addr_parse(const char *s, uint8_t *family, uint8_t addr[16])
{
	char tmp[ADDR_STRLEN + 2];
	size_t n = strlen(s);

	if (n == 0 || n >= sizeof(tmp))
		return -EINVAL;
	if (s[0] == '[') {
		if (n < 3 || s[n - 1] != ']')
			return -EINVAL;
		memcpy(tmp, s + 1, n - 2);
		tmp[n - 2] = '\0';
		if (inet_pton(AF_INET6, tmp, addr) != 1)
			return -EINVAL;
		*family = 6;
		return 0;
	}
	memset(addr, 0, 16);
	if (inet_pton(AF_INET, s, addr) == 1) {
		*family = 4;
		return 0;
	}
	if (inet_pton(AF_INET6, s, addr) == 1) {
		*family = 6;
		return 0;
	}
	return -EINVAL;
}

int addr_parse_cidr(const char *s, struct addr_cidr *out)
{
	char tmp[ADDR_STRLEN + 8];
	const char *slash = strchr(s, '/');
	size_t alen = slash ? (size_t)(slash - s) : strlen(s);
	struct addr_cidr c = { 0 };
	unsigned maxp, prefix;
	int err;

	if (alen == 0 || alen >= sizeof(tmp))
		return -EINVAL;
	memcpy(tmp, s, alen);
	tmp[alen] = '\0';
	err = addr_parse(tmp, &c.family, c.addr);
	if (err)
		return err;
	maxp = c.family == 4 ? 32 : 128;
	prefix = maxp;
	if (slash) {
		const char *p = slash + 1;

		/* Digits only: strtoul would accept signs and spaces. */
		if (!*p || strlen(p) > 3)
			return -EINVAL;
		prefix = 0;
		for (; *p; p++) {
			if (*p < '0' || *p > '9')
				return -EINVAL;
			prefix = prefix * 10 + (unsigned)(*p - '0');
		}
		if (prefix > maxp)
			return -EINVAL;
	}
	c.prefix = (uint8_t)prefix;
	for (unsigned bit = prefix; bit < maxp; bit++) {
		if (c.addr[bit / 8] & (0x80 >> (bit % 8)))
			return -EINVAL;
	}
	*out = c;
	return 0;
}

/* Splits a comma list and hands each item to fn; items are bounded copies. */
static int for_each_item(const char *s, int (*fn)(const char *item, void *ctx), void *ctx)
{
	char item[ADDR_STRLEN + 8];
	const char *p = s;
	int err;

	if (!s || !*s)
		return -EINVAL;
	for (;;) {
		const char *comma = strchr(p, ',');
		size_t n = comma ? (size_t)(comma - p) : strlen(p);

		if (n == 0 || n >= sizeof(item))
			return -EINVAL;
		memcpy(item, p, n);
		item[n] = '\0';
		err = fn(item, ctx);
		if (err)
			return err;
		if (!comma)
			return 0;
		p = comma + 1;
	}
}

struct growable {
	void *items;
	size_t n, cap, size;
};

static void *grow_one(struct growable *g)
{
	if (g->n == g->cap) {
		size_t cap = g->cap ? g->cap * 2 : 4;
		void *p = realloc(g->items, cap * g->size);

		if (!p)
			return NULL;
		g->items = p;
		g->cap = cap;
	}
	return (char *)g->items + g->n++ * g->size;
}

/* A list being parsed: parse fills one entry of g.size bytes from one item. */
struct list {
	struct growable g;
	int (*parse)(const char *item, void *out);
};

static int add_item(const char *item, void *ctx)
{
	struct list *l = ctx;
	union {
		struct addr_cidr cidr;
		struct addr_port_range ports;
	} v;
	void *slot;
	int err = l->parse(item, &v);

	if (err)
		return err;
	slot = grow_one(&l->g);
	if (!slot)
		return -ENOMEM;
	memcpy(slot, &v, l->g.size);
	return 0;
}

/* A comma list into a malloc()ed array; *out and *n are left alone on error. */
static int parse_list(const char *s, size_t size, int (*parse)(const char *item, void *out),
		      void **out, size_t *n)
{
	struct list l = { .g = { .size = size }, .parse = parse };
	int err = for_each_item(s, add_item, &l);

	if (err) {
		free(l.g.items);
		return err;
	}
	*out = l.g.items;
	*n = l.g.n;
	return 0;
}

static int parse_cidr_item(const char *item, void *out)
{
	return addr_parse_cidr(item, out);
}

int addr_parse_cidr_list(const char *s, struct addr_cidr **out, size_t *n)
{
	void *v;
	int err = parse_list(s, sizeof(**out), parse_cidr_item, &v, n);

	if (!err)
		*out = v;
	return err;
}

static int parse_port(const char *s, size_t len, uint16_t *out)
{
	unsigned v = 0;

	if (len == 0 || len > 5)
		return -EINVAL;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -EINVAL;
		v = v * 10 + (unsigned)(s[i] - '0');
	}
	if (v > 65535)
		return -ERANGE;
	*out = (uint16_t)v;
	return 0;
}

/* "53" or "8000-8100". */
static int parse_port_item(const char *item, void *out)
{
	struct addr_port_range r = { 0, 0 };
	const char *dash = strchr(item, '-');
	int err;

	if (dash) {
		err = parse_port(item, (size_t)(dash - item), &r.lo);
		if (!err)
			err = parse_port(dash + 1, strlen(dash + 1), &r.hi);
		if (!err && r.lo > r.hi)
			err = -EINVAL;
	} else {
		err = parse_port(item, strlen(item), &r.lo);
		r.hi = r.lo;
	}
	if (err)
		return err;
	memcpy(out, &r, sizeof(r));
	return 0;
}

int addr_parse_port_list(const char *s, struct addr_port_range **out, size_t *n)
{
	void *v;
	int err = parse_list(s, sizeof(**out), parse_port_item, &v, n);

	if (!err)
		*out = v;
	return err;
}

static bool prefix_equal(const uint8_t *a, const uint8_t *b, unsigned bits)
{
	unsigned bytes = bits / 8, rest = bits % 8;

	if (memcmp(a, b, bytes))
		return false;
	if (rest) {
		uint8_t mask = (uint8_t)(0xff00 >> rest);

		return (a[bytes] & mask) == (b[bytes] & mask);
	}
	return true;
}

bool addr_cidr_match(const struct addr_cidr *c, const uint8_t *addr, size_t len)
{
	uint8_t mapped[16];

	if (c->family == 4) {
		if (len == 4)
			return prefix_equal(c->addr, addr, c->prefix);
		if (len == 16 && !memcmp(addr, v4mapped_prefix, 12))
			return prefix_equal(c->addr, addr + 12, c->prefix);
		return false;
	}
	if (len == 16)
		return prefix_equal(c->addr, addr, c->prefix);
	if (len == 4) {
		memcpy(mapped, v4mapped_prefix, 12);
		memcpy(mapped + 12, addr, 4);
		return prefix_equal(c->addr, mapped, c->prefix);
	}
	return false;
}

void addr_cidr_bounds(const struct addr_cidr *c, uint8_t lo[16], uint8_t hi[16])
{
	unsigned len = c->family == 4 ? 4 : 16;

	memset(lo, 0, 16);
	memset(hi, 0, 16);
	memcpy(lo, c->addr, len);
	memcpy(hi, c->addr, len);
	for (unsigned bit = c->prefix; bit < len * 8; bit++)
		hi[bit / 8] |= (uint8_t)(0x80 >> (bit % 8));
}

bool addr_port_match(const struct addr_port_range *r, size_t n, uint16_t port)
{
	for (size_t i = 0; i < n; i++) {
		if (port >= r[i].lo && port <= r[i].hi)
			return true;
	}
	return false;
}

void addr_format(const uint8_t *addr, size_t len, char buf[ADDR_STRLEN])
{
	if (!addr || (len != 4 && len != 16) ||
	    !inet_ntop(len == 4 ? AF_INET : AF_INET6, addr, buf, ADDR_STRLEN))
		snprintf(buf, ADDR_STRLEN, "?");
}
