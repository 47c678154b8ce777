// SPDX-License-Identifier: MIT
/*
 * A cgroup v2 id is the kernfs id of the cgroup's directory, and kernfs can open a directory
 * from a file handle that holds the id (FILEID_KERNFS, the handle name_to_handle_at() gives
 * for a cgroup directory): open_by_handle_at() on the root, then readlink of /proc/self/fd/N
 * gives the path. Where handles are refused, a walk of the hierarchy finds the directory
 * whose inode number is the id (on 64-bit kernels the two are the same).
 */
#include "cgroup_names.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cgname.h"
#include "cgroupfs.h"
#include "log.h"

#define FILEID_KERNFS 0xfe

struct cgroup_names {
	char root[1024];
	size_t root_len;
	int root_fd;
	bool no_handles; /* open_by_handle_at is refused here: walk instead */
};

int cgroup_names_open(struct cgroup_names **out)
{
	struct cgroup_names *cn = calloc(1, sizeof(*cn));
	int err;

	*out = NULL;
	if (!cn)
		return -ENOMEM;
	cn->root_fd = -1;
	err = cgroupfs_root(cn->root, sizeof(cn->root));
	if (!err) {
		cn->root_fd = open(cn->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (cn->root_fd < 0)
			err = -errno;
	}
	if (err) {
		cr_warn("cgroup v2 root not usable (%s): flows will name no container or unit",
			strerror(-err));
		free(cn);
		return err;
	}
	cn->root_len = strlen(cn->root);
	while (cn->root_len > 1 && cn->root[cn->root_len - 1] == '/')
		cn->root[--cn->root_len] = '\0';
	*out = cn;
	return 0;
}

void cgroup_names_close(struct cgroup_names *cn)
{
	if (!cn)
		return;
	if (cn->root_fd >= 0)
		close(cn->root_fd);
	free(cn);
}

/* An absolute path below the root into the root-relative form ("/" for the root itself). */
static bool below_root(const struct cgroup_names *cn, const char *abs, char *out, size_t len)
{
	const char *rest;

	if (strncmp(abs, cn->root, cn->root_len))
		return false;
	rest = abs + cn->root_len;
	if (cn->root_len == 1)
		rest = abs; /* mounted at "/" */
	if (*rest && *rest != '/')
		return false; /* a sibling such as "/sys/fs/cgroup2" */
	snprintf(out, len, "%s", *rest ? rest : "/");
	return true;
}

static int by_handle(struct cgroup_names *cn, uint64_t id, char *out, size_t len)
{
	struct {
		struct file_handle fh;
		uint64_t id;
	} h;
	char link[64], abs[PATH_MAX];
	ssize_t n;
	int fd;

	memset(&h, 0, sizeof(h));
	h.fh.handle_bytes = sizeof(uint64_t);
	h.fh.handle_type = FILEID_KERNFS;
	memcpy(h.fh.f_handle, &id, sizeof(id));
	fd = open_by_handle_at(cn->root_fd, &h.fh, O_RDONLY | O_PATH | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	n = readlink(link, abs, sizeof(abs) - 1);
	close(fd);
	if (n <= 0)
		return -ENOENT;
	abs[n] = '\0';
	return below_root(cn, abs, out, len) ? 0 : -ENOENT;
}

/* nftw has no context argument: the walk's target and result. */
static struct {
	uint64_t id;
	char path[PATH_MAX];
	bool found;
} walk;

static int walk_one(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)ftw;
	if (type != FTW_D || (uint64_t)st->st_ino != walk.id)
		return 0;
	snprintf(walk.path, sizeof(walk.path), "%s", path);
	walk.found = true;
	return 1;
}

static int by_walk(struct cgroup_names *cn, uint64_t id, char *out, size_t len)
{
	walk.id = id;
	walk.found = false;
	nftw(cn->root, walk_one, 32, FTW_PHYS | FTW_MOUNT);
	if (!walk.found)
		return -ENOENT;
	return below_root(cn, walk.path, out, len) ? 0 : -ENOENT;
}

void cgroup_names_lookup(void *ctx, uint64_t id, struct store_cgroup *out)
{
	struct cgroup_names *cn = ctx;
	int err = -ENOENT;

	memset(out, 0, sizeof(*out));
	if (!cn)
		return;
	if (!cn->no_handles) {
		err = by_handle(cn, id, out->path, sizeof(out->path));
		if (err == -EOPNOTSUPP || err == -EINVAL || err == -EPERM || err == -ENOSYS) {
			cr_debug("cgroup ids cannot be opened here (%s); walking the hierarchy",
				 strerror(-err));
			cn->no_handles = true;
		}
	}
	if (cn->no_handles)
		err = by_walk(cn, id, out->path, sizeof(out->path));
	if (err) {
		/* Gone already (a short-lived container), or never a directory we can see. */
		cr_debug("cgroup %" PRIu64 " not found: %s", id, strerror(-err));
		out->path[0] = '\0';
		return;
	}
	cgname_container(out->path, out->container, sizeof(out->container));
	cgname_unit(out->path, out->unit, sizeof(out->unit));
}
