// SPDX-License-Identifier: MIT
/* connrec verify: integrity, hash chain and retention records of a store (read/store_verify.c). */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "../src/commands.h"
#include "store.h"
#include "store_internal.h"

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: connrec verify [-d DIR | -f FILE...]\n\n"
		"Checks a connrec store: SQLite's integrity_check on every segment, the SHA-256\n"
		"chain between segments (each records the hash of the sealed one before it),\n"
		"segment numbering, and that segments missing at the start were deleted by\n"
		"retention (recorded with name and hash). Lists the recording gaps.\n\n"
		"  -d, --data-dir DIR  the data dir (default " STORE_DEFAULT_DIR ")\n"
		"  -f, --file FILE     check these segment files instead (.db or .db.zst);\n"
		"                      the chain is checked between consecutive ones given\n"
		"  -h, --help          this help\n\n"
		"Exit status: 0 consistent, 1 a problem was found (each named as\n"
		"\"FAIL SEGMENT: what\"), 2 bad usage.\n\n"
		"Examples:\n"
		"  connrec verify\n"
		"  connrec verify -f evidence/seg-00000041.db.zst evidence/seg-00000042.db.zst\n");
}

int cmd_verify(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "data-dir", required_argument, NULL, 'd' },
		{ "file", no_argument, NULL, 'f' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *dir = NULL;
	bool files = false;
	int opt, rc;

	optind = 1;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "+d:fh", longopts, NULL)) != -1) {
		switch (opt) {
		case 'd':
			dir = optarg;
			break;
		case 'f':
			files = true;
			break;
		case 'h':
			usage(stdout);
			return EXIT_OK;
		default:
			fprintf(stderr, "connrec: verify: bad option '%s' (try --help)\n",
				argv[optind - 1]);
			return EXIT_USAGE;
		}
	}
	if (dir && files) {
		fprintf(stderr, "connrec: verify: -d and -f exclude each other (try --help)\n");
		return EXIT_USAGE;
	}
	if (files && optind >= argc) {
		fprintf(stderr, "connrec: verify: -f needs at least one FILE (try --help)\n");
		return EXIT_USAGE;
	}
	if (!files && optind < argc) {
		fprintf(stderr, "connrec: verify: unexpected argument '%s' (try --help)\n",
			argv[optind]);
		return EXIT_USAGE;
	}
	if (files) {
		/* "-f a -f b" and "-f a b" both name the files a and b. */
		size_t n = 0;

		for (int i = optind; i < argc; i++)
			if (strcmp(argv[i], "-f") && strcmp(argv[i], "--file"))
				argv[optind + n++] = argv[i];
		rc = store_verify(NULL, argv + optind, n, stdout);
	}
	else
		rc = store_verify(dir ? dir : STORE_DEFAULT_DIR, NULL, 0, stdout);
	if (rc < 0) {
		fprintf(stderr, "connrec: verify: %s\n", strerror(-rc));
		return EXIT_FAIL;
	}
	return rc ? EXIT_FAIL : EXIT_OK;
}
