// SPDX-License-Identifier: MIT
/* connrec verify: integrity, hash chain and retention records of a store (read/store_verify.c). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "opts.h"
#include "store.h"
#include "store_internal.h"

enum { OPT_DATA_DIR = OPT_FIRST, OPT_FILE };

static const struct opt verify_options[] = {
	OPT_ROW_DATA_DIR(OPT_DATA_DIR),
	OPT_ROW_FILE(OPT_FILE, "check these segment files instead (.db or .db.zst); "
			       "the chain is checked between consecutive ones given"),
	{ 0 },
};

struct verify_args {
	const char *dir;
	char **files;
	size_t n_files;
};

static int on_opt(void *ctx, const struct opt *o, const char *arg)
{
	struct verify_args *a = ctx;
	char **v;

	switch (o->id) {
	case OPT_DATA_DIR:
		a->dir = arg;
		break;
	case OPT_OPERAND:
		/* "-f a -f b" and "-f a b" both name the files a and b. */
		if (!a->n_files)
			return opt_usage_error("unexpected argument '%s'", arg);
		/* fall through */
	case OPT_FILE:
		v = realloc(a->files, (a->n_files + 1) * sizeof(*v));
		if (!v)
			return -ENOMEM;
		a->files = v;
		v[a->n_files++] = (char *)arg;
		break;
	}
	return 0;
}

static int verify_run(int argc, char **argv);

const struct opt_cmd cmd_verify = {
	.name = "verify",
	.summary = "check a store's integrity, hash chain and gaps",
	.synopsis = "[-d DIR | -f FILE...]",
	.description =
		"Checks a connrec store: SQLite's integrity_check on every segment, the SHA-256\n"
		"chain between segments (each records the hash of the sealed one before it),\n"
		"segment numbering, and that segments missing at the start were deleted by\n"
		"retention (recorded with name and hash). Lists the recording gaps.\n",
	.epilog = "Exit status: 0 consistent, 1 a problem was found (each named as\n"
		  "\"FAIL SEGMENT: what\"), 2 bad usage.\n\n"
		  "Examples:\n"
		  "  connrec verify\n"
		  "  connrec verify -f evidence/seg-00000041.db.zst evidence/seg-00000042.db.zst\n",
	.operands = "FILE",
	.opts = verify_options,
	.run = verify_run,
};

static int verify_run(int argc, char **argv)
{
	struct verify_args a = { 0 };
	int rc = opt_parse(&cmd_verify, argc, argv, on_opt, &a);

	if (!rc && a.dir && a.n_files)
		rc = opt_usage_error("-d and -f exclude each other");
	if (rc) {
		free(a.files);
		return opt_exit_status(rc);
	}
	if (a.n_files)
		rc = store_verify(NULL, a.files, a.n_files, stdout);
	else
		rc = store_verify(a.dir ? a.dir : STORE_DEFAULT_DIR, NULL, 0, stdout);
	free(a.files);
	if (rc < 0) {
		fprintf(stderr, "connrec verify: %s\n", strerror(-rc));
		return EXIT_FAIL;
	}
	return rc ? EXIT_FAIL : EXIT_OK;
}
