// SPDX-License-Identifier: MIT
/*
 * The command line of `connrec query`: its option table (the --help, man page check and
 * completion come from it) and the checks of the values. A bad value gets one line naming the
 * option on stderr (the caller exits 2); values are checked here, once, so the rest of the
 * query trusts them.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "schema_values.h"
#include "commands.h"
#include "log.h"
#include "opts.h"
#include "query.h"
#include "store.h"
#include "timespec.h"
#include "verify_key.h"

enum {
	OPT_DATA_DIR = OPT_FIRST,
	OPT_FILE,
	OPT_FORMAT,
	OPT_SINCE,
	OPT_UNTIL,
	OPT_AT,
	OPT_PORT,
	OPT_LPORT,
	OPT_RPORT,
	OPT_ADDR,
	OPT_PROTO,
	OPT_PID,
	OPT_COMM,
	OPT_NAME,
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
	OPT_DNS,
	OPT_NO_CHECK,
	OPT_VERIFY_KEY,
	OPT_PAGER,
	OPT_NO_PAGER,
	OPT_MAX_UNPACKED,
	OPT_NOW,
	OPT_VERBOSE,
	OPT_FROM,
	OPT_AUTH,
	OPT_DATABASE,
	OPT_TIMEOUT,
	OPT_EXE,
	OPT_ARGS,
	OPT_PPID,
	OPT_CONTAINER,
	OPT_UNIT,
	OPT_PROCS,
};

static const struct opt query_options[] = {
	OPT_ROW_HEADING("Sources"),
	OPT_ROW_DATA_DIR(OPT_DATA_DIR),
	OPT_ROW_FILE(OPT_FILE, "a segment file (.db or .db.zst); repeat for several hosts"),
	{ .id = OPT_FROM, .name = "from", .arg = OPT_REQUIRED, .metavar = "URL",
	  .help = "the segments shipped to a ClickHouse server (connrec ship):\n"
		  "http[s]://[USER[:PASSWORD]@]HOST:PORT" },
	{ .id = OPT_AUTH, .name = "auth", .arg = OPT_REQUIRED, .metavar = "FILE",
	  .help = "--from: read USER[:PASSWORD] from FILE (one line)" },
	{ .id = OPT_DATABASE, .name = "database", .arg = OPT_REQUIRED, .metavar = "DB",
	  .help = "--from: the database (default " CH_DEFAULT_DATABASE ")" },
	{ .id = OPT_TIMEOUT, .name = "timeout", .arg = OPT_REQUIRED, .metavar = "DUR",
	  .help = "--from: give up when the server stalls for DUR (default 5m)" },
	OPT_ROW_HEADING("Time (relative 90s 10m 1h 2d, or 2026-11-21T03:14:00Z, '2026-11-21 03:14' "
			"local)"),
	{ .id = OPT_SINCE, .name = "since", .arg = OPT_REQUIRED, .metavar = "T",
	  .help = "flows whose lifetime overlaps the window" },
	{ .id = OPT_UNTIL, .name = "until", .arg = OPT_REQUIRED, .metavar = "T",
	  .help = "end of the window (default now)" },
	{ .id = OPT_AT, .name = "at", .arg = OPT_REQUIRED, .metavar = "T",
	  .help = "flows open at that instant" },
	{ .id = OPT_NOW, .name = "now", .arg = OPT_REQUIRED,
	  .metavar = "T" }, /* hidden: a fixed "now" for tests */
	OPT_ROW_HEADING("Filters (all combine with AND; lists are comma-separated, or @FILE: one\n"
			"entry per line, '#' comments, @- for stdin)"),
	{ .id = OPT_PORT, .name = "port", .arg = OPT_REQUIRED, .metavar = "N[,N-M]",
	  .help = "either end" },
	{ .id = OPT_LPORT, .name = "lport", .arg = OPT_REQUIRED, .metavar = "N[,N-M]",
	  .help = "the local end" },
	{ .id = OPT_RPORT, .name = "rport", .arg = OPT_REQUIRED, .metavar = "N[,N-M]",
	  .help = "the remote end" },
	{ .id = OPT_ADDR, .name = "addr", .arg = OPT_REQUIRED, .metavar = "CIDR[,...]",
	  .help = "either end, IPv4 or IPv6 (IPv4 also matches ::ffff:a.b.c.d)" },
	{ .id = OPT_PROTO, .name = "proto", .arg = OPT_REQUIRED, .metavar = "PROTO",
	  .help = "tcp or udp", .values = "tcp udp" },
	{ .id = OPT_PID, .name = "pid", .arg = OPT_REQUIRED, .metavar = "N[,...]",
	  .help = "process ids" },
	{ .id = OPT_UID, .name = "uid", .arg = OPT_REQUIRED, .metavar = "N[,...]",
	  .help = "user ids" },
	{ .id = OPT_NETNS, .name = "netns", .arg = OPT_REQUIRED, .metavar = "N[,...]",
	  .help = "network namespace inodes" },
	{ .id = OPT_CGROUP, .name = "cgroup", .arg = OPT_REQUIRED, .metavar = "N[,...]",
	  .help = "cgroup ids" },
	{ .id = OPT_COMM, .name = "comm", .arg = OPT_REQUIRED, .metavar = "NAME",
	  .help = "exact name or glob ('curl', 'isc-*')" },
	{ .id = OPT_EXE, .name = "exe", .arg = OPT_REQUIRED, .metavar = "GLOB",
	  .help = "the executable's path ('/usr/bin/curl', '*/python3*')" },
	{ .id = OPT_ARGS, .name = "args", .arg = OPT_REQUIRED, .metavar = "GLOB",
	  .help = "anywhere in the command line ('--insecure', 'http://10.*')" },
	{ .id = OPT_PPID, .name = "ppid", .arg = OPT_REQUIRED, .metavar = "N",
	  .help = "the parent's pid (the process that forked it)" },
	{ .id = OPT_CONTAINER, .name = "container", .arg = OPT_REQUIRED, .metavar = "ID",
	  .help = "container id or its prefix (at least 4 characters)" },
	{ .id = OPT_UNIT, .name = "unit", .arg = OPT_REQUIRED, .metavar = "NAME",
	  .help = "systemd unit, exact or glob ('nginx.service', '*.scope')" },
	{ .id = OPT_NAME, .name = "name", .arg = OPT_REQUIRED, .metavar = "GLOB",
	  .help = "the remote end's DNS name or a CNAME on its way ('*.example.com')" },
	{ .id = OPT_DIRECTION, .name = "direction", .arg = OPT_REQUIRED, .metavar = "DIR",
	  .help = "in, out or listen", .values = "in out listen" },
	{ .id = OPT_STATE, .name = "state", .arg = OPT_REQUIRED, .metavar = "S[,...]",
	  .help = "S0 REJ SF RSTO RSTR S1 OTH UNK LISTEN (Zeek's conn_state, and a "
		  "listener's own; see connrec-query(1))",
	  .values = "S0 REJ SF RSTO RSTR S1 OTH UNK LISTEN" },
	{ .id = OPT_MIN_DUR, .name = "min-duration", .arg = OPT_REQUIRED, .metavar = "D",
	  .help = "lived at least D" },
	{ .id = OPT_MAX_DUR, .name = "max-duration", .arg = OPT_REQUIRED, .metavar = "D",
	  .help = "lived at most D" },
	{ .id = OPT_SHORT, .name = "short-lived", .arg = OPT_OPTIONAL, .metavar = "D",
	  .help = "ended within D (default 1s), whole life inside the window" },
	OPT_ROW_HEADING("Output"),
	OPT_ROW_FORMAT(OPT_FORMAT, "table json csv zeek", "table (default), json, csv, zeek"),
	{ .id = OPT_LIMIT, .name = "limit", .arg = OPT_REQUIRED, .metavar = "N",
	  .help = "at most N rows" },
	{ .id = OPT_ORDER, .name = "order", .arg = OPT_REQUIRED, .metavar = "ORDER",
	  .help = "oldest (default) or newest first", .values = "oldest newest" },
	{ .id = OPT_NEWEST, .name = "newest", .help = "--order newest" },
	{ .id = OPT_OLDEST, .name = "oldest", .help = "--order oldest" },
	{ .id = OPT_EVENTS, .name = "events",
	  .help = "the raw stored events instead of lifetimes" },
	{ .id = OPT_GAPS, .name = "gaps", .help = "the recording gaps in the window" },
	{ .id = OPT_COUNT, .name = "count", .help = "only the number of matching lifetimes" },
	{ .id = OPT_PROCS, .name = "procs",
	  .help = "the process lives in the window, with their flow counts" },
	{ .id = OPT_DNS, .name = "dns",
	  .help = "the DNS answers received (time, process, question, rcode, records)" },
	{ .id = OPT_PAGER, .name = "pager",
	  .help = "page the output through $PAGER (or less) when stdout is a terminal; "
		  "without it, only when PAGER is set" },
	{ .id = OPT_NO_PAGER, .name = "no-pager", .help = "never page, even when PAGER is set" },
	OPT_ROW_HEADING("Evidence"),
	{ .id = OPT_NO_CHECK, .name = "no-check",
	  .help = "skip PRAGMA quick_check (the schema is still checked)" },
	{ .id = OPT_VERIFY_KEY, .name = "verify-key", .arg = OPT_REQUIRED, .metavar = "KEY",
	  .help = "skip quick_check only for sealed segments whose seal record carries a right "
		  "MAC for this verification key (KEYID-KEY as keygen printed it, or @FILE)" },
	{ .id = OPT_MAX_UNPACKED, .name = "max-unpacked", .arg = OPT_REQUIRED, .metavar = "SIZE",
	  .help = "cap on the private copies of segments, all together (default:\n"
		  "16G or half the free space of $TMPDIR, whichever is smaller)" },
	OPT_ROW_VERBOSE(OPT_VERBOSE),
	{ 0 },
};

const struct opt_cmd cmd_query = {
	.name = "query",
	.summary = "rebuild connection lifetimes from a live or copied store",
	.synopsis = "[-d DIR | -f FILE...] [FILTERS] [--format FMT] "
		    "[--events|--gaps|--count|--dns]",
	.description = "Rebuilds each endpoint's lifetime (start, end, duration, bytes, outcome)\n"
		       "from a live store or copied segment files. Evidence is opened read-only;\n"
		       "nothing is written beside it.\n",
	.epilog = "Examples:\n"
		  "  connrec query --since 1h --port 53\n"
		  "  connrec query --since 10m --short-lived\n"
		  "  connrec query -f evidence/seg-00000007.db.zst --at '2026-11-20 03:14:00'\n"
		  "  connrec query --since 1d --comm 'curl' --format json\n"
		  "  connrec query --since 1d --name '*.example.com'\n"
		  "  connrec query --dns --since 1h --pid 4242\n",
	.operands = "FILE",
	.opts = query_options,
	.run = query_run,
};

/* The row of an option, for messages about values checked after the loop. */
static const struct opt *row(int id)
{
	const struct opt *o = query_options;

	while (o->id != id)
		o++;
	return o;
}

/* The time options as given: they are parsed after the loop, "now" first. */
struct times {
	const char *since, *until, *at, *now;
};

struct parse_ctx {
	struct query *q;
	struct times t;
};

static int add_file(struct query *q, const char *path)
{
	const char **v = realloc(q->files, (q->n_files + 1) * sizeof(*v));

	if (!v)
		return -ENOMEM;
	q->files = v;
	v[q->n_files++] = path;
	return 0;
}

/* One option (o->id) with its value a: 0 or a negative errno, the message printed. */
static int on_opt(void *ctx, const struct opt *o, const char *a)
{
	struct parse_ctx *pc = ctx;
	struct query *q = pc->q;
	struct times *t = &pc->t;
	int64_t d;

	switch (o->id) {
	case OPT_DATA_DIR:
		q->dir = a;
		break;
	case OPT_OPERAND:
		/* "-f a -f b" and "-f a b" both name the files a and b. */
		if (!q->n_files)
			return opt_usage_error("unexpected argument '%s'", a);
		return add_file(q, a);
	case OPT_FILE:
		return add_file(q, a);
	case OPT_FORMAT:
		if (!out_find(a))
			return opt_bad_value(o, a, "expected table, json, csv or zeek");
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
		return query_list_ports(o, a, &q->ff.ports, &q->ff.n_ports);
	case OPT_LPORT:
		return query_list_ports(o, a, &q->ff.lports, &q->ff.n_lports);
	case OPT_RPORT:
		return query_list_ports(o, a, &q->ff.rports, &q->ff.n_rports);
	case OPT_ADDR:
		return query_list_addrs(o, a, &q->ff.addrs, &q->ff.n_addrs);
	case OPT_PROTO:
		if (!strcmp(a, "tcp"))
			q->ff.proto = CR_PROTO_TCP;
		else if (!strcmp(a, "udp"))
			q->ff.proto = CR_PROTO_UDP;
		else
			return opt_bad_value(o, a, "expected tcp or udp");
		break;
	case OPT_PID:
		return query_list_u32s(o, a, &q->ff.pids, &q->ff.n_pids);
	case OPT_UID:
		return query_list_u32s(o, a, &q->ff.uids, &q->ff.n_uids);
	case OPT_NETNS:
		return query_list_u32s(o, a, &q->ff.netns, &q->ff.n_netns);
	case OPT_CGROUP:
		return query_list_u64s(o, a, &q->ff.cgroups, &q->ff.n_cgroups);
	case OPT_COMM:
		if (!*a || strlen(a) > 64)
			return opt_bad_value(o, a, "expected a process name or glob");
		q->ff.comm = a;
		break;
	case OPT_NAME:
		if (!*a || strlen(a) > 1024)
			return opt_bad_value(o, a, "expected a name or glob like '*.example.com'");
		q->ff.name = a;
		break;
	case OPT_DIRECTION:
		if (!strcmp(a, "out"))
			q->ff.dir = CR_DIR_OUT;
		else if (!strcmp(a, "in"))
			q->ff.dir = CR_DIR_IN;
		else if (!strcmp(a, "listen"))
			q->ff.dir = CR_DIR_LISTEN;
		else
			return opt_bad_value(o, a, "expected in, out or listen");
		break;
	case OPT_STATE: {
		char buf[128], *tok, *save = NULL;

		if (!*a || strlen(a) >= sizeof(buf) || a[strlen(a) - 1] == ',' || a[0] == ',' ||
		    strstr(a, ",,"))
			return opt_bad_value(o, a, "expected states like SF,REJ");
		snprintf(buf, sizeof(buf), "%s", a);
		q->ff.states = 0;
		for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
			int bit = flow_state_bit(tok);

			if (bit < 0)
				return opt_bad_value(o, tok,
						     "expected S0 REJ SF RSTO RSTR S1 OTH UNK or LISTEN");
			q->ff.states |= 1u << bit;
		}
		break;
	}
	case OPT_MIN_DUR:
	case OPT_MAX_DUR:
		if (ts_parse_duration(a, &d))
			return opt_bad_value(o, a, "expected a duration like 500ms, 90s, 1h");
		*(o->id == OPT_MIN_DUR ? &q->ff.min_dur : &q->ff.max_dur) = d;
		break;
	case OPT_SHORT:
		d = TS_NSEC_PER_SEC;
		if (a && ts_parse_duration(a, &d))
			return opt_bad_value(o, a, "expected a duration like 500ms, 1s");
		q->ff.short_lived = d;
		break;
	case OPT_LIMIT: {
		uint64_t *v;
		size_t n;

		if (query_parse_uints(a, UINT64_MAX, &v, &n))
			return opt_bad_value(o, a, "expected a positive number");
		q->limit = n == 1 ? v[0] : 0;
		free(v);
		if (!q->limit)
			return opt_bad_value(o, a, "expected a positive number");
		break;
	}
	case OPT_ORDER:
		if (!strcmp(a, "newest"))
			q->newest_first = true;
		else if (!strcmp(a, "oldest"))
			q->newest_first = false;
		else
			return opt_bad_value(o, a, "expected newest or oldest");
		break;
	case OPT_NEWEST:
		q->newest_first = true;
		break;
	case OPT_OLDEST:
		q->newest_first = false;
		break;
	case OPT_EXE:
	case OPT_ARGS:
	case OPT_UNIT:
		if (!*a || strlen(a) > 256)
			return opt_bad_value(o, a, "expected a glob of 1 to 256 characters");
		*(o->id == OPT_EXE ? &q->wf.exe : o->id == OPT_ARGS ? &q->wf.args : &q->wf.unit) = a;
		break;
	case OPT_PPID: {
		uint64_t *v = NULL;
		size_t n = 0;
		bool ok = !query_parse_uints(a, UINT32_MAX, &v, &n) && n == 1;

		if (ok)
			q->wf.ppid = (int64_t)v[0];
		free(v);
		if (!ok)
			return opt_bad_value(o, a, "expected one process id");
		break;
	}
	case OPT_CONTAINER: {
		size_t n = strlen(a);

		/* Ids are lowercase hex; a pod is "pod<uid>", an LXC container its name. */
		if (n < 4 || n > 80 || strspn(a, "abcdefghijklmnopqrstuvwxyz0123456789-_.") != n)
			return opt_bad_value(o, a, "expected a container id or a prefix of it");
		q->wf.container = a;
		break;
	}
	case OPT_EVENTS:
	case OPT_GAPS:
	case OPT_COUNT:
	case OPT_PROCS:
	case OPT_DNS: {
		enum mode m = o->id == OPT_EVENTS ? MODE_EVENTS
			      : o->id == OPT_GAPS ? MODE_GAPS
			      : o->id == OPT_PROCS ? MODE_PROCS
			      : o->id == OPT_DNS  ? MODE_DNS
						  : MODE_COUNT;

		if (q->mode != MODE_FLOWS && q->mode != m)
			return opt_usage_error(
				"--events, --gaps, --count, --procs and --dns exclude each other");
		q->mode = m;
		break;
	}
	case OPT_PAGER:
		q->pager = PAGER_ALWAYS;
		break;
	case OPT_NO_PAGER:
		q->pager = PAGER_NEVER;
		break;
	case OPT_NO_CHECK:
		q->open_flags |= SR_OPEN_NO_CHECK;
		break;
	case OPT_VERIFY_KEY:
		return vkey_take(o, a, &q->verify_key);
	case OPT_MAX_UNPACKED:
		if (ts_parse_size(a, &q->max_unpacked) || !q->max_unpacked)
			return opt_bad_value(o, a, "expected a size like 512M or 64G");
		break;
	case OPT_VERBOSE:
		cr_log_set_level(CR_LOG_DEBUG);
		break;
	case OPT_FROM:
		free(q->from_url);
		q->from_url = strdup(a);
		if (!q->from_url)
			return -ENOMEM;
		/* What ps shows: the password must not stay there. */
		ch_mask_password((char *)a);
		q->from.url = q->from_url;
		break;
	case OPT_AUTH:
		q->from.auth_file = a;
		break;
	case OPT_DATABASE:
		if (!ch_valid_database(a))
			return opt_bad_value(o, a, "expected 1-63 letters, digits or '_'");
		q->from.database = a;
		break;
	case OPT_TIMEOUT:
		if (ts_parse_duration(a, &d) || d < TS_NSEC_PER_SEC)
			return opt_bad_value(o, a, "expected a duration of at least 1s, like 5m");
		q->from.timeout_ns = d;
		break;
	}
	return 0;
}

/* A time option's value, parsed relative to "now". */
static int parse_time(struct query *q, int id, const char *s, int64_t *out)
{
	if (ts_parse_time(s, q->ff.now, out))
		return opt_bad_value(row(id), s,
				     "expected a time like 2026-11-21T03:14:00Z or 10m");
	return 0;
}

/* What no single option can judge: combinations, and the times relative to "now". */
static int check_args(struct query *q, const struct times *t)
{
	if (q->dir && q->n_files)
		return opt_usage_error("-d and -f exclude each other");
	if (q->from.url && (q->dir || q->n_files))
		return opt_usage_error("--from excludes -d and -f");
	if (!q->from.url && (q->from.auth_file || q->from.database || q->from.timeout_ns))
		return opt_usage_error("--auth, --database and --timeout go with --from");
	/* "now" first: the relative times below count back from it. */
	if (t->now && parse_time(q, OPT_NOW, t->now, &q->ff.now))
		return -EINVAL;
	if (t->at && (t->since || t->until))
		return opt_usage_error("--at excludes --since and --until");
	if (t->at) {
		if (parse_time(q, OPT_AT, t->at, &q->ff.since))
			return -EINVAL;
		q->ff.until = q->ff.since;
	}
	if (t->since && parse_time(q, OPT_SINCE, t->since, &q->ff.since))
		return -EINVAL;
	if (t->until && parse_time(q, OPT_UNTIL, t->until, &q->ff.until))
		return -EINVAL;
	if (q->ff.since != SR_NO_TIME && q->ff.until < q->ff.since)
		return opt_usage_error("--until is before --since");
	if (q->ff.min_dur >= 0 && q->ff.max_dur >= 0 && q->ff.max_dur < q->ff.min_dur)
		return opt_usage_error("--max-duration is below --min-duration");
	if (q->mode == MODE_DNS) {
		/* What only a lifetime has. */
		const char *which = q->ff.states	   ? "--state"
				    : q->ff.dir >= 0	   ? "--direction"
				    : q->ff.min_dur >= 0   ? "--min-duration"
				    : q->ff.max_dur >= 0   ? "--max-duration"
				    : q->ff.short_lived >= 0 ? "--short-lived"
							     : NULL;

		if (which)
			return opt_usage_error("%s does not apply to --dns", which);
	}
	if (q->mode == MODE_GAPS || q->mode == MODE_EVENTS || q->mode == MODE_PROCS) {
		const struct printer *p = out_find(q->format);
		bool none = q->mode == MODE_GAPS ? !p->gaps : q->mode == MODE_EVENTS ? !p->events
										   : !p->procs;

		if (none)
			return opt_usage_error("--format %s has no %s output", q->format,
					       q->mode == MODE_GAPS     ? "--gaps"
					       : q->mode == MODE_EVENTS ? "--events"
									: "--procs");
	}
	if ((q->mode == MODE_EVENTS || q->mode == MODE_DNS) && who_filter_set(&q->wf))
		return opt_usage_error("%s cannot filter on --exe, --args, --ppid, --container or "
				       "--unit",
				       q->mode == MODE_EVENTS ? "--events" : "--dns");
	/* The DNS tables (schema 4) are not shipped yet (docs/fleet.md). */
	if (q->from.url && (q->mode == MODE_DNS || q->ff.name))
		return opt_usage_error("--from cannot answer %s: DNS answers are not shipped yet",
				       q->mode == MODE_DNS ? "--dns" : "--name");
	if (!q->dir && !q->n_files && !q->from.url)
		q->dir = STORE_DEFAULT_DIR;
	return 0;
}

int query_parse_args(struct query *q, int argc, char **argv)
{
	struct parse_ctx pc = { .q = q };
	int err;

	q->ff.now = ts_now_ns();
	err = opt_parse(&cmd_query, argc, argv, on_opt, &pc);
	if (err)
		return err;
	return check_args(q, &pc.t);
}
