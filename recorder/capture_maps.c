// SPDX-License-Identifier: MIT
/*
 * Walking the BPF tracking maps from userspace: UDP flows that the recorder ends (idle,
 * released multi-peer sockets, the start-up dump) and TCP connections old enough that their
 * OPEN should be in the store before they close.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "capture_internal.h"
#include "log.h"

int capture_track_udp(struct capture *c, uint64_t cookie, const uint8_t raddr[16], uint16_t rport,
		      uint64_t conn_id)
{
	struct udp_key key = { .cookie = cookie, .rport = rport };
	struct udp_flow flow = { .id = conn_id };
	struct udp_sock_state us = { .nflows = 1 };
	struct timespec ts;
	int sfd = bpf_map__fd(c->skel->maps.udp_socks);

	memcpy(key.raddr, raddr, 16);
	clock_gettime(CLOCK_BOOTTIME, &ts);
	flow.last_ns = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
	if (bpf_map_update_elem(bpf_map__fd(c->skel->maps.udp_flows), &key, &flow, BPF_NOEXIST))
		return -errno;
	us.first = key;
	if (bpf_map_update_elem(sfd, &cookie, &us, BPF_NOEXIST)) {
		/* The socket already has flows: it now has one more. */
		if (bpf_map_lookup_elem(sfd, &cookie, &us) == 0) {
			us.nflows++;
			bpf_map_update_elem(sfd, &cookie, &us, BPF_EXIST);
		}
	}
	return 0;
}

/*
 * End every udp_flows entry that match() selects. Keys are collected in a first pass and
 * deleted in a second, because deleting while walking with get_next_key restarts the walk.
 */
static int end_udp_where(struct capture *c,
			 int (*match)(const struct udp_key *, const struct udp_flow *, uint64_t),
			 uint64_t arg, capture_udp_end_fn fn, void *ctx)
{
	int fd = bpf_map__fd(c->skel->maps.udp_flows);
	uint32_t cap = bpf_map__max_entries(c->skel->maps.udp_flows);
	struct udp_key key, *found;
	struct udp_flow flow;
	void *prev = NULL;
	uint32_t nfound = 0, steps = 0;
	int n = 0;

	found = calloc(cap, sizeof(*found));
	if (!found)
		return -ENOMEM;
	/* steps bounds the walk even if entries churn underneath it. */
	while (steps++ < 2 * cap && bpf_map_get_next_key(fd, prev, &key) == 0) {
		prev = &key;
		if (bpf_map_lookup_elem(fd, &key, &flow) == 0 && match(&key, &flow, arg) &&
		    nfound < cap)
			found[nfound++] = key;
	}
	for (uint32_t i = 0; i < nfound; i++) {
		/* Look up again: BPF may have ended or refreshed it meanwhile. */
		if (bpf_map_lookup_elem(fd, &found[i], &flow) || !match(&found[i], &flow, arg))
			continue;
		if (bpf_map_delete_elem(fd, &found[i]) || !flow.id)
			continue; /* id 0: its OPEN was lost (counted), so there is nothing to end */
		fn(ctx, flow.id, flow.last_ns);
		n++;
	}
	free(found);
	return n;
}

static int match_cookie(const struct udp_key *k, const struct udp_flow *f, uint64_t cookie)
{
	(void)f;
	return k->cookie == cookie;
}

static int match_idle(const struct udp_key *k, const struct udp_flow *f, uint64_t cutoff)
{
	(void)k;
	return f->last_ns < cutoff;
}

int capture_end_udp_socket(struct capture *c, uint64_t cookie, capture_udp_end_fn fn, void *ctx)
{
	return end_udp_where(c, match_cookie, cookie, fn, ctx);
}

int capture_end_udp_idle(struct capture *c, uint64_t cutoff_boot_ns, capture_udp_end_fn fn,
			 void *ctx)
{
	return end_udp_where(c, match_idle, cutoff_boot_ns, fn, ctx);
}

/* ---- TCP connections that stay open ---- */

#define REPORT_CHUNK 1024

/* Runs report_open for one connection; true if its OPEN went into the ring. */
static bool report_one(struct capture *c, uint64_t sk, uint64_t id)
{
	uint64_t args[2] = { sk, id };
	LIBBPF_OPTS(bpf_test_run_opts, opts, .ctx_in = args, .ctx_size_in = sizeof(args));
	int err = bpf_prog_test_run_opts(bpf_program__fd(c->skel->progs.report_open), &opts);

	if (err) {
		if (!c->report_failed)
			cr_warn("cannot ask the kernel for open connections (%s): long connections "
				"will only be stored when they close",
				strerror(-err));
		c->report_failed = true;
		return false;
	}
	return opts.retval == 1;
}

/*
 * Worth asking for: not reported or closing, started before the cutoff, and with an owner if
 * accepted (an unaccepted one waits). Listeners are here only if their OPEN met a full ring.
 */
static bool wants_report(const struct tcp_flow *f, uint64_t started_before)
{
	return f->opened == FLOW_NEW && f->start_ns < started_before &&
	       (f->direction != CR_DIR_IN || f->has_pid);
}

int capture_report_opens(struct capture *c, uint64_t started_before)
{
	int fd = bpf_map__fd(c->skel->maps.tcp_flows);
	uint64_t *keys = calloc(REPORT_CHUNK, sizeof(*keys));
	struct tcp_flow *vals = calloc(REPORT_CHUNK, sizeof(*vals));
	uint64_t token = 0;
	int n = 0, err = 0;
	bool first = true, done = false;

	if (!keys || !vals) {
		n = -ENOMEM;
		goto out;
	}
	/* One system call per chunk of entries: the map can hold tens of thousands. */
	while (!done && !c->report_failed) {
		__u32 count = REPORT_CHUNK;

		err = bpf_map_lookup_batch(fd, first ? NULL : &token, &token, keys, vals, &count,
					   NULL);
		if (err && errno != ENOENT) {
			n = -errno;
			break;
		}
		done = err != 0; /* ENOENT: this was the last chunk */
		first = false;
		for (__u32 i = 0; i < count && !c->report_failed; i++)
			if (wants_report(&vals[i], started_before) &&
			    report_one(c, keys[i], vals[i].id))
				n++;
	}
out:
	free(keys);
	free(vals);
	return n;
}
