/* SPDX-License-Identifier: MIT */
/*
 * Output formats of `connrec query`, as a table of printers. Every format uses the same field
 * names (see docs/query.md); each printer gets the whole, already sorted, result.
 */
#ifndef CONNREC_QUERY_OUTPUT_H
#define CONNREC_QUERY_OUTPUT_H

#include <stdio.h>

#include "flows.h"
#include "who.h"

/* A recording gap as --gaps prints it. */
struct out_gap {
	uint32_t host;
	int kind; /* 1 lost, 2 down */
	int64_t start_ns, end_ns;
	uint64_t count;
	char reason[128];
};

/* A raw stored row as --events prints it. */
struct out_event {
	int64_t ts_ns;
	const char
		*kind; /* "open" "close" "run_start" "run_stop" "segment" "gap_lost" "gap_down" "gap_tamper" */
	uint32_t host;
	int64_t conn_id;  /* -1 when not about a connection */
	bool has_flow;	  /* flow fields below are set */
	struct flow flow; /* for open/close: the row's own fields */
	uint64_t count;	  /* gap rows */
	int64_t end_ns;	  /* gap rows */
	char detail[128]; /* run: version; gap: reason */
};

/* A process life as --procs prints it: its last image, and the flows counted for it. */
struct out_proc {
	const struct who_life *life;
	const struct who_image *image;	/* NULL when only its end is known */
	const struct who_cgroup *cgroup; /* of that image; NULL when unknown */
	uint32_t host;
};

/* A DNS answer as --dns prints it: the stored row, and which host it came from. */
struct out_dns {
	struct sr_dns d; /* strings and records owned by the query */
	uint32_t host;
};

struct out_ctx {
	FILE *f;
	char **hosts;
	size_t n_hosts;
	const struct who *who; /* process lives, for the who columns of flows */
	bool show_host; /* the table's HOST column even for one host (query --from) */
};

struct printer {
	const char *name;
	void (*flows)(const struct out_ctx *o, const struct flow *v, size_t n);
	void (*gaps)(const struct out_ctx *o, const struct out_gap *v, size_t n);
	void (*events)(const struct out_ctx *o, const struct out_event *v, size_t n);
	void (*procs)(const struct out_ctx *o, const struct out_proc *v, size_t n);
	void (*dns)(const struct out_ctx *o, const struct out_dns *v, size_t n);
};

/* The mnemonic of a DNS type ("A", "AAAA", "TYPE65534") or rcode ("NXDOMAIN", "RCODE23"). */
const char *out_dns_type(uint16_t type, char buf[16]);
const char *out_dns_rcode(uint16_t rcode, char buf[16]);

/* The printer for a format name, or NULL. A NULL member means "not in this format". */
const struct printer *out_find(const char *name);

#endif /* CONNREC_QUERY_OUTPUT_H */
