/* SPDX-License-Identifier: MIT */
/*
 * The store: the only module that speaks SQL to a connrec data directory.
 *
 * Writer side (the recorder): rows are queued in memory with store_add_*() and written in one
 * transaction by store_flush(). A failed flush (disk full, ...) keeps the queue, so nothing is
 * lost while the caller retries later. Rotation, sealing and retention hang off store_flush()
 * and store_tick(); the caller never sees segments.
 */
#ifndef CONNREC_STORE_H
#define CONNREC_STORE_H

#include <stdbool.h>
#include <stdint.h>

#define STORE_SCHEMA_VERSION 1
#define STORE_DEFAULT_DIR "/var/lib/connrec"
#define STORE_ACTIVE_NAME "active.db"
#define STORE_LOCK_NAME "connrec.lock"

/* Row kinds for the gap table. */
enum store_gap_kind {
	STORE_GAP_LOST = 1, /* events dropped; count is known */
	STORE_GAP_DOWN = 2, /* recorder not running; count unknown (0) */
};

/* One endpoint lifetime start, as the recorder hands it to the store. */
struct store_conn {
	uint64_t id;
	int64_t start_ns; /* wall clock */
	uint8_t proto;	  /* 6 or 17 */
	uint8_t family;	  /* 4 or 6 */
	uint8_t dir;	  /* enum cr_direction */
	uint8_t flags;	  /* CR_FLAG_* */
	uint8_t laddr[16];
	uint8_t raddr[16];
	uint16_t lport, rport;
	uint32_t pid, uid, netns;
	uint64_t cgroup;
	char comm[16]; /* NUL-terminated */
	/* Set has_end when the end is already known (short-lived flow: one row). */
	bool has_end;
	int64_t end_ns;
	uint64_t bytes_out, bytes_in;
	uint8_t reason; /* enum cr_end_reason */
};

struct store_end {
	uint64_t id;
	int64_t end_ns;
	uint64_t bytes_out, bytes_in;
	bool has_bytes; /* false: bytes unknown (UDP), stored as NULL */
	uint8_t reason;
};

struct store_opts {
	const char *dir;
	uint64_t rotate_size;	 /* bytes; 0 = default */
	int64_t rotate_age_ns;	 /* 0 = default */
	uint64_t retain_size;	 /* bytes of sealed segments; 0 = default */
	int64_t retain_age_ns;	 /* 0 = default */
	const char *version;	 /* recorder version string for meta/run rows */
};

/* Counters the store keeps; status and the recorder read them, nobody recomputes them. */
struct store_stats {
	uint64_t conns_written, ends_written, gaps_written;
	uint64_t flush_failures; /* flushes that failed and were kept for retry */
	uint64_t queued;	 /* rows waiting in memory */
	uint64_t segments_sealed;
};

struct store;

/*
 * Create DIR if needed, take the exclusive lock (-EBUSY if another recorder holds it), open
 * or create the active segment, record a "start" run row and, if the previous run ended
 * uncleanly, a "down" gap from its last write to now. Returns 0 or -errno.
 */
int store_open(struct store **out, const struct store_opts *opts);

/* Queue rows. They cannot fail except for memory (-ENOMEM). */
int store_add_conn(struct store *s, const struct store_conn *c);
int store_add_end(struct store *s, const struct store_end *e);
int store_add_gap(struct store *s, enum store_gap_kind kind, int64_t start_ns, int64_t end_ns,
		  uint64_t count, const char *reason);

/*
 * Write every queued row in one transaction. On failure (e.g. -ENOSPC) the rows stay queued
 * and the next call retries them. May rotate the active segment afterwards.
 */
int store_flush(struct store *s);

/* The first connection id this run may use (one past the largest id in the store). */
uint64_t store_next_conn_id(const struct store *s);

const struct store_stats *store_get_stats(const struct store *s);

/* Flush, write the "stop" run row, release the lock. Safe on NULL. */
int store_close(struct store *s);

#endif /* CONNREC_STORE_H */
