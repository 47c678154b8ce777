/* SPDX-License-Identifier: MIT */
/*
 * The --verify-key option of verify and query: the verification key `connrec keygen` printed,
 * given as KEYID-K0 or as @FILE holding it (which keeps the key out of the process list).
 */
#ifndef CONNREC_VERIFY_KEY_H
#define CONNREC_VERIFY_KEY_H

#include "opts.h"

/*
 * Reads ARG (KEY, or the first line of FILE for @FILE) and checks that it parses as a
 * verification key; *OUT then points at the key text (ARG, or a buffer of this module that
 * lives as long as the process). 0, or opt_bad_value()'s return for option O.
 */
int vkey_take(const struct opt *o, const char *arg, const char **out);

#endif /* CONNREC_VERIFY_KEY_H */
