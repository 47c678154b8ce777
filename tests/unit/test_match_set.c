// SPDX-License-Identifier: MIT
/*
 * The match sets (lib/match_set.h) against the plain rules they replace: for random lists and
 * random values, a set says yes exactly when addr_cidr_match() / addr_port_match() / a linear
 * search says yes for some entry of the list.
 */
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "check.h"
#include "match_set.h"

static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

/* Few distinct values, so that blocks overlap, touch and contain each other often. */
static uint8_t rnd_byte(void)
{
	static const uint8_t some[] = { 0, 1, 2, 10, 127, 128, 192, 254, 255 };

	return some[rand() % (int)sizeof(some)];
}

static void rnd_cidr(struct addr_cidr *c)
{
	unsigned len;

	memset(c, 0, sizeof(*c));
	c->family = rand() % 2 ? 4 : 6;
	len = c->family == 4 ? 4 : 16;
	for (unsigned i = 0; i < len; i++)
		c->addr[i] = rnd_byte();
	if (c->family == 6 && rand() % 3 == 0)
		memcpy(c->addr, mapped, 12);
	c->prefix = (uint8_t)(rand() % (int)(len * 8 + 1));
	if (c->family == 6 && rand() % 4 == 0)
		c->prefix = (uint8_t)(96 + rand() % 33);
	for (unsigned bit = c->prefix; bit < len * 8; bit++)
		c->addr[bit / 8] &= (uint8_t)~(0x80 >> (bit % 8));
}

static size_t rnd_addr(uint8_t a[16])
{
	size_t len = rand() % 2 ? 4 : 16;

	for (size_t i = 0; i < len; i++)
		a[i] = rnd_byte();
	if (len == 16 && rand() % 2)
		memcpy(a, mapped, 12);
	return len;
}

static void addrs(void)
{
	for (int round = 0; round < 300; round++) {
		size_t n = (size_t)(rand() % 12);
		struct addr_cidr c[12];
		struct addr_set s;
		int bad = 0;

		for (size_t i = 0; i < n; i++)
			rnd_cidr(&c[i]);
		CHECK(!addr_set_build(c, n, &s), "build");
		for (int k = 0; k < 400; k++) {
			uint8_t a[16];
			size_t len = rnd_addr(a);
			bool want = false;

			for (size_t i = 0; i < n && !want; i++)
				want = addr_cidr_match(&c[i], a, len);
			bad += addr_set_has(&s, a, len) != want;
		}
		CHECK(bad == 0, "round %d: %d addresses judged differently", round, bad);
		CHECK(!addr_set_has(&s, (const uint8_t *)"abcdefgh", 8), "a bad length matches nothing");
		addr_set_free(&s);
	}
}

static void ports(void)
{
	for (int round = 0; round < 200; round++) {
		struct addr_port_range r[8];
		size_t n = (size_t)(rand() % 8);
		struct port_set *s;
		int bad = 0;

		for (size_t i = 0; i < n; i++) {
			uint16_t a = (uint16_t)(rand() % 65536), b = (uint16_t)(a + rand() % 50);

			r[i].lo = a;
			r[i].hi = b < a ? 65535 : b;
		}
		CHECK(!port_set_build(r, n, &s), "build");
		for (uint32_t p = 0; p < 65536; p++)
			bad += port_set_has(s, (uint16_t)p) != addr_port_match(r, n, (uint16_t)p);
		CHECK(bad == 0, "round %d: %d ports judged differently", round, bad);
		free(s);
	}
}

static void nums(void)
{
	uint64_t v64[50];
	uint32_t v32[50];
	struct num_set s32, s64;

	for (int i = 0; i < 50; i++) {
		v32[i] = (uint32_t)(rand() % 40);
		v64[i] = (uint64_t)(rand() % 40) << 33;
	}
	CHECK(!num_set_build(v32, NULL, 50, &s32) && !num_set_build(NULL, v64, 50, &s64), "build");
	for (uint64_t x = 0; x < 45; x++) {
		bool w32 = false, w64 = false;

		for (int i = 0; i < 50; i++) {
			w32 |= v32[i] == x;
			w64 |= v64[i] == x << 33;
		}
		CHECK(num_set_has(&s32, x) == w32, "32-bit %llu", (unsigned long long)x);
		CHECK(num_set_has(&s64, x << 33) == w64, "64-bit %llu", (unsigned long long)x);
	}
	num_set_free(&s32);
	num_set_free(&s64);
}

int main(void)
{
	srand(7);
	addrs();
	ports();
	nums();
	return check_done();
}
