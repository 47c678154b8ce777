/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The process-event ABI between bpf/proc.bpf.h and the recorder (recorder/proc_ingest.c).
 * Process events travel on their own ring buffer (proc_events), so a storm of execs can
 * never crowd connection events out of theirs, and the other way round.
 *
 * A process life is keyed by (pid, pstart_ns): pstart_ns is the thread-group leader's
 * task->start_time (CLOCK_MONOTONIC nanoseconds at fork). A pid is reused, its start time
 * with it never, so the pair names one life for the whole boot.
 *
 * Records have two sizes: fork, exit and seed records are the fixed header; an exec record
 * is the header followed by the path and the argument bytes. Fixed-width fields and explicit
 * padding only, as in connrec_event.h.
 */
#ifndef CONNREC_PROC_EVENT_H
#define CONNREC_PROC_EVENT_H

#ifndef __bpf__
#include <linux/types.h>
#endif

#define CR_PROC_COMM_LEN 16
#define CR_PROC_PATH_LEN 256 /* bytes of the exec'd path kept, NUL included */
#define CR_PROC_ARGS_LEN 256 /* bytes of the command line kept (NUL-separated arguments) */

enum cr_proc_kind {
	CR_PROC_FORK = 1, /* a new process (not a thread): child's identity, parent's key */
	CR_PROC_EXEC = 2, /* an exec: header + struct cr_proc_exec */
	CR_PROC_EXIT = 3, /* the last thread of a process exited */
	CR_PROC_SEED = 4, /* a process that existed at start (the seed walk, run on demand) */
};

/* cr_proc_event.flags */
#define CR_PROC_ARGS_CUT 0x1 /* the command line was longer than CR_PROC_ARGS_LEN */
#define CR_PROC_PATH_CUT 0x2 /* the path was longer than CR_PROC_PATH_LEN - 1 */
#define CR_PROC_NO_ARGS 0x4  /* the arguments could not be read */

struct cr_proc_event {
	__u64 ts_boot_ns;    /* bpf_ktime_get_boot_ns() at the event */
	__u64 pstart_ns;     /* the process key: group leader's start_time (monotonic) */
	__u64 start_boot_ns; /* the same instant on the boot-time clock (for wall time) */
	__u64 ppstart_ns;    /* the parent's key (fork, seed); 0 when unknown */
	__u64 cgroup_id;     /* cgroup v2 id */
	__u32 pid;	     /* tgid */
	__u32 ppid;	     /* parent's tgid (fork, seed); exec: the pid before exec (old_pid) */
	__u32 uid;
	__u32 exit_code; /* exit: the wait status (code << 8 | signal) */
	__u8 kind;	 /* enum cr_proc_kind */
	__u8 flags;	 /* CR_PROC_* */
	__u16 path_len;	 /* exec: bytes in path, without the NUL */
	__u16 args_len;	 /* exec: bytes in args */
	__u8 pad[2];
	char comm[CR_PROC_COMM_LEN];  /* the process name (group leader's) */
	char pcomm[CR_PROC_COMM_LEN]; /* fork, seed: the parent's name */
};

/* What follows the header in a CR_PROC_EXEC record. */
struct cr_proc_exec {
	char path[CR_PROC_PATH_LEN]; /* the path exec was given (the tracepoint's filename) */
	char args[CR_PROC_ARGS_LEN]; /* argv as the new image has it, NUL-separated */
};

struct cr_proc_exec_event {
	struct cr_proc_event h;
	struct cr_proc_exec x;
};

/* proc_drops, counted per CPU in BPF: events lost to a full ring, indexed by their kind. */
#define CR_PROC_DROP_MAX (CR_PROC_SEED + 1)

#endif /* CONNREC_PROC_EVENT_H */
