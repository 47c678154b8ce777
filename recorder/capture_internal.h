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
#include "udp_peers.h"

#define MAX_LINKS 32

_Static_assert(sizeof(struct cr_event) == 144, "cr_event layout changed");
_Static_assert(sizeof(struct udp_key) == 32, "udp_key layout changed");
_Static_assert(sizeof(struct tcp_flow) == 72, "tcp_flow layout changed");
_Static_assert(sizeof(struct young_slot) == 32, "young_slot layout changed");
_Static_assert(sizeof(struct udp_flow) == 48, "udp_flow layout changed");
_Static_assert(sizeof(struct udp_sock_state) == 152, "udp_sock_state layout changed");
_Static_assert(sizeof(struct report_req) == 24, "report_req layout changed");

struct capture {
	struct connrec_bpf *skel;
	struct ring_buffer *rb;
	struct bpf_link *links[MAX_LINKS];
	const struct bpf_program *progs[MAX_LINKS];
	int nlinks;
	int cgroup_fd;
	capture_event_fn fn;
	void *ctx;
	bool report_failed; /* report_opens cannot run here: said once, not retried */
	uint64_t kept_unsent; /* kept ends the stop could not send: lost (CR_DROP_RING_END) */
	struct young *young; /* capture_young.c */
	struct udp_peers *peers; /* udp_flows keys per socket (capture_maps.c) */
	bool take_failed; /* take_udp_flows cannot run here: released sockets' flows by walk */
	/* Process events (proc_capture.c): their ring's consumer. */
	void (*proc_fn)(void *ctx, const void *data, size_t size);
	void *proc_ctx;
	/* DNS answers (capture_dns.c): their ring's consumer. */
	capture_dns_fn dns_fn;
	void *dns_ctx;
};

/* proc_capture.c: sizes the process-event ring (or leaves its programs out); before load. */
void proc_capture_configure(struct connrec_bpf *skel, const struct capture_opts *opts);

/* ---- capture_young.c: connections not reported open yet ---- */

struct young;

/* Maps the journal; call after load. */
int young_open(struct capture *c);
void young_close(struct capture *c);
/* Takes what BPF appended to the journal since the last call. */
void young_read(struct capture *c);
/* A CLOSE for this flow id went by: it needs no OPEN. */
void young_closed(struct capture *c, uint64_t id);
/*
 * Runs report_opens over reqs[0..n) (n <= CR_REPORT_BATCH); each result is in reqs[i].result
 * and *sent counts the OPENs sent. -EOPNOTSUPP when the kernel refuses to run it.
 */
int report_batch(struct capture *c, struct report_req *reqs, uint32_t n, int *sent);
/*
 * Puts the connections of an answered batch that were not ready yet (not accepted, still
 * connecting) or met a full ring back in the list, to be asked again a second later.
 */
void young_requeue(struct capture *c, const struct report_req *reqs, uint32_t n);
/* Adds an end kept in the tracking map (by its flow id) to the list of those to send. */
void young_kept(struct capture *c, uint64_t id);
/*
 * Has BPF send the kept ends on the list into the ring, draining it as they go, up to a few
 * thousand per call; what still finds the ring full stays on the list. Returns how many were
 * sent, or -errno.
 */
int capture_send_kept(struct capture *c);
/* Adds a connection found by the sweep to the list, as if read from the journal now. */
void young_later(struct capture *c, uint64_t key, uint64_t id, uint8_t proto);

/* ---- capture_maps.c ---- */

/* The fallback: asks about every tracked connection older than the cutoff. */
int capture_sweep_opens(struct capture *c, uint64_t started_before, int *sent);

/*
 * Sums each of the first nkeys keys of a per-CPU array of u64 over the CPUs into out[key];
 * keys whose bit is set in skip_mask are left at 0. Returns 0 or -errno.
 */
int capture_sum_percpu(int map_fd, uint32_t nkeys, uint64_t skip_mask, uint64_t *out);

/* capture_dns.c: sizes the DNS ring before load. */
void capture_dns_size(struct capture *c, const struct capture_opts *opts);

#endif /* CONNREC_CAPTURE_INTERNAL_H */
