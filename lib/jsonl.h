/* SPDX-License-Identifier: MIT */
/*
 * JSON lines: one object per line, written field by field. Every `--format json` output of
 * connrec is made of such lines, so a consumer reads each line on its own.
 */
#ifndef CONNREC_JSONL_H
#define CONNREC_JSONL_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

struct jsonl {
	FILE *f;
	int n; /* fields written so far */
};

/* A JSON string: quotes, backslashes and bytes that are not printable ASCII escaped. */
void jsonl_write_str(FILE *f, const char *s);

void jsonl_begin(struct jsonl *j, FILE *f);
void jsonl_str(struct jsonl *j, const char *key, const char *s); /* NULL: null */
void jsonl_int(struct jsonl *j, const char *key, int64_t v);
void jsonl_uint(struct jsonl *j, const char *key, uint64_t v);
void jsonl_bool(struct jsonl *j, const char *key, bool v);
void jsonl_null(struct jsonl *j, const char *key);
/* The value when known, else null. */
void jsonl_int_if(struct jsonl *j, const char *key, bool known, int64_t v);
void jsonl_uint_if(struct jsonl *j, const char *key, bool known, uint64_t v);
/* A number with one decimal (a rate), or null when not known. */
void jsonl_rate_if(struct jsonl *j, const char *key, bool known, double v);
/* Ends the object and the line. */
void jsonl_end(struct jsonl *j);

#endif /* CONNREC_JSONL_H */
