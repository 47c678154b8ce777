/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Process lives, from the scheduler's tracepoints only (no kprobes on these hosts). Included
 * from connrec.bpf.c after its headers; the ABI is proc_event.h.
 *
 *   raw_tp/sched_process_fork  a new process (threads are left out): its key and its parent's
 *   raw_tp/sched_process_exec  the path exec was given and the new image's arguments
 *   raw_tp/sched_process_exit  the last thread of a process is gone
 *   seed_procs (run on demand) every process that already exists, from the kernel's list
 *
 * raw_tp attaches by name, so none of this needs tracefs. Events go to their own ring; a full
 * ring is counted in proc_drops and the recorder stores the count as a gap.
 */
#include "proc_event.h"

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 2 << 20); /* userspace sets it before load */
} proc_events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, CR_PROC_DROP_MAX);
	__type(key, __u32);
	__type(value, __u64);
} proc_drops SEC(".maps");

/* Wake the consumer only when this much is waiting (userspace sets a quarter of the ring). */
const volatile __u64 proc_wakeup_bytes = 512 * 1024;

static __always_inline void proc_count_drop(__u32 kind)
{
	__u64 *n = bpf_map_lookup_elem(&proc_drops, &kind);

	if (n)
		*n += 1;
}

static __always_inline void proc_submit(void *rec)
{
	__u64 avail = bpf_ringbuf_query(&proc_events, BPF_RB_AVAIL_DATA);

	bpf_ringbuf_submit(rec, avail >= proc_wakeup_bytes ? BPF_RB_FORCE_WAKEUP : BPF_RB_NO_WAKEUP);
}

static __always_inline __u64 task_cgroup_id(struct task_struct *t)
{
	return BPF_CORE_READ(t, cgroups, dfl_cgrp, kn, id);
}

/*
 * The identity of process T (a group leader, or any thread of it) and of the process that
 * forked it. real_parent is the forking thread; its group leader names the parent process.
 */
static __always_inline void proc_identity(struct cr_proc_event *e, struct task_struct *t)
{
	struct task_struct *leader = BPF_CORE_READ(t, group_leader);
	struct task_struct *parent = BPF_CORE_READ(t, real_parent, group_leader);

	e->pid = BPF_CORE_READ(t, tgid);
	e->pstart_ns = BPF_CORE_READ(leader, start_time);
	e->start_boot_ns = BPF_CORE_READ(leader, start_boottime);
	e->uid = BPF_CORE_READ(t, cred, uid.val);
	e->cgroup_id = task_cgroup_id(t);
	BPF_CORE_READ_STR_INTO(&e->comm, leader, comm);
	e->ppid = BPF_CORE_READ(parent, tgid);
	e->ppstart_ns = BPF_CORE_READ(parent, start_time);
	BPF_CORE_READ_STR_INTO(&e->pcomm, parent, comm);
}

static __always_inline struct cr_proc_event *proc_reserve(__u64 size, __u8 kind)
{
	struct cr_proc_event *e = bpf_ringbuf_reserve(&proc_events, size, 0);

	if (!e) {
		proc_count_drop(kind);
		return NULL;
	}
	__builtin_memset(e, 0, sizeof(*e));
	e->kind = kind;
	e->ts_boot_ns = bpf_ktime_get_boot_ns();
	return e;
}

SEC("raw_tp/sched_process_fork")
int BPF_PROG(on_proc_fork, struct task_struct *parent, struct task_struct *child)
{
	struct cr_proc_event *e;

	/* A new thread is not a new process. */
	if (BPF_CORE_READ(child, pid) != BPF_CORE_READ(child, tgid))
		return 0;
	e = proc_reserve(sizeof(*e), CR_PROC_FORK);
	if (!e)
		return 0;
	proc_identity(e, child);
	proc_submit(e);
	return 0;
}

/* argv of the new image: [arg_start, arg_end) of its fresh stack, NUL-separated. */
static __always_inline void exec_args(struct cr_proc_exec_event *e, struct task_struct *t)
{
	struct mm_struct *mm = BPF_CORE_READ(t, mm);
	unsigned long start = BPF_CORE_READ(mm, arg_start);
	unsigned long end = BPF_CORE_READ(mm, arg_end);
	__u64 len = end > start ? end - start : 0;

	if (len > CR_PROC_ARGS_LEN) {
		len = CR_PROC_ARGS_LEN;
		e->h.flags |= CR_PROC_ARGS_CUT;
	}
	if (!len)
		return;
	/* Runs as the exec'ing task, so this is the new image's memory. */
	if (bpf_probe_read_user(e->x.args, len, (const void *)start)) {
		e->h.flags |= CR_PROC_NO_ARGS;
		return;
	}
	e->h.args_len = (__u16)len;
}

SEC("raw_tp/sched_process_exec")
int BPF_PROG(on_proc_exec, struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm)
{
	struct cr_proc_exec_event *e;
	const char *filename;
	long n;
	char c = 0;

	e = (struct cr_proc_exec_event *)proc_reserve(sizeof(*e), CR_PROC_EXEC);
	if (!e)
		return 0;
	proc_identity(&e->h, p);
	/* The parent is known from the fork; here ppid carries the pid before exec. */
	e->h.ppid = old_pid;
	e->h.ppstart_ns = 0;
	__builtin_memset(e->h.pcomm, 0, sizeof(e->h.pcomm));

	filename = BPF_CORE_READ(bprm, filename);
	n = bpf_probe_read_kernel_str(e->x.path, sizeof(e->x.path), filename);
	if (n > 0) {
		e->h.path_len = (__u16)(n - 1);
		/* A full buffer may have cut the path: look at the byte after it. */
		if (n == sizeof(e->x.path) &&
		    !bpf_probe_read_kernel(&c, 1, filename + sizeof(e->x.path) - 1) && c)
			e->h.flags |= CR_PROC_PATH_CUT;
	}
	exec_args(e, p);
	proc_submit(e);
	return 0;
}

SEC("raw_tp/sched_process_exit")
int BPF_PROG(on_proc_exit, struct task_struct *p)
{
	struct cr_proc_event *e;

	/* do_exit() has already counted this thread out: a live count of 0 means the last. */
	if (BPF_CORE_READ(p, signal, live.counter) != 0)
		return 0;
	e = proc_reserve(sizeof(*e), CR_PROC_EXIT);
	if (!e)
		return 0;
	e->pid = BPF_CORE_READ(p, tgid);
	e->pstart_ns = BPF_CORE_READ(p, group_leader, start_time);
	e->exit_code = BPF_CORE_READ(p, exit_code);
	proc_submit(e);
	return 0;
}

/* ---- the seed walk ---- */

/* Set by seed_procs for the recorder: where the walk stopped and why. */
__u64 seed_visited; /* processes passed, counting the skipped ones */
__u64 seed_sent;    /* records put into the ring by this run */
__u32 seed_done;    /* 1: the walk came back to its start; 0: the ring filled first */

struct seed_walk {
	struct list_head *head; /* the recorder's own entry in the process list */
	struct list_head *cur;
	__u64 skip;
};

static long seed_step(__u64 i, struct seed_walk *w)
{
	unsigned long off = bpf_core_field_offset(struct task_struct, tasks);
	struct list_head *cur = w->cur; /* a plain load: seed_walk is not a kernel type */
	struct list_head *next = BPF_CORE_READ(cur, next);
	struct task_struct *t;
	struct cr_proc_event *e;

	(void)i;
	if (!next) {
		seed_done = 1; /* cannot happen in a circular list; ends the walk all the same */
		return 1;
	}
	w->cur = next;
	t = (struct task_struct *)((void *)next - off);
	seed_visited++;
	/* pid 0 is the idle task; a group with no live thread is a zombie: it exited. */
	if (seed_visited > w->skip && BPF_CORE_READ(t, tgid) &&
	    BPF_CORE_READ(t, signal, live.counter) != 0) {
		e = bpf_ringbuf_reserve(&proc_events, sizeof(*e), 0);
		if (!e) {
			seed_visited--; /* not sent: the next run starts here */
			return 1;
		}
		__builtin_memset(e, 0, sizeof(*e));
		e->kind = CR_PROC_SEED;
		e->ts_boot_ns = bpf_ktime_get_boot_ns();
		proc_identity(e, t);
		bpf_ringbuf_submit(e, BPF_RB_NO_WAKEUP);
		seed_sent++;
	}
	/* Back at the recorder's own entry (just visited, last): every process was seen. */
	if (next == w->head) {
		seed_done = 1;
		return 1;
	}
	return 0;
}

/*
 * Not attached: the recorder runs it (BPF_PROG_TEST_RUN) after the tracepoints are attached.
 * It walks the kernel's process list (init_task.tasks, the group leaders; RCU-protected, and
 * a test run holds the RCU read lock), leaving out the first SKIP processes, and stops when
 * the ring is full so that the recorder can drain it and run it again with a larger SKIP.
 */
SEC("raw_tp")
int BPF_PROG(seed_procs, __u64 skip)
{
	struct task_struct *me = bpf_get_current_task_btf();
	unsigned long off = bpf_core_field_offset(struct task_struct, tasks);
	struct seed_walk w;

	w.head = (struct list_head *)((void *)BPF_CORE_READ(me, group_leader) + off);
	w.cur = w.head;
	w.skip = skip;
	seed_visited = 0;
	seed_sent = 0;
	seed_done = 0;
	/* pid_max is at most 4M: a bound the walk never reaches, so it cannot spin forever. */
	bpf_loop(1 << 22, seed_step, &w, 0);
	return 0;
}
