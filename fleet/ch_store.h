/* SPDX-License-Identifier: MIT */
/*
 * Reading shipped segments back from a ClickHouse server, for `connrec query --from`.
 *
 * A segment is visible once `segments` marks it; when two attempts marked the same segment,
 * the smallest attempt id is the one, and only its rows are read (docs/fleet.md). Rows come
 * back as the evidence reader's structs, tagged with the index of their segment, so the query
 * merges them exactly as it merges the rows of local segments.
 */
#ifndef CONNREC_FLEET_CH_STORE_H
#define CONNREC_FLEET_CH_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ch_http.h"
#include "ch_rows.h"
#include "store_read.h"

/* A segment the server holds: its key (with the chosen attempt) and its marker row. */
struct ch_seg {
	struct ch_key key;
	struct ch_segment_row row;
};

/*
 * The segments that may hold rows for a window starting at since (last_ns >= since; all when
 * since is SR_NO_TIME), plus the oldest segment of every host, sorted by host and segment id.
 * The answer may be at most CH_MAX_SEGMENT_LIST bytes (some 250,000 segments: a week of
 * hourly segments of 1,500 hosts); a larger one is refused ("narrow the question": --since).
 */
#define CH_MAX_SEGMENT_LIST (64ULL << 20)
int ch_list_segments(struct ch_server *ch, int64_t since, struct ch_seg **out, size_t *n,
		     char *err, size_t errlen);

/* Called for each row fetched: the index of its segment in segs, and the row's struct. */
typedef int (*ch_row_fn)(size_t seg, const void *row, void *ctx);

/*
 * Rows of table t from the segments segs[i] with wanted[i] (and only their chosen attempt),
 * that also meet where (" AND ..." conditions on t, may be ""), in order within each segment
 * ("id", "start_ns, id", ...). segs must be sorted as ch_list_segments() returns them.
 */
int ch_fetch(struct ch_server *ch, const struct ch_seg *segs, size_t n, const bool *wanted,
	     const struct ch_table *t, const char *where, const char *order, ch_row_fn cb,
	     void *ctx, char *err, size_t errlen);

/*
 * " AND (host, id) IN (...)": the connections whose conn rows in the wanted segments meet the
 * filter f and carry no end, i.e. those whose end a later segment's conn_end may hold.
 */
int ch_sql_waiting_ids(struct ch_server *ch, const struct ch_seg *segs, size_t n,
		       const bool *wanted, const struct sr_conn_filter *f, char **out);

#endif /* CONNREC_FLEET_CH_STORE_H */
