// SPDX-License-Identifier: MIT
/*
 * connrec status: is a recorder running on DIR, and its counters. The numbers come from
 * DIR/connrec.status, which the store rewrites about once a second; only what the store
 * cannot know (whether the lock is held, the files on disk) is looked up here.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "commands.h"
#include "opts.h"
#include "store.h"
#include "store_internal.h"
#include "timespec.h"

struct kv {
	char key[256];
	char val[256];
};

static size_t read_status(const char *dir, struct kv *kv, size_t max)
{
	char path[PATH_MAX], line[256];
	size_t n = 0;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, SEG_STATUS_NAME);
	f = fopen(path, "re");
	if (!f)
		return 0;
	while (n < max && fgets(line, sizeof(line), f)) {
		char *eq = strchr(line, '=');

		if (!eq)
			continue;
		*eq = '\0';
		eq[strcspn(eq + 1, "\n") + 1] = '\0';
		snprintf(kv[n].key, sizeof(kv[n].key), "%s", line);
		snprintf(kv[n].val, sizeof(kv[n].val), "%s", eq + 1);
		n++;
	}
	fclose(f);
	return n;
}

static const char *get(const struct kv *kv, size_t n, const char *key)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(kv[i].key, key))
			return kv[i].val;
	return "";
}

/*
 * The pid holding the flock on the lock file, from /proc/locks; 0 when nobody holds it.
 * Looking instead of trying the lock ourselves never makes a starting recorder fail.
 */
static long lock_holder(const char *dir)
{
	char path[PATH_MAX], line[256];
	struct stat st;
	long pid = 0;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, STORE_LOCK_NAME);
	if (stat(path, &st))
		return 0;
	f = fopen("/proc/locks", "re");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		char type[16], mode[16], rw[16];
		unsigned maj, min;
		unsigned long ino;
		long p;

		if (sscanf(line, "%*[^:]: %15s %15s %15s %ld %x:%x:%lu", type, mode, rw, &p, &maj,
			   &min, &ino) != 7)
			continue;
		if (!strcmp(type, "FLOCK") && ino == st.st_ino && maj == major(st.st_dev) &&
		    min == minor(st.st_dev)) {
			pid = p;
			break;
		}
	}
	fclose(f);
	return pid;
}

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

static uint64_t dir_bytes(const char *dir)
{
	struct dirent *de;
	struct stat st;
	uint64_t total = 0;
	DIR *d = opendir(dir);

	if (!d)
		return 0;
	while ((de = readdir(d)))
		if (!fstatat(dirfd(d), de->d_name, &st, 0) && S_ISREG(st.st_mode))
			total += (uint64_t)st.st_blocks * 512;
	closedir(d);
	return total;
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
	struct seg_entry *segs = NULL;
	size_t nseg = 0, nkv, sealed = 0, waiting = 0;
	struct kv kv[32];
	char when[64], dur[32], disk[32];
	long holder;
	int err;

	err = opt_parse(&cmd_status, argc, argv, on_opt, &dir);
	if (err)
		return opt_exit_status(err);
	err = seg_list(dir, &segs, &nseg);
	if (err) {
		fprintf(stderr, "connrec status: %s: %s\n", dir, strerror(-err));
		return EXIT_FAIL;
	}
	nkv = read_status(dir, kv, sizeof(kv) / sizeof(kv[0]));
	holder = lock_holder(dir);
	for (size_t i = 0; i < nseg; i++) {
		if (segs[i].has_zst && !segs[i].has_raw)
			sealed++;
		else if (i + 1 < nseg)
			waiting++;
	}
	human_bytes(dir_bytes(dir), disk, sizeof(disk));
	free(segs);

	printf("data dir:    %s\n", dir);
	if (holder > 0) {
		int64_t start = strtoll(get(kv, nkv, "start_ns"), NULL, 10);

		ts_format_duration(start ? ts_now_ns() - start : 0, dur, sizeof(dur));
		printf("recorder:    running, pid %ld, up %s\n", holder, dur);
	} else {
		int64_t upd = strtoll(get(kv, nkv, "updated_ns"), NULL, 10);

		if (upd && !ts_format_time(upd, 0, when, sizeof(when)))
			printf("recorder:    not running (last update %s, state %s)\n", when,
			       get(kv, nkv, "state"));
		else
			printf("recorder:    not running\n");
	}
	if (nkv) {
		printf("events:      %s written (%s connections, %s ends), %s/s\n",
		       get(kv, nkv, "events"), get(kv, nkv, "conns"), get(kv, nkv, "ends"),
		       get(kv, nkv, "events_per_s"));
		printf("lost events: %s (of which dropped on a full disk: %s)\n",
		       get(kv, nkv, "lost_events"), get(kv, nkv, "rows_dropped"));
		printf("queue:       %s rows waiting, %s failed flushes, last error: %s\n",
		       get(kv, nkv, "queued"), get(kv, nkv, "flush_failures"),
		       get(kv, nkv, "last_error"));
	}
	printf("segments:    %zu (%zu sealed, %zu waiting to be sealed, %s active)\n", nseg,
	       sealed, waiting, nseg > sealed + waiting ? "1" : "0");
	printf("disk use:    %s\n", disk);
	return holder > 0 ? EXIT_OK : EXIT_FAIL;
}
