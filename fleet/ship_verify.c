// SPDX-License-Identifier: MIT
/*
 * Before a segment leaves the host, `connrec verify` checks it: integrity, its number, that it
 * is sealed, the hash chain with the segments given beside it, and the checkpoint and seal
 * records those files hold (with --verify-key, their MACs and epochs too). The checks are
 * verify's own (store_verify(), read/store_verify.h); this keeps the first problem it finds
 * with each segment. A problem of the records as a whole names no file ("records"): it holds
 * back every segment checked with them, since which one it concerns is not known; so do
 * records that --verify-key cannot check (another key's, or none).
 */
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "ship.h"
#include "store_verify.h"

struct verdicts {
	char *const *paths;
	size_t n;
	char (*problems)[256];
	char records[256]; /* the first problem of the records as a whole, or "" */
};

static void on_item(void *ctx, const struct verify_item *it)
{
	struct verdicts *v = ctx;

	/* With --verify-key, a record it cannot check proves nothing: held back too. */
	if (it->kind == VERIFY_RECORDS && it->key_id && (it->other_key || it->unsealed) &&
	    !v->records[0])
		snprintf(v->records, sizeof(v->records),
			 "records: %zu of %zu sealed with a key other than %s, %zu with none",
			 it->other_key, it->checkpoints + it->seals, it->key_id, it->unsealed);
	if (it->kind != VERIFY_PROBLEM || !it->segment)
		return;
	if (!strcmp(it->segment, "records")) {
		if (!v->records[0])
			snprintf(v->records, sizeof(v->records), "records: %s",
				 it->message ? it->message : "?");
		return;
	}
	for (size_t i = 0; i < v->n; i++) {
		char tmp[PATH_MAX];

		snprintf(tmp, sizeof(tmp), "%s", v->paths[i]);
		if (strcmp(basename(tmp), it->segment) || v->problems[i][0])
			continue;
		/* It may quote bytes of the file: the log escapes it when it is printed. */
		snprintf(v->problems[i], sizeof(v->problems[i]), "%s", it->message ? it->message : "?");
	}
}

int ship_verify(char *const *paths, size_t n, const char *verify_key, char (*problems)[256])
{
	struct verdicts v = { .paths = paths, .n = n, .problems = problems };
	struct verify_opts vo = { .verify_key = verify_key };
	char err[512];
	int rc;

	for (size_t i = 0; i < n; i++)
		problems[i][0] = '\0';
	rc = store_verify(NULL, paths, n, &vo, on_item, &v, err, sizeof(err));
	for (size_t i = 0; rc >= 0 && v.records[0] && i < n; i++) {
		if (!problems[i][0])
			memcpy(problems[i], v.records, sizeof(v.records));
	}
	return rc < 0 ? rc : 0;
}
