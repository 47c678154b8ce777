// SPDX-License-Identifier: MIT
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ch_buf.h"

int ch_buf_reserve(struct ch_buf *b, size_t more)
{
	size_t cap;
	uint8_t *p;

	if (more <= b->cap - b->n)
		return 0;
	if (more > SIZE_MAX / 2 - b->n)
		return -ENOMEM;
	cap = b->cap ? b->cap : 4096;
	while (cap - b->n < more)
		cap *= 2;
	p = realloc(b->p, cap);
	if (!p)
		return -ENOMEM;
	b->p = p;
	b->cap = cap;
	return 0;
}

int ch_buf_put(struct ch_buf *b, const void *v, size_t n)
{
	int err = ch_buf_reserve(b, n);

	if (err)
		return err;
	if (n)
		memcpy(b->p + b->n, v, n);
	b->n += n;
	return 0;
}

void ch_buf_free(struct ch_buf *b)
{
	free(b->p);
	*b = (struct ch_buf){ 0 };
}
