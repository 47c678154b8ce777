/* SPDX-License-Identifier: MIT */
/*
 * cgroup_names: from a cgroup v2 id (what BPF sees) to its path, container and unit, for the
 * store's cgroup table. The store asks once per cgroup and segment and remembers the answer,
 * so a lookup here may cost a few system calls.
 */
#ifndef CONNREC_CGROUP_NAMES_H
#define CONNREC_CGROUP_NAMES_H

#include <stdint.h>

#include "store.h"

struct cgroup_names;

/* Finds the cgroup v2 root in mountinfo. -errno when there is none (lookups then say ""). */
int cgroup_names_open(struct cgroup_names **out);
void cgroup_names_close(struct cgroup_names *cn);

/* store_cgroup_fn: names cgroup ID; everything "" when it cannot be found (it may be gone). */
void cgroup_names_lookup(void *cn, uint64_t id, struct store_cgroup *out);

#endif /* CONNREC_CGROUP_NAMES_H */
