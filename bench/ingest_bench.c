// SPDX-License-Identifier: MIT
/*
 * ingest_bench: the recorder's userspace cost per flow, without BPF or traffic. It feeds
 * synthetic events through ingest and the store exactly as the recorder does, committing
 * every BATCH events, and reports CPU time per flow. As in a loopback storm, each short flow
 * is one CLOSE record that carries it whole, and flows end in a different order from the one
 * they began in (and took their ids in): shuffled within windows of SPREAD flows. Single-
 * threaded and deterministic, so it can compare two builds on a noisy machine.
 *
 *   ingest_bench [FLOWS [BATCH [SPREAD [CKPT_MS]]]]     (defaults 500000, 20000, 32, 0)
 *
 * CKPT_MS > 0 cuts a checkpoint that often (the recorder's default is 15 minutes): the rows
 * committed below the last cut's marks are then listed in ckpt_late, and the sealing thread
 * hashes the segment.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "connrec_event.h"
#include "ingest.h"
#include "log.h"
#include "store.h"

static uint64_t next_id = 1;

static uint64_t new_id(void *ctx)
{
	(void)ctx;
	return next_id++;
}

static double cpu_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static unsigned long arg(int argc, char **argv, int i, unsigned long def)
{
	char *end;
	unsigned long v;

	if (argc <= i)
		return def;
	errno = 0;
	v = strtoul(argv[i], &end, 10);
	if (errno || *end || !v) {
		fprintf(stderr, "ingest_bench: bad number '%s'\n", argv[i]);
		exit(2);
	}
	return v;
}

int main(int argc, char **argv)
{
	unsigned long flows = arg(argc, argv, 1, 500000), batch = arg(argc, argv, 2, 20000);
	unsigned long spread = arg(argc, argv, 3, 32), perm[4096];
	unsigned long ckpt_ms = arg(argc, argv, 4, 0);
	uint64_t lcg = 1, first_id;
	char dir[] = "/tmp/connrec-ingest-bench.XXXXXX";
	struct store_opts so = { .version = "bench" };
	struct cr_event e = { 0 };
	struct store *store = NULL;
	struct ingest *g = NULL;
	unsigned long events = 0;
	double t0, t1;
	int err;

	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	so.dir = dir;
	so.checkpoint_every_ns = (int64_t)ckpt_ms * 1000000;
	err = store_open(&store, &so);
	if (!err)
		err = ingest_new(&g, store, new_id, NULL);
	if (err) {
		fprintf(stderr, "ingest_bench: setup failed: %s\n", strerror(-err));
		return 1;
	}
	if (spread > sizeof(perm) / sizeof(perm[0])) {
		fprintf(stderr, "ingest_bench: SPREAD is at most %zu\n", sizeof(perm) / sizeof(perm[0]));
		return 2;
	}
	first_id = next_id;
	next_id += flows;
	e.proto = 6;
	e.family = 4;
	e.netns = 4026531840u;
	e.uid = 0;
	e.pid = 4242;
	e.cgroup_id = 1;
	memcpy(e.comm, "storm", 6);
	e.laddr[0] = 127, e.laddr[3] = 1;
	e.raddr[0] = 127, e.raddr[3] = 1;
	t0 = cpu_s();
	for (unsigned long base = 0; base < flows; base += spread) {
		unsigned long n = flows - base < spread ? flows - base : spread;

		/* Fisher-Yates with a fixed LCG: the same order every run. */
		for (unsigned long k = 0; k < n; k++)
			perm[k] = k;
		for (unsigned long k = n - 1; k > 0; k--) {
			unsigned long j, t;

			lcg = lcg * 6364136223846793005ull + 1442695040888963407ull;
			j = (unsigned long)(lcg >> 33) % (k + 1);
			t = perm[k], perm[k] = perm[j], perm[j] = t;
		}
		for (unsigned long k = 0; k < n; k++) {
			unsigned long i = base + perm[k];
			uint64_t start = 1000000000ull + i * 20000ull;

			e.kind = CR_EV_CLOSE;
			e.conn_id = first_id + i;
			e.start_boot_ns = start;
			e.ts_boot_ns = start + 150000;
			e.direction = i & 1;
			e.lport = (uint16_t)(32768 + i % 28000);
			e.rport = 8080;
			e.end_reason = CR_END_LOCAL_FIN;
			e.bytes_out = 120;
			e.bytes_in = 4000;
			ingest_event(g, &e);
			if (++events % batch == 0 && (err = ingest_commit(g))) {
				fprintf(stderr, "ingest_bench: commit failed: %s\n", strerror(-err));
				return 1;
			}
		}
	}
	err = ingest_commit(g);
	t1 = cpu_s();
	printf("{\"flows\":%lu,\"batch\":%lu,\"spread\":%lu,\"cpu_s\":%.3f,\"us_per_flow\":%.3f}\n",
	       flows, batch, spread, t1 - t0, (t1 - t0) * 1e6 / (double)flows);
	ingest_free(g);
	store_close(store);
	{
		char cmd[128];

		snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
		if (system(cmd))
			err = -EIO;
	}
	return err ? 1 : 0;
}
