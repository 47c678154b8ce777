/* SPDX-License-Identifier: MIT */
/*
 * The state of one `connrec query` run, shared by its files:
 *   query.c      the command: the steps in order, sorting, --limit
 *   options.c    the command line (and --help)
 *   lists.c      the values of its list options
 *   filter.c     the SQL prefilter made from the options
 *   sources.c    opening the data dir or files, and which segments the window needs
 *   remote.c     query --from: the segments shipped to a ClickHouse server (fleet/) as slots
 *   slot.c       reading a slot's rows, from a local segment or from the server
 *   lifetimes.c  reading and merging rows into lifetimes (the default output and --count)
 *   procs.c      --procs: the process lives in the window with their flow counts
 *   events.c     --gaps and --events
 *   dns_list.c   --dns
 * names.c picks the DNS answer that names each flow (rname).
 * flows.c (merging, states, the C filter) and output.c (the printers) have their own headers.
 */
#ifndef CONNREC_QUERY_QUERY_H
#define CONNREC_QUERY_QUERY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ch_http.h"
#include "flows.h"
#include "names.h"
#include "output.h"
#include "pager.h"
#include "store_read.h"
#include "who.h"

enum mode { MODE_FLOWS, MODE_EVENTS, MODE_GAPS, MODE_COUNT, MODE_PROCS, MODE_DNS };

struct remote;
struct remote_seg;

/* One segment, in host and segment order once planned: a local file, or one on a server. */
struct slot {
	struct sr_segment *seg;
	struct remote_seg *remote; /* query --from: instead of seg */
	struct sr_meta meta;
	char *path;
	uint32_t host;
	unsigned open_flags; /* sr_open() flags for it */
	bool skip;   /* wholly before the window */
	bool late;   /* created after the window: only read for ends of waiting lifetimes */
	bool read;
	bool failed; /* could not be opened when it was to be read (warned, counted) */
	uint32_t boot; /* who.h's index of (host, boot id), once read */
	/* How it was opened to be read: quick_check skipped because the hash chain vouches
	 * for it (trusted), or run (checked); neither with --no-check. */
	bool trusted, checked;
};

/* When recording stopped on a host: run stop rows, down gaps, and later run starts. */
struct stop_mark {
	uint32_t host;
	int64_t ts_ns;
	bool is_start;
};

struct query {
	/* options */
	const char *dir;
	const char **files;
	size_t n_files;
	struct ch_opts from; /* query --from: from.url set */
	char *from_url;	     /* the URL's copy (the argument is masked) */
	struct remote *remote;
	const char *format;
	enum mode mode;
	bool newest_first;
	uint64_t limit; /* 0 = none */
	unsigned open_flags;
	uint64_t max_unpacked;
	const char *verify_key; /* --verify-key: seals must be authenticated to be trusted */
	enum pager_choice pager;
	struct flow_filter ff;
	struct who_filter wf;
	struct sr_conn_filter sf;
	/* state */
	struct trust_key *trust_key; /* trust.c's, once needed */
	struct trust_hasher *hasher; /* trust.c's, while it hashes ahead */
	struct slot *slots;
	size_t n_slots;
	char **hosts;
	size_t n_hosts;
	struct stop_mark *stops;
	size_t n_stops;
	struct flow_table pending;
	struct who who; /* process lives and cgroup names of the segments read */
	uint32_t cur_boot;
	struct name_index *names; /* the DNS answers read so far, to name flows */
	struct flow *out;
	size_t n_out, cap_out;
	uint64_t count;
	uint32_t cur_host, cur_seg;
	size_t n_gaps_in_window;
	size_t n_tamper_in_window; /* of those, tamper gaps */
	int failures;
	bool fast_count;
};

/* query.c: the command, `connrec query`. */
int query_run(int argc, char **argv);

/* lists.c: comma-separated unsigned integers up to max; *out is malloc()ed. 0 or -errno. */
int query_parse_uints(const char *s, uint64_t max, uint64_t **out, size_t *n);
/*
 * The value of list option o: a comma-separated list, or @FILE (one entry per line, '#'
 * comments; @- is standard input). Replaces *out (malloc()ed) and *n. 0, -ENOMEM, or -EINVAL
 * after printing which entry (and line) is wrong.
 */
struct opt;
int query_list_ports(const struct opt *o, const char *arg, struct addr_port_range **out,
		     size_t *n);
int query_list_addrs(const struct opt *o, const char *arg, struct addr_cidr **out, size_t *n);
int query_list_u32s(const struct opt *o, const char *arg, uint32_t **out, size_t *n);
int query_list_u64s(const struct opt *o, const char *arg, uint64_t **out, size_t *n);

/*
 * Where the results go once they are read: stdout, or the pager (the progress line erased
 * first). query_out_close() flushes and waits for the pager; 0 or -errno.
 */
FILE *query_out_open(const struct query *q);
int query_out_close(FILE *f);

/* options.c: 0, OPT_HELP_SHOWN, or -EINVAL (the message is printed) / -ENOMEM. */
int query_parse_args(struct query *q, int argc, char **argv);

/*
 * filter.c: builds the sets of q->ff's lists, fills q->sf from q->ff (sharing those sets), and
 * decides whether --count may count in SQL. 0 or -ENOMEM.
 */
int query_sql_filter(struct query *q);

/* sources.c */
int query_open_sources(struct query *q);
/* Sorts the slots by host and segment, names the hosts, and marks what the window skips. */
void query_plan(struct query *q);
/* A segment that failed while being read: warn, count the failure, and go on. */
void query_seg_warn(struct query *q, struct slot *s, int err);
/*
 * Opens a planned segment for reading (it may have been closed after planning); on failure
 * warns, counts it and returns an error. query_seg_close() closes it again at once, so its
 * private copy, if any, is gone before the next segment's is made. A remote slot needs no
 * opening; closing it frees the rows it held.
 */
int query_seg_open(struct query *q, struct slot *s);
void query_seg_close(struct slot *s);
/* Says on stderr which segments read were taken on trust of the hash chain, which checked. */
void query_report_checks(const struct query *q);

/*
 * trust.c: whether sealed segment s may be opened without quick_check. Its SHA-256 and size
 * must agree with every seal record of it that the next segment of its host holds, and with
 * that segment's prev_sha256; with --verify-key a seal record of it must also carry a right
 * MAC. Otherwise (nothing follows it, the records cannot be read cheaply, any disagreement:
 * warned) it is checked.
 */
bool query_trust(struct query *q, struct slot *s);
/* Starts hashing, in a second thread, the files query_trust() will hash (after planning). */
void query_trust_prefetch(struct query *q);
void query_trust_free(struct query *q);

/* remote.c: the server's segments as slots (seg NULL, remote set); -EREMOTEIO is reported. */
int remote_open_sources(struct query *q);
void remote_free(struct query *q);

/*
 * slot.c: a slot's rows, as the evidence reader's functions give them (store_read.h). A remote
 * slot fetches for every slot at once on first use. -EREMOTEIO: the server failed (already
 * reported; the query cannot go on); other errors concern this slot alone.
 */
const char *slot_errmsg(const struct query *q, const struct slot *s);
int slot_conns(struct query *q, struct slot *s, const struct sr_conn_filter *f,
	       int (*cb)(const struct sr_conn *row, void *ctx), void *ctx);
int slot_count_folded(struct query *q, struct slot *s, const struct sr_conn_filter *f,
		      uint64_t *count);
/* Whether counting in SQL pays for this slot (sr_count_pays()); false for a remote one. */
bool slot_count_pays(struct query *q, struct slot *s, const struct sr_conn_filter *f);
/* Its DNS answers (none from a server: not shipped yet). */
int slot_dns(struct query *q, struct slot *s, int64_t since, int64_t until,
	     int (*cb)(const struct sr_dns *row, void *ctx), void *ctx);
/* Its process lives, their ends and cgroup names, into q->who as boot s->boot. */
int slot_read_who(struct query *q, struct slot *s);
int slot_end_by_id(struct query *q, struct slot *s, int64_t id, struct sr_end *out);
int slot_ends(struct query *q, struct slot *s, int64_t since, int64_t until,
	      int (*cb)(const struct sr_end *row, void *ctx), void *ctx);
int slot_gaps(struct query *q, struct slot *s, int64_t since, int64_t until,
	      int (*cb)(const struct sr_gap *row, void *ctx), void *ctx);
int slot_runs(struct query *q, struct slot *s, int (*cb)(const struct sr_run *row, void *ctx),
	      void *ctx);

/* lifetimes.c: reads, merges, filters and prints lifetimes, or their --count. */
int query_lifetimes(struct query *q, const struct printer *p, const struct out_ctx *o);

/* procs.c: prints the process lives that --procs selects (after query_lifetimes read them). */
int query_procs(struct query *q, const struct printer *p, const struct out_ctx *o);
/* dns_list.c: reads, filters and prints --dns. */
int query_dns(struct query *q, const struct printer *p, const struct out_ctx *o);

/* events.c: reads and prints --gaps or --events. */
int query_gaps_events(struct query *q, const struct printer *p, const struct out_ctx *o);

/*
 * Sorts n rows of size bytes with cmp, oldest first or (--newest) newest first, and returns
 * how many of them --limit leaves.
 */
size_t query_order(const struct query *q, void *v, size_t n, size_t size,
		   int (*cmp)(const void *a, const void *b));

#endif /* CONNREC_QUERY_QUERY_H */
