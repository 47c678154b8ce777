// SPDX-License-Identifier: MIT
/* End zones of a segment's whole lifetimes: see conn_zones.h. */
#include "conn_zones.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "schema_values.h"

void conn_zones_init(struct conn_zones *z, int64_t first_id)
{
	memset(z, 0, sizeof(*z));
	if (first_id >= 0) {
		z->base = first_id;
		z->based = true;
	}
}

/* The zone of an id in z's shape (lower ids are in zone 0); may be past the last. */
static uint64_t zone_of(const struct conn_zones *z, int64_t id)
{
	int64_t key = id >> z->shift;

	return key <= z->base ? 0 : (uint64_t)(key - z->base);
}

/* Twice as many ids per zone: neighbours merge, and zone 0 keeps everything below it. */
static void widen(struct conn_zones *z)
{
	int64_t old_base = z->base;
	unsigned old_n = z->n;

	z->shift++;
	z->base = old_base >> 1;
	z->n = 0;
	for (unsigned j = 0; j < old_n; j++) {
		unsigned k = (unsigned)(((old_base + (int64_t)j) >> 1) - z->base);
		int64_t e = z->end[j];

		z->end[j] = 0;
		if (k >= z->n)
			z->n = k + 1;
		if (e > z->end[k])
			z->end[k] = e;
	}
}

void conn_zones_add(struct conn_zones *z, int64_t id, int64_t end_ns)
{
	uint64_t j;

	if (id < 0)
		return; /* never written; no zone would hold it */
	if (!z->based) {
		z->base = id;
		z->based = true;
	}
	while ((j = zone_of(z, id)) >= CONN_ZONES_MAX)
		widen(z);
	if (j >= z->n) {
		/* Zones between the last one and this are empty (end 0). */
		for (unsigned k = z->n; k < j; k++)
			z->end[k] = 0;
		z->n = (unsigned)j + 1;
		z->end[j] = end_ns;
	} else if (end_ns > z->end[j]) {
		z->end[j] = end_ns;
	}
}

int conn_zones_format(const struct conn_zones *z, char *buf, size_t len)
{
	size_t off;
	int n = snprintf(buf, len, "%u %" PRId64, z->shift, z->base);

	if (n < 0 || (size_t)n >= len)
		return -ENOSPC;
	off = (size_t)n;
	for (unsigned j = 0; j < z->n; j++) {
		n = snprintf(buf + off, len - off, " %" PRId64, z->end[j]);
		if (n < 0 || (size_t)n >= len - off)
			return -ENOSPC;
		off += (size_t)n;
	}
	return 0;
}

/* One decimal number at *p, then a space or the end of the text. */
static int parse_num(const char **p, int64_t lo, int64_t hi, int64_t *out)
{
	const char *s = *p;
	int64_t v = 0;

	/* As conn_zones_format() writes it: digits, no leading zero. */
	if (*s < '0' || *s > '9' || (s[0] == '0' && s[1] >= '0' && s[1] <= '9'))
		return -EINVAL;
	for (; *s >= '0' && *s <= '9'; s++) {
		if (v > (INT64_MAX - (*s - '0')) / 10)
			return -EINVAL;
		v = v * 10 + (*s - '0');
	}
	/* Numbers are parted by one space, and the text ends after a number. */
	if ((*s != ' ' && *s != '\0') || (*s == ' ' && (s[1] < '0' || s[1] > '9')) || v < lo ||
	    v > hi)
		return -EINVAL;
	*p = *s ? s + 1 : s;
	*out = v;
	return 0;
}

int conn_zones_parse(const char *text, struct conn_zones *z)
{
	const char *p = text;
	int64_t shift, base;

	conn_zones_init(z, -1);
	if (!text || parse_num(&p, 0, 62, &shift) || parse_num(&p, 0, INT64_MAX, &base))
		goto bad;
	z->shift = (unsigned)shift;
	z->base = base;
	z->based = true;
	while (*p) {
		if (z->n == CONN_ZONES_MAX || parse_num(&p, 0, INT64_MAX, &z->end[z->n]))
			goto bad;
		z->n++;
	}
	/* Every zone's first id must be a number: (base + n) << shift fits in 63 bits. */
	if (z->n && base > (INT64_MAX >> shift) - (int64_t)z->n)
		goto bad;
	return 0;
bad:
	conn_zones_init(z, -1);
	return -EINVAL;
}

int64_t conn_zones_first_id(const struct conn_zones *z, int64_t since_ns)
{
	unsigned j = 0;

	if (!z->n)
		return INT64_MIN;
	while (j < z->n && z->end[j] < since_ns)
		j++;
	/* Zone 0 also holds every lower id: nothing below it can be left out. */
	if (j == 0)
		return INT64_MIN;
	return (z->base + (int64_t)j) << z->shift;
}

int conn_zones_of_db(sqlite3 *db, const struct conn_zones *shape, struct conn_zones *out)
{
	/* The end as the reader takes it (store_read_rows.c: a missing duration is 0). */
	static const char sql[] = "SELECT c.id, c.start_ns + coalesce(c.dur_ns, 0) FROM conn c"
				  " WHERE " CR_SQL_WHOLE_ROW " ORDER BY c.id";
	sqlite3_stmt *st = NULL;
	int rc;

	conn_zones_init(out, -1);
	if (shape) {
		out->shift = shape->shift;
		out->base = shape->base;
		out->based = true;
		out->n = shape->n;
	}
	rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
	while (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		int64_t id = sqlite3_column_int64(st, 0), end = sqlite3_column_int64(st, 1);
		uint64_t j;

		rc = SQLITE_OK;
		if (!shape) {
			conn_zones_add(out, id, end);
			continue;
		}
		j = zone_of(out, id);
		if (j < out->n && end > out->end[j])
			out->end[j] = end;
	}
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? SQLITE_OK : rc;
}
