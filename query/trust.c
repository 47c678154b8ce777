// SPDX-License-Identifier: MIT
/*
 * Check once (docs/query.md, "Check once"): which sealed segments are opened without PRAGMA
 * quick_check because the store's own records vouch for their bytes, as strictly as
 * `connrec verify` reads those records. A file the records cannot vouch for is checked:
 * trusting is only ever a saving, never needed for an answer.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/crypto.h>

#include "log.h"
#include "query.h"
#include "sealkey.h"
#include "sealrec.h"
#include "segment.h"

/*
 * Epoch keys are derived by hashing forward from k0, one SHA-256 per epoch. A record claiming
 * an epoch further ahead than this is not worth the work (about a second): its file is
 * checked instead. A store sealing a few records an hour stays far below it for decades.
 */
#define TRUST_MAX_ADVANCE (1ull << 22)

/*
 * Records come in file order, so a hostile store can make the walk start again from k0 for
 * each one: the epochs hashed in one query are capped too. Past it a file is checked
 * instead of trusted, which is always safe.
 */
#define TRUST_MAX_HASHED (4 * TRUST_MAX_ADVANCE)

/* The verification key given with --verify-key, and the last epoch key derived from it. */
struct trust_key {
	uint8_t k0[SEALKEY_LEN], key[SEALKEY_LEN];
	uint64_t at;	 /* key is epoch at's */
	uint64_t hashed; /* epochs hashed so far in this query */
	char id[SEALKEY_ID_LEN + 1];
};

/*
 * The SHA-256 of the files the query will read and may trust, computed by a second thread in
 * slot order while the first thread reads segments: hashing a file is as long as reading it,
 * and the two overlap. A slot's hash is taken from here when the thread got to it; the
 * reader waits for it otherwise. Nothing is shared but these arrays, under the mutex.
 */
struct trust_hasher {
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	const char **paths; /* NULL: not hashed ahead */
	char (*hex)[65];
	uint64_t *size;
	int *state; /* 0 to do, 1 done, -1 failed */
	size_t n;
	bool stop;
};

static void *hash_ahead(void *arg)
{
	struct trust_hasher *h = arg;

	for (size_t i = 0; i < h->n; i++) {
		struct stat st;
		char hex[65];
		int ok;

		pthread_mutex_lock(&h->mu);
		ok = !h->stop;
		pthread_mutex_unlock(&h->mu);
		if (!ok)
			break;
		if (!h->paths[i])
			continue;
		ok = !stat(h->paths[i], &st) && !seg_hash_file(h->paths[i], hex);
		pthread_mutex_lock(&h->mu);
		if (ok) {
			memcpy(h->hex[i], hex, sizeof(hex));
			h->size[i] = (uint64_t)st.st_size;
		}
		h->state[i] = ok ? 1 : -1;
		pthread_cond_broadcast(&h->cv);
		pthread_mutex_unlock(&h->mu);
	}
	pthread_mutex_lock(&h->mu);
	for (size_t i = 0; i < h->n; i++)
		if (!h->state[i])
			h->state[i] = -1; /* stopped: the reader hashes it itself */
	pthread_cond_broadcast(&h->cv);
	pthread_mutex_unlock(&h->mu);
	return NULL;
}

/* Whether s is a sealed .zst that the next slot, of its host, may vouch for. */
static bool candidate(const struct query *q, const struct slot *s)
{
	size_t i = (size_t)(s - q->slots), plen = strlen(s->path);
	const struct slot *t = i + 1 < q->n_slots ? &q->slots[i + 1] : NULL;

	if (!s->meta.sealed || plen < 4 || strcmp(s->path + plen - 4, ".zst"))
		return false;
	return t && !strcmp(t->meta.host, s->meta.host) &&
	       t->meta.segment_id == s->meta.segment_id + 1;
}

static void hasher_free(struct trust_hasher *h)
{
	free(h->paths);
	free(h->hex);
	free(h->size);
	free(h->state);
	free(h);
}

void query_trust_prefetch(struct query *q)
{
	struct trust_hasher *h = calloc(1, sizeof(*h));
	size_t n = q->n_slots, todo = 0;

	if (!h)
		return;
	h->n = n;
	h->paths = calloc(n ? n : 1, sizeof(*h->paths));
	h->hex = calloc(n ? n : 1, sizeof(*h->hex));
	h->size = calloc(n ? n : 1, sizeof(*h->size));
	h->state = calloc(n ? n : 1, sizeof(*h->state));
	if (!h->paths || !h->hex || !h->size || !h->state) {
		hasher_free(h);
		return;
	}
	/* Only the slots sure to be read: a late one is read only for ends still awaited. */
	for (size_t i = 0; i < n; i++) {
		const struct slot *s = &q->slots[i];

		if (!s->skip && !s->late && candidate(q, s)) {
			h->paths[i] = s->path;
			todo++;
		}
	}
	/* One file is hashed as soon by the reader itself; a thread only pays with several. */
	if (todo < 2 || pthread_mutex_init(&h->mu, NULL)) {
		hasher_free(h);
		return;
	}
	if (pthread_cond_init(&h->cv, NULL)) {
		pthread_mutex_destroy(&h->mu);
		hasher_free(h);
		return;
	}
	if (pthread_create(&h->thread, NULL, hash_ahead, h)) {
		pthread_cond_destroy(&h->cv);
		pthread_mutex_destroy(&h->mu);
		hasher_free(h);
		return;
	}
	q->hasher = h;
}

/* s's SHA-256 and size: from the thread when it hashes s, otherwise here. 0 or -1. */
static int file_hash(struct query *q, const struct slot *s, char hex[65], uint64_t *size)
{
	struct trust_hasher *h = q->hasher;
	size_t i = (size_t)(s - q->slots);
	struct stat st;
	int state = -1;

	if (h && h->paths[i]) {
		pthread_mutex_lock(&h->mu);
		while (!h->state[i])
			pthread_cond_wait(&h->cv, &h->mu);
		state = h->state[i];
		if (state == 1) {
			memcpy(hex, h->hex[i], 65);
			*size = h->size[i];
		}
		pthread_mutex_unlock(&h->mu);
	}
	if (state == 1)
		return 0;
	if (stat(s->path, &st) || seg_hash_file(s->path, hex))
		return -1;
	*size = (uint64_t)st.st_size;
	return 0;
}

/* What the seal records held by the successor say about one sealed file. */
struct seal_verdict {
	unsigned match;	 /* records of this segment with the file's size and SHA-256 */
	unsigned differ; /* records of this segment with another size or SHA-256 */
	unsigned authed; /* matching ones whose MAC is right for the key given */
};

static struct trust_key *key_of(struct query *q)
{
	struct trust_key *k;

	if (q->trust_key || !q->verify_key)
		return q->trust_key;
	k = calloc(1, sizeof(*k));
	if (!k)
		return NULL;
	/* options.c parsed it already; a failure here only means nothing is trusted. */
	if (sealkey_parse_verify(q->verify_key, k->k0, k->id)) {
		free(k);
		return NULL;
	}
	memcpy(k->key, k->k0, sizeof(k->key));
	q->trust_key = k;
	return k;
}

void query_trust_free(struct query *q)
{
	struct trust_hasher *h = q->hasher;

	if (h) {
		pthread_mutex_lock(&h->mu);
		h->stop = true;
		pthread_mutex_unlock(&h->mu);
		pthread_join(h->thread, NULL);
		pthread_cond_destroy(&h->cv);
		pthread_mutex_destroy(&h->mu);
		hasher_free(h);
		q->hasher = NULL;
	}
	if (q->trust_key)
		OPENSSL_cleanse(q->trust_key, sizeof(*q->trust_key));
	free(q->trust_key);
	q->trust_key = NULL;
}

/* Whether r's MAC is right for the key given; epochs are walked forward, restarted if need be. */
static bool mac_ok(struct trust_key *k, const struct sealrec *r, const char *line)
{
	if (!r->keyed || strcmp(r->key_id, k->id))
		return false;
	if (r->epoch > SEALKEY_MAX_EPOCH)
		return false;
	if (r->epoch < k->at) {
		memcpy(k->key, k->k0, sizeof(k->key));
		k->at = 0;
	}
	if (r->epoch - k->at > TRUST_MAX_ADVANCE ||
	    k->hashed + (r->epoch - k->at) > TRUST_MAX_HASHED)
		return false;
	k->hashed += r->epoch - k->at;
	sealkey_advance(k->key, k->at, r->epoch);
	k->at = r->epoch;
	return sealrec_mac_ok(r, line, k->key);
}

/* The seal records of segment num in db's anchor table, against the file's hash and size. */
static int read_seals(struct query *q, sqlite3 *db, int64_t num, const char *hex, uint64_t size,
		      struct seal_verdict *v)
{
	struct trust_key *k = key_of(q);
	sqlite3_stmt *st = NULL;
	int rc;

	if (sqlite3_prepare_v2(db, "SELECT line FROM anchor WHERE kind = 'seal'", -1, &st, NULL) !=
	    SQLITE_OK)
		return -EIO;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *line = (const char *)sqlite3_column_text(st, 0);
		struct sealrec r;
		char rhex[65];

		if (!line || sealrec_parse(line, &r) || r.kind != SEALREC_SEAL || r.seg != num)
			continue;
		seg_hex(r.sha256, sizeof(r.sha256), rhex);
		if (strcmp(rhex, hex) || r.bytes != size) {
			v->differ++;
			continue;
		}
		v->match++;
		if (k && mac_ok(k, &r, line))
			v->authed++;
	}
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : -EIO;
}

/*
 * The successor's seal records about s: from its connection when planning kept it open,
 * otherwise by opening it where it lies (a seekable .zst, a .db without -wal). -EXDEV when
 * that would take a private copy: the look would cost more than the check it saves.
 */
static int successor_seals(struct query *q, struct slot *t, int64_t num, const char *hex,
			   uint64_t size, struct seal_verdict *v)
{
	struct sr_open_opts o = { .flags = t->open_flags | SR_OPEN_NO_CHECK | SR_OPEN_NO_COPY };
	struct sr_segment *seg = t->seg;
	char msg[512];
	int err;

	/* Schema 3 added the anchor table; an older successor holds no records. */
	if (t->meta.schema_version < 3)
		return 0;
	if (!seg) {
		err = sr_open(t->path, &o, &seg, msg, sizeof(msg));
		if (err) {
			cr_debug("%s: its seal records not read (%s)", t->path, msg);
			return err;
		}
	}
	err = read_seals(q, sr_db(seg), num, hex, size, v);
	if (seg != t->seg)
		sr_close(seg);
	return err;
}

bool query_trust(struct query *q, struct slot *s)
{
	size_t i = (size_t)(s - q->slots);
	struct slot *t = i + 1 < q->n_slots ? &q->slots[i + 1] : NULL;
	struct seal_verdict v = { 0 };
	uint64_t size;
	char hex[65];

	if (!candidate(q, s) || file_hash(q, s, hex, &size))
		return false;
	/* A successor that names another predecessor breaks the chain: verify fails on it. */
	if (t->meta.prev_sha256[0] && strcmp(t->meta.prev_sha256, hex))
		return false;
	if (successor_seals(q, t, s->meta.segment_id, hex, size, &v))
		return false;
	if (v.differ) {
		cr_warn("%s: its size or SHA-256 differs from the seal record in %s; checked "
			"(connrec verify says more)",
			s->path, t->path);
		return false;
	}
	if (q->verify_key)
		return v.authed > 0;
	return v.match > 0 || t->meta.prev_sha256[0];
}
