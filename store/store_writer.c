// SPDX-License-Identifier: MIT
/*
 * The active segment file: opening or creating it (schema, meta), its prepared statements, and writing one row of each kind. Transactions
 * belong to the callers; a failed one is undone with writer_rollback().
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "fileio.h"
#include "schema_values.h"
#include "log.h"
#include "schema.h"
#include "store_internal.h"

#define CONN_COLUMNS 15

static const char *const stmt_sql[ST_COUNT] = {
	[ST_PROC] = "INSERT INTO proc(id, pid, comm, uid, netns, cgroup, pstart_ns)"
		    " VALUES(?1,?2,?3,?4,?5,?6,?7)",
	[ST_CONN] = "INSERT INTO conn(id, start_ns, proto, family, dir, laddr, lport, raddr, rport,"
		    " proc, flags, dur_ns, bytes_out, bytes_in, reason)"
		    " VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15)",
	[ST_CONN_BULK] = bulk_insert_sql,
	[ST_END] = "INSERT INTO conn_end(id, end_ns, bytes_out, bytes_in, reason)"
		   " VALUES(?1,?2,?3,?4,?5)",
	[ST_GAP] = "INSERT INTO gap(kind, start_ns, end_ns, count, reason) VALUES(?1,?2,?3,?4,?5)",
	[ST_RUN] = "INSERT INTO run(ts_ns, kind, pid, version) VALUES(?1,?2,?3,?4)",
	[ST_DNS] = "INSERT INTO dns(id, ts_ns, proc, proto, family, laddr, lport, raddr, rport,"
		   " flags, txid, qname, qtype, rcode)"
		   " VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14)",
	[ST_DNS_ANSWER] = "INSERT INTO dns_answer(dns, type, name, ttl, addr, target)"
			  " VALUES(?1,?2,?3,?4,?5,?6)",
	[ST_RET] = "INSERT INTO retention(ts_ns, name, first_ns, last_ns, sha256)"
		   " VALUES(?1,?2,?3,?4,?5)",
	[ST_META] = "INSERT INTO meta(key, value) VALUES(?1, ?2) ON CONFLICT(key) DO NOTHING",
	[ST_LATE] = "INSERT INTO ckpt_late(ck, tbl, rid) VALUES(?1, ?2, ?3)",
	[ST_ANCHOR] = "INSERT INTO anchor(ts_ns, kind, line) VALUES(?1, ?2, ?3)",
	[ST_PAGES] = "SELECT page_count * page_size FROM pragma_page_count, pragma_page_size",
	[ST_LIFE] = "INSERT INTO life(pid, pstart_ns, start_ns, image_ns, ppid, ppstart_ns, pcomm,"
		    " uid, cgroup, comm, exe, args, flags, exit_ns, exit_code)"
		    " VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15)",
	[ST_LIFE_EXIT] = "INSERT INTO life_exit(pid, pstart_ns, exit_ns, exit_code)"
			 " VALUES(?1,?2,?3,?4)",
	/* A recorder restarted on the same segment does not know which rows it holds. */
	[ST_CGROUP] = "INSERT INTO cgroup(id, path, container, unit) VALUES(?1,?2,?3,?4)"
		      " ON CONFLICT(id) DO NOTHING",
};

/* ---- one row ---- */

/* Runs a bound INSERT and readies it for the next row. */
static int step_insert(sqlite3_stmt *st)
{
	int rc = sqlite3_step(st);

	sqlite3_reset(st);
	return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

static void bind_addr(sqlite3_stmt *st, int col, uint8_t family, const uint8_t *a)
{
	sqlite3_bind_blob(st, col, a, family == 4 ? 4 : 16, SQLITE_STATIC);
}

struct ckpt_rows *writer_ck_rows(struct writer *w)
{
	return w->ck_source == CKPT_FIRST_HASH ? NULL : &w->ck_rows;
}

/* The conn row bind_conn() binds (and store_bulk.c's connrec_rows gives), for the checkpoint. */
static void ck_conn(struct writer *w, const struct store_conn *c, int64_t proc,
		    uint8_t extra_flags)
{
	struct ckpt_rows *r = writer_ck_rows(w);

	if (r)
		ckpt_rows_conn(r, c, proc, extra_flags);
}

/* The proc row proc_cache_get() inserted for C. */
static void ck_proc(struct writer *w, const struct store_conn *c, int64_t id)
{
	struct ckpt_rows *r = writer_ck_rows(w);
	char comm[sizeof(c->comm)];

	if (!r)
		return;
	memcpy(comm, c->comm, sizeof(comm));
	comm[sizeof(comm) - 1] = '\0'; /* as proc_key_of() keeps it */
	ckpt_row_begin(r, CKPT_T_PROC, id);
	ckpt_row_int(r, id);
	ckpt_row_int(r, c->pid);
	ckpt_row_text(r, comm);
	ckpt_row_int(r, c->uid);
	ckpt_row_int(r, c->netns);
	ckpt_row_int(r, (int64_t)c->cgroup);
	ckpt_row_int(r, (int64_t)c->pstart_ns);
	ckpt_row_end(r);
}

/*
 * The proc row of C in W's segment. A new one brings along the rows of the process life and
 * the cgroup it names, so that the segment names them on its own.
 */
int writer_proc_of(struct writer *w, const struct store_conn *c, int64_t *proc)
{
	bool inserted;
	int rc = proc_cache_get(&w->procs, w->st[ST_PROC], c, proc, &inserted);

	if (rc != SQLITE_OK || !inserted)
		return rc;
	ck_proc(w, c, *proc);
	if (c->pid && lives_ref(w->lives, c->pid, c->pstart_ns, w->seq))
		return SQLITE_NOMEM;
	return lives_ref_cgroup(w->lives, w, c->cgroup);
}

/* Binds one conn row at parameters base+1 .. base+CONN_COLUMNS. */
static int bind_conn(struct writer *w, sqlite3_stmt *st, int base, const struct store_conn *c,
		     uint8_t extra_flags, int64_t *proc_out)
{
	int64_t proc = 0;
	int rc;

	rc = writer_proc_of(w, c, &proc);
	*proc_out = proc;
	if (rc != SQLITE_OK)
		return rc;
	sqlite3_bind_int64(st, base + 1, (int64_t)c->id);
	sqlite3_bind_int64(st, base + 2, c->start_ns);
	sqlite3_bind_int(st, base + 3, c->proto);
	sqlite3_bind_int(st, base + 4, c->family);
	sqlite3_bind_int(st, base + 5, c->dir);
	bind_addr(st, base + 6, c->family, c->laddr);
	sqlite3_bind_int(st, base + 7, c->lport);
	bind_addr(st, base + 8, c->family, c->raddr);
	sqlite3_bind_int(st, base + 9, c->rport);
	sqlite3_bind_int64(st, base + 10, proc);
	sqlite3_bind_int(st, base + 11, c->flags | extra_flags);
	for (int i = 12; i <= CONN_COLUMNS; i++)
		sqlite3_bind_null(st, base + i);
	if (c->has_end && !extra_flags) {
		sqlite3_bind_int64(st, base + 12, c->end_ns - c->start_ns);
		if (c->has_bytes) {
			sqlite3_bind_int64(st, base + 13, (int64_t)c->bytes_out);
			sqlite3_bind_int64(st, base + 14, (int64_t)c->bytes_in);
		}
		sqlite3_bind_int(st, base + 15, c->reason);
	}
	return SQLITE_OK;
}

/* A row inserted: if it holds a whole lifetime (bind_conn() folded its end in), its zone. */
static void zone_conn(struct writer *w, const struct store_conn *c, uint8_t extra_flags)
{
	if (c->has_end && !extra_flags && !(c->flags & CR_FLAG_CARRIED))
		conn_zones_add(&w->zones, (int64_t)c->id, c->end_ns);
}

int writer_put_conn(struct writer *w, const struct store_conn *c, uint8_t extra_flags)
{
	int64_t proc = 0;
	int rc = bind_conn(w, w->st[ST_CONN], 0, c, extra_flags, &proc);

	if (rc == SQLITE_OK)
		rc = step_insert(w->st[ST_CONN]);
	if (rc == SQLITE_OK) {
		ck_conn(w, c, proc, extra_flags);
		zone_conn(w, c, extra_flags);
	}
	return rc;
}

int writer_put_conns(struct writer *w, struct conn_ref *refs, size_t n)
{
	int rc;

	for (size_t i = 0; i < n; i++) {
		rc = writer_proc_of(w, refs[i].row, &refs[i].proc);
		if (rc != SQLITE_OK)
			return rc;
	}
	w->feed.rows = refs;
	w->feed.n = n;
	rc = step_insert(w->st[ST_CONN_BULK]);
	w->feed.rows = NULL;
	w->feed.n = 0;
	for (size_t i = 0; rc == SQLITE_OK && i < n; i++) {
		ck_conn(w, refs[i].row, refs[i].proc, 0);
		zone_conn(w, refs[i].row, 0);
	}
	return rc;
}

int writer_put_end(struct writer *w, const struct store_end *e)
{
	sqlite3_stmt *st = w->st[ST_END];
	struct ckpt_rows *r;
	int rc;

	sqlite3_bind_int64(st, 1, (int64_t)e->id);
	sqlite3_bind_int64(st, 2, e->end_ns);
	if (e->has_bytes) {
		sqlite3_bind_int64(st, 3, (int64_t)e->bytes_out);
		sqlite3_bind_int64(st, 4, (int64_t)e->bytes_in);
	} else {
		sqlite3_bind_null(st, 3);
		sqlite3_bind_null(st, 4);
	}
	sqlite3_bind_int(st, 5, e->reason);
	rc = step_insert(st);
	r = rc == SQLITE_OK ? writer_ck_rows(w) : NULL;
	if (r) {
		ckpt_row_begin(r, CKPT_T_CONN_END, (int64_t)e->id);
		ckpt_row_int(r, (int64_t)e->id);
		ckpt_row_int(r, e->end_ns);
		if (e->has_bytes) {
			ckpt_row_int(r, (int64_t)e->bytes_out);
			ckpt_row_int(r, (int64_t)e->bytes_in);
		} else {
			ckpt_row_null(r);
			ckpt_row_null(r);
		}
		ckpt_row_int(r, e->reason);
		ckpt_row_end(r);
	}
	return rc;
}

int writer_put_gap(struct writer *w, const struct gap_row *g)
{
	sqlite3_stmt *st = w->st[ST_GAP];
	struct ckpt_rows *r;
	int rc;

	sqlite3_bind_int(st, 1, g->kind);
	sqlite3_bind_int64(st, 2, g->start_ns);
	sqlite3_bind_int64(st, 3, g->end_ns);
	sqlite3_bind_int64(st, 4, (int64_t)g->count);
	sqlite3_bind_text(st, 5, g->reason, -1, SQLITE_STATIC);
	rc = step_insert(st);
	r = rc == SQLITE_OK ? writer_ck_rows(w) : NULL;
	if (r) {
		int64_t id = sqlite3_last_insert_rowid(w->db);

		ckpt_row_begin(r, CKPT_T_GAP, id);
		ckpt_row_int(r, id);
		ckpt_row_int(r, g->kind);
		ckpt_row_int(r, g->start_ns);
		ckpt_row_int(r, g->end_ns);
		ckpt_row_int(r, (int64_t)g->count);
		ckpt_row_text(r, g->reason);
		ckpt_row_end(r);
	}
	return rc;
}

int writer_put_run(struct writer *w, const struct run_row *r, const char *version)
{
	sqlite3_stmt *st = w->st[ST_RUN];
	struct ckpt_rows *rr;
	int rc;

	sqlite3_bind_int64(st, 1, r->ts_ns);
	sqlite3_bind_int(st, 2, r->kind);
	sqlite3_bind_int64(st, 3, getpid());
	sqlite3_bind_text(st, 4, version, -1, SQLITE_STATIC);
	rc = step_insert(st);
	rr = rc == SQLITE_OK ? writer_ck_rows(w) : NULL;
	if (rr) {
		int64_t id = sqlite3_last_insert_rowid(w->db);

		ckpt_row_begin(rr, CKPT_T_RUN, id);
		ckpt_row_int(rr, id);
		ckpt_row_int(rr, r->ts_ns);
		ckpt_row_int(rr, r->kind);
		ckpt_row_int(rr, getpid());
		ckpt_row_text(rr, version);
		ckpt_row_end(rr);
	}
	return rc;
}

int writer_put_meta(struct writer *w, const char *key, const char *value)
{
	sqlite3_stmt *st = w->st[ST_META];

	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, value, -1, SQLITE_STATIC);
	return step_insert(st);
}

int writer_put_ret(struct writer *w, const struct ret_row *r)
{
	sqlite3_stmt *st = w->st[ST_RET];
	struct ckpt_rows *rr;
	int rc;

	sqlite3_bind_int64(st, 1, r->ts_ns);
	sqlite3_bind_text(st, 2, r->name, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, r->first_ns);
	sqlite3_bind_int64(st, 4, r->last_ns);
	sqlite3_bind_text(st, 5, r->sha256, -1, SQLITE_STATIC);
	rc = step_insert(st);
	rr = rc == SQLITE_OK ? writer_ck_rows(w) : NULL;
	if (rr) {
		int64_t id = sqlite3_last_insert_rowid(w->db);

		ckpt_row_begin(rr, CKPT_T_RETENTION, id);
		ckpt_row_int(rr, id);
		ckpt_row_int(rr, r->ts_ns);
		ckpt_row_text(rr, r->name);
		ckpt_row_int(rr, r->first_ns);
		ckpt_row_int(rr, r->last_ns);
		ckpt_row_text(rr, r->sha256);
		ckpt_row_end(rr);
	}
	return rc;
}

int writer_put_late(struct writer *w, int64_t ck, const char *tbl, int64_t rid)
{
	sqlite3_stmt *st = w->st[ST_LATE];

	sqlite3_bind_int64(st, 1, ck);
	sqlite3_bind_text(st, 2, tbl, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, rid);
	return step_insert(st);
}

int writer_put_anchor(struct writer *w, const struct anchor_row *a)
{
	sqlite3_stmt *st = w->st[ST_ANCHOR];

	sqlite3_bind_int64(st, 1, a->ts_ns);
	sqlite3_bind_text(st, 2, a->kind, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, a->line, -1, SQLITE_STATIC);
	return step_insert(st);
}

int writer_begin(struct writer *w)
{
	w->ck_tx_rows = w->ck_rows.n;
	if (w->zones_whole)
		w->zones_tx = w->zones;
	return sqlite3_exec(w->db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
}

void writer_rollback(struct writer *w)
{
	if (!sqlite3_get_autocommit(w->db))
		sqlite3_exec(w->db, "ROLLBACK", NULL, NULL, NULL);
	/* Rows rolled back must not widen a zone: verify compares the zones exactly. */
	if (w->zones_whole)
		w->zones = w->zones_tx;
	ckpt_rows_truncate(&w->ck_rows, w->ck_tx_rows);
	proc_cache_rollback(&w->procs);
	lives_rollback(w->lives);
}

/* ---- the file ---- */

void writer_free(struct writer *w, bool checkpoint)
{
	if (!w)
		return;
	for (int i = 0; i < ST_COUNT; i++)
		sqlite3_finalize(w->st[i]);
	if (w->db) {
		sqlite3_db_config(w->db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, checkpoint ? 0 : 1,
				  NULL);
		sqlite3_close(w->db);
	}
	proc_cache_free(&w->procs);
	ckpt_rows_free(&w->ck_rows);
	free(w);
}

int writer_prepare(struct writer *w)
{
	int rc = bulk_register(w->db, &w->feed);

	if (rc != SQLITE_OK) {
		cr_err("store: register connrec_rows: %s", sqlite3_errmsg(w->db));
		return seg_sqlite_err(rc);
	}
	for (int i = 0; i < ST_COUNT; i++) {
		rc = sqlite3_prepare_v3(w->db, stmt_sql[i], -1, SQLITE_PREPARE_PERSISTENT, &w->st[i],
					NULL);
		if (rc != SQLITE_OK) {
			cr_err("store: prepare: %s", sqlite3_errmsg(w->db));
			return seg_sqlite_err(rc);
		}
	}
	return 0;
}

bool writer_has_tables(struct writer *w)
{
	static const char sql[] = "SELECT count(*) FROM sqlite_schema WHERE name = 'meta'";

	return seg_query_i64(w->db, sql, 0) > 0;
}

int64_t writer_size(struct writer *w)
{
	return seg_query_i64(w->db, stmt_sql[ST_PAGES], 0);
}

int writer_open(struct store *s, uint32_t seq, bool create, struct writer **out)
{
	char path[PATH_MAX + SEG_NAME_MAX];
	struct writer *w;
	int rc, err = 0;

	*out = NULL;
	w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	w->seq = seq;
	w->lives = &s->lives;
	w->ck = &s->ck;
	err = proc_cache_init(&w->procs);
	if (err)
		goto cleanup;
	seg_path(path, sizeof(path), s->dir, seq, SEG_RAW);
	err = seg_secure_files(path, create);
	if (err)
		goto cleanup;
	rc = sqlite3_open_v2(path, &w->db,
			     SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOFOLLOW | SQLITE_OPEN_NOMUTEX, NULL);
	if (rc != SQLITE_OK) {
		cr_err("store: open %s: %s", path, w->db ? sqlite3_errmsg(w->db) : "out of memory");
		err = seg_sqlite_err(rc);
		goto cleanup;
	}
	/*
	 * The sealing thread checkpoints the file later; closing without one keeps a rotation
	 * off the capture path.
	 */
	sqlite3_db_config(w->db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, NULL);
	sqlite3_busy_timeout(w->db, 2000);
	rc = sqlite3_exec(w->db,
			  "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
			  " PRAGMA recursive_triggers=ON; PRAGMA foreign_keys=OFF;",
			  NULL, NULL, NULL);
	if (rc != SQLITE_OK) {
		cr_err("store: %s: %s", path, sqlite3_errmsg(w->db));
		err = seg_sqlite_err(rc);
		goto cleanup;
	}
	*out = w;
	w = NULL;
cleanup:
	writer_free(w, false);
	return err;
}

static void measure_clock_offset(char *buf, size_t len)
{
	struct timespec rt, bt;

	clock_gettime(CLOCK_REALTIME, &rt);
	clock_gettime(CLOCK_BOOTTIME, &bt);
	snprintf(buf, len, "%" PRId64,
		 ((int64_t)rt.tv_sec - bt.tv_sec) * NS_PER_SEC + (rt.tv_nsec - bt.tv_nsec));
}

/* The meta rows every segment starts with (docs/store.md, "Segments stand alone"). */
static int put_initial_meta(struct store *s, struct writer *w)
{
	char host[256], boot[64], schema[16], seq[16], offset[32], created[32], floor[32];
	char prev[SEG_NAME_MAX];
	struct utsname un;
	int rc = SQLITE_OK;

	if (gethostname(host, sizeof(host)))
		snprintf(host, sizeof(host), "unknown");
	host[sizeof(host) - 1] = '\0';
	read_first_line("/proc/sys/kernel/random/boot_id", boot, sizeof(boot));
	if (uname(&un))
		snprintf(un.release, sizeof(un.release), "unknown");
	snprintf(schema, sizeof(schema), "%d", STORE_SCHEMA_VERSION);
	snprintf(seq, sizeof(seq), "%" PRIu32, w->seq);
	measure_clock_offset(offset, sizeof(offset));
	snprintf(created, sizeof(created), "%" PRId64, w->created_ns);
	/* Lets store_next_conn_id() work without opening older, compressed segments. */
	snprintf(floor, sizeof(floor), "%" PRIu64, s->next_conn_id);
	seg_format_name(prev, sizeof(prev), w->seq - 1, SEG_ZST);

	const char *const meta[][2] = {
		{ "schema_version", schema },
		{ "segment_id", seq },
		{ "host", host },
		{ "boot_id", boot },
		{ "kernel", un.release },
		{ "recorder_version", s->version },
		{ "clock_offset_ns", offset },
		{ "created_ns", created },
		{ "conn_id_floor", floor },
		{ "prev_name", prev }, /* last: the first segment has none */
	};
	size_t n = sizeof(meta) / sizeof(meta[0]) - (w->seq > 1 ? 0 : 1);

	for (size_t i = 0; rc == SQLITE_OK && i < n; i++)
		rc = writer_put_meta(w, meta[i][0], meta[i][1]);
	/* Unknown only while store_open re-creates a half-made segment; it queues it then. */
	if (rc == SQLITE_OK && s->store_id[0])
		rc = writer_put_meta(w, "store_id", s->store_id);
	return rc;
}

/*
 * All in one transaction: a crash leaves either a complete segment or one with no tables,
 * which store_open initialises again.
 */
int writer_init(struct store *s, struct writer *w, const struct writer *from)
{
	struct run_row r = { .ts_ns = w->created_ns, .kind = CR_RUN_SEGMENT };
	int rc = SQLITE_OK, err = 0;

	/* Carried proc rows keep their ids: number this segment's own ones above them. */
	if (from)
		proc_cache_start_at(&w->procs, from->procs.next_id);
	rc = writer_begin(w);
	for (unsigned i = 0; rc == SQLITE_OK && i < schema_sql_count; i++)
		rc = sqlite3_exec(w->db, schema_sql[i], NULL, NULL, NULL);
	if (rc != SQLITE_OK)
		goto fail;
	err = writer_prepare(w);
	if (err)
		goto fail_err;
	rc = put_initial_meta(s, w);
	if (rc == SQLITE_OK)
		rc = writer_put_run(w, &r, s->version);
	if (rc == SQLITE_OK)
		rc = lives_write(w->lives, w);
	if (from && rc == SQLITE_OK)
		rc = dns_put_carried(s, w);
	if (rc != SQLITE_OK)
		goto fail;
	rc = sqlite3_exec(w->db, "COMMIT", NULL, NULL, NULL);
	if (rc != SQLITE_OK)
		goto fail;
	proc_cache_commit(&w->procs);
	lives_commit(w->lives, w->seq, &s->stats);
	/* A new segment: this writer sees every row it will hold. */
	conn_zones_init(&w->zones, s->next_conn_id <= INT64_MAX ? (int64_t)s->next_conn_id : -1);
	w->zones_whole = true;
	return 0;
fail:
	err = seg_sqlite_err(rc);
	cr_warn("store: create segment %" PRIu32 ": %s", w->seq, sqlite3_errmsg(w->db));
fail_err:
	writer_rollback(w);
	return err;
}

int writer_put_zones(struct writer *w)
{
	char text[CONN_ZONES_TEXT_MAX];
	int rc;

	if (!w->zones_whole || !w->zones.n || conn_zones_format(&w->zones, text, sizeof(text)))
		return SQLITE_OK; /* sealing computes them */
	rc = sqlite3_exec(w->db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
	if (rc == SQLITE_OK)
		rc = writer_put_meta(w, CONN_ZONES_META, text);
	if (rc == SQLITE_OK)
		rc = sqlite3_exec(w->db, "COMMIT", NULL, NULL, NULL);
	if (rc != SQLITE_OK && !sqlite3_get_autocommit(w->db))
		sqlite3_exec(w->db, "ROLLBACK", NULL, NULL, NULL);
	return rc;
}

int writer_create(struct store *s, uint32_t seq, const struct writer *from, struct writer **out)
{
	struct writer *w = NULL;
	int err;

	seg_unlink_raw(s->dir, seq);
	err = writer_open(s, seq, true, &w);
	if (!err) {
		w->created_ns = seg_now_ns();
		err = writer_init(s, w, from);
	}
	if (err) {
		writer_free(w, false);
		seg_unlink_raw(s->dir, seq);
		return err;
	}
	*out = w;
	return 0;
}
