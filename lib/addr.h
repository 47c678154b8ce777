/* SPDX-License-Identifier: MIT */
/*
 * Addresses, CIDR blocks and port lists: parsing what people type, matching stored
 * addresses, and formatting them.
 *
 * Stored addresses are 4 (IPv4) or 16 (IPv6) bytes in network order. A family-6 socket that
 * talks IPv4 stores the v4-mapped form ::ffff:a.b.c.d, so an IPv4 CIDR also matches those, and
 * an IPv6 CIDR inside ::ffff:0:0/96 also matches plain IPv4 addresses.
 */
#ifndef CONNREC_ADDR_H
#define CONNREC_ADDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Enough for any IPv6 text form, plus a NUL. */
#define ADDR_STRLEN 46

struct addr_cidr {
	uint8_t family;	  /* 4 or 6 */
	uint8_t prefix;	  /* 0..32 or 0..128 */
	uint8_t addr[16]; /* host bits are zero */
};

struct addr_port_range {
	uint16_t lo, hi; /* inclusive */
};

/* "10.0.0.1", "::1", "[::1]" -> family 4|6 and 4|16 bytes. Returns 0 or -EINVAL. */
int addr_parse(const char *s, uint8_t *family, uint8_t addr[16]);

/*
 * "10.0.0.0/8", "2001:db8::/32", or a single address (a /32 or /128). Host bits set in the
 * address are an error (-EINVAL), because "10.1.2.3/8" usually means a typo.
 */
int addr_parse_cidr(const char *s, struct addr_cidr *out);

/* A comma-separated CIDR list. *out is malloc()ed; free() it. Returns 0, -EINVAL, -ENOMEM. */
int addr_parse_cidr_list(const char *s, struct addr_cidr **out, size_t *n);

/* "53", "80,443", "8000-8100,53": ports 0..65535. *out is malloc()ed. */
int addr_parse_port_list(const char *s, struct addr_port_range **out, size_t *n);

/* Whether ADDR (len 4 or 16) lies in C, with the v4-mapped rule above. */
bool addr_cidr_match(const struct addr_cidr *c, const uint8_t *addr, size_t len);

/* The lowest and highest address of C, in C's own length (4 or 16 bytes). */
void addr_cidr_bounds(const struct addr_cidr *c, uint8_t lo[16], uint8_t hi[16]);

bool addr_port_match(const struct addr_port_range *r, size_t n, uint16_t port);

/*
 * Text form of a stored address: 4 bytes as dotted quad, 16 bytes as RFC 5952 IPv6 (v4-mapped
 * as ::ffff:a.b.c.d). Any other length prints as "?" (a damaged row must not stop a query).
 */
void addr_format(const uint8_t *addr, size_t len, char buf[ADDR_STRLEN]);

#endif /* CONNREC_ADDR_H */
