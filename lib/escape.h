/* SPDX-License-Identifier: MIT */
/*
 * Text that came from a file (a process name, a gap reason, a table name in an error) is
 * untrusted when it reaches a terminal: it could hold escape sequences or a newline that
 * starts a forged line of its own. Every printer of such text uses this one rule.
 */
#ifndef CONNREC_ESCAPE_H
#define CONNREC_ESCAPE_H

#include <stddef.h>

/*
 * Copies s (NULL is "") into out, len bytes, always NUL-terminated, writing every byte that is
 * not printable ASCII, and the backslash, as \xNN (Zeek's own convention). Truncates before an
 * escape that would not fit whole. Returns out.
 */
char *cr_escape(const char *s, char *out, size_t len);

#endif /* CONNREC_ESCAPE_H */
