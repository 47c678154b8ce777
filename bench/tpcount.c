// SPDX-License-Identifier: MIT
/*
 * tpcount: attach bench/tpcount.bpf.c (a counter on raw_tp/inet_sock_set_state), print
 * "attached", wait for SIGINT or SIGTERM, print the count and detach. `make bench` runs the
 * storm under it to measure the bare cost of observing the tracepoint.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "tpcount.skel.h"

int main(void)
{
	struct tpcount_bpf *skel = tpcount_bpf__open_and_load();
	unsigned long long total = 0;
	int ncpu = libbpf_num_possible_cpus(), sig = 0, err;
	sigset_t set;
	__u32 k = 0;

	if (!skel || ncpu < 1) {
		fprintf(stderr, "tpcount: cannot load the counter: %s\n", strerror(errno));
		return 1;
	}
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigprocmask(SIG_BLOCK, &set, NULL);
	err = tpcount_bpf__attach(skel);
	if (err) {
		fprintf(stderr, "tpcount: cannot attach: %s\n", strerror(-err));
		tpcount_bpf__destroy(skel);
		return 1;
	}
	printf("attached\n");
	fflush(stdout);
	sigwait(&set, &sig);
	{
		unsigned long long *v = calloc((size_t)ncpu, sizeof(*v));

		if (v && !bpf_map_lookup_elem(bpf_map__fd(skel->maps.runs), &k, v))
			for (int i = 0; i < ncpu; i++)
				total += v[i];
		free(v);
	}
	printf("runs %llu\n", total);
	tpcount_bpf__destroy(skel);
	return 0;
}
