// SPDX-License-Identifier: MIT
/*
 * Retention: deletes the oldest sealed segments while the sealed total exceeds retain_size or
 * a segment's last_ns is older than retain_age. Only sealed ones, only from the oldest end,
 * and each deletion is recorded in the active segment before the file goes, so `connrec
 * verify` can tell a deleted segment from a missing one.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "store_internal.h"

/* Fills rows[] with the segments to delete, oldest first; returns how many. */
static size_t pick_expired(struct store *s, const struct seg_entry *v, size_t n,
			   struct ret_row *rows)
{
	uint64_t total = 0;
	int64_t now = seg_now_ns();
	size_t nv = 0;

	for (size_t i = 0; i < n; i++)
		if (v[i].has_zst && !v[i].has_raw)
			total += v[i].zst_bytes;
	for (size_t i = 0; i < n; i++) {
		struct seg_info info;
		char path[PATH_MAX + SEG_NAME_MAX];

		if (v[i].seq >= s->w->seq)
			break;
		if (!v[i].has_zst || v[i].has_raw)
			break; /* only the oldest, and only sealed ones */
		memset(&info, 0, sizeof(info));
		seg_format_name(rows[nv].name, sizeof(rows[nv].name), v[i].seq, SEG_ZST);
		if (seg_manifest_find(s->dir, v[i].seq, &info)) {
			path_in(s, path, sizeof(path), rows[nv].name);
			if (seg_hash_file(path, info.sha256))
				break;
		}
		bool over_size = total > s->retain_size;
		bool over_age = s->retain_age_ns > 0 && info.last_ns &&
				info.last_ns < now - s->retain_age_ns;

		if (!over_size && !over_age)
			break;
		rows[nv].ts_ns = now;
		rows[nv].first_ns = info.first_ns;
		rows[nv].last_ns = info.last_ns;
		memcpy(rows[nv].sha256, info.sha256, sizeof(info.sha256));
		total -= v[i].zst_bytes;
		nv++;
	}
	return nv;
}

/* Returns a sqlite result code. */
static int record_deletions(struct store *s, const struct ret_row *rows, size_t nv)
{
	int rc;

	rc = writer_begin(s->w);
	for (size_t i = 0; rc == SQLITE_OK && i < nv; i++)
		rc = writer_put_ret(s->w, &rows[i]);
	if (rc == SQLITE_OK)
		rc = sqlite3_exec(s->w->db, "COMMIT", NULL, NULL, NULL);
	if (rc != SQLITE_OK)
		writer_rollback(s->w);
	return rc;
}

void retention_apply(struct store *s)
{
	struct seg_entry *v = NULL;
	struct ret_row *rows = NULL;
	size_t n = 0, nv;

	if (seg_list(s->dir, &v, &n))
		return;
	rows = calloc(n ? n : 1, sizeof(*rows));
	if (!rows)
		goto cleanup;
	nv = pick_expired(s, v, n, rows);
	if (!nv)
		goto cleanup;
	/* The record is committed before the file goes: a crash between leaves a duplicate row. */
	if (record_deletions(s, rows, nv) != SQLITE_OK) {
		cr_warn("store: retention: cannot record deletions: %s", sqlite3_errmsg(s->w->db));
		goto cleanup;
	}
	for (size_t i = 0; i < nv; i++) {
		char path[PATH_MAX + SEG_NAME_MAX];

		path_in(s, path, sizeof(path), rows[i].name);
		if (unlink(path))
			cr_warn("store: retention: unlink %s: %s", path, strerror(errno));
		else
			s->stats.segments_deleted++;
		cr_info("store: retention deleted %s", rows[i].name);
	}
	seg_fsync_dir(s->dir);
cleanup:
	free(rows);
	free(v);
}
