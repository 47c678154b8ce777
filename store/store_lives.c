// SPDX-License-Identifier: MIT
/*
 * Process lives and cgroup names (schema/002): what the store knows about the processes that
 * run now (and those that ended a moment ago), and which of it each segment already holds.
 *
 * A life is a list of images (the fork, then one per exec). Its rows go into the active
 * segment when it begins, execs or ends, and again into any later segment that refers to it,
 * so one segment copied alone still names the processes of its flows. A fork image nobody
 * has written yet is replaced by an exec that follows it (one row per fork+exec), and an
 * exit that arrives before the life's last image is written is folded into that row.
 *
 * The rows of the open transaction are computed from the state without changing it; the state
 * moves on only in lives_commit(), so a rolled-back flush simply writes them again next time.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "store_internal.h"

#define LIFE_KEEP_NS (10 * NS_PER_SEC) /* an ended life stays known this long */
#define LIFE_MAX_IMAGES 8	       /* beyond, the oldest image is forgotten */
#define CGROUPS_MAX 65536	       /* cgroup names remembered */

struct life_img {
	int64_t image_ns;
	uint64_t cgroup;
	uint32_t uid;
	uint32_t first_seq; /* segment it was first written in; 0: never written */
	uint16_t flags;
	char comm[16];
	char *exe, *args;
};

struct life_ent {
	uint64_t pstart_ns, ppstart_ns;
	int64_t start_ns, exit_ns;
	uint32_t pid, ppid, exit_code;
	uint32_t seq;	   /* the segment that nwritten and exit_written are about */
	uint16_t nwritten; /* images already in segment seq */
	uint16_t nimg, capimg;
	bool exited, exit_written, dirty;
	bool exit_unknown; /* gone, but its exit event was lost: no end to write */
	char pcomm[16];
	struct life_img *img;
	int32_t next;
};

struct cgroup_ent {
	uint64_t id;
	uint32_t seq; /* the last segment holding its row */
	bool in_tx;   /* written by the open transaction */
	struct store_cgroup name;
	int32_t next;
};

/* ---- the tables ---- */

static uint64_t hash_key(uint32_t pid, uint64_t pstart)
{
	uint64_t h = (pstart ^ ((uint64_t)pid << 32 | pid)) * 0x9e3779b97f4a7c15ULL;

	return h ^ (h >> 29);
}

static uint64_t hash_life(const void *ent)
{
	const struct life_ent *e = ent;

	return hash_key(e->pid, e->pstart_ns);
}

static uint64_t hash_cgroup(const void *ent)
{
	return hash_key(0, ((const struct cgroup_ent *)ent)->id);
}

/* The link that points at the life (pid, pstart), or the -1 that ends its chain. */
static int32_t *life_link(struct lives *L, uint32_t pid, uint64_t pstart)
{
	int32_t *pp = chains_head(&L->idx, hash_key(pid, pstart));

	while (*pp >= 0 && (L->v[*pp].pid != pid || L->v[*pp].pstart_ns != pstart))
		pp = &L->v[*pp].next;
	return pp;
}

static struct life_ent *life_find(struct lives *L, uint32_t pid, uint64_t pstart)
{
	int32_t i;

	if (!L->idx.nb)
		return NULL;
	i = *life_link(L, pid, pstart);
	return i >= 0 ? &L->v[i] : NULL;
}

static struct life_ent *life_add(struct lives *L, uint32_t pid, uint64_t pstart)
{
	struct life_ent *e;
	int32_t *pp;

	if (!L->idx.nb && chains_rebuild(&L->idx, 1024, L->v, 0, sizeof(*L->v),
					 offsetof(struct life_ent, next), hash_life))
		return NULL;
	if (L->n == L->cap) {
		size_t ncap = L->cap ? L->cap * 2 : 1024;
		struct life_ent *nv = realloc(L->v, ncap * sizeof(*nv));

		if (!nv)
			return NULL;
		L->v = nv;
		L->cap = ncap;
	}
	if (L->n >= INT32_MAX)
		return NULL;
	pp = life_link(L, pid, pstart);
	e = &L->v[L->n];
	memset(e, 0, sizeof(*e));
	e->pid = pid;
	e->pstart_ns = pstart;
	e->next = -1;
	*pp = (int32_t)L->n++;
	if (L->n > L->idx.nb && chains_rebuild(&L->idx, L->idx.nb * 2, L->v, L->n, sizeof(*L->v),
					       offsetof(struct life_ent, next), hash_life))
		cr_debug("store: lives index stays at %zu buckets", L->idx.nb);
	return e;
}

static void img_free(struct life_img *m)
{
	free(m->exe);
	free(m->args);
}

static void life_free(struct life_ent *e)
{
	for (uint16_t i = 0; i < e->nimg; i++)
		img_free(&e->img[i]);
	free(e->img);
}

/* Removes entry I (not dirty: the dirty list holds indexes), moving the last one into it. */
static void life_del(struct lives *L, int32_t i)
{
	int32_t last = (int32_t)L->n - 1;
	int32_t *pp = life_link(L, L->v[i].pid, L->v[i].pstart_ns);

	*pp = L->v[i].next;
	life_free(&L->v[i]);
	if (i != last) {
		int32_t *lp = life_link(L, L->v[last].pid, L->v[last].pstart_ns);

		*lp = i;
		L->v[i] = L->v[last];
	}
	L->n--;
}

static int mark_dirty(struct lives *L, struct life_ent *e)
{
	int32_t *slot;

	if (e->dirty)
		return 0;
	slot = vec_push(&L->dirty);
	if (!slot)
		return -ENOMEM;
	*slot = (int32_t)(e - L->v);
	e->dirty = true;
	return 0;
}

/* A new image at the end of E; the oldest is forgotten when there are too many. */
static struct life_img *img_push(struct life_ent *e)
{
	if (e->nimg == LIFE_MAX_IMAGES) {
		img_free(&e->img[0]);
		memmove(e->img, e->img + 1, (size_t)(e->nimg - 1) * sizeof(*e->img));
		e->nimg--;
		if (e->nwritten)
			e->nwritten--;
	}
	if (e->nimg == e->capimg) {
		uint16_t ncap = e->capimg ? (uint16_t)(e->capimg * 2) : 1;
		struct life_img *nv = realloc(e->img, ncap * sizeof(*nv));

		if (!nv)
			return NULL;
		e->img = nv;
		e->capimg = ncap;
	}
	memset(&e->img[e->nimg], 0, sizeof(*e->img));
	return &e->img[e->nimg++];
}

static void copy_name(char dst[16], const char *src)
{
	snprintf(dst, 16, "%s", src);
}

/* Fills image M from L; exe and args from L, or else from FROM (the parent's image), or "". */
static int img_fill(struct life_img *m, const struct store_life *l, const struct life_img *from)
{
	const char *exe = l->exe ? l->exe : from ? from->exe : "";
	const char *args = l->args ? l->args : from ? from->args : "";

	m->image_ns = l->image_ns;
	m->cgroup = l->cgroup;
	m->uid = l->uid;
	m->flags = l->flags & (uint16_t)~CR_LIFE_CARRIED;
	if (!l->exe && from)
		m->flags |= from->flags & (CR_LIFE_ARGS_CUT | CR_LIFE_EXE_CUT);
	copy_name(m->comm, l->comm);
	m->exe = strdup(exe);
	m->args = strdup(args);
	if (!m->exe || !m->args) {
		img_free(m);
		m->exe = m->args = NULL;
		return -ENOMEM;
	}
	return 0;
}

/* ---- what the recorder reports ---- */

int store_life_begin(struct store *s, const struct store_life *l)
{
	struct lives *L = &s->lives;
	struct life_ent *e = life_find(L, l->pid, l->pstart_ns), *parent;
	const struct life_img *from = NULL;
	struct life_img *m;
	int err;

	if (e)
		return 0; /* known already (a fork seen while the seed walk ran) */
	parent = life_find(L, l->ppid, l->ppstart_ns);
	if (parent && parent->nimg)
		from = &parent->img[parent->nimg - 1];
	e = life_add(L, l->pid, l->pstart_ns);
	if (!e)
		return -ENOMEM;
	e->start_ns = l->start_ns;
	e->ppid = l->ppid;
	e->ppstart_ns = l->ppstart_ns;
	copy_name(e->pcomm, l->pcomm);
	m = img_push(e);
	if (!m)
		return -ENOMEM;
	err = img_fill(m, l, from);
	if (err) {
		e->nimg--;
		return err;
	}
	return mark_dirty(L, e);
}

int store_life_exec(struct store *s, const struct store_life *l)
{
	struct lives *L = &s->lives;
	struct life_ent *e = life_find(L, l->pid, l->pstart_ns);
	struct life_img *m, old;
	int err;

	if (!e) {
		/* Its fork was lost or came before recording: the exec tells enough. */
		err = store_life_begin(s, l);
		if (err)
			return err;
		e = life_find(L, l->pid, l->pstart_ns);
		return e ? 0 : -ENOMEM;
	}
	m = e->nimg ? &e->img[e->nimg - 1] : NULL;
	if (m && !m->first_seq && !(m->flags & (CR_LIFE_EXEC | CR_LIFE_SEEDED))) {
		/* The fork image was never written: this exec replaces it, one row for both. */
		old = *m;
		err = img_fill(m, l, NULL);
		if (err) {
			*m = old;
			return err;
		}
		img_free(&old);
	} else {
		m = img_push(e);
		if (!m)
			return -ENOMEM;
		err = img_fill(m, l, NULL);
		if (err) {
			e->nimg--;
			return err;
		}
	}
	return mark_dirty(L, e);
}

int store_life_exit(struct store *s, uint32_t pid, uint64_t pstart_ns, int64_t exit_ns,
		    uint32_t exit_code)
{
	struct lives *L = &s->lives;
	struct life_ent *e = life_find(L, pid, pstart_ns);

	if (!e) {
		/* Began before recording and was not seeded (or its events were lost). */
		e = life_add(L, pid, pstart_ns);
		if (!e)
			return -ENOMEM;
	}
	if (e->exited)
		return 0;
	e->exited = true;
	e->exit_ns = exit_ns;
	e->exit_code = exit_code;
	L->nexited++;
	return mark_dirty(L, e);
}

size_t store_lives_sweep(struct store *s, store_alive_fn alive, void *ctx)
{
	struct lives *L = &s->lives;
	int64_t now = seg_now_ns();
	size_t n = 0;

	for (size_t i = 0; i < L->n; i++) {
		struct life_ent *e = &L->v[i];

		if (e->exited || !e->nimg || alive(ctx, e->pid, e->start_ns))
			continue;
		e->exited = e->exit_unknown = true;
		e->exit_ns = now; /* for forgetting it later, never stored */
		L->nexited++;
		n++;
	}
	return n;
}

/* ---- cgroup names ---- */

static struct cgroup_ent *cgroup_get(struct lives *L, uint64_t id)
{
	struct cgroup_ent *c;
	int32_t *pp;

	if (!L->cgidx.nb && chains_rebuild(&L->cgidx, 256, L->cg, 0, sizeof(*L->cg),
					   offsetof(struct cgroup_ent, next), hash_cgroup))
		return NULL;
	pp = chains_head(&L->cgidx, hash_key(0, id));
	while (*pp >= 0 && L->cg[*pp].id != id)
		pp = &L->cg[*pp].next;
	if (*pp >= 0)
		return &L->cg[*pp];
	if (L->ncg == L->capcg) {
		size_t ncap = L->capcg ? L->capcg * 2 : 256;
		struct cgroup_ent *nv = realloc(L->cg, ncap * sizeof(*nv));

		if (!nv)
			return NULL;
		L->cg = nv;
		L->capcg = ncap;
	}
	c = &L->cg[L->ncg];
	memset(c, 0, sizeof(*c));
	c->id = id;
	c->next = -1;
	/* Resolved once, here: the recorder looks the id up in the cgroup filesystem. */
	if (L->cgroup_name)
		L->cgroup_name(L->cgroup_ctx, id, &c->name);
	c->name.path[sizeof(c->name.path) - 1] = '\0';
	c->name.container[sizeof(c->name.container) - 1] = '\0';
	c->name.unit[sizeof(c->name.unit) - 1] = '\0';
	*pp = (int32_t)L->ncg++;
	if (L->ncg > L->cgidx.nb &&
	    chains_rebuild(&L->cgidx, L->cgidx.nb * 2, L->cg, L->ncg, sizeof(*L->cg),
			   offsetof(struct cgroup_ent, next), hash_cgroup))
		cr_debug("store: cgroup index stays at %zu buckets", L->cgidx.nb);
	return c;
}

/* The cgroup row for ID in W's segment, written now if it is not there yet. */
static int cgroup_ref(struct lives *L, struct writer *w, uint64_t id)
{
	struct cgroup_ent *c = cgroup_get(L, id);
	sqlite3_stmt *st = w->st[ST_CGROUP];
	struct ckpt_rows *r;
	int32_t *slot;
	int rc;

	if (!c)
		return SQLITE_NOMEM;
	if (c->seq == w->seq || c->in_tx)
		return SQLITE_OK;
	slot = vec_push(&L->cg_tx);
	if (!slot)
		return SQLITE_NOMEM;
	*slot = (int32_t)(c - L->cg);
	c->in_tx = true;
	sqlite3_bind_int64(st, 1, (int64_t)c->id);
	sqlite3_bind_text(st, 2, c->name.path, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, c->name.container, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, c->name.unit, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc != SQLITE_DONE)
		return rc;
	/*
	 * Its rowid is the cgroup id: a new row below the last checkpoint's mark is listed. One
	 * the segment had already (a restarted recorder) was not inserted and is not late.
	 */
	if (!sqlite3_changes(w->db))
		return SQLITE_OK;
	r = writer_ck_rows(w);
	if (r) {
		ckpt_row_begin(r, CKPT_T_CGROUP, (int64_t)c->id);
		ckpt_row_int(r, (int64_t)c->id);
		ckpt_row_text(r, c->name.path);
		ckpt_row_text(r, c->name.container);
		ckpt_row_text(r, c->name.unit);
		ckpt_row_end(r);
	}
	return ckpt_note_row(w, CKPT_LATE_CGROUP, (int64_t)c->id);
}

uint64_t lives_pstart_of(const struct lives *L, uint32_t pid)
{
	const struct life_ent *best = NULL;

	for (size_t i = 0; i < L->n; i++) {
		const struct life_ent *e = &L->v[i];

		if (e->pid == pid && !e->exited && (!best || e->pstart_ns > best->pstart_ns))
			best = e;
	}
	return best ? best->pstart_ns : 0;
}

bool lives_has(struct lives *L, uint32_t pid, uint64_t pstart_ns)
{
	return life_find(L, pid, pstart_ns) != NULL;
}

int lives_ref_cgroup(struct lives *L, struct writer *w, uint64_t id)
{
	return cgroup_ref(L, w, id);
}

/* ---- rows ---- */

static int put_image(struct lives *L, struct writer *w, const struct life_ent *e,
		     const struct life_img *m, bool with_exit)
{
	sqlite3_stmt *st = w->st[ST_LIFE];
	uint16_t flags = m->flags;
	struct ckpt_rows *r;
	int rc;

	rc = cgroup_ref(L, w, m->cgroup);
	if (rc != SQLITE_OK)
		return rc;
	if (m->first_seq && m->first_seq != w->seq)
		flags |= CR_LIFE_CARRIED;
	sqlite3_bind_int64(st, 1, e->pid);
	sqlite3_bind_int64(st, 2, (int64_t)e->pstart_ns);
	sqlite3_bind_int64(st, 3, e->start_ns);
	sqlite3_bind_int64(st, 4, m->image_ns);
	sqlite3_bind_int64(st, 5, e->ppid);
	sqlite3_bind_int64(st, 6, (int64_t)e->ppstart_ns);
	sqlite3_bind_text(st, 7, e->pcomm, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 8, m->uid);
	sqlite3_bind_int64(st, 9, (int64_t)m->cgroup);
	sqlite3_bind_text(st, 10, m->comm, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 11, m->exe, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 12, m->args, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 13, flags);
	if (with_exit) {
		sqlite3_bind_int64(st, 14, e->exit_ns);
		sqlite3_bind_int64(st, 15, e->exit_code);
	} else {
		sqlite3_bind_null(st, 14);
		sqlite3_bind_null(st, 15);
	}
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc != SQLITE_DONE)
		return rc;
	r = writer_ck_rows(w);
	if (r) {
		int64_t id = sqlite3_last_insert_rowid(w->db);

		ckpt_row_begin(r, CKPT_T_LIFE, id);
		ckpt_row_int(r, id);
		ckpt_row_int(r, e->pid);
		ckpt_row_int(r, (int64_t)e->pstart_ns);
		ckpt_row_int(r, e->start_ns);
		ckpt_row_int(r, m->image_ns);
		ckpt_row_int(r, e->ppid);
		ckpt_row_int(r, (int64_t)e->ppstart_ns);
		ckpt_row_text(r, e->pcomm);
		ckpt_row_int(r, m->uid);
		ckpt_row_int(r, (int64_t)m->cgroup);
		ckpt_row_text(r, m->comm);
		ckpt_row_text(r, m->exe);
		ckpt_row_text(r, m->args);
		ckpt_row_int(r, flags);
		if (with_exit) {
			ckpt_row_int(r, e->exit_ns);
			ckpt_row_int(r, e->exit_code);
		} else {
			ckpt_row_null(r);
			ckpt_row_null(r);
		}
		ckpt_row_end(r);
	}
	return SQLITE_OK;
}

static int put_exit(struct writer *w, const struct life_ent *e)
{
	sqlite3_stmt *st = w->st[ST_LIFE_EXIT];
	struct ckpt_rows *r;
	int rc;

	sqlite3_bind_int64(st, 1, e->pid);
	sqlite3_bind_int64(st, 2, (int64_t)e->pstart_ns);
	sqlite3_bind_int64(st, 3, e->exit_ns);
	sqlite3_bind_int64(st, 4, e->exit_code);
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc != SQLITE_DONE)
		return rc;
	r = writer_ck_rows(w);
	if (r) {
		int64_t id = sqlite3_last_insert_rowid(w->db);

		ckpt_row_begin(r, CKPT_T_LIFE_EXIT, id);
		ckpt_row_int(r, id);
		ckpt_row_int(r, e->pid);
		ckpt_row_int(r, (int64_t)e->pstart_ns);
		ckpt_row_int(r, e->exit_ns);
		ckpt_row_int(r, e->exit_code);
		ckpt_row_end(r);
	}
	return SQLITE_OK;
}

/* What segment W does not hold yet of life E: its missing images, then its exit. */
static int put_life(struct lives *L, struct writer *w, const struct life_ent *e)
{
	uint16_t from = e->seq == w->seq ? e->nwritten : 0;
	bool exit_due = e->exited && !e->exit_unknown && !(e->seq == w->seq && e->exit_written);
	int rc = SQLITE_OK;

	for (uint16_t i = from; rc == SQLITE_OK && i < e->nimg; i++)
		rc = put_image(L, w, e, &e->img[i], exit_due && i == e->nimg - 1);
	if (rc == SQLITE_OK && exit_due && from == e->nimg)
		rc = put_exit(w, e);
	return rc;
}

int lives_ref(struct lives *L, uint32_t pid, uint64_t pstart_ns, uint32_t seq)
{
	struct life_ent *e = life_find(L, pid, pstart_ns);

	if (!e || (e->seq == seq && e->nwritten == e->nimg && e->exit_written == e->exited))
		return 0;
	return mark_dirty(L, e);
}

int lives_write(struct lives *L, struct writer *w)
{
	int rc = SQLITE_OK;

	for (size_t i = 0; rc == SQLITE_OK && i < L->dirty.n; i++)
		rc = put_life(L, w, &L->v[*(int32_t *)vec_at(&L->dirty, i)]);
	return rc;
}

void lives_rollback(struct lives *L)
{
	for (size_t i = 0; i < L->cg_tx.n; i++)
		L->cg[*(int32_t *)vec_at(&L->cg_tx, i)].in_tx = false;
	L->cg_tx.n = 0;
}

/* Forgets lives that ended a while ago, and cgroups no recent segment used. */
static void lives_forget(struct lives *L, uint32_t seq)
{
	int64_t cutoff = seg_now_ns() - LIFE_KEEP_NS;

	for (size_t i = L->n; i-- > 0;) {
		if (L->v[i].exited && L->v[i].exit_ns < cutoff) {
			life_del(L, (int32_t)i);
			L->nexited--;
		}
	}
	if (L->ncg < CGROUPS_MAX)
		return;
	/* Keep only what the active segment holds; the rest is looked up again if needed. */
	size_t k = 0;

	for (size_t i = 0; i < L->ncg; i++)
		if (L->cg[i].seq == seq)
			L->cg[k++] = L->cg[i];
	L->ncg = k;
	chains_rebuild(&L->cgidx, L->cgidx.nb, L->cg, L->ncg, sizeof(*L->cg),
		       offsetof(struct cgroup_ent, next), hash_cgroup);
}

uint64_t lives_commit(struct lives *L, uint32_t seq, struct store_stats *stats)
{
	uint64_t rows = L->cg_tx.n;

	for (size_t i = 0; i < L->dirty.n; i++) {
		struct life_ent *e = &L->v[*(int32_t *)vec_at(&L->dirty, i)];
		uint16_t from = e->seq == seq ? e->nwritten : 0;

		stats->lives_written += (uint64_t)(e->nimg - from);
		rows += (uint64_t)(e->nimg - from);
		rows += e->exited && !e->exit_unknown && from == e->nimg &&
			!(e->seq == seq && e->exit_written);
		for (uint16_t k = 0; k < e->nimg; k++)
			if (!e->img[k].first_seq)
				e->img[k].first_seq = seq;
		e->seq = seq;
		e->nwritten = e->nimg;
		e->exit_written = e->exited;
		e->dirty = false;
	}
	L->dirty.n = 0;
	for (size_t i = 0; i < L->cg_tx.n; i++) {
		struct cgroup_ent *c = &L->cg[*(int32_t *)vec_at(&L->cg_tx, i)];

		c->seq = seq;
		c->in_tx = false;
	}
	L->cg_tx.n = 0;
	/* Cheap unless many lives ended: the walk is paid for by the exits it removes. */
	if (L->nexited > 1024 && L->nexited * 4 > L->n)
		lives_forget(L, seq);
	stats->lives_known = L->n;
	return rows;
}

void lives_init(struct lives *L, store_cgroup_fn name, void *ctx)
{
	L->dirty.esz = sizeof(int32_t);
	L->cg_tx.esz = sizeof(int32_t);
	L->cgroup_name = name;
	L->cgroup_ctx = ctx;
}

void lives_free(struct lives *L)
{
	for (size_t i = 0; i < L->n; i++)
		life_free(&L->v[i]);
	free(L->v);
	free(L->idx.head);
	free(L->cg);
	free(L->cgidx.head);
	vec_free(&L->dirty);
	vec_free(&L->cg_tx);
}
