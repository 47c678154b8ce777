// SPDX-License-Identifier: MIT
/* A data dir seen from outside the writer: who holds the lock, and its segments on disk. */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fileio.h"
#include "segment.h"
#include "store.h"
#include "store_dir.h"

long store_lock_holder(const char *dir)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s", dir, STORE_LOCK_NAME);
	return cr_flock_holder(path);
}

static uint64_t dir_bytes(const char *dir)
{
	struct dirent *de;
	struct stat st;
	uint64_t total = 0;
	DIR *d = opendir(dir);

	if (!d)
		return 0;
	while ((de = readdir(d)))
		if (!fstatat(dirfd(d), de->d_name, &st, 0) && S_ISREG(st.st_mode))
			total += (uint64_t)st.st_blocks * 512;
	closedir(d);
	return total;
}

int store_dir_usage(const char *dir, struct store_dir_usage *u)
{
	struct seg_entry *segs = NULL;
	size_t n = 0;
	int err;

	memset(u, 0, sizeof(*u));
	err = seg_list(dir, &segs, &n);
	if (err)
		return err;
	for (size_t i = 0; i < n; i++) {
		if (segs[i].has_zst && !segs[i].has_raw)
			u->sealed++;
		else if (i + 1 < n)
			u->waiting++;
	}
	free(segs);
	u->segments = n;
	u->active = n > u->sealed + u->waiting;
	u->disk_bytes = dir_bytes(dir);
	return 0;
}
