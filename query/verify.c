// SPDX-License-Identifier: MIT
// PLACEHOLDER until its owner lands the real command.
#include <stdio.h>
#include "../src/commands.h"
int cmd_verify(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	fprintf(stderr, "connrec: verify: not built yet\n");
	return EXIT_FAIL;
}
