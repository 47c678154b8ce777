// SPDX-License-Identifier: MIT
#include "proc_capture.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "capture_internal.h"
#include "log.h"

_Static_assert(sizeof(struct cr_proc_event) == 96, "cr_proc_event layout changed");
_Static_assert(sizeof(struct cr_proc_exec_event) == 96 + 2 * 256, "exec record layout changed");

/* A seed walk that makes no progress this many times in a row gives up. */
#define SEED_MAX_STALLS 4

void proc_capture_configure(struct connrec_bpf *skel, const struct capture_opts *opts)
{
	uint32_t size = opts->proc_ring_size ? opts->proc_ring_size : PROC_CAPTURE_DEFAULT_RING_SIZE;

	bpf_map__set_max_entries(skel->maps.proc_events, size);
	skel->rodata->proc_wakeup_bytes = size / 4;
	if (opts->no_proc_events) {
		bpf_program__set_autoload(skel->progs.on_proc_fork, false);
		bpf_program__set_autoload(skel->progs.on_proc_exec, false);
		bpf_program__set_autoload(skel->progs.on_proc_exit, false);
		bpf_program__set_autoload(skel->progs.seed_procs, false);
	}
}

static int on_proc_record(void *ctx, void *data, size_t size)
{
	struct capture *c = ctx;

	if (size >= sizeof(struct cr_proc_event))
		c->proc_fn(c->proc_ctx, data, size);
	return 0;
}

int proc_capture_start(struct capture *c, proc_event_fn fn, void *ctx)
{
	c->proc_fn = fn;
	c->proc_ctx = ctx;
	if (ring_buffer__add(c->rb, bpf_map__fd(c->skel->maps.proc_events), on_proc_record, c)) {
		int err = -errno;

		cr_err("cannot set up the process-event ring: %s", strerror(-err));
		return err;
	}
	return 0;
}

int proc_capture_seed(struct capture *c)
{
	uint64_t skip = 0, sent = 0;
	int stalls = 0;

	if (bpf_program__fd(c->skel->progs.seed_procs) < 0)
		return 0; /* left out (--no-proc-events) */

	/* Each run walks until the ring is full; drain it and go on where it stopped. */
	while (stalls < SEED_MAX_STALLS) {
		uint64_t args[1] = { skip };
		LIBBPF_OPTS(bpf_test_run_opts, opts, .ctx_in = args, .ctx_size_in = sizeof(args));
		int err = bpf_prog_test_run_opts(bpf_program__fd(c->skel->progs.seed_procs), &opts);

		if (err) {
			cr_warn("cannot list the processes that already run (%s): their flows will "
				"name no executable",
				strerror(-err));
			return err;
		}
		sent += c->skel->bss->seed_sent;
		stalls = c->skel->bss->seed_sent ? 0 : stalls + 1;
		skip = c->skel->bss->seed_visited;
		ring_buffer__consume(c->rb);
		if (c->skel->bss->seed_done)
			return (int)(sent > INT32_MAX ? INT32_MAX : sent);
	}
	cr_warn("the process list walk made no progress (the ring stays full); %llu processes "
		"listed",
		(unsigned long long)sent);
	return (int)(sent > INT32_MAX ? INT32_MAX : sent);
}

int proc_capture_drops(struct capture *c, uint64_t lost[CR_PROC_DROP_MAX])
{
	int ncpu = libbpf_num_possible_cpus();
	uint64_t *vals;
	int err = 0;

	if (ncpu <= 0)
		return ncpu ? ncpu : -EINVAL;
	vals = calloc((size_t)ncpu, sizeof(*vals));
	if (!vals)
		return -ENOMEM;
	for (uint32_t k = 0; !err && k < CR_PROC_DROP_MAX; k++) {
		lost[k] = 0;
		if (bpf_map_lookup_elem(bpf_map__fd(c->skel->maps.proc_drops), &k, vals))
			err = -errno;
		for (int i = 0; !err && i < ncpu; i++)
			lost[k] += vals[i];
	}
	free(vals);
	return err;
}
