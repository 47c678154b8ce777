// SPDX-License-Identifier: MIT
/*
 * Checkpoints and seal records, the writer's and the sealing thread's halves (docs/store.md,
 * "Checkpoints and seals").
 *
 * The writer cuts a checkpoint after a commit, every ckpt_every_ns and at a clean stop: it
 * takes each covered table's largest rowid (a few b-tree lookups) and hands the cut to the
 * sealing thread, which reads the rows back from the file on its own connection, hashes them
 * (ckpt.c), and makes the record. Nothing is hashed on the capture path: the writer only
 * lists the rows it commits below the last cut's marks (conn rows of long flows, conn_ends,
 * cgroups), which come first in its id-ordered batches.
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
	struct ckpt_job j = { .seq = s->w->seq, .k = s->ck.k + 1 };
	int64_t now = mono_ns();

	if (!force && now < s->ck.next_ns)
		return;
	/*
	 * The sealing thread copies the connections still open at rotation into this segment
	 * with their own ids, below the marks of any cut made meanwhile, and the writer never
	 * sees them to list them late: no cut until they are all in (the next flush tries again).
	 */
	if (sealer_carrying_into(s, s->w->seq))
		return;
	s->ck.next_ns = now + s->ckpt_every_ns;
	if (ckpt_marks_now(s->w->db, &j.marks)) {
		cr_warn("store: cannot cut checkpoint %" PRId64 " of segment %" PRIu32 ": %s", j.k,
			j.seq, sqlite3_errmsg(s->w->db));
		return;
	}
	set_marks(s, j.k, &j.marks);
	if (s->sealer_started)
		sealer_enqueue_cut(s, &j);
	else
		ckpt_record_cut(s, &j); /* at a clean stop: the sealing thread is gone */
}

int ckpt_note_row(struct writer *w, enum ckpt_late_table t, int64_t rid)
{
	if (rid > w->ck->late_mark[t])
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

int ckpt_record_cut(struct store *s, const struct ckpt_job *j)
{
	char path[PATH_MAX + SEG_NAME_MAX];
	struct sealrec r = { .kind = SEALREC_CHECKPOINT, .seg = j->seq, .ck = j->k,
			     .marks = j->marks };
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
	err = ckpt_hash(db, j->k, &j->marks, r.hash, &r.rows);
cleanup:
	if (err)
		cr_warn("store: checkpoint %" PRId64 " of segment %" PRIu32 " not made: %s", j->k,
			j->seq, db ? sqlite3_errmsg(db) : strerror(-err));
	sqlite3_close(db);
	if (!err)
		publish(s, &r);
	return err;
}

void ckpt_record_seal(struct store *s, const struct seg_info *info)
{
	struct sealrec r = { .kind = SEALREC_SEAL, .seg = info->seq, .bytes = info->bytes,
			     .first_ns = info->first_ns, .last_ns = info->last_ns };

	if (seg_unhex(info->sha256, r.sha256, sizeof(r.sha256)))
		return;
	publish(s, &r);
}
