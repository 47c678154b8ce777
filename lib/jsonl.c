// SPDX-License-Identifier: MIT
#include "jsonl.h"

#include <inttypes.h>

void jsonl_write_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p; p++) {
		if (*p == '"' || *p == '\\')
			fprintf(f, "\\%c", *p);
		else if (*p < 0x20 || *p >= 0x7f)
			fprintf(f, "\\u%04x", *p);
		else
			fputc(*p, f);
	}
	fputc('"', f);
}

void jsonl_begin(struct jsonl *j, FILE *f)
{
	j->f = f;
	j->n = 0;
	fputc('{', f);
}

static void key(struct jsonl *j, const char *k)
{
	if (j->n++)
		fputc(',', j->f);
	jsonl_write_str(j->f, k);
	fputc(':', j->f);
}

void jsonl_str(struct jsonl *j, const char *k, const char *s)
{
	key(j, k);
	if (s)
		jsonl_write_str(j->f, s);
	else
		fputs("null", j->f);
}

void jsonl_int(struct jsonl *j, const char *k, int64_t v)
{
	key(j, k);
	fprintf(j->f, "%" PRId64, v);
}

void jsonl_uint(struct jsonl *j, const char *k, uint64_t v)
{
	key(j, k);
	fprintf(j->f, "%" PRIu64, v);
}

void jsonl_bool(struct jsonl *j, const char *k, bool v)
{
	key(j, k);
	fputs(v ? "true" : "false", j->f);
}

void jsonl_null(struct jsonl *j, const char *k)
{
	key(j, k);
	fputs("null", j->f);
}

void jsonl_int_if(struct jsonl *j, const char *k, bool known, int64_t v)
{
	if (known)
		jsonl_int(j, k, v);
	else
		jsonl_null(j, k);
}

void jsonl_uint_if(struct jsonl *j, const char *k, bool known, uint64_t v)
{
	if (known)
		jsonl_uint(j, k, v);
	else
		jsonl_null(j, k);
}

void jsonl_rate_if(struct jsonl *j, const char *k, bool known, double v)
{
	key(j, k);
	/* JSON has no NaN or infinity. */
	if (!known || v != v || v > 1e18 || v < -1e18)
		fputs("null", j->f);
	else
		fprintf(j->f, "%.1f", v);
}

void jsonl_end(struct jsonl *j)
{
	fputs("}\n", j->f);
}
