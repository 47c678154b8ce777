// SPDX-License-Identifier: MIT
/*
 * tpcount [--skb] [--no-counter] [--track hash|array]: the physical lines `make bench` and
 * bench/line.sh compare connrec with (bench/tpcount.bpf.c). Attaches the programs asked for,
 * prints "attached", waits for SIGINT or SIGTERM, prints what it counted and detaches.
 *
 *   (default)       a counter on raw_tp/inet_sock_set_state: the bare cost of observing it
 *   --skb           also two cgroup_skb programs (ingress, egress) that return "allow" at
 *                   once, at the cgroup v2 root (read from mountinfo): the dispatch floor of
 *                   the packet hooks connrec has there
 *   --no-counter    leaves the counter out
 *   --track MODE    instead of the counter, the least per-connection tracking a recorder
 *                   needs (a tracking entry per endpoint, one ring record at its close) with
 *                   the entries in a preallocated hash map (hash, as connrec) or an
 *                   open-addressing array (array), sized as connrec sizes its map; the ring
 *                   is drained every 50 ms
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "cgroupfs.h"
#include "tpcount.skel.h"

enum track { TRACK_NONE, TRACK_HASH, TRACK_ARRAY };

/* Attaches PROG to the cgroup v2 root into *LINK (the skeleton's destroy detaches it). */
static int attach_at_root(struct bpf_program *prog, int cgroup_fd, struct bpf_link **link)
{
	*link = bpf_program__attach_cgroup(prog, cgroup_fd);
	return *link ? 0 : -errno;
}

/* connrec's default capacity (recorder/capture.c): one TCP endpoint per 16 KiB of RAM. */
static unsigned int default_entries(void)
{
	FILE *f = fopen("/proc/meminfo", "re");
	unsigned long long kb = 0;
	char line[256];

	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "MemTotal: %llu kB", &kb) == 1)
			break;
	if (f)
		fclose(f);
	kb /= 16;
	if (kb < 65536)
		return 65536;
	return kb > (1u << 24) ? 1u << 24 : (unsigned int)kb;
}

static int count_record(void *ctx, void *data, size_t len)
{
	(void)data;
	(void)len;
	*(unsigned long long *)ctx += 1;
	return 0;
}

static unsigned long long counted(struct tpcount_bpf *skel, int ncpu)
{
	unsigned long long total = 0, *v = calloc((size_t)ncpu, sizeof(*v));
	__u32 k = 0;

	if (v && !bpf_map_lookup_elem(bpf_map__fd(skel->maps.runs), &k, v))
		for (int i = 0; i < ncpu; i++)
			total += v[i];
	free(v);
	return total;
}

static int usage(void)
{
	fprintf(stderr, "usage: tpcount [--skb] [--no-counter] [--track hash|array]\n");
	return 2;
}

int main(int argc, char **argv)
{
	const struct timespec tick = { .tv_nsec = 50 * 1000 * 1000 };
	int ncpu = libbpf_num_possible_cpus(), err = 0, cgroup_fd = -1;
	unsigned long long records = 0;
	struct tpcount_bpf *skel = NULL;
	struct ring_buffer *ring = NULL;
	bool skb = false, counter = true;
	enum track track = TRACK_NONE;
	unsigned int entries, slots = 1;
	char root[1024];
	sigset_t set;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--skb"))
			skb = true;
		else if (!strcmp(argv[i], "--no-counter"))
			counter = false;
		else if (!strcmp(argv[i], "--track") && i + 1 < argc && !strcmp(argv[i + 1], "hash"))
			track = TRACK_HASH, i++;
		else if (!strcmp(argv[i], "--track") && i + 1 < argc && !strcmp(argv[i + 1], "array"))
			track = TRACK_ARRAY, i++;
		else
			return usage();
	}
	if (track != TRACK_NONE)
		counter = false;
	skel = tpcount_bpf__open();
	if (!skel || ncpu < 1) {
		fprintf(stderr, "tpcount: cannot open the programs: %s\n", strerror(errno));
		return 1;
	}
	entries = default_entries();
	while (slots < entries)
		slots <<= 1;
	bpf_map__set_max_entries(skel->maps.flows, track == TRACK_HASH ? entries : 1);
	bpf_map__set_max_entries(skel->maps.slots, track == TRACK_ARRAY ? slots : 1);
	skel->rodata->track_array = track == TRACK_ARRAY;
	skel->rodata->slot_mask = slots - 1;
	bpf_program__set_autoload(skel->progs.count_state, counter);
	bpf_program__set_autoload(skel->progs.track_state, track != TRACK_NONE);
	bpf_program__set_autoload(skel->progs.pass_ingress, skb);
	bpf_program__set_autoload(skel->progs.pass_egress, skb);
	err = tpcount_bpf__load(skel);
	if (err) {
		fprintf(stderr, "tpcount: cannot load: %s\n", strerror(-err));
		goto out;
	}
	ring = ring_buffer__new(bpf_map__fd(skel->maps.records), count_record, &records, NULL);
	if (!ring) {
		err = -errno;
		fprintf(stderr, "tpcount: cannot open the ring: %s\n", strerror(-err));
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
	if (!err && track != TRACK_NONE) {
		skel->links.track_state = bpf_program__attach(skel->progs.track_state);
		if (!skel->links.track_state)
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
	while (sigtimedwait(&set, NULL, &tick) < 0 && (errno == EAGAIN || errno == EINTR))
		ring_buffer__consume(ring);
	ring_buffer__consume(ring);
	if (counter)
		printf("runs %llu\n", counted(skel, ncpu));
	if (track != TRACK_NONE)
		printf("records %llu\n", records);
out:
	ring_buffer__free(ring);
	if (cgroup_fd >= 0)
		close(cgroup_fd);
	tpcount_bpf__destroy(skel);
	return err ? 1 : 0;
}
