// SPDX-License-Identifier: MIT
/*
 * Small pieces the store's files share: growable arrays (the queue, the sealing lists), the
 * hash chains of the proc cache, and reading a one-line file.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fileio.h"
#include "store_internal.h"

void *vec_push(struct vec *q)
{
	if (q->n == q->cap) {
		size_t ncap = q->cap ? q->cap * 2 : 64;
		void *nv = realloc(q->v, ncap * q->esz);

		if (!nv)
			return NULL;
		q->v = nv;
		q->cap = ncap;
	}
	return (char *)q->v + q->esz * q->n++;
}

bool vec_resize(struct vec *q, size_t n)
{
	if (n > q->cap) {
		void *nv = realloc(q->v, n * q->esz);

		if (!nv)
			return false;
		q->v = nv;
		q->cap = n;
	}
	q->n = n;
	return true;
}

void *vec_at(const struct vec *q, size_t i)
{
	return (char *)q->v + q->esz * i;
}

void vec_drop_front(struct vec *q, size_t k)
{
	if (k > q->n)
		k = q->n;
	memmove(q->v, vec_at(q, k), (q->n - k) * q->esz);
	q->n -= k;
}

void vec_free(struct vec *q)
{
	free(q->v);
	q->v = NULL;
	q->n = q->cap = 0;
}

int chains_rebuild(struct chains *ch, size_t nb, void *ents, size_t n, size_t esz,
		   size_t next_off, uint64_t (*hash)(const void *ent))
{
	int32_t *b = malloc(nb * sizeof(*b));

	if (!b)
		return -ENOMEM;
	free(ch->head);
	ch->head = b;
	ch->nb = nb;
	for (size_t i = 0; i < nb; i++)
		b[i] = -1;
	for (size_t i = 0; i < n; i++) {
		char *e = (char *)ents + esz * i;
		int32_t *next = (int32_t *)(e + next_off);
		int32_t *h = chains_head(ch, hash(e));

		*next = *h;
		*h = (int32_t)i;
	}
	return 0;
}

void read_first_line(const char *path, char *buf, size_t len)
{
	FILE *f = cr_fopen_regular(path);

	buf[0] = '\0';
	if (!f)
		return;
	if (!fgets(buf, (int)len, f))
		buf[0] = '\0';
	fclose(f);
	buf[strcspn(buf, "\n")] = '\0';
}
