/* SPDX-License-Identifier: MIT */
/*
 * Paging a command's output, only when stdout is a terminal and the user asked for it: with
 * --pager, or by setting PAGER. Never on its own (like ss, unlike git): a responder's terminal
 * may be a serial console or a script's pty.
 */
#ifndef CONNREC_SRC_PAGER_H
#define CONNREC_SRC_PAGER_H

#include <stdbool.h>
#include <stdio.h>

enum pager_choice {
	PAGER_AUTO,   /* when PAGER is set (the default) */
	PAGER_ALWAYS, /* --pager: PAGER, or less */
	PAGER_NEVER,  /* --no-pager */
};

/*
 * Where to write the output: stdout, or a pipe to the pager ($PAGER, else "less"; LESS=FRSX
 * unless LESS is set, so a short result prints at once and wide tables are not wrapped).
 */
FILE *pager_open(enum pager_choice choice);
/* Flushes the output and, with a pager, waits until the user leaves it. 0 or -errno. */
int pager_close(FILE *f);

#endif /* CONNREC_SRC_PAGER_H */
