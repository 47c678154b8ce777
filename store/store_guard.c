// SPDX-License-Identifier: MIT
/*
 * The store's files are still its own. An intruder with root can remove or replace the active
 * segment (`rm DIR/seg-*.db*`) or the data dir itself while the recorder runs; SQLite then goes
 * on writing into files that no longer have a name, and everything is gone at the next stop.
 * store_check_files() notices that with a few stat calls, saves what the old files hold, moves
 * recording into a new segment and records a tamper gap (docs/blinding.md).
 *
 * Identity is (st_dev, st_ino) of the path against what it was when the store made the file:
 * a removed file no longer answers at its path, a replaced one answers with another inode.
 * While SQLite holds the old file open its inode number cannot be reused on that filesystem.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "store_internal.h"

/* The files SQLite keeps for the active segment, in the order of writer.files. */
static const char *const file_sfx[GUARD_FILES] = { "", "-wal", "-shm" };

#define RESCUE_SFX ".rescue.tmp" /* never a segment name: readers ignore it */
#define ASIDE_SFX ".replaced"	 /* someone else's file found at one of our paths */

static void file_path(const struct store *s, uint32_t seq, int k, char *buf, size_t len)
{
	char raw[PATH_MAX + SEG_NAME_MAX];

	seg_path(raw, sizeof(raw), s->dir, seq, SEG_RAW);
	snprintf(buf, len, "%s%s", raw, file_sfx[k]);
}

static bool id_of(const char *path, bool follow, struct file_id *id)
{
	struct stat st;

	if (follow ? stat(path, &st) : lstat(path, &st))
		return false;
	id->dev = st.st_dev;
	id->ino = st.st_ino;
	id->known = true;
	return true;
}

static bool same_id(const struct file_id *a, const struct file_id *b)
{
	return a->dev == b->dev && a->ino == b->ino;
}

void guard_remember(struct store *s)
{
	char path[PATH_MAX + SEG_NAME_MAX + 8];

	/* The dir may be a symlink to where the data lives: follow it. Segment files may not. */
	s->dir_id.known = false;
	id_of(s->dir, true, &s->dir_id);
	for (int k = 0; k < GUARD_FILES; k++) {
		s->w->files[k].known = false;
		file_path(s, s->w->seq, k, path, sizeof(path));
		id_of(path, false, &s->w->files[k]);
	}
	s->files_ok_ns = seg_now_ns();
}

/* ---- the check ---- */

/* What store_check_files() found, from the outside in: each implies the ones after it. */
enum problem {
	PROBLEM_NONE,
	PROBLEM_DIR,  /* the data dir (and so everything in it) */
	PROBLEM_LOCK, /* the lock file: a second recorder could start on the dir */
	PROBLEM_SEG,  /* one of the active segment's files */
};

/* Whether the lock file at its path is still the one our flock is on. */
static bool lock_in_place(const struct store *s, bool *replaced)
{
	char path[PATH_MAX + 32];
	struct file_id held = { 0 }, now = { 0 };
	struct stat st;

	*replaced = false;
	if (fstat(s->lock_fd, &st))
		return true; /* cannot tell */
	held.dev = st.st_dev;
	held.ino = st.st_ino;
	path_in(s, path, sizeof(path), STORE_LOCK_NAME);
	if (!id_of(path, false, &now))
		return false;
	*replaced = !same_id(&now, &held);
	return !*replaced;
}

/*
 * What is wrong with the data dir, its lock file or the active segment's files, with a few
 * words for the tamper gap in WHAT.
 */
static enum problem find_problem(struct store *s, char *what, size_t len)
{
	char path[PATH_MAX + SEG_NAME_MAX + 8], name[SEG_NAME_MAX];
	struct file_id now;
	bool replaced;
	int moved = 0;

	what[0] = '\0';
	now.known = false;
	if (s->dir_id.known && (!id_of(s->dir, true, &now) || !same_id(&now, &s->dir_id))) {
		snprintf(what, len, "data dir %s", now.known ? "replaced" : "removed or renamed");
		return PROBLEM_DIR;
	}
	if (!lock_in_place(s, &replaced)) {
		snprintf(what, len, "lock file %s %s", STORE_LOCK_NAME,
			 replaced ? "replaced" : "removed");
		return PROBLEM_LOCK;
	}
	seg_format_name(name, sizeof(name), s->w->seq, SEG_RAW);
	for (int k = 0; k < GUARD_FILES; k++) {
		struct file_id *id = &s->w->files[k];

		file_path(s, s->w->seq, k, path, sizeof(path));
		now.known = false;
		if (!id->known) {
			/* -wal and -shm appear with the first transaction after an open. */
			id_of(path, false, id);
			continue;
		}
		if (id_of(path, false, &now) && same_id(&now, id))
			continue;
		snprintf(what, len, "active segment %s%s %s", name, file_sfx[k],
			 now.known ? "replaced" : "removed");
		return PROBLEM_SEG;
	}
	/* SQLite's own view of the main file, in case it was swapped before we first looked. */
	if (sqlite3_file_control(s->w->db, "main", SQLITE_FCNTL_HAS_MOVED, &moved) == SQLITE_OK &&
	    moved) {
		snprintf(what, len, "active segment %s moved away", name);
		return PROBLEM_SEG;
	}
	return PROBLEM_NONE;
}

/* ---- healing ---- */

/* A copy of the active segment, read through the writer's connection, which still has it. */
static int save_copy(struct store *s, const char *dst_path)
{
	sqlite3 *dst = NULL;
	sqlite3_backup *b;
	int rc;

	unlink(dst_path); /* our own scratch name, left by an earlier failed try */
	rc = sqlite3_open_v2(dst_path, &dst,
			     SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOFOLLOW, NULL);
	if (rc == SQLITE_OK) {
		b = sqlite3_backup_init(dst, "main", s->w->db, "main");
		if (!b) {
			rc = sqlite3_errcode(dst);
		} else {
			rc = sqlite3_backup_step(b, -1);
			int fin = sqlite3_backup_finish(b);

			rc = rc == SQLITE_DONE ? fin : rc;
		}
	}
	sqlite3_close(dst);
	if (rc != SQLITE_OK) {
		unlink(dst_path);
		return seg_sqlite_err(rc);
	}
	chmod(dst_path, 0600);
	return 0;
}

/*
 * Frees segment SEQ's paths for the saved copy: the old files that are still ours go (their
 * content is in the copy), anybody else's are renamed NAME.replaced-SECONDS and kept, never
 * deleted. KEEP_OWN: there is no copy, so our own files stay where they are.
 */
static void clear_paths(struct store *s, uint32_t seq, const struct file_id ids[GUARD_FILES],
			bool keep_own)
{
	char path[PATH_MAX + SEG_NAME_MAX + 8], aside[PATH_MAX + SEG_NAME_MAX + 48];
	struct file_id now;

	for (int k = 0; k < GUARD_FILES; k++) {
		file_path(s, seq, k, path, sizeof(path));
		now.known = false;
		if (!id_of(path, false, &now))
			continue;
		if (ids[k].known && same_id(&now, &ids[k])) {
			if (!keep_own)
				unlink(path);
			continue;
		}
		snprintf(aside, sizeof(aside), "%s" ASIDE_SFX "-%" PRId64, path,
			 seg_now_ns() / NS_PER_SEC);
		if (rename(path, aside))
			cr_warn("store: cannot move %s out of the way: %s", path, strerror(errno));
		else
			cr_warn("store: someone else's file was at %s; kept as %s", path, aside);
	}
}

/*
 * The active segment's files are gone: save what the old connection still reads into a copy,
 * start segment seq+1 (the rows still queued go there at the next flush), put the copy back at
 * the old name and hand it to the sealer, which carries its open connections into seq+1 as
 * after a rotation and seals it, so the hash chain goes on through it. With no copy, the open
 * connections are lost with the rest. HOW says what became of the old rows.
 */
static int heal_segment(struct store *s, char *how, size_t len)
{
	char path[PATH_MAX + SEG_NAME_MAX + 8], tmp[PATH_MAX + SEG_NAME_MAX + 32];
	char name[SEG_NAME_MAX], next[SEG_NAME_MAX];
	struct file_id ids[GUARD_FILES];
	struct writer *old = s->w, *nw = NULL;
	uint32_t seq = old->seq;
	int save_err, err;

	file_path(s, seq, 0, path, sizeof(path));
	snprintf(tmp, sizeof(tmp), "%s" RESCUE_SFX, path);
	save_err = save_copy(s, tmp);
	err = writer_create(s, seq + 1, old, &nw);
	if (err) {
		unlink(tmp); /* made again at the next try */
		return err;
	}
	memcpy(ids, old->files, sizeof(ids));
	/* No copy: what the old WAL holds at least goes into the old main file, if that is ours. */
	if (save_err)
		sqlite3_wal_checkpoint_v2(old->db, NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL);
	s->w = nw;
	s->stats.active_seq = nw->seq;
	ckpt_writer_reset(s); /* a new segment: no checkpoint yet */
	writer_free(old, false);

	clear_paths(s, seq, ids, save_err != 0);
	if (!save_err && renameat2(AT_FDCWD, tmp, AT_FDCWD, path, RENAME_NOREPLACE)) {
		save_err = -errno;
		cr_warn("store: the saved copy of segment %" PRIu32 " stays at %s: %s", seq, tmp,
			strerror(errno));
	}
	seg_fsync_dir(s->dir);
	/* The sealer carries the saved copy's open connections into seq+1 first, as after a rotation. */
	if (access(path, F_OK) == 0)
		sealer_enqueue(s, seq, seq + 1);
	seg_format_name(name, sizeof(name), seq, SEG_RAW);
	seg_format_name(next, sizeof(next), seq + 1, SEG_RAW);
	if (!save_err)
		snprintf(how, len, "rows saved back into %s; now writing %s", name, next);
	else
		snprintf(how, len, "rows not saved (%s); now writing %s", strerror(-save_err),
			 next);
	guard_remember(s);
	return 0;
}

/*
 * The lock file at its path is not the one we hold: take the lock again on what is there (or a
 * new one), so that no second recorder can start on the dir. -EBUSY: one already has.
 */
static int heal_lock(struct store *s)
{
	int old = s->lock_fd, err;

	s->lock_fd = -1;
	err = take_lock(s);
	if (err) {
		if (s->lock_fd >= 0)
			close(s->lock_fd);
		s->lock_fd = old;
		return err;
	}
	close(old);
	return 0;
}

/* The data dir is gone or another one: make it again and take its lock. */
static int heal_dir(struct store *s)
{
	int err = mkdir_p(s->dir);

	if (!err)
		err = heal_lock(s);
	if (!err)
		id_of(s->dir, true, &s->dir_id); /* this one is ours now */
	return err;
}

int store_check_files(struct store *s)
{
	char what[96], how[192], reason[320];
	enum problem p;
	int64_t start;
	int err;

	p = find_problem(s, what, sizeof(what));
	if (p == PROBLEM_NONE) {
		s->files_ok_ns = seg_now_ns();
		s->guard_failing = false;
		return 0;
	}
	start = s->guard_failing ? s->guard_fail_ns : s->files_ok_ns;
	switch (p) {
	case PROBLEM_DIR:
		/* A new dir holds none of our files: the segment is healed into it as well. */
		err = heal_dir(s);
		if (!err)
			err = heal_segment(s, how, sizeof(how));
		break;
	case PROBLEM_LOCK:
		err = heal_lock(s);
		snprintf(how, sizeof(how), "locked again");
		break;
	default:
		err = heal_segment(s, how, sizeof(how));
		break;
	}
	if (err) {
		/* Said once; retried at every check until it works. */
		if (!s->guard_failing) {
			snprintf(reason, sizeof(reason), "%s; cannot heal yet: %s", what,
				 strerror(-err));
			store_add_tamper(s, start, seg_now_ns(), reason);
			s->guard_failing = true;
			s->guard_fail_ns = s->files_ok_ns;
		}
		return err;
	}
	snprintf(reason, sizeof(reason), "%s; %s", what, how);
	store_add_tamper(s, start, seg_now_ns(), reason);
	s->guard_failing = false;
	s->files_ok_ns = seg_now_ns();
	return 1;
}
