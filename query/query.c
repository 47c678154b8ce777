// SPDX-License-Identifier: MIT
/*
 * connrec query: rebuild connection lifetimes from a live data dir or copied segment files.
 *
 * Sources are opened through the evidence reader (lib/store_read), which never writes beside
 * them. Segments are processed per host in segment order so carried copies merge into one
 * lifetime; see flows.h. Segments wholly before the window are not opened at all (walking a
 * data dir newest first), and those after it are read only while some lifetime still waits
 * for its end.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../src/commands.h"
#include "connrec_event.h"
#include "flows.h"
#include "log.h"
#include "output.h"
#include "store.h"
#include "store_read.h"
#include "timespec.h"

enum mode { MODE_FLOWS, MODE_EVENTS, MODE_GAPS, MODE_COUNT };

struct slot {
	struct sr_segment *seg;
	struct sr_meta meta;
	char *path;
	uint32_t host;
	bool skip; /* wholly before the window */
	bool late; /* created after the window: only read for ends of waiting lifetimes */
	bool read;
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
	const char *format;
	enum mode mode;
	bool newest_first;
	uint64_t limit; /* 0 = none */
	unsigned open_flags;
	uint64_t max_unpacked;
	struct flow_filter ff;
	struct sr_conn_filter sf;
	/* state */
	struct slot *slots;
	size_t n_slots;
	char **hosts;
	size_t n_hosts;
	struct stop_mark *stops;
	size_t n_stops;
	struct flow_table pending;
	struct flow *out;
	size_t n_out, cap_out;
	uint64_t count;
	uint32_t cur_host, cur_seg;
	size_t n_gaps_in_window;
	int failures;
	bool fast_count;
};

/* ---- Command line ---- */

enum {
	OPT_SINCE = 256,
	OPT_UNTIL,
	OPT_AT,
	OPT_PORT,
	OPT_LPORT,
	OPT_RPORT,
	OPT_ADDR,
	OPT_PROTO,
	OPT_PID,
	OPT_COMM,
	OPT_UID,
	OPT_NETNS,
	OPT_CGROUP,
	OPT_DIRECTION,
	OPT_STATE,
	OPT_MIN_DUR,
	OPT_MAX_DUR,
	OPT_SHORT,
	OPT_LIMIT,
	OPT_ORDER,
	OPT_NEWEST,
	OPT_OLDEST,
	OPT_EVENTS,
	OPT_GAPS,
	OPT_COUNT,
	OPT_NO_CHECK,
	OPT_MAX_UNPACKED,
	OPT_NOW,
};

static const struct option long_opts[] = {
	{ "dir", required_argument, NULL, 'd' },
	{ "file", required_argument, NULL, 'f' },
	{ "format", required_argument, NULL, 'o' },
	{ "since", required_argument, NULL, OPT_SINCE },
	{ "until", required_argument, NULL, OPT_UNTIL },
	{ "at", required_argument, NULL, OPT_AT },
	{ "port", required_argument, NULL, OPT_PORT },
	{ "lport", required_argument, NULL, OPT_LPORT },
	{ "rport", required_argument, NULL, OPT_RPORT },
	{ "addr", required_argument, NULL, OPT_ADDR },
	{ "proto", required_argument, NULL, OPT_PROTO },
	{ "pid", required_argument, NULL, OPT_PID },
	{ "comm", required_argument, NULL, OPT_COMM },
	{ "uid", required_argument, NULL, OPT_UID },
	{ "netns", required_argument, NULL, OPT_NETNS },
	{ "cgroup", required_argument, NULL, OPT_CGROUP },
	{ "direction", required_argument, NULL, OPT_DIRECTION },
	{ "state", required_argument, NULL, OPT_STATE },
	{ "min-duration", required_argument, NULL, OPT_MIN_DUR },
	{ "max-duration", required_argument, NULL, OPT_MAX_DUR },
	{ "short-lived", optional_argument, NULL, OPT_SHORT },
	{ "limit", required_argument, NULL, OPT_LIMIT },
	{ "order", required_argument, NULL, OPT_ORDER },
	{ "newest", no_argument, NULL, OPT_NEWEST },
	{ "oldest", no_argument, NULL, OPT_OLDEST },
	{ "events", no_argument, NULL, OPT_EVENTS },
	{ "gaps", no_argument, NULL, OPT_GAPS },
	{ "count", no_argument, NULL, OPT_COUNT },
	{ "no-check", no_argument, NULL, OPT_NO_CHECK },
	{ "max-unpacked", required_argument, NULL, OPT_MAX_UNPACKED },
	{ "now", required_argument, NULL, OPT_NOW }, /* hidden: a fixed "now" for tests */
	{ "verbose", no_argument, NULL, 'v' },
	{ "help", no_argument, NULL, 'h' },
	{ 0 },
};

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: connrec query [-d DIR | -f FILE ...] [FILTERS] [--format FMT] "
		"[--events|--gaps|--count]\n"
		"\n"
		"Rebuilds each endpoint's lifetime (start, end, duration, bytes, outcome) from a "
		"live\n"
		"store or copied segment files. Evidence is opened read-only; nothing is written "
		"beside it.\n"
		"\n"
		"Sources:\n"
		"  -d, --dir DIR          data dir (default " STORE_DEFAULT_DIR ")\n"
		"  -f, --file FILE        a segment file (.db or .db.zst); repeat for several "
		"hosts\n"
		"Time (relative 90s 10m 1h 2d, or 2026-11-21T03:14:00Z, '2026-11-21 03:14' "
		"local):\n"
		"      --since T --until T  flows whose lifetime overlaps the window\n"
		"      --at T               flows open at that instant\n"
		"Filters (all combine with AND; lists are comma-separated):\n"
		"      --port N[,N-M]       either end     --lport / --rport  one end\n"
		"      --addr CIDR[,...]    either end, IPv4 or IPv6 (IPv4 also matches "
		"::ffff:a.b.c.d)\n"
		"      --proto tcp|udp      --pid N[,...]  --uid N[,...]  --netns N[,...]  "
		"--cgroup N[,...]\n"
		"      --comm NAME          exact name or glob ('curl', 'isc-*')\n"
		"      --direction in|out|listen\n"
		"      --state S[,...]      S0 REJ SF RSTO RSTR S1 OTH UNK (Zeek conn_state; see "
		"docs)\n"
		"      --min-duration D --max-duration D\n"
		"      --short-lived[=D]    ended within D (default 1s), whole life inside the "
		"window\n"
		"Output:\n"
		"  -o, --format F         table (default), json, csv, zeek\n"
		"      --limit N          at most N rows     --newest | --oldest (default) | "
		"--order newest|oldest\n"
		"      --events           the raw stored events instead of lifetimes\n"
		"      --gaps             the recording gaps in the window\n"
		"      --count            only the number of matching lifetimes\n"
		"Evidence:\n"
		"      --no-check         skip PRAGMA quick_check (the schema is still checked)\n"
		"      --max-unpacked SZ  cap for a decompressed .zst segment (default 64G)\n"
		"  -v, --verbose\n"
		"\n"
		"Examples:\n"
		"  connrec query --since 1h --port 53\n"
		"  connrec query --since 10m --short-lived\n"
		"  connrec query -f evidence/seg-00000007.db.zst --at '2026-11-20 03:14:00'\n"
		"  connrec query --since 1d --comm 'curl' --format json\n");
}

static int bad(const char *flag, const char *val, const char *why)
{
	fprintf(stderr, "connrec: query: --%s: %s '%s'\n", flag, why, val);
	return -EINVAL;
}

/* Comma-separated unsigned integers up to max. */
static int parse_uints(const char *s, uint64_t max, uint64_t **out, size_t *n)
{
	uint64_t *v = NULL;
	size_t cnt = 0;
	const char *p = s;

	if (!*s)
		return -EINVAL;
	for (;;) {
		char *end;
		unsigned long long x;
		uint64_t *nv;

		if (*p < '0' || *p > '9') {
			free(v);
			return -EINVAL;
		}
		errno = 0;
		x = strtoull(p, &end, 10);
		if (errno || x > max || (*end && *end != ',')) {
			free(v);
			return -EINVAL;
		}
		nv = realloc(v, (cnt + 1) * sizeof(*v));
		if (!nv) {
			free(v);
			return -ENOMEM;
		}
		v = nv;
		v[cnt++] = x;
		if (!*end)
			break;
		p = end + 1;
	}
	*out = v;
	*n = cnt;
	return 0;
}

static int parse_u32s(const char *flag, const char *s, uint32_t **out, size_t *n)
{
	uint64_t *v;
	size_t cnt;
	uint32_t *w;

	if (parse_uints(s, UINT32_MAX, &v, &cnt))
		return bad(flag, s, "expected a comma-separated list of numbers, got");
	w = malloc(cnt * sizeof(*w));
	if (!w) {
		free(v);
		return -ENOMEM;
	}
	for (size_t i = 0; i < cnt; i++)
		w[i] = (uint32_t)v[i];
	free(v);
	free(*out);
	*out = w;
	*n = cnt;
	return 0;
}

static int parse_args(struct query *q, int argc, char **argv)
{
	const char *since = NULL, *until = NULL, *at = NULL, *now = NULL;
	int c, err;

	q->ff.now = ts_now_ns();
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":d:f:o:vh", long_opts, NULL)) != -1) {
		const char *a = optarg;
		int64_t d;

		switch (c) {
		case 'd':
			q->dir = a;
			break;
		case 'f': {
			const char **v = realloc(q->files, (q->n_files + 1) * sizeof(*v));

			if (!v)
				return -ENOMEM;
			q->files = v;
			v[q->n_files++] = a;
			break;
		}
		case 'o':
			if (!out_find(a))
				return bad("format", a, "expected table, json, csv or zeek, got");
			q->format = a;
			break;
		case OPT_SINCE:
			since = a;
			break;
		case OPT_UNTIL:
			until = a;
			break;
		case OPT_AT:
			at = a;
			break;
		case OPT_NOW:
			now = a;
			break;
		case OPT_PORT:
		case OPT_LPORT:
		case OPT_RPORT: {
			struct addr_port_range **r = c == OPT_PORT    ? &q->ff.ports
						     : c == OPT_LPORT ? &q->ff.lports
								      : &q->ff.rports;
			size_t *n = c == OPT_PORT    ? &q->ff.n_ports
				    : c == OPT_LPORT ? &q->ff.n_lports
						     : &q->ff.n_rports;

			free(*r);
			*r = NULL;
			if (addr_parse_port_list(a, r, n))
				return bad(c == OPT_PORT    ? "port"
					   : c == OPT_LPORT ? "lport"
							    : "rport",
					   a, "expected ports like 53,80,8000-8100, got");
			break;
		}
		case OPT_ADDR:
			free(q->ff.addrs);
			q->ff.addrs = NULL;
			if (addr_parse_cidr_list(a, &q->ff.addrs, &q->ff.n_addrs))
				return bad("addr", a,
					   "expected addresses or CIDRs like 10.0.0.0/8,::1, got");
			break;
		case OPT_PROTO:
			if (!strcmp(a, "tcp"))
				q->ff.proto = 6;
			else if (!strcmp(a, "udp"))
				q->ff.proto = 17;
			else
				return bad("proto", a, "expected tcp or udp, got");
			break;
		case OPT_PID:
			if ((err = parse_u32s("pid", a, &q->ff.pids, &q->ff.n_pids)))
				return err;
			break;
		case OPT_UID:
			if ((err = parse_u32s("uid", a, &q->ff.uids, &q->ff.n_uids)))
				return err;
			break;
		case OPT_NETNS:
			if ((err = parse_u32s("netns", a, &q->ff.netns, &q->ff.n_netns)))
				return err;
			break;
		case OPT_CGROUP:
			free(q->ff.cgroups);
			q->ff.cgroups = NULL;
			if (parse_uints(a, UINT64_MAX, &q->ff.cgroups, &q->ff.n_cgroups))
				return bad("cgroup", a,
					   "expected a comma-separated list of numbers, got");
			break;
		case OPT_COMM:
			if (!*a || strlen(a) > 64)
				return bad("comm", a, "expected a process name or glob, got");
			q->ff.comm = a;
			break;
		case OPT_DIRECTION:
			if (!strcmp(a, "out"))
				q->ff.dir = CR_DIR_OUT;
			else if (!strcmp(a, "in"))
				q->ff.dir = CR_DIR_IN;
			else if (!strcmp(a, "listen"))
				q->ff.dir = CR_DIR_LISTEN;
			else
				return bad("direction", a, "expected in, out or listen, got");
			break;
		case OPT_STATE: {
			char buf[128], *tok, *save = NULL;

			if (!*a || strlen(a) >= sizeof(buf) || a[strlen(a) - 1] == ',' ||
			    a[0] == ',' || strstr(a, ",,"))
				return bad("state", a, "expected states like SF,REJ, got");
			snprintf(buf, sizeof(buf), "%s", a);
			q->ff.states = 0;
			for (tok = strtok_r(buf, ",", &save); tok;
			     tok = strtok_r(NULL, ",", &save)) {
				int bit = flow_state_bit(tok);

				if (bit < 0)
					return bad(
						"state", tok,
						"expected S0 REJ SF RSTO RSTR S1 OTH or UNK, got");
				q->ff.states |= 1u << bit;
			}
			break;
		}
		case OPT_MIN_DUR:
		case OPT_MAX_DUR:
			if (ts_parse_duration(a, &d))
				return bad(c == OPT_MIN_DUR ? "min-duration" : "max-duration", a,
					   "expected a duration like 500ms, 90s, 1h, got");
			*(c == OPT_MIN_DUR ? &q->ff.min_dur : &q->ff.max_dur) = d;
			break;
		case OPT_SHORT:
			d = TS_NSEC_PER_SEC;
			if (a && ts_parse_duration(a, &d))
				return bad("short-lived", a,
					   "expected a duration like 500ms, 1s, got");
			q->ff.short_lived = d;
			break;
		case OPT_LIMIT: {
			uint64_t *v;
			size_t n;

			if (parse_uints(a, UINT64_MAX, &v, &n))
				return bad("limit", a, "expected a positive number, got");
			q->limit = n == 1 ? v[0] : 0;
			free(v);
			if (!q->limit)
				return bad("limit", a, "expected a positive number, got");
			break;
		}
		case OPT_ORDER:
			if (!strcmp(a, "newest"))
				q->newest_first = true;
			else if (!strcmp(a, "oldest"))
				q->newest_first = false;
			else
				return bad("order", a, "expected newest or oldest, got");
			break;
		case OPT_NEWEST:
			q->newest_first = true;
			break;
		case OPT_OLDEST:
			q->newest_first = false;
			break;
		case OPT_EVENTS:
		case OPT_GAPS:
		case OPT_COUNT: {
			enum mode m = c == OPT_EVENTS ? MODE_EVENTS
				      : c == OPT_GAPS ? MODE_GAPS
						      : MODE_COUNT;

			if (q->mode != MODE_FLOWS && q->mode != m) {
				fprintf(stderr, "connrec: query: --events, --gaps and --count "
						"exclude each other\n");
				return -EINVAL;
			}
			q->mode = m;
			break;
		}
		case OPT_NO_CHECK:
			q->open_flags |= SR_OPEN_NO_CHECK;
			break;
		case OPT_MAX_UNPACKED:
			if (ts_parse_size(a, &q->max_unpacked) || !q->max_unpacked)
				return bad("max-unpacked", a,
					   "expected a size like 512M or 64G, got");
			break;
		case 'v':
			cr_log_set_level(CR_LOG_DEBUG);
			break;
		case 'h':
			usage(stdout);
			return 1;
		case ':':
			fprintf(stderr, "connrec: query: %s needs a value\n", argv[optind - 1]);
			return -EINVAL;
		default:
			fprintf(stderr, "connrec: query: unknown option '%s' (try --help)\n",
				argv[optind - 1]);
			return -EINVAL;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "connrec: query: unexpected argument '%s' (try --help)\n",
			argv[optind]);
		return -EINVAL;
	}
	if (q->dir && q->n_files) {
		fprintf(stderr, "connrec: query: -d and -f exclude each other\n");
		return -EINVAL;
	}
	/* "now" first: the relative times below count back from it. */
	if (now && ts_parse_time(now, q->ff.now, &q->ff.now))
		return bad("now", now, "expected a time, got");
	if (at && (since || until)) {
		fprintf(stderr, "connrec: query: --at excludes --since and --until\n");
		return -EINVAL;
	}
	if (at) {
		if (ts_parse_time(at, q->ff.now, &q->ff.since))
			return bad("at", at,
				   "expected a time like 2026-11-21T03:14:00Z or 10m, got");
		q->ff.until = q->ff.since;
	}
	if (since && ts_parse_time(since, q->ff.now, &q->ff.since))
		return bad("since", since, "expected a time like 2026-11-21T03:14:00Z or 10m, got");
	if (until && ts_parse_time(until, q->ff.now, &q->ff.until))
		return bad("until", until, "expected a time like 2026-11-21T03:14:00Z or 10m, got");
	if (q->ff.since != SR_NO_TIME && q->ff.until < q->ff.since) {
		fprintf(stderr, "connrec: query: --until is before --since\n");
		return -EINVAL;
	}
	if (q->ff.min_dur >= 0 && q->ff.max_dur >= 0 && q->ff.max_dur < q->ff.min_dur) {
		fprintf(stderr, "connrec: query: --max-duration is below --min-duration\n");
		return -EINVAL;
	}
	if (q->mode == MODE_GAPS || q->mode == MODE_EVENTS) {
		const struct printer *p = out_find(q->format);

		if (q->mode == MODE_GAPS ? !p->gaps : !p->events) {
			fprintf(stderr, "connrec: query: --format %s has no %s output\n", q->format,
				q->mode == MODE_GAPS ? "--gaps" : "--events");
			return -EINVAL;
		}
	}
	if (!q->dir && !q->n_files)
		q->dir = STORE_DEFAULT_DIR;
	return 0;
}

/* The prefilter handed to SQL: the same conditions, minus what only C can judge. */
static void make_sql_filter(struct query *q)
{
	struct sr_conn_filter *s = &q->sf;
	const struct flow_filter *f = &q->ff;

	sr_conn_filter_init(s);
	s->since = f->since;
	s->until = f->until;
	s->ports = f->ports;
	s->n_ports = f->n_ports;
	s->lports = f->lports;
	s->n_lports = f->n_lports;
	s->rports = f->rports;
	s->n_rports = f->n_rports;
	s->addrs = f->addrs;
	s->n_addrs = f->n_addrs;
	s->proto = f->proto;
	s->dir = f->dir;
	s->pids = f->pids;
	s->n_pids = f->n_pids;
	s->uids = f->uids;
	s->n_uids = f->n_uids;
	s->netns = f->netns;
	s->n_netns = f->n_netns;
	s->cgroups = f->cgroups;
	s->n_cgroups = f->n_cgroups;
	s->comm = f->comm;
	s->min_dur = f->min_dur;
	s->max_dur = f->max_dur;
	s->short_lived = f->short_lived;
	/*
	 * --count without filters that SQL only approximates: rows complete on their own are
	 * counted by SQL (never leaving SQLite), only the rest go through the merge.
	 */
	q->fast_count = q->mode == MODE_COUNT && !f->states && !f->n_addrs &&
			!(f->comm && strchr(f->comm, '['));
	s->skip_folded = q->fast_count;
}

/* ---- Sources ---- */

static int open_one(struct query *q, const char *path, unsigned flags, struct slot *out)
{
	struct sr_open_opts o = { .flags = q->open_flags | flags, .max_unpacked = q->max_unpacked };
	char msg[512];
	int err = sr_open(path, &o, &out->seg, msg, sizeof(msg));

	if (err) {
		cr_warn("%s: %s; skipped", path, msg);
		q->failures++;
		return err;
	}
	out->meta = *sr_meta(out->seg);
	out->path = strdup(path);
	return out->path ? 0 : -ENOMEM;
}

static int add_slot(struct query *q, struct slot *s)
{
	struct slot *v = realloc(q->slots, (q->n_slots + 1) * sizeof(*v));

	if (!v)
		return -ENOMEM;
	q->slots = v;
	v[q->n_slots++] = *s;
	return 0;
}

static int open_sources(struct query *q)
{
	struct sr_entry *list = NULL;
	size_t n = 0;
	char msg[512];
	int err = 0;

	if (q->n_files) {
		for (size_t i = 0; i < q->n_files; i++) {
			struct slot s = { 0 };

			if (open_one(q, q->files[i], 0, &s))
				continue;
			err = add_slot(q, &s);
			if (err)
				return err;
		}
		return 0;
	}
	err = sr_list_dir(q->dir, &list, &n, msg, sizeof(msg));
	if (err) {
		cr_err("%s", msg);
		return err;
	}
	if (!n) {
		cr_err("%s: no segments (seg-NNNNNNNN.db[.zst]) found", q->dir);
		err = -ENOENT;
		goto cleanup;
	}
	/*
	 * Newest first: once a segment began before --since, every older one ended
	 * before the window (lifetimes still open were carried forward), so none is opened.
	 */
	for (size_t i = n; i-- > 0;) {
		struct slot s = { 0 };

		if (open_one(q, list[i].path, list[i].active ? SR_OPEN_LIVE : 0, &s))
			continue;
		err = add_slot(q, &s);
		if (err)
			goto cleanup;
		if (q->ff.since != SR_NO_TIME && s.meta.created_ns != SR_NO_TIME &&
		    s.meta.created_ns < q->ff.since) {
			cr_debug("%zu older segment(s) lie before the window; not opened", i);
			break;
		}
	}
cleanup:
	sr_free_list(list, n);
	return err;
}

static uint32_t intern_host(struct query *q, const char *name)
{
	char **v;

	for (size_t i = 0; i < q->n_hosts; i++) {
		if (!strcmp(q->hosts[i], name))
			return (uint32_t)i;
	}
	v = realloc(q->hosts, (q->n_hosts + 1) * sizeof(*v));
	if (!v)
		return 0;
	q->hosts = v;
	v[q->n_hosts] = strdup(name);
	if (!v[q->n_hosts])
		return 0;
	return (uint32_t)q->n_hosts++;
}

static int slot_cmp(const void *a, const void *b)
{
	const struct slot *x = a, *y = b;
	int c = strcmp(x->meta.host, y->meta.host);

	if (c)
		return c;
	if (x->meta.segment_id != y->meta.segment_id)
		return x->meta.segment_id < y->meta.segment_id ? -1 : 1;
	if (x->meta.created_ns != y->meta.created_ns)
		return x->meta.created_ns < y->meta.created_ns ? -1 : 1;
	return strcmp(x->path, y->path);
}

/* Sorts by host and segment and marks what lies outside the window. */
static void plan(struct query *q)
{
	qsort(q->slots, q->n_slots, sizeof(*q->slots), slot_cmp);
	for (size_t i = 0; i < q->n_slots; i++) {
		struct slot *s = &q->slots[i];
		const struct slot *next = i + 1 < q->n_slots ? &q->slots[i + 1] : NULL;

		s->host = intern_host(q, s->meta.host);
		if (next && strcmp(next->meta.host, s->meta.host))
			next = NULL;
		if (q->ff.since != SR_NO_TIME) {
			if (s->meta.sealed && s->meta.last_ns != SR_NO_TIME &&
			    s->meta.last_ns < q->ff.since)
				s->skip = true;
			if (next && next->meta.created_ns != SR_NO_TIME &&
			    next->meta.created_ns < q->ff.since)
				s->skip = true;
		}
		if (q->ff.until != SR_TIME_MAX && s->meta.created_ns != SR_NO_TIME &&
		    s->meta.created_ns > q->ff.until)
			s->late = true;
		if (s->skip)
			cr_debug("%s: wholly before the window; skipped", s->path);
	}
}

/* ---- Lifetimes ---- */

static int emit(struct query *q, const struct flow *f)
{
	if (!flow_filter_match(&q->ff, f))
		return 0;
	q->count++;
	if (q->mode == MODE_COUNT)
		return 0;
	if (q->n_out == q->cap_out) {
		size_t cap = q->cap_out ? q->cap_out * 2 : 1024;
		struct flow *v = realloc(q->out, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		q->out = v;
		q->cap_out = cap;
	}
	q->out[q->n_out++] = *f;
	return 0;
}

static int on_row(const struct sr_conn *r, void *ctx)
{
	struct query *q = ctx;
	struct flow f, *p;

	/* The common case, a lifetime complete in one row, never touches the table. */
	if (!(r->flags & CR_FLAG_CARRIED) && r->has_end) {
		flow_from_row(&f, r, q->cur_host, q->cur_seg);
		return emit(q, &f);
	}
	p = flow_table_find(&q->pending, q->cur_host, r->id);
	if (p) {
		flow_merge_row(p, r, q->cur_seg);
		return 0;
	}
	flow_from_row(&f, r, q->cur_host, q->cur_seg);
	return flow_table_add(&q->pending, &f);
}

static int on_run(const struct sr_run *r, void *ctx)
{
	struct query *q = ctx;
	struct stop_mark *v;

	if (r->kind != 1 && r->kind != 2)
		return 0;
	v = realloc(q->stops, (q->n_stops + 1) * sizeof(*v));
	if (!v)
		return -ENOMEM;
	q->stops = v;
	v[q->n_stops++] = (struct stop_mark){ q->cur_host, r->ts_ns, r->kind == 1 };
	return 0;
}

static int on_gap_stop(const struct sr_gap *g, void *ctx)
{
	struct query *q = ctx;
	struct stop_mark *v;

	if (g->kind != STORE_GAP_DOWN)
		return 0;
	v = realloc(q->stops, (q->n_stops + 1) * sizeof(*v));
	if (!v)
		return -ENOMEM;
	q->stops = v;
	v[q->n_stops++] = (struct stop_mark){ q->cur_host, g->start_ns, false };
	return 0;
}

static int on_gap_count(const struct sr_gap *g, void *ctx)
{
	(void)g;
	((struct query *)ctx)->n_gaps_in_window++;
	return 0;
}

/* The first moment after the flow's start at which recording stopped, or SR_NO_TIME. */
static int64_t stopped_after(const struct query *q, const struct flow *f)
{
	int64_t best = SR_NO_TIME;

	for (size_t i = 0; i < q->n_stops; i++) {
		const struct stop_mark *m = &q->stops[i];

		if (m->host != f->host || m->ts_ns <= f->start_ns)
			continue;
		/* A pre-existing flow was found by its own run's start-up dump: that start (or
		 * any later one) proves nothing on its own; a stop or a down gap does. */
		if (m->is_start && (f->flags & CR_FLAG_PREEXISTING))
			continue;
		if (best == SR_NO_TIME || m->ts_ns < best)
			best = m->ts_ns;
	}
	return best;
}

static void seg_warn(struct query *q, struct slot *s, int err)
{
	cr_warn("%s: read failed (%s: %s); results from it may be partial", s->path, strerror(-err),
		sr_errmsg(s->seg));
	q->failures++;
}

/* Ends for waiting lifetimes that a later segment stored without a carried copy. */
static int late_ends(struct query *q, struct slot *s, uint32_t seg)
{
	for (size_t i = 0; i < q->pending.n; i++) {
		struct flow *f = &q->pending.v[i];
		struct sr_end e;
		int rc;

		if (f->host != s->host || f->end != FLOW_END_OPEN || f->last_seg >= seg)
			continue;
		rc = sr_end_by_id(s->seg, f->id, &e);
		if (rc < 0)
			return rc;
		if (rc == 1) {
			struct sr_conn r = { .has_end = true,
					     .end_ns = e.end_ns,
					     .reason = e.reason,
					     .has_bytes = e.has_bytes,
					     .bytes_out = e.bytes_out,
					     .bytes_in = e.bytes_in,
					     .start_ns = INT64_MAX };

			flow_merge_row(f, &r, seg);
		}
	}
	return 0;
}

/* Are lifetimes of this host still waiting for an end that the segment after prev may hold? */
static bool waiting(const struct query *q, uint32_t host, uint32_t prev)
{
	for (size_t i = 0; i < q->pending.n; i++) {
		const struct flow *f = &q->pending.v[i];

		if (f->host == host && f->end == FLOW_END_OPEN && f->last_seg == prev)
			return true;
	}
	return false;
}

static int read_flows(struct query *q)
{
	uint32_t *last_read = calloc(q->n_hosts ? q->n_hosts : 1, sizeof(*last_read));
	int64_t *next_created = NULL;
	int err = 0;

	if (!last_read)
		return -ENOMEM;
	for (size_t i = 0; i < q->n_slots; i++) {
		struct slot *s = &q->slots[i];
		uint32_t ord = (uint32_t)i + 1;

		if (s->skip || !s->seg)
			continue;
		if (s->late && !waiting(q, s->host, last_read[s->host]))
			continue;
		q->cur_host = s->host;
		q->cur_seg = ord;
		err = late_ends(q, s, ord);
		if (!err && q->fast_count) {
			uint64_t n = 0;

			err = sr_count_folded(s->seg, &q->sf, &n);
			q->count += n;
		}
		if (!err)
			err = sr_conns(s->seg, &q->sf, on_row, q);
		if (err == -ENOMEM)
			goto cleanup;
		if (err)
			seg_warn(q, s, err);
		s->read = true;
		last_read[s->host] = ord;
		/* The evidence copy in the temp dir is not needed any longer. */
		sr_close(s->seg);
		s->seg = NULL;
		err = 0;
	}
	next_created = malloc((q->n_slots + 2) * sizeof(*next_created));
	if (!next_created) {
		err = -ENOMEM;
		goto cleanup;
	}
	for (size_t i = 0; i < q->n_slots; i++)
		next_created[i + 1] = q->slots[i].meta.created_ns;
	for (size_t i = 0; i < q->pending.n; i++) {
		struct flow *f = &q->pending.v[i];

		if (f->end == FLOW_END_OPEN) {
			int64_t stop = stopped_after(q, f);

			if (stop != SR_NO_TIME) {
				f->end = FLOW_END_UNKNOWN;
				f->lost_ns = stop;
			} else if (f->last_seg < last_read[f->host]) {
				/* A later segment was read and did not carry it: the recorder lost
				 * track of it when that segment began. */
				f->end = FLOW_END_UNKNOWN;
				f->lost_ns = next_created[f->last_seg + 1] != SR_NO_TIME
						     ? next_created[f->last_seg + 1]
						     : f->start_ns;
			}
		}
		f->flags &= (uint8_t)~CR_FLAG_CARRIED;
		err = emit(q, f);
		if (err)
			goto cleanup;
	}
cleanup:
	free(last_read);
	free(next_created);
	return err;
}

/* Run rows and down gaps of every segment that will be read, before any flow is judged. */
static int read_stops(struct query *q)
{
	int err;

	for (size_t i = 0; i < q->n_slots; i++) {
		struct slot *s = &q->slots[i];

		if (s->skip || !s->seg)
			continue;
		q->cur_host = s->host;
		err = sr_runs(s->seg, on_run, q);
		if (!err)
			err = sr_gaps(s->seg, SR_NO_TIME, SR_TIME_MAX, on_gap_stop, q);
		if (!err && !s->late)
			err = sr_gaps(s->seg, q->ff.since, q->ff.until, on_gap_count, q);
		if (err == -ENOMEM)
			return err;
		if (err)
			seg_warn(q, s, err);
	}
	return 0;
}

static int flow_cmp(const void *a, const void *b)
{
	const struct flow *x = a, *y = b;

	if (x->start_ns != y->start_ns)
		return x->start_ns < y->start_ns ? -1 : 1;
	if (x->host != y->host)
		return x->host < y->host ? -1 : 1;
	return x->id < y->id ? -1 : x->id > y->id;
}

/* ---- Gaps and events ---- */

struct collect {
	struct query *q;
	struct out_gap *gaps;
	struct out_event *ev;
	size_t n, cap;
	struct flow_table seen; /* conn ids whose rows matched, for their close events */
};

static void *grow(void **v, size_t *cap, size_t n, size_t size)
{
	if (n == *cap) {
		size_t c = *cap ? *cap * 2 : 64;
		void *p = realloc(*v, c * size);

		if (!p)
			return NULL;
		*v = p;
		*cap = c;
	}
	return (char *)*v + n * size;
}

static int on_gap_row(const struct sr_gap *g, void *ctx)
{
	struct collect *c = ctx;
	struct out_gap *o;

	/* The same gap can be recorded in two segments around a rotation; print it once. */
	for (size_t i = 0; i < c->n; i++) {
		if (c->gaps[i].host == c->q->cur_host && c->gaps[i].kind == g->kind &&
		    c->gaps[i].start_ns == g->start_ns && c->gaps[i].end_ns == g->end_ns)
			return 0;
	}
	o = grow((void **)&c->gaps, &c->cap, c->n, sizeof(*o));
	if (!o)
		return -ENOMEM;
	*o = (struct out_gap){ .host = c->q->cur_host,
			       .kind = g->kind,
			       .start_ns = g->start_ns,
			       .end_ns = g->end_ns,
			       .count = g->count };
	snprintf(o->reason, sizeof(o->reason), "%s", g->reason);
	c->n++;
	return 0;
}

static int gap_cmp(const void *a, const void *b)
{
	const struct out_gap *x = a, *y = b;

	if (x->start_ns != y->start_ns)
		return x->start_ns < y->start_ns ? -1 : 1;
	return x->host < y->host ? -1 : x->host > y->host;
}

static struct out_event *new_event(struct collect *c, int64_t ts, const char *kind)
{
	struct out_event *e = grow((void **)&c->ev, &c->cap, c->n, sizeof(*e));

	if (!e)
		return NULL;
	memset(e, 0, sizeof(*e));
	e->ts_ns = ts;
	e->kind = kind;
	e->host = c->q->cur_host;
	e->conn_id = -1;
	c->n++;
	return e;
}

static bool in_window(const struct query *q, int64_t t)
{
	return (q->ff.since == SR_NO_TIME || t >= q->ff.since) && t <= q->ff.until;
}

static int on_event_row(const struct sr_conn *r, void *ctx)
{
	struct collect *c = ctx;
	struct query *q = c->q;
	struct out_event *e;
	struct flow f;

	flow_from_row(&f, r, q->cur_host, q->cur_seg);
	if (!flow_table_find(&c->seen, f.host, f.id) && flow_table_add(&c->seen, &f))
		return -ENOMEM;
	if (in_window(q, r->start_ns)) {
		e = new_event(c, r->start_ns, "open");
		if (!e)
			return -ENOMEM;
		e->conn_id = r->id;
		e->has_flow = true;
		e->flow = f;
		e->flow.end = FLOW_END_OPEN;
		if (r->flags & CR_FLAG_CARRIED)
			snprintf(e->detail, sizeof(e->detail), "carried copy");
	}
	/* An end folded into the row is a close event of its own. */
	if (r->end_folded && in_window(q, r->end_ns)) {
		e = new_event(c, r->end_ns, "close");
		if (!e)
			return -ENOMEM;
		e->conn_id = r->id;
		e->has_flow = true;
		e->flow = f;
	}
	return 0;
}

static int on_event_end(const struct sr_end *x, void *ctx)
{
	struct collect *c = ctx;
	struct flow *f = flow_table_find(&c->seen, c->q->cur_host, x->id);
	struct out_event *e;

	if (!f)
		return 0; /* its conn row did not match the filters */
	e = new_event(c, x->end_ns, "close");
	if (!e)
		return -ENOMEM;
	e->conn_id = x->id;
	e->has_flow = true;
	e->flow = *f;
	e->flow.end = FLOW_END_CLOSED;
	e->flow.end_ns = x->end_ns;
	e->flow.reason = x->reason;
	e->flow.has_bytes = x->has_bytes;
	e->flow.bytes_out = x->bytes_out;
	e->flow.bytes_in = x->bytes_in;
	return 0;
}

static int on_event_run(const struct sr_run *r, void *ctx)
{
	static const char *const kinds[] = { "run", "run_start", "run_stop", "segment" };
	struct collect *c = ctx;
	struct out_event *e;

	if (!in_window(c->q, r->ts_ns))
		return 0;
	e = new_event(c, r->ts_ns, kinds[r->kind >= 1 && r->kind <= 3 ? r->kind : 0]);
	if (!e)
		return -ENOMEM;
	snprintf(e->detail, sizeof(e->detail), "pid %" PRIu32 " version %s", r->pid, r->version);
	return 0;
}

static int on_event_gap(const struct sr_gap *g, void *ctx)
{
	struct collect *c = ctx;
	struct out_event *e = new_event(c, g->start_ns, g->kind == 1 ? "gap_lost" : "gap_down");

	if (!e)
		return -ENOMEM;
	e->end_ns = g->end_ns;
	e->count = g->count;
	snprintf(e->detail, sizeof(e->detail), "%s", g->reason);
	return 0;
}

static int event_cmp(const void *a, const void *b)
{
	const struct out_event *x = a, *y = b;

	if (x->ts_ns != y->ts_ns)
		return x->ts_ns < y->ts_ns ? -1 : 1;
	if (x->host != y->host)
		return x->host < y->host ? -1 : 1;
	return x->conn_id < y->conn_id ? -1 : x->conn_id > y->conn_id;
}

static int read_gaps_or_events(struct query *q, struct collect *c)
{
	int err = 0;

	for (size_t i = 0; i < q->n_slots; i++) {
		struct slot *s = &q->slots[i];

		if (s->skip || s->late || !s->seg)
			continue;
		q->cur_host = s->host;
		q->cur_seg = (uint32_t)i + 1;
		if (q->mode == MODE_GAPS) {
			err = sr_gaps(s->seg, q->ff.since, q->ff.until, on_gap_row, c);
		} else {
			struct sr_conn_filter f = q->sf;

			/* Rows that began before the window still name the conns of its closes. */
			f.since = SR_NO_TIME;
			err = sr_conns(s->seg, &f, on_event_row, c);
			if (!err)
				err = sr_ends(s->seg, q->ff.since, q->ff.until, on_event_end, c);
			if (!err)
				err = sr_runs(s->seg, on_event_run, c);
			if (!err)
				err = sr_gaps(s->seg, q->ff.since, q->ff.until, on_event_gap, c);
		}
		if (err == -ENOMEM)
			return err;
		if (err)
			seg_warn(q, s, err);
		err = 0;
	}
	return 0;
}

/* ---- Main ---- */

static void query_free(struct query *q)
{
	for (size_t i = 0; i < q->n_slots; i++) {
		sr_close(q->slots[i].seg);
		free(q->slots[i].path);
	}
	free(q->slots);
	for (size_t i = 0; i < q->n_hosts; i++)
		free(q->hosts[i]);
	free(q->hosts);
	free(q->stops);
	free(q->out);
	free(q->files);
	flow_table_free(&q->pending);
	flow_filter_free(&q->ff);
}

/* Ctrl-C during a long query must not leave decompressed evidence in the temp dir. */
static void on_fatal_signal(int sig)
{
	sr_cleanup_on_signal();
	signal(sig, SIG_DFL);
	raise(sig);
}

static void install_signals(void)
{
	static const int sigs[] = { SIGINT, SIGTERM, SIGHUP, SIGPIPE };
	struct sigaction sa = { .sa_handler = on_fatal_signal };

	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		sigaction(sigs[i], &sa, NULL);
}

int cmd_query(int argc, char **argv)
{
	struct query q = { .format = "table" };
	struct collect c = { .q = &q };
	const struct printer *p;
	struct out_ctx o;
	int err, status = EXIT_FAIL;

	flow_filter_init(&q.ff);
	flow_table_init(&q.pending);
	flow_table_init(&c.seen);
	err = parse_args(&q, argc, argv);
	if (err) {
		status = err > 0 ? EXIT_OK : err == -ENOMEM ? EXIT_FAIL : EXIT_USAGE;
		goto cleanup;
	}
	make_sql_filter(&q);
	install_signals();
	err = open_sources(&q);
	if (err)
		goto cleanup;
	if (!q.n_slots) {
		cr_err("no readable segment");
		goto cleanup;
	}
	plan(&q);
	p = out_find(q.format);
	o = (struct out_ctx){ .f = stdout, .hosts = q.hosts, .n_hosts = q.n_hosts };

	if (q.mode == MODE_GAPS || q.mode == MODE_EVENTS) {
		err = read_gaps_or_events(&q, &c);
		if (err)
			goto cleanup;
		if (q.mode == MODE_GAPS) {
			qsort(c.gaps, c.n, sizeof(*c.gaps), gap_cmp);
			p->gaps(&o, c.gaps, c.n);
		} else {
			size_t n = c.n;

			qsort(c.ev, n, sizeof(*c.ev), event_cmp);
			if (q.newest_first) {
				for (size_t i = 0; i < n / 2; i++) {
					struct out_event t = c.ev[i];

					c.ev[i] = c.ev[n - 1 - i];
					c.ev[n - 1 - i] = t;
				}
			}
			if (q.limit && n > q.limit)
				n = (size_t)q.limit;
			p->events(&o, c.ev, n);
		}
	} else {
		err = read_stops(&q);
		if (!err)
			err = read_flows(&q);
		if (err)
			goto cleanup;
		if (q.mode == MODE_COUNT) {
			printf("%" PRIu64 "\n", q.count);
		} else {
			size_t n = q.n_out;

			qsort(q.out, n, sizeof(*q.out), flow_cmp);
			if (q.newest_first) {
				for (size_t i = 0; i < n / 2; i++) {
					struct flow t = q.out[i];

					q.out[i] = q.out[n - 1 - i];
					q.out[n - 1 - i] = t;
				}
			}
			if (q.limit && n > q.limit)
				n = (size_t)q.limit;
			p->flows(&o, q.out, n);
		}
		/* "Not recorded" must never read as "did not happen". */
		if (q.n_gaps_in_window && !strcmp(q.format, "table"))
			cr_warn("the window contains %zu recording gap(s) (events lost or recorder "
				"down); see --gaps",
				q.n_gaps_in_window);
	}
	if (fflush(stdout)) {
		cr_err("writing output: %s", strerror(errno));
		goto cleanup;
	}
	status = q.failures ? EXIT_FAIL : EXIT_OK;
cleanup:
	if (err == -ENOMEM)
		cr_err("out of memory");
	free(c.gaps);
	free(c.ev);
	flow_table_free(&c.seen);
	query_free(&q);
	return status;
}
