/* SPDX-License-Identifier: MIT */
/*
 * A ClickHouse server over its HTTP interface (libcurl), for `connrec ship` and
 * `connrec query --from`.
 *
 * The URL is http[s]://[USER[:PASSWORD]@]HOST[:PORT][/PATH][?SETTINGS]. Credentials come from
 * the URL or from an auth file (one line "USER[:PASSWORD]"), never from a separate argument,
 * and they travel as HTTP basic auth (use https:// beyond the local network). Everything the
 * server answers is untrusted: answers are size-capped, and error text is shortened and
 * escaped before it is shown.
 *
 * Errors are 0 or -errno with a one-line message in the caller's buffer:
 *   -ECONNREFUSED / -EHOSTUNREACH  the server could not be reached
 *   -ETIMEDOUT                     no progress for the timeout (connect, or a stalled transfer)
 *   -EIO                           the transfer broke off
 *   -EACCES                        authentication refused
 *   -EPROTO                        the server answered with an error (its message follows)
 *   -EFBIG                         the answer exceeded the size cap
 *   -ECANCELED                     stopped by ch_interrupt()
 *   -EINVAL                        a bad URL or auth file (while opening)
 */
#ifndef CONNREC_FLEET_CH_HTTP_H
#define CONNREC_FLEET_CH_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ch_buf.h"

#define CH_DEFAULT_DATABASE "connrec"
#define CH_DEFAULT_TIMEOUT_NS (30LL * 1000000000)
#define CH_DEFAULT_TRIES 5
#define CH_DEFAULT_MAX_ANSWER (4ULL << 30)

struct ch_opts {
	const char *url;
	const char *auth_file; /* NULL: credentials from the URL, if any */
	const char *database;  /* NULL: CH_DEFAULT_DATABASE */
	int64_t timeout_ns;    /* connect timeout, and how long a transfer may stall; 0 = default */
	unsigned tries;	       /* attempts of a retried request; 0 = default */
	uint64_t max_answer;   /* bytes; 0 = default */
};

struct ch_server;

/* Checks the URL, reads the auth file and prepares the HTTP handle; no request is made. */
int ch_open(struct ch_server **out, const struct ch_opts *o, char *err, size_t errlen);
void ch_close(struct ch_server *s);

/* The URL for messages (no credentials) and the database name (checked: [A-Za-z0-9_]+). */
const char *ch_url(const struct ch_server *s);
const char *ch_database(const struct ch_server *s);

/*
 * Runs one statement (a SELECT, or DDL that may run twice) and puts the answer into *answer
 * (NULL to drop it). Retried with backoff while the server cannot be reached, times out,
 * answers 502/503/504, or reports itself overloaded: the statement must be idempotent.
 */
int ch_query(struct ch_server *s, const char *sql, struct ch_buf *answer, char *err,
	     size_t errlen);

/* Sets the largest answer ch_query() takes from now on (0: the default); returns the old one. */
uint64_t ch_set_max_answer(struct ch_server *s, uint64_t max);

/*
 * Sends one INSERT ("INSERT INTO t (cols) FORMAT RowBinary") with its rows. Never retried:
 * whether rows of a failed INSERT were committed is unknown, so the caller decides.
 */
int ch_insert(struct ch_server *s, const char *sql, const void *rows, size_t len, char *err,
	      size_t errlen);

/* Makes transfers and backoff waits in progress stop with -ECANCELED (signal-safe). */
void ch_interrupt(void);

/* A database name this code accepts: 1-63 of [A-Za-z0-9_]. */
bool ch_valid_database(const char *db);

/* Whether an error is one that ch_query() retries (the server may come back). */
bool ch_transient(int err);

/*
 * Overwrites the password of a URL argument in place with 'x' (what ps shows), after the
 * caller has copied it. Returns whether there was one.
 */
bool ch_mask_password(char *url_arg);

#endif /* CONNREC_FLEET_CH_HTTP_H */
