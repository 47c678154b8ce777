// SPDX-License-Identifier: MIT
/*
 * Walking the BPF tracking maps from userspace: UDP flows that the recorder ends (idle,
 * released multi-peer sockets, the start-up dump) and, when the young journal lapped, TCP
 * connections old enough that their OPEN should be in the store before they close.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "capture_internal.h"
#include "log.h"

static uint64_t boot_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_BOOTTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

int capture_track_udp(struct capture *c, uint64_t cookie, const uint8_t raddr[16], uint16_t rport,
		      uint64_t conn_id)
{
	/* Already stored as open by the start-up dump: only its end is left to send. */
	struct udp_sock_state us = { .first = { .id = conn_id, .last_ns = boot_now() },
				     .nflows = 1, .opened = FLOW_OPEN_SENT, .rport = rport };

	memcpy(us.raddr, raddr, 16);
	if (bpf_map_update_elem(bpf_map__fd(c->skel->maps.udp_socks), &cookie, &us, BPF_NOEXIST))
		return -errno;
	return 0;
}

#define WALK_CHUNK 1024

/*
 * Calls fn(ctx, key, value) for every entry of a hash map, reading WALK_CHUNK entries per
 * system call. Entries that change meanwhile may be seen or not; none is seen twice.
 */
static int map_walk(struct bpf_map *map, void (*fn)(void *ctx, const void *k, const void *v),
		    void *ctx)
{
	size_t ksz = bpf_map__key_size(map), vsz = bpf_map__value_size(map);
	char *keys = calloc(WALK_CHUNK, ksz), *vals = calloc(WALK_CHUNK, vsz);
	uint64_t token = 0;
	bool first = true, done = false;
	int err = 0;

	if (!keys || !vals) {
		err = -ENOMEM;
		goto out;
	}
	while (!done) {
		__u32 count = WALK_CHUNK;

		if (bpf_map_lookup_batch(bpf_map__fd(map), first ? NULL : &token, &token, keys,
					 vals, &count, NULL)) {
			if (errno != ENOENT) {
				err = -errno;
				break;
			}
			done = true; /* ENOENT: this was the last chunk */
		}
		first = false;
		for (__u32 i = 0; i < count; i++)
			fn(ctx, keys + (size_t)i * ksz, vals + (size_t)i * vsz);
	}
out:
	free(keys);
	free(vals);
	return err;
}

/*
 * The udp_flows entries a walk selected, to end after it (deleting while walking skips
 * entries): their keys, and (by cookie) what the walk read of them.
 */
struct udp_pick {
	bool by_cookie; /* else: idle before cutoff */
	uint64_t arg;	/* the cookie, or the cutoff */
	int socks_fd;	/* idle: udp_socks, to tell whether a connected flow's socket is gone */
	struct udp_peers *rebuild; /* idle: the index of keys, learning every entry again */
	struct udp_key *keys;
	struct udp_flow *flows; /* by cookie only */
	size_t n, cap;
	int err;
};

static bool udp_picked(const struct udp_pick *p, const struct udp_key *k, const struct udp_flow *f)
{
	struct udp_sock_state us;

	if (p->by_cookie)
		return k->cookie == p->arg;
	if (f->last_ns >= p->arg)
		return false;
	/*
	 * A connected peer's flow ends at its socket's release (udp_flow.connected); as idle
	 * only when that release's event was lost to a full ring (the socket is gone).
	 */
	return !f->connected ||
	       (bpf_map_lookup_elem(p->socks_fd, &k->cookie, &us) && errno == ENOENT);
}

static void pick_udp(void *ctx, const void *k, const void *v)
{
	struct udp_pick *p = ctx;

	/* Those about to end too: a key whose flow is gone only costs a taker a miss. */
	if (p->rebuild && ((const struct udp_flow *)v)->id)
		udp_peers_add(p->rebuild, k);
	if (!udp_picked(p, k, v) || p->err)
		return;
	if (p->n == p->cap) {
		size_t cap = p->cap ? 2 * p->cap : 256;
		struct udp_key *nk = realloc(p->keys, cap * sizeof(*nk));
		struct udp_flow *nf;

		if (!nk) {
			p->err = -ENOMEM;
			return;
		}
		p->keys = nk;
		if (p->by_cookie) {
			nf = realloc(p->flows, cap * sizeof(*nf));
			if (!nf) {
				p->err = -ENOMEM;
				return;
			}
			p->flows = nf;
		}
		p->cap = cap;
	}
	if (p->by_cookie)
		p->flows[p->n] = *(const struct udp_flow *)v;
	p->keys[p->n++] = *(const struct udp_key *)k;
}

/* Hands what the map held of a flow that was just removed from it to fn. */
static void udp_ended(const struct udp_flow *flow, capture_udp_end_fn fn, void *ctx)
{
	struct capture_udp_end end = {
		.conn_id = flow->id,
		.last_boot_ns = flow->last_ns,
		.bytes_out = flow->bytes_out,
		.bytes_in = flow->bytes_in,
		.refused = flow->refused != 0,
	};

	fn(ctx, &end);
}

/*
 * Takes the entry at KEY out of udp_flows into FLOW with one system call (lookup-and-delete
 * of a hash map, kernel 5.14), or a lookup and a delete where the kernel refuses it. 0, or
 * -ENOENT when it is gone. Only the recorder deletes udp_flows entries.
 */
static int take_udp_flow(int fd, const struct udp_key *key, struct udp_flow *flow)
{
	if (!bpf_map_lookup_and_delete_elem(fd, key, flow))
		return 0;
	if (errno == ENOENT)
		return -ENOENT;
	if (bpf_map_lookup_elem(fd, key, flow) || bpf_map_delete_elem(fd, key))
		return -errno;
	return 0;
}

/* Ends the udp_flows entries p selects; returns how many. */
static int end_udp_flows(struct capture *c, struct udp_pick *p, capture_udp_end_fn fn, void *ctx)
{
	int fd = bpf_map__fd(c->skel->maps.udp_flows), n = 0;
	int err = map_walk(c->skel->maps.udp_flows, pick_udp, p);
	struct udp_flow flow;

	for (size_t i = 0; i < p->n; i++) {
		if (take_udp_flow(fd, &p->keys[i], &flow))
			continue;
		/*
		 * A datagram refreshed it after the walk: put it back. If another datagram made a
		 * new flow in the moment it was out, that one goes on and this one ends here.
		 */
		if (!udp_picked(p, &p->keys[i], &flow) &&
		    !bpf_map_update_elem(fd, &p->keys[i], &flow, BPF_NOEXIST))
			continue;
		if (!flow.id)
			continue; /* id 0: its OPEN was lost (counted), so there is nothing to end */
		udp_ended(&flow, fn, ctx);
		n++;
	}
	free(p->keys);
	return err ? err : p->err ? p->err : n;
}

/*
 * Ends the flows of a released socket. No datagram can change them any more (the socket is
 * out of the kernel's tables by the time its release event is read), so the values the walk
 * read are final, and the entries go in batches: one system call per 1024 flows instead of
 * one per flow (a server socket released with 100,000 peers made 100,000). Where the kernel
 * refuses a batch, or an entry is gone already, one at a time as for idle flows.
 */
static int end_released_flows(struct capture *c, struct udp_pick *p, capture_udp_end_fn fn,
			      void *ctx)
{
	int fd = bpf_map__fd(c->skel->maps.udp_flows), n = 0;
	struct udp_flow flow;
	bool batch = true;
	size_t i = 0;

	while (i < p->n) {
		__u32 count = p->n - i > WALK_CHUNK ? WALK_CHUNK : (__u32)(p->n - i);
		bool refused = batch && bpf_map_delete_batch(fd, &p->keys[i], &count, NULL) != 0;

		if (!batch)
			count = 0;
		else if (refused && errno != ENOENT)
			batch = false; /* not this kernel: one at a time from here */

		if (count > p->n - i)
			count = 0; /* never trust a count beyond what was asked */
		for (size_t j = i; j < i + count; j++) {
			if (!p->flows[j].id)
				continue; /* its OPEN was lost (counted): nothing to end */
			udp_ended(&p->flows[j], fn, ctx);
			n++;
		}
		i += count;
		if ((batch && !refused) || i == p->n)
			continue;
		/* The entry at i stopped the batch: take it alone, then batch on. */
		if (!take_udp_flow(fd, &p->keys[i], &flow) && flow.id) {
			udp_ended(&flow, fn, ctx);
			n++;
		}
		i++;
	}
	return n;
}

/*
 * Takes keys[0..n) out of udp_flows with take_udp_flows, CR_TAKE_BATCH per system call, and
 * ends each flow that was there. -EOPNOTSUPP if the program cannot run here (nothing taken).
 */
static int take_released_flows(struct capture *c, const struct udp_key *keys, size_t n,
			       capture_udp_end_fn fn, void *ctx)
{
	int ended = 0;

	for (size_t i = 0; i < n; i += CR_TAKE_BATCH) {
		LIBBPF_OPTS(bpf_test_run_opts, opts);
		uint32_t m = n - i > CR_TAKE_BATCH ? CR_TAKE_BATCH : (uint32_t)(n - i);
		int err;

		memcpy(c->skel->bss->take_keys, keys + i, m * sizeof(*keys));
		c->skel->bss->take_n = m;
		err = bpf_prog_test_run_opts(bpf_program__fd(c->skel->progs.take_udp_flows), &opts);
		if (err) {
			if (i == 0)
				return -EOPNOTSUPP;
			/* It ran before: the rest stay in the map, and the idle sweep ends them. */
			return ended;
		}
		for (uint32_t j = 0; j < m; j++) {
			const struct udp_flow *f = &c->skel->bss->take_flows[j];

			if (!c->skel->bss->take_found[j] || !f->id)
				continue; /* gone (ended idle), or its OPEN was lost (counted) */
			udp_ended(f, fn, ctx);
			ended++;
		}
	}
	return ended;
}

/*
 * Ends the flows of a released socket with several peers: by the keys their OPENs named
 * (udp_peers.h), or, where the index is incomplete or the kernel cannot run the program, by
 * a walk of the whole map (one walk per release: costly with many flows of other sockets).
 */
int capture_end_udp_socket(struct capture *c, uint64_t cookie, capture_udp_end_fn fn, void *ctx)
{
	struct udp_pick p = { .by_cookie = true, .arg = cookie };
	bool complete = udp_peers_complete(c->peers);
	const struct udp_key *keys;
	size_t nkeys = udp_peers_take(c->peers, cookie, &keys);
	int err, n;

	if (complete && udp_peers_complete(c->peers) && !c->take_failed) {
		n = take_released_flows(c, keys, nkeys, fn, ctx);
		if (n != -EOPNOTSUPP)
			return n;
		cr_warn("cannot take UDP flows by key here; a released socket's flows are found "
			"by walking the map");
		c->take_failed = true;
	}
	err = map_walk(c->skel->maps.udp_flows, pick_udp, &p);
	n = end_released_flows(c, &p, fn, ctx);
	free(p.keys);
	free(p.flows);
	return err ? err : p.err ? p.err : n;
}

/* Sockets whose first flow went idle: its OPEN was sent (a second after it began). */
struct idle_socks {
	uint64_t cutoff;
	uint64_t *cookies;
	size_t n, cap;
	int err;
};

static void pick_idle_sock(void *ctx, const void *k, const void *v)
{
	struct idle_socks *p = ctx;
	const struct udp_sock_state *us = v;

	/* A connected socket's first flow ends at the release (udp_sock_state.connected). */
	if (!us->first.id || us->opened != FLOW_OPEN_SENT || us->first.last_ns >= p->cutoff ||
	    us->connected || p->err)
		return;
	if (p->n == p->cap) {
		size_t cap = p->cap ? 2 * p->cap : 256;
		uint64_t *nc = realloc(p->cookies, cap * sizeof(*nc));

		if (!nc) {
			p->err = -ENOMEM;
			return;
		}
		p->cookies = nc;
		p->cap = cap;
	}
	p->cookies[p->n++] = *(const uint64_t *)k;
}

/*
 * Ends the idle first flows of open sockets: the socket's state stays (its other flows, its
 * release), with no first flow; a new datagram to that peer starts a flow in udp_flows.
 */
static int end_idle_first_flows(struct capture *c, uint64_t cutoff, capture_udp_end_fn fn,
				void *ctx)
{
	struct idle_socks p = { .cutoff = cutoff };
	int fd = bpf_map__fd(c->skel->maps.udp_socks), n = 0;
	int err = map_walk(c->skel->maps.udp_socks, pick_idle_sock, &p);
	struct udp_sock_state us;

	for (size_t i = 0; i < p.n; i++) {
		uint64_t id;

		if (bpf_map_lookup_elem(fd, &p.cookies[i], &us) || !us.first.id ||
		    us.first.last_ns >= cutoff || us.connected)
			continue;
		id = us.first.id;
		us.first.id = 0;
		/* Gone meanwhile: the release sent its end. */
		if (bpf_map_update_elem(fd, &p.cookies[i], &us, BPF_EXIST))
			continue;
		us.first.id = id;
		udp_ended(&us.first, fn, ctx);
		n++;
	}
	free(p.cookies);
	return err ? err : p.err ? p.err : n;
}

int capture_end_udp_idle(struct capture *c, uint64_t cutoff_boot_ns, capture_udp_end_fn fn,
			 void *ctx)
{
	struct udp_pick p = { .arg = cutoff_boot_ns,
			      .socks_fd = bpf_map__fd(c->skel->maps.udp_socks),
			      .rebuild = c->peers };
	int a, b;

	/* The walk sees every entry: the index starts again from what it sees. */
	udp_peers_reset(c->peers);
	a = end_udp_flows(c, &p, fn, ctx);
	if (a < 0)
		udp_peers_lost(c->peers);
	b = end_idle_first_flows(c, cutoff_boot_ns, fn, ctx);

	return a < 0 ? a : b < 0 ? b : a + b;
}

/* ---- TCP connections that stay open ---- */

#define SWEEP_CHUNK 1024

/* What a map walk does with one tracked connection. */
enum pick {
	PICK_SKIP,  /* nothing to ask */
	PICK_ASK,   /* ask report_opens about it now */
	PICK_LATER, /* too young to ask: into the journal's list, asked when its second is up */
	PICK_KEPT,  /* an end kept for want of room in the ring: into the list of those to send */
};

/*
 * The sweep that stands in for a lapped journal: every connection not reported or closing
 * yet. One that began within the last second goes to the list like a journal entry would
 * (skipped, it would never be asked about); an unaccepted one is asked, and comes back as
 * not ready, into the list too. Listeners are here only if their OPEN met a full ring. An end
 * kept in the map (its journal entry lapped too) goes to the list of kept ends.
 */
static enum pick pick_report(const struct tcp_flow *f, uint64_t started_before)
{
	if (f->opened == FLOW_END_KEPT)
		return PICK_KEPT;
	if (f->opened != FLOW_NEW)
		return PICK_SKIP;
	return f->start_ns < started_before ? PICK_ASK : PICK_LATER;
}

/* Reported open: the audit asks whether its socket closed unseen (report_tcp). */
static enum pick pick_audit(const struct tcp_flow *f, uint64_t unused)
{
	(void)unused;
	return f->opened == FLOW_OPEN_SENT ? PICK_ASK : PICK_SKIP;
}

/*
 * One batch of a map walk. The sweep that stands in for a lapped journal puts what was not
 * ready (not accepted yet) or met a full ring back into the journal's list, as the list's
 * own batches do: dropped, such a connection would only be stored at its close.
 */
static int sweep_batch(struct capture *c, struct report_req *reqs, uint32_t n, int *sent,
		       bool requeue)
{
	int err = report_batch(c, reqs, n, sent);

	if (!err && requeue)
		young_requeue(c, reqs, n);
	return err;
}

/* UDP sockets' first flows not reported yet, for the sweep. */
struct udp_unreported {
	struct capture *c;
	uint64_t started_before;
	struct report_req reqs[CR_REPORT_BATCH];
	uint32_t n;
	int *sent;
	int err;
};

static void pick_unreported(void *ctx, const void *k, const void *v)
{
	struct udp_unreported *p = ctx;
	const struct udp_sock_state *us = v;

	if (!us->first.id || us->opened != FLOW_NEW || p->err)
		return;
	if (us->start_ns >= p->started_before) {
		young_later(p->c, *(const uint64_t *)k, us->first.id, CR_PROTO_UDP);
		return;
	}
	p->reqs[p->n++] = (struct report_req){ .key = *(const uint64_t *)k, .id = us->first.id,
					       .proto = CR_PROTO_UDP };
	if (p->n == CR_REPORT_BATCH) {
		p->err = sweep_batch(p->c, p->reqs, p->n, p->sent, true);
		p->n = 0;
	}
}

static int sweep_udp_opens(struct capture *c, uint64_t started_before, int *sent)
{
	struct udp_unreported p = { .c = c, .started_before = started_before, .sent = sent };
	int err = map_walk(c->skel->maps.udp_socks, pick_unreported, &p);

	if (!err && !p.err && p.n)
		p.err = sweep_batch(c, p.reqs, p.n, sent, true);
	return err ? err : p.err;
}

/*
 * Reads the whole map, in chunks of entries per system call, and asks report_opens about each
 * entry PICK says to ask now, in batches. Costs about 0.3 s of CPU per million tracked connections.
 * The fallback when the young journal lapped (capture_young.c), and the audit.
 */
static int walk_tcp_flows(struct capture *c, enum pick (*pick)(const struct tcp_flow *, uint64_t),
			  uint64_t started_before, int *sent, bool requeue)
{
	int fd = bpf_map__fd(c->skel->maps.tcp_flows);
	uint64_t *keys = calloc(SWEEP_CHUNK, sizeof(*keys));
	struct tcp_flow *vals = calloc(SWEEP_CHUNK, sizeof(*vals));
	struct report_req reqs[CR_REPORT_BATCH];
	uint64_t token = 0;
	uint32_t n = 0;
	bool first = true, done = false;
	int err = 0;

	if (!keys || !vals) {
		err = -ENOMEM;
		goto out;
	}
	while (!done && !err) {
		__u32 count = SWEEP_CHUNK;

		if (bpf_map_lookup_batch(fd, first ? NULL : &token, &token, keys, vals, &count,
					 NULL)) {
			if (errno != ENOENT) {
				err = -errno;
				break;
			}
			done = true; /* ENOENT: this was the last chunk */
		}
		first = false;
		for (__u32 i = 0; i < count && !err; i++) {
			enum pick what = pick(&vals[i], started_before);

			if (what == PICK_LATER)
				young_later(c, keys[i], vals[i].id, CR_PROTO_TCP);
			if (what == PICK_KEPT)
				young_kept(c, vals[i].id);
			if (what != PICK_ASK)
				continue;
			reqs[n++] = (struct report_req){ .key = keys[i], .id = vals[i].id,
							 .proto = CR_PROTO_TCP };
			if (n == CR_REPORT_BATCH) {
				err = sweep_batch(c, reqs, n, sent, requeue);
				n = 0;
			}
		}
	}
	if (!err && n)
		err = sweep_batch(c, reqs, n, sent, requeue);
out:
	free(keys);
	free(vals);
	return err;
}

int capture_sweep_opens(struct capture *c, uint64_t started_before, int *sent)
{
	int err = walk_tcp_flows(c, pick_report, started_before, sent, true);

	return err ? err : sweep_udp_opens(c, started_before, sent);
}

int capture_audit_opens(struct capture *c)
{
	int sent = 0;

	return walk_tcp_flows(c, pick_audit, 0, &sent, false);
}
