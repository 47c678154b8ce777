// SPDX-License-Identifier: MIT
/*
 * Checkpoints and seal records, the writer's and the sealing thread's halves (docs/store.md,
 * "Checkpoints and seals").
 *
 * The writer cuts a checkpoint after a commit, every ckpt_every_ns, when the rows of the
 * interval take CKPT_ROWS_MAX bytes, and at a clean stop: it takes each covered table's
 * largest rowid (a few b-tree lookups) and hands the cut to the sealing thread with the rows
 * committed since the last cut, which it serialised as it inserted them (ckpt_rows.h). The
 * sealing thread sorts and hashes them and chains the result to the previous checkpoint's
 * (ckpt.h, "chain="). Nothing is read back and nothing is hashed on the capture path: the
 * writer only copies each row's values once more, and lists the rows it commits below the last
 * cut's marks (conn rows of long flows, conn_ends, cgroups), which come first in its id-ordered
 * batches.
 *
 * Two cases read the file instead: the first interval of a segment the sealing thread carried
 * open connections into (its rows went in on another connection; the cut is made as soon as
 * the carry ends, so that interval is small), and a segment reopened when the recorder starts
 * again, whose earlier rows are not in memory (its checkpoints keep the first version of the
 * hash, which covers the whole segment at every cut).
 *
 * A record (checkpoint or seal) is made on the sealing thread: its line is MAC'd with the
 * current epoch's key when the store has one (the key file then moves to the next epoch and
 * keeps the line as pending until the store holds it), sent to syslog, and handed to the
 * writer, which stores it in the active segment's anchor table.
 */
#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include "anchor.h"
#include "log.h"
#include "sealkey.h"
#include "sealrec.h"
#include "store_internal.h"

/* The tables of enum ckpt_late_table. */
static const char *const late_tables[CKPT_LATE_COUNT] = {
	[CKPT_LATE_CONN] = "conn",
	[CKPT_LATE_END] = "conn_end",
	[CKPT_LATE_CGROUP] = "cgroup",
};

static void set_marks(struct store *s, int64_t k, const struct ckpt_marks *m)
{
	s->ck.k = k;
	s->ck.marks = *m;
	for (int t = 0; t < CKPT_LATE_COUNT; t++)
		s->ck.late_mark[t] = ckpt_mark_of(m, late_tables[t]);
}

void ckpt_writer_reset(struct store *s)
{
	struct ckpt_marks none = { 0 };

	s->ck.seq = s->w->seq;
	set_marks(s, 0, &none);
	s->ck.next_ns = mono_ns() + s->ckpt_every_ns;
}

/* The active segment's last checkpoint, from its anchor table. */
static int recover_marks(struct store *s)
{
	sqlite3_stmt *st = NULL;
	int rc;

	ckpt_writer_reset(s);
	rc = sqlite3_prepare_v2(s->w->db, "SELECT line FROM anchor WHERE kind = 'checkpoint'", -1,
				&st, NULL);
	if (rc != SQLITE_OK)
		return seg_sqlite_err(rc);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const unsigned char *line = sqlite3_column_text(st, 0);
		struct sealrec r;

		if (!line || sealrec_parse((const char *)line, &r) || r.kind != SEALREC_CHECKPOINT ||
		    r.seg != s->w->seq || strcmp(r.store_id, s->store_id) || r.ck <= s->ck.k)
			continue;
		set_marks(s, r.ck, &r.marks);
	}
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : seg_sqlite_err(rc);
}

static int queue_anchor_row(struct vec *q, const char *line, int64_t epoch)
{
	struct anchor_row *a = vec_push(q);
	struct sealrec r;

	if (!a)
		return -ENOMEM;
	a->ts_ns = seg_now_ns();
	a->epoch = epoch;
	snprintf(a->kind, sizeof(a->kind), "%s",
		 sealrec_parse(line, &r) ? "?" : r.kind == SEALREC_SEAL ? "seal" : "checkpoint");
	snprintf(a->line, sizeof(a->line), "%s", line);
	return 0;
}

/* The record the key file keeps until the store holds it (a crash right after sealing it). */
static int restore_pending(struct store *s)
{
	const char *pending = sealkey_pending(s->key);
	sqlite3_stmt *st = NULL;
	bool stored = false;

	if (!*pending)
		return 0;
	if (sqlite3_prepare_v2(s->w->db, "SELECT 1 FROM anchor WHERE line = ?1", -1, &st, NULL) !=
	    SQLITE_OK)
		return -EIO;
	sqlite3_bind_text(st, 1, pending, -1, SQLITE_STATIC);
	stored = sqlite3_step(st) == SQLITE_ROW;
	sqlite3_finalize(st);
	if (stored)
		return 0;
	cr_info("store: storing the last sealed record again (the previous run stopped before "
		"it was written)");
	return queue_anchor_row(&s->anchors, pending, (int64_t)sealkey_epoch(s->key) - 1);
}

int ckpt_recover(struct store *s)
{
	char err[PATH_MAX + 200] = "";
	int rc;

	rc = recover_marks(s);
	if (rc)
		return rc;
	rc = sealkey_open(s->key_path, &s->key, err, sizeof(err));
	if (rc == -ENOENT && !s->key_required)
		return 0; /* no key: records are made, unsealed */
	if (rc) {
		cr_err("store: sealing key: %s", err[0] ? err : strerror(-rc));
		return rc;
	}
	cr_info("store: sealing with key %s from %s (epoch %" PRIu64 ")", sealkey_id(s->key),
		s->key_path, sealkey_epoch(s->key));
	s->stats.seal_epoch = (int64_t)sealkey_epoch(s->key);
	return restore_pending(s);
}

void ckpt_maybe_cut(struct store *s, bool force)
{
	struct writer *w = s->w;
	struct ckpt_job j = { .seq = w->seq, .k = s->ck.k + 1, .source = w->ck_source };
	int64_t now = mono_ns();
	bool full = w->ck_rows.buf.n >= CKPT_ROWS_MAX;
	bool carried = w->ck_source == CKPT_FROM_FILE;

	if (!force && !full && !carried && now < s->ck.next_ns)
		return;
	/*
	 * The sealing thread copies the connections still open at rotation into this segment
	 * with their own ids, below the marks of any cut made meanwhile, and the writer never
	 * sees them to list them late: no cut until they are all in (the next flush tries again).
	 */
	if (sealer_carrying_into(s, w->seq))
		return;
	s->ck.next_ns = now + s->ckpt_every_ns;
	if (ckpt_marks_now(w->db, &j.marks)) {
		cr_warn("store: cannot cut checkpoint %" PRId64 " of segment %" PRIu32 ": %s", j.k,
			j.seq, sqlite3_errmsg(w->db));
		return;
	}
	set_marks(s, j.k, &j.marks);
	if (j.source == CKPT_FROM_MEMORY && w->ck_rows.lost) {
		/* Out of memory for a row once: this segment's checkpoints read the file back. */
		cr_warn("store: segment %" PRIu32 ": out of memory for the rows of checkpoint %" PRId64
			"; its checkpoints read the segment back from now on",
			j.seq, j.k);
		j.source = w->ck_source = CKPT_FIRST_HASH;
	}
	if (j.source == CKPT_FROM_MEMORY) {
		j.rows = w->ck_rows; /* the job's from now on */
		pthread_mutex_lock(&s->mu);
		w->ck_rows = s->spare; /* empty, or none */
		memset(&s->spare, 0, sizeof(s->spare));
		pthread_mutex_unlock(&s->mu);
	} else {
		ckpt_rows_truncate(&w->ck_rows, 0);
		if (j.source == CKPT_FROM_FILE)
			w->ck_source = CKPT_FROM_MEMORY; /* the carry is in: the next interval is */
	}
	w->ck_tx_rows = 0;
	if (s->sealer_started)
		sealer_enqueue_cut(s, &j);
	else
		ckpt_record_cut(s, &j); /* at a clean stop: the sealing thread is gone */
}

int ckpt_note_row(struct writer *w, enum ckpt_late_table t, int64_t rid)
{
	/*
	 * A segment being created (its first process lives, written before it becomes the
	 * active one) has had no cut: the marks are still the previous segment's.
	 */
	if (rid > w->ck->late_mark[t] || w->seq != w->ck->seq)
		return SQLITE_OK;
	return writer_put_late(w, w->ck->k + 1, late_tables[t], rid);
}

/* ---- the sealing thread ---- */

/* Makes R's line (MAC'd when there is a key), sends it and hands it to the writer. */
static void publish(struct store *s, struct sealrec *r)
{
	char line[SEALKEY_LINE_MAX];
	int64_t epoch = -1;
	int n, err;

	memcpy(r->store_id, s->store_id, sizeof(r->store_id));
	r->t_ns = seg_now_ns();
	r->keyed = s->key != NULL;
	if (r->keyed) {
		memcpy(r->key_id, sealkey_id(s->key), sizeof(r->key_id));
		r->epoch = sealkey_epoch(s->key);
	}
	n = sealrec_format(r, line, sizeof(line));
	if (n < 0) {
		cr_warn("store: a seal record of segment %" PRIu32 " does not fit a line", r->seg);
		return;
	}
	if (r->keyed) {
		err = sealkey_seal(s->key, line, sizeof(line));
		if (err) {
			/* The MAC is there unless it could not be computed; the key is spent. */
			cr_err("store: sealing key %s: cannot move to the next epoch (%s); records are "
			       "not sealed from now on",
			       s->key_path, strerror(-err));
			sealkey_close(s->key);
			s->key = NULL;
			if (err == -ENOSPC || err == -EBADF) {
				r->keyed = false;
				if (sealrec_format(r, line, sizeof(line)) < 0)
					return;
			}
		}
		if (r->keyed)
			epoch = (int64_t)r->epoch;
	}
	pthread_mutex_lock(&s->mu);
	if (queue_anchor_row(&s->made, line, epoch))
		cr_warn("store: out of memory queueing a seal record");
	pthread_mutex_unlock(&s->mu);
	anchor_send(s->anchor, line);
}

/* The first version of the hash, or the first interval's chained one, from the file. */
static int hash_from_file(struct store *s, const struct ckpt_job *j, struct sealrec *r)
{
	char path[PATH_MAX + SEG_NAME_MAX];
	sqlite3 *db = NULL;
	int rc, err;

	seg_path(path, sizeof(path), s->dir, j->seq, SEG_RAW);
	/* Its own connection, used by this thread only: no mutexes on every column read. */
	rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL);
	if (rc != SQLITE_OK) {
		err = seg_sqlite_err(rc);
		goto cleanup;
	}
	sqlite3_busy_timeout(db, 5000);
	if (j->source == CKPT_FIRST_HASH)
		err = ckpt_hash(db, j->k, &j->marks, r->hash, &r->rows);
	else if (j->k == 1)
		err = ckpt_chain_many(db, 1, &j->marks, true, (uint8_t(*)[CKPT_HASH_LEN])r->hash,
				      &r->rows);
	else
		err = -EINVAL; /* only a first interval is read back (ckpt_maybe_cut) */
cleanup:
	if (err)
		cr_warn("store: checkpoint %" PRId64 " of segment %" PRIu32 " not made: %s", j->k,
			j->seq, db && err == -EBADMSG ? sqlite3_errmsg(db) : strerror(-err));
	sqlite3_close(db);
	return err;
}

/* The chained hash of an interval whose rows the writer kept (the job's, freed here). */
static int hash_from_memory(struct store *s, struct ckpt_job *j, struct sealrec *r)
{
	static const uint8_t none[CKPT_HASH_LEN];
	const struct ckpt_chain *c = &s->chain;
	uint8_t d[CKPT_HASH_LEN];
	int err = 0;

	if (j->k != 1 && (c->seq != j->seq || c->k != j->k - 1))
		err = -ESRCH; /* the previous one was not made: nothing to chain to */
	if (!err)
		err = ckpt_rows_digest(&j->rows, &j->marks, d);
	if (!err) {
		ckpt_chain_step(j->k == 1 ? none : c->hash, d, r->hash);
		r->rows = (j->k == 1 ? 0 : c->rows) + j->rows.n;
	}
	if (err)
		cr_warn("store: checkpoint %" PRId64 " of segment %" PRIu32 " not made: %s", j->k,
			j->seq,
			err == -ESRCH ? "the one before it was not made" : strerror(-err));
	/* Its buffers go back to the writer for a later interval, unless it has some. */
	j->rows.n = j->rows.buf.n = 0;
	j->rows.lost = false;
	pthread_mutex_lock(&s->mu);
	if (!s->spare.buf.cap && !s->spare.cap) {
		s->spare = j->rows;
		memset(&j->rows, 0, sizeof(j->rows));
	}
	pthread_mutex_unlock(&s->mu);
	ckpt_rows_free(&j->rows);
	return err;
}

int ckpt_record_cut(struct store *s, struct ckpt_job *j)
{
	struct sealrec r = { .kind = SEALREC_CHECKPOINT, .seg = j->seq, .ck = j->k,
			     .marks = j->marks, .chained = j->source != CKPT_FIRST_HASH,
			     .narrow = j->source != CKPT_FIRST_HASH };
	int err;

	if (j->source == CKPT_FROM_MEMORY)
		err = hash_from_memory(s, j, &r);
	else
		err = hash_from_file(s, j, &r);
	if (err)
		return err;
	if (r.chained) {
		s->chain = (struct ckpt_chain){ .seq = j->seq, .k = j->k, .rows = r.rows };
		memcpy(s->chain.hash, r.hash, CKPT_HASH_LEN);
	}
	publish(s, &r);
	return 0;
}

void ckpt_record_seal(struct store *s, const struct seg_info *info)
{
	struct sealrec r = { .kind = SEALREC_SEAL, .seg = info->seq, .bytes = info->bytes,
			     .first_ns = info->first_ns, .last_ns = info->last_ns };

	if (seg_unhex(info->sha256, r.sha256, sizeof(r.sha256)))
		return;
	publish(s, &r);
}
