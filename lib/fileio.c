// SPDX-License-Identifier: MIT
#include "fileio.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

int cr_write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len) {
		ssize_t w = write(fd, p, len);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += w;
		len -= (size_t)w;
	}
	return 0;
}

int cr_open_regular(const char *path)
{
	struct stat before, st;
	int fd, flags;

	if (lstat(path, &before))
		return -errno;
	if (S_ISLNK(before.st_mode))
		return -ELOOP;
	if (!S_ISREG(before.st_mode))
		return -EINVAL;
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) || !S_ISREG(st.st_mode) || st.st_ino != before.st_ino ||
	    st.st_dev != before.st_dev) {
		close(fd);
		return -EINVAL;
	}
	/* Reads from a regular file never block anyway; clear the flag for plain semantics. */
	flags = fcntl(fd, F_GETFL);
	if (flags >= 0)
		fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
	return fd;
}

FILE *cr_fopen_regular(const char *path)
{
	int fd = cr_open_regular(path);
	FILE *f;

	if (fd < 0) {
		errno = -fd;
		return NULL;
	}
	f = fdopen(fd, "re");
	if (!f) {
		int e = errno;

		close(fd);
		errno = e;
	}
	return f;
}

const char *cr_open_strerror(int err)
{
	if (err == -ELOOP)
		return "a symbolic link (not followed)";
	if (err == -EINVAL)
		return "not a regular file";
	return strerror(err < 0 ? -err : err);
}

int cr_open_private(const char *path, int flags)
{
	struct stat st;
	/* O_NONBLOCK: a FIFO planted under the name must fail the open, not hang it. */
	int fd = open(path, flags | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, 0600);

	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		close(fd);
		return -EINVAL;
	}
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
	if ((st.st_mode & 07777) != 0600 && fchmod(fd, 0600)) {
		int err = -errno;

		close(fd);
		return err;
	}
	return fd;
}

long cr_flock_holder(const char *path)
{
	char line[256];
	struct stat st;
	long pid = 0;
	FILE *f;

	/* Not through a symlink: a copied dir must not borrow the lock of a live one. */
	if (lstat(path, &st) || !S_ISREG(st.st_mode))
		return 0;
	f = fopen("/proc/locks", "re");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		char type[16], mode[16], rw[16];
		unsigned maj, min;
		unsigned long ino;
		long p;

		if (sscanf(line, "%*[^:]: %15s %15s %15s %ld %x:%x:%lu", type, mode, rw, &p, &maj,
			   &min, &ino) != 7)
			continue;
		if (!strcmp(type, "FLOCK") && ino == st.st_ino && maj == major(st.st_dev) &&
		    min == minor(st.st_dev)) {
			pid = p;
			break;
		}
	}
	fclose(f);
	return pid;
}
