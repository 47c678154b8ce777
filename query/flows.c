// SPDX-License-Identifier: MIT
#include "flows.h"

#include <errno.h>
#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>

#include "schema_values.h"

const char *const flow_state_names[] = { "S0",	"REJ", "SF",  "RSTO",  "RSTR",
					 "S1", "OTH", "UNK", "LISTEN" };
const unsigned flow_state_count = sizeof(flow_state_names) / sizeof(flow_state_names[0]);

int flow_state_bit(const char *name)
{
	for (unsigned i = 0; i < flow_state_count; i++) {
		if (!strcmp(name, flow_state_names[i]))
			return (int)i;
	}
	return -1;
}

/*
 * A UDP flow has no handshake: what came back says how it went. Refused: an ICMP port
 * unreachable reached the (connected) socket. Otherwise datagrams both ways or one way, by
 * the payload bytes the recorder counted; a flow stored without them (an older recorder)
 * stays SF, as it was then.
 */
static const char *udp_state(const struct flow *f)
{
	if (f->reason == CR_END_REFUSED)
		return "REJ";
	if (!f->has_bytes)
		return "SF";
	return f->bytes_out && f->bytes_in ? "SF" : "S0";
}

/*
 * From the host's point of view. The originator is us for "out", the peer for "in"; that is
 * what turns a local/peer reset into RSTO/RSTR. "Still open" (S1) is only claimed while
 * recording went on; a lost end is UNK. A listener is not a connection: it is LISTEN, and
 * whether it still listens is its end status.
 */
const char *flow_state(const struct flow *f)
{
	bool we_orig = f->dir != CR_DIR_IN;

	/* One state for a listener, whether or not it was there before recording began. */
	if (f->dir == CR_DIR_LISTEN)
		return "LISTEN";
	if (f->end == FLOW_END_UNKNOWN)
		return "UNK";
	if (f->flags & CR_FLAG_PREEXISTING)
		return "OTH"; /* its start (handshake) was never seen */
	if (f->end == FLOW_END_OPEN)
		return "S1";
	if (f->proto != CR_PROTO_TCP)
		return udp_state(f);
	switch (f->reason) {
	case CR_END_LOCAL_FIN:
	case CR_END_PEER_FIN:
	case CR_END_RELEASED:
		return "SF";
	case CR_END_LOCAL_RST:
		return we_orig ? "RSTO" : "RSTR";
	case CR_END_PEER_RST:
		return we_orig ? "RSTR" : "RSTO";
	case CR_END_REFUSED:
		return "REJ";
	case CR_END_TIMEOUT:
		return "S0";
	default:
		return "OTH"; /* closed, reason not determinable */
	}
}

const char *flow_direction(uint8_t dir)
{
	switch (dir) {
	case CR_DIR_OUT:
		return "out";
	case CR_DIR_IN:
		return "in";
	case CR_DIR_LISTEN:
		return "listen";
	default:
		return "?";
	}
}

const char *flow_proto(uint8_t proto)
{
	return proto == CR_PROTO_TCP ? "tcp" : proto == CR_PROTO_UDP ? "udp" : "?";
}

const char *flow_reason(const struct flow *f)
{
	static const char *const names[] = {
		[CR_END_NONE] = "none",		[CR_END_LOCAL_FIN] = "local_fin",
		[CR_END_PEER_FIN] = "peer_fin", [CR_END_LOCAL_RST] = "local_rst",
		[CR_END_PEER_RST] = "peer_rst", [CR_END_REFUSED] = "refused",
		[CR_END_TIMEOUT] = "timeout",	[CR_END_RELEASED] = "released",
		[CR_END_UNKNOWN] = "unknown",	[CR_END_IDLE] = "idle",
	};

	if (f->end != FLOW_END_CLOSED)
		return NULL;
	return f->reason < sizeof(names) / sizeof(names[0]) ? names[f->reason] : "unknown";
}

static void take_end(struct flow *f, const struct sr_conn *r)
{
	f->end = FLOW_END_CLOSED;
	f->end_ns = r->end_ns;
	f->reason = r->reason;
	f->has_bytes = r->has_bytes;
	f->bytes_out = r->bytes_out;
	f->bytes_in = r->bytes_in;
}

bool flow_name_match(const struct flow_name *n, const char *glob)
{
	if (!fnmatch(glob, n->rname, FNM_CASEFOLD))
		return true;
	for (size_t i = 0; i < n->n_chain; i++) {
		if (!fnmatch(glob, n->chain[i], FNM_CASEFOLD))
			return true;
	}
	return false;
}

void flow_from_row(struct flow *f, const struct sr_conn *r, uint32_t host, uint32_t seg)
{
	memset(f, 0, sizeof(*f));
	f->id = r->id;
	f->start_ns = r->start_ns;
	f->cgroup = r->cgroup;
	f->pstart_ns = r->pstart_ns;
	f->pid = r->pid;
	f->uid = r->uid;
	f->netns = r->netns;
	f->host = host;
	f->last_seg = seg;
	f->lport = r->lport;
	f->rport = r->rport;
	f->proto = r->proto;
	f->family = r->family;
	f->dir = r->dir;
	f->flags = r->flags;
	f->laddr_len = r->laddr_len;
	f->raddr_len = r->raddr_len;
	memcpy(f->laddr, r->laddr, sizeof(f->laddr));
	memcpy(f->raddr, r->raddr, sizeof(f->raddr));
	memcpy(f->comm, r->comm, sizeof(f->comm));
	f->end = FLOW_END_OPEN;
	if (r->has_end)
		take_end(f, r);
}

void flow_merge_row(struct flow *f, const struct sr_conn *r, uint32_t seg)
{
	if (r->start_ns < f->start_ns) {
		/* An earlier row is the original; keep the end we may already have. */
		struct flow keep = *f;

		flow_from_row(f, r, keep.host, seg);
		f->boot = keep.boot;
		if (keep.end == FLOW_END_CLOSED && !r->has_end) {
			f->end = keep.end;
			f->end_ns = keep.end_ns;
			f->reason = keep.reason;
			f->has_bytes = keep.has_bytes;
			f->bytes_out = keep.bytes_out;
			f->bytes_in = keep.bytes_in;
		}
	} else if (r->has_end && f->end != FLOW_END_CLOSED) {
		take_end(f, r);
	}
	if (seg > f->last_seg)
		f->last_seg = seg;
}

/* ---- Pending table ---- */

static uint64_t hash_key(uint32_t host, int64_t id)
{
	uint64_t h = (uint64_t)id * 0x9e3779b97f4a7c15ULL ^ ((uint64_t)host << 32 | host);

	h ^= h >> 31;
	h *= 0xbf58476d1ce4e5b9ULL;
	return h ^ (h >> 29);
}

void flow_table_init(struct flow_table *t)
{
	memset(t, 0, sizeof(*t));
}

void flow_table_free(struct flow_table *t)
{
	free(t->v);
	free(t->slots);
	memset(t, 0, sizeof(*t));
}

struct flow *flow_table_find(struct flow_table *t, uint32_t host, int64_t id)
{
	size_t i;

	if (!t->nslots)
		return NULL;
	for (i = hash_key(host, id) & (t->nslots - 1); t->slots[i]; i = (i + 1) & (t->nslots - 1)) {
		struct flow *f = &t->v[t->slots[i] - 1];

		if (f->id == id && f->host == host)
			return f;
	}
	return NULL;
}

static int rehash(struct flow_table *t, size_t nslots)
{
	uint32_t *s = calloc(nslots, sizeof(*s));

	if (!s)
		return -ENOMEM;
	for (size_t k = 0; k < t->n; k++) {
		size_t i = hash_key(t->v[k].host, t->v[k].id) & (nslots - 1);

		while (s[i])
			i = (i + 1) & (nslots - 1);
		s[i] = (uint32_t)(k + 1);
	}
	free(t->slots);
	t->slots = s;
	t->nslots = nslots;
	return 0;
}

int flow_table_add(struct flow_table *t, const struct flow *f)
{
	size_t i;

	if (t->n >= UINT32_MAX - 1)
		return -ENOMEM;
	if (t->n == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 256;
		struct flow *v = realloc(t->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		t->v = v;
		t->cap = cap;
	}
	/* Keep the load under one half so probes stay short. */
	if ((t->n + 1) * 2 > t->nslots) {
		int err = rehash(t, t->nslots ? t->nslots * 2 : 512);

		if (err)
			return err;
	}
	t->v[t->n] = *f;
	for (i = hash_key(f->host, f->id) & (t->nslots - 1); t->slots[i];
	     i = (i + 1) & (t->nslots - 1))
		;
	t->slots[i] = (uint32_t)(++t->n);
	return 0;
}

/* ---- Filters ---- */

void flow_filter_init(struct flow_filter *f)
{
	memset(f, 0, sizeof(*f));
	f->since = SR_NO_TIME;
	f->until = SR_TIME_MAX;
	f->dir = -1;
	f->min_dur = f->max_dur = f->short_lived = -1;
}

void flow_filter_free(struct flow_filter *f)
{
	free(f->ports);
	free(f->lports);
	free(f->rports);
	free(f->addrs);
	free(f->pids);
	free(f->uids);
	free(f->netns);
	free(f->cgroups);
	match_sets_free(&f->sets);
	flow_filter_init(f);
}

int flow_filter_build_sets(struct flow_filter *f)
{
	struct sr_conn_filter lists;

	sr_conn_filter_init(&lists);
	lists.ports = f->ports;
	lists.n_ports = f->n_ports;
	lists.lports = f->lports;
	lists.n_lports = f->n_lports;
	lists.rports = f->rports;
	lists.n_rports = f->n_rports;
	lists.addrs = f->addrs;
	lists.n_addrs = f->n_addrs;
	lists.pids = f->pids;
	lists.n_pids = f->n_pids;
	lists.uids = f->uids;
	lists.n_uids = f->n_uids;
	lists.netns = f->netns;
	lists.n_netns = f->n_netns;
	lists.cgroups = f->cgroups;
	lists.n_cgroups = f->n_cgroups;
	match_sets_free(&f->sets);
	return sr_match_sets_build(&lists, &f->sets);
}

/*
 * The part of the lifetime known to have existed: [start, end] when closed, [start, now] when
 * open, [start, lost] when the end is unknown (it lived at least until recording stopped).
 */
static int64_t known_until(const struct flow_filter *q, const struct flow *f)
{
	switch (f->end) {
	case FLOW_END_CLOSED:
		return f->end_ns;
	case FLOW_END_UNKNOWN:
		return f->lost_ns;
	default:
		return q->now > f->start_ns ? q->now : f->start_ns;
	}
}

bool flow_filter_ports(const struct flow_filter *q, uint16_t lport, uint16_t rport)
{
	const struct match_sets *m = &q->sets;

	if (m->ports && !port_set_has(m->ports, lport) && !port_set_has(m->ports, rport))
		return false;
	if (m->lports && !port_set_has(m->lports, lport))
		return false;
	if (m->rports && !port_set_has(m->rports, rport))
		return false;
	return true;
}

bool flow_filter_owner(const struct flow_filter *q, uint32_t pid, uint32_t uid, uint32_t netns,
		       uint64_t cgroup, const char *comm)
{
	const struct match_sets *m = &q->sets;

	if (m->pids && !num_set_has(m->pids, pid))
		return false;
	if (m->uids && !num_set_has(m->uids, uid))
		return false;
	if (m->netns && !num_set_has(m->netns, netns))
		return false;
	if (m->cgroups && !num_set_has(m->cgroups, cgroup))
		return false;
	return !q->comm || fnmatch(q->comm, comm, 0) == 0;
}

bool flow_filter_match(const struct flow_filter *q, const struct flow *f)
{
	const struct match_sets *m = &q->sets;
	int64_t last = known_until(q, f);

	/* Window: the lifetime overlaps [since, until]. */
	if (f->start_ns > q->until)
		return false;
	if (q->since != SR_NO_TIME && f->end != FLOW_END_OPEN && last < q->since)
		return false;
	if (q->short_lived >= 0) {
		/* The whole life inside DUR and inside the window: what a poller would miss. */
		if (f->end != FLOW_END_CLOSED || f->end_ns - f->start_ns > q->short_lived)
			return false;
		if ((q->since != SR_NO_TIME && f->start_ns < q->since) || f->end_ns > q->until)
			return false;
	}
	if (q->min_dur >= 0 && last - f->start_ns < q->min_dur)
		return false;
	if (q->max_dur >= 0 && (f->end != FLOW_END_CLOSED || f->end_ns - f->start_ns > q->max_dur))
		return false;
	if (q->proto && f->proto != q->proto)
		return false;
	if (q->dir >= 0 && f->dir != q->dir)
		return false;
	if (!flow_filter_ports(q, f->lport, f->rport))
		return false;
	if (m->addrs && !addr_set_has(m->addrs, f->laddr, f->laddr_len) &&
	    !addr_set_has(m->addrs, f->raddr, f->raddr_len))
		return false;
	if (!flow_filter_owner(q, f->pid, f->uid, f->netns, f->cgroup, f->comm))
		return false;
	if (q->name && !(f->name && flow_name_match(f->name, q->name)))
		return false;
	if (q->states && !(q->states & (1u << flow_state_bit(flow_state(f)))))
		return false;
	return true;
}
