// SPDX-License-Identifier: MIT
/*
 * connrec verify: integrity, hash chain and retention records of a store. The checks are
 * read/store_verify.c's; this prints their findings as a text report or as JSON lines.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "escape.h"
#include "jsonl.h"
#include "opts.h"
#include "progress.h"
#include "schema_values.h"
#include "store.h"
#include "store_read.h"
#include "timespec.h"
#include "store_verify.h"
#include "verify_key.h"

/* Every line of the text report quotes file content: the whole line is escaped. */
static void text_line(FILE *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void text_line(FILE *f, const char *fmt, ...)
{
	char line[2048], safe[sizeof(line) * 4];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	fprintf(f, "%s\n", cr_escape(line, safe, sizeof(safe)));
}

static void fmt_time(int64_t ns, char *buf, size_t len)
{
	if (ns == SR_NO_TIME || ts_format_time(ns, TS_FMT_UTC | TS_FMT_MILLI, buf, len))
		snprintf(buf, len, "-");
}

/* The report for people: one line per finding, problems as "FAIL SEGMENT: what". */
static void print_text(void *ctx, const struct verify_item *it)
{
	FILE *f = ctx;
	char a[64], b[64];

	progress_clear();
	switch (it->kind) {
	case VERIFY_SEGMENT:
		fmt_time(it->first_ns, a, sizeof(a));
		fmt_time(it->last_ns, b, sizeof(b));
		text_line(f, "%s  %s  %s .. %s  %" PRId64 " conns%s%s", it->segment, it->state, a,
			  b, it->conns, it->sha256 ? "  sha256=" : "", it->sha256 ? it->sha256 : "");
		break;
	case VERIFY_GAP:
		fmt_time(it->gap->start_ns, a, sizeof(a));
		fmt_time(it->gap->end_ns, b, sizeof(b));
		text_line(f, "  gap %-4s %s .. %s  count=%" PRIu64 "  %s",
			  sr_gap_kind_name(it->gap->kind), a, b, it->gap->count, it->gap->reason);
		break;
	case VERIFY_NOTE:
		text_line(f, "  note: %s %s", it->segment, it->message);
		break;
	case VERIFY_PROBLEM:
		text_line(f, "FAIL %s: %s", it->segment, it->message);
		break;
	case VERIFY_RECORDS:
		text_line(f, "records: %zu checkpoints, %zu seals (%zu only in the heads file)",
			  it->checkpoints, it->seals, it->only_heads);
		if (it->heads)
			text_line(f, "  heads %s: %zu anchor lines; of this store %zu start, %zu "
				     "stop, %zu tamper; %zu malformed",
				  it->heads, it->heads_lines, it->heads_start, it->heads_stop,
				  it->heads_tamper, it->heads_malformed);
		if (it->key_id)
			text_line(f, "  key %s: %zu records with a right MAC, %zu with another key, "
				     "%zu without a MAC",
				  it->key_id, it->mac_ok, it->other_key, it->unsealed);
		break;
	case VERIFY_PROOF:
		fmt_time(it->proof_ns, a, sizeof(a));
		if (!strcmp(it->proof, "none"))
			text_line(f, "%s  proof: none (no record covers it)", it->segment);
		else if (!it->proof_ck)
			text_line(f, "%s  %s: sealed %s", it->segment, it->proof, a);
		else
			text_line(f, "%s  %s up to checkpoint %" PRId64 " of %s (%" PRIu64
				     " rows); %" PRIu64 " rows after it are not",
				  it->segment, it->proof, it->proof_ck, a, it->proof_rows,
				  it->rows_after);
		break;
	case VERIFY_SUMMARY:
		if (!it->segments)
			text_line(f, "no segments%s%s", it->dir ? " in " : "", it->dir ? it->dir : "");
		if (it->proof && strcmp(it->proof, "none")) {
			fmt_time(it->proof_ns, a, sizeof(a));
			text_line(f, "history %s up to %s%s", it->proof, a,
				  it->problems ? " (not beyond: see the FAIL lines)" : "");
		} else if (it->proof) {
			text_line(f, "history: no record covers any of it");
		}
		if (it->problems)
			text_line(f, "verify: FAILED: %d problem%s in %zu segment%s", it->problems,
				  it->problems == 1 ? "" : "s", it->segments,
				  it->segments == 1 ? "" : "s");
		else
			text_line(f, "verify: OK: %zu segment%s consistent", it->segments,
				  it->segments == 1 ? "" : "s");
		/* Not a failure of the store (the exit status stays), but it must be seen. */
		if (it->tampers)
			text_line(f, "verify: %d tamper gap%s: the recorder was blinded (hooks detached "
				     "or files removed) and healed; see the 'gap tamper' lines",
				  it->tampers, it->tampers == 1 ? "" : "s");
		break;
	}
}

static void json_time(struct jsonl *j, const char *key, int64_t ns)
{
	jsonl_int_if(j, key, ns != SR_NO_TIME, ns);
}

/* JSON lines: one object per finding, "type" first; the summary is the last line. */
static void print_json(void *ctx, const struct verify_item *it)
{
	static const char *const types[] = {
		[VERIFY_SEGMENT] = "segment", [VERIFY_GAP] = "gap",	    [VERIFY_NOTE] = "note",
		[VERIFY_PROBLEM] = "problem", [VERIFY_RECORDS] = "records", [VERIFY_PROOF] = "proof",
		[VERIFY_SUMMARY] = "summary",
	};
	struct jsonl j;

	progress_clear();
	jsonl_begin(&j, ctx);
	jsonl_str(&j, "type", types[it->kind]);
	switch (it->kind) {
	case VERIFY_SEGMENT:
		jsonl_str(&j, "segment", it->segment);
		jsonl_str(&j, "state", it->state);
		json_time(&j, "first_ns", it->first_ns);
		json_time(&j, "last_ns", it->last_ns);
		jsonl_int(&j, "conns", it->conns);
		jsonl_str(&j, "sha256", it->sha256);
		break;
	case VERIFY_GAP:
		jsonl_str(&j, "segment", it->segment);
		jsonl_str(&j, "kind", sr_gap_kind_name(it->gap->kind));
		json_time(&j, "start_ns", it->gap->start_ns);
		json_time(&j, "end_ns", it->gap->end_ns);
		jsonl_uint(&j, "count", it->gap->count);
		jsonl_str(&j, "reason", it->gap->reason);
		break;
	case VERIFY_NOTE:
	case VERIFY_PROBLEM:
		jsonl_str(&j, "segment", it->segment);
		jsonl_str(&j, "message", it->message);
		break;
	case VERIFY_RECORDS:
		jsonl_uint(&j, "checkpoints", it->checkpoints);
		jsonl_uint(&j, "seals", it->seals);
		jsonl_uint(&j, "only_heads", it->only_heads);
		if (it->key_id) {
			jsonl_str(&j, "key_id", it->key_id);
			jsonl_uint(&j, "mac_ok", it->mac_ok);
			jsonl_uint(&j, "other_key", it->other_key);
			jsonl_uint(&j, "unsealed", it->unsealed);
		}
		if (it->heads) {
			jsonl_str(&j, "heads", it->heads);
			jsonl_uint(&j, "heads_lines", it->heads_lines);
			jsonl_uint(&j, "heads_tamper", it->heads_tamper);
			jsonl_uint(&j, "heads_malformed", it->heads_malformed);
		}
		break;
	case VERIFY_PROOF:
		jsonl_str(&j, "segment", it->segment);
		jsonl_str(&j, "proof", it->proof);
		if (strcmp(it->proof, "none")) {
			jsonl_int(&j, "proof_ns", it->proof_ns);
			jsonl_int(&j, "checkpoint", it->proof_ck);
			if (it->proof_ck) {
				jsonl_uint(&j, "rows", it->proof_rows);
				jsonl_uint(&j, "rows_after", it->rows_after);
			}
		}
		break;
	case VERIFY_SUMMARY:
		jsonl_bool(&j, "ok", !it->problems);
		jsonl_str(&j, "data_dir", it->dir);
		jsonl_uint(&j, "segments", it->segments);
		jsonl_int(&j, "problems", it->problems);
		jsonl_int(&j, "tamper_gaps", it->tampers);
		if (it->proof) {
			jsonl_str(&j, "proof", it->proof);
			json_time(&j, "proven_until_ns", it->proof_ns);
		}
		break;
	}
	jsonl_end(&j);
}

enum { OPT_DATA_DIR = OPT_FIRST, OPT_FILE, OPT_FORMAT, OPT_VERIFY_KEY, OPT_HEADS, OPT_KEY_FILE };

static const struct opt verify_options[] = {
	OPT_ROW_DATA_DIR(OPT_DATA_DIR),
	OPT_ROW_FILE(OPT_FILE, "check these segment files instead (.db or .db.zst); "
			       "the chain is checked between consecutive ones given"),
	{ .id = OPT_VERIFY_KEY, .name = "verify-key", .arg = OPT_REQUIRED, .metavar = "KEY",
	  .help = "check the MAC of every checkpoint and seal with the verification key that "
		  "connrec keygen printed (or @FILE holding it), and that no sealed record is "
		  "missing; say up to when the history is proven" },
	{ .id = OPT_HEADS, .name = "heads", .arg = OPT_REQUIRED, .metavar = "FILE",
	  .help = "check the store against the anchor lines in FILE (e.g. grepped from a "
		  "forwarded syslog): a cut tail or a rewritten chain shows, even without a key" },
	{ .id = OPT_KEY_FILE, .name = "key-file", .arg = OPT_REQUIRED, .metavar = "PATH",
	  .help = "the sealing key file whose last record must be in the store (default "
		  "DIR/connrec.key)" },
	OPT_ROW_FORMAT(OPT_FORMAT, "text json", "text (default) or json (JSON lines)"),
	{ 0 },
};

struct verify_args {
	const char *dir;
	char **files;
	size_t n_files;
	verify_fn print;
	struct verify_opts v;
};

static int on_opt(void *ctx, const struct opt *o, const char *arg)
{
	struct verify_args *a = ctx;
	char **v;

	switch (o->id) {
	case OPT_DATA_DIR:
		a->dir = arg;
		break;
	case OPT_VERIFY_KEY:
		return vkey_take(o, arg, &a->v.verify_key);
	case OPT_HEADS:
		a->v.heads_file = arg;
		break;
	case OPT_KEY_FILE:
		a->v.key_file = arg;
		break;
	case OPT_FORMAT:
		if (strcmp(arg, "text") && strcmp(arg, "json"))
			return opt_bad_value(o, arg, "expected text or json");
		a->print = !strcmp(arg, "json") ? print_json : print_text;
		break;
	case OPT_OPERAND:
		/* "-f a -f b" and "-f a b" both name the files a and b. */
		if (!a->n_files)
			return opt_usage_error("unexpected argument '%s'", arg);
		/* fall through */
	case OPT_FILE:
		v = realloc(a->files, (a->n_files + 1) * sizeof(*v));
		if (!v)
			return -ENOMEM;
		a->files = v;
		v[a->n_files++] = (char *)arg;
		break;
	}
	return 0;
}

static int verify_run(int argc, char **argv);

const struct opt_cmd cmd_verify = {
	.name = "verify",
	.summary = "check a store's integrity, hash chain and gaps",
	.synopsis = "[-d DIR | -f FILE...] [--verify-key KEY] [--heads FILE] [--format text|json]",
	.description =
		"Checks a connrec store: SQLite's integrity_check on every segment, the SHA-256\n"
		"chain between segments (each records the hash of the sealed one before it),\n"
		"segment numbering, and that segments missing at the start were deleted by\n"
		"retention (recorded with name and hash); that every checkpoint and seal record\n"
		"agrees with the rows and files it describes (and, with --verify-key, that each\n"
		"one's MAC is right and none is missing). Lists the recording gaps and what the\n"
		"records prove of each segment, and counts the tamper gaps (the recorder was\n"
		"blinded, then healed) in its last line.\n",
	.epilog = "Exit status: 0 consistent, 1 a problem was found (each named as\n"
		  "\"FAIL SEGMENT: what\"), 2 bad usage. With --format json, one object\n"
		  "per line: segment, gap, note and problem lines, then a summary line.\n"
		  "Tamper gaps do not change the exit status.\n\n"
		  "Examples:\n"
		  "  connrec verify\n"
		  "  connrec verify --verify-key @/media/usb/host7-verify-key\n"
		  "  connrec verify --heads host7-anchors.log   # grep connrec-anchor from syslog\n"
		  "  connrec verify -f evidence/seg-00000041.db.zst evidence/seg-00000042.db.zst\n",
	.operands = "FILE",
	.opts = verify_options,
	.run = verify_run,
};

static int verify_run(int argc, char **argv)
{
	struct verify_args a = { .print = print_text };
	char err[512], safe[sizeof(err) * 4];
	int rc = opt_parse(&cmd_verify, argc, argv, on_opt, &a);

	if (!rc && a.dir && a.n_files)
		rc = opt_usage_error("-d and -f exclude each other");
	if (rc) {
		free(a.files);
		return opt_exit_status(rc);
	}
	/* Ctrl-C while a .zst is being checked must not leave its decompressed copy behind. */
	sr_cleanup_on_fatal_signals();
	progress_start();
	if (a.n_files)
		rc = store_verify(NULL, a.files, a.n_files, &a.v, a.print, stdout, err,
				  sizeof(err));
	else
		rc = store_verify(a.dir ? a.dir : STORE_DEFAULT_DIR, NULL, 0, &a.v, a.print, stdout,
				  err, sizeof(err));
	free(a.files);
	if (rc < 0) {
		fprintf(stderr, "connrec verify: %s\n", cr_escape(err, safe, sizeof(safe)));
		return EXIT_FAIL;
	}
	return rc ? EXIT_FAIL : EXIT_OK;
}
