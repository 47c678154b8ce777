/* SPDX-License-Identifier: MIT */
/*
 * Shared between the store's writer (store.c) and the commands that inspect a data dir
 * (status, verify). The segment files themselves are segment.h's. Not part of the public
 * store API.
 */
#ifndef CONNREC_STORE_INTERNAL_H
#define CONNREC_STORE_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include <sqlite3.h>

#include "segment.h"

#define SEG_STATUS_NAME "connrec.status"
#define SEG_RESERVE_NAME "connrec.reserve"

/*
 * `connrec verify` over a data dir (dir != NULL) or a list of segment files. Writes a report
 * to OUT with one "FAIL NAME: ..." line per problem. Returns 0 when consistent, 1 when a
 * problem was found, -errno when it could not run at all.
 */
#include <stdio.h>
int store_verify(const char *dir, char *const *files, size_t nfiles, FILE *out);

/* The active segment's connection, for unit tests that need to provoke SQLITE_FULL. */
struct store;
sqlite3 *store_test_active_db(struct store *s);

#endif /* CONNREC_STORE_INTERNAL_H */
