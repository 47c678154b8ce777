/* SPDX-License-Identifier: MIT */
/*
 * End zones of a segment's whole lifetimes (meta conn_end_zones; docs/store.md, "End zones").
 *
 * conn's rowid is the connection id, given when a flow begins, so a segment's rows lie in
 * start order, roughly; but the writer stores each row when the flow ends, and a late window
 * (--since an hour ago in a segment sealed an hour ago) cannot tell from a row's place where
 * the rows that end in it are. The ids are cut into at most CONN_ZONES_MAX zones of 2^shift
 * ids each, and each zone keeps the latest end of the whole-lifetime rows in it (the rows
 * CR_SQL_WHOLE_ROW names; every other row has its own index, conn_unfolded). A window
 * starting at S then reads the whole lifetimes from the first zone whose latest end is >= S,
 * by rowid, and skips the rest unread. The order in which rows arrive does not matter.
 *
 * Zone j holds the ids whose id >> shift is base + j; zone 0 also holds every lower id (rows
 * of flows that began before the segment). Ids of zones past the last have no bound. An empty
 * zone's latest end is 0.
 *
 * The writer keeps the zones of the rows it inserts (conn_zones_add, a shift and a compare);
 * sealing computes them with SQL when the writer did not see every row (conn_zones_of_db),
 * and verify computes them again to compare. Stored as text:
 *   "SHIFT BASE END0 END1 ... END(n-1)"
 */
#ifndef CONNREC_CONN_ZONES_H
#define CONNREC_CONN_ZONES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sqlite3.h>

#define CONN_ZONES_MAX 256
#define CONN_ZONES_META "conn_end_zones"
/* Longest text conn_zones_format() writes: two numbers and CONN_ZONES_MAX ends. */
#define CONN_ZONES_TEXT_MAX (24 * (CONN_ZONES_MAX + 2))

struct conn_zones {
	unsigned shift;	    /* a zone holds 2^shift ids */
	int64_t base;	    /* id >> shift of zone 0 */
	unsigned n;	    /* zones in use; 0: none, nothing is bounded */
	bool based;	    /* base is set (by conn_zones_init or the first row) */
	int64_t end[CONN_ZONES_MAX]; /* latest end of the whole lifetimes in each zone */
};

/*
 * No zones yet. Zone 0 begins at first_id (the segment's conn_id_floor: its own flows have
 * ids from there on), or at the first row's id when first_id < 0.
 */
void conn_zones_init(struct conn_zones *z, int64_t first_id);
/* A whole lifetime with this id and end (id >= 0, end >= 0). */
void conn_zones_add(struct conn_zones *z, int64_t id, int64_t end_ns);

/* The text stored in meta; -ENOSPC when len is too short. */
int conn_zones_format(const struct conn_zones *z, char *buf, size_t len);
/* The text back; -EINVAL when it is not what conn_zones_format() writes (z is then empty). */
int conn_zones_parse(const char *text, struct conn_zones *z);

/*
 * The lowest id a whole lifetime ending at or after since_ns may have: every whole-lifetime
 * row below it ends before since_ns. INT64_MIN when none can be left out.
 */
int64_t conn_zones_first_id(const struct conn_zones *z, int64_t since_ns);

/*
 * The zones of the rows in db's conn table, by SQL. With shape (its shift, base and n), in
 * that shape, as verify compares them; without, in the smallest shift that fits the ids
 * into CONN_ZONES_MAX zones. Returns a SQLite result code.
 */
int conn_zones_of_db(sqlite3 *db, const struct conn_zones *shape, struct conn_zones *out);

#endif /* CONNREC_CONN_ZONES_H */
