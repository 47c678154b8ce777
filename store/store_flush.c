// SPDX-License-Identifier: MIT
/*
 * The in-memory queue and the flush transaction. store_add_*() only queue; store_flush()
 * writes everything queued in one transaction. A failed flush rolls back and keeps the whole
 * queue, so the next one retries (nothing lost, nothing written twice); while flushes fail
 * (disk full) the queue is capped and the failing stretch becomes one "lost" gap when a flush
 * succeeds again. Rotation, sealing results, retention and the status file hang off the flush.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "anchor.h"
#include "log.h"
#include "store_internal.h"

#define STATUS_EVERY_NS NS_PER_SEC
#define RETENTION_EVERY_NS (10 * NS_PER_SEC)

/* ---- queueing ---- */

uint64_t queue_rows(const struct store *s)
{
	return s->conns.n + s->ends.n + s->gaps.n + s->runs.n + s->metas.n + s->lives.dirty.n +
	       s->anchors.n + s->dns.n;
}

/*
 * The queue only grows while flushes fail. Past the cap, drop the oldest eighth of the
 * biggest queue at once (cheaper than one row at a time) and count it as lost.
 */
static void enforce_cap(struct store *s)
{
	struct vec *q;
	size_t k;

	if (s->conns.n + s->ends.n < s->max_queued)
		return;
	q = s->conns.n >= s->ends.n ? &s->conns : &s->ends;
	k = q->n / 8 + 1;
	vec_drop_front(q, k);
	s->stats.rows_dropped += k;
	s->stats.lost_events += k;
	s->dropped_in_fail += k;
	if (!s->fail_since_ns)
		s->fail_since_ns = seg_now_ns();
	cr_warn("store: queue full while the store cannot be written, dropped %zu rows", k);
}

/* A conn or end row: the rows that a full queue drops (the others are few). */
static int queue_capped(struct store *s, struct vec *q, const void *row)
{
	void *slot;

	enforce_cap(s);
	slot = vec_push(q);
	if (!slot)
		return -ENOMEM;
	memcpy(slot, row, q->esz);
	return 0;
}

int store_add_conn(struct store *s, const struct store_conn *c)
{
	struct store_conn named;
	uint64_t running;

	/*
	 * Found by the start-up dump, through /proc: its start (field 22 of /proc/PID/stat) is in
	 * clock ticks and names no life exactly; the life its pid has now is its owner.
	 */
	if (c->pid && (!c->pstart_ns || ((c->flags & CR_FLAG_PREEXISTING) &&
					  !lives_has(&s->lives, c->pid, c->pstart_ns)))) {
		running = lives_pstart_of(&s->lives, c->pid);
		if (running) {
			named = *c;
			named.pstart_ns = running;
			c = &named;
		}
	}
	return queue_capped(s, &s->conns, c);
}

int store_add_end(struct store *s, const struct store_end *e)
{
	return queue_capped(s, &s->ends, e);
}

int store_add_gap(struct store *s, enum cr_gap_kind kind, int64_t start_ns, int64_t end_ns,
		  uint64_t count, const char *reason)
{
	struct gap_row *g = vec_push(&s->gaps);

	if (!g)
		return -ENOMEM;
	g->kind = kind;
	g->start_ns = start_ns;
	g->end_ns = end_ns;
	g->count = count;
	snprintf(g->reason, sizeof(g->reason), "%s", reason ? reason : "");
	if (kind == CR_GAP_LOST)
		s->stats.lost_events += count;
	return 0;
}

int store_add_tamper(struct store *s, int64_t start_ns, int64_t end_ns, const char *what)
{
	int err = store_add_gap(s, CR_GAP_TAMPER, start_ns, end_ns, 0, what);

	s->stats.tamper_events++;
	snprintf(s->last_tamper, sizeof(s->last_tamper), "%s", what);
	/* The window: from the last check that found all in place to when it was healed. */
	cr_warn("tamper: %s (window %.3f s)", what, (double)(end_ns - start_ns) / 1e9);
	/*
	 * Off the host too, at once: the gap row only reaches the file at the next flush, and
	 * whoever blinded the recorder may cut the store's tail later; a forwarded syslog keeps it.
	 */
	anchor_emit(s->anchor, "tamper",
		    "seg=%" PRIu32 " start=%" PRId64 " end=%" PRId64 " msg=%s", s->w ? s->w->seq : 0,
		    start_ns, end_ns, what ? what : "");
	/* `connrec status` shows it now, not at the next periodic rewrite. */
	status_write(s, "running");
	return err;
}

int queue_run(struct store *s, int kind)
{
	struct run_row *r = vec_push(&s->runs);

	if (!r)
		return -ENOMEM;
	r->ts_ns = seg_now_ns();
	r->kind = kind;
	return 0;
}

int queue_meta(struct store *s, const char *key, const char *value)
{
	struct meta_row *m = vec_push(&s->metas);

	if (!m)
		return -ENOMEM;
	snprintf(m->key, sizeof(m->key), "%s", key);
	snprintf(m->value, sizeof(m->value), "%s", value);
	return 0;
}

/* ---- the transaction ---- */

/* A row SQLite refuses on its own (constraint) must not block every later flush. */
static int row_rc(struct store *s, int rc, const char *what, uint64_t id)
{
	if ((rc & 0xff) != SQLITE_CONSTRAINT)
		return rc;
	if (s->stats.rows_rejected++ < 10)
		cr_warn("store: %s row for conn id %" PRIu64 " rejected: %s", what, id,
			sqlite3_errmsg(s->w->db));
	return SQLITE_OK;
}

/* By id, then by queue position, so that of two rows with one id the first queued is kept. */
static int cmp_conn_ref(const void *a, const void *b)
{
	const struct conn_ref *x = a, *y = b;

	if (x->id != y->id)
		return x->id < y->id ? -1 : 1;
	return x->row < y->row ? -1 : x->row > y->row;
}

static struct conn_ref ref_at(const struct store *s, size_t i)
{
	const struct store_conn *c = vec_at(&s->conns, i);

	return (struct conn_ref){ .id = c->id, .row = c };
}

/*
 * The queued conn rows in id order. Rows arrive in the order flows end, but their ids were
 * given when they began; in id order each insert lands next to the previous one, on pages
 * SQLite just touched (measured: about 10% less recorder CPU in a connection storm).
 *
 * The ids of one flush are nearly consecutive: each queued row is dropped into a slot by its
 * id, within a window below the largest id twice the queue's length, and the slots are read
 * back in order; ids below the window (long flows) are sorted on their own and go first.
 * That is linear, where qsort cost about as much as SQLite's seeks it saved. Two rows with
 * one id (which SQLite will refuse) fall back to a stable qsort. Without memory for the
 * order, queue order is as correct, only slower (NULL).
 */
static struct conn_ref *conns_by_id(struct store *s)
{
	size_t n = s->conns.n, span = 2 * n + 1024, k = 0;
	struct vec *o = &s->conn_order, *sl = &s->id_slots;
	struct conn_ref *out;
	uint64_t max = 0, lo;
	uint32_t *slot;

	if (n >= UINT32_MAX || !vec_resize(o, n) || !vec_resize(sl, span))
		return NULL;
	out = o->v;
	slot = sl->v;
	for (size_t i = 0; i < n; i++) {
		uint64_t id = ref_at(s, i).id;

		max = id > max ? id : max;
	}
	lo = max >= span ? max - span + 1 : 0;
	memset(slot, 0, span * sizeof(*slot));
	for (size_t i = 0; i < n; i++) {
		struct conn_ref r = ref_at(s, i);

		if (r.id < lo)
			out[k++] = r; /* below the window */
		else if (slot[r.id - lo])
			goto duplicate;
		else
			slot[r.id - lo] = (uint32_t)i + 1;
	}
	if (k > 1)
		qsort(out, k, sizeof(*out), cmp_conn_ref);
	for (size_t j = 0; j < span; j++)
		if (slot[j])
			out[k++] = ref_at(s, slot[j] - 1);
	return out;
duplicate:
	for (size_t i = 0; i < n; i++)
		out[i] = ref_at(s, i);
	qsort(out, n, sizeof(*out), cmp_conn_ref);
	return out;
}

/*
 * Conn rows go in chunks, each one statement; a chunk with a row SQLite refused (constraint)
 * is retried row by row, so that one bad row costs only itself.
 */
#define CONN_CHUNK 4096

/* The queued conn rows, in id order when there was memory to sort them. */
static int write_conns(struct store *s, struct conn_ref *order)
{
	struct writer *w = s->w;
	int rc = SQLITE_OK;

	for (size_t i = 0; rc == SQLITE_OK && i < s->conns.n;) {
		size_t n = s->conns.n - i < CONN_CHUNK ? s->conns.n - i : CONN_CHUNK;

		if (order) {
			rc = writer_put_conns(w, order + i, n);
			/* In id order, the late rows (if any) come first. */
			for (size_t j = i; rc == SQLITE_OK && j < i + n &&
					   order[j].id <= (uint64_t)s->ck.late_mark[CKPT_LATE_CONN];
			     j++)
				rc = ckpt_note_row(w, CKPT_LATE_CONN, (int64_t)order[j].id);
			if (rc == SQLITE_OK) {
				i += n;
				continue;
			}
			/* Any other error may have ended the transaction: stop there. */
			if ((rc & 0xff) != SQLITE_CONSTRAINT)
				break;
			rc = SQLITE_OK;
		}
		for (size_t end = i + n; rc == SQLITE_OK && i < end; i++) {
			const struct store_conn *c = order ? order[i].row : vec_at(&s->conns, i);

			rc = writer_put_conn(w, c, 0);
			if (rc == SQLITE_OK)
				rc = ckpt_note_row(w, CKPT_LATE_CONN, (int64_t)c->id);
			rc = row_rc(s, rc, "conn", c->id);
		}
	}
	return rc;
}

/* Everything queued, in one transaction. Returns a sqlite result code. */
static int write_queue(struct store *s)
{
	struct writer *w = s->w;
	int rc;

	rc = writer_begin(w);
	if (rc == SQLITE_OK)
		rc = write_conns(s, conns_by_id(s));
	for (size_t i = 0; rc == SQLITE_OK && i < s->ends.n; i++) {
		const struct store_end *e = vec_at(&s->ends, i);

		rc = writer_put_end(w, e);
		if (rc == SQLITE_OK)
			rc = ckpt_note_row(w, CKPT_LATE_END, (int64_t)e->id);
		rc = row_rc(s, rc, "conn_end", e->id);
	}
	if (rc == SQLITE_OK)
		rc = dns_write_queued(s);
	for (size_t i = 0; rc == SQLITE_OK && i < s->gaps.n; i++)
		rc = writer_put_gap(w, vec_at(&s->gaps, i));
	for (size_t i = 0; rc == SQLITE_OK && i < s->runs.n; i++)
		rc = writer_put_run(w, vec_at(&s->runs, i), s->version);
	for (size_t i = 0; rc == SQLITE_OK && i < s->metas.n; i++) {
		const struct meta_row *m = vec_at(&s->metas, i);

		rc = writer_put_meta(w, m->key, m->value);
	}
	if (rc == SQLITE_OK)
		rc = lives_write(&s->lives, w);
	for (size_t i = 0; rc == SQLITE_OK && i < s->anchors.n; i++)
		rc = writer_put_anchor(w, vec_at(&s->anchors, i));
	if (rc == SQLITE_OK && s->fail_since_ns) {
		struct gap_row g = { .kind = CR_GAP_LOST,
				     .start_ns = s->fail_since_ns,
				     .end_ns = seg_now_ns(),
				     .count = s->dropped_in_fail };

		snprintf(g.reason, sizeof(g.reason),
			 "store not writable (%s): %" PRIu64 " rows dropped, the rest delayed",
			 s->fail_err ? strerror(-s->fail_err) : "queue full", s->dropped_in_fail);
		rc = writer_put_gap(w, &g);
	}
	if (rc == SQLITE_OK)
		rc = sqlite3_exec(w->db, "COMMIT", NULL, NULL, NULL);
	if (rc != SQLITE_OK)
		writer_rollback(w);
	return rc;
}

static void after_commit(struct store *s)
{
	proc_cache_commit(&s->w->procs);
	s->w->rows += lives_commit(&s->lives, s->w->seq, &s->stats);
	for (size_t i = 0; i < s->conns.n; i++) {
		const struct store_conn *c = vec_at(&s->conns, i);

		if (c->id >= s->next_conn_id)
			s->next_conn_id = c->id + 1;
	}
	dns_after_commit(s);
	s->w->rows += s->conns.n + s->ends.n + s->gaps.n;
	s->stats.conns_written += s->conns.n;
	s->stats.ends_written += s->ends.n;
	s->stats.gaps_written += s->gaps.n + (s->fail_since_ns ? 1 : 0);
	s->conns.n = s->ends.n = s->gaps.n = s->runs.n = s->metas.n = s->anchors.n = 0;
	if (s->fail_since_ns)
		cr_info("store: writable again, recording resumed");
	s->fail_since_ns = 0;
	s->fail_err = 0;
	s->dropped_in_fail = 0;
}

/* Starts or continues a failing stretch; the queue stays for the next try. */
static int after_failure(struct store *s, int rc)
{
	int err = seg_sqlite_err(rc);

	if (err != -ENOSPC)
		err = -EIO;
	if (!s->fail_since_ns) {
		s->fail_since_ns = seg_now_ns();
		cr_warn("store: flush failed (%s): %s; keeping %" PRIu64 " rows for the next try",
			strerror(-err), sqlite3_errstr(rc), queue_rows(s));
	}
	s->fail_err = err;
	s->stats.flush_failures++;
	if (err == -ENOSPC) {
		reserve_release(s);
		s->retention_ns = 0;
	}
	return err;
}

int store_flush(struct store *s)
{
	int64_t now;
	int rc, err = 0;

	sealer_collect(s);
	if (queue_rows(s) || s->fail_since_ns) {
		rc = write_queue(s);
		if (rc != SQLITE_OK)
			err = after_failure(s, rc);
		else
			after_commit(s);
	}
	now = mono_ns();
	if (!err) {
		ckpt_maybe_cut(s, false);
		rotate_maybe(s);
		reserve_make(s);
	}
	if (now >= s->retention_ns) {
		retention_apply(s);
		s->retention_ns = now + RETENTION_EVERY_NS;
	}
	s->stats.queued = queue_rows(s);
	if (now - s->status_ns >= STATUS_EVERY_NS)
		status_write(s, "running");
	return err;
}
