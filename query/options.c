// SPDX-License-Identifier: MIT
/*
 * The command line of `connrec query`. A bad value gets one line naming the flag on stderr
 * (the caller exits 2); values are checked here, once, so the rest of the query trusts them.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "schema_values.h"
#include "log.h"
#include "query.h"
#include "store.h"
#include "timespec.h"

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

/* The time options as given: they are parsed after the loop, "now" first. */
struct times {
	const char *since, *until, *at, *now;
};

/* One option from getopt_long(): 0, 1 after --help, or a negative errno. */
static int parse_option(struct query *q, int c, const char *a, char **argv, struct times *t)
{
	int64_t d;
	int err;

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
		t->since = a;
		break;
	case OPT_UNTIL:
		t->until = a;
		break;
	case OPT_AT:
		t->at = a;
		break;
	case OPT_NOW:
		t->now = a;
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
			q->ff.proto = CR_PROTO_TCP;
		else if (!strcmp(a, "udp"))
			q->ff.proto = CR_PROTO_UDP;
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
			return bad("cgroup", a, "expected a comma-separated list of numbers, got");
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

		if (!*a || strlen(a) >= sizeof(buf) || a[strlen(a) - 1] == ',' || a[0] == ',' ||
		    strstr(a, ",,"))
			return bad("state", a, "expected states like SF,REJ, got");
		snprintf(buf, sizeof(buf), "%s", a);
		q->ff.states = 0;
		for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
			int bit = flow_state_bit(tok);

			if (bit < 0)
				return bad("state", tok,
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
			return bad("short-lived", a, "expected a duration like 500ms, 1s, got");
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
			return bad("max-unpacked", a, "expected a size like 512M or 64G, got");
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
	return 0;
}

/* What no single option can judge: combinations, and the times relative to "now". */
static int check_args(struct query *q, int argc, char **argv, const struct times *t)
{
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
	if (t->now && ts_parse_time(t->now, q->ff.now, &q->ff.now))
		return bad("now", t->now, "expected a time, got");
	if (t->at && (t->since || t->until)) {
		fprintf(stderr, "connrec: query: --at excludes --since and --until\n");
		return -EINVAL;
	}
	if (t->at) {
		if (ts_parse_time(t->at, q->ff.now, &q->ff.since))
			return bad("at", t->at,
				   "expected a time like 2026-11-21T03:14:00Z or 10m, got");
		q->ff.until = q->ff.since;
	}
	if (t->since && ts_parse_time(t->since, q->ff.now, &q->ff.since))
		return bad("since", t->since,
			   "expected a time like 2026-11-21T03:14:00Z or 10m, got");
	if (t->until && ts_parse_time(t->until, q->ff.now, &q->ff.until))
		return bad("until", t->until,
			   "expected a time like 2026-11-21T03:14:00Z or 10m, got");
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

int query_parse_args(struct query *q, int argc, char **argv)
{
	struct times t = { 0 };
	int c, err;

	q->ff.now = ts_now_ns();
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":d:f:o:vh", long_opts, NULL)) != -1) {
		err = parse_option(q, c, optarg, argv, &t);
		if (err)
			return err;
	}
	return check_args(q, argc, argv, &t);
}
