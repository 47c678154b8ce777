/* SPDX-License-Identifier: MIT */
/* Small file helpers shared by the store's writer and reader. */
#ifndef CONNREC_FILEIO_H
#define CONNREC_FILEIO_H

#include <stddef.h>
#include <stdio.h>

/* Write all of buf, retrying short writes and EINTR. Returns 0 or -errno. */
int cr_write_all(int fd, const void *buf, size_t len);

/*
 * Opens path read-only if, and only if, it is a regular file: a symlink in its last component
 * is not followed (-ELOOP), and a FIFO, a device, a socket or a directory is refused
 * (-EINVAL) before anything reads from it, so no file can make a reader hang on a FIFO or
 * read /dev/zero forever. The type is checked with lstat() first, so a device node is never
 * even opened (opening some has side effects), then again with fstat() on what was opened
 * (O_NOFOLLOW | O_NONBLOCK) in case it was swapped. Returns the fd (O_CLOEXEC) or -errno.
 */
int cr_open_regular(const char *path);
/* The same as a stdio stream ("re"); NULL with errno set. */
FILE *cr_fopen_regular(const char *path);
/* A message for an error of cr_open_regular(): says "not a regular file" and "symbolic link". */
const char *cr_open_strerror(int err);

/*
 * Opens a file the recorder writes (creating it if needed): never through a symbolic link in
 * its last component (-ELOOP), only a regular file (-EINVAL), and made 0600 whatever the
 * umask or its earlier mode, since connection history is sensitive. flags is O_RDWR or
 * O_WRONLY plus O_APPEND, O_TRUNC or O_EXCL (for temporary names); O_CREAT, O_NOFOLLOW and
 * O_CLOEXEC are added. Returns the fd or -errno. A symlink planted in the data dir under one
 * of the recorder's names can thus never make it write, truncate or extend the link's target.
 */
int cr_open_private(const char *path, int flags);

/*
 * The pid holding a flock() on path, looked up in /proc/locks; 0 when nobody holds one or
 * path is not a regular file (a symlink is not followed), -errno when /proc/locks cannot be
 * read. Looking instead of trying the lock ourselves never makes the holder-to-be (a
 * starting recorder) fail.
 */
long cr_flock_holder(const char *path);

#endif /* CONNREC_FILEIO_H */
