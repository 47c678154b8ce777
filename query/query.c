// SPDX-License-Identifier: MIT
// PLACEHOLDER until its owner lands the real command.
#include <stdio.h>
#include "../src/commands.h"
int cmd_query(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	fprintf(stderr, "connrec: query: not built yet\n");
	return EXIT_FAIL;
}
