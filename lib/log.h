/* SPDX-License-Identifier: MIT */
/*
 * One place for diagnostics: every message goes to stderr as one line "connrec: ...", with
 * bytes that are not printable ASCII escaped as \xNN (messages quote text read from files).
 */
#ifndef CONNREC_LOG_H
#define CONNREC_LOG_H

#include <stdarg.h>

enum cr_log_level { CR_LOG_ERROR = 0, CR_LOG_WARN = 1, CR_LOG_INFO = 2, CR_LOG_DEBUG = 3 };

/* Messages above this level are dropped. -v raises it to CR_LOG_DEBUG. */
void cr_log_set_level(enum cr_log_level level);
enum cr_log_level cr_log_get_level(void);

void cr_log(enum cr_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void cr_vlog(enum cr_log_level level, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));

#define cr_err(...) cr_log(CR_LOG_ERROR, __VA_ARGS__)
#define cr_warn(...) cr_log(CR_LOG_WARN, __VA_ARGS__)
#define cr_info(...) cr_log(CR_LOG_INFO, __VA_ARGS__)
#define cr_debug(...) cr_log(CR_LOG_DEBUG, __VA_ARGS__)

#endif /* CONNREC_LOG_H */
