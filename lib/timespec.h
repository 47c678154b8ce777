/* SPDX-License-Identifier: MIT */
/*
 * Parsing and formatting of the times, durations and sizes people type on the command line.
 *
 * All times are wall-clock nanoseconds since the Unix epoch (UTC), as stored in segments.
 * Every parser takes the whole string: trailing garbage is an error, never ignored.
 * They return 0 or -EINVAL (malformed) / -ERANGE (out of range) and leave *out untouched on
 * error.
 */
#ifndef CONNREC_TIMESPEC_H
#define CONNREC_TIMESPEC_H

#include <stddef.h>
#include <stdint.h>

#define TS_NSEC_PER_SEC 1000000000LL

/*
 * A duration: a decimal number with an optional fraction and a unit, e.g. "90s", "10m",
 * "1h", "2d", "1w", "250ms", "1.5s", "20us", "100ns". A bare number means seconds.
 * Several parts may be chained without spaces ("1h30m"). Negative durations are refused.
 */
int ts_parse_duration(const char *s, int64_t *out_ns);

/*
 * A size in bytes: a number with an optional fraction and binary suffix K, M, G, T or P
 * (1024-based; "KB", "KiB", "k" and a trailing "B" are accepted), e.g. "512", "64K", "1.5G".
 */
int ts_parse_size(const char *s, uint64_t *out_bytes);

/*
 * A point in time, either
 *   - relative to now_ns: a duration ("90s", "2d"), optionally with a leading '-', meaning that
 *     long before now; or "now";
 *   - absolute: "YYYY-MM-DD", "YYYY-MM-DD HH:MM[:SS[.frac]]" or with 'T' between date and
 *     time, optionally followed by "Z", "UTC" or an offset "+HH", "+HHMM", "+HH:MM". Without a
 *     zone the time is local (the TZ environment variable), like date(1);
 *   - "@SECONDS[.frac]" since the epoch.
 */
int ts_parse_time(const char *s, int64_t now_ns, int64_t *out_ns);

/* Flags for ts_format_time(). */
#define TS_FMT_UTC   0x1 /* print UTC with a trailing "Z" instead of local time */
#define TS_FMT_MILLI 0x2 /* add ".mmm" */
#define TS_FMT_NANO  0x4 /* add ".nnnnnnnnn" (wins over TS_FMT_MILLI) */
#define TS_FMT_ZONE  0x8 /* local time: add the numeric offset, e.g. "+01:00" */

/* "2026-11-21 03:14:00[.mmm][+01:00]" or "2026-11-21T03:14:00[.mmm]Z". Returns 0 or -ERANGE. */
int ts_format_time(int64_t ns, unsigned flags, char *buf, size_t len);

/* A duration for people: "0.012s", "3m12s", "2d3h". Never fails; truncates to len. */
void ts_format_duration(int64_t ns, char *buf, size_t len);

/*
 * A size for people, 1024-based as ts_parse_size() reads it: "512", "1.5K", "68K", "3.2G".
 * One decimal below 10 units, none above; bytes below 1024 as they are.
 */
void ts_format_size(uint64_t bytes, char *buf, size_t len);

/* Current wall-clock time in nanoseconds. */
int64_t ts_now_ns(void);

/* Wall clock minus CLOCK_BOOTTIME now: wall = boot + offset (BPF stamps boot time). */
int64_t ts_boot_offset_ns(void);

#endif /* CONNREC_TIMESPEC_H */
