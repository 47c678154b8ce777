// SPDX-License-Identifier: MIT
/*
 * The store's writer: queues rows in memory, writes them in one transaction per flush into the
 * active segment, rotates segments, hands full ones to a sealing thread and applies retention.
 * See docs/store.md for the data dir layout, the hash chain and crash recovery.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "connrec_event.h"
#include "log.h"
#include "schema.h"
#include "store.h"
#include "store_internal.h"

#define NS_PER_SEC ((int64_t)1000000000)
#define OPEN_SET_MAX (1U << 21)	 /* open connections remembered for carrying */
#define STATUS_EVERY_NS NS_PER_SEC
#define RATE_WINDOW_NS (5 * NS_PER_SEC)
#define RETRY_ROTATE_NS NS_PER_SEC
#define RESERVE_MAX (64ULL << 20)

enum { RUN_START = 1, RUN_STOP = 2, RUN_SEGMENT = 3 };

enum {
	ST_PROC,
	ST_CONN,
	ST_END,
	ST_GAP,
	ST_RUN,
	ST_RET,
	ST_META,
	ST_PAGES,
	ST_COUNT,
};

static const char *const stmt_sql[ST_COUNT] = {
	[ST_PROC] = "INSERT INTO proc(id, pid, comm, uid, netns, cgroup) VALUES(?1,?2,?3,?4,?5,?6)",
	[ST_CONN] = "INSERT INTO conn(id, start_ns, proto, family, dir, laddr, lport, raddr, rport,"
		    " proc, flags, dur_ns, bytes_out, bytes_in, reason)"
		    " VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15)",
	[ST_END] = "INSERT INTO conn_end(id, end_ns, bytes_out, bytes_in, reason)"
		   " VALUES(?1,?2,?3,?4,?5)",
	[ST_GAP] = "INSERT INTO gap(kind, start_ns, end_ns, count, reason) VALUES(?1,?2,?3,?4,?5)",
	[ST_RUN] = "INSERT INTO run(ts_ns, kind, pid, version) VALUES(?1,?2,?3,?4)",
	[ST_RET] = "INSERT INTO retention(ts_ns, name, first_ns, last_ns, sha256)"
		   " VALUES(?1,?2,?3,?4,?5)",
	[ST_META] = "INSERT INTO meta(key, value) VALUES(?1, ?2) ON CONFLICT(key) DO NOTHING",
	[ST_PAGES] = "SELECT page_count * page_size FROM pragma_page_count, pragma_page_size",
};

/* The proc cache key; zeroed before filling so padding hashes and compares equal. */
struct proc_key {
	uint64_t cgroup;
	uint32_t pid, uid, netns;
	char comm[16];
};

struct proc_ent {
	struct proc_key k;
	int64_t id;
	int32_t next;
};

/* One open segment file with its statements and the proc rows it already holds. */
struct writer {
	sqlite3 *db;
	uint32_t seq;
	int64_t created_ns;
	uint64_t rows; /* written by flushes (not counting what the segment opened with) */
	sqlite3_stmt *st[ST_COUNT];
	struct proc_ent *procs;
	size_t nproc, cap_proc;
	size_t committed;	  /* procs[0..committed) are on disk */
	int64_t next_proc_id, committed_next_proc_id;
	int32_t *buckets;
	size_t nbuckets; /* power of two */
};

struct open_ent {
	struct store_conn c;
	int32_t next;
};

/* Connections written without an end: copied into the next segment when it opens. */
struct open_set {
	struct open_ent *v;
	size_t n, cap;
	int32_t *b;
	size_t nb;
};

struct gap_row {
	int kind;
	int64_t start_ns, end_ns;
	uint64_t count;
	char reason[96];
};

struct run_row {
	int64_t ts_ns;
	int kind;
};

struct meta_row {
	char key[32];
	char value[80];
};

struct ret_row {
	int64_t ts_ns;
	char name[SEG_NAME_MAX];
	int64_t first_ns, last_ns;
	char sha256[65];
};

/* A growable array of fixed-size elements. */
struct vec {
	void *v;
	size_t n, cap, esz;
};

struct store {
	char dir[PATH_MAX];
	char version[64];
	int lock_fd;
	uint64_t rotate_size, retain_size, max_queued;
	int64_t rotate_age_ns, retain_age_ns;
	struct writer *w;

	struct vec conns, ends, gaps, runs, metas;
	struct open_set open;

	/* A failing stretch of flushes (disk full): reported as one gap when it ends. */
	int64_t fail_since_ns;
	int fail_err;
	uint64_t dropped_in_fail;

	uint64_t next_conn_id;
	int64_t start_ns, status_ns, rate_t0_ns, rotate_retry_ns, retention_ns;
	uint64_t rate_ev0;
	double rate;
	uint64_t reserve_bytes;
	bool reserve_held;
	struct store_stats stats;

	/* The sealing thread and what it shares with the writer, under mu. */
	pthread_t sealer;
	bool sealer_started, stopping, closing;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct vec to_seal;  /* uint32_t seqs, ascending */
	struct vec sealed;   /* struct seg_info, finished since the last flush */
};

/* ---- small helpers ---- */

static void *vec_push(struct vec *q)
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

static void *vec_at(const struct vec *q, size_t i)
{
	return (char *)q->v + q->esz * i;
}

static void vec_drop_front(struct vec *q, size_t k)
{
	if (k > q->n)
		k = q->n;
	memmove(q->v, vec_at(q, k), (q->n - k) * q->esz);
	q->n -= k;
}

static void vec_free(struct vec *q)
{
	free(q->v);
	q->v = NULL;
	q->n = q->cap = 0;
}

static int64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * NS_PER_SEC + ts.tv_nsec;
}

static void path_in(const struct store *s, char *buf, size_t len, const char *name)
{
	snprintf(buf, len, "%s/%s", s->dir, name);
}

static uint64_t hash_bytes(const void *p, size_t n)
{
	const unsigned char *c = p;
	uint64_t h = 1469598103934665603ULL;

	for (size_t i = 0; i < n; i++) {
		h ^= c[i];
		h *= 1099511628211ULL;
	}
	return h;
}

static uint64_t hash_u64(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	return x;
}

static int mkdir_p(const char *dir)
{
	char tmp[PATH_MAX];
	size_t len = strlen(dir);

	if (len == 0 || len >= sizeof(tmp))
		return -ENAMETOOLONG;
	memcpy(tmp, dir, len + 1);
	for (char *p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(tmp, 0700) && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(tmp, 0700) && errno != EEXIST)
		return -errno;
	return 0;
}

static void read_small_file(const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "re");

	buf[0] = '\0';
	if (!f)
		return;
	if (!fgets(buf, (int)len, f))
		buf[0] = '\0';
	fclose(f);
	buf[strcspn(buf, "\n")] = '\0';
}

/* ---- the proc cache of one writer ---- */

static void proc_key_of(struct proc_key *k, const struct store_conn *c)
{
	memset(k, 0, sizeof(*k));
	k->cgroup = c->cgroup;
	k->pid = c->pid;
	k->uid = c->uid;
	k->netns = c->netns;
	memcpy(k->comm, c->comm, sizeof(k->comm));
	k->comm[sizeof(k->comm) - 1] = '\0';
}

static size_t proc_bucket(const struct writer *w, const struct proc_key *k)
{
	return hash_bytes(k, sizeof(*k)) & (w->nbuckets - 1);
}

static int proc_rehash(struct writer *w, size_t nb)
{
	int32_t *b = malloc(nb * sizeof(*b));

	if (!b)
		return -ENOMEM;
	free(w->buckets);
	w->buckets = b;
	w->nbuckets = nb;
	for (size_t i = 0; i < nb; i++)
		b[i] = -1;
	for (size_t i = 0; i < w->nproc; i++) {
		size_t h = proc_bucket(w, &w->procs[i].k);

		w->procs[i].next = b[h];
		b[h] = (int32_t)i;
	}
	return 0;
}

/*
 * Entries added inside a transaction sit at the head of their chains (no rehash happens
 * until commit), so a rollback pops them in reverse order.
 */
static void proc_rollback(struct writer *w)
{
	while (w->nproc > w->committed) {
		struct proc_ent *e = &w->procs[--w->nproc];

		w->buckets[proc_bucket(w, &e->k)] = e->next;
	}
	w->next_proc_id = w->committed_next_proc_id;
}

static void proc_commit(struct writer *w)
{
	w->committed = w->nproc;
	w->committed_next_proc_id = w->next_proc_id;
	if (w->nproc > w->nbuckets && proc_rehash(w, w->nbuckets * 2))
		cr_debug("store: proc cache stays at %zu buckets", w->nbuckets);
}

/* Returns a sqlite result code; *id is the proc row for C's process context. */
static int proc_get(struct writer *w, const struct store_conn *c, int64_t *id)
{
	sqlite3_stmt *st = w->st[ST_PROC];
	struct proc_key k;
	size_t h;
	int rc;

	proc_key_of(&k, c);
	h = proc_bucket(w, &k);
	for (int32_t i = w->buckets[h]; i >= 0; i = w->procs[i].next) {
		if (!memcmp(&w->procs[i].k, &k, sizeof(k))) {
			*id = w->procs[i].id;
			return SQLITE_OK;
		}
	}
	if (w->nproc == w->cap_proc) {
		size_t ncap = w->cap_proc ? w->cap_proc * 2 : 1024;
		struct proc_ent *nv = realloc(w->procs, ncap * sizeof(*nv));

		if (!nv)
			return SQLITE_NOMEM;
		w->procs = nv;
		w->cap_proc = ncap;
	}
	sqlite3_bind_int64(st, 1, w->next_proc_id);
	sqlite3_bind_int64(st, 2, c->pid);
	sqlite3_bind_text(st, 3, k.comm, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 4, c->uid);
	sqlite3_bind_int64(st, 5, c->netns);
	sqlite3_bind_int64(st, 6, (int64_t)c->cgroup);
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc != SQLITE_DONE)
		return rc;
	w->procs[w->nproc] = (struct proc_ent){ .k = k, .id = w->next_proc_id, .next = w->buckets[h] };
	w->buckets[h] = (int32_t)w->nproc++;
	*id = w->next_proc_id++;
	return SQLITE_OK;
}

/* ---- the set of open connections ---- */

static int32_t *open_link(struct open_set *o, uint64_t id)
{
	int32_t *pp = &o->b[hash_u64(id) & (o->nb - 1)];

	while (*pp >= 0 && o->v[*pp].c.id != id)
		pp = &o->v[*pp].next;
	return pp;
}

static int open_rehash(struct open_set *o, size_t nb)
{
	int32_t *b = malloc(nb * sizeof(*b));

	if (!b)
		return -ENOMEM;
	free(o->b);
	o->b = b;
	o->nb = nb;
	for (size_t i = 0; i < nb; i++)
		b[i] = -1;
	for (size_t i = 0; i < o->n; i++) {
		int32_t *h = &b[hash_u64(o->v[i].c.id) & (nb - 1)];

		o->v[i].next = *h;
		*h = (int32_t)i;
	}
	return 0;
}

static void open_add(struct open_set *o, const struct store_conn *c)
{
	int32_t *pp;

	if (!o->nb && open_rehash(o, 4096))
		return;
	pp = open_link(o, c->id);
	if (*pp >= 0) {
		o->v[*pp].c = *c;
		return;
	}
	if (o->n >= OPEN_SET_MAX)
		return; /* a leak of never-ended flows must not grow without bound */
	if (o->n == o->cap) {
		size_t ncap = o->cap ? o->cap * 2 : 4096;
		struct open_ent *nv = realloc(o->v, ncap * sizeof(*nv));

		if (!nv)
			return;
		o->v = nv;
		o->cap = ncap;
	}
	o->v[o->n] = (struct open_ent){ .c = *c, .next = -1 };
	*pp = (int32_t)o->n++;
	if (o->n > o->nb)
		open_rehash(o, o->nb * 2);
}

static void open_del(struct open_set *o, uint64_t id)
{
	int32_t *pp, idx, last;

	if (!o->nb)
		return;
	pp = open_link(o, id);
	idx = *pp;
	if (idx < 0)
		return;
	*pp = o->v[idx].next;
	last = (int32_t)o->n - 1;
	if (idx != last) {
		int32_t *lp = open_link(o, o->v[last].c.id);

		*lp = idx;
		o->v[idx] = o->v[last];
	}
	o->n--;
}

/* ---- writing rows ---- */

static void bind_addr(sqlite3_stmt *st, int col, uint8_t family, const uint8_t *a)
{
	sqlite3_bind_blob(st, col, a, family == 4 ? 4 : 16, SQLITE_STATIC);
}

static int write_conn(struct writer *w, const struct store_conn *c, uint8_t extra_flags)
{
	sqlite3_stmt *st = w->st[ST_CONN];
	int64_t proc = 0;
	int rc;

	rc = proc_get(w, c, &proc);
	if (rc != SQLITE_OK)
		return rc;
	sqlite3_bind_int64(st, 1, (int64_t)c->id);
	sqlite3_bind_int64(st, 2, c->start_ns);
	sqlite3_bind_int(st, 3, c->proto);
	sqlite3_bind_int(st, 4, c->family);
	sqlite3_bind_int(st, 5, c->dir);
	bind_addr(st, 6, c->family, c->laddr);
	sqlite3_bind_int(st, 7, c->lport);
	bind_addr(st, 8, c->family, c->raddr);
	sqlite3_bind_int(st, 9, c->rport);
	sqlite3_bind_int64(st, 10, proc);
	sqlite3_bind_int(st, 11, c->flags | extra_flags);
	if (c->has_end && !extra_flags) {
		sqlite3_bind_int64(st, 12, c->end_ns - c->start_ns);
		sqlite3_bind_int64(st, 13, (int64_t)c->bytes_out);
		sqlite3_bind_int64(st, 14, (int64_t)c->bytes_in);
		sqlite3_bind_int(st, 15, c->reason);
	} else {
		for (int i = 12; i <= 15; i++)
			sqlite3_bind_null(st, i);
	}
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

static int write_end(struct writer *w, const struct store_end *e)
{
	sqlite3_stmt *st = w->st[ST_END];
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
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

static int write_gap(struct writer *w, const struct gap_row *g)
{
	sqlite3_stmt *st = w->st[ST_GAP];
	int rc;

	sqlite3_bind_int(st, 1, g->kind);
	sqlite3_bind_int64(st, 2, g->start_ns);
	sqlite3_bind_int64(st, 3, g->end_ns);
	sqlite3_bind_int64(st, 4, (int64_t)g->count);
	sqlite3_bind_text(st, 5, g->reason, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

static int write_run(struct store *s, struct writer *w, const struct run_row *r)
{
	sqlite3_stmt *st = w->st[ST_RUN];
	int rc;

	sqlite3_bind_int64(st, 1, r->ts_ns);
	sqlite3_bind_int(st, 2, r->kind);
	sqlite3_bind_int64(st, 3, getpid());
	sqlite3_bind_text(st, 4, s->version, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

static int write_meta(struct writer *w, const char *key, const char *value)
{
	sqlite3_stmt *st = w->st[ST_META];
	int rc;

	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, value, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

static int write_ret(struct writer *w, const struct ret_row *r)
{
	sqlite3_stmt *st = w->st[ST_RET];
	int rc;

	sqlite3_bind_int64(st, 1, r->ts_ns);
	sqlite3_bind_text(st, 2, r->name, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, r->first_ns);
	sqlite3_bind_int64(st, 4, r->last_ns);
	sqlite3_bind_text(st, 5, r->sha256, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

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

static void tx_rollback(struct writer *w)
{
	if (!sqlite3_get_autocommit(w->db))
		sqlite3_exec(w->db, "ROLLBACK", NULL, NULL, NULL);
	proc_rollback(w);
}

/* ---- writers (segment files) ---- */

static void writer_free(struct writer *w, bool checkpoint)
{
	if (!w)
		return;
	for (int i = 0; i < ST_COUNT; i++)
		sqlite3_finalize(w->st[i]);
	if (w->db) {
		sqlite3_db_config(w->db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, checkpoint ? 0 : 1, NULL);
		sqlite3_close(w->db);
	}
	free(w->procs);
	free(w->buckets);
	free(w);
}

static int writer_prepare(struct writer *w)
{
	for (int i = 0; i < ST_COUNT; i++) {
		int rc = sqlite3_prepare_v3(w->db, stmt_sql[i], -1, SQLITE_PREPARE_PERSISTENT,
					    &w->st[i], NULL);

		if (rc != SQLITE_OK) {
			cr_err("store: prepare: %s", sqlite3_errmsg(w->db));
			return seg_sqlite_err(rc);
		}
	}
	return 0;
}

static int64_t query_i64(sqlite3 *db, const char *sql, int64_t dflt)
{
	sqlite3_stmt *st = NULL;
	int64_t v = dflt;

	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW &&
	    sqlite3_column_type(st, 0) != SQLITE_NULL)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

static int writer_open_db(struct store *s, uint32_t seq, bool create, struct writer **out)
{
	char name[SEG_NAME_MAX], path[PATH_MAX + SEG_NAME_MAX];
	struct writer *w;
	int rc, err = 0;

	*out = NULL;
	w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	w->seq = seq;
	w->next_proc_id = w->committed_next_proc_id = 1;
	err = proc_rehash(w, 1024);
	if (err)
		goto cleanup;
	seg_format_name(name, sizeof(name), seq, SEG_RAW);
	path_in(s, path, sizeof(path), name);
	rc = sqlite3_open_v2(path, &w->db,
			     SQLITE_OPEN_READWRITE | (create ? SQLITE_OPEN_CREATE : 0) |
				     SQLITE_OPEN_NOMUTEX,
			     NULL);
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

/*
 * Creates segment SEQ's tables, metadata, its "segment opened" run row and copies of the open
 * connections, all in one transaction: a crash leaves either a complete segment or one with no
 * tables, which store_open initialises again.
 */
static int writer_init(struct store *s, struct writer *w, bool carry)
{
	char host[256], boot[64], val[128];
	struct utsname un;
	struct run_row r = { .ts_ns = w->created_ns, .kind = RUN_SEGMENT };
	int rc = SQLITE_OK, err = 0;

	rc = sqlite3_exec(w->db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
	for (unsigned i = 0; rc == SQLITE_OK && i < schema_sql_count; i++)
		rc = sqlite3_exec(w->db, schema_sql[i], NULL, NULL, NULL);
	if (rc != SQLITE_OK)
		goto fail;
	err = writer_prepare(w);
	if (err)
		goto fail_err;
	if (gethostname(host, sizeof(host)))
		snprintf(host, sizeof(host), "unknown");
	host[sizeof(host) - 1] = '\0';
	read_small_file("/proc/sys/kernel/random/boot_id", boot, sizeof(boot));
	if (uname(&un))
		snprintf(un.release, sizeof(un.release), "unknown");

	snprintf(val, sizeof(val), "%d", STORE_SCHEMA_VERSION);
	rc = write_meta(w, "schema_version", val);
	snprintf(val, sizeof(val), "%" PRIu32, w->seq);
	if (rc == SQLITE_OK)
		rc = write_meta(w, "segment_id", val);
	if (rc == SQLITE_OK)
		rc = write_meta(w, "host", host);
	if (rc == SQLITE_OK)
		rc = write_meta(w, "boot_id", boot);
	if (rc == SQLITE_OK)
		rc = write_meta(w, "kernel", un.release);
	if (rc == SQLITE_OK)
		rc = write_meta(w, "recorder_version", s->version);
	measure_clock_offset(val, sizeof(val));
	if (rc == SQLITE_OK)
		rc = write_meta(w, "clock_offset_ns", val);
	snprintf(val, sizeof(val), "%" PRId64, w->created_ns);
	if (rc == SQLITE_OK)
		rc = write_meta(w, "created_ns", val);
	/* Lets store_next_conn_id() work without opening older, compressed segments. */
	snprintf(val, sizeof(val), "%" PRIu64, s->next_conn_id);
	if (rc == SQLITE_OK)
		rc = write_meta(w, "conn_id_floor", val);
	if (rc == SQLITE_OK && w->seq > 1) {
		seg_format_name(val, sizeof(val), w->seq - 1, SEG_ZST);
		rc = write_meta(w, "prev_name", val);
	}
	if (rc == SQLITE_OK)
		rc = write_run(s, w, &r);
	for (size_t i = 0; carry && rc == SQLITE_OK && i < s->open.n; i++)
		rc = write_conn(w, &s->open.v[i].c, CR_FLAG_CARRIED);
	if (rc != SQLITE_OK)
		goto fail;
	rc = sqlite3_exec(w->db, "COMMIT", NULL, NULL, NULL);
	if (rc != SQLITE_OK)
		goto fail;
	proc_commit(w);
	return 0;
fail:
	err = seg_sqlite_err(rc);
	cr_warn("store: create segment %" PRIu32 ": %s", w->seq, sqlite3_errmsg(w->db));
fail_err:
	tx_rollback(w);
	return err;
}

static bool writer_has_tables(struct writer *w)
{
	return query_i64(w->db, "SELECT count(*) FROM sqlite_schema WHERE name = 'meta'", 0) > 0;
}

static void unlink_seg_files(struct store *s, uint32_t seq)
{
	static const char *const sfx[] = { "", "-wal", "-shm", "-journal" };
	char name[SEG_NAME_MAX], path[PATH_MAX + SEG_NAME_MAX + 16];

	seg_format_name(name, sizeof(name), seq, SEG_RAW);
	for (size_t i = 0; i < sizeof(sfx) / sizeof(sfx[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s%s", s->dir, name, sfx[i]);
		unlink(path);
	}
}

/* A brand-new segment file SEQ, initialised; on failure nothing is left behind. */
static int writer_create(struct store *s, uint32_t seq, bool carry, struct writer **out)
{
	struct writer *w = NULL;
	int err;

	unlink_seg_files(s, seq);
	err = writer_open_db(s, seq, true, &w);
	if (!err) {
		w->created_ns = seg_now_ns();
		err = writer_init(s, w, carry);
	}
	if (err) {
		writer_free(w, false);
		unlink_seg_files(s, seq);
		return err;
	}
	*out = w;
	return 0;
}

/* ---- the sealing thread ---- */

static void sealer_enqueue(struct store *s, uint32_t seq)
{
	pthread_mutex_lock(&s->mu);
	uint32_t *slot = vec_push(&s->to_seal);

	if (slot)
		*slot = seq;
	else
		cr_warn("store: out of memory queueing segment %" PRIu32 " for sealing", seq);
	pthread_cond_broadcast(&s->cv);
	pthread_mutex_unlock(&s->mu);
}

/* The hash the next segment must record: from the manifest, else from the file itself. */
static int prev_hash(struct store *s, uint32_t seq, char hex[65])
{
	struct seg_info info;
	char name[SEG_NAME_MAX], path[PATH_MAX + SEG_NAME_MAX];

	if (seq <= 1)
		return -ENOENT;
	if (seg_manifest_find(s->dir, seq - 1, &info) == 0) {
		memcpy(hex, info.sha256, 65);
		return 0;
	}
	seg_format_name(name, sizeof(name), seq - 1, SEG_ZST);
	path_in(s, path, sizeof(path), name);
	return seg_hash_file(path, hex);
}

static void release_reserve(struct store *s)
{
	char path[PATH_MAX + 32];

	path_in(s, path, sizeof(path), SEG_RESERVE_NAME);
	if (unlink(path) == 0)
		cr_warn("store: disk full, released the %" PRIu64 "-byte reserve", s->reserve_bytes);
	__atomic_store_n(&s->reserve_held, false, __ATOMIC_RELAXED);
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
		char prev[65];
		uint32_t seq;
		int err;

		while (!s->to_seal.n && !s->stopping)
			pthread_cond_wait(&s->cv, &s->mu);
		if (!s->to_seal.n)
			break;
		seq = *(uint32_t *)vec_at(&s->to_seal, 0);
		pthread_mutex_unlock(&s->mu);

		int64_t t0 = mono_ns();

		err = seg_seal(s->dir, seq, prev_hash(s, seq, prev) ? NULL : prev, &info);
		if (err == -ENOSPC) {
			release_reserve(s);
			err = seg_seal(s->dir, seq, prev_hash(s, seq, prev) ? NULL : prev, &info);
		}
		pthread_mutex_lock(&s->mu);
		if (!err) {
			struct seg_info *d;

			cr_debug("store: sealed segment %" PRIu32 " (%" PRIu64 " bytes, %.3f s)", seq,
				 info.bytes, (double)(mono_ns() - t0) / 1e9);
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
		until.tv_sec += 2;
		pthread_cond_timedwait(&s->cv, &s->mu, &until);
	}
	pthread_mutex_unlock(&s->mu);
	return NULL;
}

/* ---- status file ---- */

static void write_status(struct store *s, const char *state)
{
	char tmp[PATH_MAX + 64], path[PATH_MAX + 64];
	int64_t now = seg_now_ns();
	uint64_t events = s->stats.conns_written + s->stats.ends_written;
	int64_t mono = mono_ns();
	FILE *f;

	if (!s->rate_t0_ns) {
		s->rate_t0_ns = mono;
		s->rate_ev0 = events;
	} else if (mono - s->rate_t0_ns >= RATE_WINDOW_NS) {
		s->rate = (double)(events - s->rate_ev0) * 1e9 / (double)(mono - s->rate_t0_ns);
		s->rate_t0_ns = mono;
		s->rate_ev0 = events;
	}
	path_in(s, tmp, sizeof(tmp), SEG_STATUS_NAME ".tmp");
	path_in(s, path, sizeof(path), SEG_STATUS_NAME);
	f = fopen(tmp, "we");
	if (!f)
		return;
	fprintf(f,
		"state=%s\npid=%d\nversion=%s\nstart_ns=%" PRId64 "\nupdated_ns=%" PRId64
		"\nactive_seq=%" PRIu32 "\nevents=%" PRIu64 "\nconns=%" PRIu64 "\nends=%" PRIu64
		"\ngaps=%" PRIu64 "\nevents_per_s=%.1f\nlost_events=%" PRIu64
		"\nrows_dropped=%" PRIu64 "\nrows_rejected=%" PRIu64 "\nqueued=%" PRIu64
		"\nflush_failures=%" PRIu64 "\nsegments_sealed=%" PRIu64
		"\nsegments_deleted=%" PRIu64 "\nlast_error=%s\n",
		state, (int)getpid(), s->version, s->start_ns, now, s->w ? s->w->seq : 0, events,
		s->stats.conns_written, s->stats.ends_written, s->stats.gaps_written, s->rate,
		s->stats.lost_events, s->stats.rows_dropped, s->stats.rows_rejected,
		s->stats.queued, s->stats.flush_failures, s->stats.segments_sealed,
		s->stats.segments_deleted, s->fail_err ? strerror(-s->fail_err) : "none");
	if (fclose(f)) {
		unlink(tmp);
		return;
	}
	if (rename(tmp, path))
		unlink(tmp);
	s->status_ns = mono;
}

/* ---- queueing ---- */

static uint64_t queued_rows(const struct store *s)
{
	return s->conns.n + s->ends.n + s->gaps.n + s->runs.n + s->metas.n;
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

int store_add_conn(struct store *s, const struct store_conn *c)
{
	struct store_conn *slot;

	enforce_cap(s);
	slot = vec_push(&s->conns);
	if (!slot)
		return -ENOMEM;
	*slot = *c;
	return 0;
}

int store_add_end(struct store *s, const struct store_end *e)
{
	struct store_end *slot;

	enforce_cap(s);
	slot = vec_push(&s->ends);
	if (!slot)
		return -ENOMEM;
	*slot = *e;
	return 0;
}

int store_add_gap(struct store *s, enum store_gap_kind kind, int64_t start_ns, int64_t end_ns,
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
	if (kind == STORE_GAP_LOST)
		s->stats.lost_events += count;
	return 0;
}

static int add_run(struct store *s, int kind)
{
	struct run_row *r = vec_push(&s->runs);

	if (!r)
		return -ENOMEM;
	r->ts_ns = seg_now_ns();
	r->kind = kind;
	return 0;
}

static int add_meta(struct store *s, const char *key, const char *value)
{
	struct meta_row *m = vec_push(&s->metas);

	if (!m)
		return -ENOMEM;
	snprintf(m->key, sizeof(m->key), "%s", key);
	snprintf(m->value, sizeof(m->value), "%s", value);
	return 0;
}

/* ---- flushing ---- */

/* Everything queued, in one transaction. Returns a sqlite result code. */
static int write_queue(struct store *s)
{
	struct writer *w = s->w;
	int rc;

	rc = sqlite3_exec(w->db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
	for (size_t i = 0; rc == SQLITE_OK && i < s->conns.n; i++) {
		const struct store_conn *c = vec_at(&s->conns, i);

		rc = row_rc(s, write_conn(w, c, 0), "conn", c->id);
	}
	for (size_t i = 0; rc == SQLITE_OK && i < s->ends.n; i++) {
		const struct store_end *e = vec_at(&s->ends, i);

		rc = row_rc(s, write_end(w, e), "conn_end", e->id);
	}
	for (size_t i = 0; rc == SQLITE_OK && i < s->gaps.n; i++)
		rc = write_gap(w, vec_at(&s->gaps, i));
	for (size_t i = 0; rc == SQLITE_OK && i < s->runs.n; i++)
		rc = write_run(s, w, vec_at(&s->runs, i));
	for (size_t i = 0; rc == SQLITE_OK && i < s->metas.n; i++) {
		const struct meta_row *m = vec_at(&s->metas, i);

		rc = write_meta(w, m->key, m->value);
	}
	if (rc == SQLITE_OK && s->fail_since_ns) {
		struct gap_row g = { .kind = STORE_GAP_LOST,
				     .start_ns = s->fail_since_ns,
				     .end_ns = seg_now_ns(),
				     .count = s->dropped_in_fail };

		snprintf(g.reason, sizeof(g.reason),
			 "store not writable (%s): %" PRIu64 " rows dropped, the rest delayed",
			 s->fail_err ? strerror(-s->fail_err) : "queue full", s->dropped_in_fail);
		rc = write_gap(w, &g);
	}
	if (rc == SQLITE_OK)
		rc = sqlite3_exec(w->db, "COMMIT", NULL, NULL, NULL);
	if (rc != SQLITE_OK)
		tx_rollback(w);
	return rc;
}

static void after_commit(struct store *s)
{
	proc_commit(s->w);
	for (size_t i = 0; i < s->conns.n; i++) {
		const struct store_conn *c = vec_at(&s->conns, i);

		if (c->id >= s->next_conn_id)
			s->next_conn_id = c->id + 1;
		if (!c->has_end)
			open_add(&s->open, c);
	}
	for (size_t i = 0; i < s->ends.n; i++)
		open_del(&s->open, ((const struct store_end *)vec_at(&s->ends, i))->id);
	s->w->rows += s->conns.n + s->ends.n + s->gaps.n;
	s->stats.conns_written += s->conns.n;
	s->stats.ends_written += s->ends.n;
	s->stats.gaps_written += s->gaps.n + (s->fail_since_ns ? 1 : 0);
	s->conns.n = s->ends.n = s->gaps.n = s->runs.n = s->metas.n = 0;
	if (s->fail_since_ns)
		cr_info("store: writable again, recording resumed");
	s->fail_since_ns = 0;
	s->fail_err = 0;
	s->dropped_in_fail = 0;
}

/* Finished seals: the next segment records the hash (if it is still the active one). */
static void collect_sealed(struct store *s)
{
	pthread_mutex_lock(&s->mu);
	for (size_t i = 0; i < s->sealed.n; i++) {
		const struct seg_info *d = vec_at(&s->sealed, i);

		s->stats.segments_sealed++;
		if (d->seq + 1 == s->w->seq)
			add_meta(s, "prev_sha256", d->sha256);
		s->retention_ns = 0; /* check retention now */
	}
	s->sealed.n = 0;
	pthread_mutex_unlock(&s->mu);
}

static void rotate(struct store *s)
{
	struct writer *nw = NULL, *old = s->w;
	uint32_t old_seq = old->seq;
	int err;

	err = writer_create(s, old_seq + 1, true, &nw);
	if (err) {
		cr_warn("store: cannot start segment %" PRIu32 " (%s); staying on %" PRIu32,
			old->seq + 1, strerror(-err), old->seq);
		s->rotate_retry_ns = mono_ns() + RETRY_ROTATE_NS;
		return;
	}
	s->w = nw;
	s->stats.active_seq = nw->seq;
	writer_free(old, false);
	sealer_enqueue(s, old_seq);
}

static void maybe_rotate(struct store *s)
{
	int64_t now = mono_ns(), size;

	/* A segment with nothing new (or a store being closed) is never rotated. */
	if (now < s->rotate_retry_ns || s->closing || !s->w->rows)
		return;
	size = query_i64(s->w->db, stmt_sql[ST_PAGES], 0);
	cr_debug("store: active segment %" PRId64 " bytes, age %" PRId64 " ns", size,
		 seg_now_ns() - s->w->created_ns);
	if ((uint64_t)size >= s->rotate_size || seg_now_ns() - s->w->created_ns >= s->rotate_age_ns)
		rotate(s);
}

static void make_reserve(struct store *s)
{
	char path[PATH_MAX + 32];
	struct statvfs vfs;
	int fd;

	if (__atomic_load_n(&s->reserve_held, __ATOMIC_RELAXED) || statvfs(s->dir, &vfs))
		return;
	/* Only while there is clearly room: the reserve must never cause the disk-full. */
	if ((uint64_t)vfs.f_bavail * vfs.f_frsize < 4 * s->reserve_bytes)
		return;
	path_in(s, path, sizeof(path), SEG_RESERVE_NAME);
	fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return;
	if (posix_fallocate(fd, 0, (off_t)s->reserve_bytes) == 0)
		__atomic_store_n(&s->reserve_held, true, __ATOMIC_RELAXED);
	else
		unlink(path);
	close(fd);
}

/* Deletes the oldest sealed segments beyond the size or age limit; records each first. */
static void apply_retention(struct store *s)
{
	struct seg_entry *v = NULL;
	struct ret_row *rows = NULL;
	size_t n = 0, nv = 0;
	uint64_t total = 0;
	int64_t now = seg_now_ns();
	int rc;

	if (seg_list(s->dir, &v, &n))
		return;
	for (size_t i = 0; i < n; i++)
		if (v[i].has_zst && !v[i].has_raw)
			total += v[i].zst_bytes;
	rows = calloc(n ? n : 1, sizeof(*rows));
	if (!rows)
		goto cleanup;
	for (size_t i = 0; i < n; i++) {
		struct seg_info info;
		char path[PATH_MAX + SEG_NAME_MAX];

		if (v[i].seq >= s->w->seq)
			break;
		if (!v[i].has_zst || v[i].has_raw)
			break; /* only the oldest, and only sealed ones */
		memset(&info, 0, sizeof(info));
		seg_format_name(rows[nv].name, sizeof(rows[nv].name), v[i].seq, SEG_ZST);
		if (seg_manifest_find(s->dir, v[i].seq, &info)) {
			path_in(s, path, sizeof(path), rows[nv].name);
			if (seg_hash_file(path, info.sha256))
				break;
		}
		bool over_size = total > s->retain_size;
		bool over_age = s->retain_age_ns > 0 && info.last_ns &&
				info.last_ns < now - s->retain_age_ns;

		if (!over_size && !over_age)
			break;
		rows[nv].ts_ns = now;
		rows[nv].first_ns = info.first_ns;
		rows[nv].last_ns = info.last_ns;
		memcpy(rows[nv].sha256, info.sha256, sizeof(info.sha256));
		total -= v[i].zst_bytes;
		nv++;
	}
	if (!nv)
		goto cleanup;
	/* The record is committed before the file goes: a crash between leaves a duplicate row. */
	rc = sqlite3_exec(s->w->db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
	for (size_t i = 0; rc == SQLITE_OK && i < nv; i++)
		rc = write_ret(s->w, &rows[i]);
	if (rc == SQLITE_OK)
		rc = sqlite3_exec(s->w->db, "COMMIT", NULL, NULL, NULL);
	if (rc != SQLITE_OK) {
		tx_rollback(s->w);
		cr_warn("store: retention: cannot record deletions: %s", sqlite3_errmsg(s->w->db));
		goto cleanup;
	}
	for (size_t i = 0; i < nv; i++) {
		char path[PATH_MAX + SEG_NAME_MAX];

		path_in(s, path, sizeof(path), rows[i].name);
		if (unlink(path))
			cr_warn("store: retention: unlink %s: %s", path, strerror(errno));
		else
			s->stats.segments_deleted++;
		cr_info("store: retention deleted %s", rows[i].name);
	}
	seg_fsync_dir(s->dir);
cleanup:
	free(rows);
	free(v);
}

int store_flush(struct store *s)
{
	int64_t now;
	int rc, err = 0;

	collect_sealed(s);
	if (queued_rows(s) || s->fail_since_ns) {
		rc = write_queue(s);
		if (rc != SQLITE_OK) {
			err = seg_sqlite_err(rc);
			if (err != -ENOSPC)
				err = -EIO;
			if (!s->fail_since_ns) {
				s->fail_since_ns = seg_now_ns();
				cr_warn("store: flush failed (%s): %s; keeping %" PRIu64
					" rows for the next try",
					strerror(-err), sqlite3_errmsg(s->w->db), queued_rows(s));
			}
			s->fail_err = err;
			s->stats.flush_failures++;
			if (err == -ENOSPC) {
				release_reserve(s);
				s->retention_ns = 0;
			}
		} else {
			after_commit(s);
		}
	}
	now = mono_ns();
	if (!err) {
		maybe_rotate(s);
		make_reserve(s);
	}
	if (now >= s->retention_ns) {
		apply_retention(s);
		s->retention_ns = now + 10 * NS_PER_SEC;
	}
	s->stats.queued = queued_rows(s);
	if (now - s->status_ns >= STATUS_EVERY_NS)
		write_status(s, "running");
	return err;
}

/* ---- open and close ---- */

static int take_lock(struct store *s)
{
	char path[PATH_MAX + 32], pid[32];
	int n;

	path_in(s, path, sizeof(path), STORE_LOCK_NAME);
	s->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (s->lock_fd < 0)
		return -errno;
	if (flock(s->lock_fd, LOCK_EX | LOCK_NB))
		return errno == EWOULDBLOCK ? -EBUSY : -errno;
	/* The pid is for people and `connrec status`; the lock itself is the flock. */
	n = snprintf(pid, sizeof(pid), "%d\n", (int)getpid());
	if (ftruncate(s->lock_fd, 0) || pwrite(s->lock_fd, pid, (size_t)n, 0) != n)
		cr_debug("store: cannot write pid into the lock file");
	return 0;
}

static int64_t status_value(const char *dir, const char *key)
{
	char path[PATH_MAX + 32], line[256];
	size_t kl = strlen(key);
	int64_t v = 0;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, SEG_STATUS_NAME);
	f = fopen(path, "re");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, key, kl) && line[kl] == '=')
			v = strtoll(line + kl + 1, NULL, 10);
	fclose(f);
	return v;
}

/* The latest time the previous run is known to have written anything. */
static int64_t last_write_ns(struct store *s)
{
	int64_t t = status_value(s->dir, "updated_ns");
	int64_t d = query_i64(s->w->db,
			      "SELECT max(coalesce((SELECT max(start_ns) FROM conn), 0),"
			      " coalesce((SELECT max(end_ns) FROM (SELECT end_ns FROM conn_end"
			      "  ORDER BY id DESC LIMIT 4096)), 0),"
			      " coalesce((SELECT max(end_ns) FROM gap), 0),"
			      " coalesce((SELECT max(ts_ns) FROM run), 0))",
			      0);

	return t > d ? t : d;
}

/* Whether the previous run on this dir stopped cleanly; checked before our start row. */
static void check_previous_run(struct store *s, bool fresh_active)
{
	char path[PATH_MAX + 32], state[64] = "";
	bool unclean;

	if (fresh_active) {
		/* No rows of the previous run here: its status file says whether it stopped. */
		path_in(s, path, sizeof(path), SEG_STATUS_NAME);
		read_small_file(path, state, sizeof(state));
		unclean = !strcmp(state, "state=running");
	} else {
		int64_t k = query_i64(s->w->db, "SELECT kind FROM run ORDER BY id DESC LIMIT 1", 0);

		unclean = k != 0 && k != RUN_STOP;
	}
	if (!unclean)
		return;
	int64_t from = last_write_ns(s), to = seg_now_ns();

	store_add_gap(s, STORE_GAP_DOWN, from ? from : to, to, 0,
		      "recorder not running (previous run did not stop cleanly)");
	cr_warn("store: previous recorder run ended without a clean stop; recorded a down gap");
}

/* One past the largest conn id in any segment not yet compressed, or the active's floor. */
static void init_next_conn_id(struct store *s, const struct seg_entry *v, size_t n)
{
	char name[SEG_NAME_MAX], path[PATH_MAX + SEG_NAME_MAX], val[64];
	uint64_t next = 1;
	int64_t x;

	if (s->w && seg_meta_get(s->w->db, "conn_id_floor", val, sizeof(val)) == 0)
		next = strtoull(val, NULL, 10);
	x = s->w ? query_i64(s->w->db, "SELECT max(id) FROM conn", 0) : 0;
	if ((uint64_t)x + 1 > next)
		next = (uint64_t)x + 1;
	for (size_t i = 0; i < n; i++) {
		sqlite3 *db = NULL;

		if (!v[i].has_raw || (s->w && v[i].seq == s->w->seq))
			continue;
		seg_format_name(name, sizeof(name), v[i].seq, SEG_RAW);
		path_in(s, path, sizeof(path), name);
		if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK) {
			x = query_i64(db, "SELECT max(id) FROM conn", 0);
			if ((uint64_t)x + 1 > next)
				next = (uint64_t)x + 1;
			if (seg_meta_get(db, "conn_id_floor", val, sizeof(val)) == 0 &&
			    strtoull(val, NULL, 10) > next)
				next = strtoull(val, NULL, 10);
		}
		sqlite3_close(db);
	}
	s->next_conn_id = next;
}

/* Picks the active segment and queues older unfinished ones for sealing. */
static int open_segments(struct store *s)
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
		char val[64] = "";

		err = writer_open_db(s, active, false, &s->w);
		if (err)
			goto cleanup;
		if (!writer_has_tables(s->w)) {
			/* A crash while it was being created: initialise it now. */
			s->w->created_ns = seg_now_ns();
			err = writer_init(s, s->w, false);
			fresh = true;
		} else if (seg_meta_get(s->w->db, "sealed", val, sizeof(val)) == 0 &&
			   !strcmp(val, "1")) {
			/* Sealing had started: it is not ours to write any more. */
			writer_free(s->w, false);
			s->w = NULL;
			active = 0;
		} else {
			err = writer_prepare(s->w);
			if (!err && seg_meta_get(s->w->db, "created_ns", val, sizeof(val)) == 0)
				s->w->created_ns = strtoll(val, NULL, 10);
			s->w->next_proc_id = s->w->committed_next_proc_id =
				query_i64(s->w->db, "SELECT max(id) FROM proc", 0) + 1;
		}
		if (err)
			goto cleanup;
	}
	init_next_conn_id(s, v, n);
	if (!active) {
		err = writer_create(s, max_seq + 1, false, &s->w);
		if (err)
			goto cleanup;
		fresh = true;
	}
	s->stats.active_seq = s->w->seq;
	check_previous_run(s, fresh);
	for (size_t i = 0; i < n; i++) {
		if (v[i].seq == s->w->seq)
			continue;
		if (v[i].has_raw) {
			sealer_enqueue(s, v[i].seq);
		} else if (v[i].has_tmp) {
			char name[SEG_NAME_MAX], path[PATH_MAX + SEG_NAME_MAX];

			seg_format_name(name, sizeof(name), v[i].seq, SEG_TMP);
			path_in(s, path, sizeof(path), name);
			unlink(path);
		}
	}
cleanup:
	free(v);
	return err;
}

static void store_free(struct store *s)
{
	if (!s)
		return;
	if (s->sealer_started) {
		pthread_mutex_lock(&s->mu);
		s->stopping = true;
		pthread_cond_broadcast(&s->cv);
		pthread_mutex_unlock(&s->mu);
		pthread_join(s->sealer, NULL);
	}
	writer_free(s->w, true);
	if (s->lock_fd >= 0)
		close(s->lock_fd);
	vec_free(&s->conns);
	vec_free(&s->ends);
	vec_free(&s->gaps);
	vec_free(&s->runs);
	vec_free(&s->metas);
	vec_free(&s->to_seal);
	vec_free(&s->sealed);
	free(s->open.v);
	free(s->open.b);
	pthread_mutex_destroy(&s->mu);
	pthread_cond_destroy(&s->cv);
	free(s);
}

int store_open(struct store **out, const struct store_opts *opts)
{
	const char *dir = opts && opts->dir ? opts->dir : STORE_DEFAULT_DIR;
	struct store *s;
	int err;

	*out = NULL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->lock_fd = -1;
	pthread_mutex_init(&s->mu, NULL);
	pthread_cond_init(&s->cv, NULL);
	s->conns.esz = sizeof(struct store_conn);
	s->ends.esz = sizeof(struct store_end);
	s->gaps.esz = sizeof(struct gap_row);
	s->runs.esz = sizeof(struct run_row);
	s->metas.esz = sizeof(struct meta_row);
	s->to_seal.esz = sizeof(uint32_t);
	s->sealed.esz = sizeof(struct seg_info);
	if (strlen(dir) >= sizeof(s->dir) - SEG_NAME_MAX - 16) {
		err = -ENAMETOOLONG;
		goto cleanup;
	}
	snprintf(s->dir, sizeof(s->dir), "%s", dir);
	snprintf(s->version, sizeof(s->version), "%s",
		 opts && opts->version ? opts->version : "unknown");
	s->rotate_size = opts && opts->rotate_size ? opts->rotate_size : STORE_DEFAULT_ROTATE_SIZE;
	s->rotate_age_ns = opts && opts->rotate_age_ns > 0 ? opts->rotate_age_ns
							   : STORE_DEFAULT_ROTATE_AGE_NS;
	s->retain_size = opts && opts->retain_size ? opts->retain_size : STORE_DEFAULT_RETAIN_SIZE;
	s->retain_age_ns = opts && opts->retain_age_ns ? opts->retain_age_ns
						       : STORE_DEFAULT_RETAIN_AGE_NS;
	s->max_queued = opts && opts->max_queued ? opts->max_queued : STORE_DEFAULT_MAX_QUEUED;
	s->reserve_bytes = s->rotate_size / 2 < RESERVE_MAX ? s->rotate_size / 2 : RESERVE_MAX;
	s->start_ns = seg_now_ns();

	err = mkdir_p(s->dir);
	if (err) {
		cr_err("store: cannot create %s: %s", s->dir, strerror(-err));
		goto cleanup;
	}
	err = take_lock(s);
	if (err) {
		if (err == -EBUSY)
			cr_err("store: %s is in use by another recorder", s->dir);
		else
			cr_err("store: cannot lock %s: %s", s->dir, strerror(-err));
		goto cleanup;
	}
	err = open_segments(s);
	if (err)
		goto cleanup;
	err = add_run(s, RUN_START);
	if (err)
		goto cleanup;
	err = store_flush(s);
	if (err) {
		cr_err("store: cannot write to %s: %s", s->dir, strerror(-err));
		goto cleanup;
	}
	err = -pthread_create(&s->sealer, NULL, sealer_main, s);
	if (err)
		goto cleanup;
	s->sealer_started = true;
	write_status(s, "running");
	*out = s;
	return 0;
cleanup:
	store_free(s);
	return err;
}

sqlite3 *store_test_active_db(struct store *s)
{
	return s->w->db;
}

uint64_t store_next_conn_id(const struct store *s)
{
	return s->next_conn_id ? s->next_conn_id : 1;
}

const struct store_stats *store_get_stats(const struct store *s)
{
	return &s->stats;
}

int store_close(struct store *s)
{
	int err;

	if (!s)
		return 0;
	err = store_flush(s);
	s->closing = true;
	/*
	 * The sealing thread finishes what is queued (a later store_open resumes anything it
	 * could not), so the hash of the last sealed segment can still go into the active one.
	 */
	if (s->sealer_started) {
		pthread_mutex_lock(&s->mu);
		s->stopping = true;
		pthread_cond_broadcast(&s->cv);
		pthread_mutex_unlock(&s->mu);
		pthread_join(s->sealer, NULL);
		s->sealer_started = false;
	}
	add_run(s, RUN_STOP);
	err = store_flush(s);
	if (err)
		cr_err("store: final flush failed (%s); %" PRIu64 " rows not stored", strerror(-err),
		       queued_rows(s));
	write_status(s, err ? "failed" : "stopped");
	store_free(s);
	return err;
}
