// SPDX-License-Identifier: MIT
/*
 * The segments of a data dir, in sequence order: only seg-NNNNNNNN.db and seg-NNNNNNNN.db.zst
 * count, so the lock, the manifest and *.tmp files of a running recorder are never opened.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fileio.h"
#include "segment.h"
#include "store.h"
#include "store_read_internal.h"

static int entry_cmp(const void *a, const void *b)
{
	const struct sr_entry *x = a, *y = b;

	if (x->seq != y->seq)
		return x->seq < y->seq ? -1 : 1;
	return (int)y->zst - (int)x->zst; /* .zst first, so the dedup keeps it */
}

/* seg-NNNNNNNN.db or seg-NNNNNNNN.db.zst, by the writer's own rule (segment.h); no .tmp. */
static bool parse_seg_name(const char *name, uint64_t *seq, bool *zst)
{
	uint32_t n;
	int kind = seg_parse_name(name, &n);

	if (kind != SEG_RAW && kind != SEG_ZST)
		return false;
	*seq = n;
	*zst = kind == SEG_ZST;
	return true;
}

int sr_list_dir(const char *dir, struct sr_entry **out, size_t *n, char *errbuf, size_t errlen)
{
	struct sr_entry *v = NULL;
	size_t cnt = 0, w = 0;
	DIR *d = opendir(dir);
	struct dirent *de;
	int err = 0;

	*out = NULL;
	*n = 0;
	if (!d) {
		err = -errno;
		sr_set_err(errbuf, errlen, "%s: %s", dir, strerror(errno));
		return err;
	}
	while ((de = readdir(d))) {
		struct sr_entry e = { 0 }, *nv;
		char p[PATH_MAX];

		if (!parse_seg_name(de->d_name, &e.seq, &e.zst))
			continue;
		if (snprintf(p, sizeof(p), "%s/%s", dir, de->d_name) >= (int)sizeof(p))
			continue;
		nv = realloc(v, (cnt + 1) * sizeof(*v));
		if (!nv || !(e.path = strdup(p))) {
			if (nv)
				v = nv;
			err = -ENOMEM;
			sr_set_err(errbuf, errlen, "out of memory");
			goto cleanup;
		}
		v = nv;
		v[cnt++] = e;
	}
	if (cnt > 1) /* qsort's array must not be NULL, even when there is nothing to sort */
		qsort(v, cnt, sizeof(*v), entry_cmp);
	for (size_t i = 0; i < cnt; i++) {
		if (w && v[w - 1].seq == v[i].seq) {
			free(v[i].path);
			continue;
		}
		v[w++] = v[i];
	}
	if (w && !v[w - 1].zst) {
		char lock[PATH_MAX + 32];

		v[w - 1].active = true;
		snprintf(lock, sizeof(lock), "%s/%s", dir, STORE_LOCK_NAME);
		v[w - 1].live = cr_flock_holder(lock) > 0;
	}
	*out = v;
	*n = w;
	v = NULL;
	cnt = 0;
cleanup:
	closedir(d);
	sr_free_list(v, cnt);
	return err;
}

void sr_free_list(struct sr_entry *list, size_t n)
{
	for (size_t i = 0; list && i < n; i++)
		free(list[i].path);
	free(list);
}
