// SPDX-License-Identifier: MIT
/*
 * DIR/connrec.status: the store's counters as key=value lines for `connrec status`, rewritten
 * in place about once a second (a reader may, rarely, see a mix of two writes: each line is
 * whole). The next store_open also reads it to learn whether the previous run stopped cleanly,
 * when it last wrote, and what its final flush could not store. Written and parsed here only
 * (store_status_read() in store_dir.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fileio.h"
#include "log.h"
#include "store_dir.h"
#include "anchor.h"
#include "store_internal.h"

#define RATE_WINDOW_NS (5 * NS_PER_SEC)

/*
 * The file keeps this size and is rewritten in place, within blocks it already has: so it can
 * still say "not writable" when the disk is full, which a new file (tmp + rename) could not.
 */
#define STATUS_BYTES 4096

void status_open(struct store *s)
{
	char path[PATH_MAX + 64];
	int fd;

	path_in(s, path, sizeof(path), SEG_STATUS_NAME);
	fd = cr_open_private(path, O_RDWR);
	if (fd < 0) {
		if (!s->status_warned)
			cr_warn("store: %s: %s; no status file", path, cr_open_strerror(fd));
		s->status_warned = true;
		return;
	}
	s->status_warned = false;
	/* Its room, taken while there is some; a full disk now only delays that to a later run. */
	if (posix_fallocate(fd, 0, STATUS_BYTES))
		cr_debug("store: cannot preallocate %s", path);
	s->status_fd = fd;
}

/*
 * Written in place, the file would go on being written after someone removed or replaced it,
 * under no name; so its name is checked against the open file first, and opened again (a
 * symlink planted there is refused) when they differ.
 */
static void status_reopen_if_gone(struct store *s)
{
	char path[PATH_MAX + 64];
	struct stat named, open_st;

	path_in(s, path, sizeof(path), SEG_STATUS_NAME);
	if (s->status_fd >= 0 && !lstat(path, &named) && !fstat(s->status_fd, &open_st) &&
	    named.st_ino == open_st.st_ino && named.st_dev == open_st.st_dev)
		return;
	if (s->status_fd >= 0)
		close(s->status_fd);
	s->status_fd = -1;
	status_open(s);
}

void status_write(struct store *s, const char *state)
{
	char buf[STATUS_BYTES];
	int64_t now = seg_now_ns();
	uint64_t events = s->stats.conns_written + s->stats.ends_written;
	int64_t mono = mono_ns();
	struct anchor_stats an = anchor_get_stats(s->anchor);
	int n;

	if (!s->rate_t0_ns) {
		s->rate_t0_ns = mono;
		s->rate_ev0 = events;
	} else if (mono - s->rate_t0_ns >= RATE_WINDOW_NS) {
		s->rate = (double)(events - s->rate_ev0) * 1e9 / (double)(mono - s->rate_t0_ns);
		s->rate_t0_ns = mono;
		s->rate_ev0 = events;
	}
	status_reopen_if_gone(s);
	if (s->status_fd < 0)
		return;
	n = snprintf(buf, sizeof(buf),
		     "state=%s\npid=%d\nversion=%s\nstart_ns=%" PRId64 "\nupdated_ns=%" PRId64
		     "\nactive_seq=%" PRIu32 "\nevents=%" PRIu64 "\nconns=%" PRIu64
		     "\nends=%" PRIu64 "\ngaps=%" PRIu64 "\nevents_per_s=%.1f\nlost_events=%" PRIu64
		     "\nrows_dropped=%" PRIu64 "\nrows_rejected=%" PRIu64 "\nqueued=%" PRIu64
		     "\nflush_failures=%" PRIu64 "\nsegments_sealed=%" PRIu64
		     "\nsegments_deleted=%" PRIu64 "\nrecords_made=%" PRIu64 "\nseal_epoch=%" PRId64
		     "\nanchor_sent=%" PRIu64 "\nanchor_failed=%" PRIu64
		     "\nlast_error=%s\ntamper_events=%" PRIu64
		     "\nlast_tamper=%s\nfailing_since_ns=%" PRId64 "\nunstored_events=%" PRIu64 "\n",
		     state, (int)getpid(), s->version, s->start_ns, now, s->w ? s->w->seq : 0,
		     events, s->stats.conns_written, s->stats.ends_written, s->stats.gaps_written,
		     s->rate, s->stats.lost_events, s->stats.rows_dropped, s->stats.rows_rejected,
		     s->stats.queued, s->stats.flush_failures, s->stats.segments_sealed,
		     s->stats.segments_deleted, s->stats.records_made, s->stats.seal_epoch, an.sent,
		     an.failed, s->fail_err ? strerror(-s->fail_err) : "none",
		     s->stats.tamper_events, s->last_tamper[0] ? s->last_tamper : "none",
		     s->fail_since_ns, s->unstored);
	if (n < 0 || n >= (int)sizeof(buf))
		n = (int)sizeof(buf) - 1;
	/* Blank lines fill the rest: one write of the whole file, never a shorter one. */
	memset(buf + n, '\n', sizeof(buf) - (size_t)n);
	if (pwrite(s->status_fd, buf, sizeof(buf), 0) == (ssize_t)sizeof(buf))
		s->status_ns = mono;
}

/* One key=value line of the status file into *st; unknown keys are skipped. */
static void status_parse_line(struct store_status *st, const char *key, const char *val)
{
	static const struct {
		const char *key;
		size_t off;
	} nums[] = {
#define NUM(k) { #k, offsetof(struct store_status, k) }
		NUM(active_seq),     NUM(events),	  NUM(conns),
		NUM(ends),	     NUM(gaps),		  NUM(lost_events),
		NUM(rows_dropped),   NUM(rows_rejected),  NUM(queued),
		NUM(flush_failures), NUM(segments_sealed), NUM(segments_deleted),
		NUM(tamper_events),
		NUM(unstored_events),
		NUM(records_made),   NUM(anchor_sent),	  NUM(anchor_failed),
#undef NUM
	};

	if (!strcmp(key, "state"))
		snprintf(st->state, sizeof(st->state), "%s", val);
	else if (!strcmp(key, "version"))
		snprintf(st->version, sizeof(st->version), "%s", val);
	else if (!strcmp(key, "last_error"))
		snprintf(st->last_error, sizeof(st->last_error), "%s", val);
	else if (!strcmp(key, "last_tamper"))
		snprintf(st->last_tamper, sizeof(st->last_tamper), "%s", val);
	else if (!strcmp(key, "pid"))
		st->pid = strtoll(val, NULL, 10);
	else if (!strcmp(key, "start_ns"))
		st->start_ns = strtoll(val, NULL, 10);
	else if (!strcmp(key, "updated_ns"))
		st->updated_ns = strtoll(val, NULL, 10);
	else if (!strcmp(key, "failing_since_ns"))
		st->failing_since_ns = strtoll(val, NULL, 10);
	else if (!strcmp(key, "seal_epoch")) {
		st->seal_epoch = strtoll(val, NULL, 10);
		st->seal_known = true;
	}
	else if (!strcmp(key, "events_per_s"))
		st->events_per_s = strtod(val, NULL);
	for (size_t i = 0; i < sizeof(nums) / sizeof(nums[0]); i++)
		if (!strcmp(key, nums[i].key))
			*(uint64_t *)((char *)st + nums[i].off) = strtoull(val, NULL, 10);
}

int store_status_read(const char *dir, struct store_status *st)
{
	char path[PATH_MAX + 32], line[512];
	FILE *f;

	memset(st, 0, sizeof(*st));
	st->seal_epoch = -1;
	snprintf(path, sizeof(path), "%s/%s", dir, SEG_STATUS_NAME);
	f = cr_fopen_regular(path);
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		char *eq = strchr(line, '=');

		if (!eq)
			continue;
		*eq = '\0';
		eq[1 + strcspn(eq + 1, "\n")] = '\0';
		status_parse_line(st, line, eq + 1);
	}
	fclose(f);
	return 0;
}
