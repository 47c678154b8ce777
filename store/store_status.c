// SPDX-License-Identifier: MIT
/*
 * DIR/connrec.status: the store's counters as key=value lines for `connrec status`, replaced
 * (tmp + rename) about once a second so a reader never sees half a file. The next store_open
 * also reads it to learn whether the previous run stopped cleanly and when it last wrote.
 * Written and parsed here only (store_status_read() in store_dir.h).
 */
#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fileio.h"
#include "store_dir.h"
#include "anchor.h"
#include "store_internal.h"

#define RATE_WINDOW_NS (5 * NS_PER_SEC)

void status_write(struct store *s, const char *state)
{
	char tmp[PATH_MAX + 64], path[PATH_MAX + 64];
	int64_t now = seg_now_ns();
	uint64_t events = s->stats.conns_written + s->stats.ends_written;
	int64_t mono = mono_ns();
	struct anchor_stats an = anchor_get_stats(s->anchor);
	FILE *f;

	if (!s->rate_t0_ns) {
		s->rate_t0_ns = mono;
		s->rate_ev0 = events;
	} else if (mono - s->rate_t0_ns >= RATE_WINDOW_NS) {
		s->rate = (double)(events - s->rate_ev0) * 1e9 / (double)(mono - s->rate_t0_ns);
		s->rate_t0_ns = mono;
		s->rate_ev0 = events;
	}
	path_in(s, tmp, sizeof(tmp), SEG_STATUS_NAME ".tmp");
	path_in(s, path, sizeof(path), SEG_STATUS_NAME);
	f = fopen(tmp, "we");
	if (!f)
		return;
	fprintf(f,
		"state=%s\npid=%d\nversion=%s\nstart_ns=%" PRId64 "\nupdated_ns=%" PRId64
		"\nactive_seq=%" PRIu32 "\nevents=%" PRIu64 "\nconns=%" PRIu64 "\nends=%" PRIu64
		"\ngaps=%" PRIu64 "\nevents_per_s=%.1f\nlost_events=%" PRIu64
		"\nrows_dropped=%" PRIu64 "\nrows_rejected=%" PRIu64 "\nqueued=%" PRIu64
		"\nflush_failures=%" PRIu64 "\nsegments_sealed=%" PRIu64
		"\nsegments_deleted=%" PRIu64 "\nrecords_made=%" PRIu64 "\nseal_epoch=%" PRId64
		"\nanchor_sent=%" PRIu64 "\nanchor_failed=%" PRIu64 "\nlast_error=%s\ntamper_events=%" PRIu64
		"\nlast_tamper=%s\n",
		state, (int)getpid(), s->version, s->start_ns, now, s->w ? s->w->seq : 0, events,
		s->stats.conns_written, s->stats.ends_written, s->stats.gaps_written, s->rate,
		s->stats.lost_events, s->stats.rows_dropped, s->stats.rows_rejected,
		s->stats.queued, s->stats.flush_failures, s->stats.segments_sealed,
		s->stats.segments_deleted, s->stats.records_made, s->stats.seal_epoch, an.sent,
		an.failed, s->fail_err ? strerror(-s->fail_err) : "none",
		s->stats.tamper_events, s->last_tamper[0] ? s->last_tamper : "none");
	if (fclose(f)) {
		unlink(tmp);
		return;
	}
	if (rename(tmp, path))
		unlink(tmp);
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

bool status_left_running(const char *dir)
{
	struct store_status st;

	return !store_status_read(dir, &st) && !strcmp(st.state, "running");
}
