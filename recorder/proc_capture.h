/* SPDX-License-Identifier: MIT */
/*
 * proc_capture: the BPF side of process lives (bpf/proc.bpf.h), on top of capture's object:
 * the process-event ring, the start-up seed walk and the loss counter. One capture_poll()
 * serves both rings.
 */
#ifndef CONNREC_PROC_CAPTURE_H
#define CONNREC_PROC_CAPTURE_H

#include <stddef.h>
#include <stdint.h>

#include "capture.h"
#include "proc_event.h"

#define PROC_CAPTURE_DEFAULT_RING_SIZE (2u << 20)

/* Called for every record: a struct cr_proc_event, or a cr_proc_exec_event for an exec. */
typedef void (*proc_event_fn)(void *ctx, const void *data, size_t size);

/* Start delivering process events to fn (from the next capture_poll/capture_drain on). */
int proc_capture_start(struct capture *c, proc_event_fn fn, void *ctx);

/*
 * Report every process that exists now as a CR_PROC_SEED record, delivered to fn before this
 * returns. Call after capture_open, so that a process started meanwhile is seen either way.
 * Returns the number reported or -errno.
 */
int proc_capture_seed(struct capture *c);

/* Process events lost to a full ring so far (summed over CPUs), by kind (enum cr_proc_kind). */
int proc_capture_drops(struct capture *c, uint64_t lost[CR_PROC_DROP_MAX]);

#endif /* CONNREC_PROC_CAPTURE_H */
