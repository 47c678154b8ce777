// SPDX-License-Identifier: MIT
/*
 * Which process owns which socket, for the sockets that talk to port 53. An open-addressing
 * table (linear probing, deletion by shifting back, so no tombstones pile up); a socket that
 * ends is forgotten a little later, so the answers read in the same batch still find it.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "dns_internal.h"

#define OWNERS_MIN (1U << 10)
#define OWNERS_MAX (1U << 18) /* sockets on port 53 at once; beyond, answers lack owners */

struct owner_ent {
	struct dns_sock_key k;
	struct dns_owner who;
	uint32_t dead_gen; /* 0 while the socket lives */
	bool used;
};

struct dead_ent {
	struct dns_sock_key k;
	uint32_t gen;
};

void dns_key_addr(uint8_t out[16], const uint8_t *addr, uint8_t family)
{
	if (family == 4) {
		memset(out, 0, 10);
		out[10] = out[11] = 0xff;
		memcpy(out + 12, addr, 4);
	} else {
		memcpy(out, addr, 16);
	}
}

static uint64_t key_hash(const struct dns_sock_key *k)
{
	const unsigned char *c = (const unsigned char *)k;
	uint64_t h = 0x9e3779b97f4a7c15ULL;

	_Static_assert(sizeof(*k) % 8 == 0, "the hash reads whole words");
	for (size_t i = 0; i < sizeof(*k); i += 8) {
		uint64_t w;

		memcpy(&w, c + i, 8);
		h = (h ^ w) * 0xff51afd7ed558ccdULL;
		h ^= h >> 32;
	}
	return h;
}

static size_t slot_of(const struct dns_owners *o, const struct dns_sock_key *k)
{
	size_t i = (size_t)key_hash(k) & (o->cap - 1);

	while (o->v[i].used && memcmp(&o->v[i].k, k, sizeof(*k)))
		i = (i + 1) & (o->cap - 1);
	return i;
}

int dns_owners_init(struct dns_owners *o)
{
	memset(o, 0, sizeof(*o));
	o->v = calloc(OWNERS_MIN, sizeof(*o->v));
	if (!o->v)
		return -ENOMEM;
	o->cap = OWNERS_MIN;
	return 0;
}

void dns_owners_free(struct dns_owners *o)
{
	free(o->v);
	free(o->dead);
	memset(o, 0, sizeof(*o));
}

static int grow(struct dns_owners *o)
{
	struct owner_ent *old = o->v;
	size_t old_cap = o->cap;

	o->v = calloc(old_cap * 2, sizeof(*o->v));
	if (!o->v) {
		o->v = old;
		return -ENOMEM;
	}
	o->cap = old_cap * 2;
	for (size_t i = 0; i < old_cap; i++)
		if (old[i].used)
			o->v[slot_of(o, &old[i].k)] = old[i];
	free(old);
	return 0;
}

void dns_owners_put(struct dns_owners *o, const struct dns_sock_key *k, const struct dns_owner *who)
{
	size_t i;

	/* At most half full, so probes stay short. */
	if (2 * (o->n + 1) > o->cap && (o->cap >= OWNERS_MAX || grow(o))) {
		o->full++;
		return;
	}
	i = slot_of(o, k);
	if (!o->v[i].used) {
		o->v[i].used = true;
		o->v[i].k = *k;
		o->n++;
	}
	o->v[i].who = *who;
	o->v[i].dead_gen = 0;
}

void dns_owners_kill(struct dns_owners *o, const struct dns_sock_key *k, uint32_t gen)
{
	size_t i = slot_of(o, k);

	if (!o->v[i].used)
		return;
	if (o->n_dead == o->cap_dead) {
		size_t cap = o->cap_dead ? 2 * o->cap_dead : 256;
		struct dead_ent *nv = realloc(o->dead, cap * sizeof(*nv));

		if (!nv)
			return; /* stays until its key is reused: a few bytes, not a wrong owner */
		o->dead = nv;
		o->cap_dead = cap;
	}
	o->v[i].dead_gen = gen;
	o->dead[o->n_dead++] = (struct dead_ent){ .k = *k, .gen = gen };
}

const struct dns_owner *dns_owners_get(const struct dns_owners *o, const struct dns_sock_key *k)
{
	size_t i = slot_of(o, k);

	return o->v[i].used ? &o->v[i].who : NULL;
}

/* Backward-shift deletion: later entries of the probe run move up into the hole. */
static void remove_at(struct dns_owners *o, size_t hole)
{
	size_t mask = o->cap - 1, i = hole;

	for (;;) {
		size_t home;

		i = (i + 1) & mask;
		if (!o->v[i].used)
			break;
		home = (size_t)key_hash(&o->v[i].k) & mask;
		/* Move it if its home is not within (hole, i] on the ring. */
		if (((i - home) & mask) >= ((i - hole) & mask)) {
			o->v[hole] = o->v[i];
			hole = i;
		}
	}
	memset(&o->v[hole], 0, sizeof(o->v[hole]));
	o->n--;
}

void dns_owners_sweep(struct dns_owners *o, uint32_t gen)
{
	size_t k = 0;

	while (k < o->n_dead && o->dead[k].gen < gen) {
		size_t i = slot_of(o, &o->dead[k].k);

		/* Only if it did not come back to life (a TCP address pair used again). */
		if (o->v[i].used && o->v[i].dead_gen == o->dead[k].gen)
			remove_at(o, i);
		k++;
	}
	if (!k)
		return;
	memmove(o->dead, o->dead + k, (o->n_dead - k) * sizeof(*o->dead));
	o->n_dead -= k;
}
