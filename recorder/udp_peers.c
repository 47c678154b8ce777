// SPDX-License-Identifier: MIT
/*
 * The udp_flows keys of each UDP socket (udp_peers.h): keys in an append-only array, chained
 * per socket, and an open-addressing table from cookie to the socket's newest key. A
 * released socket's slot stays (with no keys) until the next reset: cookies are never
 * reused, so nothing else will want it, and no deletion has to move other slots.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "udp_peers.h"

#define SOCKS_MIN_LOG2 10
#define NODES_MIN 1024

struct peer_node {
	struct udp_key key;
	uint32_t next; /* the socket's previous key: its node index + 1; 0 ends the chain */
};

struct sock_slot {
	uint64_t cookie; /* 0: empty */
	uint32_t head;	 /* the newest key's node index + 1; 0: none (released) */
};

struct udp_peers {
	struct peer_node *nodes;
	size_t n, cap;
	struct sock_slot *socks;
	unsigned socks_log2;
	size_t used; /* slots with a cookie */
	struct udp_key *out; /* what the last take returned */
	size_t cap_out;
	bool complete;
};

static size_t slot_home(const struct udp_peers *p, uint64_t cookie)
{
	/* Fibonacci hashing: cookies are handed out in sequence. */
	return (size_t)((cookie * 0x9E3779B97F4A7C15ull) >> (64 - p->socks_log2));
}

/* The slot of cookie, or the empty one where it would go. */
static struct sock_slot *slot_of(const struct udp_peers *p, uint64_t cookie)
{
	size_t mask = ((size_t)1 << p->socks_log2) - 1, i = slot_home(p, cookie);

	while (p->socks[i].cookie && p->socks[i].cookie != cookie)
		i = (i + 1) & mask;
	return &p->socks[i];
}

static int socks_alloc(struct udp_peers *p, unsigned log2)
{
	struct sock_slot *s = calloc((size_t)1 << log2, sizeof(*s));

	if (!s)
		return -ENOMEM;
	free(p->socks);
	p->socks = s;
	p->socks_log2 = log2;
	p->used = 0;
	return 0;
}

/* Doubles the table; sockets released since the last reset are left out. */
static int socks_grow(struct udp_peers *p)
{
	struct sock_slot *old = p->socks;
	size_t old_n = (size_t)1 << p->socks_log2, used = 0;

	p->socks = calloc(old_n * 2, sizeof(*p->socks));
	if (!p->socks) {
		p->socks = old;
		return -ENOMEM;
	}
	p->socks_log2++;
	for (size_t i = 0; i < old_n; i++) {
		if (!old[i].cookie || !old[i].head)
			continue;
		*slot_of(p, old[i].cookie) = old[i];
		used++;
	}
	p->used = used;
	free(old);
	return 0;
}

int udp_peers_new(struct udp_peers **out)
{
	struct udp_peers *p = calloc(1, sizeof(*p));

	*out = NULL;
	if (!p || socks_alloc(p, SOCKS_MIN_LOG2)) {
		free(p);
		return -ENOMEM;
	}
	p->complete = true;
	*out = p;
	return 0;
}

void udp_peers_free(struct udp_peers *p)
{
	if (!p)
		return;
	free(p->nodes);
	free(p->socks);
	free(p->out);
	free(p);
}

void udp_peers_add(struct udp_peers *p, const struct udp_key *key)
{
	struct sock_slot *s;

	if (!key->cookie)
		return;
	if (p->n == p->cap) {
		size_t cap = p->cap ? 2 * p->cap : NODES_MIN;
		struct peer_node *nv = cap <= UINT32_MAX ? realloc(p->nodes, cap * sizeof(*nv)) : NULL;

		if (!nv) {
			p->complete = false;
			return;
		}
		p->nodes = nv;
		p->cap = cap;
	}
	/* At most half full, so probes stay short. */
	if (2 * (p->used + 1) > ((size_t)1 << p->socks_log2) && socks_grow(p)) {
		p->complete = false;
		return;
	}
	s = slot_of(p, key->cookie);
	if (!s->cookie) {
		s->cookie = key->cookie;
		p->used++;
	}
	p->nodes[p->n] = (struct peer_node){ .key = *key, .next = s->head };
	s->head = (uint32_t)++p->n;
}

size_t udp_peers_take(struct udp_peers *p, uint64_t cookie, const struct udp_key **keys)
{
	struct sock_slot *s = slot_of(p, cookie);
	size_t n = 0;

	*keys = p->out;
	if (!s->cookie)
		return 0;
	for (uint32_t at = s->head; at; at = p->nodes[at - 1].next) {
		if (n == p->cap_out) {
			size_t cap = p->cap_out ? 2 * p->cap_out : 64;
			struct udp_key *nv = realloc(p->out, cap * sizeof(*nv));

			if (!nv) {
				/* The rest stay in the map: the idle sweep ends them. */
				p->complete = false;
				break;
			}
			p->out = nv;
			p->cap_out = cap;
		}
		p->out[n++] = p->nodes[at - 1].key;
	}
	s->head = 0;
	*keys = p->out;
	return n;
}

void udp_peers_reset(struct udp_peers *p)
{
	/* Give back what a burst left: keep room for about what the last period used. */
	if (p->cap > NODES_MIN && p->n < p->cap / 4) {
		free(p->nodes);
		p->nodes = NULL;
		p->cap = 0;
	}
	p->n = 0;
	if (p->socks_log2 > SOCKS_MIN_LOG2 && 8 * p->used < ((size_t)1 << p->socks_log2) &&
	    !socks_alloc(p, p->socks_log2 - 1)) {
		p->complete = true;
		return;
	}
	memset(p->socks, 0, sizeof(*p->socks) << p->socks_log2);
	p->used = 0;
	p->complete = true;
}

void udp_peers_lost(struct udp_peers *p)
{
	p->complete = false;
}

bool udp_peers_complete(const struct udp_peers *p)
{
	return p->complete;
}
