// SPDX-License-Identifier: MIT
#include "dns_ingest.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dns_internal.h"
#include "dns_parse.h"
#include "log.h"

#define DNS_PORT 53
/* How long an answer waits for the flow event that names its socket's owner. */
#define DNS_OWNER_WAIT_NS (3 * 1000000000LL)
/* A DNS-over-TCP connection with nothing for this long is forgotten. */
#define DNS_TCP_IDLE_NS (60 * 1000000000LL)
/* Answers held at once; a flood beyond it while owners are unknown is counted lost. */
#define DNS_PENDING_MAX (1U << 16)

/* A parsed answer waiting for its owner. */
struct pending {
	struct dns_msg msg;
	struct dns_sock_key key;
	uint64_t ts_boot_ns;
	int64_t seen_ns; /* monotonic, for the wait */
	uint8_t family;
	uint8_t laddr[16], raddr[16]; /* the packet's, as the record has them */
	uint16_t lport, rport;
};

struct dns_ingest {
	struct store *store;
	const struct ingest *clock;
	ingest_id_fn new_id;
	void *id_ctx;
	struct dns_owners owners;
	struct dns_tcp tcp;
	struct pending *pending;
	size_t n_pending, cap_pending;
	uint32_t gen; /* commits so far, from 1: when a dead socket may be forgotten */
	/* The record being read, for the TCP message callback. */
	const struct cr_dns_event *cur;
	uint64_t last_ring_drops;
	struct dns_ingest_stats last; /* the counters already stored as gaps */
	int64_t last_gap_ns;
	struct dns_ingest_stats stats;
};

static int64_t now_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int dns_ingest_new(struct dns_ingest **out, struct store *store, const struct ingest *clock,
		   ingest_id_fn new_id, void *id_ctx)
{
	struct dns_ingest *d = calloc(1, sizeof(*d));
	int err;

	*out = NULL;
	if (!d)
		return -ENOMEM;
	err = dns_owners_init(&d->owners);
	if (err) {
		free(d);
		return err;
	}
	d->store = store;
	d->clock = clock;
	d->new_id = new_id;
	d->id_ctx = id_ctx;
	d->gen = 1;
	d->last_gap_ns = now_ns(CLOCK_REALTIME);
	*out = d;
	return 0;
}

void dns_ingest_free(struct dns_ingest *d)
{
	if (!d)
		return;
	for (size_t i = 0; i < d->n_pending; i++)
		dns_msg_free(&d->pending[i].msg);
	free(d->pending);
	dns_owners_free(&d->owners);
	dns_tcp_free(&d->tcp);
	free(d);
}

static void tcp_key(struct dns_sock_key *k, uint8_t family, const uint8_t *laddr,
		    uint16_t lport, const uint8_t *raddr, uint16_t rport)
{
	memset(k, 0, sizeof(*k));
	k->proto = CR_PROTO_TCP;
	dns_key_addr(k->laddr, laddr, family);
	dns_key_addr(k->raddr, raddr, family);
	k->lport = lport;
	k->rport = rport;
}

static void udp_key(struct dns_sock_key *k, uint64_t cookie)
{
	memset(k, 0, sizeof(*k));
	k->proto = CR_PROTO_UDP;
	k->cookie = cookie;
}

static void owner_of(struct dns_owner *who, uint32_t pid, uint64_t pstart_ns, uint32_t uid,
		     uint32_t netns, uint64_t cgroup, const char *comm)
{
	memset(who, 0, sizeof(*who));
	who->pid = pid;
	who->pstart_ns = pstart_ns;
	who->uid = uid;
	who->netns = netns;
	who->cgroup = cgroup;
	memcpy(who->comm, comm, sizeof(who->comm));
	who->comm[sizeof(who->comm) - 1] = '\0';
}

void dns_ingest_flow(struct dns_ingest *d, const struct cr_event *e)
{
	struct dns_sock_key k;
	struct dns_owner who;

	if (e->proto == CR_PROTO_UDP) {
		/* A release ends every flow of the socket, whatever its peers' ports. */
		if (e->kind == CR_EV_CLOSE || e->kind == CR_EV_UDP_RELEASE) {
			if (!e->cookie)
				return;
			udp_key(&k, e->cookie);
			/*
			 * A socket's first flow has its OPEN held back in BPF; a short one (a
			 * lookup) never gets one, and its CLOSE carries the owner instead.
			 */
			if (e->kind == CR_EV_CLOSE && !(e->flags & CR_FLAG_OPEN_SENT) &&
			    e->rport == DNS_PORT) {
				owner_of(&who, e->pid, e->pstart_ns, e->uid, e->netns,
					 e->cgroup_id, e->comm);
				dns_owners_put(&d->owners, &k, &who);
			}
			/*
			 * Only a socket with a flow to port 53 has an owner here. A CLOSE names
			 * the socket's first flow; had another flow gone to port 53, the socket
			 * had several peers, and the release that follows kills it. This skips a
			 * probe of a cold table for every other UDP socket (bench/RESULTS.md).
			 */
			if (e->kind == CR_EV_CLOSE && e->rport != DNS_PORT)
				return;
			dns_owners_kill(&d->owners, &k, d->gen);
			return;
		}
		/* An answer comes from port 53, so its socket has a flow to port 53. */
		if (e->kind != CR_EV_OPEN || e->rport != DNS_PORT || !e->cookie)
			return;
		udp_key(&k, e->cookie);
		owner_of(&who, e->pid, e->pstart_ns, e->uid, e->netns, e->cgroup_id, e->comm);
		dns_owners_put(&d->owners, &k, &who);
		return;
	}
	if (e->proto != CR_PROTO_TCP || e->rport != DNS_PORT)
		return;
	tcp_key(&k, e->family, e->laddr, e->lport, e->raddr, e->rport);
	if (!(e->flags & CR_FLAG_NO_PID)) {
		owner_of(&who, e->pid, e->pstart_ns, e->uid, e->netns, e->cgroup_id, e->comm);
		dns_owners_put(&d->owners, &k, &who);
	}
	if (e->kind == CR_EV_CLOSE) {
		dns_owners_kill(&d->owners, &k, d->gen);
		dns_tcp_end(&d->tcp, &k);
	}
}

void dns_ingest_preexisting(struct dns_ingest *d, const struct sockdump_entry *e)
{
	struct dns_sock_key k;
	struct dns_owner who;

	if (e->rport != DNS_PORT || !e->pid)
		return;
	owner_of(&who, e->pid, e->pstart_ns, e->uid, e->netns, e->cgroup, e->comm);
	if (e->proto == CR_PROTO_UDP && e->cookie)
		udp_key(&k, e->cookie);
	else if (e->proto == CR_PROTO_TCP)
		tcp_key(&k, e->family, e->laddr, e->lport, e->raddr, e->rport);
	else
		return;
	dns_owners_put(&d->owners, &k, &who);
}

/* One DNS message, from a UDP datagram or a TCP stream: parsed, then waits for its owner. */
static void take_message(struct dns_ingest *d, const struct dns_sock_key *k, const uint8_t *msg,
			 size_t len)
{
	const struct cr_dns_event *e = d->cur;
	struct pending *p;
	int err;

	if (d->n_pending >= DNS_PENDING_MAX) {
		d->stats.dropped++;
		return;
	}
	if (d->n_pending == d->cap_pending) {
		size_t cap = d->cap_pending ? 2 * d->cap_pending : 64;
		struct pending *nv = realloc(d->pending, cap * sizeof(*nv));

		if (!nv) {
			d->stats.dropped++;
			return;
		}
		d->pending = nv;
		d->cap_pending = cap;
	}
	p = &d->pending[d->n_pending];
	memset(p, 0, sizeof(*p));
	err = dns_parse(msg, len, &p->msg);
	if (err == -ENOMSG) {
		d->stats.not_answers++;
		return;
	}
	if (err == -ENOMEM) {
		d->stats.dropped++;
		return;
	}
	if (err) {
		d->stats.malformed++;
		return;
	}
	p->key = *k;
	p->ts_boot_ns = e->ts_boot_ns;
	p->seen_ns = now_ns(CLOCK_MONOTONIC);
	p->family = e->family == 6 ? 6 : 4;
	memcpy(p->laddr, e->laddr, 16);
	memcpy(p->raddr, e->raddr, 16);
	p->lport = e->lport;
	p->rport = e->rport;
	d->n_pending++;
}

static void on_tcp_message(void *ctx, const struct dns_sock_key *k, const uint8_t *msg,
			   size_t len)
{
	take_message(ctx, k, msg, len);
}

void dns_ingest_record(void *ctx, const struct cr_dns_event *e, const uint8_t *payload)
{
	struct dns_ingest *d = ctx;
	struct dns_sock_key k;

	d->stats.records++;
	d->cur = e;
	if (e->proto == CR_PROTO_TCP) {
		tcp_key(&k, e->family, e->laddr, e->lport, e->raddr, e->rport);
		d->stats.tcp_lost += dns_tcp_feed(&d->tcp, &k, e->tcp_seq, payload, e->len,
						  e->wire_len, now_ns(CLOCK_MONOTONIC), on_tcp_message,
						  d);
		return;
	}
	if (e->wire_len > e->len) {
		d->stats.truncated++;
		return;
	}
	udp_key(&k, e->cookie);
	take_message(d, &k, payload, e->len);
}

/* The owner of an answer's socket: by cookie (UDP) or by its addresses (TCP). */
static const struct dns_owner *find_owner(struct dns_ingest *d, const struct pending *p)
{
	return dns_owners_get(&d->owners, &p->key);
}

static int store_answer(struct dns_ingest *d, const struct pending *p,
			const struct dns_owner *who)
{
	struct store_dns_rr rrs[DNS_MAX_RRS];
	struct store_dns row = {
		.id = d->new_id(d->id_ctx),
		.ts_ns = ingest_wall_ns(d->clock, p->ts_boot_ns),
		.proto = p->key.proto,
		.family = p->family,
		.lport = p->lport,
		.rport = p->rport,
		.txid = p->msg.id,
		.qtype = p->msg.qtype,
		.rcode = p->msg.rcode,
		.qname = p->msg.qname,
		.rrs = rrs,
		.n_rrs = p->msg.n_rrs,
	};

	memcpy(row.laddr, p->laddr, 16);
	memcpy(row.raddr, p->raddr, 16);
	if (p->msg.tc)
		row.flags |= CR_DNS_FLAG_TC;
	if (who) {
		row.pid = who->pid;
		row.pstart_ns = who->pstart_ns;
		row.uid = who->uid;
		row.netns = who->netns;
		row.cgroup = who->cgroup;
		memcpy(row.comm, who->comm, sizeof(row.comm));
	} else {
		row.flags |= CR_DNS_FLAG_NO_OWNER;
		d->stats.no_owner++;
	}
	for (size_t i = 0; i < p->msg.n_rrs; i++) {
		const struct dns_rr *r = &p->msg.rrs[i];

		rrs[i] = (struct store_dns_rr){ .type = r->type,
						.ttl = r->ttl,
						.name = r->name,
						.target = r->target };
		memcpy(rrs[i].addr, r->addr, 16);
	}
	d->stats.stored++;
	return store_add_dns(d->store, &row);
}

/* Counters grown since the last call, as gap rows: these answers are not in the store. */
static int add_gaps(struct dns_ingest *d, const uint64_t drops[CR_DNS_DROP_MAX])
{
	const struct {
		uint64_t now, *last;
		const char *why;
	} loss[] = {
		{ drops[CR_DNS_DROP_RING], &d->last.ring_lost, "DNS ring buffer full: answers lost" },
		{ d->stats.truncated, &d->last.truncated,
		  "DNS answers longer than a ring record (4096 bytes): not stored" },
		{ d->stats.malformed, &d->last.malformed, "malformed DNS answers: not stored" },
		{ d->stats.tcp_lost, &d->last.tcp_lost,
		  "DNS over TCP: answers lost to a hole in the stream" },
		{ d->stats.dropped, &d->last.dropped,
		  "DNS answers dropped: too many waiting for their owner, or no memory" },
	};
	int64_t now = now_ns(CLOCK_REALTIME);
	int err;

	d->stats.ring_lost = drops[CR_DNS_DROP_RING];
	for (size_t i = 0; i < sizeof(loss) / sizeof(loss[0]); i++) {
		uint64_t delta = loss[i].now - *loss[i].last;

		if (!delta)
			continue;
		err = store_add_gap(d->store, CR_GAP_LOST, d->last_gap_ns, now, delta, loss[i].why);
		if (err)
			return err;
		*loss[i].last = loss[i].now;
	}
	d->last_gap_ns = now;
	return 0;
}

int dns_ingest_commit(struct dns_ingest *d, const uint64_t drops[CR_DNS_DROP_MAX], bool final)
{
	int64_t now = now_ns(CLOCK_MONOTONIC);
	size_t keep = 0;
	int err = 0;

	for (size_t i = 0; i < d->n_pending; i++) {
		struct pending *p = &d->pending[i];
		const struct dns_owner *who = find_owner(d, p);

		if (!who && !final && now - p->seen_ns < DNS_OWNER_WAIT_NS && !err) {
			d->pending[keep++] = *p;
			continue;
		}
		if (!err)
			err = store_answer(d, p, who);
		if (err) {
			/* Out of memory: keep it for the next commit. */
			d->pending[keep++] = *p;
			continue;
		}
		dns_msg_free(&p->msg);
	}
	d->n_pending = keep;
	dns_owners_sweep(&d->owners, d->gen);
	d->stats.owners = d->owners.n;
	d->gen++;
	dns_tcp_expire(&d->tcp, now - DNS_TCP_IDLE_NS);
	if (drops) {
		int gerr = add_gaps(d, drops);

		err = err ? err : gerr;
	}
	return err;
}

const struct dns_ingest_stats *dns_ingest_get_stats(const struct dns_ingest *d)
{
	return &d->stats;
}
