// SPDX-License-Identifier: MIT
/*
 * The proc cache of one segment: proc rows are deduplicated per segment on (pid, comm, uid,
 * netns, cgroup). Entries added by a transaction can be forgotten again when it rolls back, so
 * a retried flush never points at a proc row that was not committed.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "store_internal.h"

/* Zeroed before filling so padding hashes and compares equal. */
struct proc_key {
	uint64_t cgroup, pstart_ns;
	uint32_t pid, uid, netns;
	char comm[16];
};

struct proc_ent {
	struct proc_key k;
	int64_t id;
	int32_t next;
};

/* A multiply-xorshift step per 8-byte word (the key is whole words, padding zeroed). */
static uint64_t hash_words(const void *p, size_t n)
{
	const unsigned char *c = p;
	uint64_t h = 0x9e3779b97f4a7c15ULL;

	for (size_t i = 0; i + 8 <= n; i += 8) {
		uint64_t w;

		memcpy(&w, c + i, 8);
		h = (h ^ w) * 0xff51afd7ed558ccdULL;
		h ^= h >> 32;
	}
	return h;
}

static uint64_t hash_key(const struct proc_key *k)
{
	_Static_assert(sizeof(struct proc_key) % 8 == 0, "the hash reads whole words");
	return hash_words(k, sizeof(*k));
}

static uint64_t hash_ent(const void *ent)
{
	return hash_key(&((const struct proc_ent *)ent)->k);
}

static int proc_rehash(struct proc_cache *pc, size_t nb)
{
	return chains_rebuild(&pc->idx, nb, pc->ents, pc->n, sizeof(*pc->ents),
			      offsetof(struct proc_ent, next), hash_ent);
}

static void proc_key_of(struct proc_key *k, const struct store_conn *c)
{
	memset(k, 0, sizeof(*k));
	k->cgroup = c->cgroup;
	k->pstart_ns = c->pstart_ns;
	k->pid = c->pid;
	k->uid = c->uid;
	k->netns = c->netns;
	memcpy(k->comm, c->comm, sizeof(k->comm));
	k->comm[sizeof(k->comm) - 1] = '\0';
}

int proc_cache_init(struct proc_cache *pc)
{
	pc->next_id = pc->committed_next_id = 1;
	pc->last = -1;
	return proc_rehash(pc, 1024);
}

void proc_cache_free(struct proc_cache *pc)
{
	free(pc->ents);
	free(pc->idx.head);
}

void proc_cache_start_at(struct proc_cache *pc, int64_t next_id)
{
	pc->next_id = pc->committed_next_id = next_id;
}

/*
 * Entries added inside a transaction sit at the head of their chains (no rehash happens
 * until commit), so a rollback pops them in reverse order.
 */
void proc_cache_rollback(struct proc_cache *pc)
{
	pc->last = -1;
	while (pc->n > pc->committed) {
		struct proc_ent *e = &pc->ents[--pc->n];

		*chains_head(&pc->idx, hash_key(&e->k)) = e->next;
	}
	pc->next_id = pc->committed_next_id;
}

void proc_cache_commit(struct proc_cache *pc)
{
	pc->committed = pc->n;
	pc->committed_next_id = pc->next_id;
	if (pc->n > pc->idx.nb && proc_rehash(pc, pc->idx.nb * 2))
		cr_debug("store: proc cache stays at %zu buckets", pc->idx.nb);
}

int proc_cache_get(struct proc_cache *pc, sqlite3_stmt *insert, const struct store_conn *c,
		   int64_t *id, bool *inserted)
{
	struct proc_key k;
	int32_t *h;
	int rc;

	*inserted = false;
	proc_key_of(&k, c);
	if (pc->last >= 0 && !memcmp(&pc->ents[pc->last].k, &k, sizeof(k))) {
		*id = pc->ents[pc->last].id;
		return SQLITE_OK;
	}
	h = chains_head(&pc->idx, hash_key(&k));
	for (int32_t i = *h; i >= 0; i = pc->ents[i].next) {
		if (!memcmp(&pc->ents[i].k, &k, sizeof(k))) {
			pc->last = i;
			*id = pc->ents[i].id;
			return SQLITE_OK;
		}
	}
	if (pc->n == pc->cap) {
		size_t ncap = pc->cap ? pc->cap * 2 : 1024;
		struct proc_ent *nv = realloc(pc->ents, ncap * sizeof(*nv));

		if (!nv)
			return SQLITE_NOMEM;
		pc->ents = nv;
		pc->cap = ncap;
	}
	sqlite3_bind_int64(insert, 1, pc->next_id);
	sqlite3_bind_int64(insert, 2, c->pid);
	sqlite3_bind_text(insert, 3, k.comm, -1, SQLITE_STATIC);
	sqlite3_bind_int64(insert, 4, c->uid);
	sqlite3_bind_int64(insert, 5, c->netns);
	sqlite3_bind_int64(insert, 6, (int64_t)c->cgroup);
	sqlite3_bind_int64(insert, 7, (int64_t)c->pstart_ns);
	rc = sqlite3_step(insert);
	sqlite3_reset(insert);
	if (rc != SQLITE_DONE)
		return rc;
	pc->ents[pc->n] = (struct proc_ent){ .k = k, .id = pc->next_id, .next = *h };
	pc->last = (int32_t)pc->n;
	*h = (int32_t)pc->n++;
	*id = pc->next_id++;
	*inserted = true;
	return SQLITE_OK;
}
