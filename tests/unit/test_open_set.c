// SPDX-License-Identifier: MIT
/*
 * The open set (store_rotate.c) against a plain reference array: many adds that grow it
 * several times, updates, deletes and re-adds in a random order. Each entry must be found
 * with its latest row, each deleted one must be gone, and every chain must hold each entry
 * exactly once. A link kept across the array's growth (the old open_set_add bug) loses the
 * new entry, or writes into freed memory under ASan.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "store_internal.h"
#include "check.h"

#define IDS 150000 /* ids drawn from 1..IDS: the set grows to tens of thousands of entries */

static uint64_t rng_state = 0x243f6a8885a308d3ULL;

static uint64_t rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

/* Reference: ref[id] is the pid stored for id, 0 when id is not in the set. */
static uint32_t ref[IDS + 1];

static struct store_conn row(uint64_t id, uint32_t pid)
{
	struct store_conn c = { .id = id, .pid = pid, .proto = 6, .family = 4 };

	return c;
}

/* Every entry sits on its bucket's chain exactly once, and the chains hold nothing else. */
static int chains_consistent(const struct open_set *o)
{
	size_t seen = 0;
	unsigned char *mark = calloc(o->n ? o->n : 1, 1);
	int ok = mark != NULL;

	for (size_t b = 0; ok && b < o->idx.nb; b++) {
		for (int32_t i = o->idx.head[b]; ok && i >= 0; i = o->v[i].next) {
			if ((size_t)i >= o->n || mark[i]) {
				ok = 0;
				break;
			}
			mark[i] = 1;
			seen++;
		}
	}
	free(mark);
	return ok && seen == o->n;
}

static size_t ref_count(void)
{
	size_t n = 0;

	for (uint64_t id = 1; id <= IDS; id++)
		n += ref[id] != 0;
	return n;
}

static void check_all(struct open_set *o, const char *when)
{
	size_t wrong = 0;

	for (uint64_t id = 1; id <= IDS; id++) {
		const struct store_conn *c = open_set_find(o, id);

		if (ref[id] ? !c || c->id != id || c->pid != ref[id] : c != NULL)
			wrong++;
	}
	CHECK(wrong == 0, "%s: %zu ids differ from the reference", when, wrong);
	CHECK(o->n == ref_count(), "%s: %zu entries, reference %zu", when, o->n, ref_count());
	CHECK(chains_consistent(o), "%s: chains do not hold each entry once", when);
}

int main(void)
{
	struct open_set o = { 0 };
	uint32_t pid = 1;
	size_t peak = 0;

	/* Phase 1: mostly adds, so the array and the buckets grow many times. */
	for (int step = 0; step < 300000; step++) {
		uint64_t id = 1 + rng() % IDS;
		unsigned op = (unsigned)(rng() % 10);

		if (op < 8) { /* add or update */
			struct store_conn c = row(id, pid);

			open_set_add(&o, &c);
			ref[id] = pid++;
		} else {
			open_set_del(&o, id);
			ref[id] = 0;
		}
		if (o.n > peak)
			peak = o.n;
	}
	CHECK(peak > 8 * 4096, "the set grew to %zu entries only", peak);
	check_all(&o, "after growth");

	/* Phase 2: churn at a high level: deletes and re-adds of the same ids. */
	for (int step = 0; step < 300000; step++) {
		uint64_t id = 1 + rng() % IDS;

		if (ref[id]) {
			open_set_del(&o, id);
			ref[id] = 0;
		} else {
			struct store_conn c = row(id, pid);

			open_set_add(&o, &c);
			ref[id] = pid++;
		}
	}
	check_all(&o, "after churn");

	/* Phase 3: delete everything, then add it all back in a fresh order. */
	for (uint64_t id = 1; id <= IDS; id++) {
		open_set_del(&o, id);
		ref[id] = 0;
	}
	check_all(&o, "emptied");
	for (uint64_t k = 0; k < IDS; k++) {
		uint64_t id = 1 + (k * 7919) % IDS; /* 7919 is prime, so this visits every id */
		struct store_conn c = row(id, pid);

		open_set_add(&o, &c);
		ref[id] = pid++;
	}
	check_all(&o, "refilled");
	open_set_free(&o);
	return check_done();
}
