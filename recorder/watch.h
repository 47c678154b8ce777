/* SPDX-License-Identifier: MIT */
/*
 * watch: the recorder watches itself. An intruder's first move is to blind the sensor: detach
 * its hooks, or remove the files it writes. Several times a second the watch checks every
 * program attachment the recorder owns and (through the store) its active segment and data dir,
 * heals what it finds broken and has it recorded as a tamper gap (docs/blinding.md).
 */
#ifndef CONNREC_WATCH_H
#define CONNREC_WATCH_H

#include <stdint.h>

struct capture;
struct store;

/* How often the checks run: a detached hook is blind for at most about this long. */
#define WATCH_PERIOD_NS (250 * 1000000LL)

struct watch;

/*
 * Notes how every hook of CAP is attached now (call it right after capture_open) and watches
 * CAP and STORE from then on. Returns 0 or -errno.
 */
int watch_new(struct watch **out, struct capture *cap, struct store *store);

/* Runs the checks when WATCH_PERIOD_NS has passed since the last ones (NOW_MONO: CLOCK_MONOTONIC). */
void watch_tick(struct watch *w, int64_t now_mono);

/* Safe on NULL. */
void watch_free(struct watch *w);

#endif /* CONNREC_WATCH_H */
