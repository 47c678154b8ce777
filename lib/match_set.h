/* SPDX-License-Identifier: MIT */
/*
 * Sets that a query matches stored values against, built once from the lists a user gave
 * (a few values on the command line, or an IOC list of 100,000 in a file) so that each test
 * costs the same whatever their length: ports as a bitmap, addresses as sorted disjoint
 * ranges (binary search), numbers sorted (binary search). The SQL prefilter and the C filter
 * both use them, so they keep exactly the same rows.
 */
#ifndef CONNREC_MATCH_SET_H
#define CONNREC_MATCH_SET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"

/* Ports: one bit each. */
struct port_set {
	uint64_t bits[65536 / 64];
};

/* Addresses: CIDR blocks as ranges of 16-byte addresses, IPv4 as ::ffff:a.b.c.d. */
struct addr_range {
	uint8_t lo[16], hi[16];
};

struct addr_set {
	struct addr_range *v;
	/* The range starts as two 64-bit numbers each (high word first), for the search. */
	uint64_t (*keys)[2];
	/*
	 * IOC lists are mostly IPv4: v4_first[t] is how many ranges start before ::ffff:t.0.0
	 * (t < 65536; [65536]: before the end of ::ffff:0:0/96), which narrows the search for an
	 * IPv4 address to the ranges that start in its /16.
	 */
	uint32_t *v4_first;
	size_t n;
};

/* Numbers (pids, uids, netns inodes, cgroup ids), sorted, without duplicates. */
struct num_set {
	uint64_t *v;
	size_t n;
};

/* A port set from ranges; *out is malloc()ed (free() it). 0 or -ENOMEM. */
int port_set_build(const struct addr_port_range *r, size_t n, struct port_set **out);

static inline bool port_set_has(const struct port_set *s, uint16_t port)
{
	return (s->bits[port / 64] >> (port % 64)) & 1;
}

/*
 * An address set from CIDR blocks (overlapping and adjacent blocks are merged). A stored
 * address matches exactly when addr_cidr_match() accepts it for some block: the v4-mapped
 * rule holds because both sides are compared in the 16-byte form. 0 or -ENOMEM.
 */
int addr_set_build(const struct addr_cidr *c, size_t n, struct addr_set *out);
/* ADDR is 4 or 16 bytes; any other length matches nothing. */
bool addr_set_has(const struct addr_set *s, const uint8_t *addr, size_t len);
void addr_set_free(struct addr_set *s);

/* 32-bit or 64-bit numbers (one of v32, v64 is given). 0 or -ENOMEM. */
int num_set_build(const uint32_t *v32, const uint64_t *v64, size_t n, struct num_set *out);
bool num_set_has(const struct num_set *s, uint64_t x);
void num_set_free(struct num_set *s);

/*
 * The sets of one filter; a member is NULL when its list is empty (no condition). Built by
 * sr_match_sets_build() (read/store_read.h) from the lists of a struct sr_conn_filter.
 */
struct match_sets {
	struct port_set *ports, *lports, *rports; /* either end, local end, remote end */
	struct addr_set *addrs;			  /* either end */
	struct num_set *pids, *uids, *netns, *cgroups;
};

void match_sets_free(struct match_sets *m);

#endif /* CONNREC_MATCH_SET_H */
