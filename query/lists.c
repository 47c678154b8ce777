// SPDX-License-Identifier: MIT
/*
 * The values of the query's list options (--port, --lport, --rport, --addr, --pid, --uid,
 * --netns, --cgroup): a comma-separated list, or @FILE, a file of entries such as an IOC list,
 * read whole before any segment is opened (docs/query.md, "Lists from a file").
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "escape.h"
#include "opts.h"
#include "query.h"

int query_parse_uints(const char *s, uint64_t max, uint64_t **out, size_t *n)
{
	uint64_t *v = NULL;
	size_t cnt = 0;
	const char *p = s;

	if (!*s)
		return -EINVAL;
	for (;;) {
		char *end;
		unsigned long long x;
		uint64_t *nv;

		if (*p < '0' || *p > '9') {
			free(v);
			return -EINVAL;
		}
		errno = 0;
		x = strtoull(p, &end, 10);
		if (errno || x > max || (*end && *end != ',')) {
			free(v);
			return -EINVAL;
		}
		nv = realloc(v, (cnt + 1) * sizeof(*v));
		if (!nv) {
			free(v);
			return -ENOMEM;
		}
		v = nv;
		v[cnt++] = x;
		if (!*end)
			break;
		p = end + 1;
	}
	*out = v;
	*n = cnt;
	return 0;
}

/* ---- One list, growing ---- */

struct vec {
	void *v;
	size_t n, cap, size; /* entries, room, bytes per entry */
};

static int vec_append(struct vec *a, const void *items, size_t n)
{
	if (a->n + n > a->cap) {
		size_t cap = a->cap ? a->cap : 64;
		void *nv;

		while (cap < a->n + n)
			cap *= 2;
		nv = realloc(a->v, cap * a->size);
		if (!nv)
			return -ENOMEM;
		a->v = nv;
		a->cap = cap;
	}
	memcpy((char *)a->v + a->n * a->size, items, n * a->size);
	a->n += n;
	return 0;
}

/* Parsers of one comma-separated text, appending to the list: 0, -ENOMEM, or another -errno
 * for a bad value (-EINVAL, -ERANGE). */
typedef int (*parse_fn)(const char *text, struct vec *out);

static int parse_ports(const char *text, struct vec *out)
{
	struct addr_port_range *r = NULL;
	size_t n = 0;
	int err = addr_parse_port_list(text, &r, &n);

	if (!err)
		err = vec_append(out, r, n);
	free(r);
	return err;
}

static int parse_addrs(const char *text, struct vec *out)
{
	struct addr_cidr *c = NULL;
	size_t n = 0;
	int err = addr_parse_cidr_list(text, &c, &n);

	if (!err)
		err = vec_append(out, c, n);
	free(c);
	return err;
}

static int parse_nums(const char *text, struct vec *out, uint64_t max)
{
	uint64_t *v = NULL;
	size_t n = 0;
	int err = query_parse_uints(text, max, &v, &n);

	for (size_t i = 0; !err && i < n; i++) {
		uint32_t x32 = (uint32_t)v[i];

		err = vec_append(out, out->size == 4 ? (const void *)&x32 : (const void *)&v[i], 1);
	}
	free(v);
	return err;
}

static int parse_u32s(const char *text, struct vec *out)
{
	return parse_nums(text, out, UINT32_MAX);
}

static int parse_u64s(const char *text, struct vec *out)
{
	return parse_nums(text, out, UINT64_MAX);
}

/* ---- @FILE ---- */

/* The entry on a line: what is before a '#', without surrounding blanks; "" for none. */
static char *entry_of(char *line)
{
	char *end;

	line[strcspn(line, "#")] = '\0';
	line += strspn(line, " \t\r\n");
	end = line + strlen(line);
	while (end > line && strchr(" \t\r\n", end[-1]))
		*--end = '\0';
	return line;
}

/* The longest list line read: an entry is a few dozen bytes, the rest can only be a comment. */
#define LIST_LINE_MAX 4096

/*
 * One line of f, without its newline, into buf (LIST_LINE_MAX bytes): 1 when a line was read, 0
 * at the end, -E2BIG for a longer line and -EINVAL for a NUL byte. Bounded, so a list that is
 * no text file (@/dev/zero, a binary) fails on its first line instead of filling the memory.
 */
static int list_line(FILE *f, char *buf)
{
	size_t n = 0;
	int ch;

	while ((ch = getc_unlocked(f)) != EOF && ch != '\n') {
		if (ch == '\0')
			return -EINVAL;
		if (n + 1 >= LIST_LINE_MAX)
			return -E2BIG;
		buf[n++] = (char)ch;
	}
	buf[n] = '\0';
	return ch == EOF && n == 0 ? 0 : 1;
}

/*
 * Every entry of the file named by arg ("@FILE", "@-" for standard input): one per line (a
 * line may hold a comma-separated list too), blank lines and '#' comments skipped. A file
 * without a single entry is an error: an empty IOC list must not quietly mean "no filter".
 */
static int read_list_file(const struct opt *o, const char *arg, parse_fn parse, struct vec *out,
			  const char *expected)
{
	const char *path = arg + 1;
	FILE *f = strcmp(path, "-") ? fopen(path, "re") : stdin;
	char *line = malloc(LIST_LINE_MAX), msg[512], safe[256];
	size_t lineno = 0;
	int err = 0, got = 0;

	if (!f || !line) {
		snprintf(msg, sizeof(msg), "cannot read the list: %s", strerror(errno));
		err = opt_bad_value(o, arg, msg);
		goto cleanup;
	}
	while ((got = list_line(f, line)) > 0) {
		char *entry = entry_of(line);

		lineno++;
		if (!*entry)
			continue;
		err = parse(entry, out);
		if (err && err != -ENOMEM) {
			snprintf(msg, sizeof(msg), "line %zu: %s, got '%s'", lineno, expected,
				 cr_escape(entry, safe, sizeof(safe)));
			err = opt_bad_value(o, arg, msg);
		}
		if (err)
			goto cleanup;
	}
	if (got < 0) {
		if (got == -EINVAL)
			snprintf(msg, sizeof(msg), "line %zu: a NUL byte: not a text file",
				 lineno + 1);
		else
			snprintf(msg, sizeof(msg), "line %zu: longer than %d bytes", lineno + 1,
				 LIST_LINE_MAX - 1);
		err = opt_bad_value(o, arg, msg);
	} else if (ferror(f)) {
		snprintf(msg, sizeof(msg), "cannot read the list: %s", strerror(errno));
		err = opt_bad_value(o, arg, msg);
	} else if (!out->n) {
		err = opt_bad_value(o, arg, "the file holds no entries");
	}
cleanup:
	free(line);
	if (f && f != stdin)
		fclose(f);
	return err;
}

/* The value of a list option into *out (replacing what was there) and *n. */
static int list_value(const struct opt *o, const char *arg, parse_fn parse, size_t size,
		      void **out, size_t *n, const char *expected)
{
	struct vec v = { .size = size };
	int err;

	if (arg[0] == '@') {
		err = read_list_file(o, arg, parse, &v, expected);
	} else {
		err = parse(arg, &v);
		if (err && err != -ENOMEM)
			err = opt_bad_value(o, arg, expected);
	}
	if (err) {
		free(v.v);
		return err;
	}
	free(*out);
	*out = v.v;
	*n = v.n;
	return 0;
}

int query_list_ports(const struct opt *o, const char *arg, struct addr_port_range **out,
		     size_t *n)
{
	return list_value(o, arg, parse_ports, sizeof(**out), (void **)out, n,
			  "expected ports like 53,80,8000-8100");
}

int query_list_addrs(const struct opt *o, const char *arg, struct addr_cidr **out, size_t *n)
{
	return list_value(o, arg, parse_addrs, sizeof(**out), (void **)out, n,
			  "expected addresses or CIDRs like 10.0.0.0/8,::1");
}

int query_list_u32s(const struct opt *o, const char *arg, uint32_t **out, size_t *n)
{
	return list_value(o, arg, parse_u32s, sizeof(**out), (void **)out, n,
			  "expected a comma-separated list of numbers");
}

int query_list_u64s(const struct opt *o, const char *arg, uint64_t **out, size_t *n)
{
	return list_value(o, arg, parse_u64s, sizeof(**out), (void **)out, n,
			  "expected a comma-separated list of numbers");
}
