/* SPDX-License-Identifier: MIT */
/*
 * Checking a store as evidence (read/store_verify.c): SQLite's integrity_check on every
 * segment, the SHA-256 chain between segments, their numbering, and the retention records;
 * the checkpoint and seal records, with their MACs when a verification key is given, and the
 * anchor lines of a heads file (read/verify_seal.c).
 * The findings come out as items, in report order, to a function the caller gives; the caller
 * prints them (`connrec verify` as text or JSON lines). Nothing is written beside the files.
 */
#ifndef CONNREC_READ_STORE_VERIFY_H
#define CONNREC_READ_STORE_VERIFY_H

#include <stddef.h>
#include <stdint.h>

#include "store_read.h"

enum verify_kind {
	VERIFY_SEGMENT, /* one segment was read: its facts */
	VERIFY_GAP,	/* a recording gap stored in that segment */
	VERIFY_NOTE,	/* worth saying, not a problem (retention, sealing just finished) */
	VERIFY_PROBLEM, /* an inconsistency: verify fails */
	VERIFY_RECORDS, /* the checkpoint and seal records found, and where */
	VERIFY_PROOF,	/* what those records prove of one segment */
	VERIFY_SUMMARY, /* the last item */
};

/*
 * One finding. Its strings come from the files (names, reasons, SQLite's messages): a printer
 * escapes them. Valid only during the call.
 */
struct verify_item {
	enum verify_kind kind;
	const char *segment; /* the file it is about (a name the chain expects, when missing) */
	/* VERIFY_SEGMENT */
	const char *state; /* "sealed", "unsealed" (waiting to be sealed) or "active" */
	int64_t first_ns, last_ns; /* SR_NO_TIME when unknown */
	int64_t conns;
	const char *sha256; /* of a sealed (.zst) file, else NULL */
	/* VERIFY_GAP */
	const struct sr_gap *gap;
	/* VERIFY_NOTE, VERIFY_PROBLEM */
	const char *message;
	/* VERIFY_RECORDS */
	size_t checkpoints, seals, only_heads; /* only_heads: found in the heads file only */
	const char *key_id;		       /* of --verify-key, or NULL */
	size_t mac_ok, other_key, unsealed;    /* records with a right MAC, another key, none */
	const char *heads;		       /* the heads file, or NULL */
	size_t heads_lines, heads_start, heads_stop, heads_tamper, heads_malformed;
	/*
	 * VERIFY_PROOF (for the segment), and VERIFY_SUMMARY (for the history): "proven" (a
	 * record with a right MAC), "confirmed" (a line from the heads file), "consistent" (the
	 * store's own records only) or "none"; proof_ns is when that record was made (the
	 * newest one before any problem, for the summary), proof_ck its checkpoint (0: a seal).
	 */
	const char *proof;
	int64_t proof_ns, proof_ck;
	uint64_t proof_rows, rows_after; /* rows a checkpoint covers, rows written after it */
	/* VERIFY_SUMMARY */
	const char *dir; /* the data dir, or NULL for files */
	size_t segments;
	int problems;
	/*
	 * Tamper gaps among the gaps: the store telling the truth about an attack on the
	 * recorder (docs/blinding.md), not a problem of the store, but never to pass unnoticed.
	 */
	int tampers;
};

struct verify_opts {
	const char *verify_key; /* KEYID-KEY from `connrec keygen`: check the MACs and epochs */
	const char *heads_file; /* anchor lines (from a syslog) to check the store against */
	const char *key_file;	/* the sealing key file (default DIR/connrec.key) */
};

typedef void (*verify_fn)(void *ctx, const struct verify_item *item);

/*
 * Verifies a data dir (dir != NULL) or the segment files given, handing each finding to fn.
 * OPTS may be NULL. Returns 0 when consistent, 1 when a problem was found, or -errno when it
 * could not run at all, with why in err_buf (a data dir that cannot be listed, a heads file
 * that cannot be read; untrusted text: escape it).
 */
int store_verify(const char *dir, char *const *files, size_t nfiles,
		 const struct verify_opts *opts, verify_fn fn, void *ctx, char *err_buf,
		 size_t err_len);

#endif /* CONNREC_READ_STORE_VERIFY_H */
