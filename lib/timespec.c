// SPDX-License-Identifier: MIT
#include "timespec.h"

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

/*
 * The digits after a decimal point, scaled to 1e9 (past the ninth they add nothing). Advances
 * *p past them; false when there are none.
 */
static bool parse_fraction(const char **p, uint64_t *frac_e9)
{
	const char *s = *p;
	uint64_t f = 0, scale = 100000000ULL;

	while (*s >= '0' && *s <= '9') {
		f += (uint64_t)(*s - '0') * scale;
		scale /= 10;
		s++;
	}
	*frac_e9 = f;
	if (s == *p)
		return false;
	*p = s;
	return true;
}

/*
 * A decimal number "123" or "1.25": the integer part and the fraction scaled to 1e9, so the
 * caller can multiply both by a unit without floating point (durations must be exact).
 * Advances *p past the digits. At most 9 fractional digits are kept; more are ignored.
 */
static int parse_decimal(const char **p, uint64_t *ipart, uint64_t *frac_e9)
{
	const char *s = *p;
	uint64_t v = 0, f = 0;
	bool digits = false;

	while (*s >= '0' && *s <= '9') {
		if (__builtin_mul_overflow(v, 10, &v) || __builtin_add_overflow(v, *s - '0', &v))
			return -ERANGE;
		s++;
		digits = true;
	}
	if (*s == '.') {
		s++;
		if (parse_fraction(&s, &f))
			digits = true;
	}
	if (!digits)
		return -EINVAL;
	*p = s;
	*ipart = v;
	*frac_e9 = f;
	return 0;
}

/* ipart.frac * unit, with overflow checking. The fraction part is rounded down. */
static int scale_value(uint64_t ipart, uint64_t frac_e9, uint64_t unit, uint64_t *out)
{
	uint64_t a, b;

	if (__builtin_mul_overflow(ipart, unit, &a))
		return -ERANGE;
	/* frac_e9 < 1e9 and unit <= ~1e18 would overflow: split the unit. */
	b = (frac_e9 * (unit % 1000000000ULL)) / 1000000000ULL;
	if (__builtin_add_overflow(b, frac_e9 * (unit / 1000000000ULL), &b))
		return -ERANGE;
	if (__builtin_add_overflow(a, b, out))
		return -ERANGE;
	return 0;
}

struct unit {
	const char *name;
	uint64_t mult;
};

/* Longest names first where one is a prefix of another ("ms" before "m"). */
static const struct unit duration_units[] = {
	{ "ns", 1ULL },
	{ "us", 1000ULL },
	{ "ms", 1000000ULL },
	{ "s", 1000000000ULL },
	{ "min", 60ULL * 1000000000ULL },
	{ "m", 60ULL * 1000000000ULL },
	{ "h", 3600ULL * 1000000000ULL },
	{ "d", 86400ULL * 1000000000ULL },
	{ "w", 7ULL * 86400ULL * 1000000000ULL },
};

int ts_parse_duration(const char *s, int64_t *out_ns)
{
	uint64_t total = 0;
	const char *p = s;
	int err;

	if (!s || !*s)
		return -EINVAL;
	while (*p) {
		uint64_t ip, fr, v, mult = 0;
		size_t i, ulen = 0;

		err = parse_decimal(&p, &ip, &fr);
		if (err)
			return err;
		for (i = 0; i < sizeof(duration_units) / sizeof(duration_units[0]); i++) {
			size_t n = strlen(duration_units[i].name);

			if (!strncmp(p, duration_units[i].name, n)) {
				mult = duration_units[i].mult;
				ulen = n;
				break;
			}
		}
		if (!mult) {
			/* A bare number is seconds, but only as the whole string ("90"). */
			if (*p || p != s + strlen(s) || total)
				return -EINVAL;
			mult = 1000000000ULL;
		}
		p += ulen;
		err = scale_value(ip, fr, mult, &v);
		if (err)
			return err;
		if (__builtin_add_overflow(total, v, &total) || total > (uint64_t)INT64_MAX)
			return -ERANGE;
	}
	*out_ns = (int64_t)total;
	return 0;
}

int ts_parse_size(const char *s, uint64_t *out_bytes)
{
	static const char suffixes[] = "KMGTP";
	const char *p = s, *q;
	uint64_t ip, fr, mult = 1, v;
	int err;

	if (!s || !*s)
		return -EINVAL;
	err = parse_decimal(&p, &ip, &fr);
	if (err)
		return err;
	if (*p) {
		q = strchr(suffixes, *p >= 'a' && *p <= 'z' ? *p - 'a' + 'A' : *p);
		if (q && *p != '\0') {
			for (long i = 0; i <= q - suffixes; i++)
				mult *= 1024;
			p++;
			if (*p == 'i')
				p++;
		}
		if (*p == 'B' || *p == 'b')
			p++;
		if (*p)
			return -EINVAL;
	}
	err = scale_value(ip, fr, mult, &v);
	if (err)
		return err;
	*out_bytes = v;
	return 0;
}

/* Exactly n digits at *p (n <= 9) into *out; advances *p. */
static int fixed_digits(const char **p, int n, int *out)
{
	int v = 0;

	for (int i = 0; i < n; i++) {
		char c = (*p)[i];

		if (c < '0' || c > '9')
			return -EINVAL;
		v = v * 10 + (c - '0');
	}
	*p += n;
	*out = v;
	return 0;
}

static bool is_leap(int y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int days_in_month(int y, int m)
{
	static const int d[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };

	return m == 2 && is_leap(y) ? 29 : d[m - 1];
}

/* Days since 1970-01-01 of a proleptic Gregorian date; independent of TZ and of timegm(). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

/* The absolute forms; see timespec.h. */
static int parse_absolute(const char *s, int64_t *out_ns)
{
	const char *p = s;
	int Y, M, D, h = 0, mi = 0, sec = 0, err;
	uint64_t frac = 0;
	bool zone = false;
	int64_t off_s = 0, secs;

	if ((err = fixed_digits(&p, 4, &Y)) || *p++ != '-' || (err = fixed_digits(&p, 2, &M)) ||
	    *p++ != '-' || (err = fixed_digits(&p, 2, &D)))
		return -EINVAL;
	if (Y < 1970 || Y > 2200 || M < 1 || M > 12 || D < 1 || D > days_in_month(Y, M))
		return -ERANGE;
	if (*p == 'T' || *p == 't' || *p == ' ') {
		p++;
		if (fixed_digits(&p, 2, &h) || *p++ != ':' || fixed_digits(&p, 2, &mi))
			return -EINVAL;
		if (*p == ':') {
			p++;
			if (fixed_digits(&p, 2, &sec))
				return -EINVAL;
			if (*p == '.' || *p == ',') {
				p++;
				if (!parse_fraction(&p, &frac))
					return -EINVAL;
			}
		}
		if (h > 23 || mi > 59 || sec > 59)
			return -ERANGE;
	}
	while (*p == ' ')
		p++;
	if (*p == 'Z' || *p == 'z') {
		zone = true;
		p++;
	} else if (!strncasecmp(p, "UTC", 3)) {
		zone = true;
		p += 3;
	}
	if (*p == '+' || *p == '-') {
		int sign = *p == '-' ? -1 : 1, oh, om = 0;

		p++;
		if (fixed_digits(&p, 2, &oh))
			return -EINVAL;
		if (*p == ':')
			p++;
		if (*p >= '0' && *p <= '9' && fixed_digits(&p, 2, &om))
			return -EINVAL;
		if (oh > 23 || om > 59)
			return -ERANGE;
		zone = true;
		off_s = sign * (oh * 3600 + om * 60);
	}
	if (*p)
		return -EINVAL;
	if (zone) {
		secs = days_from_civil(Y, M, D) * 86400 + h * 3600 + mi * 60 + sec - off_s;
	} else {
		struct tm tm = { .tm_year = Y - 1900,
				 .tm_mon = M - 1,
				 .tm_mday = D,
				 .tm_hour = h,
				 .tm_min = mi,
				 .tm_sec = sec,
				 .tm_isdst = -1 };
		time_t t;

		tzset();
		t = mktime(&tm);
		if (t == (time_t)-1)
			return -ERANGE;
		secs = t;
	}
	if (secs < 0)
		return -ERANGE;
	*out_ns = secs * TS_NSEC_PER_SEC + (int64_t)frac;
	return 0;
}

int ts_parse_time(const char *s, int64_t now_ns, int64_t *out_ns)
{
	int64_t d;
	int err;

	if (!s || !*s)
		return -EINVAL;
	if (!strcmp(s, "now")) {
		*out_ns = now_ns;
		return 0;
	}
	if (s[0] == '@') {
		uint64_t ip, fr, v;
		const char *p = s + 1;

		err = parse_decimal(&p, &ip, &fr);
		if (err)
			return err;
		if (*p)
			return -EINVAL;
		err = scale_value(ip, fr, 1000000000ULL, &v);
		if (err)
			return err;
		if (v > (uint64_t)INT64_MAX)
			return -ERANGE;
		*out_ns = (int64_t)v;
		return 0;
	}
	/* A date always has a '-' after four digits; a relative time never does. */
	if (strlen(s) >= 5 && s[4] == '-')
		return parse_absolute(s, out_ns);
	err = ts_parse_duration(s[0] == '-' ? s + 1 : s, &d);
	if (err)
		return err;
	if (d > now_ns)
		return -ERANGE;
	*out_ns = now_ns - d;
	return 0;
}

int ts_format_time(int64_t ns, unsigned flags, char *buf, size_t len)
{
	time_t t = (time_t)(ns / TS_NSEC_PER_SEC);
	long frac = (long)(ns % TS_NSEC_PER_SEC);
	struct tm tm;
	char base[32], fr[16] = "", zone[32] = "";

	if (ns < 0 || !len)
		return -ERANGE;
	if (flags & TS_FMT_UTC) {
		if (!gmtime_r(&t, &tm))
			return -ERANGE;
	} else {
		if (!localtime_r(&t, &tm))
			return -ERANGE;
	}
	strftime(base, sizeof(base),
		 (flags & TS_FMT_UTC) ? "%Y-%m-%dT%H:%M:%S" : "%Y-%m-%d %H:%M:%S", &tm);
	if (flags & TS_FMT_NANO)
		snprintf(fr, sizeof(fr), ".%09ld", frac);
	else if (flags & TS_FMT_MILLI)
		snprintf(fr, sizeof(fr), ".%03ld", frac / 1000000);
	if (flags & TS_FMT_UTC) {
		strcpy(zone, "Z");
	} else if (flags & TS_FMT_ZONE) {
		long off = tm.tm_gmtoff;
		char sign = off < 0 ? '-' : '+';

		off = (off < 0 ? -off : off) % 86400;
		snprintf(zone, sizeof(zone), "%c%02ld:%02ld", sign, off / 3600, (off / 60) % 60);
	}
	snprintf(buf, len, "%s%s%s", base, fr, zone);
	return 0;
}

void ts_format_duration(int64_t ns, char *buf, size_t len)
{
	int64_t s;

	if (ns < 0) {
		snprintf(buf, len, "-");
		return;
	}
	s = ns / TS_NSEC_PER_SEC;
	if (s < 60)
		snprintf(buf, len, "%.3fs", (double)ns / 1e9);
	else if (s < 3600)
		snprintf(buf, len, "%lldm%02llds", (long long)(s / 60), (long long)(s % 60));
	else if (s < 86400)
		snprintf(buf, len, "%lldh%02lldm", (long long)(s / 3600), (long long)(s / 60 % 60));
	else
		snprintf(buf, len, "%lldd%02lldh", (long long)(s / 86400),
			 (long long)(s / 3600 % 24));
}

void ts_format_size(uint64_t bytes, char *buf, size_t len)
{
	static const char unit[] = "KMGTPE";
	double v = (double)bytes;
	int u = -1;

	if (bytes < 1024) {
		snprintf(buf, len, "%" PRIu64, bytes);
		return;
	}
	while (v >= 1024 && u < 5) {
		v /= 1024;
		u++;
	}
	/* "%.0f" would round 1023.6K up to "1024K": that is already the next unit. */
	if (v >= 1023.5 && u < 5) {
		v /= 1024;
		u++;
	}
	snprintf(buf, len, v < 9.95 ? "%.1f%c" : "%.0f%c", v, unit[u]);
}

int64_t ts_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * TS_NSEC_PER_SEC + ts.tv_nsec;
}

static int64_t clock_now(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (int64_t)ts.tv_sec * TS_NSEC_PER_SEC + ts.tv_nsec;
}

int64_t ts_boot_offset_ns(void)
{
	/* Bracket the wall-clock read so scheduling between the reads cancels out. */
	int64_t b1 = clock_now(CLOCK_BOOTTIME);
	int64_t w = clock_now(CLOCK_REALTIME);
	int64_t b2 = clock_now(CLOCK_BOOTTIME);

	return w - (b1 + (b2 - b1) / 2);
}
