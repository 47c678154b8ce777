/* SPDX-License-Identifier: MIT */
/* The rows of a remote slot (query/remote.c), for slot.c: the same calls as store_read.h. */
#ifndef CONNREC_QUERY_REMOTE_H
#define CONNREC_QUERY_REMOTE_H

#include "query.h"

int remote_conns(struct query *q, struct slot *s, const struct sr_conn_filter *f,
		 int (*cb)(const struct sr_conn *row, void *ctx), void *ctx);
int remote_end_by_id(struct query *q, struct slot *s, int64_t id, struct sr_end *out);
int remote_ends(struct query *q, struct slot *s, int64_t since, int64_t until,
		int (*cb)(const struct sr_end *row, void *ctx), void *ctx);
int remote_gaps(struct query *q, struct slot *s, int64_t since, int64_t until,
		int (*cb)(const struct sr_gap *row, void *ctx), void *ctx);
int remote_runs(struct query *q, struct slot *s, int (*cb)(const struct sr_run *row, void *ctx),
		void *ctx);
/* Reads the slot's process lives and cgroup names into q->who, as boot BOOT. */
int remote_who(struct query *q, struct slot *s, uint32_t boot);
/* Frees what a slot no longer needs once the lifetimes have read it. */
void remote_seg_done(struct remote_seg *rs);
/* The server's last error. */
const char *remote_errmsg(const struct query *q);

#endif /* CONNREC_QUERY_REMOTE_H */
