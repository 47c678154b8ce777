/* SPDX-License-Identifier: MIT */
/*
 * The commands of the single connrec binary. Each is a struct opt_cmd (opts.h): its name,
 * help, option table and run function, which returns the process exit status.
 */
#ifndef CONNREC_COMMANDS_H
#define CONNREC_COMMANDS_H

/* Exit statuses, the usual Unix ones. */
#define EXIT_OK 0
#define EXIT_FAIL 1
#define EXIT_USAGE 2

struct opt_cmd;

extern const struct opt_cmd cmd_record;	    /* recorder/record.c */
extern const struct opt_cmd cmd_query;	    /* query/query.c */
extern const struct opt_cmd cmd_verify;	    /* query/verify.c */
extern const struct opt_cmd cmd_status;	    /* recorder/status.c */
extern const struct opt_cmd cmd_keygen;	    /* recorder/keygen.c */
extern const struct opt_cmd cmd_ship;	    /* fleet/ship.c */
extern const struct opt_cmd cmd_completion; /* src/main.c */

#endif /* CONNREC_COMMANDS_H */
