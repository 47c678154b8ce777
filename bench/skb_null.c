// SPDX-License-Identifier: MIT
/*
 * skb_null: attach bench/skb_null.bpf.c (cgroup_skb programs that return 1 at once) at the
 * cgroup v2 root, read from mountinfo; print "attached", wait for SIGINT or SIGTERM, detach.
 * bench/skb_bench.sh measures a transfer under it: the floor of what connrec's hooks can cost.
 *
 *   skb_null [--ingress-only | --egress-only] [--legacy] [--syscall-tp]
 *
 * By default both programs are attached through bpf_links, which the kernel detaches when
 * the process ends however it ends (kill -9 included). --legacy attaches them with
 * BPF_PROG_ATTACH and BPF_F_ALLOW_MULTI instead, to compare the two ways; such an attachment
 * outlives the process, so it is detached on SIGINT, SIGTERM and errors, but a kill -9 would
 * leave it: use it only by hand. --syscall-tp also attaches a program that returns at once to
 * the syscalls/sys_exit_connect tracepoint (through a bpf_link), as connrec attaches to such
 * exits: with it, every syscall of every process takes the tracing path.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "cgroupfs.h"
#include "skb_null.skel.h"

struct attach {
	struct bpf_program *prog;
	enum bpf_attach_type type;
	struct bpf_link *link;
	int legacy; /* attached by BPF_PROG_ATTACH: detach by hand */
};

static int attach_one(struct attach *a, int cg, int legacy)
{
	if (!legacy) {
		a->link = bpf_program__attach_cgroup(a->prog, cg);
		return a->link ? 0 : -errno;
	}
	if (bpf_prog_attach(bpf_program__fd(a->prog), cg, a->type, BPF_F_ALLOW_MULTI))
		return -errno;
	a->legacy = 1;
	return 0;
}

static void detach_one(struct attach *a, int cg)
{
	bpf_link__destroy(a->link);
	a->link = NULL;
	if (a->legacy && bpf_prog_detach2(bpf_program__fd(a->prog), cg, a->type))
		fprintf(stderr, "skb_null: detach: %s\n", strerror(errno));
	a->legacy = 0;
}

int main(int argc, char **argv)
{
	struct skb_null_bpf *skel = NULL;
	struct attach at[2] = { 0 };
	int want_in = 1, want_out = 1, legacy = 0, want_tp = 0, cg = -1, sig = 0, err = 0, rc = 1;
	struct bpf_link *tp = NULL;
	char root[PATH_MAX];
	sigset_t set;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--ingress-only"))
			want_out = 0;
		else if (!strcmp(argv[i], "--egress-only"))
			want_in = 0;
		else if (!strcmp(argv[i], "--legacy"))
			legacy = 1;
		else if (!strcmp(argv[i], "--syscall-tp"))
			want_tp = 1;
		else {
			fprintf(stderr, "usage: skb_null [--ingress-only | --egress-only] [--legacy] "
					"[--syscall-tp]\n");
			return 2;
		}
	}
	if (!want_in && !want_out) {
		fprintf(stderr, "skb_null: --ingress-only and --egress-only exclude each other\n");
		return 2;
	}
	/* Signals wait for sigwait from here on, so none can end us between attach and detach. */
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigprocmask(SIG_BLOCK, &set, NULL);
	err = cgroupfs_root(root, sizeof(root));
	if (err) {
		fprintf(stderr, "skb_null: no cgroup v2 root: %s\n", strerror(-err));
		goto cleanup;
	}
	cg = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	skel = skb_null_bpf__open();
	if (skel && !want_tp)
		bpf_program__set_autoload(skel->progs.null_sys_exit, false);
	if (skel && skb_null_bpf__load(skel)) {
		skb_null_bpf__destroy(skel);
		skel = NULL;
	}
	if (cg < 0 || !skel) {
		fprintf(stderr, "skb_null: %s: %s\n", cg < 0 ? root : "load", strerror(errno));
		goto cleanup;
	}
	at[0] = (struct attach){ .prog = skel->progs.null_ingress, .type = BPF_CGROUP_INET_INGRESS };
	at[1] = (struct attach){ .prog = skel->progs.null_egress, .type = BPF_CGROUP_INET_EGRESS };
	if ((want_in && (err = attach_one(&at[0], cg, legacy))) ||
	    (want_out && (err = attach_one(&at[1], cg, legacy)))) {
		fprintf(stderr, "skb_null: attach at %s: %s\n", root, strerror(-err));
		goto cleanup;
	}
	if (want_tp) {
		tp = bpf_program__attach(skel->progs.null_sys_exit);
		if (!tp) {
			fprintf(stderr, "skb_null: attach sys_exit_connect: %s\n", strerror(errno));
			goto cleanup;
		}
	}
	printf("attached\n");
	fflush(stdout);
	sigwait(&set, &sig);
	rc = 0;
cleanup:
	bpf_link__destroy(tp);
	if (cg >= 0) {
		detach_one(&at[1], cg);
		detach_one(&at[0], cg);
		close(cg);
	}
	skb_null_bpf__destroy(skel);
	return rc;
}
