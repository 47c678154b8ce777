/* SPDX-License-Identifier: MIT */
/*
 * verify's checks of checkpoints and seals (docs/store.md, "Checkpoints and seals"): the
 * records in the segments' anchor tables, and those in a file of syslog lines (--heads),
 * against the rows and files they describe; with a verification key (--verify-key) their MACs
 * and the unbroken sequence of key epochs; what is proven, up to when, and what is not.
 *
 * store_verify.c lists and opens the segments; it hands each open one to vseal_read_segment()
 * and, at the end, everything it learnt to vseal_finish(), which reports.
 */
#ifndef CONNREC_VERIFY_SEAL_H
#define CONNREC_VERIFY_SEAL_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <sqlite3.h>

#include "store_read.h"
#include "store_verify.h"

struct vseal_opts {
	const char *verify_key; /* KEYID-K0, or NULL */
	const char *heads_file; /* syslog lines, or NULL */
	const char *key_file;	/* the sealing key file to compare with (data dir mode), or NULL */
	bool whole_dir;		/* a data dir: a segment not there is missing, not just not given */
};

/* One segment as verify found it. */
struct vs_seg {
	uint32_t num;
	const char *name, *path;
	bool zst;	     /* a sealed file (its SHA-256 is sha256) */
	bool opened;	     /* readable as a segment */
	bool active;	     /* the live active segment (open with SR_OPEN_LIVE) */
	const char *sha256;  /* hex; "" for a plain .db */
};

/* A retention row: a sealed segment deleted on purpose. */
struct vs_ret {
	const char *name, *sha256;
};

struct vseal;

/* -EINVAL with a one-line reason in ERR (a bad key, an unreadable heads file). */
int vseal_new(const struct vseal_opts *o, struct vseal **out, char *err, size_t errlen);
void vseal_free(struct vseal *vs);

/* While SEG is open: its store id, its records, and the checkpoints of itself it holds. */
void vseal_read_segment(struct vseal *vs, const struct vs_seg *seg, sqlite3 *db);

/* The checks; findings go to FN as items. Returns the number of problems. */
int vseal_finish(struct vseal *vs, const struct vs_seg *segs, size_t n,
		 const struct vs_ret *rets, size_t nrets, verify_fn fn, void *ctx);
/* The history's proof, into the summary item. */
void vseal_summary(const struct vseal *vs, struct verify_item *sum);

#endif /* CONNREC_VERIFY_SEAL_H */
