// SPDX-License-Identifier: MIT
/*
 * libFuzzer target: opening a store file and reading every row, on arbitrary bytes (seeded
 * with real segments). Each input is written to a private file, opened as a .db and, when it
 * starts like zstd, as a .db.zst, through the same hardened path `connrec query` uses.
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store_read.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char dir[64];

static int on_conn(const struct sr_conn *r, void *ctx)
{
	(void)ctx;
	return r->laddr_len > 255 ? 1 : 0;
}

static int on_gap(const struct sr_gap *g, void *ctx)
{
	(void)g;
	(void)ctx;
	return 0;
}

static int on_run(const struct sr_run *r, void *ctx)
{
	(void)r;
	(void)ctx;
	return 0;
}

static void try_open(const char *path)
{
	struct sr_open_opts o = { .max_unpacked = 8 << 20 };
	struct sr_segment *seg;
	struct sr_conn_filter f;
	struct addr_port_range pr = { 1, 60000 };
	char err[256];

	if (sr_open(path, &o, &seg, err, sizeof(err)))
		return;
	sr_conn_filter_init(&f);
	sr_conns(seg, &f, on_conn, NULL);
	f.since = 1000;
	f.until = 1LL << 62;
	f.ports = &pr;
	f.n_ports = 1;
	f.comm = "c*";
	sr_conns(seg, &f, on_conn, NULL);
	sr_gaps(seg, SR_NO_TIME, SR_TIME_MAX, on_gap, NULL);
	sr_runs(seg, on_run, NULL);
	sr_close(seg);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char path[128];
	int fd;

	if (!dir[0]) {
		snprintf(dir, sizeof(dir), "/tmp/connrec-fuzz.XXXXXX");
		if (!mkdtemp(dir))
			abort();
	}
	snprintf(path, sizeof(path), "%s/%s", dir,
		 size >= 4 && !memcmp(data, "\x28\xb5\x2f\xfd", 4) ? "in.db.zst" : "in.db");
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0)
		abort();
	if (write(fd, data, size) != (ssize_t)size)
		abort();
	close(fd);
	try_open(path);
	unlink(path);
	return 0;
}
