/* SPDX-License-Identifier: MIT */
/*
 * Anchor lines: one syslog datagram per event that should also exist off this host (the
 * store's checkpoints and seals, the recorder's tamper events), so that a log forwarded
 * elsewhere keeps the chain heads even when the data dir is cut or rewritten later.
 *
 * A line's body (what `connrec verify --heads` parses, wherever a syslog put it) is
 *
 *     connrec-anchor v=1 store=STOREID kind=KIND FIELDS
 *
 * FIELDS are space-separated key=value pairs; only the last field may be `msg=` with free text
 * running to the end of the line. Bytes outside printable ASCII are written as \xHH. The
 * datagram is framed as glibc's syslog(3) frames it for /dev/log (RFC 3164, no hostname):
 * `<PRI>Mmm dd hh:mm:ss connrec[PID]: BODY`. docs/store.md ("Anchor lines") has the kinds.
 *
 * Sending never blocks and never fails the caller's work: a datagram the socket does not take
 * (no syslog daemon, a full buffer) is counted and reported once per failing stretch.
 * All functions are safe to call from several threads, and on a NULL anchor (they do nothing).
 */
#ifndef CONNREC_ANCHOR_H
#define CONNREC_ANCHOR_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#define ANCHOR_DEFAULT_SOCKET "/dev/log"
#define ANCHOR_TAG "connrec"
#define ANCHOR_MARK "connrec-anchor"
#define ANCHOR_VERSION 1
/* Longest body; RFC 3164 relays may cut datagrams beyond 1024 bytes, header included. */
#define ANCHOR_LINE_MAX 900
/* A store id is 32 lowercase hex digits (meta store_id). */
#define ANCHOR_STORE_ID_LEN 32

/* Syslog facilities by name (RFC 5424 numbers): "auth" is the default. */
#define ANCHOR_DEFAULT_FACILITY 4 /* auth */

struct anchor_opts {
	const char *socket_path; /* NULL: ANCHOR_DEFAULT_SOCKET */
	int facility;		 /* 0..23; see anchor_facility() */
};

struct anchor_stats {
	uint64_t sent, failed;
	int last_err; /* -errno of the last failed send, 0 when the last send worked */
};

struct anchor;

/* A datagram socket towards opts->socket_path. -ENAMETOOLONG, -EINVAL or -errno. */
int anchor_open(struct anchor **out, const struct anchor_opts *opts);
void anchor_close(struct anchor *a);

/* The store whose events follow: every line names it (32 hex digits). */
void anchor_set_store(struct anchor *a, const char *store_id);

/*
 * Formats "connrec-anchor v=1 store=ID kind=KIND " + FMT into BUF (escaping non-printable
 * bytes of the formatted fields). Returns the length, or -ENOSPC when it does not fit.
 */
int anchor_vformat(char *buf, size_t len, const char *store_id, const char *kind,
		   const char *fmt, va_list ap) __attribute__((format(printf, 5, 0)));
int anchor_format(char *buf, size_t len, const char *store_id, const char *kind,
		  const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* Sends one event of KIND with FIELDS for the current store. 0 or -errno (also counted). */
int anchor_emit(struct anchor *a, const char *kind, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Sends a body already formatted by anchor_format() (e.g. one that carries a MAC). */
int anchor_send(struct anchor *a, const char *body);

struct anchor_stats anchor_get_stats(struct anchor *a);

/* "auth", "daemon", "local0".."local7", ...: the facility number, or -EINVAL. */
int anchor_facility(const char *name);

#endif /* CONNREC_ANCHOR_H */
