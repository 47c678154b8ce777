/* SPDX-License-Identifier: MIT */
/*
 * proc_ingest: turns process events (proc_capture) into process lives in the store. It adds
 * what only userspace can: wall-clock times, the command line quoted for people, exe and
 * args of the processes found at start (from /proc), and a path for an exec that was given a
 * relative one.
 */
#ifndef CONNREC_PROC_INGEST_H
#define CONNREC_PROC_INGEST_H

#include <stddef.h>
#include <stdint.h>

#include "proc_event.h"
#include "store.h"

struct proc_ingest;

int proc_ingest_new(struct proc_ingest **out, struct store *store);
void proc_ingest_free(struct proc_ingest *p);

/* Re-measure the boot-time -> wall-clock offset (call before each batch). */
void proc_ingest_sync_clock(struct proc_ingest *p);

/* proc_event_fn: one record from the process-event ring. */
void proc_ingest_event(void *p, const void *data, size_t size);

/* Store the growth of the loss counters (proc_capture_drops) since the last call as gaps. */
int proc_ingest_losses(struct proc_ingest *p, const uint64_t lost[CR_PROC_DROP_MAX]);

/*
 * argv as the kernel keeps it (N bytes, NUL-separated; CUT: more followed) as one line a
 * shell would read back: arguments with anything but [A-Za-z0-9_@%+=:,./-] in single quotes,
 * and " ..." at the end when cut. Returns the length written into OUT (always terminated).
 */
size_t proc_quote_args(const char *argv, size_t n, int cut, char *out, size_t len);

struct proc_ingest_stats {
	uint64_t forks, execs, exits, seeded, lost;
};
const struct proc_ingest_stats *proc_ingest_get_stats(const struct proc_ingest *p);

#endif /* CONNREC_PROC_INGEST_H */
