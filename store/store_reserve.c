// SPDX-License-Identifier: MIT
/*
 * The reserve: a preallocated file deleted on the first disk-full error, so that sealing
 * (which frees space once the raw file is gone) and the retention records can still be
 * written. Re-created only while free space is at least four times its size. reserve_release()
 * also runs on the sealing thread, hence the atomic flag.
 */
#include <fcntl.h>
#include <inttypes.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "fileio.h"
#include "log.h"
#include "store_internal.h"

void reserve_make(struct store *s)
{
	char path[PATH_MAX + 32];
	struct statvfs vfs;
	int fd;

	if (__atomic_load_n(&s->reserve_held, __ATOMIC_RELAXED) || statvfs(s->dir, &vfs))
		return;
	/* Only while there is clearly room: the reserve must never cause the disk-full. */
	if ((uint64_t)vfs.f_bavail * vfs.f_frsize < 4 * s->reserve_bytes)
		return;
	path_in(s, path, sizeof(path), SEG_RESERVE_NAME);
	fd = cr_open_private(path, O_WRONLY);
	if (fd < 0)
		return;
	if (posix_fallocate(fd, 0, (off_t)s->reserve_bytes) == 0)
		__atomic_store_n(&s->reserve_held, true, __ATOMIC_RELAXED);
	else
		unlink(path);
	close(fd);
}

void reserve_release(struct store *s)
{
	char path[PATH_MAX + 32];

	path_in(s, path, sizeof(path), SEG_RESERVE_NAME);
	if (unlink(path) == 0)
		cr_warn("store: disk full, released the %" PRIu64 "-byte reserve",
			s->reserve_bytes);
	__atomic_store_n(&s->reserve_held, false, __ATOMIC_RELAXED);
}
