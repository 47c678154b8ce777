/* SPDX-License-Identifier: MIT */
/*
 * names: which DNS answer names a flow (`rname`), decided at query time from the answers the
 * segments hold (docs/query.md, "rname").
 *
 * A flow's name is the question (qname) of an answer that
 *   - was received in the flow's host and network namespace, by a process whose owner the
 *     recorder knew (an answer without an owner has no known namespace),
 *   - arrived at or before the flow's start, and
 *   - held the flow's remote address in a record reached from the question through its CNAME
 *     chain, whose TTL (at most a week) plus CR_DNS_GRACE_S had not run out at the start.
 * Of several, the one received by the flow's own process (same pid) wins, then the latest,
 * then the highest answer id (the later one stored). The chain is kept with the name.
 *
 * Pure logic over rows the reader hands in; unit-tested directly.
 */
#ifndef CONNREC_QUERY_NAMES_H
#define CONNREC_QUERY_NAMES_H

#include <stdint.h>

#include "flows.h"
#include "store_read.h"

struct name_index;

int names_new(struct name_index **out);
void names_free(struct name_index *ni);

/*
 * One answer of host's segments. A carried copy (same id) of one already added is skipped, so
 * segments may be added in any order. Returns 0 or -ENOMEM.
 */
int names_add(struct name_index *ni, uint32_t host, const struct sr_dns *d);

/* The name of a flow, or NULL. Valid until names_free(). */
const struct flow_name *names_for_flow(struct name_index *ni, const struct flow *f);

#endif /* CONNREC_QUERY_NAMES_H */
