// SPDX-License-Identifier: MIT
/*
 * tpcount [--skb] [--no-counter]: attach bench/tpcount.bpf.c (a counter on
 * raw_tp/inet_sock_set_state), print "attached", wait for SIGINT or SIGTERM, print the count
 * and detach. `make bench` runs the storm under it to measure the bare cost of observing the
 * tracepoint. --skb also attaches a pair of cgroup_skb programs (ingress and egress) that
 * return "allow" at once, at the cgroup v2 root (read from mountinfo): the dispatch floor of
 * the packet hooks connrec has there (bench/line.sh). --no-counter leaves the counter out.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "cgroupfs.h"
#include "tpcount.skel.h"

/* Attaches PROG to the cgroup v2 root into *LINK (the skeleton's destroy detaches it). */
static int attach_at_root(struct bpf_program *prog, int cgroup_fd, struct bpf_link **link)
{
	*link = bpf_program__attach_cgroup(prog, cgroup_fd);
	return *link ? 0 : -errno;
}

int main(int argc, char **argv)
{
	struct tpcount_bpf *skel = NULL;
	unsigned long long total = 0;
	int ncpu = libbpf_num_possible_cpus(), sig = 0, err = 0, cgroup_fd = -1;
	bool skb = false, counter = true;
	char root[1024];
	sigset_t set;
	__u32 k = 0;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--skb")) {
			skb = true;
		} else if (!strcmp(argv[i], "--no-counter")) {
			counter = false;
		} else {
			fprintf(stderr, "usage: tpcount [--skb] [--no-counter]\n");
			return 2;
		}
	}
	skel = tpcount_bpf__open();
	if (!skel || ncpu < 1) {
		fprintf(stderr, "tpcount: cannot open the counter: %s\n", strerror(errno));
		return 1;
	}
	bpf_program__set_autoload(skel->progs.count_state, counter);
	bpf_program__set_autoload(skel->progs.pass_ingress, skb);
	bpf_program__set_autoload(skel->progs.pass_egress, skb);
	err = tpcount_bpf__load(skel);
	if (err) {
		fprintf(stderr, "tpcount: cannot load: %s\n", strerror(-err));
		goto out;
	}
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigprocmask(SIG_BLOCK, &set, NULL);
	if (counter) {
		skel->links.count_state = bpf_program__attach(skel->progs.count_state);
		if (!skel->links.count_state)
			err = -errno;
	}
	if (!err && skb) {
		err = cgroupfs_root(root, sizeof(root));
		if (!err) {
			cgroup_fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
			err = cgroup_fd < 0 ? -errno : 0;
		}
		if (!err)
			err = attach_at_root(skel->progs.pass_ingress, cgroup_fd,
					     &skel->links.pass_ingress);
		if (!err)
			err = attach_at_root(skel->progs.pass_egress, cgroup_fd,
					     &skel->links.pass_egress);
	}
	if (err) {
		fprintf(stderr, "tpcount: cannot attach: %s\n", strerror(-err));
		goto out;
	}
	printf("attached\n");
	fflush(stdout);
	sigwait(&set, &sig);
	{
		unsigned long long *v = calloc((size_t)ncpu, sizeof(*v));

		if (v && counter && !bpf_map_lookup_elem(bpf_map__fd(skel->maps.runs), &k, v))
			for (int i = 0; i < ncpu; i++)
				total += v[i];
		free(v);
	}
	printf("runs %llu\n", total);
out:
	if (cgroup_fd >= 0)
		close(cgroup_fd);
	tpcount_bpf__destroy(skel);
	return err ? 1 : 0;
}
