// SPDX-License-Identifier: MIT
/*
 * connrec query: rebuild connection lifetimes from a live data dir or copied segment files.
 *
 * Sources are opened through the evidence reader (read/), which never writes beside
 * them. Segments are processed per host in segment order so carried copies merge into one
 * lifetime; see flows.h. Segments wholly before the window are not opened at all (walking a
 * data dir newest first), and those after it are read only while some lifetime still waits
 * for its end. query.h lists the files that do each step.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "opts.h"
#include "pager.h"
#include "progress.h"
#include "log.h"
#include "query.h"

static void swap_bytes(char *a, char *b, size_t size)
{
	for (size_t k = 0; k < size; k++) {
		char t = a[k];

		a[k] = b[k];
		b[k] = t;
	}
}

size_t query_order(const struct query *q, void *v, size_t n, size_t size,
		   int (*cmp)(const void *a, const void *b))
{
	char *rows = v;

	if (n > 1) /* qsort's array must not be NULL, even for no rows */
		qsort(v, n, size, cmp);
	/* Reversed rather than sorted the other way, so ties keep one order in both. */
	if (q->newest_first) {
		for (size_t i = 0; i < n / 2; i++)
			swap_bytes(rows + i * size, rows + (n - 1 - i) * size, size);
	}
	if (q->limit && n > q->limit)
		n = (size_t)q->limit;
	return n;
}

FILE *query_out_open(const struct query *q)
{
	progress_clear();
	return pager_open(q->pager);
}

int query_out_close(FILE *f)
{
	return pager_close(f);
}

static void query_free(struct query *q)
{
	query_trust_free(q); /* first: its thread reads the slots' paths */
	for (size_t i = 0; i < q->n_slots; i++) {
		sr_close(q->slots[i].seg);
		free(q->slots[i].path);
	}
	free(q->slots);
	for (size_t i = 0; i < q->n_hosts; i++)
		free(q->hosts[i]);
	free(q->hosts);
	free(q->stops);
	free(q->out);
	free(q->files);
	remote_free(q);
	free(q->from_url);
	flow_table_free(&q->pending);
	who_free(&q->who);
	names_free(q->names);
	flow_filter_free(&q->ff);
}

int query_run(int argc, char **argv)
{
	struct query q = { .format = "table" };
	const struct printer *p;
	struct out_ctx o;
	int err, status = EXIT_FAIL;

	flow_filter_init(&q.ff);
	who_filter_init(&q.wf);
	flow_table_init(&q.pending);
	who_init(&q.who);
	err = query_parse_args(&q, argc, argv);
	if (err) {
		status = opt_exit_status(err);
		goto cleanup;
	}
	err = query_sql_filter(&q);
	if (err)
		goto cleanup;
	/* Ctrl-C during a long query must not leave decompressed evidence behind. */
	sr_cleanup_on_fatal_signals();
	progress_start();
	err = q.from.url ? remote_open_sources(&q) : query_open_sources(&q);
	if (err)
		goto cleanup;
	if (!q.n_slots) {
		cr_err("no readable segment");
		goto cleanup;
	}
	query_plan(&q);
	if (!(q.open_flags & SR_OPEN_NO_CHECK))
		query_trust_prefetch(&q);
	p = out_find(q.format);
	o = (struct out_ctx){ .f = stdout,
			      .hosts = q.hosts,
			      .n_hosts = q.n_hosts,
			      .who = &q.who,
			      .show_host = q.remote != NULL };
	if (q.mode == MODE_GAPS || q.mode == MODE_EVENTS)
		err = query_gaps_events(&q, p, &o);
	else if (q.mode == MODE_DNS)
		err = query_dns(&q, p, &o);
	else
		err = query_lifetimes(&q, p, &o);
	if (err)
		goto cleanup;
	if (fflush(stdout)) {
		cr_err("writing output: %s", strerror(errno));
		goto cleanup;
	}
	if (!strcmp(q.format, "table"))
		query_report_checks(&q);
	status = q.failures ? EXIT_FAIL : EXIT_OK;
cleanup:
	if (err == -ENOMEM)
		cr_err("out of memory");
	if (err == -EINVAL && q.remote)
		status = EXIT_USAGE; /* a bad --from URL or --auth file */
	query_free(&q);
	return status;
}
