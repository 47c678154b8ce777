// SPDX-License-Identifier: MIT
#include "cgroupfs.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

int cgroupfs_root(char *path, size_t len)
{
	FILE *f = fopen("/proc/self/mountinfo", "re");
	char line[4096];
	int err = -ENOENT;

	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		char mnt[1024], fstype[64];
		char *sep = strstr(line, " - ");

		if (!sep || sscanf(sep, " - %63s", fstype) != 1 || strcmp(fstype, "cgroup2"))
			continue;
		if (sscanf(line, "%*s %*s %*s %*s %1023s", mnt) != 1)
			continue;
		if (strlen(mnt) >= len)
			continue;
		strcpy(path, mnt);
		err = 0;
		break;
	}
	fclose(f);
	return err;
}
