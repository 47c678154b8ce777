// SPDX-License-Identifier: MIT
/*
 * What store_open finds in a data dir, after a clean stop or a crash at any point: the active
 * segment (reopened, initialised again when its creation never committed, or replaced when
 * sealing had begun), older raw segments to seal, leftover .tmp compressions, the next conn id,
 * and whether the previous run stopped cleanly.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "schema.h"
#include "store_dir.h"
#include "store_internal.h"

/* The latest time the previous run is known to have written anything. */
static int64_t last_write_ns(struct store *s)
{
	struct store_status st;
	int64_t t = store_status_read(s->dir, &st) ? 0 : st.updated_ns;
	int64_t d = seg_query_i64(s->w->db,
				  "SELECT max(coalesce((SELECT max(start_ns) FROM conn), 0),"
				  " coalesce((SELECT max(end_ns) FROM (SELECT end_ns FROM conn_end"
				  "  ORDER BY id DESC LIMIT 4096)), 0),"
				  " coalesce((SELECT max(end_ns) FROM gap), 0),"
				  " coalesce((SELECT max(ts_ns) FROM run), 0))",
				  0);

	return t > d ? t : d;
}

/*
 * A previous run that stopped on a store it could not write (state "failed" in its status
 * file) left events unstored: they become a "lost" gap, from when the store stopped being
 * writable to the stop, with their count.
 */
static void store_unstored(struct store *s, const struct store_status *st)
{
	char reason[96];
	int64_t from = st->failing_since_ns ? st->failing_since_ns : st->updated_ns;

	snprintf(reason, sizeof(reason),
		 "store not writable at the stop (%.40s): events not stored", st->last_error);
	store_add_gap(s, CR_GAP_LOST, from, st->updated_ns, st->unstored_events, reason);
	cr_warn("store: the previous run could not store its last %" PRIu64
		" events; recorded as a lost gap",
		st->unstored_events);
}

/* Whether the previous run on this dir stopped cleanly; checked before our start row. */
static void check_previous_run(struct store *s, bool fresh_active)
{
	struct store_status st;
	bool have = !store_status_read(s->dir, &st);
	bool failed = have && !strcmp(st.state, "failed");
	bool unclean;

	if (failed && st.unstored_events && st.updated_ns)
		store_unstored(s, &st);
	if (fresh_active) {
		/* No rows of the previous run here: its status file says whether it stopped. */
		unclean = have && (failed || !strcmp(st.state, "running"));
	} else {
		int64_t k = seg_query_i64(s->w->db, "SELECT kind FROM run ORDER BY id DESC LIMIT 1",
					  0);

		unclean = k != 0 && k != CR_RUN_STOP;
	}
	if (!unclean)
		return;
	int64_t from = last_write_ns(s), to = seg_now_ns();

	store_add_gap(s, CR_GAP_DOWN, from ? from : to, to, 0,
		      failed ? "recorder not running (previous run stopped on a store it could not "
			       "write)"
			     : "recorder not running (previous run did not stop cleanly)");
	cr_warn("store: previous recorder run ended without a clean stop; recorded a down gap");
}

/* NEXT raised past the largest conn id in DB and its conn_id_floor. */
static uint64_t next_id_past(sqlite3 *db, uint64_t next)
{
	char val[64];
	int64_t x = seg_query_i64(db, "SELECT max(id) FROM conn", 0);
	/* DNS answers take their ids from the same counter (none in a version-1 segment). */
	int64_t y = seg_query_i64(db, "SELECT max(id) FROM dns", 0);

	if ((uint64_t)x + 1 > next)
		next = (uint64_t)x + 1;
	if ((uint64_t)y + 1 > next)
		next = (uint64_t)y + 1;
	if (seg_meta_get(db, "conn_id_floor", val, sizeof(val)) == 0 &&
	    strtoull(val, NULL, 10) > next)
		next = strtoull(val, NULL, 10);
	return next;
}

/* One past the largest conn id in any segment not yet compressed, or the active's floor. */
static void init_next_conn_id(struct store *s, const struct seg_entry *v, size_t n)
{
	char path[PATH_MAX + SEG_NAME_MAX];
	uint64_t next = 1;

	if (s->w)
		next = next_id_past(s->w->db, next);
	for (size_t i = 0; i < n; i++) {
		sqlite3 *db = NULL;

		if (!v[i].has_raw || (s->w && v[i].seq == s->w->seq))
			continue;
		seg_path(path, sizeof(path), s->dir, v[i].seq, SEG_RAW);
		if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOFOLLOW, NULL) ==
		    SQLITE_OK)
			next = next_id_past(db, next);
		sqlite3_close(db);
	}
	s->next_conn_id = next;
}

/*
 * Whether this run may go on writing a segment made by an earlier one: not when it was made
 * in another boot (process keys and cgroup ids are only unique within one, and meta names a
 * single boot) or by a newer recorder. Those are left to be sealed.
 */
static bool reusable(sqlite3 *db, uint32_t seq)
{
	char seg_boot[64] = "", boot[64];
	int64_t version = seg_query_i64(db, "PRAGMA user_version", 0);

	read_first_line("/proc/sys/kernel/random/boot_id", boot, sizeof(boot));
	seg_meta_get(db, "boot_id", seg_boot, sizeof(seg_boot));
	if (version > STORE_SCHEMA_VERSION) {
		cr_info("store: segment %" PRIu32 " has schema version %" PRId64 " (newer than %d):"
			" starting a new one", seq, version, STORE_SCHEMA_VERSION);
		return false;
	}
	if (strcmp(seg_boot, boot)) {
		cr_info("store: segment %" PRIu32 " was written before a reboot: starting a new one",
			seq);
		return false;
	}
	return true;
}

/* Brings a segment of an older schema version up to this one, in one transaction. */
static int migrate(struct writer *w)
{
	int64_t version = seg_query_i64(w->db, "PRAGMA user_version", 0);
	int rc = SQLITE_OK;

	if (version >= STORE_SCHEMA_VERSION)
		return 0;
	if (version < 1) {
		cr_err("store: segment %" PRIu32 " has no schema version", w->seq);
		return -EPROTO;
	}
	rc = sqlite3_exec(w->db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
	for (int64_t v = version; rc == SQLITE_OK && v < (int64_t)schema_sql_count; v++)
		rc = sqlite3_exec(w->db, schema_sql[v], NULL, NULL, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_exec(w->db, "COMMIT", NULL, NULL, NULL);
	if (rc != SQLITE_OK) {
		cr_err("store: cannot upgrade segment %" PRIu32 " from schema version %" PRId64
		       ": %s", w->seq, version, sqlite3_errmsg(w->db));
		sqlite3_exec(w->db, "ROLLBACK", NULL, NULL, NULL);
		return seg_sqlite_err(rc);
	}
	cr_info("store: segment %" PRIu32 " upgraded from schema version %" PRId64 " to %d",
		w->seq, version, STORE_SCHEMA_VERSION);
	return 0;
}

/*
 * Reopens the highest raw segment as the active one; sets *active to 0 when there is none to
 * reopen, *fresh when it holds no rows of an earlier run.
 */
static int reopen_active(struct store *s, uint32_t *active, bool *fresh)
{
	char val[64] = "";
	int err;

	err = writer_open(s, *active, false, &s->w);
	if (err)
		return err;
	if (!writer_has_tables(s->w)) {
		/* A crash while it was being created: initialise it now. */
		s->w->created_ns = seg_now_ns();
		*fresh = true;
		return writer_init(s, s->w, NULL);
	}
	if ((seg_meta_get(s->w->db, "sealed", val, sizeof(val)) == 0 && !strcmp(val, "1")) ||
	    !reusable(s->w->db, s->w->seq)) {
		/* Sealing had started, or it is not ours to write any more. */
		writer_free(s->w, false);
		s->w = NULL;
		*active = 0;
		return 0;
	}
	/* Its rows so far are in the file only: its checkpoints read them back (store_ckpt.c). */
	s->w->ck_source = CKPT_FIRST_HASH;
	err = migrate(s->w);
	if (!err)
		err = writer_prepare(s->w);
	if (!err && seg_meta_get(s->w->db, "created_ns", val, sizeof(val)) == 0)
		s->w->created_ns = strtoll(val, NULL, 10);
	proc_cache_start_at(&s->w->procs,
			    seg_query_i64(s->w->db, "SELECT max(id) FROM proc", 0) + 1);
	return err;
}

int recover_segments(struct store *s)
{
	struct seg_entry *v = NULL;
	size_t n = 0;
	uint32_t active = 0, max_seq = 0;
	bool fresh = false;
	int err;

	err = seg_list(s->dir, &v, &n);
	if (err)
		goto cleanup;
	for (size_t i = 0; i < n; i++)
		max_seq = v[i].seq > max_seq ? v[i].seq : max_seq;
	if (n && v[n - 1].has_raw && !v[n - 1].has_zst)
		active = v[n - 1].seq;
	if (active) {
		err = reopen_active(s, &active, &fresh);
		if (err)
			goto cleanup;
	}
	init_next_conn_id(s, v, n);
	err = store_ident_init(s);
	if (err)
		goto cleanup;
	if (!active) {
		err = writer_create(s, max_seq + 1, NULL, &s->w);
		if (err)
			goto cleanup;
		fresh = true;
	}
	s->stats.active_seq = s->w->seq;
	err = ckpt_recover(s);
	if (err)
		goto cleanup;
	check_previous_run(s, fresh);
	for (size_t i = 0; i < n; i++) {
		if (v[i].seq == s->w->seq)
			continue;
		if (v[i].has_raw) {
			sealer_enqueue(s, v[i].seq, 0);
		} else if (v[i].has_tmp) {
			char path[PATH_MAX + SEG_NAME_MAX];

			seg_path(path, sizeof(path), s->dir, v[i].seq, SEG_TMP);
			unlink(path);
		}
	}
cleanup:
	free(v);
	return err;
}
