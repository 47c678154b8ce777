/* SPDX-License-Identifier: MIT */
/*
 * Rebuilding endpoint lifetimes from segment rows, and the filters a query applies to them.
 *
 * A lifetime may be spread over several rows: the segment where it began holds its conn row,
 * each later segment opens with a carried copy (same id, CR_FLAG_CARRIED) while it stays
 * open, and its end is folded into one of those rows or sits in a conn_end row. The merge
 * keys rows by (host, conn id): the start comes from the earliest row, the end from
 * whichever row has it. Pure logic, no SQL, so it is unit-tested directly.
 */
#ifndef CONNREC_QUERY_FLOWS_H
#define CONNREC_QUERY_FLOWS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"
#include "match_set.h"
#include "store_read.h"

/*
 * The name of a flow's remote address (query/names.c picks it): the name a process asked for,
 * and the CNAMEs its answer followed from there to the address.
 */
struct flow_name {
	const char *rname;
	const char *const *chain;
	size_t n_chain;
};

/* Whether glob matches the name or any CNAME of its chain (DNS names: case-insensitive). */
bool flow_name_match(const struct flow_name *n, const char *glob);

enum flow_end {
	FLOW_END_OPEN = 0,    /* no end, and recording went on: still open at the last record */
	FLOW_END_CLOSED = 1,  /* end seen */
	FLOW_END_UNKNOWN = 2, /* no end, and recording stopped or lost track after its start */
};

struct flow {
	int64_t id;
	int64_t start_ns;
	int64_t end_ns;	 /* FLOW_END_CLOSED only */
	int64_t lost_ns; /* FLOW_END_UNKNOWN: when recording stopped/lost track after the start */
	uint64_t bytes_out, bytes_in, cgroup;
	uint64_t pstart_ns; /* with pid (and boot), the key of the owner's process life */
	uint32_t pid, uid, netns;
	uint32_t host;	   /* index into the query's host names */
	uint32_t boot;	   /* (host, boot id) index for process lives (who.h); set by the reader */
	uint32_t last_seg; /* merge bookkeeping: last segment (ordinal) that had a row of it */
	uint64_t seq;	   /* the query's count when it was kept: the order's last tie-break */
	uint16_t lport, rport;
	uint8_t proto, family, dir, flags, reason;
	uint8_t laddr_len, raddr_len;
	uint8_t end; /* enum flow_end */
	bool has_bytes;
	uint8_t laddr[16], raddr[16];
	char comm[17];
	const struct flow_name *name; /* NULL: no answer names the remote address */
};

/* Zeek conn_state for a flow (see docs/query.md): S0 REJ SF RSTO RSTR S1 OTH UNK, LISTEN. */
const char *flow_state(const struct flow *f);
/* "out" "in" "listen" "?" */
const char *flow_direction(uint8_t dir);
/* "tcp" "udp" "?" */
const char *flow_proto(uint8_t proto);
/* The end reason's name ("local_fin", "peer_rst", ...) or NULL when none. */
const char *flow_reason(const struct flow *f);

/* Fills a flow from one row (the start of a merge). */
void flow_from_row(struct flow *f, const struct sr_conn *r, uint32_t host, uint32_t seg);
/* Merges another row of the same (host, id): earliest start wins, any end fills a missing one. */
void flow_merge_row(struct flow *f, const struct sr_conn *r, uint32_t seg);

/* Pending lifetimes (no end yet, or carried), keyed by (host, id). */
struct flow_table {
	struct flow *v;
	size_t n, cap;
	uint32_t *slots; /* open addressing: index+1 into v, 0 = empty */
	size_t nslots;
};

void flow_table_init(struct flow_table *t);
void flow_table_free(struct flow_table *t);
/* The flow for (host, id), or NULL. */
struct flow *flow_table_find(struct flow_table *t, uint32_t host, int64_t id);
/* Adds a copy of f (not present yet). Returns 0 or -ENOMEM. */
int flow_table_add(struct flow_table *t, const struct flow *f);

/* What a query keeps. Lists with n == 0 and unset bounds match everything. */
struct flow_filter {
	int64_t since, until; /* SR_NO_TIME / SR_TIME_MAX when open */
	int64_t now;	      /* for the age of open flows */
	struct addr_port_range *ports, *lports, *rports;
	size_t n_ports, n_lports, n_rports;
	struct addr_cidr *addrs;
	size_t n_addrs;
	int proto; /* 0 any */
	int dir;   /* -1 any */
	uint32_t *pids, *uids, *netns;
	size_t n_pids, n_uids, n_netns;
	uint64_t *cgroups;
	size_t n_cgroups;
	const char *comm;	  /* fnmatch pattern */
	const char *name;	  /* --name: a glob on the flow's name and its CNAME chain */
	unsigned states;	  /* bit mask of FLOW_ST_*; 0 = any */
	int64_t min_dur, max_dur; /* -1 = unset */
	int64_t short_lived;	  /* -1 = unset */
	/* The lists above as sets (flow_filter_build_sets()); the lists are tested through them. */
	struct match_sets sets;
};

/* Bits for flow_filter.states, in the order of flow_state_names. */
extern const char *const flow_state_names[];
extern const unsigned flow_state_count;
int flow_state_bit(const char *name); /* bit index or -1 */

void flow_filter_init(struct flow_filter *f);
void flow_filter_free(struct flow_filter *f);
/* Builds f->sets from f's lists, once they are final: before the first flow_filter_match(). */
int flow_filter_build_sets(struct flow_filter *f);
bool flow_filter_match(const struct flow_filter *q, const struct flow *f);
/* The parts of it that other rows share (--dns): ports, and the owning process. */
bool flow_filter_ports(const struct flow_filter *q, uint16_t lport, uint16_t rport);
bool flow_filter_owner(const struct flow_filter *q, uint32_t pid, uint32_t uid, uint32_t netns,
		       uint64_t cgroup, const char *comm);

#endif /* CONNREC_QUERY_FLOWS_H */
