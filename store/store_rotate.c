// SPDX-License-Identifier: MIT
/*
 * Rotation: after a flush the active segment is replaced by a new one when it is big or old
 * enough. The old one goes to the sealing thread, which first copies the connections still
 * open into the new one (store_carry.c), so each segment stands alone.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "store_internal.h"

#define RETRY_ROTATE_NS NS_PER_SEC

/* ---- rotation ---- */

static void rotate(struct store *s)
{
	struct writer *nw = NULL, *old = s->w;
	uint32_t old_seq = old->seq;
	int err;

	err = writer_create(s, old_seq + 1, old, &nw);
	if (err) {
		cr_warn("store: cannot start segment %" PRIu32 " (%s); staying on %" PRIu32,
			old->seq + 1, strerror(-err), old->seq);
		s->rotate_retry_ns = mono_ns() + RETRY_ROTATE_NS;
		return;
	}
	if (writer_put_zones(old) != SQLITE_OK)
		cr_debug("store: segment %" PRIu32 ": end zones left to sealing", old_seq);
	s->w = nw;
	s->stats.active_seq = nw->seq;
	ckpt_writer_reset(s);
	writer_free(old, false);
	sealer_enqueue(s, old_seq, nw->seq);
	guard_remember(s);
}

static int64_t carried_bytes(struct store *s)
{
	int64_t bytes;

	pthread_mutex_lock(&s->mu);
	bytes = s->carry_seq == s->w->seq ? s->carry_bytes : 0;
	pthread_mutex_unlock(&s->mu);
	return bytes;
}

void rotate_maybe(struct store *s)
{
	int64_t now = mono_ns(), size;

	/* A segment with nothing new (or a store being closed) is never rotated. */
	if (now < s->rotate_retry_ns || s->closing || !s->w->rows)
		return;
	/* Carried copies are not what the segment was opened for: they do not count. */
	size = writer_size(s->w) - carried_bytes(s);
	cr_debug("store: active segment %" PRId64 " bytes, age %" PRId64 " ns", size,
		 seg_now_ns() - s->w->created_ns);
	if ((uint64_t)size >= s->rotate_size || seg_now_ns() - s->w->created_ns >= s->rotate_age_ns)
		rotate(s);
}
