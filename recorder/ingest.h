/* SPDX-License-Identifier: MIT */
/*
 * ingest: turns capture events into store rows.
 *
 * OPEN events wait in memory until the next commit. When the CLOSE of the same flow arrives
 * first (most flows live far less than a commit period), both become one row, which halves
 * the rows a short-lived flow costs. Everything that waits is written at the next commit,
 * so a row reaches the store within one commit period.
 */
#ifndef CONNREC_INGEST_H
#define CONNREC_INGEST_H

#include <stdint.h>

#include "connrec_event.h"
#include "sockdump.h"
#include "store.h"

struct ingest;

/* Where fresh connection ids come from (the counter shared with BPF). */
typedef uint64_t (*ingest_id_fn)(void *ctx);

int ingest_new(struct ingest **out, struct store *store, ingest_id_fn new_id, void *id_ctx);
void ingest_free(struct ingest *g);

/* Re-measure the boot-time -> wall-clock offset (call before each batch). */
void ingest_sync_clock(struct ingest *g);
int64_t ingest_wall_ns(const struct ingest *g, uint64_t boot_ns);

/* capture_event_fn: one ring-buffer record. */
void ingest_event(void *g, const struct cr_event *e);

/* A connection that existed before recording started, with the id allocated for it. */
int ingest_preexisting(struct ingest *g, const struct sockdump_entry *d, uint64_t conn_id,
		       int64_t seen_ns);

/* End of a UDP flow found by walking the BPF map (idle expiry or multi-peer release). */
void ingest_udp_end(struct ingest *g, uint64_t conn_id, int64_t end_ns, uint8_t reason,
		    uint64_t bytes_out, uint64_t bytes_in);

/* Record the loss counters' growth since the last call as gap rows. */
int ingest_losses(struct ingest *g, const uint64_t drops[CR_DROP_MAX]);

/* Hand every waiting row to the store and flush it. Returns store_flush()'s result. */
int ingest_commit(struct ingest *g);

/* The BPF counters that are not losses (CR_DROP_RECURSION and after), for the stop. */
struct ingest_stats {
	uint64_t skipped[CR_DROP_MAX];
};
const struct ingest_stats *ingest_get_stats(const struct ingest *g);

#endif /* CONNREC_INGEST_H */
