// SPDX-License-Identifier: MIT
/*
 * The sealing thread: seals rotated segments in order with its own SQLite connection, so
 * recording never waits for index builds, zstd or fsync. It hands each result back to the
 * writer, which records the hash in the next segment while that one is still active
 * (docs/store.md, "Hash chain"). It also hashes the checkpoints the writer cuts and makes the
 * seal records (store_ckpt.c), which the writer stores in the same way.
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "store_internal.h"

#define SEAL_RETRY_S 2

void sealer_enqueue(struct store *s, uint32_t seq, uint32_t carry_to)
{
	pthread_mutex_lock(&s->mu);
	struct seal_job *slot = vec_push(&s->to_seal);

	if (slot)
		*slot = (struct seal_job){ .seq = seq, .carry_to = carry_to };
	else
		cr_warn("store: out of memory queueing segment %" PRIu32 " for sealing", seq);
	pthread_cond_broadcast(&s->cv);
	pthread_mutex_unlock(&s->mu);
	/* Rows the writer does not see go into the active segment: read its first interval back. */
	if (slot && carry_to && s->w && s->w->seq == carry_to && s->w->ck_source == CKPT_FROM_MEMORY)
		s->w->ck_source = CKPT_FROM_FILE;
}

void sealer_enqueue_cut(struct store *s, struct ckpt_job *j)
{
	pthread_mutex_lock(&s->mu);
	struct ckpt_job *slot = vec_push(&s->to_ckpt);

	if (slot) {
		*slot = *j;
	} else {
		cr_warn("store: out of memory queueing checkpoint %" PRId64, j->k);
		ckpt_rows_free(&j->rows);
	}
	pthread_cond_broadcast(&s->cv);
	pthread_mutex_unlock(&s->mu);
}

bool sealer_carrying_into(struct store *s, uint32_t seq)
{
	bool busy;

	pthread_mutex_lock(&s->mu);
	busy = s->carrying == seq;
	for (size_t i = 0; i < s->to_seal.n && !busy; i++)
		busy = ((const struct seal_job *)vec_at(&s->to_seal, i))->carry_to == seq;
	pthread_mutex_unlock(&s->mu);
	return busy;
}

/* The hash the next segment must record: from the manifest, else from the file itself. */
static int prev_hash(struct store *s, uint32_t seq, char hex[65])
{
	struct seg_info info;
	char path[PATH_MAX + SEG_NAME_MAX];

	if (seq <= 1)
		return -ENOENT;
	if (seg_manifest_find(s->dir, seq - 1, &info) == 0) {
		memcpy(hex, info.sha256, 65);
		return 0;
	}
	seg_path(path, sizeof(path), s->dir, seq - 1, SEG_ZST);
	return seg_hash_file(path, hex);
}

/*
 * Neither seg-N.db nor seg-N.db.zst: someone else removed a segment waiting to be sealed (only
 * the sealer removes a raw file, and only once its .zst exists). Retrying cannot help.
 */
static bool vanished(const struct store *s, uint32_t seq)
{
	char raw[PATH_MAX + SEG_NAME_MAX], zst[PATH_MAX + SEG_NAME_MAX];

	seg_path(raw, sizeof(raw), s->dir, seq, SEG_RAW);
	seg_path(zst, sizeof(zst), s->dir, seq, SEG_ZST);
	return access(raw, F_OK) && errno == ENOENT && access(zst, F_OK) && errno == ENOENT;
}

static int seal_one(struct store *s, uint32_t seq, struct seg_info *info)
{
	char prev[65];

	return seg_seal(s->dir, seq, prev_hash(s, seq, prev) ? NULL : prev, info);
}

static void *sealer_main(void *arg)
{
	struct store *s = arg;
	sigset_t all;

	/* Signals belong to the recorder's main loop. */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, NULL);
	pthread_mutex_lock(&s->mu);
	for (;;) {
		struct seg_info info;
		struct seal_job job;
		uint32_t seq;
		int err;

		while (!s->to_seal.n && !s->to_ckpt.n && !s->stopping)
			pthread_cond_wait(&s->cv, &s->mu);
		if (s->to_ckpt.n) {
			/* Cuts first: a segment's cut is hashed before the segment is sealed. */
			struct ckpt_job j = *(struct ckpt_job *)vec_at(&s->to_ckpt, 0);

			vec_drop_front(&s->to_ckpt, 1);
			pthread_mutex_unlock(&s->mu);
			ckpt_record_cut(s, &j); /* a failure only loses this checkpoint */
			pthread_mutex_lock(&s->mu);
			continue;
		}
		if (!s->to_seal.n)
			break;
		job = *(struct seal_job *)vec_at(&s->to_seal, 0);
		/* Carried once, whatever happens: a retry only seals. */
		((struct seal_job *)vec_at(&s->to_seal, 0))->carry_to = 0;
		seq = job.seq;
		s->carrying = job.carry_to;
		pthread_mutex_unlock(&s->mu);

		int64_t t0 = mono_ns();

		/* Before sealing: the carry reads the segment while it is still a plain file. */
		if (job.carry_to) {
			carry_open_conns(s, seq, job.carry_to);
			pthread_mutex_lock(&s->mu);
			s->carrying = 0;
			pthread_mutex_unlock(&s->mu);
		}
		err = seal_one(s, seq, &info);
		if (err == -ENOSPC) {
			/* Sealing frees space once the raw file is gone: worth the reserve. */
			reserve_release(s);
			err = seal_one(s, seq, &info);
		}
		if (!err)
			ckpt_record_seal(s, &info);
		pthread_mutex_lock(&s->mu);
		if (err && vanished(s, seq)) {
			uint32_t *v = vec_push(&s->vanished);

			if (v)
				*v = seq;
			vec_drop_front(&s->to_seal, 1);
			continue;
		}
		if (!err) {
			struct seg_info *d;

			cr_debug("store: sealed segment %" PRIu32 " (%" PRIu64 " bytes, %.3f s)",
				 seq, info.bytes, (double)(mono_ns() - t0) / 1e9);
			vec_drop_front(&s->to_seal, 1);
			d = vec_push(&s->sealed);
			if (d)
				*d = info;
			continue;
		}
		cr_warn("store: sealing segment %" PRIu32 " failed (%s), will retry", seq,
			strerror(-err));
		if (s->stopping)
			break; /* store_open resumes it next time */
		struct timespec until;

		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += SEAL_RETRY_S;
		pthread_cond_timedwait(&s->cv, &s->mu, &until);
	}
	pthread_mutex_unlock(&s->mu);
	return NULL;
}

int sealer_start(struct store *s)
{
	int err = -pthread_create(&s->sealer, NULL, sealer_main, s);

	if (!err)
		s->sealer_started = true;
	return err;
}

void sealer_stop(struct store *s)
{
	if (!s->sealer_started)
		return;
	pthread_mutex_lock(&s->mu);
	s->stopping = true;
	pthread_cond_broadcast(&s->cv);
	pthread_mutex_unlock(&s->mu);
	pthread_join(s->sealer, NULL);
	s->sealer_started = false;
}

void sealer_collect(struct store *s)
{
	pthread_mutex_lock(&s->mu);
	for (size_t i = 0; i < s->sealed.n; i++) {
		const struct seg_info *d = vec_at(&s->sealed, i);

		s->stats.segments_sealed++;
		if (d->seq + 1 == s->w->seq)
			queue_meta(s, "prev_sha256", d->sha256);
		s->retention_ns = 0; /* check retention now */
	}
	s->sealed.n = 0;
	for (size_t i = 0; i < s->vanished.n; i++) {
		char what[160], name[SEG_NAME_MAX];
		int64_t now = seg_now_ns();

		seg_format_name(name, sizeof(name), *(uint32_t *)vec_at(&s->vanished, i), SEG_RAW);
		snprintf(what, sizeof(what), "segment %s removed before it was sealed; its rows are lost",
			 name);
		store_add_tamper(s, now, now, what);
	}
	s->vanished.n = 0;
	for (size_t i = 0; i < s->made.n; i++) {
		const struct anchor_row *a = vec_at(&s->made, i);
		struct anchor_row *q = vec_push(&s->anchors);

		if (q)
			*q = *a;
		s->stats.records_made++;
		if (a->epoch >= 0)
			s->stats.seal_epoch = a->epoch + 1;
	}
	s->made.n = 0;
	pthread_mutex_unlock(&s->mu);
}
