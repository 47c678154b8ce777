// SPDX-License-Identifier: MIT
/*
 * connrec ship: the command. It takes the data dir's sealed segments (seg-N.db.zst), asks
 * the server which of this host's segments it holds, has `verify` check the others together
 * with their neighbours, and ships those that pass, oldest first (ship_segment.c). A segment
 * that fails verify is named and left; one the server cannot take now is retried with backoff,
 * and the run stops at the first one it still cannot take, so the order holds.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "ch_sql.h"
#include "commands.h"
#include "log.h"
#include "opts.h"
#include "sealkey.h"
#include "segment.h"
#include "ship.h"
#include "store.h"
#include "store_read.h"
#include "timespec.h"

/* Segments verified in one go; each batch also takes its neighbours for the chain. */
#define VERIFY_BATCH 8

enum {
	OPT_DATA_DIR = OPT_FIRST,
	OPT_TO,
	OPT_DATABASE,
	OPT_AUTH,
	OPT_SCHEMA,
	OPT_TIMEOUT,
	OPT_TRIES,
	OPT_CHUNK,
	OPT_NO_PROGRESS,
	OPT_VERIFY_KEY,
	OPT_VERBOSE,
};

static const struct opt ship_options[] = {
	OPT_ROW_DATA_DIR(OPT_DATA_DIR),
	{ .id = OPT_TO, .name = "to", .arg = OPT_REQUIRED, .metavar = "URL",
	  .help = "the ClickHouse HTTP interface, http[s]://[USER[:PASSWORD]@]HOST:PORT" },
	{ .id = OPT_DATABASE, .name = "database", .arg = OPT_REQUIRED, .metavar = "DB",
	  .help = "the database of the tables (default " CH_DEFAULT_DATABASE ")" },
	{ .id = OPT_AUTH, .name = "auth", .arg = OPT_REQUIRED, .metavar = "FILE",
	  .help = "read USER[:PASSWORD] from FILE (one line) instead of the URL" },
	{ .id = OPT_SCHEMA, .name = "schema",
	  .help = "print the tables' DDL; with --to, create what the server lacks" },
	{ .id = OPT_TIMEOUT, .name = "timeout", .arg = OPT_REQUIRED, .metavar = "DUR",
	  .help = "give up on a connect or a stalled transfer after DUR (default 30s)" },
	{ .id = OPT_TRIES, .name = "tries", .arg = OPT_REQUIRED, .metavar = "N",
	  .help = "attempts per request or segment, with backoff (default 5)" },
	{ .id = OPT_CHUNK, .name = "chunk", .arg = OPT_REQUIRED, .metavar = "SIZE",
	  .help = "bytes of rows per INSERT (default 32M)" },
	{ .id = OPT_NO_PROGRESS, .name = "no-progress",
	  .help = "no progress line on a terminal, only the summary" },
	{ .id = OPT_VERIFY_KEY, .name = "verify-key", .arg = OPT_REQUIRED, .metavar = "KEY",
	  .help = "check the checkpoint and seal records' MACs before shipping\n"
		  "(KEYID-KEY as connrec keygen printed it, or @FILE holding it)" },
	OPT_ROW_VERBOSE(OPT_VERBOSE),
	{ 0 },
};

struct ship_args {
	struct ship_opts o;
	bool schema, no_progress;
	char *url; /* a copy: the argument itself is masked */
	char verify_key[SEALKEY_VERIFY_LEN + 64];
};

static int on_opt(void *ctx, const struct opt *o, const char *arg)
{
	struct ship_args *a = ctx;
	uint64_t v;
	int64_t ns;

	switch (o->id) {
	case OPT_DATA_DIR:
		a->o.dir = arg;
		break;
	case OPT_TO:
		free(a->url);
		a->url = strdup(arg);
		if (!a->url)
			return -ENOMEM;
		/* What ps shows: the password must not stay there. */
		ch_mask_password((char *)arg);
		a->o.ch.url = a->url;
		break;
	case OPT_DATABASE:
		a->o.ch.database = arg;
		break;
	case OPT_AUTH:
		a->o.ch.auth_file = arg;
		break;
	case OPT_SCHEMA:
		a->schema = true;
		break;
	case OPT_TIMEOUT:
		if (ts_parse_duration(arg, &ns) || ns < 1000000000LL)
			return opt_bad_value(o, arg, "expected a duration of at least 1s, like 30s");
		a->o.ch.timeout_ns = ns;
		break;
	case OPT_TRIES:
		if (ts_parse_size(arg, &v) || !v || v > 100 || strpbrk(arg, "KMGTPkB."))
			return opt_bad_value(o, arg, "expected a number from 1 to 100");
		a->o.ch.tries = (unsigned)v;
		break;
	case OPT_CHUNK:
		if (ts_parse_size(arg, &v) || v < 4096 || v > (1ULL << 30))
			return opt_bad_value(o, arg, "expected a size from 4K to 1G");
		a->o.chunk = v;
		break;
	case OPT_NO_PROGRESS:
		a->no_progress = true;
		break;
	case OPT_VERIFY_KEY: {
		int err = sealkey_verify_arg(arg, a->verify_key);

		if (err == -ENOENT)
			return opt_bad_value(o, arg, "cannot read the file");
		if (err)
			return opt_bad_value(o, "...", err == -EBADMSG
							       ? "damaged: its key id does not match"
							       : "expected KEYID-KEY as keygen printed it");
		a->o.verify_key = a->verify_key;
		break;
	}
	case OPT_VERBOSE:
		cr_log_set_level(CR_LOG_DEBUG);
		break;
	}
	return 0;
}

static int ship_main(int argc, char **argv);

const struct opt_cmd cmd_ship = {
	.name = "ship",
	.summary = "send sealed segments to ClickHouse, each exactly once",
	.synopsis = "--to URL [-d DIR] [--database DB] [--auth FILE] | --schema [--to URL]",
	.description =
		"Sends every sealed segment of the data dir that the server does not hold yet,\n"
		"oldest first, after `connrec verify` passed on it, with its host and segment id.\n"
		"A segment becomes visible on the server only once all its rows are there: a ship\n"
		"that is killed or fails midway is simply run again (see docs/fleet.md). A segment\n"
		"that fails verify is named and not shipped. Credentials come from the URL or from\n"
		"--auth FILE (never put them on a command line others can read: a password in the\n"
		"URL is masked in ps, but only once connrec runs).\n",
	.epilog = "Exit status: 0 everything due was shipped (or nothing was due), 1 a segment\n"
		  "failed verify or could not be shipped, 2 bad usage.\n\n"
		  "Examples:\n"
		  "  connrec ship --schema --to http://ch1:8123    # create the tables\n"
		  "  connrec ship --to http://ch1:8123 --auth /etc/connrec/ship.auth\n"
		  "  connrec ship --schema | clickhouse-client -n  # or apply the DDL yourself\n",
	.opts = ship_options,
	.run = ship_main,
};

/* ---- signals and progress ---- */

static volatile sig_atomic_t stop_requested;

bool ship_stopping(void)
{
	return stop_requested;
}

/* The first SIGINT/SIGTERM stops the run cleanly; a second one ends it at once. */
static void on_stop_signal(int sig)
{
	if (stop_requested) {
		sr_cleanup_on_signal();
		signal(sig, SIG_DFL);
		raise(sig);
		return;
	}
	stop_requested = 1;
	ch_interrupt();
}

static void install_signals(void)
{
	struct sigaction sa = { .sa_handler = on_stop_signal };

	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

static double mb_per_s(const struct ship_stats *st, int64_t now)
{
	double secs = (double)(now - st->start_ns) / 1e9;

	return secs > 0 ? (double)st->bytes / 1e6 / secs : 0;
}

void ship_progress(struct ship *s, bool force)
{
	struct ship_stats *st = &s->st;
	int64_t now = ts_now_ns();

	if (!s->o->progress || (!force && now - st->last_draw_ns < 200000000))
		return;
	st->last_draw_ns = now;
	fprintf(stderr, "\rshipping: segment %zu/%zu, %" PRIu64 " rows, %.1f MB, %.1f MB/s   ",
		st->segments_done + st->segments_failed +
			(st->segments_done + st->segments_failed < st->segments_todo),
		st->segments_todo, st->rows, (double)st->bytes / 1e6, mb_per_s(st, now));
	fflush(stderr);
}

static void summary(struct ship *s, const char *how)
{
	const struct ship_stats *st = &s->st;
	int64_t now = ts_now_ns();
	char failed[64] = "";

	if (s->o->progress)
		fprintf(stderr, "\r\033[K");
	if (st->segments_failed)
		snprintf(failed, sizeof(failed), ", %zu not shipped", st->segments_failed);
	fprintf(stderr,
		"connrec ship: %s: %zu segment%s shipped%s (%" PRIu64 " rows, %.1f MB, %.1f MB/s)"
		" to %s in %.1fs\n",
		how, st->segments_done, st->segments_done == 1 ? "" : "s", failed, st->rows,
		(double)st->bytes / 1e6, mb_per_s(st, now), ch_url(s->ch),
		(double)(now - st->start_ns) / 1e9);
}

/* ---- what the server holds ---- */

struct held {
	uint64_t segment_id;
	char sha256[65];
};

/* This host's segments that the server marks shipped (the smallest attempt's hash each). */
static int server_holds(struct ship *s, const char *host, struct held **out, size_t *n)
{
	sqlite3_str *q = sqlite3_str_new(NULL);
	struct ch_buf answer = { 0 };
	struct ch_reader r;
	struct held *v = NULL;
	char *sql;
	int err;

	*out = NULL;
	*n = 0;
	sqlite3_str_appendf(q, "SELECT segment_id, argMin(sha256, attempt) FROM %s.segments"
			       " WHERE host = ", ch_database(s->ch));
	ch_sql_string(q, host, strlen(host));
	sqlite3_str_appendall(q, " GROUP BY segment_id ORDER BY segment_id FORMAT RowBinary");
	sql = ch_sql_finish(q);
	if (!sql)
		return -ENOMEM;
	err = ch_query(s->ch, sql, &answer, s->err, sizeof(s->err));
	sqlite3_free(sql);
	r = (struct ch_reader){ answer.p, answer.p + answer.n };
	while (!err && r.p < r.end) {
		struct held *nv = realloc(v, (*n + 1) * sizeof(*v));

		if (!nv) {
			err = -ENOMEM;
			break;
		}
		v = nv;
		if (ch_get_u64(&r, &v[*n].segment_id) ||
		    ch_get_string(&r, v[*n].sha256, sizeof(v[*n].sha256))) {
			snprintf(s->err, sizeof(s->err), "%s: malformed answer listing segments",
				 ch_url(s->ch));
			err = -EBADMSG;
			break;
		}
		(*n)++;
	}
	ch_buf_free(&answer);
	if (err) {
		free(v);
		*n = 0;
		return err;
	}
	*out = v;
	return 0;
}

static const struct held *find_held(const struct held *v, size_t n, uint64_t id)
{
	for (size_t i = 0; i < n; i++) {
		if (v[i].segment_id == id)
			return &v[i];
	}
	return NULL;
}

/* The host name the store writes now (meta host of its newest segment). */
static int store_host(struct ship *s, const struct sr_entry *newest, char *host, size_t len)
{
	struct sr_open_opts oo = { .flags = SR_OPEN_NO_CHECK | (newest->active ? SR_OPEN_LIVE : 0) };
	struct sr_segment *seg = NULL;
	int err = sr_open(newest->path, &oo, &seg, s->err, sizeof(s->err));

	if (err)
		return err;
	snprintf(host, len, "%s", sr_meta(seg)->host);
	sr_close(seg);
	return 0;
}

/*
 * A segment the server already holds under this number must be this very file: a store
 * created again under the same host name starts its numbers over, and must not be taken
 * for shipped. The manifest's hash is only a shortcut; the file decides.
 */
static bool same_segment(const char *dir, const struct sr_entry *e, const struct held *h)
{
	struct seg_info info;
	char sha[65];

	if (!seg_manifest_find(dir, (uint32_t)e->seq, &info) && !strcmp(info.sha256, h->sha256))
		return true;
	return !seg_hash_file(e->path, sha) && !strcmp(sha, h->sha256);
}

/* ---- the run ---- */

struct plan {
	struct sr_entry *list; /* the data dir's segments, by number */
	size_t n;
	size_t *todo; /* indexes into list of sealed segments to ship, oldest first */
	size_t n_todo;
};

static int make_plan(struct ship *s, struct plan *p, char *host, size_t hostlen)
{
	const char *dir = s->o->dir;
	struct held *held = NULL;
	size_t n_held = 0;
	uint64_t max_held = 0;
	int err;

	err = sr_list_dir(dir, &p->list, &p->n, s->err, sizeof(s->err));
	if (err)
		return err;
	if (!p->n) {
		snprintf(s->err, sizeof(s->err), "%s: no segments (seg-NNNNNNNN.db[.zst]) found", dir);
		return -ENOENT;
	}
	err = store_host(s, &p->list[p->n - 1], host, hostlen);
	if (!err)
		err = server_holds(s, host, &held, &n_held);
	if (err)
		return err;
	p->todo = calloc(p->n, sizeof(*p->todo));
	if (!p->todo) {
		free(held);
		return -ENOMEM;
	}
	for (size_t i = 0; i < n_held; i++)
		max_held = held[i].segment_id > max_held ? held[i].segment_id : max_held;
	for (size_t i = 0; i < p->n; i++) {
		const struct sr_entry *e = &p->list[i];
		const struct held *h;

		if (!e->zst)
			continue;
		h = find_held(held, n_held, e->seq);
		if (!h) {
			p->todo[p->n_todo++] = i;
			continue;
		}
		if (!same_segment(dir, e, h)) {
			cr_err("%s: the server holds another segment %" PRIu64 " of host '%s' (a store"
			       " created again under the same name?); not shipped",
			       e->path, e->seq, host);
			s->st.segments_failed++;
		}
	}
	/* Sealed segments that retention deleted before they were shipped. */
	if (n_held && p->n_todo && p->list[p->todo[0]].seq > max_held + 1)
		cr_warn("segments %" PRIu64 "..%" PRIu64 " of host '%s' are neither on the server nor"
			" here (deleted by retention before they were shipped?)",
			max_held + 1, p->list[p->todo[0]].seq - 1, host);
	free(held);
	s->st.segments_todo = p->n_todo;
	return 0;
}

/* The dir's entry numbered seq, or NULL. */
static const struct sr_entry *entry_of(const struct plan *p, uint64_t seq)
{
	for (size_t i = 0; i < p->n; i++) {
		if (p->list[i].seq == seq)
			return &p->list[i];
	}
	return NULL;
}

/*
 * Verifies todo[first..first+n) with the segment before the first and the one after the last
 * (the chain in both directions), and writes each one's problem ("" when it passed).
 */
static int verify_batch(struct ship *s, const struct plan *p, size_t first, size_t n,
			char (*problems)[256])
{
	char *paths[VERIFY_BATCH + 2];
	char(*all)[256] = calloc(VERIFY_BATCH + 2, sizeof(*all));
	const struct sr_entry *before = entry_of(p, p->list[p->todo[first]].seq - 1);
	const struct sr_entry *after = entry_of(p, p->list[p->todo[first + n - 1]].seq + 1);
	size_t k = 0, off;
	int err;

	if (!all)
		return -ENOMEM;
	if (before)
		paths[k++] = before->path;
	off = k;
	for (size_t i = 0; i < n; i++)
		paths[k++] = p->list[p->todo[first + i]].path;
	if (after)
		paths[k++] = after->path;
	err = ship_verify(paths, k, s->o->verify_key, all);
	if (err)
		snprintf(s->err, sizeof(s->err), "verify: %s", strerror(-err));
	for (size_t i = 0; !err && i < n; i++)
		memcpy(problems[i], all[off + i], sizeof(problems[i]));
	free(all);
	return err;
}

/* Ships one segment, retrying with backoff while the server cannot take it. */
static int ship_with_retries(struct ship *s, const struct sr_entry *e, const char *host)
{
	long wait_ms = 1000;
	unsigned tries = s->o->ch.tries ? s->o->ch.tries : CH_DEFAULT_TRIES;
	int err;

	for (unsigned attempt = 1;; attempt++) {
		err = ship_segment(s, e->path, (uint32_t)e->seq, host);
		if (err >= 0 || (err != -EAGAIN && !ch_transient(err)))
			return err;
		if (attempt >= tries || ship_stopping())
			return err;
		cr_warn("%s: %s; trying again in %lds", e->path, s->err, wait_ms / 1000);
		for (long t = 0; t < wait_ms && !ship_stopping(); t += 100)
			usleep(100000);
		wait_ms *= 2;
	}
}

static int run_ship(struct ship *s)
{
	struct plan p = { 0 };
	char host[256];
	int err, status = EXIT_OK;

	err = make_plan(s, &p, host, sizeof(host));
	if (err)
		goto cleanup;
	if (s->st.segments_failed)
		status = EXIT_FAIL;
	for (size_t first = 0; first < p.n_todo && !ship_stopping(); first += VERIFY_BATCH) {
		size_t n = p.n_todo - first < VERIFY_BATCH ? p.n_todo - first : VERIFY_BATCH;
		char problems[VERIFY_BATCH][256];

		err = verify_batch(s, &p, first, n, problems);
		if (err)
			goto cleanup;
		for (size_t i = 0; i < n && !ship_stopping(); i++) {
			const struct sr_entry *e = &p.list[p.todo[first + i]];

			if (problems[i][0]) {
				cr_err("%s: fails verify (%s); not shipped", e->path, problems[i]);
				s->st.segments_failed++;
				status = EXIT_FAIL;
				continue;
			}
			ship_progress(s, true);
			err = ship_with_retries(s, e, host);
			if (err < 0)
				goto cleanup;
			if (err == SHIP_ALREADY_THERE) {
				s->st.segments_todo--;
				continue;
			}
			s->st.segments_done++;
			cr_debug("%s: shipped", e->path);
		}
	}
	if (ship_stopping()) {
		snprintf(s->err, sizeof(s->err), "interrupted");
		err = -ECANCELED;
	}
cleanup:
	if (err) {
		if (s->o->progress)
			fprintf(stderr, "\r\033[K");
		cr_err("%s", s->err);
		status = EXIT_FAIL;
	}
	summary(s, status == EXIT_OK ? "done" : "incomplete");
	sr_free_list(p.list, p.n);
	free(p.todo);
	return status;
}

/* Only one ship per data dir at a time: a lock on the directory itself (nothing is created). */
static int lock_dir(const char *dir, int *fd)
{
	*fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (*fd < 0) {
		cr_err("%s: %s", dir, strerror(errno));
		return -errno;
	}
	if (flock(*fd, LOCK_EX | LOCK_NB)) {
		int e = errno;

		cr_err("%s: %s", dir,
		       e == EWOULDBLOCK ? "another connrec ship is running on it" : strerror(e));
		close(*fd);
		*fd = -1;
		return -e;
	}
	return 0;
}

static int ship_main(int argc, char **argv)
{
	struct ship_args a = { .o = { .dir = STORE_DEFAULT_DIR } };
	struct ship s = { .o = &a.o };
	int err, lock_fd = -1, status = EXIT_FAIL;

	err = opt_parse(&cmd_ship, argc, argv, on_opt, &a);
	if (!err && !a.schema && !a.o.ch.url)
		err = opt_usage_error("--to URL is needed (or --schema to print the DDL)");
	if (err) {
		status = opt_exit_status(err);
		goto cleanup;
	}
	if (!a.o.chunk)
		a.o.chunk = SHIP_DEFAULT_CHUNK;
	a.o.ch.max_answer = SHIP_MAX_ANSWER;
	if (a.schema) {
		status = ship_schema(&a.o, a.o.ch.url != NULL) ? EXIT_FAIL : EXIT_OK;
		goto cleanup;
	}
	a.o.progress = !a.no_progress && isatty(STDERR_FILENO) && cr_log_get_level() < CR_LOG_DEBUG;
	err = ch_open(&s.ch, &a.o.ch, s.err, sizeof(s.err));
	if (err) {
		cr_err("%s", s.err);
		status = err == -EINVAL ? EXIT_USAGE : EXIT_FAIL;
		goto cleanup;
	}
	if (lock_dir(a.o.dir, &lock_fd))
		goto cleanup;
	install_signals();
	s.st.start_ns = ts_now_ns();
	if (ship_check_tables(&s)) {
		cr_err("%s", s.err);
		goto cleanup;
	}
	status = run_ship(&s);
cleanup:
	if (lock_fd >= 0)
		close(lock_fd);
	ch_close(s.ch);
	free(a.url);
	return status;
}
