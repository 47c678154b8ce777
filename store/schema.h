/* SPDX-License-Identifier: MIT */
/* The schema files from schema/, embedded at build time (see tools/embed.sh). */
#ifndef CONNREC_SCHEMA_H
#define CONNREC_SCHEMA_H

/* schema/NNN_*.sql in order, applied when a segment is created. NULL-terminated. */
extern const char *const schema_sql[];
extern const unsigned schema_sql_count;

/*
 * schema/seal.sql: statements run in the sealing transaction, before a segment is hashed.
 * Two partial indexes on conn today (seal.sql says why); the evidence reader accepts any
 * subset of what they create, so segments sealed before or after a change all read.
 */
extern const char *const seal_sql[];
extern const unsigned seal_sql_count;

#endif /* CONNREC_SCHEMA_H */
