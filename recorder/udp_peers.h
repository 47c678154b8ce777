/* SPDX-License-Identifier: MIT */
/*
 * udp_peers: which udp_flows keys (peers) each UDP socket has, so that a released socket's
 * flows are taken out of the map by key instead of by a walk of the whole map (capture_maps.c).
 *
 * The index learns a key from the flow's OPEN (every udp_flows entry sends one when it
 * begins) and from the idle sweep's walk of the map, which rebuilds it from scratch: so it
 * holds every live entry, plus keys of flows that ended as idle since the last walk (a taker
 * finds those gone from the map and skips them). Its memory is bounded by the map's entries
 * and the OPENs of one sweep period. A key may be listed twice (seen by a walk and by its
 * OPEN): also harmless to a taker.
 *
 * When the index cannot be trusted (out of memory), udp_peers_complete() says so until the
 * next rebuild, and the caller falls back to the walk.
 */
#ifndef CONNREC_UDP_PEERS_H
#define CONNREC_UDP_PEERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "connrec_maps.h"

struct udp_peers;

int udp_peers_new(struct udp_peers **out);
void udp_peers_free(struct udp_peers *p);

/* A udp_flows entry exists for key (its OPEN, or a walk saw it). */
void udp_peers_add(struct udp_peers *p, const struct udp_key *key);

/*
 * The socket was released: its keys (and forgets it). *keys is the index's own memory, good
 * until the next call of any udp_peers function; returns how many.
 */
size_t udp_peers_take(struct udp_peers *p, uint64_t cookie, const struct udp_key **keys);

/* Forget everything before a walk adds every live entry again (and makes the index complete). */
void udp_peers_reset(struct udp_peers *p);

/* Some key was not learned (a walk failed): incomplete until the next reset. */
void udp_peers_lost(struct udp_peers *p);

/* False after an allocation failed or a key was lost, until the next reset. */
bool udp_peers_complete(const struct udp_peers *p);

#endif /* CONNREC_UDP_PEERS_H */
