// SPDX-License-Identifier: MIT
#include "log.h"
#include "progress.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "escape.h"

static enum cr_log_level cur_level = CR_LOG_INFO;

void cr_log_set_level(enum cr_log_level level)
{
	cur_level = level;
}

enum cr_log_level cr_log_get_level(void)
{
	return cur_level;
}

void cr_vlog(enum cr_log_level level, const char *fmt, va_list ap)
{
	static const char *const prefix[] = { "error: ", "warning: ", "", "debug: " };
	char *line = NULL, *safe = NULL;
	size_t n;

	if (level > cur_level)
		return;
	if (vasprintf(&line, fmt, ap) < 0)
		return;
	/* Callers may or may not end with a newline; print exactly one. */
	n = strlen(line);
	while (n && line[n - 1] == '\n')
		line[--n] = '\0';
	/*
	 * Messages quote file names, SQLite errors and values read from files: escaped, so one
	 * message is one line and cannot carry terminal control sequences. Heap-sized: an escape
	 * takes four bytes.
	 */
	safe = malloc(n * 4 + 1);
	progress_clear(); /* a message starts on a line of its own */
	if (safe)
		fprintf(stderr, "connrec: %s%s\n", prefix[level], cr_escape(line, safe, n * 4 + 1));
	free(safe);
	free(line);
}

void cr_log(enum cr_log_level level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	cr_vlog(level, fmt, ap);
	va_end(ap);
}
