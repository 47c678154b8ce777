/* SPDX-License-Identifier: MIT */
/*
 * connrec ship: sends the sealed, verified segments of a data dir that a ClickHouse server
 * does not hold yet, oldest first, each exactly once (docs/fleet.md). Its files:
 *   ship.c          the command: options, which segments, the order, progress and summary
 *   ship_segment.c  one segment: its rows, the row counts check, the marker row
 *   ship_schema.c   --schema (print or apply the DDL) and the check that the tables fit
 *   ship_verify.c   `connrec verify` run on the segments about to be shipped
 */
#ifndef CONNREC_FLEET_SHIP_H
#define CONNREC_FLEET_SHIP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ch_http.h"
#include "ch_rows.h"

#define SHIP_DEFAULT_CHUNK (32ULL << 20)
/*
 * The largest answer ship takes from a server. Its questions (columns, the markers of one
 * store's host, row counts) have small answers: one segment's marker is a few hundred bytes,
 * so this holds some 100,000 segments. A server sending more is not answering them, and
 * must not make ship take gigabytes of memory.
 */
#define SHIP_MAX_ANSWER (64ULL << 20)
/* The most columns ship takes from a server's system.columns of its database. */
#define SHIP_MAX_SERVER_COLUMNS 4096

struct ship_opts {
	const char *dir;
	struct ch_opts ch;
	uint64_t chunk; /* bytes of rows per INSERT; 0 = default */
	const char *verify_key; /* --verify-key: check the records' MACs, or NULL */
	bool progress;	/* redraw a progress line (stderr is a terminal) */
};

/* Totals of one run, for the progress line and the summary. */
struct ship_stats {
	size_t segments_todo, segments_done, segments_failed;
	uint64_t rows, bytes;
	int64_t start_ns, last_draw_ns;
};

struct ship {
	const struct ship_opts *o;
	struct ch_server *ch;
	struct ship_stats st;
	char err[512];
};

/* ship_segment() found the segment marked on the server already (under its own host name). */
#define SHIP_ALREADY_THERE 1

/*
 * ship_segment.c: ships one sealed segment file. host: the store's host name, under which the
 * caller found the segment not shipped; a segment written under another (older) name is
 * looked up under that one. 0, SHIP_ALREADY_THERE, or -errno with s->err set.
 */
int ship_segment(struct ship *s, const char *path, uint32_t seq, const char *host);

/* Redraws the progress line when it is due (or force). */
void ship_progress(struct ship *s, bool force);

/* Set by SIGINT/SIGTERM: stop after the current request, mark nothing more. */
bool ship_stopping(void);

/* ship_schema.c */
/* Prints the DDL (url NULL) or applies it: creates what is missing, adds missing columns. */
int ship_schema(const struct ship_opts *o, bool apply);
/* Checks that every table and column ship writes exists on the server. */
int ship_check_tables(struct ship *s);

/*
 * ship_verify.c: the verdict of `connrec verify` on each of paths (checked together, so the
 * hash chain between consecutive ones is checked too, and the checkpoint and seal records in
 * them against the rows and files they describe; with VERIFY_KEY, their MACs and epochs).
 * problems[i] is "" when path i passed, else its first problem; a problem of the records as a
 * whole (a wrong MAC, a missing epoch) is every path's. 0 or -errno.
 */
int ship_verify(char *const *paths, size_t n, const char *verify_key, char (*problems)[256]);

#endif /* CONNREC_FLEET_SHIP_H */
