// SPDX-License-Identifier: MIT
/*
 * The evidence reader's iterator over a segment's anchor table (schema version 3): the
 * checkpoint and seal records as the recorder sent them off the host. Read as text, bounded;
 * verify (read/verify_seal.c) is what judges them.
 */
#include <errno.h>
#include <string.h>

#include "store_read_internal.h"

static int anchor_row(sqlite3_stmt *st, const struct row_cb *cb)
{
	struct sr_anchor r;

	memset(&r, 0, sizeof(r));
	r.id = sqlite3_column_int64(st, 0);
	r.ts_ns = sqlite3_column_int64(st, 1);
	sr_text_copy(st, 2, r.kind, sizeof(r.kind));
	sr_text_copy(st, 3, r.line, sizeof(r.line));
	return cb->fn.anchor(&r, cb->ctx);
}

int sr_anchors(struct sr_segment *seg, int (*cb)(const struct sr_anchor *row, void *ctx),
	       void *ctx)
{
	const struct row_cb c = { .fn.anchor = cb, .ctx = ctx, .seg = seg };
	sqlite3_stmt *st;

	if (seg->meta.schema_version < 3)
		return 0; /* no anchor table */
	if (sqlite3_prepare_v2(seg->db, "SELECT id, ts_ns, kind, line FROM anchor ORDER BY id", -1,
			       &st, NULL) != SQLITE_OK)
		return -EBADMSG;
	return sr_step_rows(st, anchor_row, &c);
}
