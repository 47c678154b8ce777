// SPDX-License-Identifier: MIT
/*
 * The store's writer, its public entry points: store_open takes the data dir (options, lock,
 * recovery, the sealing thread) and store_close hands it back. The rest of the writer is in
 * the store_*.c files listed in store_internal.h; docs/store.md describes the data dir, the hash
 * chain and crash recovery.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "anchor.h"
#include "fileio.h"
#include "log.h"
#include "sealkey.h"
#include "store_internal.h"

#define RESERVE_MAX (64ULL << 20)

int mkdir_p(const char *dir)
{
	char tmp[PATH_MAX];
	size_t len = strlen(dir);

	if (len == 0 || len >= sizeof(tmp))
		return -ENAMETOOLONG;
	memcpy(tmp, dir, len + 1);
	for (char *p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(tmp, 0700) && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(tmp, 0700) && errno != EEXIST)
		return -errno;
	return 0;
}

/*
 * The data dir must be ours alone: owned by this user and writable by nobody else. Anyone who
 * can write it can delete or replace segments, or plant symlinks under the store's names.
 */
static int check_dir_safe(const char *dir, bool allow)
{
	struct stat st;

	if (stat(dir, &st)) {
		cr_err("store: %s: %s", dir, strerror(errno));
		return -errno;
	}
	if (!S_ISDIR(st.st_mode)) {
		cr_err("store: %s is not a directory", dir);
		return -ENOTDIR;
	}
	if (st.st_uid != geteuid() && !allow) {
		cr_err("store: %s is owned by uid %u, not by this user (uid %u): refused (chown it, "
		       "or pass --allow-unsafe-dir)",
		       dir, (unsigned)st.st_uid, (unsigned)geteuid());
		return -EPERM;
	}
	if ((st.st_mode & 022) && !allow) {
		cr_err("store: %s is writable by group or others (mode %04o): refused (chmod 700 "
		       "it, or pass --allow-unsafe-dir)",
		       dir, (unsigned)(st.st_mode & 07777));
		return -EPERM;
	}
	return 0;
}

int take_lock(struct store *s)
{
	char path[PATH_MAX + 32], pid[32];
	int n;

	path_in(s, path, sizeof(path), STORE_LOCK_NAME);
	/* Truncated below: a symlink planted as the lock must not truncate its target. */
	s->lock_fd = cr_open_private(path, O_RDWR);
	if (s->lock_fd < 0)
		return s->lock_fd;
	if (flock(s->lock_fd, LOCK_EX | LOCK_NB))
		return errno == EWOULDBLOCK ? -EBUSY : -errno;
	/* The pid is for people and `connrec status`; the lock itself is the flock. */
	n = snprintf(pid, sizeof(pid), "%d\n", (int)getpid());
	if (ftruncate(s->lock_fd, 0) || pwrite(s->lock_fd, pid, (size_t)n, 0) != n)
		cr_debug("store: cannot write pid into the lock file");
	return 0;
}

/* Options with their defaults (docs/store.md); fails only on a directory name too long. */
static int apply_opts(struct store *s, const struct store_opts *opts)
{
	const char *dir = opts && opts->dir ? opts->dir : STORE_DEFAULT_DIR;

	if (strlen(dir) >= sizeof(s->dir) - SEG_NAME_MAX - 16)
		return -ENAMETOOLONG;
	snprintf(s->dir, sizeof(s->dir), "%s", dir);
	snprintf(s->version, sizeof(s->version), "%s",
		 opts && opts->version ? opts->version : "unknown");
	s->rotate_size = opts && opts->rotate_size ? opts->rotate_size : STORE_DEFAULT_ROTATE_SIZE;
	s->rotate_age_ns = opts && opts->rotate_age_ns > 0 ? opts->rotate_age_ns
							   : STORE_DEFAULT_ROTATE_AGE_NS;
	s->retain_size = opts && opts->retain_size ? opts->retain_size : STORE_DEFAULT_RETAIN_SIZE;
	s->retain_age_ns = opts && opts->retain_age_ns ? opts->retain_age_ns
						       : STORE_DEFAULT_RETAIN_AGE_NS;
	s->max_queued = opts && opts->max_queued ? opts->max_queued : STORE_DEFAULT_MAX_QUEUED;
	s->anchor = opts ? opts->anchor : NULL;
	s->ckpt_every_ns = opts && opts->checkpoint_every_ns > 0 ? opts->checkpoint_every_ns
								 : STORE_DEFAULT_CHECKPOINT_NS;
	s->key_required = opts && opts->key_file;
	if (s->key_required && strlen(opts->key_file) >= PATH_MAX)
		return -ENAMETOOLONG;
	if (s->key_required)
		snprintf(s->key_path, sizeof(s->key_path), "%s", opts->key_file);
	else
		path_in(s, s->key_path, sizeof(s->key_path), SEALKEY_NAME);
	s->reserve_bytes = s->rotate_size / 2 < RESERVE_MAX ? s->rotate_size / 2 : RESERVE_MAX;
	return 0;
}

static void store_free(struct store *s)
{
	if (!s)
		return;
	sealer_stop(s);
	writer_free(s->w, true);
	if (s->lock_fd >= 0)
		close(s->lock_fd);
	if (s->status_fd >= 0)
		close(s->status_fd);
	vec_free(&s->conns);
	vec_free(&s->conn_order);
	vec_free(&s->id_slots);
	vec_free(&s->ends);
	vec_free(&s->gaps);
	vec_free(&s->runs);
	vec_free(&s->metas);
	vec_free(&s->anchors);
	vec_free(&s->to_seal);
	for (size_t i = 0; i < s->to_ckpt.n; i++) /* left when the sealing thread never ran */
		ckpt_rows_free(&((struct ckpt_job *)vec_at(&s->to_ckpt, i))->rows);
	ckpt_rows_free(&s->spare);
	vec_free(&s->to_ckpt);
	vec_free(&s->sealed);
	vec_free(&s->vanished);
	vec_free(&s->made);
	sealkey_close(s->key);
	lives_free(&s->lives);
	dns_free_all(s);
	pthread_mutex_destroy(&s->mu);
	pthread_cond_destroy(&s->cv);
	free(s);
}

int store_open(struct store **out, const struct store_opts *opts)
{
	struct store *s;
	int err;

	*out = NULL;
	/*
	 * SQLite's allocation statistics take a process-wide mutex on every malloc; the writer
	 * does not need them. This only works before SQLite initialises (the recorder's first
	 * SQLite call is here); otherwise it is refused and harmless.
	 */
	sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->lock_fd = -1;
	s->status_fd = -1;
	pthread_mutex_init(&s->mu, NULL);
	pthread_cond_init(&s->cv, NULL);
	s->conns.esz = sizeof(struct store_conn);
	s->conn_order.esz = sizeof(struct conn_ref);
	s->id_slots.esz = sizeof(uint32_t);
	s->ends.esz = sizeof(struct store_end);
	s->gaps.esz = sizeof(struct gap_row);
	s->runs.esz = sizeof(struct run_row);
	s->metas.esz = sizeof(struct meta_row);
	s->anchors.esz = sizeof(struct anchor_row);
	s->dns.esz = sizeof(struct dns_row *);
	s->dns_live.esz = sizeof(struct dns_row *);
	s->to_seal.esz = sizeof(struct seal_job);
	s->to_ckpt.esz = sizeof(struct ckpt_job);
	s->sealed.esz = sizeof(struct seg_info);
	s->vanished.esz = sizeof(uint32_t);
	s->made.esz = sizeof(struct anchor_row);
	err = apply_opts(s, opts);
	if (err)
		goto cleanup;
	lives_init(&s->lives, opts ? opts->cgroup_name : NULL, opts ? opts->cgroup_ctx : NULL);
	s->start_ns = seg_now_ns();
	s->stats.seal_epoch = -1;

	err = mkdir_p(s->dir);
	if (err) {
		cr_err("store: cannot create %s: %s", s->dir, strerror(-err));
		goto cleanup;
	}
	err = check_dir_safe(s->dir, opts && opts->allow_unsafe_dir);
	if (err)
		goto cleanup;
	err = take_lock(s);
	if (err) {
		if (err == -EBUSY)
			cr_err("store: %s is in use by another recorder", s->dir);
		else
			cr_err("store: cannot lock %s: %s: %s", s->dir, STORE_LOCK_NAME,
			       cr_open_strerror(err));
		goto cleanup;
	}
	err = recover_segments(s);
	if (err)
		goto cleanup;
	s->run_id_floor = store_next_conn_id(s);
	status_open(s);
	err = queue_run(s, CR_RUN_START);
	if (err)
		goto cleanup;
	err = store_flush(s);
	if (err) {
		cr_err("store: cannot write to %s: %s", s->dir, strerror(-err));
		goto cleanup;
	}
	err = sealer_start(s);
	if (err)
		goto cleanup;
	guard_remember(s);
	anchor_set_store(s->anchor, s->store_id);
	anchor_emit(s->anchor, "start", "seg=%" PRIu32 " pid=%d", s->w->seq, (int)getpid());
	status_write(s, "running");
	*out = s;
	return 0;
cleanup:
	store_free(s);
	return err;
}

sqlite3 *store_test_active_db(struct store *s)
{
	return s->w->db;
}

uint64_t store_next_conn_id(const struct store *s)
{
	return s->next_conn_id ? s->next_conn_id : 1;
}

const struct store_stats *store_get_stats(const struct store *s)
{
	return &s->stats;
}

/*
 * The events that a failed final flush leaves unstored: queued connections and ends, those
 * dropped from the full queue since the store stopped being writable, and the counts of the
 * loss gaps still queued (lost events already counted once, now lost with their record).
 */
static uint64_t unstored_events(const struct store *s)
{
	uint64_t n = s->conns.n + s->ends.n + s->dropped_in_fail;

	for (size_t i = 0; i < s->gaps.n; i++) {
		const struct gap_row *g = vec_at(&s->gaps, i);

		if (g->kind == CR_GAP_LOST)
			n += g->count;
	}
	return n;
}

int store_close(struct store *s)
{
	int err;

	if (!s)
		return 0;
	s->closing = true;
	queue_run(s, CR_RUN_STOP);
	err = store_flush(s);
	/*
	 * The sealing thread finishes what is queued (a later store_open resumes any seal it
	 * could not), the connections it carries into the active segment included, so the seal
	 * record and hash of the last sealed segment can still go into the active one.
	 */
	sealer_stop(s);
	err = store_flush(s);
	/*
	 * A last checkpoint covers every row, the stop and the carried ones included; with the
	 * sealing thread gone it is hashed here, and stored by one more flush.
	 */
	if (!err) {
		ckpt_maybe_cut(s, true);
		err = store_flush(s);
	}
	if (err) {
		/* The status file carries them to the next start, which stores them as a gap. */
		s->unstored = unstored_events(s);
		cr_err("store: final flush failed (%s); %" PRIu64 " events not stored, recorded as "
		       "a gap at the next start",
		       strerror(-err), s->unstored);
	}
	status_write(s, err ? "failed" : "stopped");
	if (!err)
		anchor_emit(s->anchor, "stop", "seg=%" PRIu32 " pid=%d", s->w->seq, (int)getpid());
	store_free(s);
	return err;
}
