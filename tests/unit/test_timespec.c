// SPDX-License-Identifier: MIT
/* Time specs, durations and sizes: the good forms and the bad ones. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "timespec.h"

static void dur_ok(const char *s, int64_t want)
{
	int64_t v = -1;
	int err = ts_parse_duration(s, &v);

	CHECK(!err && v == want, "duration '%s': err %d got %" PRId64 " want %" PRId64, s, err, v,
	      want);
}

static void dur_bad(const char *s)
{
	int64_t v = 12345;
	int err = ts_parse_duration(s, &v);

	CHECK(err < 0 && v == 12345, "duration '%s' should fail (err %d, v %" PRId64 ")", s, err,
	      v);
}

static void size_ok(const char *s, uint64_t want)
{
	uint64_t v = 0;
	int err = ts_parse_size(s, &v);

	CHECK(!err && v == want, "size '%s': err %d got %" PRIu64 " want %" PRIu64, s, err, v,
	      want);
}

static void size_bad(const char *s)
{
	uint64_t v = 7;

	CHECK(ts_parse_size(s, &v) < 0 && v == 7, "size '%s' should fail", s);
}

static void time_ok(const char *s, int64_t now, int64_t want)
{
	int64_t v = -1;
	int err = ts_parse_time(s, now, &v);

	CHECK(!err && v == want, "time '%s': err %d got %" PRId64 " want %" PRId64, s, err, v,
	      want);
}

static void time_bad(const char *s)
{
	int64_t v = 99;

	CHECK(ts_parse_time(s, 1800000000LL * TS_NSEC_PER_SEC, &v) < 0 && v == 99,
	      "time '%s' should fail", s);
}

int main(void)
{
	const int64_t S = TS_NSEC_PER_SEC;
	const int64_t now = 1795000000LL * S;
	/* 2026-11-21T03:14:00Z */
	const int64_t t0 = 1795230840LL * S;
	char buf[64];

	dur_ok("90s", 90 * S);
	dur_ok("10m", 600 * S);
	dur_ok("1h", 3600 * S);
	dur_ok("2d", 2 * 86400 * S);
	dur_ok("1w", 7 * 86400 * S);
	dur_ok("250ms", 250000000);
	dur_ok("20us", 20000);
	dur_ok("100ns", 100);
	dur_ok("1.5s", 1500000000);
	dur_ok("0.5", 500000000);
	dur_ok("90", 90 * S);
	dur_ok("1h30m", 5400 * S);
	dur_ok("2min", 120 * S);
	dur_ok("0s", 0);
	dur_bad("");
	dur_bad("s");
	dur_bad("-5s");
	dur_bad("5x");
	dur_bad("5 s");
	dur_bad(" 5s");
	dur_bad("1h30");
	dur_bad("1..5s");
	dur_bad(".s");
	dur_bad("99999999999999999999s");
	dur_bad("300000d"); /* > INT64_MAX ns */
	dur_bad("5s ");

	size_ok("512", 512);
	size_ok("64K", 65536);
	size_ok("64k", 65536);
	size_ok("256M", 256ULL << 20);
	size_ok("1G", 1ULL << 30);
	size_ok("1GB", 1ULL << 30);
	size_ok("1GiB", 1ULL << 30);
	size_ok("2T", 2ULL << 40);
	size_ok("1.5G", 3ULL << 29);
	size_ok("10B", 10);
	size_bad("");
	size_bad("G");
	size_bad("1X");
	size_bad("1GG");
	size_bad("-1G");
	size_bad("1 G");
	size_bad("99999999999P");

	setenv("TZ", "UTC", 1);
	time_ok("90s", now, now - 90 * S);
	time_ok("-90s", now, now - 90 * S);
	time_ok("2d", now, now - 2 * 86400 * S);
	time_ok("now", now, now);
	time_ok("@1795230840", now, t0);
	time_ok("@1795230840.25", now, t0 + 250000000);
	time_ok("2026-11-21T03:14:00Z", now, t0);
	time_ok("2026-11-21T03:14:00.5Z", now, t0 + 500000000);
	time_ok("2026-11-21 03:14", now, t0); /* local = UTC here */
	time_ok("2026-11-21T04:14:00+01:00", now, t0);
	time_ok("2026-11-21T04:14:00+0100", now, t0);
	time_ok("2026-11-21T02:14:00-01", now, t0);
	time_ok("2026-11-21 03:14:00 UTC", now, t0);
	time_ok("2026-11-21", now, t0 - (3 * 3600 + 14 * 60) * S);
	time_ok("2024-02-29T00:00:00Z", now, 1709164800LL * S);

	setenv("TZ", "Europe/Berlin", 1);
	time_ok("2026-11-21 04:14", now, t0);		    /* CET = UTC+1 in November */
	time_ok("2026-11-21T03:14:00Z", now, t0);	    /* a zone wins over TZ */
	time_ok("2026-07-01 02:00", now, 1782864000LL * S); /* CEST = UTC+2 */
	CHECK(!ts_format_time(t0, 0, buf, sizeof(buf)) && !strcmp(buf, "2026-11-21 04:14:00"),
	      "format local: %s", buf);
	CHECK(!ts_format_time(t0 + 5000000, TS_FMT_MILLI | TS_FMT_ZONE, buf, sizeof(buf)) &&
		      !strcmp(buf, "2026-11-21 04:14:00.005+01:00"),
	      "format zone: %s", buf);
	setenv("TZ", "UTC", 1);
	CHECK(!ts_format_time(t0 + 7, TS_FMT_UTC | TS_FMT_NANO, buf, sizeof(buf)) &&
		      !strcmp(buf, "2026-11-21T03:14:00.000000007Z"),
	      "format utc: %s", buf);

	time_bad("");
	time_bad("yesterday");
	time_bad("2026-13-01");
	time_bad("2026-02-30");
	time_bad("2025-02-29");
	time_bad("2026-11-21T25:00");
	time_bad("2026-11-21T03:60");
	time_bad("2026-11-21T03:14:00+25:00");
	time_bad("2026-11-21T03:14:00Zjunk");
	time_bad("2026-11-21T03");
	time_bad("2026-1-21");
	time_bad("1969-12-31");
	time_bad("@");
	time_bad("@12x");
	time_bad("100000d"); /* before the epoch */
	time_bad("2026-11-21T03:14:00.");

	ts_format_duration(1500000000, buf, sizeof(buf));
	CHECK(!strcmp(buf, "1.500s"), "fmt dur %s", buf);
	ts_format_duration(192 * S, buf, sizeof(buf));
	CHECK(!strcmp(buf, "3m12s"), "fmt dur %s", buf);
	ts_format_duration((2 * 86400 + 3 * 3600) * S, buf, sizeof(buf));
	CHECK(!strcmp(buf, "2d03h"), "fmt dur %s", buf);

	{
		static const struct {
			uint64_t b;
			const char *want;
		} sizes[] = {
			{ 0, "0" },	      { 500, "500" },	    { 1023, "1023" },
			{ 1024, "1.0K" },     { 1536, "1.5K" },	    { 70000, "68K" },
			{ 123456, "121K" },   { 1048575, "1.0M" },  { 10189, "10K" },
			{ 5ULL << 30, "5.0G" }, { UINT64_MAX, "16E" },
		};

		for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
			uint64_t back;

			ts_format_size(sizes[i].b, buf, sizeof(buf));
			CHECK(!strcmp(buf, sizes[i].want), "fmt size %" PRIu64 ": %s, want %s",
			      sizes[i].b, buf, sizes[i].want);
			/* What it prints, ts_parse_size() reads back (up to its T unit). */
			if (sizes[i].b < (1ULL << 40))
				CHECK(!ts_parse_size(buf, &back), "fmt size %s does not parse back",
				      buf);
		}
	}

	return check_done();
}
