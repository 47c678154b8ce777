/* SPDX-License-Identifier: MIT */
/*
 * What capture.c (load, attach, ring buffer, loss counters) and capture_maps.c (walking the
 * tracking maps from userspace) share.
 */
#ifndef CONNREC_CAPTURE_INTERNAL_H
#define CONNREC_CAPTURE_INTERNAL_H

#include <stdbool.h>

#include "capture.h"
#include "connrec.skel.h"

#define MAX_LINKS 32

/* Mirrors of the BPF-side map types (bpf/connrec.bpf.c); sizes are checked at open. */
struct udp_key {
	uint64_t cookie;
	uint8_t raddr[16];
	uint16_t rport;
	uint16_t pad[3];
};

struct udp_flow {
	uint64_t id;
	uint64_t last_ns;
};

/* enum of tcp_flow.opened */
enum { FLOW_NEW = 0, FLOW_OPEN_SENT = 1, FLOW_CLOSED_FIRST = 2 };

struct tcp_flow {
	uint64_t id;
	uint64_t start_ns;
	uint64_t cgroup_id;
	uint32_t pid;
	uint32_t uid;
	char comm[CR_COMM_LEN];
	uint32_t opened;
	uint8_t direction;
	uint8_t has_pid;
	uint8_t pad[2];
};

struct udp_sock_state {
	uint32_t nflows;
	uint32_t pad;
	struct udp_key first;
};

_Static_assert(sizeof(struct cr_event) == 128, "cr_event layout changed");
_Static_assert(sizeof(struct udp_key) == 32, "udp_key layout changed");
_Static_assert(sizeof(struct tcp_flow) == 56, "tcp_flow layout changed");

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
};

#endif /* CONNREC_CAPTURE_INTERNAL_H */
