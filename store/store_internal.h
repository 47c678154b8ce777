/* SPDX-License-Identifier: MIT */
/*
 * The store's writer state, shared by the files that make up the writer, one concern each:
 *
 *   store.c          store_open/store_close: options, the lock, starting and stopping the rest
 *   store_recover.c  what store_open finds in the dir: the active segment, unsealed ones, the
 *                    next conn id, an unclean previous run
 *   store_writer.c   the active segment file: creation, statements, writing one row
 *   store_proc.c     the proc rows a segment already holds (deduplication)
 *   store_lives.c    process lives and cgroup names, and which of them a segment holds
 *   store_flush.c    the in-memory queue and the flush transaction (store_add_*, store_flush)
 *   store_rotate.c   rotation
 *   store_carry.c    the open connections a new segment starts with (on the sealing thread)
 *   store_seal.c     the sealing thread
 *   store_retain.c   retention
 *   store_reserve.c  the space kept back for a full disk
 *   store_status.c   the status file
 *   store_guard.c    the data dir and the active segment are still the store's own files
 *   store_ident.c    the store's id (meta store_id, connrec.id)
 *   store_ckpt.c     checkpoints (cuts, late rows) and the seal records the sealer makes
 *   store_dns.c      DNS answer rows: their queue, and the still-valid ones new segments carry
 *   store_util.c     growable arrays and hash chains
 *
 * The segment files themselves are segment.h's. This header also serves the commands that
 * inspect a data dir (status, verify) and the unit tests. Not part of the public store API.
 */
#ifndef CONNREC_STORE_INTERNAL_H
#define CONNREC_STORE_INTERNAL_H

#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>
#include <time.h>

#include <sqlite3.h>

#include "ckpt.h"
#include "ckpt_rows.h"
#include "conn_zones.h"
#include "segment.h"
#include "store.h"

#define SEG_STATUS_NAME "connrec.status"
#define SEG_RESERVE_NAME "connrec.reserve"
#define STORE_ID_NAME "connrec.id"
#define STORE_ID_LEN 32 /* hex digits */

#define NS_PER_SEC ((int64_t)1000000000)

/* ---- store_util.c ---- */

/* A growable array of fixed-size elements. */
struct vec {
	void *v;
	size_t n, cap, esz;
};

void *vec_push(struct vec *q); /* NULL when out of memory */
bool vec_resize(struct vec *q, size_t n); /* n elements, contents undefined; false: no memory */
void *vec_at(const struct vec *q, size_t i);
void vec_drop_front(struct vec *q, size_t k);
void vec_free(struct vec *q);

/*
 * Hash buckets over an array whose entries chain to each other by index (-1 ends a chain).
 * The proc cache keeps its entries in a plain array and finds them with this.
 */
struct chains {
	int32_t *head; /* nb bucket heads */
	size_t nb;     /* power of two */
};

/*
 * Rebuilds CH with NB buckets over the N entries at ENTS, ESZ bytes each, each with an int32_t
 * link at NEXT_OFF, bucketed by HASH(entry). Returns 0, or -ENOMEM with CH unchanged.
 */
int chains_rebuild(struct chains *ch, size_t nb, void *ents, size_t n, size_t esz,
		   size_t next_off, uint64_t (*hash)(const void *ent));

static inline int32_t *chains_head(const struct chains *ch, uint64_t hash)
{
	return &ch->head[hash & (ch->nb - 1)];
}

/* The first line of a small text file, without its newline; "" when unreadable. */
void read_first_line(const char *path, char *buf, size_t len);

static inline int64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * NS_PER_SEC + ts.tv_nsec;
}

/* ---- store_proc.c ---- */

struct proc_ent;

/* The proc rows one segment holds, so each process context is written once per segment. */
struct proc_cache {
	struct proc_ent *ents;
	size_t n, cap;
	size_t committed; /* ents[0..committed) are on disk */
	int64_t next_id, committed_next_id;
	struct chains idx;
	int32_t last; /* entry of the previous lookup, -1 if none: flows come in runs */
};

int proc_cache_init(struct proc_cache *pc);
void proc_cache_free(struct proc_cache *pc);
/* Ids continue after the proc rows a reopened segment already holds. */
void proc_cache_start_at(struct proc_cache *pc, int64_t next_id);
/*
 * Returns a sqlite result code; *id is the proc row for C, inserted with INSERT if new (then
 * *inserted is set).
 */
int proc_cache_get(struct proc_cache *pc, sqlite3_stmt *insert, const struct store_conn *c,
		   int64_t *id, bool *inserted);
void proc_cache_commit(struct proc_cache *pc);
void proc_cache_rollback(struct proc_cache *pc);

/* ---- store_lives.c ---- */

struct life_ent;
struct cgroup_ent;
struct writer;

/* The process lives known now (running, or ended moments ago) and the cgroups named so far. */
struct lives {
	struct life_ent *v;
	size_t n, cap;
	struct chains idx;
	size_t nexited;
	struct vec dirty; /* int32_t: lives with rows for the next transaction */
	struct cgroup_ent *cg;
	size_t ncg, capcg;
	struct chains cgidx;
	struct vec cg_tx; /* int32_t: cgroups written by the open transaction */
	store_cgroup_fn cgroup_name;
	void *cgroup_ctx;
};

void lives_init(struct lives *L, store_cgroup_fn name, void *ctx);
void lives_free(struct lives *L);
/* Inside a transaction on W: every row W's segment lacks of the lives marked dirty. */
int lives_write(struct lives *L, struct writer *w);
/* After that transaction committed into segment SEQ (returns the rows it wrote), or not. */
uint64_t lives_commit(struct lives *L, uint32_t seq, struct store_stats *stats);
void lives_rollback(struct lives *L);
/* Something in segment SEQ refers to the life (pid, pstart): its rows go there too. */
int lives_ref(struct lives *L, uint32_t pid, uint64_t pstart_ns, uint32_t seq);
/* The start time of the life PID has now (the latest that has not ended); 0 when none. */
uint64_t lives_pstart_of(const struct lives *L, uint32_t pid);
/* Whether the life (pid, pstart) is known. */
bool lives_has(struct lives *L, uint32_t pid, uint64_t pstart_ns);
/* The cgroup row for ID in W's segment, written now if missing (a sqlite result code). */
int lives_ref_cgroup(struct lives *L, struct writer *w, uint64_t id);

/* ---- store_writer.c ---- */

enum {
	ST_PROC,
	ST_CONN,
	ST_CONN_BULK, /* many rows in one statement (store_bulk.c) */
	ST_END,
	ST_GAP,
	ST_RUN,
	ST_DNS,
	ST_DNS_ANSWER,
	ST_RET,
	ST_META,
	ST_LATE,
	ST_ANCHOR,
	ST_PAGES,
	ST_LIFE,
	ST_LIFE_EXIT,
	ST_CGROUP,
	ST_COUNT,
};

/* The tables whose rows can be late: their rowid is an id given elsewhere (store_ckpt.c). */
enum ckpt_late_table { CKPT_LATE_CONN, CKPT_LATE_END, CKPT_LATE_CGROUP, CKPT_LATE_COUNT };

struct ckpt_writer;

/* One open segment file with its statements and the proc rows it already holds. */
/*
 * A queued conn row and its id, side by side so that sorting never reaches into the rows;
 * proc is the row's proc id, filled in just before the row is written.
 */
struct conn_ref {
	uint64_t id;
	const struct store_conn *row;
	int64_t proc;
};

/* The rows ST_CONN_BULK inserts, for the length of one step (store_bulk.c). */
struct conn_feed {
	const struct conn_ref *rows;
	size_t n;
};

/* Which file a path names: (st_dev, st_ino); known is false until it has been seen. */
struct file_id {
	dev_t dev;
	ino_t ino;
	bool known;
};

/* The active segment's .db, -wal and -shm, which store_guard.c watches. */
#define GUARD_FILES 3

/* How the active segment's next checkpoint is hashed (store_ckpt.c). */
enum ckpt_source {
	CKPT_FROM_MEMORY, /* every row of the interval came through this writer: w->ck_rows */
	CKPT_FROM_FILE,	  /* the sealing thread added rows (a carry): the interval is read back */
	CKPT_FIRST_HASH,  /* reopened at start: the rows before are not in memory; the first
			     version of the hash, read back (ckpt.h) */
};

struct writer {
	sqlite3 *db;
	struct file_id files[GUARD_FILES]; /* what each path named when the store made it */
	uint32_t seq;
	int64_t created_ns;
	uint64_t rows; /* written by flushes (not counting what the segment opened with) */
	sqlite3_stmt *st[ST_COUNT];
	struct proc_cache procs;
	struct conn_feed feed;
	struct lives *lives; /* the store's */
	const struct ckpt_writer *ck; /* the store's: which rows are late */
	struct ckpt_rows ck_rows;     /* the rows committed since the last cut, serialised */
	size_t ck_tx_rows;	      /* ck_rows.n when the open transaction began */
	enum ckpt_source ck_source;
	/*
	 * The end zones of the whole lifetimes inserted (conn_zones.h), kept only when this
	 * writer created the segment and so saw every row (zones_whole); stored at rotation.
	 */
	struct conn_zones zones, zones_tx; /* zones_tx: as the open transaction began */
	bool zones_whole;
};

struct gap_row {
	int kind;
	int64_t start_ns, end_ns;
	uint64_t count;
	char reason[128]; /* as long as readers take (struct sr_gap) */
};

struct run_row {
	int64_t ts_ns;
	int kind;
};

struct meta_row {
	char key[32];
	char value[80];
};

/* A seal record (checkpoint or seal line) for the active segment's anchor table. */
struct anchor_row {
	int64_t ts_ns;
	int64_t epoch; /* the sealing key's epoch it was sealed with; -1 unsealed */
	char kind[16];
	char line[1024];
};

struct ret_row {
	int64_t ts_ns;
	char name[SEG_NAME_MAX];
	int64_t first_ns, last_ns;
	char sha256[65];
};

struct store;

/* Opens segment SEQ's file (creating it when CREATE) in WAL mode; no tables, no statements. */
int writer_open(struct store *s, uint32_t seq, bool create, struct writer **out);
/*
 * A brand-new segment file SEQ, initialised; on failure nothing is left behind. FROM, when
 * not NULL, is the segment it follows in this run (a rotation, or a vanished segment healed):
 * the new one numbers its proc rows above FROM's (the sealer carries FROM's open connections
 * with their proc ids) and gets the DNS answers that can still name a flow.
 */
int writer_create(struct store *s, uint32_t seq, const struct writer *from, struct writer **out);
/* Schema, meta and run row (and FROM's carried DNS answers), in one transaction. */
int writer_init(struct store *s, struct writer *w, const struct writer *from);
int writer_prepare(struct writer *w);
bool writer_has_tables(struct writer *w);
/* Bytes of the segment file, WAL included. */
int64_t writer_size(struct writer *w);
/* CHECKPOINT: fold the WAL into the file on close (only the final close does). */
void writer_free(struct writer *w, bool checkpoint);
/* BEGIN IMMEDIATE on W (a sqlite result code); writer_rollback() undoes what follows. */
int writer_begin(struct writer *w);
/* Rolls back an open transaction and forgets the proc rows it added. */
void writer_rollback(struct writer *w);
/*
 * Where a row just inserted into a covered table is serialised for the next checkpoint, with
 * the same columns as the file will hold; NULL when it need not be (CKPT_FIRST_HASH).
 */
struct ckpt_rows *writer_ck_rows(struct writer *w);

/* One row each, inside the caller's transaction; they return a sqlite result code. */
/*
 * The proc row of the process context C (only its owner fields are read) in W's segment,
 * added with its life and cgroup rows if new.
 */
int writer_proc_of(struct writer *w, const struct store_conn *c, int64_t *proc);
int writer_put_conn(struct writer *w, const struct store_conn *c, uint8_t extra_flags);
/*
 * At rotation, when the segment will get no more rows: its end zones into meta
 * (CONN_ZONES_META), if this writer saw every row. On failure (a SQLite code) sealing
 * computes them instead.
 */
int writer_put_zones(struct writer *w);
/*
 * n queued conn rows with one statement (fills in each ref's proc). On an error SQLite keeps
 * none of them, so the caller can retry them one by one.
 */
int writer_put_conns(struct writer *w, struct conn_ref *refs, size_t n);
int writer_put_end(struct writer *w, const struct store_end *e);
int writer_put_gap(struct writer *w, const struct gap_row *g);
int writer_put_run(struct writer *w, const struct run_row *r, const char *version);
int writer_put_meta(struct writer *w, const char *key, const char *value);
int writer_put_ret(struct writer *w, const struct ret_row *r);
int writer_put_late(struct writer *w, int64_t ck, const char *tbl, int64_t rid);
int writer_put_anchor(struct writer *w, const struct anchor_row *a);

/* ---- store_bulk.c ---- */

extern const char bulk_insert_sql[];
/* Makes the connrec_rows table, which reads *feed, available on db. */
int bulk_register(sqlite3 *db, const struct conn_feed *feed);

/* ---- store_rotate.c ---- */

/* Starts the next segment when the active one is big or old enough. */
void rotate_maybe(struct store *s);

/* ---- store_carry.c ---- */

/*
 * On the sealing thread: copies the connections open when segment FROM was rotated into
 * segment TO. Returns 0 or -errno (what was copied stays).
 */
int carry_open_conns(struct store *s, uint32_t from, uint32_t to);

/* ---- store_ckpt.c ---- */

/* A checkpoint cut, for the sealing thread to hash and record. */
struct ckpt_job {
	uint32_t seq;
	int64_t k;
	struct ckpt_marks marks;
	enum ckpt_source source;
	struct ckpt_rows rows; /* CKPT_FROM_MEMORY: the interval's rows, the job's own */
};

/* The chained hash so far of the segment being checkpointed (sealing thread). */
struct ckpt_chain {
	uint32_t seq;
	int64_t k;
	uint64_t rows;
	uint8_t hash[CKPT_HASH_LEN];
};

struct sealkey;

/* The writer's view of the active segment's checkpoints (capture thread only). */
struct ckpt_writer {
	uint32_t seq;		  /* the segment they are of: a new one is being made while not
				     the active one, and none of its rows is late */
	int64_t k;		  /* checkpoints cut so far in the active segment */
	struct ckpt_marks marks;  /* their last marks (zero before the first): rows at or below
				     them committed now are late */
	int64_t late_mark[CKPT_LATE_COUNT]; /* the marks of the late tables, looked up once */
	int64_t next_ns;	  /* mono_ns() of the next cut */
};

/* A fresh segment: no checkpoint yet. */
void ckpt_writer_reset(struct store *s);
/*
 * On store_open: the last checkpoint of the active segment, from its anchor table; and the
 * sealing key's last record, stored again if the active segment does not have it.
 */
int ckpt_recover(struct store *s);
/* After a commit: cut a checkpoint when one is due (or when FORCE). */
void ckpt_maybe_cut(struct store *s, bool force);
/* Inside the flush transaction: a row just written is listed if it is late. A sqlite code. */
int ckpt_note_row(struct writer *w, enum ckpt_late_table t, int64_t rid);
/* Sealing thread: hash and record a cut (freeing its rows); record a finished seal. */
int ckpt_record_cut(struct store *s, struct ckpt_job *j);
void ckpt_record_seal(struct store *s, const struct seg_info *info);

/* ---- the store itself ---- */

struct store {
	char dir[PATH_MAX];
	char version[64];
	int lock_fd;
	int status_fd; /* connrec.status, rewritten in place (store_status.c); -1 when none */
	bool status_warned; /* that it cannot be opened, once */
	uint64_t rotate_size, retain_size, max_queued;
	int64_t rotate_age_ns, retain_age_ns;
	struct writer *w;

	struct vec conns, ends, gaps, runs, metas;
	struct vec anchors; /* struct anchor_row: seal records for the active segment */
	struct vec dns;	     /* struct dns_row *: queued DNS answers (store_dns.c) */
	struct vec dns_live; /* struct dns_row *: written, still within TTL + grace: carried */
	struct vec conn_order; /* struct conn_ref: conns by id, rebuilt per flush */
	struct vec id_slots;   /* uint32_t: scratch for sorting them (store_flush.c) */
	struct lives lives;
	uint64_t run_id_floor; /* the first conn id of this run: older open rows are not carried */

	/* A failing stretch of flushes (disk full): reported as one gap when it ends. */
	int64_t fail_since_ns;
	int fail_err;
	uint64_t dropped_in_fail;
	/* Events the final flush could not store (the status file carries them to the next run). */
	uint64_t unstored;

	char store_id[STORE_ID_LEN + 1];
	struct anchor *anchor; /* the recorder's, may be NULL */
	struct ckpt_writer ck;
	struct ckpt_chain chain; /* the sealing thread's, or the closing one's once it is gone */
	/*
	 * Under mu: the buffers of the last interval hashed from memory, emptied, for the
	 * writer's next one (memory already mapped: no page faults on the capture path).
	 */
	struct ckpt_rows spare;
	int64_t ckpt_every_ns;
	char key_path[PATH_MAX + 32];
	bool key_required;   /* given explicitly: its absence is an error */
	struct sealkey *key; /* used by the sealing thread only, once it runs; NULL: unkeyed */

	uint64_t next_conn_id;
	int64_t start_ns, status_ns, rate_t0_ns, rotate_retry_ns, retention_ns;
	uint64_t rate_ev0;
	double rate;
	uint64_t reserve_bytes;
	bool reserve_held;
	struct store_stats stats;
	char last_tamper[128]; /* the reason of the latest tamper gap, for the status file */

	/* store_guard.c: the data dir as it was opened, and the last check that found it so. */
	struct file_id dir_id;
	int64_t files_ok_ns;
	bool guard_failing;   /* a problem was found and could not be healed yet */
	int64_t guard_fail_ns; /* the last good check before it */

	/* The sealing thread and what it shares with the writer, under mu. */
	pthread_t sealer;
	bool sealer_started, stopping, closing;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct vec to_seal;  /* struct seal_job, ascending */
	struct vec to_ckpt;  /* struct ckpt_job, in the order cut; done before any seal */
	struct vec sealed;   /* struct seg_info, finished since the last flush */
	struct vec vanished; /* uint32_t seqs whose files someone removed before sealing */
	struct vec made;     /* struct anchor_row, records made since the last flush */
	/* The carried copies in segment carry_seq so far, which rotation does not count. */
	uint32_t carry_seq;
	int64_t carry_bytes;
	uint32_t carrying; /* the segment connections are being carried into now, 0 if none */
};

static inline void path_in(const struct store *s, char *buf, size_t len, const char *name)
{
	snprintf(buf, len, "%s/%s", s->dir, name);
}

/* ---- store.c ---- */

int mkdir_p(const char *dir);
/* Opens DIR/connrec.lock into s->lock_fd and takes the flock (-EBUSY: another recorder). */
int take_lock(struct store *s);

/* ---- store_guard.c ---- */

/* Notes what the data dir and the active segment's files are, after they were (re)made. */
void guard_remember(struct store *s);

/* ---- store_recover.c ---- */

/*
 * Picks (or creates) the active segment, sets the next conn id, records a down gap when the
 * previous run did not stop cleanly, queues older unsealed segments for sealing.
 */
int recover_segments(struct store *s);

/* ---- store_flush.c ---- */

int queue_run(struct store *s, int kind);
int queue_meta(struct store *s, const char *key, const char *value);
uint64_t queue_rows(const struct store *s);

/* ---- store_dns.c ---- */

/* One DNS answer row and its records in one allocation (names follow the records). */
struct dns_row {
	struct store_dns d;
	int64_t valid_until_ns; /* ts + the longest A/AAAA TTL + CR_DNS_GRACE_S; 0: no address */
	struct store_dns_rr rrs[];
};

/* One row and its records, inside the caller's transaction; returns a sqlite result code. */
int writer_put_dns(struct writer *w, const struct store_dns *d, uint8_t extra_flags);
/* The queued answers, inside the flush transaction; returns a sqlite result code. */
int dns_write_queued(struct store *s);
/* After a commit: the written answers that can still name a flow are kept for carrying. */
void dns_after_commit(struct store *s);
/* Into a new segment (inside its creation transaction): the answers still valid. */
int dns_put_carried(struct store *s, struct writer *w);
/* Drops the oldest eighth of the queue when it is over the cap; returns how many. */
size_t dns_enforce_cap(struct store *s);
void dns_free_all(struct store *s);

/* ---- store_seal.c ---- */

/* Seal segment seq; first carry its open connections into carry_to, unless that is 0. */
struct seal_job {
	uint32_t seq;
	uint32_t carry_to;
};

int sealer_start(struct store *s);
/* Lets the thread finish what is queued, then joins it. A no-op when it is not running. */
void sealer_stop(struct store *s);
void sealer_enqueue(struct store *s, uint32_t seq, uint32_t carry_to);
/* Hands J (and its rows) to the sealing thread. */
void sealer_enqueue_cut(struct store *s, struct ckpt_job *j);
/* Whether open connections are still to be carried into segment SEQ, or being carried now. */
bool sealer_carrying_into(struct store *s, uint32_t seq);
/* Seals finished since the last call: counted, and the hash queued for the next segment. */
void sealer_collect(struct store *s);

/* ---- store_retain.c ---- */

void retention_apply(struct store *s);

/* ---- store_reserve.c ---- */

void reserve_make(struct store *s);
void reserve_release(struct store *s);

/* ---- store_ident.c ---- */

bool store_id_valid(const char *id);
/*
 * Sets s->store_id: the active segment's meta store_id, else DIR/connrec.id, else a new random
 * one; queues it into the active segment's meta when missing there, and writes connrec.id.
 */
int store_ident_init(struct store *s);

/* ---- store_status.c ---- */

/*
 * Opens DIR/connrec.status for status_write() and gives it its room on disk (after recovery
 * has read the previous run's). A failure only leaves the store without a status file.
 */
void status_open(struct store *s);
void status_write(struct store *s, const char *state);

/* ---- for the commands and the tests ---- */

/* The active segment's connection, for unit tests that need to provoke SQLITE_FULL. */
sqlite3 *store_test_active_db(struct store *s);

#endif /* CONNREC_STORE_INTERNAL_H */
