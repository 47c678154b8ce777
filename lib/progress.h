/* SPDX-License-Identifier: MIT */
/*
 * Progress of a long read (many segments, big .zst files) on stderr: one line rewritten in
 * place, shown only when stderr is a terminal and only once the work has lasted a second, so
 * quick commands and scripts never see it. Every log message erases it first (lib/log.c), so
 * warnings start on a clean line; the command erases it before it prints its results.
 * One per process: a command shows one progress at a time.
 */
#ifndef CONNREC_PROGRESS_H
#define CONNREC_PROGRESS_H

/* Starts the clock. Nothing shows before progress_start() or without a terminal. */
void progress_start(void);
/* The current step ("reading segment 3 of 40"); escaped, and redrawn at most 10 times/s. */
void progress_say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Erases the line, if one is shown. */
void progress_clear(void);

#endif /* CONNREC_PROGRESS_H */
