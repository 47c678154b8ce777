// SPDX-License-Identifier: MIT
/*
 * The segments a query reads: every -f file, or a data dir's segments walked newest first so
 * those wholly before the window are never opened. Then their order (per host, by segment)
 * and which of them the window lets the query skip.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "progress.h"
#include "query.h"
#include "remote.h"
#include "segment.h"

/*
 * A segment's meta, for planning. A file read in place stays open until it is read; one that
 * needs a private copy (a .zst, a .db with a -wal) is not kept: its copy would take temp space
 * while the others are read, so it is opened again, and copied again, only when it is read.
 */
static int open_one(struct query *q, const char *path, unsigned flags, struct slot *out)
{
	struct sr_open_opts o = { .flags = q->open_flags | flags, .max_unpacked = q->max_unpacked };
	size_t plen = strlen(path);
	char msg[512];
	int err;

	out->open_flags = o.flags;
	if (plen > 4 && !strcmp(path + plen - 4, ".zst")) {
		err = sr_read_meta(path, &o, &out->meta, msg, sizeof(msg));
	} else {
		/* Kept open in place, it is checked in a thread while the query goes on. */
		o.flags |= SR_OPEN_CHECK_AHEAD;
		err = sr_open(path, &o, &out->seg, msg, sizeof(msg));
		if (!err) {
			out->checked = !(o.flags & SR_OPEN_NO_CHECK);
			out->meta = *sr_meta(out->seg);
			if (sr_has_copy(out->seg)) {
				sr_close(out->seg);
				out->seg = NULL;
			}
		}
	}
	if (err) {
		cr_warn("%s: %s; skipped", path, msg);
		q->failures++;
		return err;
	}
	out->path = strdup(path);
	return out->path ? 0 : -ENOMEM;
}

int query_seg_open(struct query *q, struct slot *s)
{
	struct sr_open_opts o = { .flags = s->open_flags, .max_unpacked = q->max_unpacked };
	char msg[512];
	int err;

	if (s->seg && sr_check_pending(s->seg)) {
		/* Opened while planning, checked since in a thread: nothing of it is used before. */
		err = sr_check_wait(s->seg, msg, sizeof(msg));
		if (err) {
			cr_warn("%s: %s; skipped", s->path, msg);
			q->failures++;
			s->failed = true;
			query_seg_close(s);
		}
		return err;
	}
	if (s->seg || s->remote)
		return 0;
	if (s->failed)
		return -EBADMSG;
	if (!(o.flags & SR_OPEN_NO_CHECK)) {
		s->trusted = query_trust(q, s);
		s->checked = !s->trusted;
		if (s->trusted)
			o.flags |= SR_OPEN_NO_CHECK | SR_OPEN_VOUCHED;
		cr_debug("%s: %s", s->path,
			 s->trusted ? "the store's records vouch for it; no quick_check"
				    : "quick_check");
	}
	err = sr_open(s->path, &o, &s->seg, msg, sizeof(msg));
	if (err) {
		cr_warn("%s: %s; skipped", s->path, msg);
		q->failures++;
		s->failed = true;
	}
	return err;
}

void query_seg_close(struct slot *s)
{
	if (s->remote)
		remote_seg_done(s->remote);
	sr_close(s->seg);
	s->seg = NULL;
}

static int add_slot(struct query *q, struct slot *s)
{
	struct slot *v = realloc(q->slots, (q->n_slots + 1) * sizeof(*v));

	if (!v)
		return -ENOMEM;
	q->slots = v;
	v[q->n_slots++] = *s;
	return 0;
}

int query_open_sources(struct query *q)
{
	struct sr_entry *list = NULL;
	size_t n = 0;
	char msg[512];
	int err = 0;

	if (q->n_files) {
		for (size_t i = 0; i < q->n_files; i++) {
			struct slot s = { 0 };

			progress_say("opening file %zu of %zu: %s", i + 1, q->n_files, q->files[i]);
			if (open_one(q, q->files[i], 0, &s))
				continue;
			err = add_slot(q, &s);
			if (err)
				return err;
		}
		return 0;
	}
	err = sr_list_dir(q->dir, &list, &n, msg, sizeof(msg));
	if (err) {
		cr_err("%s", msg);
		return err;
	}
	if (!n) {
		cr_err("%s: no segments (seg-NNNNNNNN.db[.zst]) found", q->dir);
		err = -ENOENT;
		goto cleanup;
	}
	/*
	 * Newest first: once a segment began before --since, every older one ended
	 * before the window (lifetimes still open were carried forward), so none is opened.
	 */
	for (size_t i = n; i-- > 0;) {
		struct slot s = { 0 };

		progress_say("opening segment %zu of up to %zu: %s", n - i, n, list[i].path);
		if (open_one(q, list[i].path, list[i].live ? SR_OPEN_LIVE : 0, &s))
			continue;
		err = add_slot(q, &s);
		if (err)
			goto cleanup;
		if (q->ff.since != SR_NO_TIME && s.meta.created_ns != SR_NO_TIME &&
		    s.meta.created_ns < q->ff.since) {
			cr_debug("%zu older segment(s) lie before the window; not opened", i);
			break;
		}
	}
cleanup:
	sr_free_list(list, n);
	return err;
}

static uint32_t intern_host(struct query *q, const char *name)
{
	char **v;

	for (size_t i = 0; i < q->n_hosts; i++) {
		if (!strcmp(q->hosts[i], name))
			return (uint32_t)i;
	}
	v = realloc(q->hosts, (q->n_hosts + 1) * sizeof(*v));
	if (!v)
		return 0;
	q->hosts = v;
	v[q->n_hosts] = strdup(name);
	if (!v[q->n_hosts])
		return 0;
	return (uint32_t)q->n_hosts++;
}

static int slot_cmp(const void *a, const void *b)
{
	const struct slot *x = a, *y = b;
	int c = strcmp(x->meta.host, y->meta.host);

	if (c)
		return c;
	if (x->meta.segment_id != y->meta.segment_id)
		return x->meta.segment_id < y->meta.segment_id ? -1 : 1;
	if (x->meta.created_ns != y->meta.created_ns)
		return x->meta.created_ns < y->meta.created_ns ? -1 : 1;
	return strcmp(x->path, y->path);
}

void query_plan(struct query *q)
{
	if (q->n_slots > 1)
		qsort(q->slots, q->n_slots, sizeof(*q->slots), slot_cmp);
	for (size_t i = 0; i < q->n_slots; i++) {
		struct slot *s = &q->slots[i];
		const struct slot *next = i + 1 < q->n_slots ? &q->slots[i + 1] : NULL;

		s->host = intern_host(q, s->meta.host);
		if (next && strcmp(next->meta.host, s->meta.host))
			next = NULL;
		if (q->ff.since != SR_NO_TIME) {
			if (s->meta.sealed && s->meta.last_ns != SR_NO_TIME &&
			    s->meta.last_ns < q->ff.since)
				s->skip = true;
			if (next && next->meta.created_ns != SR_NO_TIME &&
			    next->meta.created_ns < q->ff.since)
				s->skip = true;
		}
		if (q->ff.until != SR_TIME_MAX && s->meta.created_ns != SR_NO_TIME &&
		    s->meta.created_ns > q->ff.until)
			s->late = true;
		if (s->skip)
			cr_debug("%s: wholly before the window; skipped", s->path);
	}
}

void query_seg_warn(struct query *q, struct slot *s, int err)
{
	if (err == -ERANGE) /* a row the reader refused: its message names it */
		cr_warn("%s: %s; its rows from there on are not read", s->path, slot_errmsg(q, s));
	else
		cr_warn("%s: read failed (%s: %s); results from it may be partial", s->path,
			strerror(-err), slot_errmsg(q, s));
	q->failures++;
}

/* A run of slots with the same status, as "NAME" or "FIRST .. LAST" (file names only). */
static void append_run(char *buf, size_t len, const struct slot *a, const struct slot *b)
{
	const char *x = strrchr(a->path, '/'), *y = strrchr(b->path, '/');
	size_t used = strlen(buf);

	x = x ? x + 1 : a->path;
	y = y ? y + 1 : b->path;
	if (used >= len)
		return;
	if (a == b)
		snprintf(buf + used, len - used, "%s%s", used ? ", " : "", x);
	else
		snprintf(buf + used, len - used, "%s%s .. %s", used ? ", " : "", x, y);
}

/* The segments read with one status (trusted or checked), as runs; how many there were. */
static size_t list_status(const struct query *q, bool trusted, char *buf, size_t len)
{
	size_t n = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < q->n_slots; i++) {
		const struct slot *s = &q->slots[i], *e = s;
		bool want = trusted ? s->trusted : s->checked;

		if (!want)
			continue;
		while (e + 1 < q->slots + q->n_slots && (trusted ? e[1].trusted : e[1].checked) &&
		       !strcmp(e[1].meta.host, s->meta.host))
			e++;
		append_run(buf, len, s, e);
		n += (size_t)(e - s) + 1;
		i = (size_t)(e - q->slots);
	}
	return n;
}

void query_report_checks(const struct query *q)
{
	char trusted[2048], checked[2048];
	size_t nt = list_status(q, true, trusted, sizeof(trusted));
	size_t nc = list_status(q, false, checked, sizeof(checked));

	if (nt && q->verify_key)
		cr_info("%zu segment(s) taken on trust of their seal records, authenticated with "
			"the key given (no quick_check): %s",
			nt, trusted);
	else if (nt)
		cr_info("%zu segment(s) taken on trust of the hash chain (SHA-256 as the next "
			"segment and its seal records record it; no quick_check): %s",
			nt, trusted);
	if (nc)
		cr_info("%zu segment(s) checked with quick_check: %s", nc, checked);
}
