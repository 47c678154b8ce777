// SPDX-License-Identifier: MIT
#include "progress.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "escape.h"

#define NS_PER_MS 1000000LL
#define DEFAULT_DELAY_NS (1000 * NS_PER_MS)
#define REDRAW_NS (100 * NS_PER_MS)

static struct {
	bool on;	  /* started, and stderr is a terminal */
	bool shown;	  /* a progress line is on the screen */
	int64_t start_ns; /* monotonic */
	int64_t last_ns;  /* when the line was last drawn */
	int64_t delay_ns; /* nothing shows before this much time has passed */
} pr;

static int64_t progress_clock_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

void progress_start(void)
{
	/* For tests, which cannot wait for a read to become long: the delay in ms. */
	const char *d = getenv("CONNREC_PROGRESS_DELAY_MS");
	char *end;

	pr.on = isatty(STDERR_FILENO);
	pr.shown = false;
	pr.start_ns = progress_clock_ns();
	pr.delay_ns = DEFAULT_DELAY_NS;
	if (d && *d) {
		long long ms = strtoll(d, &end, 10);

		if (!*end && ms >= 0 && ms < 3600 * 1000)
			pr.delay_ns = ms * NS_PER_MS;
	}
}

void progress_say(const char *fmt, ...)
{
	char line[256], safe[sizeof(line) * 4];
	int64_t now;
	va_list ap;

	if (!pr.on)
		return;
	now = progress_clock_ns();
	if (now - pr.start_ns < pr.delay_ns || (pr.shown && now - pr.last_ns < REDRAW_NS))
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	/* Back to the line's start, the text, then erase what a longer earlier line left. */
	fprintf(stderr, "\rconnrec: %s\033[K", cr_escape(line, safe, sizeof(safe)));
	fflush(stderr);
	pr.shown = true;
	pr.last_ns = now;
}

void progress_clear(void)
{
	if (!pr.shown)
		return;
	fputs("\r\033[K", stderr);
	fflush(stderr);
	pr.shown = false;
}
