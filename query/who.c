// SPDX-License-Identifier: MIT
#include "who.h"

#include <errno.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "schema_values.h"

/* ---- interned strings ---- */

struct who_strings {
	char **v; /* open addressing, NULL = empty */
	size_t nb, n;
};

static uint64_t hash_str(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 0x100000001b3ULL;
	return h;
}

static int strings_grow(struct who_strings *t)
{
	size_t nb = t->nb ? t->nb * 2 : 1024;
	char **v = calloc(nb, sizeof(*v));

	if (!v)
		return -ENOMEM;
	for (size_t i = 0; i < t->nb; i++) {
		size_t j;

		if (!t->v[i])
			continue;
		for (j = hash_str(t->v[i]) & (nb - 1); v[j]; j = (j + 1) & (nb - 1))
			;
		v[j] = t->v[i];
	}
	free(t->v);
	t->v = v;
	t->nb = nb;
	return 0;
}

/* The one copy of s; NULL when out of memory. */
static const char *intern(struct who *w, const char *s)
{
	struct who_strings *t = w->strings;
	size_t j;

	if (2 * (t->n + 1) > t->nb && strings_grow(t))
		return NULL;
	for (j = hash_str(s) & (t->nb - 1); t->v[j]; j = (j + 1) & (t->nb - 1))
		if (!strcmp(t->v[j], s))
			return t->v[j];
	t->v[j] = strdup(s);
	if (!t->v[j])
		return NULL;
	t->n++;
	return t->v[j];
}

/* ---- the table ---- */

void who_init(struct who *w)
{
	memset(w, 0, sizeof(*w));
	w->strings = calloc(1, sizeof(*w->strings));
}

void who_free(struct who *w)
{
	if (w->strings) {
		for (size_t i = 0; i < w->strings->nb; i++)
			free(w->strings->v[i]);
		free(w->strings->v);
		free(w->strings);
	}
	for (size_t i = 0; i < w->n_boots; i++)
		free(w->boots[i]);
	free(w->boots);
	free(w->boot_host);
	free(w->lives);
	free(w->images);
	free(w->cgroups);
	free(w->life_idx);
	free(w->cg_idx);
	memset(w, 0, sizeof(*w));
}

uint32_t who_boot(struct who *w, uint32_t host, const char *boot_id)
{
	char key[128];
	uint32_t *h;
	char **v;

	snprintf(key, sizeof(key), "%u\n%.100s", host, boot_id);
	for (size_t i = 0; i < w->n_boots; i++)
		if (!strcmp(w->boots[i], key))
			return (uint32_t)i;
	h = realloc(w->boot_host, (w->n_boots + 1) * sizeof(*h));
	if (!h)
		return UINT32_MAX;
	w->boot_host = h;
	h[w->n_boots] = host;
	v = realloc(w->boots, (w->n_boots + 1) * sizeof(*v));
	if (!v)
		return UINT32_MAX;
	w->boots = v;
	v[w->n_boots] = strdup(key);
	if (!v[w->n_boots])
		return UINT32_MAX;
	return (uint32_t)w->n_boots++;
}

uint32_t who_boot_host(const struct who *w, uint32_t boot)
{
	return boot < w->n_boots ? w->boot_host[boot] : UINT32_MAX;
}

static uint64_t life_hash(uint32_t boot, uint32_t pid, uint64_t pstart)
{
	uint64_t h = (pstart ^ ((uint64_t)boot << 40) ^ pid) * 0x9e3779b97f4a7c15ULL;

	return h ^ (h >> 31);
}

/* Rebuilds hash heads *idx (nb of them) over n entries whose chain link is at next_off. */
static int rehash(int32_t **idx, size_t *nb, size_t want, void *ents, size_t n, size_t esz,
		  size_t next_off, uint64_t (*hash)(const void *))
{
	int32_t *h = malloc(want * sizeof(*h));

	if (!h)
		return -ENOMEM;
	for (size_t i = 0; i < want; i++)
		h[i] = -1;
	for (size_t i = 0; i < n; i++) {
		char *e = (char *)ents + i * esz;
		int32_t *link = (int32_t *)(e + next_off);
		size_t b = hash(e) & (want - 1);

		*link = h[b];
		h[b] = (int32_t)i;
	}
	free(*idx);
	*idx = h;
	*nb = want;
	return 0;
}

static uint64_t hash_life_ent(const void *e)
{
	const struct who_life *l = e;

	return life_hash(l->boot, l->pid, l->pstart_ns);
}

static uint64_t hash_cg_ent(const void *e)
{
	const struct who_cgroup *c = e;

	return life_hash(c->boot, 0, c->id);
}

static struct who_life *life_find(const struct who *w, uint32_t boot, uint32_t pid, uint64_t pstart)
{
	if (!w->life_nb)
		return NULL;
	for (int32_t i = w->life_idx[life_hash(boot, pid, pstart) & (w->life_nb - 1)]; i >= 0;
	     i = w->lives[i].next) {
		struct who_life *l = &w->lives[i];

		if (l->boot == boot && l->pid == pid && l->pstart_ns == pstart)
			return l;
	}
	return NULL;
}

static struct who_life *life_get(struct who *w, uint32_t boot, uint32_t pid, uint64_t pstart)
{
	struct who_life *l = life_find(w, boot, pid, pstart);
	size_t b;

	if (l)
		return l;
	if (w->n_lives >= INT32_MAX)
		return NULL;
	if (w->n_lives == w->cap_lives) {
		size_t cap = w->cap_lives ? 2 * w->cap_lives : 256;
		struct who_life *v = realloc(w->lives, cap * sizeof(*v));

		if (!v)
			return NULL;
		w->lives = v;
		w->cap_lives = cap;
	}
	if (w->n_lives + 1 > w->life_nb &&
	    rehash(&w->life_idx, &w->life_nb, w->life_nb ? 2 * w->life_nb : 256, w->lives,
		   w->n_lives, sizeof(*w->lives), offsetof(struct who_life, next), hash_life_ent))
		return NULL;
	l = &w->lives[w->n_lives];
	memset(l, 0, sizeof(*l));
	l->boot = boot;
	l->pid = pid;
	l->pstart_ns = pstart;
	l->first = -1;
	l->pcomm = "";
	b = life_hash(boot, pid, pstart) & (w->life_nb - 1);
	l->next = w->life_idx[b];
	w->life_idx[b] = (int32_t)w->n_lives++;
	return l;
}

/* Adds image r to life l in image_ns order; one image per start time. */
static int add_image(struct who *w, struct who_life *l, const struct sr_life *r)
{
	/* Indexes, not pointers into w->images: the realloc below may move it. */
	int32_t prev = -1, cur = l->first;
	struct who_image *m;

	while (cur >= 0 && w->images[cur].image_ns < r->image_ns) {
		prev = cur;
		cur = w->images[cur].next;
	}
	if (cur >= 0 && w->images[cur].image_ns == r->image_ns)
		return 0; /* the same image, carried into another segment */
	if (w->n_images >= INT32_MAX)
		return -ENOMEM;
	if (w->n_images == w->cap_images) {
		size_t cap = w->cap_images ? 2 * w->cap_images : 256;
		struct who_image *v = realloc(w->images, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		w->images = v;
		w->cap_images = cap;
	}
	m = &w->images[w->n_images];
	m->image_ns = r->image_ns;
	m->cgroup = r->cgroup;
	m->uid = r->uid;
	m->flags = r->flags & (uint32_t)~CR_LIFE_CARRIED;
	m->comm = intern(w, r->comm);
	m->exe = intern(w, r->exe);
	m->args = intern(w, r->args);
	if (!m->comm || !m->exe || !m->args)
		return -ENOMEM;
	m->next = cur;
	if (prev >= 0)
		w->images[prev].next = (int32_t)w->n_images;
	else
		l->first = (int32_t)w->n_images;
	w->n_images++;
	return 0;
}

struct seg_ctx {
	struct who *w;
	uint32_t boot;
};

static int on_life(const struct sr_life *r, void *ctx)
{
	struct seg_ctx *c = ctx;
	struct who_life *l = life_get(c->w, c->boot, r->pid, r->pstart_ns);

	if (!l)
		return -ENOMEM;
	if (l->first < 0) {
		l->start_ns = r->start_ns;
		l->ppid = r->ppid;
		l->ppstart_ns = r->ppstart_ns;
		l->pcomm = intern(c->w, r->pcomm);
		if (!l->pcomm)
			return -ENOMEM;
	}
	if (r->has_exit && !l->has_exit) {
		l->has_exit = true;
		l->exit_ns = r->exit_ns;
		l->exit_code = r->exit_code;
	}
	return add_image(c->w, l, r);
}

static int on_exit_row(const struct sr_life_exit *r, void *ctx)
{
	struct seg_ctx *c = ctx;
	struct who_life *l = life_get(c->w, c->boot, r->pid, r->pstart_ns);

	if (!l)
		return -ENOMEM;
	if (!l->has_exit) {
		l->has_exit = true;
		l->exit_ns = r->exit_ns;
		l->exit_code = r->exit_code;
	}
	return 0;
}

const struct who_cgroup *who_cgroup_of(const struct who *w, uint32_t boot, uint64_t id)
{
	if (!w->cg_nb)
		return NULL;
	for (int32_t i = w->cg_idx[life_hash(boot, 0, id) & (w->cg_nb - 1)]; i >= 0;
	     i = w->cgroups[i].next)
		if (w->cgroups[i].boot == boot && w->cgroups[i].id == id)
			return &w->cgroups[i];
	return NULL;
}

static int on_cgroup(const struct sr_cgroup *r, void *ctx)
{
	struct seg_ctx *c = ctx;
	struct who *w = c->w;
	struct who_cgroup *g;
	size_t b;

	if (who_cgroup_of(w, c->boot, r->id))
		return 0;
	if (w->n_cgroups >= INT32_MAX)
		return -ENOMEM;
	if (w->n_cgroups == w->cap_cgroups) {
		size_t cap = w->cap_cgroups ? 2 * w->cap_cgroups : 64;
		struct who_cgroup *v = realloc(w->cgroups, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		w->cgroups = v;
		w->cap_cgroups = cap;
	}
	if (w->n_cgroups + 1 > w->cg_nb &&
	    rehash(&w->cg_idx, &w->cg_nb, w->cg_nb ? 2 * w->cg_nb : 64, w->cgroups, w->n_cgroups,
		   sizeof(*w->cgroups), offsetof(struct who_cgroup, next), hash_cg_ent))
		return -ENOMEM;
	g = &w->cgroups[w->n_cgroups];
	g->boot = c->boot;
	g->id = r->id;
	g->path = intern(w, r->path);
	g->container = intern(w, r->container);
	g->unit = intern(w, r->unit);
	if (!g->path || !g->container || !g->unit)
		return -ENOMEM;
	b = life_hash(c->boot, 0, r->id) & (w->cg_nb - 1);
	g->next = w->cg_idx[b];
	w->cg_idx[b] = (int32_t)w->n_cgroups++;
	return 0;
}

int who_read_rows(struct who *w, const struct who_rows *rows, uint32_t boot)
{
	struct seg_ctx c = { w, boot };
	int err = 0;

	if (!w->strings || boot == UINT32_MAX)
		return -ENOMEM;
	/* In the order who_read_segment() reads a file's: lives, their ends, cgroup names. */
	for (size_t i = 0; !err && i < rows->n_lives; i++)
		err = on_life(&rows->lives[i], &c);
	for (size_t i = 0; !err && i < rows->n_exits; i++)
		err = on_exit_row(&rows->exits[i], &c);
	for (size_t i = 0; !err && i < rows->n_cgroups; i++)
		err = on_cgroup(&rows->cgroups[i], &c);
	return err;
}

int who_read_segment(struct who *w, struct sr_segment *seg, uint32_t boot)
{
	struct seg_ctx c = { w, boot };
	int err;

	if (!w->strings || boot == UINT32_MAX)
		return -ENOMEM;
	err = sr_lives(seg, on_life, &c);
	if (!err)
		err = sr_life_exits(seg, on_exit_row, &c);
	if (!err)
		err = sr_cgroups(seg, on_cgroup, &c);
	return err;
}

/* ---- lookups ---- */

const struct who_image *who_last_image(const struct who *w, const struct who_life *l)
{
	int32_t i = l->first;

	if (i < 0)
		return NULL;
	while (w->images[i].next >= 0)
		i = w->images[i].next;
	return &w->images[i];
}

void who_of_flow(const struct who *w, const struct flow *f, struct who_info *out)
{
	const struct who_life *l;
	int32_t best;

	memset(out, 0, sizeof(*out));
	out->cgroup = who_cgroup_of(w, f->boot, f->cgroup);
	if (!f->pid)
		return;
	l = life_find(w, f->boot, f->pid, f->pstart_ns);
	if (!l)
		return;
	out->life = l;
	/* The image that had begun when the flow did; before the first, the first. */
	best = l->first;
	for (int32_t i = l->first; i >= 0 && w->images[i].image_ns <= f->start_ns;
	     i = w->images[i].next)
		best = i;
	out->image = best >= 0 ? &w->images[best] : NULL;
}

/* ---- filters ---- */

void who_filter_init(struct who_filter *f)
{
	memset(f, 0, sizeof(*f));
	f->ppid = -1;
}

bool who_filter_set(const struct who_filter *f)
{
	return f->exe || f->args || f->ppid >= 0 || f->container || f->unit;
}

static bool match_parts(const struct who_filter *f, const struct who_life *l,
			const struct who_image *m, const struct who_cgroup *g)
{
	if ((f->exe || f->args) && !m)
		return false;
	if (f->exe && fnmatch(f->exe, m->exe, 0))
		return false;
	if (f->args) {
		char pat[512];

		/* Anywhere in the line: the glob wrapped in stars. */
		snprintf(pat, sizeof(pat), "*%s*", f->args);
		if (fnmatch(pat, m->args, 0))
			return false;
	}
	if (f->ppid >= 0 && (!l || (int64_t)l->ppid != f->ppid))
		return false;
	if (f->container &&
	    (!g || !*g->container || strncmp(g->container, f->container, strlen(f->container))))
		return false;
	if (f->unit && (!g || !*g->unit || fnmatch(f->unit, g->unit, 0)))
		return false;
	return true;
}

bool who_filter_match(const struct who_filter *f, const struct who_info *i)
{
	return match_parts(f, i->life, i->image, i->cgroup);
}

bool who_filter_match_image(const struct who_filter *f, const struct who *w,
			    const struct who_life *l, const struct who_image *m)
{
	return match_parts(f, l, m, m ? who_cgroup_of(w, l->boot, m->cgroup) : NULL);
}
