/* SPDX-License-Identifier: MIT */
/*
 * Segment files of a data dir, as files: their names, listing, hashing, the manifest of sealed
 * segments, and sealing one segment (segment_seal.c). Knows nothing of the writer's state; the
 * writer, `connrec status` and `connrec verify` all use it.
 */
#ifndef CONNREC_SEGMENT_H
#define CONNREC_SEGMENT_H

#include <stddef.h>
#include <stdbool.h>
#include <stdint.h>

#include <sqlite3.h>

/* seg-NNNNNNNN.db, seg-NNNNNNNN.db.zst, seg-NNNNNNNN.db.zst.tmp (see seg_parse_name()) */
#define SEG_NAME_MAX 64
#define SEG_MANIFEST_NAME "connrec.sealed"
/* Read size for hashing and compressing segment files. */
#define SEG_IO_CHUNK (1 << 20)

enum seg_kind {
	SEG_RAW = 1, /* seg-N.db: active, or waiting to be sealed */
	SEG_ZST = 2, /* seg-N.db.zst: sealed and compressed */
	SEG_TMP = 3, /* seg-N.db.zst.tmp: an unfinished compression */
};

struct seg_entry {
	uint32_t seq;
	unsigned has_raw : 1, has_zst : 1, has_tmp : 1;
	uint64_t raw_bytes; /* .db plus its -wal, when present */
	uint64_t zst_bytes;
};

/* What sealing learns about a segment; also the line format of the manifest. */
struct seg_info {
	uint32_t seq;
	int64_t first_ns, last_ns;
	uint64_t bytes;	  /* size of the .db.zst */
	char sha256[65];  /* lowercase hex of the .db.zst file's bytes */
};

/*
 * The one rule for segment file names, the writer's and the evidence reader's: "seg-", the
 * number as seg_format_name() writes it (zero-padded to 8 digits; more only for numbers above
 * 99999999, without a leading zero), then ".db", ".db.zst" or ".db.zst.tmp". Another spelling
 * of a number (seg-1.db, seg-000000001.db) is not a segment, so two files never claim one
 * number. Returns the kind (SEG_*) and fills *seq (1..UINT32_MAX), or 0.
 */
int seg_parse_name(const char *name, uint32_t *seq);
void seg_format_name(char *buf, size_t len, uint32_t seq, enum seg_kind kind);
/* DIR/seg-NNNNNNNN.<kind> */
void seg_path(char *buf, size_t len, const char *dir, uint32_t seq, enum seg_kind kind);

/* Segments of DIR sorted by seq. *out is malloc'ed (may be NULL when *n is 0). */
int seg_list(const char *dir, struct seg_entry **out, size_t *n);

/*
 * Removes the raw segment SEQ of DIR with its SQLite companions (-wal, -shm, -journal). The
 * companions go first, so a crash in between leaves the .db that makes the next call redo it.
 */
void seg_unlink_raw(const char *dir, uint32_t seq);
/*
 * Before SQLite opens a raw segment for writing: the file (created 0600 when create, else it
 * must exist: -ENOENT) and any -wal, -shm or -journal beside it must be regular files, never
 * symlinks (-ELOOP) or anything else (-EINVAL), and are made 0600. SQLite gives the
 * companions it creates later the segment's own mode, so they are 0600 too. Open with
 * SQLITE_OPEN_NOFOLLOW as well. A refused file is named in the log.
 */
int seg_secure_files(const char *path, bool create);

/* SHA-256 of a whole file as lowercase hex. */
int seg_hash_file(const char *path, char hex[65]);
/* LEN bytes of digest as lowercase hex into HEX (2 * LEN + 1 bytes). */
void seg_hex(const unsigned char *md, unsigned len, char *hex);
/* The reverse: 2 * LEN lowercase hex digits into LEN bytes. 0, or -EINVAL on any other. */
int seg_unhex(const char *hex, unsigned char *out, size_t len);

/*
 * Seal segment SEQ of DIR, idempotently, resuming whatever step a crash interrupted:
 * indexes + meta (first_ns, last_ns, prev_sha256 when given and not yet recorded, sealed=1)
 * in one transaction, journal_mode=DELETE, zstd to .db.zst.tmp, fsync, rename, fsync dir,
 * unlink the raw file. prev_sha256 may be NULL (first segment, or unknown). Fills *info.
 */
int seg_seal(const char *dir, uint32_t seq, const char *prev_sha256, struct seg_info *info);

/*
 * Compresses the file SRC into DST (created 0600, truncated) in the seekable layout of
 * seekable.h, and fsyncs it; info->sha256 and info->bytes describe DST. DST is removed on error.
 */
int seg_compress(const char *src, const char *dst, struct seg_info *info);

/* The manifest: one "seq sha256 first_ns last_ns bytes" line per sealed segment. */
int seg_manifest_append(const char *dir, const struct seg_info *info);
/* Looks SEQ up (last line wins). Returns 0, -ENOENT, or -errno. */
int seg_manifest_find(const char *dir, uint32_t seq, struct seg_info *info);

/* sqlite result code -> -errno (SQLITE_FULL -> -ENOSPC, else -EIO mostly). */
int seg_sqlite_err(int rc);

/* Read one meta value into buf; -ENOENT when absent. */
int seg_meta_get(sqlite3 *db, const char *key, char *buf, size_t len);
/* The first column of SQL's first row; DFLT when there is none, it is NULL or SQL fails. */
int64_t seg_query_i64(sqlite3 *db, const char *sql, int64_t dflt);

/* Wall-clock time, as every row of a segment records it. */
int64_t seg_now_ns(void);

/* fsync a directory (after rename/unlink in it). */
int seg_fsync_dir(const char *dir);

#endif /* CONNREC_SEGMENT_H */
