// SPDX-License-Identifier: MIT
#include "names.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "schema_values.h"

#define NS_PER_S 1000000000LL
#define CHAIN_MAX 16 /* CNAME links followed from the question; resolvers stop sooner */
/*
 * A file may hold a million answers for one address: looking at each of them for each of a
 * million flows took hours. The answers of an address are kept sorted twice (by time, and by
 * owner then time) with the latest expiry of each block of B1 and B2 of them, so that the
 * newest answer valid at a time is found by skipping whole blocks: a few hundred steps.
 */
#define B1 64
#define B2 (64 * B1)

/* One answer that may name flows to one address. */
struct cand {
	int64_t ts, until, dns_id;
	uint32_t pid;
	const struct flow_name *name;
};

/* The answers holding one address, in one host and namespace. */
struct addr_slot {
	uint32_t host, netns;
	uint8_t addr[16]; /* IPv4 as ::ffff:a.b.c.d */
	bool used;
	struct cand *c;
	size_t n, cap;
	/* Built at a look when answers were added since (a new segment): c sorted by (ts,
	 * dns_id), a copy by (pid, ts, dns_id), and the latest until of each block of both. */
	size_t sorted;
	struct cand *byp;
	int64_t *b1, *b2, *pb1, *pb2;
};

struct id_slot {
	int64_t id;
	uint32_t host;
	bool used;
};

struct name_index {
	struct addr_slot *slots;
	size_t nslots, nused; /* power of two; at most half used */
	struct id_slot *ids;  /* answers added, so carried copies are skipped */
	size_t nids, nids_used;
	struct flow_name **names; /* every name made, for freeing */
	size_t nnames, cap_names;
};

/*
 * Addresses and ids come from the file, and mix() is invertible: without a secret in the hash a
 * file could put every address in one chain of the table (quadratic inserts and lookups).
 */
static uint64_t seed;

static uint64_t mix(uint64_t h)
{
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	return h;
}

static uint64_t addr_hash(uint32_t host, uint32_t netns, const uint8_t addr[16])
{
	uint64_t a, b;

	memcpy(&a, addr, 8);
	memcpy(&b, addr + 8, 8);
	return mix(mix(a ^ seed ^ ((uint64_t)host << 32 | netns)) ^ b);
}

static void to16(uint8_t out[16], const uint8_t *addr, size_t len)
{
	if (len == 4) {
		memset(out, 0, 10);
		out[10] = out[11] = 0xff;
		memcpy(out + 12, addr, 4);
	} else {
		memcpy(out, addr, 16);
	}
}

int names_new(struct name_index **out)
{
	struct name_index *ni = calloc(1, sizeof(*ni));

	*out = NULL;
	if (!ni)
		return -ENOMEM;
	if (!seed && getrandom(&seed, sizeof(seed), 0) != sizeof(seed))
		seed = mix((uint64_t)time(NULL) ^ (uint64_t)getpid() << 32) | 1;
	ni->nslots = ni->nids = 256;
	ni->slots = calloc(ni->nslots, sizeof(*ni->slots));
	ni->ids = calloc(ni->nids, sizeof(*ni->ids));
	if (!ni->slots || !ni->ids) {
		names_free(ni);
		return -ENOMEM;
	}
	*out = ni;
	return 0;
}

void names_free(struct name_index *ni)
{
	if (!ni)
		return;
	for (size_t i = 0; i < ni->nslots; i++) {
		free(ni->slots[i].c);
		free(ni->slots[i].byp);
		free(ni->slots[i].b1);
		free(ni->slots[i].b2);
		free(ni->slots[i].pb1);
		free(ni->slots[i].pb2);
	}
	free(ni->slots);
	free(ni->ids);
	for (size_t i = 0; i < ni->nnames; i++)
		free(ni->names[i]);
	free(ni->names);
	free(ni);
}

/* ---- answers already added ---- */

static struct id_slot *id_find(struct id_slot *v, size_t n, uint32_t host, int64_t id)
{
	size_t i = mix(mix((uint64_t)id ^ ((uint64_t)host << 48) ^ seed)) & (n - 1);

	while (v[i].used && (v[i].id != id || v[i].host != host))
		i = (i + 1) & (n - 1);
	return &v[i];
}

/* Marks (host, id) added; 1 if it already was, 0 if new, -ENOMEM. */
static int id_seen(struct name_index *ni, uint32_t host, int64_t id)
{
	struct id_slot *s;

	if (2 * (ni->nids_used + 1) > ni->nids) {
		size_t n = ni->nids * 2;
		struct id_slot *v = calloc(n, sizeof(*v));

		if (!v)
			return -ENOMEM;
		for (size_t i = 0; i < ni->nids; i++)
			if (ni->ids[i].used)
				*id_find(v, n, ni->ids[i].host, ni->ids[i].id) = ni->ids[i];
		free(ni->ids);
		ni->ids = v;
		ni->nids = n;
	}
	s = id_find(ni->ids, ni->nids, host, id);
	if (s->used)
		return 1;
	*s = (struct id_slot){ .id = id, .host = host, .used = true };
	ni->nids_used++;
	return 0;
}

/* ---- the address table ---- */

static struct addr_slot *slot_find(struct addr_slot *v, size_t n, uint32_t host, uint32_t netns,
				   const uint8_t addr[16])
{
	size_t i = addr_hash(host, netns, addr) & (n - 1);

	while (v[i].used && (v[i].host != host || v[i].netns != netns || memcmp(v[i].addr, addr, 16)))
		i = (i + 1) & (n - 1);
	return &v[i];
}

static struct addr_slot *slot_get(struct name_index *ni, uint32_t host, uint32_t netns,
				  const uint8_t addr[16])
{
	struct addr_slot *s;

	if (2 * (ni->nused + 1) > ni->nslots) {
		size_t n = ni->nslots * 2;
		struct addr_slot *v = calloc(n, sizeof(*v));

		if (!v)
			return NULL;
		for (size_t i = 0; i < ni->nslots; i++) {
			const struct addr_slot *o = &ni->slots[i];

			if (o->used)
				*slot_find(v, n, o->host, o->netns, o->addr) = *o;
		}
		free(ni->slots);
		ni->slots = v;
		ni->nslots = n;
	}
	s = slot_find(ni->slots, ni->nslots, host, netns, addr);
	if (!s->used) {
		s->used = true;
		s->host = host;
		s->netns = netns;
		memcpy(s->addr, addr, 16);
		ni->nused++;
	}
	return s;
}

static int cand_add(struct addr_slot *s, const struct cand *c)
{
	if (s->n == s->cap) {
		size_t cap = s->cap ? 2 * s->cap : 2;
		struct cand *v = realloc(s->c, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		s->c = v;
		s->cap = cap;
	}
	s->c[s->n++] = *c;
	return 0;
}

/* ---- names ---- */

/* The CNAME targets followed from the question, in order (pointers into d). */
static size_t follow_chain(const struct sr_dns *d, const char *chain[CHAIN_MAX])
{
	const char *cur = d->qname;
	size_t n = 0;

	while (n < CHAIN_MAX) {
		const char *next = NULL;

		for (size_t i = 0; i < d->n_rrs && !next; i++) {
			const struct sr_dns_rr *r = &d->rrs[i];

			if (r->type == CR_DNS_TYPE_CNAME && r->target && !strcasecmp(r->name, cur))
				next = r->target;
		}
		if (!next)
			break;
		chain[n++] = cur = next;
	}
	return n;
}

static bool on_chain(const char *name, const char *qname, const char *const *chain, size_t n)
{
	if (!strcasecmp(name, qname))
		return true;
	for (size_t i = 0; i < n; i++)
		if (!strcasecmp(name, chain[i]))
			return true;
	return false;
}

/* The record of an address that the chain reaches, or false. */
static bool names_address(const struct sr_dns_rr *r, const char *qname, const char *const *chain,
			  size_t n)
{
	return (r->type == CR_DNS_TYPE_A || r->type == CR_DNS_TYPE_AAAA) && r->addr_len &&
	       on_chain(r->name, qname, chain, n);
}

/* One allocation: the struct, the chain's pointers, then the strings. */
static struct flow_name *name_make(struct name_index *ni, const char *qname,
				   const char *const *chain, size_t n)
{
	size_t size = sizeof(struct flow_name) + n * sizeof(char *) + strlen(qname) + 1;
	struct flow_name *fn;
	const char **ptrs;
	char *p;

	for (size_t i = 0; i < n; i++)
		size += strlen(chain[i]) + 1;
	if (ni->nnames == ni->cap_names) {
		size_t cap = ni->cap_names ? 2 * ni->cap_names : 64;
		struct flow_name **v = realloc(ni->names, cap * sizeof(*v));

		if (!v)
			return NULL;
		ni->names = v;
		ni->cap_names = cap;
	}
	fn = malloc(size);
	if (!fn)
		return NULL;
	ptrs = (const char **)(fn + 1);
	p = (char *)(ptrs + n);
	fn->rname = strcpy(p, qname);
	p += strlen(qname) + 1;
	for (size_t i = 0; i < n; i++) {
		ptrs[i] = strcpy(p, chain[i]);
		p += strlen(chain[i]) + 1;
	}
	fn->chain = ptrs;
	fn->n_chain = n;
	ni->names[ni->nnames++] = fn;
	return fn;
}

int names_add(struct name_index *ni, uint32_t host, const struct sr_dns *d)
{
	const char *chain[CHAIN_MAX];
	const struct flow_name *fn = NULL;
	size_t n;
	int seen;

	if (d->flags & CR_DNS_FLAG_NO_OWNER)
		return 0;
	seen = id_seen(ni, host, d->id);
	if (seen)
		return seen < 0 ? seen : 0;
	n = follow_chain(d, chain);
	for (size_t i = 0; i < d->n_rrs; i++) {
		const struct sr_dns_rr *r = &d->rrs[i];
		int64_t ttl = r->ttl > CR_DNS_MAX_TTL_S ? CR_DNS_MAX_TTL_S : (int64_t)r->ttl;
		struct addr_slot *s;
		uint8_t a[16];

		if (!names_address(r, d->qname, chain, n))
			continue;
		if (!fn && !(fn = name_make(ni, d->qname, chain, n)))
			return -ENOMEM;
		to16(a, r->addr, r->addr_len);
		s = slot_get(ni, host, d->netns, a);
		if (!s)
			return -ENOMEM;
		if (cand_add(s, &(struct cand){ .ts = d->ts_ns,
						.until = d->ts_ns + (ttl + CR_DNS_GRACE_S) * NS_PER_S,
						.dns_id = d->id,
						.pid = d->pid,
						.name = fn }))
			return -ENOMEM;
	}
	return 0;
}

static int cmp_time(const void *a, const void *b)
{
	const struct cand *x = a, *y = b;

	if (x->ts != y->ts)
		return x->ts < y->ts ? -1 : 1;
	return x->dns_id < y->dns_id ? -1 : x->dns_id > y->dns_id;
}

static int cmp_owner(const void *a, const void *b)
{
	const struct cand *x = a, *y = b;

	if (x->pid != y->pid)
		return x->pid < y->pid ? -1 : 1;
	return cmp_time(a, b);
}

/* The latest until of each block of size bs of v[0..n). */
static void block_max(const struct cand *v, size_t n, size_t bs, int64_t *out)
{
	for (size_t i = 0; i < n; i++)
		if (i % bs == 0 || v[i].until > out[i / bs])
			out[i / bs] = v[i].until;
}

static int slot_index(struct addr_slot *s)
{
	size_t n1 = s->n / B1 + 1, n2 = s->n / B2 + 1;

	free(s->byp);
	free(s->b1);
	free(s->b2);
	free(s->pb1);
	free(s->pb2);
	s->byp = malloc(s->n * sizeof(*s->byp));
	s->b1 = malloc(n1 * sizeof(*s->b1));
	s->pb1 = malloc(n1 * sizeof(*s->pb1));
	s->b2 = malloc(n2 * sizeof(*s->b2));
	s->pb2 = malloc(n2 * sizeof(*s->pb2));
	s->sorted = 0;
	if (!s->byp || !s->b1 || !s->pb1 || !s->b2 || !s->pb2)
		return -ENOMEM;
	qsort(s->c, s->n, sizeof(*s->c), cmp_time);
	memcpy(s->byp, s->c, s->n * sizeof(*s->byp));
	qsort(s->byp, s->n, sizeof(*s->byp), cmp_owner);
	block_max(s->c, s->n, B1, s->b1);
	block_max(s->c, s->n, B2, s->b2);
	block_max(s->byp, s->n, B1, s->pb1);
	block_max(s->byp, s->n, B2, s->pb2);
	s->sorted = s->n;
	return 0;
}

/* The last i in [lo, hi) whose answer is still valid at t, or SIZE_MAX; blocks that expired
 * before t are skipped whole. */
static size_t last_valid(const struct cand *v, const int64_t *b1, const int64_t *b2, size_t lo,
			 size_t hi, int64_t t)
{
	size_t i = hi;

	while (i > lo) {
		if (i % B2 == 0 && i >= lo + B2 && b2[i / B2 - 1] < t) {
			i -= B2;
		} else if (i % B1 == 0 && i >= lo + B1 && b1[i / B1 - 1] < t) {
			i -= B1;
		} else if (v[--i].until >= t) {
			return i;
		}
	}
	return SIZE_MAX;
}

/* The first i in [lo, hi) of v at which before(v[i]) is false (v partitioned by it). */
static size_t first_not(const struct cand *v, size_t lo, size_t hi, uint32_t pid, int64_t t,
			bool by_pid_only)
{
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		bool before = v[mid].pid < pid ||
			      (!by_pid_only && v[mid].pid == pid && v[mid].ts <= t);

		if (before)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/*
 * The answer that names a flow, of those valid at its start: its owner's over another
 * process's, then the newest, then the higher id. The owner's is the last valid one of its run
 * in byp, the other the last valid one of c given by the start.
 */
const struct flow_name *names_for_flow(struct name_index *ni, const struct flow *f)
{
	struct addr_slot *s;
	size_t lo, hi, i;
	uint8_t a[16];

	if (f->dir == CR_DIR_LISTEN || (f->raddr_len != 4 && f->raddr_len != 16) || !ni->nused)
		return NULL;
	to16(a, f->raddr, f->raddr_len);
	s = slot_find(ni->slots, ni->nslots, f->host, f->netns, a);
	if (!s->used || !s->n)
		return NULL;
	if (s->sorted != s->n && slot_index(s))
		return NULL; /* out of memory: the flow goes unnamed */
	if (f->pid) {
		lo = first_not(s->byp, 0, s->n, f->pid, 0, true);
		hi = first_not(s->byp, lo, s->n, f->pid, f->start_ns, false);
		i = last_valid(s->byp, s->pb1, s->pb2, lo, hi, f->start_ns);
		if (i != SIZE_MAX)
			return s->byp[i].name;
	}
	for (lo = 0, hi = s->n; lo < hi;) {
		size_t mid = lo + (hi - lo) / 2;

		if (s->c[mid].ts <= f->start_ns)
			lo = mid + 1;
		else
			hi = mid;
	}
	i = last_valid(s->c, s->b1, s->b2, 0, lo, f->start_ns);
	return i != SIZE_MAX ? s->c[i].name : NULL;
}
