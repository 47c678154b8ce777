// SPDX-License-Identifier: MIT
/*
 * DIR/connrec.status: the store's counters as key=value lines for `connrec status`, replaced
 * (tmp + rename) about once a second so a reader never sees half a file. The next store_open
 * also reads it to learn whether the previous run stopped cleanly and when it last wrote.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store_internal.h"

#define RATE_WINDOW_NS (5 * NS_PER_SEC)

void status_write(struct store *s, const char *state)
{
	char tmp[PATH_MAX + 64], path[PATH_MAX + 64];
	int64_t now = seg_now_ns();
	uint64_t events = s->stats.conns_written + s->stats.ends_written;
	int64_t mono = mono_ns();
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
	/* state first: status_left_running() reads only the first line. */
	fprintf(f,
		"state=%s\npid=%d\nversion=%s\nstart_ns=%" PRId64 "\nupdated_ns=%" PRId64
		"\nactive_seq=%" PRIu32 "\nevents=%" PRIu64 "\nconns=%" PRIu64 "\nends=%" PRIu64
		"\ngaps=%" PRIu64 "\nevents_per_s=%.1f\nlost_events=%" PRIu64
		"\nrows_dropped=%" PRIu64 "\nrows_rejected=%" PRIu64 "\nqueued=%" PRIu64
		"\nflush_failures=%" PRIu64 "\nsegments_sealed=%" PRIu64
		"\nsegments_deleted=%" PRIu64 "\nlast_error=%s\n",
		state, (int)getpid(), s->version, s->start_ns, now, s->w ? s->w->seq : 0, events,
		s->stats.conns_written, s->stats.ends_written, s->stats.gaps_written, s->rate,
		s->stats.lost_events, s->stats.rows_dropped, s->stats.rows_rejected,
		s->stats.queued, s->stats.flush_failures, s->stats.segments_sealed,
		s->stats.segments_deleted, s->fail_err ? strerror(-s->fail_err) : "none");
	if (fclose(f)) {
		unlink(tmp);
		return;
	}
	if (rename(tmp, path))
		unlink(tmp);
	s->status_ns = mono;
}

int64_t status_value(const char *dir, const char *key)
{
	char path[PATH_MAX + 32], line[256];
	size_t kl = strlen(key);
	int64_t v = 0;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, SEG_STATUS_NAME);
	f = fopen(path, "re");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, key, kl) && line[kl] == '=')
			v = strtoll(line + kl + 1, NULL, 10);
	fclose(f);
	return v;
}

bool status_left_running(const char *dir)
{
	char path[PATH_MAX + 32], state[64];

	snprintf(path, sizeof(path), "%s/%s", dir, SEG_STATUS_NAME);
	read_first_line(path, state, sizeof(state));
	return !strcmp(state, "state=running");
}
