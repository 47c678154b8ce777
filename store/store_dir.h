/* SPDX-License-Identifier: MIT */
/*
 * A data dir seen from outside the writer, for `connrec status` (and anything else that must
 * look without taking the lock): the recorder's status file, who holds the lock, and the
 * segments on disk. Read-only; nothing here writes, creates or locks.
 */
#ifndef CONNREC_STORE_DIR_H
#define CONNREC_STORE_DIR_H

#include <stddef.h>
#include <stdbool.h>
#include <stdint.h>

/* DIR/connrec.status, as the store last wrote it (about once a second while recording). */
struct store_status {
	char state[16];	   /* "running" while recording, "stopped" after a clean stop */
	int64_t pid;	   /* of the recorder that wrote it */
	char version[32];  /* connrec version of that recorder */
	int64_t start_ns;  /* when it started (wall clock) */
	int64_t updated_ns; /* when it wrote this */
	uint64_t active_seq;
	uint64_t events; /* conns + ends */
	uint64_t conns, ends, gaps;
	double events_per_s; /* over the last few seconds */
	uint64_t lost_events, rows_dropped, rows_rejected, queued, flush_failures;
	uint64_t segments_sealed, segments_deleted;
	uint64_t records_made;		 /* checkpoint and seal records */
	int64_t seal_epoch;		 /* the sealing key's next epoch; -1: no key */
	bool seal_known;		 /* the file says (older recorders did not) */
	uint64_t anchor_sent, anchor_failed; /* lines to syslog */
	char last_error[128]; /* "none" when the last flush worked */
	uint64_t tamper_events; /* tamper gaps of this run (docs/blinding.md) */
	char last_tamper[128];	/* the latest one's reason, "none" before any */
	int64_t failing_since_ns; /* flushes fail (disk full) since then; 0 while they work */
	uint64_t unstored_events; /* state "failed": events the final flush could not store */
};

/*
 * Reads DIR's status file into *st (zeroed first; unknown keys and malformed lines are
 * skipped, so a newer writer's file still reads). Returns 0, -ENOENT when there is none, or
 * another -errno. The one parser of that file: the writer's own restart check uses it too.
 */
int store_status_read(const char *dir, struct store_status *st);

/* The segment files of a data dir, as counted for `connrec status`. */
struct store_dir_usage {
	size_t segments; /* all of them */
	size_t sealed;	 /* seg-N.db.zst */
	size_t waiting;	 /* older seg-N.db, not sealed yet */
	size_t active;	 /* 0 or 1: the newest seg-N.db */
	uint64_t disk_bytes; /* every regular file in DIR, as allocated on disk */
};

int store_dir_usage(const char *dir, struct store_dir_usage *u);

/*
 * The pid holding DIR's lock (a recorder writing to it), 0 when nobody does, or -errno when
 * it cannot be told. Looks in /proc/locks rather than trying the lock, so it never makes a
 * starting recorder fail.
 */
long store_lock_holder(const char *dir);

#endif /* CONNREC_STORE_DIR_H */
