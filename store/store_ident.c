// SPDX-License-Identifier: MIT
/*
 * The store's id: 32 random hex digits made when a data dir is first used, kept in meta
 * store_id of every segment and in DIR/connrec.id (for when no segment can be read cheaply).
 * Anchor lines carry it, so `verify --heads` can pick this store's lines out of a syslog that
 * many hosts and stores write to.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "fileio.h"
#include "log.h"
#include "store_internal.h"

bool store_id_valid(const char *id)
{
	if (strlen(id) != STORE_ID_LEN)
		return false;
	for (const char *p = id; *p; p++)
		if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
			return false;
	return true;
}

static int read_id_file(const char *path, char *id)
{
	char buf[STORE_ID_LEN + 2];
	ssize_t n;
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n < 0)
		return -EIO;
	buf[n] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	if (!store_id_valid(buf))
		return -EBADMSG;
	memcpy(id, buf, STORE_ID_LEN + 1);
	return 0;
}

/* DIR/connrec.id, replaced whole: a temp file of our own, then rename. */
static int write_id_file(struct store *s)
{
	char path[PATH_MAX + 32], tmp[PATH_MAX + 32], line[STORE_ID_LEN + 2];
	int fd, err;

	path_in(s, path, sizeof(path), STORE_ID_NAME);
	path_in(s, tmp, sizeof(tmp), STORE_ID_NAME ".tmp");
	unlink(tmp);
	fd = cr_open_private(tmp, O_WRONLY | O_EXCL); /* 0600 whatever the umask */
	if (fd < 0)
		return fd;
	snprintf(line, sizeof(line), "%s\n", s->store_id);
	err = cr_write_all(fd, line, strlen(line));
	if (!err && fsync(fd))
		err = -errno;
	if (close(fd) && !err)
		err = -errno;
	if (!err && rename(tmp, path))
		err = -errno;
	if (err)
		unlink(tmp);
	return err;
}

int store_ident_init(struct store *s)
{
	char path[PATH_MAX + 32], file_id[STORE_ID_LEN + 1] = "", val[80];
	bool in_segment = false;
	unsigned char rnd[STORE_ID_LEN / 2];

	path_in(s, path, sizeof(path), STORE_ID_NAME);
	read_id_file(path, file_id);
	if (s->w && !seg_meta_get(s->w->db, "store_id", val, sizeof(val)) && store_id_valid(val)) {
		/* The segments are the evidence: their id wins over the file's. */
		memcpy(s->store_id, val, STORE_ID_LEN + 1);
		in_segment = true;
	} else if (file_id[0]) {
		memcpy(s->store_id, file_id, STORE_ID_LEN + 1);
	} else {
		if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
			return -EIO;
		seg_hex(rnd, sizeof(rnd), s->store_id);
	}
	if (s->w && !in_segment && queue_meta(s, "store_id", s->store_id))
		return -ENOMEM;
	if (strcmp(file_id, s->store_id)) {
		int err = write_id_file(s);

		if (err)
			cr_warn("store: cannot write %s: %s", path, strerror(-err));
	}
	return 0;
}
