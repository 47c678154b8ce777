// SPDX-License-Identifier: MIT
/*
 * The DNS side of capture: the dns_events ring (polled by the same ring_buffer object as the
 * flow ring, so one capture_poll() serves both) and its loss counters. The programs are
 * attached with the others in capture.c.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "capture_internal.h"
#include "log.h"

#define DNS_DEFAULT_RING_SIZE (4u << 20)

_Static_assert(sizeof(struct cr_dns_event) == 64, "cr_dns_event layout changed");

void capture_dns_size(struct capture *c, const struct capture_opts *opts)
{
	uint32_t ring = opts->dns_ring_size ? opts->dns_ring_size : DNS_DEFAULT_RING_SIZE;

	bpf_map__set_max_entries(c->skel->maps.dns_events, ring);
	c->skel->rodata->dns_wakeup_bytes = ring / 4;
}

static int on_dns_record(void *ctx, void *data, size_t size)
{
	struct capture *c = ctx;
	const struct cr_dns_event *e = data;

	/* The record is the header plus a fixed-size slot; len must fit in it. */
	if (size < sizeof(*e) || e->len > size - sizeof(*e))
		return 0;
	c->dns_fn(c->dns_ctx, e, (const uint8_t *)(e + 1));
	return 0;
}

int capture_dns_start(struct capture *c, capture_dns_fn fn, void *ctx)
{
	int err;

	c->dns_fn = fn;
	c->dns_ctx = ctx;
	err = ring_buffer__add(c->rb, bpf_map__fd(c->skel->maps.dns_events), on_dns_record, c);
	if (err) {
		cr_err("cannot set up the DNS ring buffer: %s", strerror(-err));
		return err;
	}
	return 0;
}

int capture_dns_drops(struct capture *c, uint64_t out[CR_DNS_DROP_MAX])
{
	return capture_sum_percpu(bpf_map__fd(c->skel->maps.dns_drops), CR_DNS_DROP_MAX, 0, out);
}
