// SPDX-License-Identifier: MIT
/* connrec: dispatch to a subcommand. */
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "opts.h"

static int completion_run(int argc, char **argv);

/* The commands, in the order `connrec --help` lists them. */
static const struct opt_cmd *const cmds[] = {
	&cmd_record, &cmd_query, &cmd_verify, &cmd_status, &cmd_keygen, &cmd_ship,
	&cmd_completion,
};
#define N_CMDS (sizeof(cmds) / sizeof(cmds[0]))

static const struct opt no_options[] = { { 0 } };

const struct opt_cmd cmd_completion = {
	.name = "completion",
	.summary = "print the bash completion script",
	.synopsis = "bash",
	.description = "Prints a bash completion script for connrec on stdout, made from the same\n"
		       "option tables the commands parse with.\n",
	.epilog = "Example:\n"
		  "  connrec completion bash > /etc/bash_completion.d/connrec\n",
	.operands = "SHELL",
	.opts = no_options,
	.run = completion_run,
};

static int on_shell(void *ctx, const struct opt *o, const char *arg)
{
	const char **shell = ctx;

	(void)o;
	if (*shell)
		return opt_usage_error("unexpected argument '%s'", arg);
	if (strcmp(arg, "bash"))
		return opt_usage_error("no completion for '%s', only for bash", arg);
	*shell = arg;
	return 0;
}

static int completion_run(int argc, char **argv)
{
	const char *shell = NULL;
	int err = opt_parse(&cmd_completion, argc, argv, on_shell, &shell);

	if (!err && !shell)
		err = opt_usage_error("which shell? only 'bash' is known");
	if (err)
		return opt_exit_status(err);
	opt_print_bash_completion(cmds, N_CMDS, stdout);
	return EXIT_OK;
}

static void usage(FILE *f)
{
	fprintf(f, "Usage: connrec COMMAND [OPTIONS]\n\n"
		   "Records which process talked to what, when, and keeps it as evidence.\n\n"
		   "Commands:\n");
	for (size_t i = 0; i < N_CMDS; i++)
		fprintf(f, "  %-11s %s\n", cmds[i]->name, cmds[i]->summary);
	fprintf(f, "\nRun 'connrec COMMAND --help' for a command's options, 'man connrec' for\n"
		   "more.\n"
		   "Examples:\n"
		   "  connrec record                       # record into /var/lib/connrec\n"
		   "  connrec query --since 1h --port 53   # who did DNS in the last hour\n");
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
		usage(stdout);
		return EXIT_OK;
	}
	if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "-V")) {
		printf("connrec %s\n", CONNREC_VERSION);
		return EXIT_OK;
	}
	for (size_t i = 0; i < N_CMDS; i++) {
		if (!strcmp(argv[1], cmds[i]->name))
			return cmds[i]->run(argc - 1, argv + 1);
	}
	fprintf(stderr, "connrec: unknown command '%s' (try 'connrec --help')\n", argv[1]);
	return EXIT_USAGE;
}
