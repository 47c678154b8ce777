// SPDX-License-Identifier: MIT
/*
 * Sealing one segment (docs/store.md, "Rotation and sealing"): indexes and seal metadata,
 * rollback journal, seekable zstd (segment_zstd.c) with the SHA-256 of the compressed bytes,
 * manifest line, rename, unlink of the raw file. Each step is done so that a crash at any
 * point leaves something the next call finishes.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conn_zones.h"
#include "fileio.h"
#include "log.h"
#include "schema.h"
#include "segment.h"

/* first_ns/last_ns: the earliest and latest time any row of the segment mentions. */
static const char range_sql[] =
	"SELECT min(a), max(b) FROM ("
	" SELECT min(start_ns) AS a, max(start_ns + coalesce(dur_ns, 0)) AS b FROM conn"
	" UNION ALL SELECT min(end_ns), max(end_ns) FROM conn_end"
	" UNION ALL SELECT min(start_ns), max(end_ns) FROM gap"
	" UNION ALL SELECT min(ts_ns), max(ts_ns) FROM run"
	" UNION ALL SELECT min(ts_ns), max(ts_ns) FROM retention)";

static int put_meta(sqlite3 *db, const char *key, const char *value)
{
	sqlite3_stmt *st = NULL;
	int rc;

	/* Only ever inserts: a key written earlier (e.g. prev_sha256 by the writer) stays. */
	rc = sqlite3_prepare_v2(db,
				"INSERT INTO meta(key, value) VALUES(?1, ?2) "
				"ON CONFLICT(key) DO NOTHING",
				-1, &st, NULL);
	if (rc == SQLITE_OK) {
		sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, value, -1, SQLITE_STATIC);
		rc = sqlite3_step(st);
		rc = rc == SQLITE_DONE ? SQLITE_OK : rc;
	}
	sqlite3_finalize(st);
	return rc;
}

/*
 * The end zones of the whole lifetimes (conn_zones.h), unless the writer stored them at
 * rotation: it does for every segment it created, so this scan of conn runs only for one a
 * recorder reopened after a restart or a crash (or an older version wrote).
 */
static int put_zones_if_missing(sqlite3 *db)
{
	char text[CONN_ZONES_TEXT_MAX];
	struct conn_zones z;
	int rc;

	if (seg_meta_get(db, CONN_ZONES_META, text, sizeof(text)) != -ENOENT)
		return SQLITE_OK;
	rc = conn_zones_of_db(db, NULL, &z);
	if (rc != SQLITE_OK || !z.n || conn_zones_format(&z, text, sizeof(text)))
		return rc;
	return put_meta(db, CONN_ZONES_META, text);
}

/* Step 1 of sealing: indexes and the seal metadata, all in one transaction. */
static int seal_db(const char *path, const char *prev_sha256, struct seg_info *info)
{
	char val[128];
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	int rc, err = 0;

	err = seg_secure_files(path, false);
	if (err)
		goto cleanup;
	rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOFOLLOW, NULL);
	if (rc != SQLITE_OK) {
		err = seg_sqlite_err(rc);
		goto cleanup;
	}
	sqlite3_busy_timeout(db, 5000);
	/*
	 * Switching to a rollback journal checkpoints and removes the WAL first. Doing it before
	 * the index build keeps the build out of a WAL that would double its size on disk.
	 */
	rc = sqlite3_exec(db, "PRAGMA journal_mode=DELETE; PRAGMA synchronous=FULL;", NULL, NULL,
			  NULL);
	if (rc != SQLITE_OK)
		goto sql_fail;
	if (!seg_meta_get(db, "sealed", val, sizeof(val)) && !strcmp(val, "1")) {
		if (seg_meta_get(db, "first_ns", val, sizeof(val)) == 0)
			info->first_ns = strtoll(val, NULL, 10);
		if (seg_meta_get(db, "last_ns", val, sizeof(val)) == 0)
			info->last_ns = strtoll(val, NULL, 10);
		goto cleanup;
	}
	rc = sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
	if (rc != SQLITE_OK)
		goto sql_fail;
	rc = sqlite3_prepare_v2(db, range_sql, -1, &st, NULL);
	if (rc != SQLITE_OK)
		goto sql_fail_tx;
	rc = sqlite3_step(st);
	if (rc != SQLITE_ROW)
		goto sql_fail_tx;
	info->first_ns = sqlite3_column_int64(st, 0);
	info->last_ns = sqlite3_column_int64(st, 1);
	if (sqlite3_column_type(st, 0) == SQLITE_NULL &&
	    seg_meta_get(db, "created_ns", val, sizeof(val)) == 0)
		info->first_ns = info->last_ns = strtoll(val, NULL, 10);
	sqlite3_finalize(st);
	st = NULL;
	for (unsigned i = 0; i < seal_sql_count; i++) {
		rc = sqlite3_exec(db, seal_sql[i], NULL, NULL, NULL);
		if (rc != SQLITE_OK)
			goto sql_fail_tx;
	}
	rc = put_zones_if_missing(db);
	if (rc != SQLITE_OK)
		goto sql_fail_tx;
	snprintf(val, sizeof(val), "%" PRId64, info->first_ns);
	rc = put_meta(db, "first_ns", val);
	if (rc == SQLITE_OK) {
		snprintf(val, sizeof(val), "%" PRId64, info->last_ns);
		rc = put_meta(db, "last_ns", val);
	}
	if (rc == SQLITE_OK && prev_sha256)
		rc = put_meta(db, "prev_sha256", prev_sha256);
	if (rc == SQLITE_OK) {
		snprintf(val, sizeof(val), "%" PRId64, seg_now_ns());
		rc = put_meta(db, "sealed_ns", val);
	}
	if (rc == SQLITE_OK)
		rc = put_meta(db, "sealed", "1");
	if (rc != SQLITE_OK)
		goto sql_fail_tx;
	rc = sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
	if (rc != SQLITE_OK)
		goto sql_fail_tx;
	goto cleanup;

sql_fail_tx:
	sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
sql_fail:
	err = seg_sqlite_err(rc);
	cr_warn("seal %s: %s", path, sqlite3_errmsg(db));
cleanup:
	sqlite3_finalize(st);
	sqlite3_close(db);
	return err;
}

int seg_seal(const char *dir, uint32_t seq, const char *prev_sha256, struct seg_info *info)
{
	char raw[4200], zst[4200], tmp[4200];
	struct stat st;
	int err;

	memset(info, 0, sizeof(*info));
	info->seq = seq;
	seg_path(raw, sizeof(raw), dir, seq, SEG_RAW);
	seg_path(zst, sizeof(zst), dir, seq, SEG_ZST);
	seg_path(tmp, sizeof(tmp), dir, seq, SEG_TMP);

	if (stat(zst, &st) == 0) {
		/* Compressed, fsynced and renamed before: only the raw file may be left. */
		if (seg_manifest_find(dir, seq, info)) {
			err = seg_hash_file(zst, info->sha256);
			if (err)
				return err;
			info->seq = seq;
			info->bytes = (uint64_t)st.st_size;
			err = seg_manifest_append(dir, info);
			if (err)
				return err;
		}
		if (access(raw, F_OK) == 0) {
			seg_unlink_raw(dir, seq);
			return seg_fsync_dir(dir);
		}
		return 0;
	}
	unlink(tmp); /* an unfinished compression: redo it */
	err = seal_db(raw, prev_sha256, info);
	if (err)
		return err;
	err = seg_compress(raw, tmp, info);
	if (err)
		return err;
	/* The manifest line goes first: once the .zst exists, its line does too. */
	err = seg_manifest_append(dir, info);
	if (err)
		goto fail_tmp;
	if (rename(tmp, zst)) {
		err = -errno;
		goto fail_tmp;
	}
	err = seg_fsync_dir(dir);
	if (err)
		return err;
	seg_unlink_raw(dir, seq);
	return seg_fsync_dir(dir);
fail_tmp:
	unlink(tmp);
	return err;
}
