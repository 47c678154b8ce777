// SPDX-License-Identifier: MIT
/*
 * Where the evidence reader opens a segment from. SQLite must never write beside evidence, so
 * a file that cannot be read in place with immutable=1 (a .zst, or a .db with a -wal) is first
 * copied or decompressed into a private temp dir; see store_read.h.
 *
 * Every private copy of this process lives in one 0700 dir ($TMPDIR/connrec-read.XXXXXX,
 * made with the first copy and removed with the last), as c<N>.db plus the -wal/-shm SQLite
 * keeps beside it. Copies are counted against one cap on their total size (--max-unpacked),
 * and removed as soon as their segment is closed; a fatal signal removes them all.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>
#include <zstd.h>

#include "fileio.h"
#include "log.h"
#include "store_read_internal.h"

/* ---- The private temp dir and its budget ---- */

/* What SQLite may create beside a copy; all are removed with it. */
static const char *const copy_sfx[] = { "", "-wal", "-shm", "-journal" };

static struct {
	char dir[PATH_MAX];	     /* "" while no copy exists */
	volatile sig_atomic_t ready; /* dir is complete, for the signal handler */
	volatile sig_atomic_t next;  /* copies c0..c<next-1> were handed out */
	size_t live;		     /* copies that exist now */
	uint64_t bytes;		     /* their total size */
	uint64_t default_cap;	     /* 0 until computed */
} temp;

/* The default cap: half the free space where the copies go, and at most 16 GiB. */
static uint64_t default_cap(const char *base)
{
	struct statvfs sv;
	uint64_t half;

	if (temp.default_cap)
		return temp.default_cap;
	temp.default_cap = SR_DEFAULT_MAX_UNPACKED;
	if (!statvfs(base, &sv)) {
		half = (uint64_t)sv.f_bavail * sv.f_frsize / 2;
		if (half < temp.default_cap)
			temp.default_cap = half ? half : 1;
	}
	return temp.default_cap;
}

static const char *temp_base(const struct sr_open_opts *o)
{
	const char *base = o->tmpdir;

	if (!base || !*base)
		base = getenv("TMPDIR");
	if (!base || !*base)
		base = "/tmp";
	return base;
}

/* "<dir>/c<k>.db<sfx>" without stdio, for the signal handler as well. */
static void copy_name(char *out, size_t len, unsigned long k, const char *sfx)
{
	char digits[24];
	size_t n = strnlen(temp.dir, PATH_MAX), d = 0, m = strlen(sfx);

	do {
		digits[d++] = (char)('0' + k % 10);
		k /= 10;
	} while (k);
	if (n + 6 + d + m >= len) {
		out[0] = '\0';
		return;
	}
	memcpy(out, temp.dir, n);
	out[n++] = '/';
	out[n++] = 'c';
	while (d)
		out[n++] = digits[--d];
	memcpy(out + n, ".db", 3);
	memcpy(out + n + 3, sfx, m + 1);
}

void sr_cleanup_on_signal(void)
{
	char p[PATH_MAX + 48];

	/* Only unlink() and rmdir() on names we made: both are async-signal-safe. */
	if (!temp.ready)
		return;
	for (long k = 0; k < (long)temp.next; k++) {
		for (size_t i = 0; i < sizeof(copy_sfx) / sizeof(copy_sfx[0]); i++) {
			copy_name(p, sizeof(p), (unsigned long)k, copy_sfx[i]);
			if (p[0])
				unlink(p);
		}
	}
	rmdir(temp.dir);
}

static void on_fatal_signal(int sig)
{
	sr_cleanup_on_signal();
	signal(sig, SIG_DFL);
	raise(sig);
}

void sr_cleanup_on_fatal_signals(void)
{
	static const int sigs[] = { SIGINT, SIGTERM, SIGHUP, SIGPIPE };
	struct sigaction sa = { .sa_handler = on_fatal_signal };

	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		sigaction(sigs[i], &sa, NULL);
}

/* A name for a new copy (the dir is made for the first one); the message on error. */
static int copy_begin(const struct sr_open_opts *o, struct sr_copy *c, char *errbuf,
		      size_t errlen)
{
	const char *base = temp_base(o);

	c->cap = o->max_unpacked ? o->max_unpacked : default_cap(base);
	if (!temp.dir[0]) {
		if (snprintf(temp.dir, sizeof(temp.dir), "%s/connrec-read.XXXXXX", base) >=
		    (int)sizeof(temp.dir)) {
			temp.dir[0] = '\0';
			sr_set_err(errbuf, errlen, "the temp dir name is too long");
			return -ENAMETOOLONG;
		}
		/* mkdtemp makes the dir 0700: only we can see the decompressed evidence. */
		if (!mkdtemp(temp.dir)) {
			int err = -errno;

			temp.dir[0] = '\0';
			sr_set_err(errbuf, errlen, "cannot make a private temp dir in %s: %s", base,
				   strerror(-err));
			return err;
		}
		temp.next = 0;
		temp.ready = 1;
	}
	c->id = (unsigned long)temp.next;
	copy_name(c->path, sizeof(c->path), c->id, "");
	if (!c->path[0]) {
		sr_set_err(errbuf, errlen, "the temp dir name is too long");
		return -ENAMETOOLONG;
	}
	temp.next++;
	temp.live++;
	c->bytes = 0;
	c->used = true;
	return 0;
}

void sr_copy_remove(struct sr_copy *c)
{
	char p[PATH_MAX + 48];

	if (!c->used)
		return;
	for (size_t i = 0; i < sizeof(copy_sfx) / sizeof(copy_sfx[0]); i++) {
		copy_name(p, sizeof(p), c->id, copy_sfx[i]);
		if (p[0])
			unlink(p);
	}
	temp.bytes -= c->bytes;
	c->used = false;
	c->path[0] = '\0';
	if (--temp.live == 0) {
		temp.ready = 0;
		rmdir(temp.dir);
		temp.dir[0] = '\0';
	}
}

/* Writes n bytes of a copy, within the cap on all copies together. */
static int copy_write(struct sr_copy *c, int fd, const void *buf, size_t n, char *errbuf,
		      size_t errlen)
{
	int err;

	if (temp.bytes + n > c->cap) {
		uint64_t others = temp.bytes - c->bytes;

		if (others)
			sr_set_err(errbuf, errlen,
				   "decompresses to more than %" PRIu64
				   " bytes, the room left under the cap of %" PRIu64
				   " bytes on private copies (--max-unpacked)",
				   c->cap - others, c->cap);
		else
			sr_set_err(errbuf, errlen,
				   "decompresses to more than %" PRIu64
				   " bytes, the cap on private copies (--max-unpacked)",
				   c->cap);
		return -EFBIG;
	}
	err = cr_write_all(fd, buf, n);
	if (err) {
		sr_set_err(errbuf, errlen, "writing a private copy: %s", strerror(-err));
		return err;
	}
	c->bytes += n;
	temp.bytes += n;
	return 0;
}

/* ---- Copies ---- */

/* Copies src to the copy's name plus sfx (created 0600, must not exist), within the cap. */
static int copy_file(const char *src, struct sr_copy *c, const char *sfx, char *errbuf,
		     size_t errlen)
{
	char buf[1 << 16], dst[PATH_MAX + 48];
	int in, out = -1, err = 0;
	ssize_t r;

	in = cr_open_regular(src);
	if (in < 0) {
		sr_set_err(errbuf, errlen, "cannot copy %s into a private temp dir: %s",
			   sfx[0] ? sfx : "it", cr_open_strerror(in));
		return in;
	}
	snprintf(dst, sizeof(dst), "%s%s", c->path, sfx);
	out = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (out < 0) {
		err = -errno;
		sr_set_err(errbuf, errlen, "cannot create a private copy: %s", strerror(errno));
		goto cleanup;
	}
	while ((r = read(in, buf, sizeof(buf))) != 0) {
		if (r < 0) {
			if (errno == EINTR)
				continue;
			err = -errno;
			sr_set_err(errbuf, errlen, "%s", strerror(errno));
			goto cleanup;
		}
		err = copy_write(c, out, buf, (size_t)r, errbuf, errlen);
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
 * Streams the zstd file on fd through sink, which returns 0 to go on, 1 to stop early (the
 * caller has what it wanted) or a negative errno. A small hostile .zst can claim (or really
 * hold) terabytes, so the sink enforces the size; the frame header is not trusted.
 */
static int unzstd(int in, int (*sink)(void *ctx, const void *buf, size_t n), void *ctx,
		  char *errbuf, size_t errlen)
{
	size_t in_cap = ZSTD_DStreamInSize(), out_cap = ZSTD_DStreamOutSize();
	void *inb = malloc(in_cap), *outb = malloc(out_cap);
	ZSTD_DCtx *dctx = ZSTD_createDCtx();
	size_t last = 0;
	bool any = false;
	int err = 0;
	ssize_t r;

	if (!inb || !outb || !dctx) {
		err = -ENOMEM;
		sr_set_err(errbuf, errlen, "out of memory");
		goto cleanup;
	}
	/* Bounds the window a frame may ask for, so a header cannot make us allocate GBs. */
	ZSTD_DCtx_setParameter(dctx, ZSTD_d_windowLogMax, 27);
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
			err = sink(ctx, outb, ob.pos);
			if (err)
				goto cleanup;
		}
	}
	/* Flush what the decoder still holds for the last frame. */
	while (any && last != 0) {
		ZSTD_inBuffer ib = { inb, 0, 0 };
		ZSTD_outBuffer ob = { outb, out_cap, 0 };

		last = ZSTD_decompressStream(dctx, &ob, &ib);
		if (ZSTD_isError(last) || ob.pos == 0)
			break;
		err = sink(ctx, outb, ob.pos);
		if (err)
			goto cleanup;
	}
	if (!any || last != 0) {
		err = -EBADMSG;
		sr_set_err(errbuf, errlen, "truncated zstd file");
	}
cleanup:
	ZSTD_freeDCtx(dctx);
	free(inb);
	free(outb);
	return err > 0 ? 0 : err;
}

/* Opens a .zst after checking its magic; the fd, or -errno with the message. */
static int open_zst(const char *path, char *errbuf, size_t errlen)
{
	unsigned char magic[4];
	int fd = cr_open_regular(path);

	if (fd < 0) {
		sr_set_err(errbuf, errlen, "cannot read: %s", cr_open_strerror(fd));
		return fd;
	}
	if (read(fd, magic, 4) != 4 || memcmp(magic, "\x28\xb5\x2f\xfd", 4) ||
	    lseek(fd, 0, SEEK_SET)) {
		close(fd);
		sr_set_err(errbuf, errlen, "not a zstd-compressed segment (bad magic)");
		return -EBADMSG;
	}
	return fd;
}

struct file_sink {
	struct sr_copy *copy;
	int fd;
	char *errbuf;
	size_t errlen;
};

static int to_file(void *ctx, const void *buf, size_t n)
{
	struct file_sink *s = ctx;

	return copy_write(s->copy, s->fd, buf, n, s->errbuf, s->errlen);
}

struct mem_sink {
	unsigned char *buf;
	size_t len, want;
};

static int to_memory(void *ctx, const void *buf, size_t n)
{
	struct mem_sink *m = ctx;
	size_t take = n < m->want - m->len ? n : m->want - m->len;

	memcpy(m->buf + m->len, buf, take);
	m->len += take;
	return m->len == m->want ? 1 : 0;
}

int sr_peek_zst(const char *path, size_t max, unsigned char **out, size_t *len, char *errbuf,
		size_t errlen)
{
	struct mem_sink m = { .want = max };
	int fd, err;

	*out = NULL;
	*len = 0;
	fd = open_zst(path, errbuf, errlen);
	if (fd < 0)
		return fd;
	m.buf = malloc(max);
	if (!m.buf) {
		close(fd);
		return -ENOMEM;
	}
	err = unzstd(fd, to_memory, &m, errbuf, errlen);
	close(fd);
	/* A file shorter than max, or truncated after it: either way the head is here. */
	if (err == -EBADMSG && m.len)
		err = 0;
	if (err) {
		free(m.buf);
		return err;
	}
	*out = m.buf;
	*len = m.len;
	return 0;
}

/* ---- Staging ---- */

static bool exists(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0;
}

/* A .zst is decompressed into a private copy, within the cap. */
static int stage_zst(const char *path, const struct sr_open_opts *o, struct sr_copy *copy,
		     struct sr_source *src, char *errbuf, size_t errlen)
{
	struct file_sink s = { .copy = copy, .fd = -1, .errbuf = errbuf, .errlen = errlen };
	int in, err;

	in = open_zst(path, errbuf, errlen);
	if (in < 0)
		return in;
	err = copy_begin(o, copy, errbuf, errlen);
	if (err)
		goto cleanup;
	s.fd = open(copy->path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (s.fd < 0) {
		err = -errno;
		sr_set_err(errbuf, errlen, "cannot create a private copy: %s", strerror(errno));
		goto cleanup;
	}
	err = unzstd(in, to_file, &s, errbuf, errlen);
	if (close(s.fd) && !err) {
		err = -errno;
		sr_set_err(errbuf, errlen, "writing a private copy: %s", strerror(errno));
	}
	if (!err)
		src->file = copy->path;
cleanup:
	close(in);
	return err;
}

/*
 * A plain .db is read in place, unless a -wal beside it needs a copy. A hot -journal (a
 * rollback journal left by a writer that died mid-transaction) is ignored with a warning:
 * rolling it back means writing, and a crafted journal naming a "super-journal" makes SQLite
 * delete that file, anywhere. immutable=1 never looks at the journal.
 */
static int stage_db(const char *path, const struct sr_open_opts *o, struct sr_copy *copy,
		    struct sr_source *src, char *errbuf, size_t errlen)
{
	char side[PATH_MAX + 16];
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
		cr_warn("%s-journal: a rollback journal (an interrupted write) is ignored, "
			"not rolled back; the file is read as it is",
			path);
	if (!wal)
		return 0;
	if (o->flags & SR_OPEN_NO_COPY) {
		sr_set_err(errbuf, errlen, "would need a private copy");
		return -EXDEV;
	}
	/*
	 * immutable=1 would ignore the -wal (committed rows vanish); a plain open would create
	 * files beside the evidence. So read a private copy, -wal included.
	 */
	err = copy_begin(o, copy, errbuf, errlen);
	if (err)
		return err;
	snprintf(side, sizeof(side), "%s-wal", path);
	err = copy_file(path, copy, "", errbuf, errlen);
	if (!err)
		err = copy_file(side, copy, "-wal", errbuf, errlen);
	if (err)
		return err;
	src->file = copy->path;
	src->params = "";
	return 0;
}

int sr_stage(const char *path, const struct sr_open_opts *o, struct sr_copy *copy,
	     struct sr_source *src, char *errbuf, size_t errlen)
{
	size_t plen = strlen(path);

	src->file = path;
	src->params = "immutable=1";
	src->zs = NULL;
	if (plen > 4 && !strcmp(path + plen - 4, ".zst")) {
		/* A seekable one is read in place through the VFS; an older one is copied. */
		int err = sr_zseek_open(path, &src->zs, errbuf, errlen);

		if (src->zs)
			cr_debug("%s: seekable, pages served from its frames (no copy)", path);
		if (err || src->zs)
			return err;
		if (o->flags & SR_OPEN_NO_COPY) {
			sr_set_err(errbuf, errlen, "would need a private copy");
			return -EXDEV;
		}
		return stage_zst(path, o, copy, src, errbuf, errlen);
	}
	return stage_db(path, o, copy, src, errbuf, errlen);
}
