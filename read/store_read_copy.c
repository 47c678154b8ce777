// SPDX-License-Identifier: MIT
/*
 * Where the evidence reader opens a segment from. SQLite must never write beside evidence, so
 * a file that cannot be read in place with immutable=1 (a .zst, or a .db with a -wal) is first
 * copied or decompressed into a private 0700 temp dir; see store_read.h.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

#include "fileio.h"
#include "log.h"
#include "store_read_internal.h"

/* ---- Private temp dirs ---- */

/*
 * The temp dirs in use, for sr_cleanup_on_signal(): fixed storage, because a signal handler
 * may neither allocate nor walk a list that is being changed.
 */
#define SR_MAX_TMPDIRS 64
static char live_tmpdirs[SR_MAX_TMPDIRS][PATH_MAX];

static void track_tmpdir(const char *dir, bool add)
{
	for (int i = 0; i < SR_MAX_TMPDIRS; i++) {
		if (add && !live_tmpdirs[i][0]) {
			snprintf(live_tmpdirs[i], PATH_MAX, "%s", dir);
			return;
		}
		if (!add && !strcmp(live_tmpdirs[i], dir)) {
			live_tmpdirs[i][0] = '\0';
			return;
		}
	}
}

void sr_cleanup_on_signal(void)
{
	/* Only unlink() and rmdir() here: both are async-signal-safe; the names are ours. */
	static const char *const names[] = { "segment.db", "segment.db-wal", "segment.db-shm",
					     "segment.db-journal" };
	char p[PATH_MAX + 32];

	for (int i = 0; i < SR_MAX_TMPDIRS; i++) {
		size_t n = strnlen(live_tmpdirs[i], PATH_MAX);

		if (!n || n >= PATH_MAX)
			continue;
		for (size_t k = 0; k < sizeof(names) / sizeof(names[0]); k++) {
			size_t m = strlen(names[k]);

			memcpy(p, live_tmpdirs[i], n);
			p[n] = '/';
			memcpy(p + n + 1, names[k], m + 1);
			unlink(p);
		}
		rmdir(live_tmpdirs[i]);
	}
}

static int make_tmpdir(const struct sr_open_opts *o, char out[PATH_MAX])
{
	const char *base = o->tmpdir;

	if (!base || !*base)
		base = getenv("TMPDIR");
	if (!base || !*base)
		base = "/tmp";
	if (snprintf(out, PATH_MAX, "%s/connrec-read.XXXXXX", base) >= PATH_MAX)
		return -ENAMETOOLONG;
	/* mkdtemp creates the directory 0700: only we can see the decompressed evidence. */
	if (!mkdtemp(out)) {
		out[0] = '\0';
		return -errno;
	}
	track_tmpdir(out, true);
	return 0;
}

void sr_remove_tmpdir(const char *dir)
{
	DIR *d;
	struct dirent *de;
	char p[PATH_MAX];

	if (!dir[0])
		return;
	track_tmpdir(dir, false);
	d = opendir(dir);
	if (d) {
		while ((de = readdir(d))) {
			if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
				continue;
			if (snprintf(p, sizeof(p), "%s/%s", dir, de->d_name) < (int)sizeof(p))
				unlink(p);
		}
		closedir(d);
	}
	rmdir(dir);
}

/* ---- Copies ---- */

/* Copies src to dst (created 0600, must not exist), refusing more than cap bytes. */
static int copy_file(const char *src, const char *dst, uint64_t cap)
{
	char buf[1 << 16];
	uint64_t total = 0;
	int in, out = -1, err = 0;
	ssize_t r;

	in = cr_open_regular(src);
	if (in < 0)
		return in;
	out = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (out < 0) {
		err = -errno;
		goto cleanup;
	}
	while ((r = read(in, buf, sizeof(buf))) != 0) {
		if (r < 0) {
			if (errno == EINTR)
				continue;
			err = -errno;
			goto cleanup;
		}
		total += (uint64_t)r;
		if (total > cap) {
			err = -EFBIG;
			goto cleanup;
		}
		err = cr_write_all(out, buf, (size_t)r);
		if (err)
			goto cleanup;
	}
cleanup:
	close(in);
	if (out >= 0 && close(out) && !err)
		err = -errno;
	return err;
}

/*
 * Streams a zstd file into dst. Stops with -EFBIG past cap: a small hostile .zst can claim
 * (or really hold) terabytes, and the frame header's content size is not to be trusted.
 */
static int unzstd_file(const char *src, const char *dst, uint64_t cap, char *errbuf, size_t errlen)
{
	size_t in_cap = ZSTD_DStreamInSize(), out_cap = ZSTD_DStreamOutSize();
	void *inb = malloc(in_cap), *outb = malloc(out_cap);
	ZSTD_DCtx *dctx = ZSTD_createDCtx();
	uint64_t total = 0;
	size_t last = 0;
	bool any = false;
	int in = -1, out = -1, err = 0;
	ssize_t r;

	if (!inb || !outb || !dctx) {
		err = -ENOMEM;
		goto cleanup;
	}
	/* Bounds the window a frame may ask for, so a header cannot make us allocate GBs. */
	ZSTD_DCtx_setParameter(dctx, ZSTD_d_windowLogMax, 27);
	in = cr_open_regular(src);
	if (in < 0) {
		err = in;
		sr_set_err(errbuf, errlen, "%s", cr_open_strerror(err));
		goto cleanup;
	}
	out = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (out < 0) {
		err = -errno;
		sr_set_err(errbuf, errlen, "cannot create temp file: %s", strerror(errno));
		goto cleanup;
	}
	while ((r = read(in, inb, in_cap)) != 0) {
		ZSTD_inBuffer ib = { inb, 0, 0 };

		if (r < 0) {
			if (errno == EINTR)
				continue;
			err = -errno;
			sr_set_err(errbuf, errlen, "%s", strerror(errno));
			goto cleanup;
		}
		ib.size = (size_t)r;
		any = true;
		while (ib.pos < ib.size) {
			ZSTD_outBuffer ob = { outb, out_cap, 0 };

			last = ZSTD_decompressStream(dctx, &ob, &ib);
			if (ZSTD_isError(last)) {
				err = -EBADMSG;
				sr_set_err(errbuf, errlen, "not a valid zstd file: %s",
					   ZSTD_getErrorName(last));
				goto cleanup;
			}
			total += ob.pos;
			if (total > cap) {
				err = -EFBIG;
				sr_set_err(errbuf, errlen,
					   "decompresses to more than %" PRIu64 " bytes (the cap)",
					   cap);
				goto cleanup;
			}
			err = cr_write_all(out, outb, ob.pos);
			if (err) {
				sr_set_err(errbuf, errlen, "writing temp file: %s", strerror(-err));
				goto cleanup;
			}
		}
	}
	/* Flush what the decoder still holds for the last frame. */
	while (any && last != 0) {
		ZSTD_inBuffer ib = { inb, 0, 0 };
		ZSTD_outBuffer ob = { outb, out_cap, 0 };

		last = ZSTD_decompressStream(dctx, &ob, &ib);
		if (ZSTD_isError(last) || ob.pos == 0)
			break;
		total += ob.pos;
		if (total > cap) {
			err = -EFBIG;
			sr_set_err(errbuf, errlen,
				   "decompresses to more than %" PRIu64 " bytes (the cap)", cap);
			goto cleanup;
		}
		err = cr_write_all(out, outb, ob.pos);
		if (err)
			goto cleanup;
	}
	if (!any || last != 0) {
		err = -EBADMSG;
		sr_set_err(errbuf, errlen, "truncated zstd file");
	}
cleanup:
	if (in >= 0)
		close(in);
	if (out >= 0 && close(out) && !err)
		err = -errno;
	ZSTD_freeDCtx(dctx);
	free(inb);
	free(outb);
	return err;
}

/* ---- Staging ---- */

static bool exists(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0;
}

/* A new private temp dir, with the message on error. */
static int private_dir(const struct sr_open_opts *o, char tmpdir[PATH_MAX], char *errbuf,
		       size_t errlen)
{
	int err = make_tmpdir(o, tmpdir);

	if (err)
		sr_set_err(errbuf, errlen, "cannot make a private temp dir: %s", strerror(-err));
	return err;
}

/* A .zst is decompressed into a private temp dir, refusing more than cap bytes. */
static int stage_zst(const char *path, const struct sr_open_opts *o, uint64_t cap,
		     char tmpdir[PATH_MAX], struct sr_source *src, char *errbuf, size_t errlen)
{
	bool ok;
	int err = sr_check_magic(path, "\x28\xb5\x2f\xfd", 4, &ok);

	if (err)
		sr_set_err(errbuf, errlen, "cannot read: %s", cr_open_strerror(err));
	if (!err && !ok) {
		err = -EBADMSG;
		sr_set_err(errbuf, errlen, "not a zstd-compressed segment (bad magic)");
	}
	if (!err)
		err = private_dir(o, tmpdir, errbuf, errlen);
	if (err)
		return err;
	snprintf(src->work, sizeof(src->work), "%s/segment.db", tmpdir);
	err = unzstd_file(path, src->work, cap, errbuf, errlen);
	if (err)
		return err;
	src->file = src->work;
	return 0;
}

/*
 * A plain .db is read in place, unless a -wal beside it needs a copy. A hot -journal (a
 * rollback journal left by a writer that died mid-transaction) is ignored with a warning:
 * rolling it back means writing, and a crafted journal naming a "super-journal" makes SQLite
 * delete that file, anywhere. immutable=1 never looks at the journal.
 */
static int stage_db(const char *path, const struct sr_open_opts *o, uint64_t cap,
		    char tmpdir[PATH_MAX], struct sr_source *src, char *errbuf, size_t errlen)
{
	char side[PATH_MAX + 16], dst[PATH_MAX + 32];
	bool wal, shm;
	int err;

	snprintf(side, sizeof(side), "%s-wal", path);
	wal = exists(side);
	snprintf(side, sizeof(side), "%s-shm", path);
	shm = exists(side);
	if (wal && shm && (o->flags & SR_OPEN_LIVE)) {
		/*
		 * The active segment of a running recorder (it holds the lock): read it as any
		 * WAL reader does, so committed rows still in the WAL are seen. The -shm exists.
		 */
		cr_debug("%s: the live active segment, read in place", path);
		src->params = "";
		return 0;
	}
	snprintf(side, sizeof(side), "%s-journal", path);
	if (!wal && exists(side))
		cr_warn("%s-journal: a rollback journal (an interrupted write) is ignored, not rolled "
			"back; the file is read as it is",
			path);
	if (!wal)
		return 0;
	/*
	 * immutable=1 would ignore the -wal (committed rows vanish); a plain open would create
	 * files beside the evidence. So read a private copy, -wal included.
	 */
	err = private_dir(o, tmpdir, errbuf, errlen);
	if (err)
		return err;
	snprintf(src->work, sizeof(src->work), "%s/segment.db", tmpdir);
	snprintf(side, sizeof(side), "%s-wal", path);
	snprintf(dst, sizeof(dst), "%s-wal", src->work);
	err = copy_file(path, src->work, cap);
	if (!err)
		err = copy_file(side, dst, cap);
	if (err) {
		sr_set_err(errbuf, errlen, "cannot copy into a private temp dir: %s",
			   cr_open_strerror(err));
		return err;
	}
	src->file = src->work;
	src->params = "";
	return 0;
}

int sr_stage(const char *path, const struct sr_open_opts *o, char tmpdir[PATH_MAX],
	     struct sr_source *src, char *errbuf, size_t errlen)
{
	uint64_t cap = o->max_unpacked ? o->max_unpacked : SR_DEFAULT_MAX_UNPACKED;
	size_t plen = strlen(path);

	src->file = path;
	src->params = "immutable=1";
	if (plen > 4 && !strcmp(path + plen - 4, ".zst"))
		return stage_zst(path, o, cap, tmpdir, src, errbuf, errlen);
	return stage_db(path, o, cap, tmpdir, src, errbuf, errlen);
}
