/* SPDX-License-Identifier: MIT */
/*
 * The check macro the unit tests share. Each test file is its own binary, so the counters
 * are per test: CHECK() counts and names each failure, check_done() prints the summary line
 * and gives main() its exit status.
 */
#ifndef CONNREC_TESTS_CHECK_H
#define CONNREC_TESTS_CHECK_H

#include <stdio.h>

static int check_failed, check_passed;

#define CHECK(cond, ...)                                                                           \
	do {                                                                                       \
		if (cond) {                                                                        \
			check_passed++;                                                            \
		} else {                                                                           \
			check_failed++;                                                            \
			fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__);                       \
			fprintf(stderr, __VA_ARGS__);                                              \
			fputc('\n', stderr);                                                       \
		}                                                                                  \
	} while (0)

/* CHECK with the condition's own text as the message. */
#define CHECK_THAT(cond) CHECK(cond, "%s", #cond)

static inline int check_done(void)
{
	printf("%d passed, %d failed\n", check_passed, check_failed);
	return check_failed ? 1 : 0;
}

#endif /* CONNREC_TESTS_CHECK_H */
