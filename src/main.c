// SPDX-License-Identifier: MIT
/* connrec: dispatch to a subcommand. */
#include <stdio.h>
#include <string.h>

#include "commands.h"

struct cmd {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *summary;
};

static const struct cmd cmds[] = {
	{ "record", cmd_record, "capture connections into a store (daemon, needs root)" },
	{ "query", cmd_query, "rebuild connection lifetimes from a live or copied store" },
	{ "verify", cmd_verify, "check a store's integrity, hash chain and gaps" },
	{ "status", cmd_status, "show whether a recorder runs on a store, and its counters" },
};

static void usage(FILE *f)
{
	fprintf(f, "Usage: connrec COMMAND [OPTIONS]\n\n"
		   "Records which process talked to what, when, and keeps it as evidence.\n\n"
		   "Commands:\n");
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		fprintf(f, "  %-8s %s\n", cmds[i].name, cmds[i].summary);
	fprintf(f, "\nRun 'connrec COMMAND --help' for a command's options.\n"
		   "Examples:\n"
		   "  connrec record                       # record into /var/lib/connrec\n"
		   "  connrec query --since 1h --port 53   # who did DNS in the last hour\n");
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
		usage(stdout);
		return EXIT_OK;
	}
	if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "-V")) {
		printf("connrec %s\n", CONNREC_VERSION);
		return EXIT_OK;
	}
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		if (!strcmp(argv[1], cmds[i].name))
			return cmds[i].fn(argc - 1, argv + 1);
	}
	fprintf(stderr, "connrec: unknown command '%s' (try 'connrec --help')\n", argv[1]);
	return EXIT_USAGE;
}
