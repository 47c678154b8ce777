/* SPDX-License-Identifier: MIT */
/* Small file helpers shared by the store's writer and reader. */
#ifndef CONNREC_FILEIO_H
#define CONNREC_FILEIO_H

#include <stddef.h>

/* Write all of buf, retrying short writes and EINTR. Returns 0 or -errno. */
int cr_write_all(int fd, const void *buf, size_t len);

#endif /* CONNREC_FILEIO_H */
