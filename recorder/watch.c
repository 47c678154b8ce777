// SPDX-License-Identifier: MIT
/*
 * The recorder's watchdog over itself (docs/blinding.md). Each round, every WATCH_PERIOD_NS:
 *
 * - every hook: its link still runs our program and is still attached. Root can detach a
 *   cgroup link (`bpftool link detach`, BPF_LINK_DETACH: the link then reports cgroup id 0) or
 *   swap its program (BPF_LINK_UPDATE: another prog id). Raw tracepoint and perf-event links
 *   have no detach operation up to kernel 6.18; they are checked all the same, for their program.
 *   A broken hook gets a new link at once.
 * - the data dir and the active segment's files, through store_check_files().
 *
 * Each event becomes a tamper gap from the previous round (when all was still in place) to
 * the moment it was healed, so the blind window is stored, not guessed. A round costs one
 * bpf(BPF_OBJ_GET_INFO_BY_FD) per hook and a few stat calls.
 */
#include "watch.h"

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/bpf.h>

#include "capture.h"
#include "log.h"
#include "store.h"
#include "timespec.h"

/* What a hook looked like when it was attached, and whether it is broken now. */
struct hook_state {
	__u32 prog_id;	   /* our program */
	__u32 link_type;   /* enum bpf_link_type */
	__u64 cgroup_id;   /* cgroup links: where it was attached */
	bool checkable;	   /* the kernel describes the link (bpf_link_info) */
	bool broken;	   /* found broken, not re-attached yet */
	bool said;	   /* ... and already recorded as such */
	int64_t since_ns;  /* wall clock: the last round that found it in place */
	char problem[64];  /* what was found */
};

struct watch {
	struct capture *cap;
	struct store *store;
	struct hook_state *hooks;
	int n;
	int64_t next_mono;
	int64_t round_ns; /* wall clock of the last round */
};

static int link_info(int link_fd, struct bpf_link_info *info)
{
	__u32 len = sizeof(*info);

	memset(info, 0, sizeof(*info));
	return bpf_obj_get_info_by_fd(link_fd, info, &len) ? -errno : 0;
}

/* Notes hook I as it is now: right after it was attached. */
static void remember(struct watch *w, int i)
{
	struct hook_state *h = &w->hooks[i];
	struct capture_hook ch;
	struct bpf_prog_info pinfo;
	struct bpf_link_info info;
	__u32 len = sizeof(pinfo);

	memset(h, 0, sizeof(*h));
	memset(&pinfo, 0, sizeof(pinfo));
	if (capture_hook(w->cap, i, &ch) || bpf_obj_get_info_by_fd(ch.prog_fd, &pinfo, &len) ||
	    link_info(ch.link_fd, &info)) {
		/* E.g. a tracepoint that an old kernel attaches without a bpf_link. */
		cr_debug("watch: hook %d cannot be inspected; it is not watched", i);
		return;
	}
	h->prog_id = pinfo.id;
	h->link_type = info.type;
	if (info.type == BPF_LINK_TYPE_CGROUP)
		h->cgroup_id = info.cgroup.cgroup_id;
	h->checkable = info.prog_id == h->prog_id;
}

/* What is wrong with hook I, in a few words, or NULL when it is as it was attached. */
static const char *hook_problem(const struct watch *w, int i, char *buf, size_t len)
{
	const struct hook_state *h = &w->hooks[i];
	struct capture_hook ch;
	struct bpf_link_info info;
	int err;

	if (capture_hook(w->cap, i, &ch))
		return NULL;
	err = link_info(ch.link_fd, &info);
	if (err) {
		snprintf(buf, len, "cannot be inspected (%s)", strerror(-err));
		return buf;
	}
	if (info.prog_id != h->prog_id) {
		snprintf(buf, len, "program swapped for prog id %" PRIu32, info.prog_id);
		return buf;
	}
	/* Detaching a cgroup link clears its cgroup; the link itself lives on with our fd. */
	if (h->link_type == BPF_LINK_TYPE_CGROUP && info.cgroup.cgroup_id != h->cgroup_id) {
		snprintf(buf, len, "%s", info.cgroup.cgroup_id ? "moved to another cgroup"
							 : "detached");
		return buf;
	}
	return NULL;
}

static void check_hook(struct watch *w, int i, int64_t prev_round)
{
	struct hook_state *h = &w->hooks[i];
	struct capture_hook ch;
	char buf[64], what[192];
	const char *problem;
	int err;

	if (!h->checkable || capture_hook(w->cap, i, &ch))
		return;
	problem = hook_problem(w, i, buf, sizeof(buf));
	if (!problem) {
		h->broken = h->said = false;
		return;
	}
	if (!h->broken) {
		h->broken = true;
		h->since_ns = prev_round;
		snprintf(h->problem, sizeof(h->problem), "%s", problem);
	}
	err = capture_reattach(w->cap, i);
	if (err) {
		/* Said once; tried again every round. */
		if (!h->said) {
			snprintf(what, sizeof(what), "hook %s (%s) %s; cannot re-attach: %s",
				 ch.section, ch.name, h->problem, strerror(-err));
			store_add_tamper(w->store, h->since_ns, ts_now_ns(), what);
			h->said = true;
		}
		return;
	}
	snprintf(what, sizeof(what), "hook %s (%s) %s; re-attached", ch.section, ch.name,
		 h->problem);
	store_add_tamper(w->store, h->since_ns, ts_now_ns(), what);
	remember(w, i);
}

void watch_tick(struct watch *w, int64_t now_mono)
{
	int64_t prev_round = w->round_ns;

	if (now_mono < w->next_mono)
		return;
	w->next_mono = now_mono + WATCH_PERIOD_NS;
	w->round_ns = ts_now_ns();
	for (int i = 0; i < w->n; i++)
		check_hook(w, i, prev_round);
	store_check_files(w->store);
}

int watch_new(struct watch **out, struct capture *cap, struct store *store)
{
	struct watch *w = calloc(1, sizeof(*w));

	*out = NULL;
	if (!w)
		return -ENOMEM;
	w->cap = cap;
	w->store = store;
	w->n = capture_attached(cap);
	w->hooks = calloc((size_t)(w->n ? w->n : 1), sizeof(*w->hooks));
	if (!w->hooks) {
		free(w);
		return -ENOMEM;
	}
	for (int i = 0; i < w->n; i++)
		remember(w, i);
	w->round_ns = ts_now_ns();
	*out = w;
	return 0;
}

void watch_free(struct watch *w)
{
	if (!w)
		return;
	free(w->hooks);
	free(w);
}
