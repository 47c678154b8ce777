// SPDX-License-Identifier: MIT
/*
 * connrec status: is a recorder running on DIR, and its counters. Everything comes from the
 * store's outside view of a data dir (store_dir.h): the status file the recorder rewrites
 * about once a second, who holds the lock, and the segment files on disk.
 */
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "opts.h"
#include "store.h"
#include "store_dir.h"
#include "timespec.h"

static void human_bytes(uint64_t b, char *buf, size_t len)
{
	static const char *const unit[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	double v = (double)b;
	int u = 0;

	while (v >= 1024 && u < 4) {
		v /= 1024;
		u++;
	}
	snprintf(buf, len, u ? "%.1f %s" : "%.0f %s", v, unit[u]);
}

enum { OPT_DATA_DIR = OPT_FIRST };

static const struct opt status_options[] = {
	OPT_ROW_DATA_DIR(OPT_DATA_DIR),
	{ 0 },
};

static int on_opt(void *ctx, const struct opt *o, const char *arg)
{
	const char **dir = ctx;

	if (o->id == OPT_DATA_DIR)
		*dir = arg;
	return 0;
}

static int status_run(int argc, char **argv);

const struct opt_cmd cmd_status = {
	.name = "status",
	.summary = "show whether a recorder runs on a store, and its counters",
	.synopsis = "[-d DIR]",
	.description =
		"Shows whether a recorder is running on DIR, its uptime, events/s, lost events,\n"
		"segments and disk use.\n",
	.epilog = "Exit status: 0 a recorder is running, 1 none is (or DIR is not a store),\n"
		  "2 bad usage.\n\n"
		  "Example:\n"
		  "  connrec status -d /var/lib/connrec\n",
	.opts = status_options,
	.run = status_run,
};

static int status_run(int argc, char **argv)
{
	const char *dir = STORE_DEFAULT_DIR;
	struct store_dir_usage u;
	struct store_status st;
	char when[64], dur[32], disk[32];
	bool has_status;
	long holder;
	int err;

	err = opt_parse(&cmd_status, argc, argv, on_opt, &dir);
	if (err)
		return opt_exit_status(err);
	err = store_dir_usage(dir, &u);
	if (err) {
		fprintf(stderr, "connrec status: %s: %s\n", dir, strerror(-err));
		return EXIT_FAIL;
	}
	has_status = !store_status_read(dir, &st);
	holder = store_lock_holder(dir);
	human_bytes(u.disk_bytes, disk, sizeof(disk));

	printf("data dir:    %s\n", dir);
	if (holder > 0) {
		ts_format_duration(st.start_ns ? ts_now_ns() - st.start_ns : 0, dur, sizeof(dur));
		printf("recorder:    running, pid %ld, up %s\n", holder, dur);
	} else if (st.updated_ns && !ts_format_time(st.updated_ns, 0, when, sizeof(when))) {
		printf("recorder:    not running (last update %s, state %s)\n", when, st.state);
	} else {
		printf("recorder:    not running\n");
	}
	if (has_status) {
		printf("events:      %" PRIu64 " written (%" PRIu64 " connections, %" PRIu64
		       " ends), %.1f/s\n",
		       st.events, st.conns, st.ends, st.events_per_s);
		printf("lost events: %" PRIu64 " (of which dropped on a full disk: %" PRIu64 ")\n",
		       st.lost_events, st.rows_dropped);
		printf("queue:       %" PRIu64 " rows waiting, %" PRIu64
		       " failed flushes, last error: %s\n",
		       st.queued, st.flush_failures, st.last_error);
	}
	printf("segments:    %zu (%zu sealed, %zu waiting to be sealed, %zu active)\n", u.segments,
	       u.sealed, u.waiting, u.active);
	printf("disk use:    %s\n", disk);
	return holder > 0 ? EXIT_OK : EXIT_FAIL;
}
