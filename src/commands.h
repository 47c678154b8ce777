/* SPDX-License-Identifier: MIT */
/* Subcommands of the single connrec binary. Each returns the process exit status. */
#ifndef CONNREC_COMMANDS_H
#define CONNREC_COMMANDS_H

/* Exit statuses, the usual Unix ones. */
#define EXIT_OK 0
#define EXIT_FAIL 1
#define EXIT_USAGE 2

int cmd_record(int argc, char **argv);	/* recorder/record.c */
int cmd_query(int argc, char **argv);	/* query/query.c */
int cmd_verify(int argc, char **argv);	/* query/verify.c */
int cmd_status(int argc, char **argv);	/* recorder/status.c */

#endif /* CONNREC_COMMANDS_H */
