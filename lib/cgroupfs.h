/* SPDX-License-Identifier: MIT */
/* Where the cgroup v2 hierarchy is mounted (read from mountinfo, never assumed). */
#ifndef CONNREC_CGROUPFS_H
#define CONNREC_CGROUPFS_H

#include <stddef.h>

/* The mount point of the cgroup v2 root into PATH. Returns 0, -ENOENT when none, or -errno. */
int cgroupfs_root(char *path, size_t len);

#endif /* CONNREC_CGROUPFS_H */
