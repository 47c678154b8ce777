// SPDX-License-Identifier: MIT
/*
 * verify's checks of checkpoint and seal records (verify_seal.h).
 *
 * Records come from the segments' anchor tables and from a heads file; a line found in both
 * is one record. Every record of the store is checked against what it describes, whatever its
 * source: a checkpoint against the rows it covers (recomputed from the segment, ckpt.c), a
 * seal against the SHA-256 of the sealed file, and a record naming a segment that is gone and
 * not deleted by retention means the history was cut. An honest recorder never makes a record
 * that disagrees, so any disagreement is a FAIL.
 *
 * What a record proves depends on where its trust comes from: with the verification key, a
 * record whose MAC is right was made before its epoch's key was erased, so it stands against
 * whoever took the host later, and the epochs must follow each other without a hole (a hole
 * is a removed record); a line from the heads file was sent off the host when it was made;
 * a record that is only in the store shows consistency, nothing more.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "sealkey.h"
#include "sealrec.h"
#include "schema_values.h"
#include "segment.h"
#include "timespec.h"
#include "verify_seal.h"

/* A record of another store in the heads file is skipped; a damaged one counted. */
#define TAMPER_NOTES_MAX 20
/*
 * Rows hashed for "hash=" checkpoint records in one run, counted as records times the rows of
 * their segment: each such record hashes its segment's rows from the first, so records made up
 * by the hundred thousand (a heads file is untrusted) would multiply the work. A recorder
 * restarted on a segment makes one per cut until it rotates: a million-row segment with 100
 * cuts is 1e8 (seconds of hashing); a segment that would pass the bound is not checked, and
 * verify says why.
 */
#define CKPT_HASHED_MAX (1ull << 27)
/* What one record costs besides its rows: its own read of ckpt_late for each table, which has
 * no index (counted with ckpt_late's rows), and a few statements, counted as this many rows. */
#define CKPT_PASS_ROWS 4096

enum ck_state { CK_UNCHECKED, CK_MATCH, CK_DIFF, CK_ERROR };
enum auth { AUTH_NONE, AUTH_OK, AUTH_BAD, AUTH_OTHER_KEY };

struct rec {
	struct sealrec r;
	char *line;	  /* from "connrec-anchor" on, as made */
	char src[80];	  /* where it was found first */
	bool in_store, in_heads, in_key_file;
	enum ck_state state;
	uint64_t rows_now; /* what the checkpoint's rows count is in the file today */
	enum auth auth;
	bool ok; /* agrees with the store */
};

/*
 * A tamper line of this store from the heads file, and whether the store still holds its
 * gap: a gap of kind tamper with the same window, in any segment checked (it is committed to
 * whichever segment is active at the next flush, seg or a later one).
 */
struct tamper_line {
	char *line;
	uint32_t seg;
	int64_t start_ns, end_ns;
	bool parsed;	 /* seg, start and end read from the line */
	bool in_store;	 /* its gap was found */
	bool open;	 /* no start or stop line of this store after it yet */
	bool clean_stop; /* the next start or stop line after it is a stop: its recorder stopped
			    cleanly, so it flushed the gap before sending that line */
};

struct seg_rows {
	uint32_t num;
	uint64_t rows; /* rows of the covered tables */
};

struct vseal {
	struct vseal_opts o;
	bool have_vk;
	uint8_t k0[SEALKEY_LEN];
	char vk_id[SEALKEY_ID_LEN + 1];
	char store_id[ANCHOR_STORE_ID_LEN + 1];
	char other_store[ANCHOR_STORE_ID_LEN + 1]; /* a second id found in the segments */
	char other_store_in[80];
	struct rec *recs;
	size_t n, cap;
	size_t *index; /* open addressing over recs by line, cap 2 * recs cap */
	size_t icap;
	struct seg_rows *segrows;
	size_t nsegrows;
	uint64_t ckpt_hashed;	/* rows counted against CKPT_HASHED_MAX */
	size_t ckpt_skipped;	/* "hash=" records not checked: past that bound */
	uint64_t ckpt_skipped_cost;
	char ckpt_skipped_in[80];
	size_t malformed_store; /* lines in anchor tables that do not parse */
	char malformed_in[80];
	size_t heads_lines, heads_malformed, heads_start, heads_stop, heads_tamper;
	struct tamper_line tamper[TAMPER_NOTES_MAX];
	bool heads_pending; /* not read yet: its lines wait for the store id */
	bool kf_present;
	uint64_t kf_epoch;
	char kf_id[SEALKEY_ID_LEN + 1];
	char kf_pending[SEALKEY_LINE_MAX];
	verify_fn fn;
	void *ctx;
	int problems;
	const char *proof; /* of the history, for the summary */
	int64_t horizon;
};

/* ---- the report ---- */

static void emit(struct vseal *vs, enum verify_kind kind, const char *seg, const char *fmt,
		 va_list ap) __attribute__((format(printf, 4, 0)));

static void emit(struct vseal *vs, enum verify_kind kind, const char *seg, const char *fmt,
		 va_list ap)
{
	char what[1536];
	struct verify_item it = { .kind = kind, .segment = seg, .message = what };

	vsnprintf(what, sizeof(what), fmt, ap);
	vs->fn(vs->ctx, &it);
}

static void note(struct vseal *vs, const char *seg, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void note(struct vseal *vs, const char *seg, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	emit(vs, VERIFY_NOTE, seg, fmt, ap);
	va_end(ap);
}

static void problem(struct vseal *vs, const char *seg, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void problem(struct vseal *vs, const char *seg, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	emit(vs, VERIFY_PROBLEM, seg, fmt, ap);
	va_end(ap);
	vs->problems++;
}

static const char *when(int64_t ns, char *buf, size_t len)
{
	if (ts_format_time(ns, TS_FMT_UTC | TS_FMT_MILLI, buf, len))
		snprintf(buf, len, "%" PRId64, ns);
	return buf;
}

static void seg_name(uint32_t num, const struct vs_seg *segs, size_t n, char *buf, size_t len)
{
	for (size_t i = 0; i < n; i++) {
		if (segs[i].num == num) {
			snprintf(buf, len, "%s", segs[i].name);
			return;
		}
	}
	seg_format_name(buf, len, num, SEG_ZST);
}

/* ---- collecting records ---- */

/*
 * Lines come from the store and the heads file: with a known hash, lines made to agree in its
 * low bits all fall in one chain of the index (FNV's low bits depend on low bits only), and
 * adding 100,000 of them took a minute. A random start and a final mix keep that secret.
 */
static uint64_t line_seed;

static uint64_t line_hash(const char *s)
{
	uint64_t h = 1469598103934665603ULL ^ line_seed;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	return h;
}

static int reindex(struct vseal *vs, size_t cap)
{
	size_t *idx = malloc(cap * sizeof(*idx));

	if (!idx)
		return -ENOMEM;
	for (size_t i = 0; i < cap; i++)
		idx[i] = SIZE_MAX;
	for (size_t r = 0; r < vs->n; r++) {
		size_t i = line_hash(vs->recs[r].line) & (cap - 1);

		while (idx[i] != SIZE_MAX)
			i = (i + 1) & (cap - 1);
		idx[i] = r;
	}
	free(vs->index);
	vs->index = idx;
	vs->icap = cap;
	return 0;
}

/* Where a record was found. */
enum source { FROM_STORE, FROM_HEADS, FROM_KEY_FILE };

/* The record for LINE, found or added; NULL without memory. */
static struct rec *add_rec(struct vseal *vs, const struct sealrec *r, const char *line,
			   const char *src, enum source from)
{
	struct rec *x;
	size_t i;

	if (vs->icap && vs->n * 2 < vs->icap) {
		for (i = line_hash(line) & (vs->icap - 1); vs->index[i] != SIZE_MAX;
		     i = (i + 1) & (vs->icap - 1)) {
			x = &vs->recs[vs->index[i]];
			if (!strcmp(x->line, line))
				goto found;
		}
	} else {
		size_t ncap = vs->icap ? vs->icap * 2 : 1024;

		if (reindex(vs, ncap))
			return NULL;
		return add_rec(vs, r, line, src, from);
	}
	if (vs->n == vs->cap) {
		size_t ncap = vs->cap ? vs->cap * 2 : 256;
		struct rec *nr = realloc(vs->recs, ncap * sizeof(*nr));

		if (!nr)
			return NULL;
		vs->recs = nr;
		vs->cap = ncap;
	}
	x = &vs->recs[vs->n];
	memset(x, 0, sizeof(*x));
	x->line = strdup(line);
	if (!x->line)
		return NULL;
	x->r = *r;
	snprintf(x->src, sizeof(x->src), "%s", src);
	vs->index[i] = vs->n++;
found:
	x->in_heads |= from == FROM_HEADS;
	x->in_store |= from == FROM_STORE;
	x->in_key_file |= from == FROM_KEY_FILE;
	return x;
}

/* Where the body of an anchor line starts, or NULL. */
static const char *body_of(const char *line)
{
	return strstr(line, ANCHOR_MARK " v=");
}

/* The heads file's anchor lines of this store (read once its id is known). */
/* The integer after KEY (" start=") in a line's fields; false when absent or malformed. */
static bool field_i64(const char *b, const char *key, int64_t *v)
{
	const char *p = strstr(b, key);
	char *end;
	long long x;

	if (!p)
		return false;
	p += strlen(key);
	errno = 0;
	x = strtoll(p, &end, 10);
	if (end == p || errno || (*end && *end != ' '))
		return false;
	*v = x;
	return true;
}

static void add_tamper_line(struct tamper_line *t, const char *b)
{
	int64_t seg;

	t->line = strdup(b);
	t->open = true;
	t->parsed = field_i64(b, " seg=", &seg) && seg >= 0 && seg <= UINT32_MAX &&
		    field_i64(b, " start=", &t->start_ns) && field_i64(b, " end=", &t->end_ns);
	t->seg = t->parsed ? (uint32_t)seg : 0;
}

/* A start or stop line of this store: the tamper lines before it know how their run ended. */
static void close_tamper_lines(struct vseal *vs, bool stop)
{
	for (size_t i = 0; i < TAMPER_NOTES_MAX; i++) {
		if (vs->tamper[i].open)
			vs->tamper[i].clean_stop = stop;
		vs->tamper[i].open = false;
	}
}

/* While a segment of this store is open: which tamper lines' gaps it holds. */
static void find_tamper_gaps(struct vseal *vs, sqlite3 *db)
{
	sqlite3_stmt *st = NULL;

	for (size_t i = 0; i < TAMPER_NOTES_MAX; i++) {
		struct tamper_line *t = &vs->tamper[i];

		if (!t->line || !t->parsed || t->in_store)
			continue;
		if (!st && sqlite3_prepare_v2(db, "SELECT 1 FROM gap WHERE kind = ?1 AND "
						  "start_ns = ?2 AND end_ns = ?3 LIMIT 1",
					      -1, &st, NULL) != SQLITE_OK)
			break;
		sqlite3_reset(st);
		sqlite3_bind_int(st, 1, CR_GAP_TAMPER);
		sqlite3_bind_int64(st, 2, t->start_ns);
		sqlite3_bind_int64(st, 3, t->end_ns);
		t->in_store = sqlite3_step(st) == SQLITE_ROW;
	}
	sqlite3_finalize(st);
}

/*
 * Each tamper line: a note when the store holds its gap, or when it may honestly not (the
 * recorder died before its next flush, the segment is not among those checked); a problem
 * when its recorder stopped cleanly and its segment is here, yet the gap is not: removed.
 */
static void report_tamper_lines(struct vseal *vs, const struct vs_seg *segs, size_t n)
{
	for (size_t i = 0; i < TAMPER_NOTES_MAX && vs->tamper[i].line; i++) {
		const struct tamper_line *t = &vs->tamper[i];
		const char *seg_name = NULL;

		for (size_t j = 0; j < n && t->parsed; j++)
			if (segs[j].num == t->seg && segs[j].opened)
				seg_name = segs[j].name;
		if (t->in_store)
			note(vs, "off-host", "%s (its tamper gap is in the store)", t->line);
		else if (seg_name && t->clean_stop && vs->o.whole_dir)
			problem(vs, seg_name, "holds no tamper gap for the off-host line \"%s\", though "
					      "the recorder that sent it stopped cleanly: the gap row "
					      "was removed",
				t->line);
		else
			note(vs, "off-host", "%s (its tamper gap is not in the segments checked: "
					     "removed, not given, or the recorder died before "
					     "writing it)",
			     t->line);
	}
}

/*
 * The heads file, when it is a regular file (a symlink to one is fine: the user named it).
 * O_NONBLOCK: opening a FIFO without a writer would wait forever.
 */
static FILE *open_heads(const char *path)
{
	int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC), flags;
	struct stat st;
	FILE *f;

	if (fd < 0)
		return NULL;
	if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		close(fd);
		errno = EINVAL;
		return NULL;
	}
	flags = fcntl(fd, F_GETFL);
	if (flags >= 0)
		fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
	f = fdopen(fd, "r");
	if (!f)
		close(fd);
	return f;
}

static void read_heads(struct vseal *vs)
{
	FILE *f = open_heads(vs->o.heads_file);
	char *line = NULL;
	size_t cap = 0, lineno = 0;
	ssize_t len;

	vs->heads_pending = false;
	if (!f) {
		problem(vs, "records", "cannot read %s: %s", vs->o.heads_file, strerror(errno));
		return;
	}
	while ((len = getline(&line, &cap, f)) >= 0) {
		struct sealrec r;
		char *b;
		int err;

		lineno++;
		line[strcspn(line, "\r\n")] = '\0';
		b = (char *)body_of(line);
		if (!b)
			continue;
		vs->heads_lines++;
		err = sealrec_parse(b, &r);
		if (err == -ENOENT) {
			/* Another kind: start, stop, tamper. Only this store's are counted. */
			char want[ANCHOR_STORE_ID_LEN + 16];

			snprintf(want, sizeof(want), " store=%s ", vs->store_id);
			if (vs->store_id[0] && strstr(b, want)) {
				if (strstr(b, " kind=start "))
					vs->heads_start++;
				else if (strstr(b, " kind=stop "))
					vs->heads_stop++;
				else if (strstr(b, " kind=tamper ") &&
					 vs->heads_tamper++ < TAMPER_NOTES_MAX)
					add_tamper_line(&vs->tamper[vs->heads_tamper - 1], b);
				if (strstr(b, " kind=start ") || strstr(b, " kind=stop "))
					close_tamper_lines(vs, strstr(b, " kind=stop ") != NULL);
			}
		} else if (err) {
			vs->heads_malformed++;
		} else if (!strcmp(r.store_id, vs->store_id)) {
			char src[80];
			size_t blen = strlen(b);

			while (blen && b[blen - 1] == ' ')
				b[--blen] = '\0';
			snprintf(src, sizeof(src), "heads line %zu", lineno);
			add_rec(vs, &r, b, src, FROM_HEADS);
		} /* else another host's or store's line */
	}
	free(line);
	fclose(f);
}

int vseal_new(const struct vseal_opts *o, struct vseal **out, char *err, size_t errlen)
{
	struct vseal *vs = calloc(1, sizeof(*vs));
	struct stat st;
	int rc;

	if (!line_seed && getrandom(&line_seed, sizeof(line_seed), 0) != sizeof(line_seed))
		line_seed = (uint64_t)time(NULL) ^ (uint64_t)getpid() << 32;

	*out = NULL;
	if (!vs)
		return -ENOMEM;
	vs->o = *o;
	if (o->verify_key) {
		rc = sealkey_parse_verify(o->verify_key, vs->k0, vs->vk_id);
		if (rc) {
			snprintf(err, errlen, rc == -EBADMSG ? "the verification key is damaged "
							       "(its key id does not match)"
							     : "a verification key looks like "
							       "KEYID-KEY (16 and 64 hex digits)");
			goto fail;
		}
		vs->have_vk = true;
	}
	if (o->heads_file) {
		/* Read once the segments say which store this is; here only whether it can be. */
		FILE *f = open_heads(o->heads_file);

		if (!f) {
			snprintf(err, errlen, "cannot read %s: %s", o->heads_file,
				 errno == EINVAL ? "not a regular file" : strerror(errno));
			rc = -EINVAL;
			goto fail;
		}
		fclose(f);
		vs->heads_pending = true;
	}
	/* Only for a whole data dir: files given may not include the one holding its record. */
	if (o->key_file && o->whole_dir && !stat(o->key_file, &st) &&
	    !sealkey_peek(o->key_file, &vs->kf_epoch, vs->kf_id, vs->kf_pending,
			  sizeof(vs->kf_pending))) {
		vs->kf_present = true;
	}
	*out = vs;
	return 0;
fail:
	vseal_free(vs);
	return rc;
}

void vseal_free(struct vseal *vs)
{
	if (!vs)
		return;
	for (size_t i = 0; i < vs->n; i++)
		free(vs->recs[i].line);
	for (size_t i = 0; i < TAMPER_NOTES_MAX; i++)
		free(vs->tamper[i].line);
	free(vs->recs);
	free(vs->index);
	free(vs->segrows);
	OPENSSL_cleanse(vs->k0, sizeof(vs->k0));
	free(vs);
}

static bool table_exists(sqlite3 *db, const char *name)
{
	sqlite3_stmt *st = NULL;
	bool yes = false;

	if (sqlite3_prepare_v2(db, "SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = ?1",
			       -1, &st, NULL) == SQLITE_OK) {
		sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
		yes = sqlite3_step(st) == SQLITE_ROW;
	}
	sqlite3_finalize(st);
	return yes;
}

static uint64_t count_rows(sqlite3 *db)
{
	uint64_t total = 0;
	char sql[96];

	for (const char *const *t = ckpt_tables; *t; t++) {
		sqlite3_stmt *st = NULL;

		if (!table_exists(db, *t))
			continue;
		snprintf(sql, sizeof(sql), "SELECT count(*) FROM \"%s\"", *t);
		if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK &&
		    sqlite3_step(st) == SQLITE_ROW)
			total += (uint64_t)sqlite3_column_int64(st, 0);
		sqlite3_finalize(st);
	}
	return total;
}

/* The rows of ckpt_late, which every "hash=" record reads once per table it covers. */
static uint64_t count_late(sqlite3 *db)
{
	sqlite3_stmt *st = NULL;
	uint64_t n = 0, reads = 0;

	if (table_exists(db, "ckpt_late") &&
	    sqlite3_prepare_v2(db, "SELECT count(*) FROM ckpt_late", -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW)
		n = (uint64_t)sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	for (const char *const *t = ckpt_tables; *t; t++)
		reads++;
	return n * reads;
}

static void note_store_id(struct vseal *vs, const struct vs_seg *seg, sqlite3 *db)
{
	sqlite3_stmt *st = NULL;
	const unsigned char *v;

	if (sqlite3_prepare_v2(db, "SELECT value FROM meta WHERE key = 'store_id'", -1, &st,
			       NULL) != SQLITE_OK)
		return;
	if (sqlite3_step(st) == SQLITE_ROW && (v = sqlite3_column_text(st, 0)) &&
	    strlen((const char *)v) == ANCHOR_STORE_ID_LEN) {
		if (!vs->store_id[0])
			memcpy(vs->store_id, v, ANCHOR_STORE_ID_LEN + 1);
		else if (strcmp(vs->store_id, (const char *)v) && !vs->other_store[0]) {
			memcpy(vs->other_store, v, ANCHOR_STORE_ID_LEN + 1);
			snprintf(vs->other_store_in, sizeof(vs->other_store_in), "%s", seg->name);
		}
	}
	sqlite3_finalize(st);
}

static void read_anchor_table(struct vseal *vs, const struct vs_seg *seg, sqlite3 *db)
{
	sqlite3_stmt *st = NULL;

	if (!table_exists(db, "anchor") ||
	    sqlite3_prepare_v2(db, "SELECT line FROM anchor ORDER BY id", -1, &st, NULL) !=
		    SQLITE_OK)
		return;
	while (sqlite3_step(st) == SQLITE_ROW) {
		const unsigned char *line = sqlite3_column_text(st, 0);
		struct sealrec r;

		if (!line || !body_of((const char *)line) ||
		    sealrec_parse((const char *)line, &r)) {
			if (!vs->malformed_store++)
				snprintf(vs->malformed_in, sizeof(vs->malformed_in), "%s", seg->name);
			continue;
		}
		add_rec(vs, &r, body_of((const char *)line), seg->name, FROM_STORE);
	}
	sqlite3_finalize(st);
}

/* Whether X is a chained checkpoint record of SEG in this store, "chain2=" with NARROW. */
static bool chained_of(const struct vseal *vs, const struct rec *x, uint32_t seg, bool narrow)
{
	return x->r.kind == SEALREC_CHECKPOINT && x->r.chained && x->r.narrow == narrow &&
	       x->r.seg == seg &&
	       !strcmp(x->r.store_id, vs->store_id);
}

/*
 * The chained checkpoint records of SEG (ckpt.h), those of "chain2=" with NARROW, else those
 * of "chain=" (a recorder makes one kind): checkpoint k's hash depends on the
 * rows of intervals 1..k, so the marks of every checkpoint up to the last one recorded are
 * needed (from any record of each); a record after a missing one cannot be checked. Of two
 * records of one checkpoint that disagree, the first found gives the marks, and the other one
 * then differs.
 */
static void check_chained(struct vseal *vs, const struct vs_seg *seg, sqlite3 *db, bool narrow)
{
	struct ckpt_marks *marks = NULL;
	uint8_t(*hashes)[CKPT_HASH_LEN] = NULL;
	uint64_t *rows = NULL;
	int64_t top = 0, known = 0;
	bool *have = NULL;
	int err = 0;

	for (size_t i = 0; i < vs->n; i++)
		if (chained_of(vs, &vs->recs[i], seg->num, narrow) && vs->recs[i].state == CK_UNCHECKED &&
		    vs->recs[i].r.ck > top)
			top = vs->recs[i].r.ck;
	if (!top)
		return;
	if ((uint64_t)top > vs->n) {
		known = 0; /* more checkpoints than records: some are missing anyway */
		goto judge;
	}
	marks = calloc((size_t)top, sizeof(*marks));
	hashes = calloc((size_t)top, sizeof(*hashes));
	rows = calloc((size_t)top, sizeof(*rows));
	have = calloc((size_t)top, sizeof(*have));
	if (!marks || !hashes || !rows || !have)
		goto cleanup;
	for (size_t i = 0; i < vs->n; i++) {
		const struct rec *x = &vs->recs[i];

		if (chained_of(vs, x, seg->num, narrow) && x->r.ck <= top && !have[x->r.ck - 1]) {
			marks[x->r.ck - 1] = x->r.marks;
			have[x->r.ck - 1] = true;
		}
	}
	while (known < top && have[known])
		known++;
	if (known)
		err = ckpt_chain_many(db, (size_t)known, marks, narrow, hashes, rows);
judge:
	for (size_t i = 0; i < vs->n; i++) {
		struct rec *x = &vs->recs[i];

		if (!chained_of(vs, x, seg->num, narrow) || x->state != CK_UNCHECKED)
			continue;
		if (err || x->r.ck > known) {
			x->state = CK_ERROR;
			continue;
		}
		x->rows_now = rows[x->r.ck - 1];
		x->state = !memcmp(hashes[x->r.ck - 1], x->r.hash, CKPT_HASH_LEN) &&
					   rows[x->r.ck - 1] == x->r.rows
				   ? CK_MATCH
				   : CK_DIFF;
	}
cleanup:
	free(marks);
	free(hashes);
	free(rows);
	free(have);
}

/* Recomputes every unchecked checkpoint record of SEG (any source) from DB. */
static void check_checkpoints(struct vseal *vs, const struct vs_seg *seg, sqlite3 *db)
{
	size_t m = 0, *which = malloc((vs->n ? vs->n : 1) * sizeof(*which));
	int64_t *ks = NULL;
	struct ckpt_marks *marks = NULL;
	uint8_t(*hashes)[CKPT_HASH_LEN] = NULL;
	uint64_t *rows = NULL, segrows, cost;
	int err;

	if (!which)
		return;
	check_chained(vs, seg, db, false);
	check_chained(vs, seg, db, true);
	for (size_t i = 0; i < vs->n; i++) {
		struct rec *x = &vs->recs[i];

		if (x->r.kind == SEALREC_CHECKPOINT && x->r.seg == seg->num && !x->r.chained &&
		    x->state == CK_UNCHECKED && !strcmp(x->r.store_id, vs->store_id))
			which[m++] = i;
	}
	if (!m)
		goto cleanup;
	segrows = count_rows(db) + count_late(db) + CKPT_PASS_ROWS;
	cost = m > UINT64_MAX / segrows ? UINT64_MAX : m * segrows;
	if (cost > CKPT_HASHED_MAX - vs->ckpt_hashed) {
		for (size_t j = 0; j < m; j++)
			vs->recs[which[j]].state = CK_ERROR;
		if (!vs->ckpt_skipped++) {
			snprintf(vs->ckpt_skipped_in, sizeof(vs->ckpt_skipped_in), "%s", seg->name);
			vs->ckpt_skipped_cost = cost;
		}
		goto cleanup;
	}
	vs->ckpt_hashed += cost;
	ks = calloc(m, sizeof(*ks));
	marks = calloc(m, sizeof(*marks));
	hashes = calloc(m, sizeof(*hashes));
	rows = calloc(m, sizeof(*rows));
	if (!ks || !marks || !hashes || !rows)
		goto cleanup;
	for (size_t j = 0; j < m; j++) {
		ks[j] = vs->recs[which[j]].r.ck;
		marks[j] = vs->recs[which[j]].r.marks;
	}
	err = ckpt_hash_many(db, m, ks, marks, hashes, rows);
	for (size_t j = 0; j < m; j++) {
		struct rec *x = &vs->recs[which[j]];

		if (err) {
			x->state = CK_ERROR;
			continue;
		}
		x->rows_now = rows[j];
		x->state = !memcmp(hashes[j], x->r.hash, CKPT_HASH_LEN) && rows[j] == x->r.rows
				   ? CK_MATCH
				   : CK_DIFF;
	}
cleanup:
	free(which);
	free(ks);
	free(marks);
	free(hashes);
	free(rows);
}

void vseal_read_segment(struct vseal *vs, const struct vs_seg *seg, sqlite3 *db)
{
	struct seg_rows *nr;
	bool first_id = !vs->store_id[0];

	note_store_id(vs, seg, db);
	if (first_id && vs->store_id[0] && vs->heads_pending)
		read_heads(vs);
	if (vs->store_id[0])
		find_tamper_gaps(vs, db);
	read_anchor_table(vs, seg, db);
	nr = realloc(vs->segrows, (vs->nsegrows + 1) * sizeof(*nr));
	if (nr) {
		vs->segrows = nr;
		nr[vs->nsegrows++] = (struct seg_rows){ seg->num, count_rows(db) };
	}
	check_checkpoints(vs, seg, db);
}

/* ---- the checks ---- */

/* Checkpoints of segments named by records from elsewhere: open them once more. */
static void check_remaining(struct vseal *vs, const struct vs_seg *segs, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		struct sr_open_opts o = { .flags = segs[i].active ? SR_OPEN_LIVE : 0 };
		struct sr_segment *seg = NULL;
		char err[256];
		bool need = false;

		for (size_t r = 0; r < vs->n && !need; r++)
			need = vs->recs[r].r.kind == SEALREC_CHECKPOINT &&
			       vs->recs[r].r.seg == segs[i].num &&
			       vs->recs[r].state == CK_UNCHECKED;
		if (!need || !segs[i].opened)
			continue;
		if (sr_open(segs[i].path, &o, &seg, err, sizeof(err)) == 0)
			check_checkpoints(vs, &segs[i], sr_db(seg));
		sr_close(seg);
	}
}

/* MACs, with keys derived in epoch order (each one hash from the last). */
static int cmp_epoch(const void *a, const void *b, void *arg)
{
	const struct rec *recs = arg;
	uint64_t x = recs[*(const size_t *)a].r.epoch, y = recs[*(const size_t *)b].r.epoch;

	return x < y ? -1 : x > y;
}

static size_t *by_epoch(struct vseal *vs, size_t *m)
{
	size_t *ix = malloc((vs->n ? vs->n : 1) * sizeof(*ix));

	*m = 0;
	if (!ix)
		return NULL;
	for (size_t i = 0; i < vs->n; i++)
		if (vs->recs[i].r.keyed && !strcmp(vs->recs[i].r.key_id, vs->vk_id) &&
		    !strcmp(vs->recs[i].r.store_id, vs->store_id))
			ix[(*m)++] = i;
	qsort_r(ix, *m, sizeof(*ix), cmp_epoch, vs->recs);
	return ix;
}

static void check_macs(struct vseal *vs)
{
	uint8_t key[SEALKEY_LEN];
	uint64_t at = 0;
	size_t m, *ix;

	for (size_t i = 0; i < vs->n; i++) {
		struct rec *x = &vs->recs[i];

		if (!x->r.keyed)
			x->auth = AUTH_NONE;
		else if (strcmp(x->r.key_id, vs->vk_id))
			x->auth = AUTH_OTHER_KEY;
	}
	ix = by_epoch(vs, &m);
	if (!ix)
		return;
	memcpy(key, vs->k0, sizeof(key));
	for (size_t j = 0; j < m; j++) {
		struct rec *x = &vs->recs[ix[j]];

		/* Sorted by epoch: the hashing is bounded by the largest epoch taken. */
		if (x->r.epoch > SEALKEY_MAX_EPOCH) {
			x->auth = AUTH_BAD;
			continue;
		}
		sealkey_advance(key, at, x->r.epoch);
		at = x->r.epoch;
		x->auth = sealrec_mac_ok(&x->r, x->line, key) ? AUTH_OK : AUTH_BAD;
	}
	OPENSSL_cleanse(key, sizeof(key));
	free(ix);
}

static const struct vs_ret *retained(const struct vs_ret *rets, size_t nrets, uint32_t num)
{
	char name[SEG_NAME_MAX];

	seg_format_name(name, sizeof(name), num, SEG_ZST);
	for (size_t i = 0; i < nrets; i++)
		if (!strcmp(rets[i].name, name))
			return &rets[i];
	return NULL;
}

static const struct vs_seg *find_seg(const struct vs_seg *segs, size_t n, uint32_t num)
{
	for (size_t i = 0; i < n; i++)
		if (segs[i].num == num)
			return &segs[i];
	return NULL;
}

static const char *kind_name(const struct rec *x)
{
	return x->r.kind == SEALREC_SEAL ? "seal" : "checkpoint";
}

/* Whether a record agrees with the store; says why not (once per record). */
static bool check_rec(struct vseal *vs, struct rec *x, const struct vs_seg *segs, size_t n,
		      const struct vs_ret *rets, size_t nrets, bool whole_dir)
{
	const struct vs_seg *s = find_seg(segs, n, x->r.seg);
	const struct vs_ret *ret;
	char name[SEG_NAME_MAX + 16], t[64], hex[65], what[64];

	seg_name(x->r.seg, segs, n, name, sizeof(name));
	when(x->r.t_ns, t, sizeof(t));
	if (x->r.kind == SEALREC_CHECKPOINT)
		snprintf(what, sizeof(what), "checkpoint %" PRId64, x->r.ck);
	else
		snprintf(what, sizeof(what), "seal");
	if (!s || !s->opened) {
		if (s)
			return false; /* unreadable: already a FAIL of its own */
		ret = retained(rets, nrets, x->r.seg);
		seg_hex(x->r.sha256, 32, hex);
		if (ret && (x->r.kind != SEALREC_SEAL || !strcmp(ret->sha256, hex)))
			return true; /* deleted by retention, as recorded */
		if (!whole_dir)
			return true; /* not given */
		problem(vs, name, "missing, but its %s of %s exists (%s): the history was cut or "
				  "the segment deleted",
			what, t, x->src);
		return false;
	}
	if (x->r.kind == SEALREC_SEAL) {
		seg_hex(x->r.sha256, 32, hex);
		if (!s->zst) {
			problem(vs, name, "sealed (%s of %s, %s) but present as a plain .db: "
					  "decompressed, maybe edited",
				what, t, x->src);
			return false;
		}
		if (strcmp(s->sha256, hex)) {
			problem(vs, name, "SHA-256 differs from its %s of %s (%s): rewritten after "
					  "it was sealed",
				what, t, x->src);
			return false;
		}
		return true;
	}
	switch (x->state) {
	case CK_MATCH:
		return true;
	case CK_DIFF:
		problem(vs, name, "rows differ from its %s of %s (%s; %" PRIu64 " rows then, %" PRIu64
				  " now): edited, added or removed after that time",
			what, t, x->src, x->r.rows, x->rows_now);
		return false;
	default:
		problem(vs, name, "cannot check its %s of %s (%s)", what, t, x->src);
		return false;
	}
}

/* Trust a record has: what proves it besides the store itself. */
static int rank(const struct vseal *vs, const struct rec *x)
{
	if (vs->have_vk)
		return x->auth == AUTH_OK ? 2 : 0;
	return x->in_heads ? 2 : 1;
}

static int cmp_time(const void *a, const void *b, void *arg)
{
	const struct rec *recs = arg;
	const struct rec *x = &recs[*(const size_t *)a], *y = &recs[*(const size_t *)b];

	if (x->r.t_ns != y->r.t_ns)
		return x->r.t_ns < y->r.t_ns ? -1 : 1;
	return x->r.epoch < y->r.epoch ? -1 : x->r.epoch > y->r.epoch;
}

/*
 * The holes in the epochs of the authenticated records, and two records with one epoch;
 * *HOLE gets the first missing epoch (UINT64_MAX when none).
 */
static void check_epochs(struct vseal *vs, const struct vs_seg *segs, size_t n, size_t nrets,
			 uint64_t *hole)
{
	size_t m, *ix = by_epoch(vs, &m), k = 0;
	char a[64], b[64];
	bool nothing_deleted = n && segs[0].num == 1 && !nrets;

	*hole = UINT64_MAX;
	if (!ix)
		return;
	for (size_t j = 0; j < m; j++)
		if (vs->recs[ix[j]].auth == AUTH_OK)
			ix[k++] = ix[j];
	if (k && nothing_deleted && vs->recs[ix[0]].r.epoch > 0) {
		problem(vs, "records", "the first record sealed with key %s has epoch %" PRIu64
				       ", not 0, and no segment was deleted by retention: the "
				       "records before it were removed",
			vs->vk_id, vs->recs[ix[0]].r.epoch);
		*hole = 0;
	}
	for (size_t j = 1; j < k; j++) {
		const struct rec *p = &vs->recs[ix[j - 1]], *x = &vs->recs[ix[j]];

		if (x->r.epoch == p->r.epoch) {
			problem(vs, "records", "two different records sealed with epoch %" PRIu64
					       " (%s, %s)",
				x->r.epoch, p->src, x->src);
			continue;
		}
		if (x->r.epoch == p->r.epoch + 1)
			continue;
		when(p->r.t_ns, a, sizeof(a));
		when(x->r.t_ns, b, sizeof(b));
		problem(vs, "records", "the records sealed with epochs %" PRIu64 "..%" PRIu64
				       " are missing (made between %s and %s): removed, and the "
				       "history after %s rewritten or cut",
			p->r.epoch + 1, x->r.epoch - 1, a, b, a);
		if (*hole == UINT64_MAX)
			*hole = p->r.epoch + 1;
	}
	free(ix);
}

/*
 * The key file keeps the last record sealed until the store holds it: it is checked like any
 * other record (a cut tail shows as a record of a segment that is gone, rewritten rows as a
 * checkpoint that differs); missing from the store, it is only said, since a recorder that
 * stopped (or is writing) right after sealing it leaves it so.
 */
static void add_key_file_record(struct vseal *vs)
{
	struct sealrec r;

	if (!vs->kf_present || !vs->kf_pending[0] || sealrec_parse(vs->kf_pending, &r) ||
	    strcmp(r.store_id, vs->store_id))
		return;
	add_rec(vs, &r, body_of(vs->kf_pending), "key file", FROM_KEY_FILE);
}

static void check_key_file(struct vseal *vs)
{
	for (size_t i = 0; i < vs->n; i++) {
		const struct rec *x = &vs->recs[i];

		if (!x->in_key_file || x->in_store)
			continue;
		note(vs, "records", "the last record sealed (key file %s, epoch %" PRIu64 ") is not "
				    "in the store: the recorder stopped or is writing right after "
				    "making it, or it was removed; it is checked from the key file",
		     vs->o.key_file, vs->kf_epoch - 1);
	}
}

static void report_sources(struct vseal *vs)
{
	struct verify_item it = { .kind = VERIFY_RECORDS, .segment = "records",
				  .key_id = vs->have_vk ? vs->vk_id : NULL,
				  .heads = vs->o.heads_file, .heads_lines = vs->heads_lines,
				  .heads_start = vs->heads_start, .heads_stop = vs->heads_stop,
				  .heads_tamper = vs->heads_tamper,
				  .heads_malformed = vs->heads_malformed };

	for (size_t i = 0; i < vs->n; i++) {
		const struct rec *x = &vs->recs[i];

		if (strcmp(x->r.store_id, vs->store_id))
			continue;
		it.checkpoints += x->r.kind == SEALREC_CHECKPOINT;
		it.seals += x->r.kind == SEALREC_SEAL;
		it.only_heads += x->in_heads && !x->in_store;
		it.mac_ok += x->auth == AUTH_OK;
		it.other_key += x->auth == AUTH_OTHER_KEY;
		it.unsealed += !x->r.keyed;
	}
	vs->fn(vs->ctx, &it);
	for (size_t i = 0; i < vs->n; i++) {
		const struct rec *x = &vs->recs[i];

		if (x->auth == AUTH_BAD && !strcmp(x->r.store_id, vs->store_id))
			problem(vs, "records", "a %s record of segment %" PRIu32 " (%s) has a wrong "
					       "MAC for key %s: forged or altered",
				kind_name(x), x->r.seg, x->src, vs->vk_id);
	}
}

static const char *proof_word(const struct vseal *vs)
{
	return vs->have_vk ? "proven" : vs->o.heads_file ? "confirmed" : "consistent";
}

/* Per segment: the newest record that proves it, and what it leaves unproven. */
static void report_proof(struct vseal *vs, const struct vs_seg *segs, size_t n, int need)
{
	for (size_t i = 0; i < n; i++) {
		struct verify_item it = { .kind = VERIFY_PROOF, .segment = segs[i].name,
					  .proof = "none" };
		const struct rec *best = NULL, *seal = NULL;
		uint64_t total = 0;

		if (!segs[i].opened)
			continue;
		for (size_t r = 0; r < vs->nsegrows; r++)
			if (vs->segrows[r].num == segs[i].num)
				total = vs->segrows[r].rows;
		for (size_t r = 0; r < vs->n; r++) {
			const struct rec *x = &vs->recs[r];

			if (x->r.seg != segs[i].num || strcmp(x->r.store_id, vs->store_id) ||
			    rank(vs, x) < need)
				continue;
			if (x->r.kind == SEALREC_SEAL && segs[i].zst) {
				char hex[65];

				seg_hex(x->r.sha256, 32, hex);
				if (!strcmp(hex, segs[i].sha256))
					seal = x;
			}
			if (x->r.kind == SEALREC_CHECKPOINT && x->state == CK_MATCH &&
			    (!best || x->r.ck > best->r.ck))
				best = x;
		}
		if (seal) {
			it.proof = proof_word(vs);
			it.proof_ns = seal->r.t_ns;
		} else if (best) {
			it.proof = proof_word(vs);
			it.proof_ns = best->r.t_ns;
			it.proof_ck = best->r.ck;
			it.proof_rows = best->r.rows;
			it.rows_after = total > best->r.rows ? total - best->r.rows : 0;
		}
		vs->fn(vs->ctx, &it);
	}
}

void vseal_summary(const struct vseal *vs, struct verify_item *sum)
{
	sum->proof = vs->proof;
	sum->proof_ns = vs->horizon;
}

int vseal_finish(struct vseal *vs, const struct vs_seg *segs, size_t n,
		 const struct vs_ret *rets, size_t nrets, verify_fn fn, void *ctx)
{
	int need = vs->have_vk || vs->o.heads_file ? 2 : 1;
	uint64_t hole = UINT64_MAX;
	int64_t fail_t = INT64_MAX;
	size_t *order;

	vs->fn = fn;
	vs->ctx = ctx;
	vs->horizon = SR_NO_TIME;
	if (vs->heads_pending) /* no segment named its store */
		read_heads(vs);
	if (vs->other_store[0])
		problem(vs, vs->other_store_in, "belongs to store %s, the others to %s: segments of "
						"two stores mixed",
			vs->other_store, vs->store_id);
	if (!vs->n && !vs->o.heads_file && !vs->have_vk && !vs->kf_present)
		return vs->problems; /* a store without records (older connrec): nothing to add */
	if ((vs->o.heads_file || vs->have_vk) && !vs->store_id[0]) {
		problem(vs, "records", "no segment has a store id (made by an older connrec): no "
				       "anchor line or seal can be matched to it");
		return vs->problems;
	}
	add_key_file_record(vs);
	check_remaining(vs, segs, n);
	if (vs->have_vk)
		check_macs(vs);
	report_sources(vs);
	report_tamper_lines(vs, segs, n);
	if (vs->ckpt_skipped)
		problem(vs, vs->ckpt_skipped_in,
			"its checkpoint records (hash=) not checked: they would read %" PRIu64
			" rows, past verify's bound of %llu per run (records multiplied to slow it "
			"down?); segments so: %zu",
			vs->ckpt_skipped_cost, CKPT_HASHED_MAX, vs->ckpt_skipped);
	if (vs->malformed_store)
		problem(vs, vs->malformed_in, "%zu malformed records in anchor tables",
			vs->malformed_store);

	/* Every record of this store against the store, oldest first. */
	order = malloc((vs->n ? vs->n : 1) * sizeof(*order));
	if (!order)
		return vs->problems + 1;
	for (size_t i = 0; i < vs->n; i++)
		order[i] = i;
	qsort_r(order, vs->n, sizeof(*order), cmp_time, vs->recs);
	for (size_t j = 0; j < vs->n; j++) {
		struct rec *x = &vs->recs[order[j]];

		if (strcmp(x->r.store_id, vs->store_id) || x->auth == AUTH_BAD)
			continue;
		x->ok = check_rec(vs, x, segs, n, rets, nrets, vs->o.whole_dir);
		if (!x->ok && rank(vs, x) >= need && x->r.t_ns < fail_t)
			fail_t = x->r.t_ns;
	}
	if (vs->have_vk)
		check_epochs(vs, segs, n, nrets, &hole);
	check_key_file(vs);

	/* The proof reaches the newest trusted record before the first failure or hole. */
	for (size_t j = 0; j < vs->n; j++) {
		const struct rec *x = &vs->recs[order[j]];

		if (x->ok && rank(vs, x) >= need && x->r.t_ns < fail_t &&
		    (!vs->have_vk || x->r.epoch < hole) &&
		    (vs->horizon == SR_NO_TIME || x->r.t_ns > vs->horizon))
			vs->horizon = x->r.t_ns;
	}
	free(order);
	vs->proof = vs->horizon == SR_NO_TIME ? "none" : proof_word(vs);
	report_proof(vs, segs, n, need);
	return vs->problems;
}
