/* SPDX-License-Identifier: MIT */
/*
 * What capture.c (load, attach, ring buffer, loss counters) and capture_maps.c (walking the
 * tracking maps from userspace) share.
 */
#ifndef CONNREC_CAPTURE_INTERNAL_H
#define CONNREC_CAPTURE_INTERNAL_H

#include <stdbool.h>

#include "capture.h"
#include "connrec_maps.h"
#include "connrec.skel.h"

#define MAX_LINKS 32

_Static_assert(sizeof(struct cr_event) == 144, "cr_event layout changed");
_Static_assert(sizeof(struct udp_key) == 32, "udp_key layout changed");
_Static_assert(sizeof(struct tcp_flow) == 64, "tcp_flow layout changed");

struct capture {
	struct connrec_bpf *skel;
	struct ring_buffer *rb;
	struct bpf_link *links[MAX_LINKS];
	const struct bpf_program *progs[MAX_LINKS];
	int nlinks;
	int cgroup_fd;
	capture_event_fn fn;
	void *ctx;
	bool report_failed; /* report_open cannot run here: said once, not retried */
	/* Process events (proc_capture.c): their ring's consumer. */
	void (*proc_fn)(void *ctx, const void *data, size_t size);
	void *proc_ctx;
};

/* proc_capture.c: sizes the process-event ring; call between open and load. */
void proc_capture_configure(struct connrec_bpf *skel, uint32_t ring_size);

#endif /* CONNREC_CAPTURE_INTERNAL_H */
