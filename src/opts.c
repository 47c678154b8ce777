// SPDX-License-Identifier: MIT
/* The option parser, --help and the bash completion, all from a command's table (opts.h). */
#include "opts.h"

#include <errno.h>
#include <stdarg.h>
#include <string.h>

#include "commands.h"

static const struct opt help_row = { .id = OPT_HELP_ID, .name = "help", .short_name = 'h',
				     .help = "this help" };

/* The command being parsed, for the messages. One command runs per process. */
static const char *cur_cmd = "";

const char *opt_cmd_name(void)
{
	return cur_cmd;
}

int opt_exit_status(int err)
{
	if (err == OPT_HELP_SHOWN)
		return EXIT_OK;
	return err == -EINVAL ? EXIT_USAGE : err ? EXIT_FAIL : EXIT_OK;
}

int opt_usage_error(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "connrec %s: ", cur_cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, " (try --help)\n");
	return -EINVAL;
}

int opt_bad_value(const struct opt *o, const char *arg, const char *expected)
{
	fprintf(stderr, "connrec %s: invalid --%s '%s': %s\n", cur_cmd, o->name, arg, expected);
	return -EINVAL;
}

/* Whether word (len bytes) is one of the space-separated words in list. */
static bool in_list(const char *list, const char *word, size_t len)
{
	const char *p = list;

	while (p && *p) {
		size_t n = strcspn(p, " ");

		if (n == len && !strncmp(p, word, len))
			return true;
		p += n;
		p += strspn(p, " ");
	}
	return false;
}

static bool visible(const struct opt *o)
{
	return o->id != OPT_HEADING && o->help;
}

static const struct opt *find_long(const struct opt_cmd *cmd, const char *name, size_t len)
{
	for (const struct opt *o = cmd->opts; o->id != OPT_END; o++) {
		if (o->id == OPT_HEADING)
			continue;
		if ((strlen(o->name) == len && !strncmp(o->name, name, len)) ||
		    in_list(o->aliases, name, len))
			return o;
	}
	if (len == 4 && !strncmp(name, "help", 4))
		return &help_row;
	return NULL;
}

static const struct opt *find_short(const struct opt_cmd *cmd, char c)
{
	for (const struct opt *o = cmd->opts; o->id != OPT_END; o++)
		if (o->id != OPT_HEADING && o->short_name == c)
			return o;
	return c == 'h' ? &help_row : NULL;
}

/* Hands one option to on_opt, or prints the help. */
static int deliver(const struct opt_cmd *cmd, const struct opt *o, const char *arg, opt_fn on_opt,
		   void *ctx)
{
	if (o->id == OPT_HELP_ID) {
		opt_print_help(cmd, stdout);
		return OPT_HELP_SHOWN;
	}
	return on_opt(ctx, o, arg);
}

/* argv[*i] is "--name" or "--name=value". */
static int parse_long(const struct opt_cmd *cmd, int argc, char **argv, int *i, opt_fn on_opt,
		      void *ctx)
{
	const char *name = argv[*i] + 2, *eq = strchr(name, '=');
	size_t len = eq ? (size_t)(eq - name) : strlen(name);
	const struct opt *o = find_long(cmd, name, len);
	const char *arg = eq ? eq + 1 : NULL;

	if (!o)
		return opt_usage_error("unknown option '--%.*s'", (int)len, name);
	if (o->arg == OPT_NONE && eq)
		return opt_usage_error("option '--%.*s' takes no value", (int)len, name);
	if (o->arg == OPT_REQUIRED && !eq) {
		if (*i + 1 >= argc)
			return opt_usage_error("option '--%.*s' needs a value", (int)len, name);
		arg = argv[++*i];
	}
	return deliver(cmd, o, arg, on_opt, ctx);
}

/* argv[*i] is "-x", "-xyz" (flags) or "-xVALUE". */
static int parse_short(const struct opt_cmd *cmd, int argc, char **argv, int *i, opt_fn on_opt,
		       void *ctx)
{
	for (const char *p = argv[*i] + 1; *p; p++) {
		const struct opt *o = find_short(cmd, *p);
		const char *arg = NULL;
		int err;

		if (!o)
			return opt_usage_error("unknown option '-%c'", *p);
		if (o->arg != OPT_NONE && p[1]) {
			arg = p + 1;
		} else if (o->arg == OPT_REQUIRED) {
			if (*i + 1 >= argc)
				return opt_usage_error("option '-%c' needs a value", *p);
			arg = argv[++*i];
		}
		err = deliver(cmd, o, arg, on_opt, ctx);
		if (err || arg)
			return err;
	}
	return 0;
}

int opt_parse(const struct opt_cmd *cmd, int argc, char **argv, opt_fn on_opt, void *ctx)
{
	static const struct opt operand = { .id = OPT_OPERAND, .name = "" };
	bool options_ended = false;
	int err = 0;

	cur_cmd = cmd->name;
	for (int i = 1; i < argc && !err; i++) {
		const char *a = argv[i];

		if (!options_ended && !strcmp(a, "--"))
			options_ended = true;
		else if (options_ended || a[0] != '-' || !a[1])
			err = cmd->operands ? on_opt(ctx, &operand, a)
					    : opt_usage_error("unexpected argument '%s'", a);
		else if (a[1] == '-')
			err = parse_long(cmd, argc, argv, &i, on_opt, ctx);
		else
			err = parse_short(cmd, argc, argv, &i, on_opt, ctx);
	}
	return err;
}

/* "  -d, --data-dir DIR" into buf; returns its length. */
static int opt_label(const struct opt *o, char *buf, size_t len)
{
	const char *mv = o->metavar ? o->metavar : "";
	const char *sep = o->arg == OPT_OPTIONAL ? "[=" : o->arg == OPT_REQUIRED ? " " : "";
	const char *end = o->arg == OPT_OPTIONAL ? "]" : "";

	if (o->short_name)
		return snprintf(buf, len, "  -%c, --%s%s%s%s", o->short_name, o->name, sep, mv,
				end);
	return snprintf(buf, len, "      --%s%s%s%s", o->name, sep, mv, end);
}

/* Help lines wrap at this width; a label longer than the column puts its help below it. */
#define HELP_WIDTH 79
#define HELP_COL_MAX 28

/* The column where a command's help texts start: just right of its longest short label. */
static int help_col(const struct opt_cmd *cmd)
{
	char label[128];
	int col = opt_label(&help_row, label, sizeof(label)) + 2;

	for (const struct opt *o = cmd->opts; o->id != OPT_END; o++) {
		int n = opt_label(o, label, sizeof(label)) + 2;

		if (visible(o) && n > col && n <= HELP_COL_MAX)
			col = n;
	}
	return col;
}

/* Prints text from column col on, wrapped at word boundaries and at "\n". */
static void print_wrapped(const char *text, int col, int at, FILE *f)
{
	const char *p = text;

	while (*p) {
		int room = HELP_WIDTH - col, len = (int)strcspn(p, "\n");

		if (len > room) {
			int cut = room;

			while (cut > 0 && p[cut] != ' ')
				cut--;
			len = cut ? cut : len;
		}
		fprintf(f, "%*s%.*s\n", col - at, "", len, p);
		p += len;
		p += strspn(p, p[0] == '\n' ? "\n" : " ");
		at = 0;
	}
}

static void print_row(const struct opt *o, int col, FILE *f)
{
	char label[128], text[512];
	int n = opt_label(o, label, sizeof(label));

	fputs(label, f);
	if (n + 2 > col) {
		fputc('\n', f);
		n = 0;
	}
	snprintf(text, sizeof(text), o->aliases ? "%s (also --%s)" : "%s", o->help, o->aliases);
	print_wrapped(text, col, n, f);
}

void opt_print_help(const struct opt_cmd *cmd, FILE *f)
{
	int col = help_col(cmd);

	fprintf(f, "Usage: connrec %s %s\n\n%s", cmd->name, cmd->synopsis, cmd->description);
	if (cmd->opts->id != OPT_HEADING)
		fprintf(f, "\nOptions:\n");
	for (const struct opt *o = cmd->opts; o->id != OPT_END; o++) {
		if (o->id == OPT_HEADING)
			fprintf(f, "\n%s:\n", o->name);
		else if (visible(o))
			print_row(o, col, f);
	}
	print_row(&help_row, col, f);
	if (cmd->epilog)
		fprintf(f, "\n%s", cmd->epilog);
}

/* How bash completes an option's value: a list of words, a directory, a file, or nothing. */
enum completer { COMPLETE_NOTHING, COMPLETE_WORDS, COMPLETE_DIR, COMPLETE_FILE };

static enum completer completer_of(const struct opt *o)
{
	if (o->values)
		return COMPLETE_WORDS;
	if (o->metavar && !strcmp(o->metavar, "DIR"))
		return COMPLETE_DIR;
	if (o->metavar && (!strcmp(o->metavar, "FILE") || !strcmp(o->metavar, "PATH")))
		return COMPLETE_FILE;
	return COMPLETE_NOTHING;
}

/* "--name | --alias | -n" */
static void print_spellings(const struct opt *o, bool *first, FILE *f)
{
	fprintf(f, "%s--%s", *first ? "\t\t" : " | ", o->name);
	for (const char *a = o->aliases; a && *a;) {
		size_t n = strcspn(a, " ");

		fprintf(f, " | --%.*s", (int)n, a);
		a += n + strspn(a + n, " ");
	}
	if (o->short_name)
		fprintf(f, " | -%c", o->short_name);
	*first = false;
}

/* The case arm of one command: completions of option values, then its option names. */
static void print_cmd_completion(const struct opt_cmd *cmd, FILE *f)
{
	static const char *const action[] = {
		[COMPLETE_DIR] = "_connrec_dirs", [COMPLETE_FILE] = "_connrec_files"
	};
	bool first = true;

	fprintf(f, "\t%s)\n\t\tcase $prev in\n", cmd->name);
	for (const struct opt *o = cmd->opts; o->id != OPT_END; o++) {
		enum completer c = completer_of(o);

		if (!visible(o) || o->arg == OPT_NONE || c == COMPLETE_NOTHING)
			continue;
		first = true;
		print_spellings(o, &first, f);
		if (c == COMPLETE_WORDS)
			fprintf(f, ")\n\t\t\t_connrec_words '%s'\n\t\t\treturn ;;\n", o->values);
		else
			fprintf(f, ")\n\t\t\t%s\n\t\t\treturn ;;\n", action[c]);
	}
	/* Values nobody can guess (numbers, times): offer nothing rather than option names. */
	first = true;
	for (const struct opt *o = cmd->opts; o->id != OPT_END; o++)
		if (visible(o) && o->arg == OPT_REQUIRED && completer_of(o) == COMPLETE_NOTHING)
			print_spellings(o, &first, f);
	if (!first)
		fprintf(f, ")\n\t\t\treturn ;;\n");
	fprintf(f, "\t\tesac\n\t\topts='");
	for (const struct opt *o = cmd->opts; o->id != OPT_END; o++)
		if (visible(o))
			fprintf(f, "--%s ", o->name);
	fprintf(f, "--help'\n");
	if (cmd->operands && !strcmp(cmd->operands, "FILE"))
		fprintf(f, "\t\t[[ $cur == -* ]] || { _connrec_files; return; }\n");
	fprintf(f, "\t\t;;\n");
}

void opt_print_bash_completion(const struct opt_cmd *const *cmds, size_t n, FILE *f)
{
	fprintf(f, "# bash completion for connrec, made by `connrec completion bash` from the\n"
		   "# option tables the commands parse with.\n"
		   "_connrec_words() {\n"
		   "\t# A comma-separated list completes its last element.\n"
		   "\tlocal pre=\n"
		   "\t[[ $cur == *,* ]] && pre=${cur%%,*},\n"
		   "\tlocal IFS=$' \\t\\n'\n"
		   "\tCOMPREPLY=($(compgen -P \"$pre\" -W \"$1\" -- \"${cur##*,}\"))\n"
		   "}\n"
		   "_connrec_dirs() { COMPREPLY=($(compgen -d -- \"$cur\")); }\n"
		   "_connrec_files() { COMPREPLY=($(compgen -f -- \"$cur\")); }\n"
		   "_connrec() {\n"
		   "\tlocal cur=${COMP_WORDS[COMP_CWORD]} prev= opts=\n"
		   "\t((COMP_CWORD > 0)) && prev=${COMP_WORDS[COMP_CWORD - 1]}\n"
		   "\t# --name=value: bash splits it at '=' into three words.\n"
		   "\tif [[ $cur == = ]]; then\n"
		   "\t\tcur=; prev=${COMP_WORDS[COMP_CWORD - 1]}\n"
		   "\telif [[ $prev == = ]] && ((COMP_CWORD > 1)); then\n"
		   "\t\tprev=${COMP_WORDS[COMP_CWORD - 2]}\n"
		   "\tfi\n"
		   "\tif ((COMP_CWORD == 1)); then\n"
		   "\t\tCOMPREPLY=($(compgen -W '");
	for (size_t i = 0; i < n; i++)
		fprintf(f, "%s ", cmds[i]->name);
	fprintf(f, "--help --version' -- \"$cur\"))\n"
		   "\t\treturn\n"
		   "\tfi\n"
		   "\tcase ${COMP_WORDS[1]} in\n");
	for (size_t i = 0; i < n; i++)
		print_cmd_completion(cmds[i], f);
	fprintf(f, "\t*) return ;;\n"
		   "\tesac\n"
		   "\tCOMPREPLY=($(compgen -W \"$opts\" -- \"$cur\"))\n"
		   "}\n"
		   "complete -F _connrec connrec\n");
}
