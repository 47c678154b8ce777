/* SPDX-License-Identifier: MIT */
/*
 * The command line of every connrec command: one table of options per command, one parser,
 * one error style. `--help`, the man page check and the bash completion are all made from the
 * same table, so they cannot drift from what the parser accepts.
 *
 * How to add an option to a command (say `query --foo N`):
 *   1. add an id to the command's enum (ids start at OPT_FIRST);
 *   2. add a row to its table:
 *        { .id = OPT_FOO, .name = "foo", .arg = OPT_REQUIRED, .metavar = "N",
 *          .help = "what it does" },
 *      give .values ("a b c") when the value is one of a few words (bash completes them),
 *      .aliases ("old-name") to keep an old spelling working, and no help text to hide it
 *      (tests and tuning only: hidden options are not completed or documented);
 *   3. handle the id in the command's on_opt switch; reject a bad value with
 *      `return opt_bad_value(o, arg, "expected ...");`
 *   4. describe it in the command's man page, man/connrec-CMD.N.scd ("*--foo* _N_" and an
 *      indented paragraph). tests/golden/35_man_pages.sh fails while an option --help lists is
 *      missing there, and 33_cli_options.sh checks that bash completes it.
 * The common ones (--data-dir, --file, --format, --verbose) have OPT_ROW_* macros: use them, so
 * the same concept has the same name and words everywhere. -h/--help is added to every table.
 *
 * How to add a command: define a `const struct opt_cmd cmd_NAME` (see commands.h), whose run
 * function calls opt_parse() with it, and list it in src/main.c. Give it a man page,
 * man/connrec-NAME.N.scd (make builds and installs every page in man/; section 8 for what root
 * runs, 1 otherwise), and a "*NAME*" entry under COMMANDS in man/connrec.8.scd; a small
 * command may instead be documented in a "*NAME*" section of connrec(8) alone, as
 * `completion` is. 35_man_pages.sh checks both.
 *
 * Accepted syntax, the GNU one without abbreviations: --name VALUE, --name=VALUE, -n VALUE,
 * -nVALUE, clustered flags (-vh), an optional value only as --name=VALUE, options and operands
 * in any order, and "--" ending the options. A required value is taken even if it starts with
 * '-' (so "--port -5" is rejected by the port check, not read as an option).
 */
#ifndef CONNREC_SRC_OPTS_H
#define CONNREC_SRC_OPTS_H

#include <stdbool.h>
#include <stdio.h>

#include "store.h"

enum opt_arg {
	OPT_NONE,     /* a flag */
	OPT_REQUIRED, /* --name VALUE */
	OPT_OPTIONAL, /* --name or --name=VALUE */
};

/* Ids handed to on_opt. 0 ends a table; command ids start at OPT_FIRST. */
enum {
	OPT_END = 0,
	OPT_OPERAND = 1, /* an argument that is not an option (only if the command takes them) */
	OPT_HEADING = 2, /* a row that only titles the options after it in --help */
	OPT_HELP_ID = 3, /* -h, --help: handled by the parser */
	OPT_FIRST = 16,
};

struct opt {
	int id;
	const char *name;    /* the long name, without "--"; for OPT_HEADING, the title */
	char short_name;     /* 0 for none */
	enum opt_arg arg;
	const char *metavar; /* the value's name in --help ("DIR", "DUR") */
	const char *help;    /* one line ("\n" continues it); NULL hides the option */
	const char *aliases; /* other long names it answers to, space-separated */
	const char *values;  /* the values it takes, space-separated, when they are a few words */
};

struct opt_cmd {
	const char *name;	 /* "query" */
	const char *summary;	 /* one line, for `connrec --help` */
	const char *synopsis;	 /* what follows "Usage: connrec NAME " */
	const char *description; /* before the options */
	const char *epilog;	 /* after the options: exit status, examples */
	const char *operands;	 /* metavar of the operands, or NULL when it takes none */
	const struct opt *opts;	 /* ends with a { 0 } row */
	int (*run)(int argc, char **argv);
};

/*
 * Handles one option (o->id) with its value (NULL when it has none), or, with o->id ==
 * OPT_OPERAND, one operand. Returns 0, or a negative errno after printing why (opt_bad_value()
 * and opt_usage_error() do both).
 */
typedef int (*opt_fn)(void *ctx, const struct opt *o, const char *arg);

/* opt_parse() returns this after printing --help on stdout. */
#define OPT_HELP_SHOWN 1

/*
 * Parses argv[1..argc) against cmd's table, calling on_opt for each option and operand in
 * order. Returns 0, OPT_HELP_SHOWN, -EINVAL after printing a usage error on stderr, or what
 * on_opt returned. opt_exit_status() turns that into the exit status.
 */
int opt_parse(const struct opt_cmd *cmd, int argc, char **argv, opt_fn on_opt, void *ctx);
int opt_exit_status(int err);

/* "connrec CMD: invalid --NAME 'ARG': EXPECTED" on stderr; returns -EINVAL. */
int opt_bad_value(const struct opt *o, const char *arg, const char *expected);
/* "connrec CMD: MESSAGE (try --help)" on stderr; returns -EINVAL. */
int opt_usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The name of the command being parsed ("query"), for messages after parsing. */
const char *opt_cmd_name(void);

/* The help of one command, made from its table. */
void opt_print_help(const struct opt_cmd *cmd, FILE *f);
/* A bash completion script for these commands, made from their tables. */
void opt_print_bash_completion(const struct opt_cmd *const *cmds, size_t n, FILE *f);

/* Rows that several commands share: one name and one wording for one concept. */
#define OPT_ROW_DATA_DIR(ID)                                                                    \
	{ .id = (ID), .name = "data-dir", .short_name = 'd', .arg = OPT_REQUIRED,              \
	  .metavar = "DIR", .help = "the data dir (default " STORE_DEFAULT_DIR ")",            \
	  .aliases = "dir" }
#define OPT_ROW_FILE(ID, HELP)                                                                  \
	{ .id = (ID), .name = "file", .short_name = 'f', .arg = OPT_REQUIRED, .metavar = "FILE", \
	  .help = (HELP) }
#define OPT_ROW_FORMAT(ID, VALUES, HELP)                                                        \
	{ .id = (ID), .name = "format", .short_name = 'o', .arg = OPT_REQUIRED,                \
	  .metavar = "FMT", .help = (HELP), .values = (VALUES) }
#define OPT_ROW_VERBOSE(ID)                                                                     \
	{ .id = (ID), .name = "verbose", .short_name = 'v', .help = "debug output" }
#define OPT_ROW_HEADING(TITLE) { .id = OPT_HEADING, .name = (TITLE), .help = "" }

#endif /* CONNREC_SRC_OPTS_H */
