/* SPDX-License-Identifier: MIT */
/* The schema files from schema/, embedded at build time (see tools/embed.sh). */
#ifndef CONNREC_SCHEMA_H
#define CONNREC_SCHEMA_H

/* schema_sql[i] is schema/00(i+1)_*.sql; schema_sql[schema_sql_count] is NULL. */
extern const char *const schema_sql[];
extern const unsigned schema_sql_count;

#endif /* CONNREC_SCHEMA_H */
