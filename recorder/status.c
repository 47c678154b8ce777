// SPDX-License-Identifier: MIT
/*
 * connrec status: is a recorder running on DIR, and its counters. Everything comes from the
 * store's outside view of a data dir (store_dir.h): the status file the recorder rewrites
 * about once a second, who holds the lock, and the segment files on disk. The status file is
 * a file like any other: its text is escaped before it reaches a terminal.
 */
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "escape.h"
#include "jsonl.h"
#include "opts.h"
#include "store.h"
#include "store_dir.h"
#include "timespec.h"

/* What status shows, gathered once; each format prints all of it. */
struct status_view {
	const char *dir;
	long holder; /* pid of the recorder holding the lock, or <= 0 */
	bool has_status;
	struct store_status st;
	struct store_dir_usage u;
	int64_t uptime_ns; /* when running */
};

/* Sealing and anchor lines, when the status file is from a recorder that has them. */
static void print_sealing(const struct store_status *st)
{
	if (st->seal_epoch >= 0)
		printf("sealing:     key at epoch %" PRId64 ", %" PRIu64
		       " checkpoint and seal records made\n",
		       st->seal_epoch, st->records_made);
	else
		printf("sealing:     no sealing key (connrec keygen), %" PRIu64
		       " records made without a MAC\n",
		       st->records_made);
	printf("syslog:      %" PRIu64 " anchor lines sent, %" PRIu64 " not sent\n",
	       st->anchor_sent, st->anchor_failed);
}

static void print_text(const struct status_view *v)
{
	const struct store_status *st = &v->st;
	char when[64], dur[32], disk[32], state[sizeof(st->state) * 4],
		error[sizeof(st->last_error) * 4], tamper[sizeof(st->last_tamper) * 4];

	ts_format_size(v->u.disk_bytes, disk, sizeof(disk));
	printf("data dir:    %s\n", v->dir);
	if (v->holder > 0) {
		ts_format_duration(v->uptime_ns, dur, sizeof(dur));
		printf("recorder:    running, pid %ld, up %s\n", v->holder, dur);
	} else if (st->updated_ns && !ts_format_time(st->updated_ns, 0, when, sizeof(when))) {
		printf("recorder:    not running (last update %s, state %s)\n", when,
		       cr_escape(st->state, state, sizeof(state)));
	} else {
		printf("recorder:    not running\n");
	}
	if (v->has_status) {
		printf("events:      %" PRIu64 " written (%" PRIu64 " connections, %" PRIu64
		       " ends), %.1f/s\n",
		       st->events, st->conns, st->ends, st->events_per_s);
		printf("lost events: %" PRIu64 " (of which dropped on a full disk: %" PRIu64 ")\n",
		       st->lost_events, st->rows_dropped);
		printf("queue:       %" PRIu64 " rows waiting, %" PRIu64
		       " failed flushes, last error: %s\n",
		       st->queued, st->flush_failures,
		       cr_escape(st->last_error, error, sizeof(error)));
		/* Hooks detached or files removed by someone else, then healed (a tamper gap each). */
		printf("tamper:      %" PRIu64 " events this run, last: %s\n", st->tamper_events,
		       st->last_tamper[0] ? cr_escape(st->last_tamper, tamper, sizeof(tamper))
					  : "none");
		/* Said as long as it lasts: the status file is written in place, disk full or not. */
		if (st->failing_since_ns &&
		    !ts_format_time(st->failing_since_ns, 0, when, sizeof(when)))
			printf("store:       NOT WRITABLE since %s (%s): events wait in memory\n", when,
			       error);
		if (st->unstored_events)
			printf("unstored:    %" PRIu64 " events the last stop could not store (a lost "
			       "gap at the next start)\n",
			       st->unstored_events);
		if (st->seal_known)
			print_sealing(st);
	}
	printf("segments:    %zu (%zu sealed, %zu waiting to be sealed, %zu active)\n",
	       v->u.segments, v->u.sealed, v->u.waiting, v->u.active);
	printf("disk use:    %s\n", disk);
}

/*
 * One JSON line. The counters are the status file's (the last recorder's, even when none
 * runs now); they are null when there is no status file.
 */
static void print_json(const struct status_view *v)
{
	const struct store_status *st = &v->st;
	bool running = v->holder > 0, s = v->has_status;
	struct jsonl j;

	jsonl_begin(&j, stdout);
	jsonl_str(&j, "data_dir", v->dir);
	jsonl_bool(&j, "running", running);
	jsonl_int_if(&j, "pid", running, v->holder);
	jsonl_int_if(&j, "uptime_ns", running, v->uptime_ns);
	jsonl_str(&j, "state", s ? st->state : NULL);
	jsonl_str(&j, "version", s ? st->version : NULL);
	jsonl_int_if(&j, "updated_ns", s, st->updated_ns);
#define COUNTER(name) jsonl_uint_if(&j, #name, s, st->name)
	COUNTER(events);
	COUNTER(conns);
	COUNTER(ends);
	COUNTER(gaps);
	jsonl_rate_if(&j, "events_per_s", s, st->events_per_s);
	COUNTER(lost_events);
	COUNTER(rows_dropped);
	COUNTER(rows_rejected);
	COUNTER(queued);
	COUNTER(flush_failures);
	COUNTER(tamper_events);
	COUNTER(unstored_events);
	jsonl_uint_if(&j, "records_made", s && st->seal_known, st->records_made);
	jsonl_int_if(&j, "seal_epoch", s && st->seal_epoch >= 0, st->seal_epoch);
	jsonl_uint_if(&j, "anchor_sent", s && st->seal_known, st->anchor_sent);
	jsonl_uint_if(&j, "anchor_failed", s && st->seal_known, st->anchor_failed);
#undef COUNTER
	jsonl_str(&j, "last_error", s ? st->last_error : NULL);
	jsonl_str(&j, "last_tamper", s ? st->last_tamper : NULL);
	jsonl_int_if(&j, "failing_since_ns", s && st->failing_since_ns, st->failing_since_ns);
	jsonl_uint(&j, "segments", v->u.segments);
	jsonl_uint(&j, "segments_sealed", v->u.sealed);
	jsonl_uint(&j, "segments_waiting", v->u.waiting);
	jsonl_uint(&j, "segments_active", v->u.active);
	jsonl_uint(&j, "disk_bytes", v->u.disk_bytes);
	jsonl_end(&j);
}

enum { OPT_DATA_DIR = OPT_FIRST, OPT_FORMAT };

static const struct opt status_options[] = {
	OPT_ROW_DATA_DIR(OPT_DATA_DIR),
	OPT_ROW_FORMAT(OPT_FORMAT, "text json", "text (default) or json (one line)"),
	{ 0 },
};

struct status_args {
	const char *dir;
	bool json;
};

static int on_opt(void *ctx, const struct opt *o, const char *arg)
{
	struct status_args *a = ctx;

	switch (o->id) {
	case OPT_DATA_DIR:
		a->dir = arg;
		break;
	case OPT_FORMAT:
		if (strcmp(arg, "text") && strcmp(arg, "json"))
			return opt_bad_value(o, arg, "expected text or json");
		a->json = !strcmp(arg, "json");
		break;
	}
	return 0;
}

static int status_run(int argc, char **argv);

const struct opt_cmd cmd_status = {
	.name = "status",
	.summary = "show whether a recorder runs on a store, and its counters",
	.synopsis = "[-d DIR] [--format text|json]",
	.description =
		"Shows whether a recorder is running on DIR, its uptime, events/s, lost events,\n"
		"tamper events (its hooks detached or files removed by someone else, then healed),\n"
		"segments and disk use.\n",
	.epilog = "Exit status: 0 a recorder is running, 1 none is (or DIR is not a store),\n"
		  "2 bad usage.\n\n"
		  "Examples:\n"
		  "  connrec status -d /var/lib/connrec\n"
		  "  connrec status --format json\n",
	.opts = status_options,
	.run = status_run,
};

static int status_run(int argc, char **argv)
{
	struct status_args a = { .dir = STORE_DEFAULT_DIR };
	struct status_view v = { 0 };
	int err;

	err = opt_parse(&cmd_status, argc, argv, on_opt, &a);
	if (err)
		return opt_exit_status(err);
	v.dir = a.dir;
	err = store_dir_usage(v.dir, &v.u);
	if (err) {
		fprintf(stderr, "connrec status: %s: %s\n", v.dir, strerror(-err));
		return EXIT_FAIL;
	}
	v.has_status = !store_status_read(v.dir, &v.st);
	v.holder = store_lock_holder(v.dir);
	if (v.holder > 0 && v.st.start_ns)
		v.uptime_ns = ts_now_ns() - v.st.start_ns;
	if (a.json)
		print_json(&v);
	else
		print_text(&v);
	return v.holder > 0 ? EXIT_OK : EXIT_FAIL;
}
