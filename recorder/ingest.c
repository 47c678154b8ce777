// SPDX-License-Identifier: MIT
#include "ingest.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"

/* Pre-existing TCP connections, found by socket cookie when the kernel reports their close. */
struct cookie_id {
	uint64_t cookie;
	uint64_t id;
	uint8_t dir;
};

struct listener {
	uint32_t netns;
	uint16_t port;
	uint32_t count; /* sockets listening on it (SO_REUSEPORT allows several) */
};

/*
 * The rows waiting for the next commit, in arrival order, and an index from flow id to row.
 * Only rows that a later event may still look up are indexed (an OPEN, a pre-existing
 * connection); a CLOSE that carries a whole flow is final. The index is open addressing
 * whose slots carry the commit generation they were filled in: a commit empties it by
 * starting a new generation, without touching it.
 */
struct pending {
	struct store_conn *rows;
	size_t n, cap;
	struct pending_slot *slots;
	size_t nslots;	 /* power of two, at least twice the rows indexed */
	size_t nindexed;
	uint32_t gen;	 /* slots of another generation are empty */
};

struct pending_slot {
	uint32_t gen;
	uint32_t row;
};

struct ingest {
	struct store *store;
	ingest_id_fn new_id;
	void *id_ctx;
	int64_t offset_ns; /* wall = boot + offset */

	struct pending pending;

	struct cookie_id *pre; /* sorted by cookie once the start-up dump is done */
	size_t npre, cap_pre;
	int pre_sorted;

	/* Listening (netns, port) pairs, to tell an untracked close of an accepted socket. */
	struct listener *listeners;
	size_t nlisteners, cap_listeners;

	uint64_t last_drops[CR_DROP_MAX];
	int64_t last_loss_check_ns;

	struct ingest_stats stats;
};

static int64_t clock_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

void ingest_sync_clock(struct ingest *g)
{
	/* Bracket the boot-time read so scheduling between the two reads cancels out. */
	int64_t b1 = clock_ns(CLOCK_BOOTTIME);
	int64_t w = clock_ns(CLOCK_REALTIME);
	int64_t b2 = clock_ns(CLOCK_BOOTTIME);

	g->offset_ns = w - (b1 + (b2 - b1) / 2);
}

int64_t ingest_wall_ns(const struct ingest *g, uint64_t boot_ns)
{
	return (int64_t)boot_ns + g->offset_ns;
}

int ingest_new(struct ingest **out, struct store *store, ingest_id_fn new_id, void *id_ctx)
{
	struct ingest *g = calloc(1, sizeof(*g));

	if (!g)
		return -ENOMEM;
	g->store = store;
	g->new_id = new_id;
	g->id_ctx = id_ctx;
	g->pending.gen = 1;
	ingest_sync_clock(g);
	g->last_loss_check_ns = clock_ns(CLOCK_REALTIME);
	*out = g;
	return 0;
}

void ingest_free(struct ingest *g)
{
	if (!g)
		return;
	free(g->pending.rows);
	free(g->pending.slots);
	free(g->pre);
	free(g->listeners);
	free(g);
}

/* ---- the pending table ---- */

/* The slot that holds ID, or the empty one where it would go. */
static struct pending_slot *slot_of(const struct pending *p, uint64_t id)
{
	/* Fibonacci hashing spreads sequential ids over the table. */
	size_t i = (size_t)((id * 0x9E3779B97F4A7C15ull) >> 20) & (p->nslots - 1);

	while (p->slots[i].gen == p->gen && p->rows[p->slots[i].row].id != id)
		i = (i + 1) & (p->nslots - 1);
	return &p->slots[i];
}

/* Doubles the index and puts this generation's entries back in. */
static int grow_index(struct pending *p)
{
	size_t n = p->nslots ? 2 * p->nslots : 1024;
	struct pending_slot *old = p->slots, *ns = calloc(n, sizeof(*ns));
	size_t old_n = p->nslots;

	if (!ns)
		return -ENOMEM;
	p->slots = ns;
	p->nslots = n;
	for (size_t i = 0; i < old_n; i++)
		if (old[i].gen == p->gen)
			*slot_of(p, p->rows[old[i].row].id) = old[i];
	free(old);
	return 0;
}

static struct store_conn *pending_find(const struct pending *p, uint64_t id)
{
	struct pending_slot *s;

	if (!p->nindexed)
		return NULL;
	s = slot_of(p, id);
	return s->gen == p->gen ? &p->rows[s->row] : NULL;
}

/*
 * A new zeroed row for flow ID; INDEXED when a later event may look it up. NULL when out of
 * memory. The row is good until the next pending_add.
 */
static struct store_conn *pending_add(struct pending *p, uint64_t id, bool indexed)
{
	struct store_conn *c;

	if (p->n == p->cap) {
		size_t cap = p->cap ? 2 * p->cap : 1024;
		struct store_conn *nr = realloc(p->rows, cap * sizeof(*nr));

		if (!nr)
			return NULL;
		p->rows = nr;
		p->cap = cap;
	}
	if (indexed && 2 * (p->nindexed + 1) > p->nslots && grow_index(p))
		return NULL;
	c = &p->rows[p->n];
	memset(c, 0, sizeof(*c));
	c->id = id;
	if (indexed) {
		*slot_of(p, id) = (struct pending_slot){ .gen = p->gen, .row = (uint32_t)p->n };
		p->nindexed++;
	}
	p->n++;
	return c;
}

/* Forgets rows [0, done): the rest move to the front and are indexed again. */
static void pending_drop(struct pending *p, size_t done)
{
	size_t keep = p->n - done;

	if (++p->gen == 0) { /* wrapped: old slots could look current */
		if (p->slots)
			memset(p->slots, 0, p->nslots * sizeof(*p->slots));
		p->gen = 1;
	}
	if (keep)
		memmove(p->rows, p->rows + done, keep * sizeof(*p->rows));
	p->n = keep;
	p->nindexed = 0;
	for (size_t i = 0; i < keep; i++) {
		if (2 * (p->nindexed + 1) > p->nslots && grow_index(p))
			return; /* out of memory: the rest are written, but no longer found */
		*slot_of(p, p->rows[i].id) = (struct pending_slot){ .gen = p->gen, .row = (uint32_t)i };
		p->nindexed++;
	}
}

/* ---- rows ---- */

/* The identity columns of a conn row (everything but the end), from an event. */
static void conn_fill(struct ingest *g, struct store_conn *c, const struct cr_event *e)
{
	c->start_ns = ingest_wall_ns(g, e->start_boot_ns ? e->start_boot_ns : e->ts_boot_ns);
	c->proto = e->proto;
	c->family = e->family;
	c->dir = e->direction;
	c->flags = e->flags & (CR_FLAG_PREEXISTING | CR_FLAG_NO_PID);
	memcpy(c->laddr, e->laddr, 16);
	memcpy(c->raddr, e->raddr, 16);
	c->lport = e->lport;
	c->rport = e->rport;
	c->pid = e->pid;
	c->uid = e->uid;
	c->netns = e->netns;
	c->cgroup = e->cgroup_id;
	c->pstart_ns = e->pstart_ns;
	memcpy(c->comm, e->comm, sizeof(c->comm));
	c->comm[sizeof(c->comm) - 1] = '\0';
}

/* The same, from the start-up dump (a connection older than the recorder). */
static void conn_fill_dump(struct store_conn *c, const struct sockdump_entry *d, int64_t seen_ns)
{
	c->start_ns = seen_ns;
	c->proto = d->proto;
	c->family = d->family;
	c->dir = d->direction;
	c->flags = CR_FLAG_PREEXISTING | (d->pid ? 0 : CR_FLAG_NO_PID);
	memcpy(c->laddr, d->laddr, 16);
	memcpy(c->raddr, d->raddr, 16);
	c->lport = d->lport;
	c->rport = d->rport;
	c->pid = d->pid;
	c->uid = d->uid;
	c->netns = d->netns;
	c->cgroup = d->cgroup;
	c->pstart_ns = d->pstart_ns;
	memcpy(c->comm, d->comm, sizeof(c->comm));
	c->comm[sizeof(c->comm) - 1] = '\0';
}

/* How a flow ended: the conn_end columns. */
static struct store_end end_of(struct ingest *g, uint64_t id, const struct cr_event *e)
{
	return (struct store_end){
		.id = id,
		.end_ns = ingest_wall_ns(g, e->ts_boot_ns),
		.bytes_out = e->bytes_out,
		.bytes_in = e->bytes_in,
		.has_bytes = true, /* TCP from the kernel's counters, UDP from the cgroup_skb ones */
		.reason = e->end_reason,
	};
}

/* Folds an end into a row that has not been written yet. */
static void conn_end(struct store_conn *c, const struct store_end *end)
{
	c->has_end = true;
	c->end_ns = end->end_ns < c->start_ns ? c->start_ns : end->end_ns;
	c->reason = end->reason;
	c->has_bytes = end->has_bytes;
	c->bytes_out = end->bytes_out;
	c->bytes_in = end->bytes_in;
}

/* The end of a flow whose start went to the store already, or waits in the pending table. */
static void flow_end(struct ingest *g, const struct store_end *end)
{
	struct store_conn *c = pending_find(&g->pending, end->id);

	if (c)
		conn_end(c, end);
	else if (store_add_end(g->store, end))
		cr_warn("out of memory queueing the end of flow %llu", (unsigned long long)end->id);
}

/* A row that a CLOSE carries whole (no OPEN was, or will be, sent for it). */
static void whole_flow(struct ingest *g, uint64_t id, const struct cr_event *e, uint8_t flags)
{
	struct store_conn *c = pending_add(&g->pending, id, false);
	struct store_end end = end_of(g, id, e);

	if (!c) {
		cr_warn("out of memory queueing flow %llu", (unsigned long long)id);
		return;
	}
	conn_fill(g, c, e);
	c->flags |= flags;
	conn_end(c, &end);
}

static struct listener *listener_find(struct ingest *g, uint32_t netns, uint16_t port)
{
	for (size_t i = 0; i < g->nlisteners; i++)
		if (g->listeners[i].netns == netns && g->listeners[i].port == port)
			return &g->listeners[i];
	return NULL;
}

/* Listeners are few (tens, not thousands), so a plain array serves. */
static void listener_track(struct ingest *g, uint32_t netns, uint16_t port, int delta)
{
	struct listener *l = listener_find(g, netns, port);

	if (l) {
		if (delta < 0 && l->count <= 1)
			*l = g->listeners[--g->nlisteners];
		else
			l->count += (uint32_t)delta;
		return;
	}
	if (delta < 0)
		return;
	if (g->nlisteners == g->cap_listeners) {
		size_t cap = g->cap_listeners ? 2 * g->cap_listeners : 16;
		struct listener *n = realloc(g->listeners, cap * sizeof(*n));

		if (!n)
			return; /* only a direction guess is lost */
		g->listeners = n;
		g->cap_listeners = cap;
	}
	g->listeners[g->nlisteners++] = (struct listener){ netns, port, 1 };
}

static int cmp_cookie(const void *a, const void *b)
{
	const struct cookie_id *x = a, *y = b;

	return x->cookie < y->cookie ? -1 : x->cookie > y->cookie;
}

/* The id of a pre-existing connection with this cookie, removing it; 0 if none. */
static uint64_t take_preexisting(struct ingest *g, uint64_t cookie, uint8_t *dir)
{
	struct cookie_id key = { .cookie = cookie }, *hit;
	uint64_t id;

	if (!cookie || !g->npre)
		return 0;
	if (!g->pre_sorted) {
		qsort(g->pre, g->npre, sizeof(*g->pre), cmp_cookie);
		g->pre_sorted = 1;
	}
	hit = bsearch(&key, g->pre, g->npre, sizeof(*g->pre), cmp_cookie);
	if (!hit || !hit->id)
		return 0;
	id = hit->id;
	*dir = hit->dir;
	hit->id = 0; /* a cookie closes once */
	return id;
}

/*
 * A CLOSE that BPF did not track (conn id 0): a connection from before the recorder started,
 * known by its cookie, or one the full tracking map left out, stored from its close alone.
 */
static void untracked_close(struct ingest *g, const struct cr_event *ev)
{
	struct cr_event e = *ev;
	uint8_t dir = 0;
	uint64_t id = take_preexisting(g, e.cookie, &dir);

	if (id) {
		struct store_end end;

		/* BPF could not know the direction: an active open's SYN is in bytes_acked. */
		if (dir == CR_DIR_OUT && e.proto == CR_PROTO_TCP && e.bytes_out)
			e.bytes_out--;
		end = end_of(g, id, &e);
		flow_end(g, &end);
		return;
	}
	/* BPF cannot tell accepted from connected here; a listened-on port can. */
	if (e.direction == CR_DIR_OUT && listener_find(g, e.netns, e.lport))
		e.direction = CR_DIR_IN;
	/* Its start was not seen: say so rather than invent one. */
	whole_flow(g, g->new_id(g->id_ctx), &e, CR_FLAG_PREEXISTING);
}

static void on_close(struct ingest *g, const struct cr_event *e)
{
	struct store_end end;

	if (e->proto == CR_PROTO_TCP && e->direction == CR_DIR_LISTEN)
		listener_track(g, e->netns, e->lport, -1);
	if (!e->conn_id) {
		untracked_close(g, e);
		return;
	}
	/*
	 * Never opened (short-lived, refused, timed out, never accepted): the CLOSE carries
	 * everything, and BPF guarantees no OPEN follows.
	 */
	if (!(e->flags & CR_FLAG_OPEN_SENT)) {
		whole_flow(g, e->conn_id, e, 0);
		return;
	}
	end = end_of(g, e->conn_id, e);
	flow_end(g, &end);
}

static void on_open(struct ingest *g, const struct cr_event *e)
{
	struct store_conn *c;

	if (e->proto == CR_PROTO_TCP && e->direction == CR_DIR_LISTEN)
		listener_track(g, e->netns, e->lport, +1);
	c = pending_find(&g->pending, e->conn_id);
	if (c) {
		/* Its CLOSE came first (BPF orders them, but be safe): keep one row, and its end. */
		struct store_conn ended = *c;

		conn_fill(g, c, e);
		c->has_end = ended.has_end;
		c->end_ns = ended.end_ns;
		c->reason = ended.reason;
		c->has_bytes = ended.has_bytes;
		c->bytes_out = ended.bytes_out;
		c->bytes_in = ended.bytes_in;
		return;
	}
	c = pending_add(&g->pending, e->conn_id, true);
	if (c)
		conn_fill(g, c, e);
	else
		cr_warn("out of memory queueing flow %llu", (unsigned long long)e->conn_id);
}

void ingest_event(void *ctx, const struct cr_event *e)
{
	struct ingest *g = ctx;

	switch (e->kind) {
	case CR_EV_OPEN:
		on_open(g, e);
		break;
	case CR_EV_CLOSE:
		on_close(g, e);
		break;
	default:
		/* CR_EV_UDP_RELEASE is resolved by the recorder loop, which walks the map. */
		break;
	}
}

void ingest_udp_end(struct ingest *g, uint64_t conn_id, int64_t end_ns, uint8_t reason,
		    uint64_t bytes_out, uint64_t bytes_in)
{
	struct store_end end = { .id = conn_id, .end_ns = end_ns, .reason = reason,
				 .has_bytes = true, .bytes_out = bytes_out, .bytes_in = bytes_in };

	flow_end(g, &end);
}

int ingest_preexisting(struct ingest *g, const struct sockdump_entry *d, uint64_t conn_id,
		       int64_t seen_ns)
{
	struct store_conn *c = pending_add(&g->pending, conn_id, true);

	if (!c)
		return -ENOMEM;
	conn_fill_dump(c, d, seen_ns);
	if (d->proto == CR_PROTO_TCP && d->direction == CR_DIR_LISTEN)
		listener_track(g, d->netns, d->lport, +1);
	if (d->proto == CR_PROTO_TCP && d->cookie) {
		if (g->npre == g->cap_pre) {
			size_t cap = g->cap_pre ? 2 * g->cap_pre : 256;
			struct cookie_id *n = realloc(g->pre, cap * sizeof(*n));

			if (!n)
				return -ENOMEM;
			g->pre = n;
			g->cap_pre = cap;
		}
		g->pre[g->npre++] =
			(struct cookie_id){ .cookie = d->cookie, .id = conn_id, .dir = d->direction };
		g->pre_sorted = 0;
	}
	return 0;
}

int ingest_losses(struct ingest *g, const uint64_t drops[CR_DROP_MAX])
{
	static const char *const why[CR_DROP_MAX] = {
		[CR_DROP_RINGBUF] = "ring buffer full: flows lost",
		[CR_DROP_MAP_FULL] = "tracking map full: TCP flows stored without owner or start,"
				     " UDP flows lost",
		[CR_DROP_RING_END] = "ring buffer full: ends of flows stored as open lost",
		[CR_DROP_UNSEEN] = "close and destruction seen by no hook (socket reused): flows lost",
	};
	int64_t now = clock_ns(CLOCK_REALTIME);
	int err = 0;

	for (int k = 0; k < CR_DROP_MAX; k++) {
		uint64_t delta = drops[k] - g->last_drops[k];

		if (!delta)
			continue;
		if (drops[k] < g->last_drops[k]) {
			/*
			 * Only BPF adds to these counters; going back means someone wrote the
			 * map from outside, e.g. to hide losses (docs/blinding.md).
			 */
			char what[128];

			snprintf(what, sizeof(what),
				 "loss counter %d went back from %" PRIu64 " to %" PRIu64
				 " (map written from outside)",
				 k, g->last_drops[k], drops[k]);
			err = store_add_tamper(g->store, g->last_loss_check_ns, now, what);
			if (err)
				return err;
			g->last_drops[k] = drops[k];
			continue;
		}
		if (!CR_DROP_IS_LOSS(k)) { /* second chances, not losses: only counted */
			g->last_drops[k] = drops[k];
			g->stats.skipped[k] += delta;
			continue;
		}
		err = store_add_gap(g->store, CR_GAP_LOST, g->last_loss_check_ns, now, delta,
				    why[k]);
		if (err)
			return err;
		g->last_drops[k] = drops[k];
	}
	g->last_loss_check_ns = now;
	return 0;
}

int ingest_commit(struct ingest *g)
{
	struct pending *p = &g->pending;
	size_t done = 0;
	int err = 0;

	for (; done < p->n; done++) {
		err = store_add_conn(g->store, &p->rows[done]);
		if (err)
			break;
	}
	/* What the store did not take (out of memory) waits for the next commit. */
	pending_drop(p, done);
	if (err)
		return err;
	return store_flush(g->store);
}

const struct ingest_stats *ingest_get_stats(const struct ingest *g)
{
	return &g->stats;
}
