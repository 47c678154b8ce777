// SPDX-License-Identifier: MIT
#include "pager.h"

#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

FILE *pager_open(enum pager_choice choice)
{
	const char *pager = getenv("PAGER");
	FILE *f;

	if (choice == PAGER_NEVER || !isatty(STDOUT_FILENO))
		return stdout;
	if (!pager || !*pager) {
		if (choice != PAGER_ALWAYS)
			return stdout;
		pager = "less";
	}
	setenv("LESS", "FRSX", 0);
	fflush(stdout);
	f = popen(pager, "w");
	return f ? f : stdout;
}

int pager_close(FILE *f)
{
	int err = 0;

	if (f == stdout)
		return fflush(stdout) ? -errno : 0;
	/* A user who leaves the pager early has seen enough: not an error. */
	if (fflush(f) && errno != EPIPE)
		err = -errno;
	if (pclose(f) < 0 && !err)
		err = -errno;
	return err;
}
