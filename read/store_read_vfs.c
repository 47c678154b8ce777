// SPDX-License-Identifier: MIT
/*
 * A read-only SQLite VFS that serves a seekable sealed segment's pages straight from its
 * frames (store_read_zseek.c): no private copy, nothing written anywhere. It opens only the
 * main database of a connection, from the sr_zseek handed over by sr_vfs_open(); journals,
 * WALs and temp files are refused (the connection is immutable=1 and query_only). Everything
 * else (time, randomness, sleep) comes from the default VFS.
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "store_read_internal.h"

#define SR_VFS_NAME "connrec-seekable"

struct vfs_file {
	sqlite3_file base;
	struct sr_zseek *z; /* owned: freed by xClose */
};

/* The sr_zseek the next xOpen of this thread takes (see sr_vfs_open). */
static __thread struct sr_zseek *handoff;

static int f_close(sqlite3_file *f)
{
	struct vfs_file *vf = (struct vfs_file *)f;

	sr_zseek_close(vf->z);
	vf->z = NULL;
	return SQLITE_OK;
}

static int f_read(sqlite3_file *f, void *buf, int n, sqlite3_int64 off)
{
	struct vfs_file *vf = (struct vfs_file *)f;
	int r;

	if (n < 0 || off < 0)
		return SQLITE_IOERR_READ;
	r = sr_zseek_read(vf->z, buf, (size_t)n, (uint64_t)off);
	if (r == 1)
		return SQLITE_IOERR_SHORT_READ;
	if (r == -ENOMEM)
		return SQLITE_IOERR_NOMEM;
	return r ? SQLITE_IOERR_READ : SQLITE_OK;
}

static int f_write(sqlite3_file *f, const void *buf, int n, sqlite3_int64 off)
{
	(void)f, (void)buf, (void)n, (void)off;
	return SQLITE_READONLY;
}

static int f_truncate(sqlite3_file *f, sqlite3_int64 size)
{
	(void)f, (void)size;
	return SQLITE_READONLY;
}

static int f_sync(sqlite3_file *f, int flags)
{
	(void)f, (void)flags;
	return SQLITE_OK;
}

static int f_size(sqlite3_file *f, sqlite3_int64 *size)
{
	*size = (sqlite3_int64)sr_zseek_size(((struct vfs_file *)f)->z);
	return SQLITE_OK;
}

/* Nobody writes a sealed segment through us, so no lock is ever needed. */
static int f_lock(sqlite3_file *f, int level)
{
	(void)f, (void)level;
	return SQLITE_OK;
}

static int f_reserved(sqlite3_file *f, int *out)
{
	(void)f;
	*out = 0;
	return SQLITE_OK;
}

static int f_control(sqlite3_file *f, int op, void *arg)
{
	(void)f, (void)op, (void)arg;
	return SQLITE_NOTFOUND;
}

static int f_sector(sqlite3_file *f)
{
	(void)f;
	return 4096;
}

static int f_caps(sqlite3_file *f)
{
	(void)f;
	return SQLITE_IOCAP_IMMUTABLE;
}

static const sqlite3_io_methods io_methods = {
	.iVersion = 1,
	.xClose = f_close,
	.xRead = f_read,
	.xWrite = f_write,
	.xTruncate = f_truncate,
	.xSync = f_sync,
	.xFileSize = f_size,
	.xLock = f_lock,
	.xUnlock = f_lock,
	.xCheckReservedLock = f_reserved,
	.xFileControl = f_control,
	.xSectorSize = f_sector,
	.xDeviceCharacteristics = f_caps,
};

static int v_open(sqlite3_vfs *vfs, const char *name, sqlite3_file *f, int flags, int *out_flags)
{
	struct vfs_file *vf = (struct vfs_file *)f;

	(void)vfs, (void)name;
	f->pMethods = NULL; /* SQLite calls no xClose on a failed open */
	if (!(flags & SQLITE_OPEN_MAIN_DB) || !(flags & SQLITE_OPEN_READONLY) || !handoff)
		return SQLITE_CANTOPEN;
	vf->z = handoff;
	handoff = NULL;
	f->pMethods = &io_methods;
	if (out_flags)
		*out_flags = SQLITE_OPEN_READONLY;
	return SQLITE_OK;
}

static int v_delete(sqlite3_vfs *vfs, const char *name, int sync_dir)
{
	(void)vfs, (void)name, (void)sync_dir;
	return SQLITE_IOERR_DELETE;
}

/* No journal, WAL or other file exists beside a segment read this way. */
static int v_access(sqlite3_vfs *vfs, const char *name, int flags, int *out)
{
	(void)vfs, (void)name, (void)flags;
	*out = 0;
	return SQLITE_OK;
}

static int v_fullpath(sqlite3_vfs *vfs, const char *name, int n, char *out)
{
	size_t len = strlen(name);

	(void)vfs;
	if (n <= 0 || len >= (size_t)n)
		return SQLITE_CANTOPEN;
	memcpy(out, name, len + 1);
	return SQLITE_OK;
}

static void *v_dlopen(sqlite3_vfs *vfs, const char *name)
{
	(void)vfs, (void)name;
	return NULL;
}

static void v_dlerror(sqlite3_vfs *vfs, int n, char *out)
{
	(void)vfs;
	if (n > 0)
		snprintf(out, (size_t)n, "extensions are not loaded from evidence");
}

static void (*v_dlsym(sqlite3_vfs *vfs, void *h, const char *sym))(void)
{
	(void)vfs, (void)h, (void)sym;
	return NULL;
}

static void v_dlclose(sqlite3_vfs *vfs, void *h)
{
	(void)vfs, (void)h;
}

static sqlite3_vfs *base_vfs(void)
{
	return sqlite3_vfs_find(NULL);
}

static int v_random(sqlite3_vfs *vfs, int n, char *out)
{
	(void)vfs;
	return base_vfs()->xRandomness(base_vfs(), n, out);
}

static int v_sleep(sqlite3_vfs *vfs, int us)
{
	(void)vfs;
	return base_vfs()->xSleep(base_vfs(), us);
}

static int v_time(sqlite3_vfs *vfs, double *out)
{
	(void)vfs;
	return base_vfs()->xCurrentTime(base_vfs(), out);
}

static int v_last_error(sqlite3_vfs *vfs, int n, char *out)
{
	(void)vfs, (void)n, (void)out;
	return 0;
}

static sqlite3_vfs seekable_vfs = {
	.iVersion = 1,
	.szOsFile = sizeof(struct vfs_file),
	.mxPathname = PATH_MAX,
	.zName = SR_VFS_NAME,
	.xOpen = v_open,
	.xDelete = v_delete,
	.xAccess = v_access,
	.xFullPathname = v_fullpath,
	.xDlOpen = v_dlopen,
	.xDlError = v_dlerror,
	.xDlSym = v_dlsym,
	.xDlClose = v_dlclose,
	.xRandomness = v_random,
	.xSleep = v_sleep,
	.xCurrentTime = v_time,
	.xGetLastError = v_last_error,
};

static int register_rc = SQLITE_ERROR;

static void register_vfs(void)
{
	register_rc = sqlite3_vfs_register(&seekable_vfs, 0);
}

int sr_vfs_open(const char *uri, struct sr_zseek **z, sqlite3 **db)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	int flags = SQLITE_OPEN_READONLY | SQLITE_OPEN_URI | SQLITE_OPEN_NOMUTEX, rc;

	*db = NULL;
	pthread_once(&once, register_vfs);
	if (register_rc != SQLITE_OK)
		return -EIO;
	handoff = *z;
	rc = sqlite3_open_v2(uri, db, flags, SR_VFS_NAME);
	if (!handoff)
		*z = NULL; /* the connection owns it now */
	handoff = NULL;
	return rc == SQLITE_OK ? 0 : -EBADMSG;
}
