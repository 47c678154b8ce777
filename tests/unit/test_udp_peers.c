// SPDX-License-Identifier: MIT
/*
 * The index of UDP flow keys per socket (recorder/udp_peers.c) against a plain reference:
 * many sockets with random numbers of peers, duplicates, takes of known and unknown sockets,
 * resets, and growth past the table's first size.
 */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "udp_peers.h"

#define SOCKS 5000
#define PEERS_MAX 40

static struct udp_key key_of(uint64_t cookie, uint16_t peer)
{
	struct udp_key k = { .cookie = cookie, .rport = peer };

	k.raddr[0] = (uint8_t)(peer >> 8);
	k.raddr[15] = (uint8_t)peer;
	return k;
}

/* Does keys[0..n) hold exactly the peers 1..want of cookie, in any order, each once or more? */
static bool same_peers(const struct udp_key *keys, size_t n, uint64_t cookie, unsigned want)
{
	static bool seen[PEERS_MAX + 1];
	unsigned distinct = 0;

	memset(seen, 0, sizeof(seen));
	for (size_t i = 0; i < n; i++) {
		struct udp_key k;

		if (keys[i].cookie != cookie || !keys[i].rport || keys[i].rport > want)
			return false;
		k = key_of(cookie, keys[i].rport);
		if (memcmp(&k, &keys[i], sizeof(k)))
			return false;
		if (!seen[keys[i].rport]) {
			seen[keys[i].rport] = true;
			distinct++;
		}
	}
	return distinct == want;
}

int main(void)
{
	static unsigned npeers[SOCKS];
	struct udp_peers *p;
	const struct udp_key *keys;
	unsigned seed = 12345;
	int bad = 0;
	size_t n;

	CHECK_THAT(udp_peers_new(&p) == 0);
	CHECK_THAT(udp_peers_complete(p));
	/* Interleaved adds over many sockets (cookies 1..SOCKS), some keys twice. */
	for (int round = 0; round < PEERS_MAX; round++) {
		for (uint64_t c = 1; c <= SOCKS; c++) {
			unsigned want = (unsigned)((c * 2654435761u) % PEERS_MAX);
			struct udp_key k = key_of(c, (uint16_t)(round + 1));

			if ((unsigned)round >= want)
				continue;
			npeers[c - 1] = (unsigned)round + 1;

			udp_peers_add(p, &k);
			seed = seed * 1103515245u + 12345u;
			if ((seed >> 16) % 7 == 0)
				udp_peers_add(p, &k);
		}
	}
	/* Take every other socket, and one that was never added. */
	for (uint64_t c = 1; c <= SOCKS; c += 2) {
		n = udp_peers_take(p, c, &keys);
		if (!same_peers(keys, n, c, npeers[c - 1]))
			bad++;
	}
	CHECK(bad == 0, "%d sockets gave back other keys than they were given", bad);
	CHECK(udp_peers_take(p, SOCKS + 7, &keys) == 0, "an unknown socket has keys");
	/* A socket taken once has nothing left. */
	CHECK(udp_peers_take(p, 1, &keys) == 0, "a released socket gave its keys twice");
	/* The others are still there, after more sockets were added (the table grew). */
	for (uint64_t c = SOCKS + 1; c <= 4 * SOCKS; c++) {
		struct udp_key k = key_of(c, 1);

		udp_peers_add(p, &k);
	}
	bad = 0;
	for (uint64_t c = 2; c <= SOCKS; c += 2) {
		n = udp_peers_take(p, c, &keys);
		if (!same_peers(keys, n, c, npeers[c - 1]))
			bad++;
	}
	CHECK(bad == 0, "%d sockets lost keys when the table grew", bad);
	/* After a reset only what was added since is known. */
	udp_peers_reset(p);
	CHECK_THAT(udp_peers_complete(p));
	CHECK(udp_peers_take(p, 3 * SOCKS, &keys) == 0, "a reset kept a socket's keys");
	{
		struct udp_key a = key_of(3 * SOCKS, 5), b = key_of(3 * SOCKS, 9);

		udp_peers_add(p, &a);
		udp_peers_add(p, &b);
		n = udp_peers_take(p, 3 * SOCKS, &keys);
		CHECK(n == 2 && keys[0].rport + keys[1].rport == 14, "added after a reset: %zu", n);
	}
	udp_peers_lost(p);
	CHECK_THAT(!udp_peers_complete(p));
	udp_peers_reset(p);
	CHECK_THAT(udp_peers_complete(p));
	udp_peers_free(p);
	return check_done();
}
