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

struct ingest {
	struct store *store;
	ingest_id_fn new_id;
	void *id_ctx;
	int64_t offset_ns; /* wall = boot + offset */

	/* OPEN rows waiting for the next commit, and an id -> slot index over them. */
	struct store_conn *pending;
	size_t *pending_slot; /* where pending[i] sits in slot_id, to clear it without probing */
	size_t npending, cap_pending;
	uint64_t *slot_id; /* open addressing; 0 = empty (ids start at 1) */
	uint32_t *slot_idx;
	size_t nslots; /* power of two */

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
	g->nslots = 1024;
	g->slot_id = calloc(g->nslots, sizeof(*g->slot_id));
	g->slot_idx = calloc(g->nslots, sizeof(*g->slot_idx));
	if (!g->slot_id || !g->slot_idx) {
		ingest_free(g);
		return -ENOMEM;
	}
	ingest_sync_clock(g);
	g->last_loss_check_ns = clock_ns(CLOCK_REALTIME);
	*out = g;
	return 0;
}

void ingest_free(struct ingest *g)
{
	if (!g)
		return;
	free(g->pending);
	free(g->pending_slot);
	free(g->slot_id);
	free(g->slot_idx);
	free(g->pre);
	free(g->listeners);
	free(g);
}

static size_t slot_of(const struct ingest *g, uint64_t id)
{
	/* Fibonacci hashing spreads sequential ids over the table. */
	size_t i = (size_t)((id * 0x9E3779B97F4A7C15ull) >> 20) & (g->nslots - 1);

	while (g->slot_id[i] && g->slot_id[i] != id)
		i = (i + 1) & (g->nslots - 1);
	return i;
}

static int grow_slots(struct ingest *g)
{
	size_t n = g->nslots * 2;
	uint64_t *ids = calloc(n, sizeof(*ids));
	uint32_t *idx = calloc(n, sizeof(*idx));
	uint64_t *old_ids = g->slot_id;
	uint32_t *old_idx = g->slot_idx;
	size_t old_n = g->nslots;

	if (!ids || !idx) {
		free(ids);
		free(idx);
		return -ENOMEM;
	}
	g->slot_id = ids;
	g->slot_idx = idx;
	g->nslots = n;
	for (size_t i = 0; i < old_n; i++) {
		if (old_ids[i]) {
			size_t s = slot_of(g, old_ids[i]);

			g->slot_id[s] = old_ids[i];
			g->slot_idx[s] = old_idx[i];
			g->pending_slot[old_idx[i]] = s;
		}
	}
	free(old_ids);
	free(old_idx);
	return 0;
}

/* Rebuild the id -> slot index after the pending array moved. */
static void reindex(struct ingest *g)
{
	memset(g->slot_id, 0, g->nslots * sizeof(*g->slot_id));
	for (size_t i = 0; i < g->npending; i++) {
		size_t s;

		if (!g->pending[i].id)
			continue;
		s = slot_of(g, g->pending[i].id);
		g->slot_id[s] = g->pending[i].id;
		g->slot_idx[s] = (uint32_t)i;
		g->pending_slot[i] = s;
	}
}

/* pending_slot of a row that is not in the id index. */
#define NO_SLOT SIZE_MAX

static struct store_conn *pending_find(struct ingest *g, uint64_t id)
{
	size_t s = slot_of(g, id);

	return g->slot_id[s] ? &g->pending[g->slot_idx[s]] : NULL;
}

static struct store_conn *pending_add(struct ingest *g, uint64_t id)
{
	struct store_conn *c;
	size_t s;

	if (g->npending == g->cap_pending) {
		size_t cap = g->cap_pending ? 2 * g->cap_pending : 1024;
		struct store_conn *n = realloc(g->pending, cap * sizeof(*n));
		size_t *ns;

		if (!n)
			return NULL;
		g->pending = n;
		ns = realloc(g->pending_slot, cap * sizeof(*ns));
		if (!ns)
			return NULL;
		g->pending_slot = ns;
		g->cap_pending = cap;
	}
	if (2 * (g->npending + 1) > g->nslots && grow_slots(g))
		return NULL;
	c = &g->pending[g->npending];
	memset(c, 0, sizeof(*c));
	c->id = id;
	g->pending_slot[g->npending] = NO_SLOT;
	if (id) {
		s = slot_of(g, id);
		g->slot_id[s] = id;
		g->slot_idx[s] = (uint32_t)g->npending;
		g->pending_slot[g->npending] = s;
	}
	g->npending++;
	return c;
}

/* Identity columns of a conn row, from an event that carries the whole flow. */
static void conn_from_event(struct ingest *g, struct store_conn *c, const struct cr_event *e)
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

static void set_end(struct store_conn *c, int64_t end_ns, const struct cr_event *e)
{
	c->has_end = true;
	c->end_ns = end_ns < c->start_ns ? c->start_ns : end_ns;
	c->reason = e->end_reason;
	c->has_bytes = e->proto == CR_PROTO_TCP;
	c->bytes_out = e->bytes_out;
	c->bytes_in = e->bytes_in;
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

static void on_close(struct ingest *g, const struct cr_event *ev)
{
	struct cr_event fixed = *ev, *e = &fixed;
	int64_t end_ns = ingest_wall_ns(g, e->ts_boot_ns);
	uint64_t id = e->conn_id;
	struct store_conn *c;
	uint8_t dir = 0;

	g->stats.closes++;
	if (e->proto == CR_PROTO_TCP && e->direction == CR_DIR_LISTEN)
		listener_track(g, e->netns, e->lport, -1);
	if (!id) {
		/* Untracked in BPF: a connection from before we started, or a full map. */
		id = take_preexisting(g, e->cookie, &dir);
		/* BPF could not know the direction: an active open's SYN is in bytes_acked. */
		if (id && dir == CR_DIR_OUT && e->proto == CR_PROTO_TCP && e->bytes_out)
			e->bytes_out--;
		if (!id) {
			g->stats.orphan_closes++;
			c = pending_add(g, g->new_id(g->id_ctx));
			if (!c)
				return;
			/* BPF cannot tell accepted from connected here; a listened-on port can. */
			if (e->direction == CR_DIR_OUT && listener_find(g, e->netns, e->lport))
				e->direction = CR_DIR_IN;
			conn_from_event(g, c, e);
			/* Its start was not seen: say so rather than invent one. */
			c->flags |= CR_FLAG_PREEXISTING;
			set_end(c, end_ns, e);
			return;
		}
	}
	if (!(e->flags & CR_FLAG_OPEN_SENT) && e->conn_id) {
		/*
		 * Never opened (short-lived, refused, timed out, never accepted): the CLOSE
		 * carries everything, and BPF guarantees no OPEN follows, so nothing will look
		 * this id up: skip the index.
		 */
		c = pending_add(g, 0); /* 0: not indexed */
		if (!c)
			return;
		conn_from_event(g, c, e);
		c->id = id;
		set_end(c, end_ns, e);
		return;
	}
	c = pending_find(g, id);
	if (c) {
		set_end(c, end_ns, e);
		g->stats.merged++;
		return;
	}
	{
		struct store_end end = {
			.id = id,
			.end_ns = end_ns,
			.bytes_out = e->bytes_out,
			.bytes_in = e->bytes_in,
			.has_bytes = e->proto == CR_PROTO_TCP,
			.reason = e->end_reason,
		};

		if (store_add_end(g->store, &end))
			cr_warn("out of memory queueing a close");
	}
}

void ingest_event(void *ctx, const struct cr_event *e)
{
	struct ingest *g = ctx;
	struct store_conn *c;

	g->stats.events++;
	switch (e->kind) {
	case CR_EV_OPEN:
		g->stats.opens++;
		if (e->proto == CR_PROTO_TCP && e->direction == CR_DIR_LISTEN)
			listener_track(g, e->netns, e->lport, +1);
		c = pending_find(g, e->conn_id);
		if (c) {
			/* Its CLOSE came first (BPF orders them, but be safe): keep one row. */
			struct store_conn ended = *c;

			conn_from_event(g, c, e);
			c->has_end = ended.has_end;
			c->end_ns = ended.end_ns;
			c->reason = ended.reason;
			c->has_bytes = ended.has_bytes;
			c->bytes_out = ended.bytes_out;
			c->bytes_in = ended.bytes_in;
			break;
		}
		c = pending_add(g, e->conn_id);
		if (c)
			conn_from_event(g, c, e);
		break;
	case CR_EV_CLOSE:
		on_close(g, e);
		break;
	default:
		/* CR_EV_UDP_RELEASE is resolved by the recorder loop, which walks the map. */
		break;
	}
}

void ingest_udp_end(struct ingest *g, uint64_t conn_id, int64_t end_ns, uint8_t reason)
{
	struct store_conn *c = pending_find(g, conn_id);
	struct store_end end = { .id = conn_id, .end_ns = end_ns, .reason = reason };

	g->stats.closes++;
	if (c) {
		c->has_end = true;
		c->end_ns = end_ns < c->start_ns ? c->start_ns : end_ns;
		c->reason = reason;
		c->has_bytes = false;
		g->stats.merged++;
		return;
	}
	if (store_add_end(g->store, &end))
		cr_warn("out of memory queueing a UDP flow end");
}

int ingest_preexisting(struct ingest *g, const struct sockdump_entry *d, uint64_t conn_id,
		       int64_t seen_ns)
{
	struct store_conn *c = pending_add(g, conn_id);

	if (!c)
		return -ENOMEM;
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
	g->stats.preexisting++;
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
		g->stats.lost += delta;
	}
	g->last_loss_check_ns = now;
	return 0;
}

int ingest_commit(struct ingest *g)
{
	size_t done = 0;
	int err = 0;

	for (; done < g->npending; done++) {
		err = store_add_conn(g->store, &g->pending[done]);
		if (err)
			break;
	}
	/*
	 * Forget what the store took: clear just the slots in use, by their recorded position
	 * (looking them up by probing would stop at slots already cleared).
	 */
	for (size_t i = 0; i < done; i++)
		if (g->pending_slot[i] != NO_SLOT)
			g->slot_id[g->pending_slot[i]] = 0;
	if (err) {
		/* Out of memory: keep the rest, re-indexed, for the next commit. */
		memmove(g->pending, g->pending + done, (g->npending - done) * sizeof(*g->pending));
		g->npending -= done;
		reindex(g);
		return err;
	}
	g->npending = 0;
	return store_flush(g->store);
}

const struct ingest_stats *ingest_get_stats(const struct ingest *g)
{
	return &g->stats;
}
