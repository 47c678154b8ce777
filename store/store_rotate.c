// SPDX-License-Identifier: MIT
/*
 * Rotation: after a flush the active segment is replaced by a new one when it is big or old
 * enough. The new segment opens with copies of the connections still open (the open set), so
 * each segment stands alone; the old one goes to the sealing thread.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "store_internal.h"

#define OPEN_SET_MAX (1U << 21) /* open connections remembered for carrying */
#define RETRY_ROTATE_NS NS_PER_SEC

/* ---- the set of open connections ---- */

static uint64_t hash_u64(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	return x;
}

static uint64_t hash_ent(const void *ent)
{
	return hash_u64(((const struct open_ent *)ent)->c.id);
}

static int open_rehash(struct open_set *o, size_t nb)
{
	return chains_rebuild(&o->idx, nb, o->v, o->n, sizeof(*o->v),
			      offsetof(struct open_ent, next), hash_ent);
}

/*
 * The link that points at ID's entry, or the -1 that ends its chain. The pointer may point
 * into o->v: it is only good until o->v is next grown.
 */
static int32_t *open_link(struct open_set *o, uint64_t id)
{
	int32_t *pp = chains_head(&o->idx, hash_u64(id));

	while (*pp >= 0 && o->v[*pp].c.id != id)
		pp = &o->v[*pp].next;
	return pp;
}

static int open_grow(struct open_set *o)
{
	size_t ncap = o->cap ? o->cap * 2 : 4096;
	struct open_ent *nv = realloc(o->v, ncap * sizeof(*nv));

	if (!nv)
		return -ENOMEM;
	o->v = nv;
	o->cap = ncap;
	return 0;
}

void open_set_add(struct open_set *o, const struct store_conn *c)
{
	int32_t at, *head;

	if (!o->idx.nb && open_rehash(o, 4096))
		return;
	at = *open_link(o, c->id);
	if (at >= 0) {
		o->v[at].c = *c;
		return;
	}
	if (o->n >= OPEN_SET_MAX)
		return; /* a leak of never-ended flows must not grow without bound */
	if (o->n == o->cap && open_grow(o))
		return;
	/*
	 * A new entry goes in front of its chain: the bucket head lives in o->idx, which the
	 * growth above does not move (a link into o->v taken before it would dangle).
	 */
	head = chains_head(&o->idx, hash_u64(c->id));
	o->v[o->n] = (struct open_ent){ .c = *c, .next = *head };
	*head = (int32_t)o->n++;
	if (o->n > o->idx.nb)
		open_rehash(o, o->idx.nb * 2);
}

const struct store_conn *open_set_find(struct open_set *o, uint64_t id)
{
	int32_t at;

	if (!o->idx.nb)
		return NULL;
	at = *open_link(o, id);
	return at >= 0 ? &o->v[at].c : NULL;
}

/* Moves the last entry into the freed slot, so the array stays dense. */
void open_set_del(struct open_set *o, uint64_t id)
{
	int32_t *pp, idx, last;

	if (!o->idx.nb)
		return;
	pp = open_link(o, id);
	idx = *pp;
	if (idx < 0)
		return;
	*pp = o->v[idx].next;
	last = (int32_t)o->n - 1;
	if (idx != last) {
		int32_t *lp = open_link(o, o->v[last].c.id);

		*lp = idx;
		o->v[idx] = o->v[last];
	}
	o->n--;
}

void open_set_free(struct open_set *o)
{
	free(o->v);
	free(o->idx.head);
}

/* ---- rotation ---- */

static void rotate(struct store *s)
{
	struct writer *nw = NULL, *old = s->w;
	uint32_t old_seq = old->seq;
	int err;

	err = writer_create(s, old_seq + 1, true, &nw);
	if (err) {
		cr_warn("store: cannot start segment %" PRIu32 " (%s); staying on %" PRIu32,
			old->seq + 1, strerror(-err), old->seq);
		s->rotate_retry_ns = mono_ns() + RETRY_ROTATE_NS;
		return;
	}
	s->w = nw;
	s->stats.active_seq = nw->seq;
	writer_free(old, false);
	sealer_enqueue(s, old_seq);
	guard_remember(s);
}

void rotate_maybe(struct store *s)
{
	int64_t now = mono_ns(), size;

	/* A segment with nothing new (or a store being closed) is never rotated. */
	if (now < s->rotate_retry_ns || s->closing || !s->w->rows)
		return;
	size = writer_size(s->w);
	cr_debug("store: active segment %" PRId64 " bytes, age %" PRId64 " ns", size,
		 seg_now_ns() - s->w->created_ns);
	if ((uint64_t)size >= s->rotate_size || seg_now_ns() - s->w->created_ns >= s->rotate_age_ns)
		rotate(s);
}
