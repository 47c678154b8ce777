// SPDX-License-Identifier: MIT
/*
 * libFuzzer target: opening a store file and reading every row, on arbitrary bytes (seeded
 * with real segments). Each input is written to a private file, opened as a .db and, when it
 * starts like zstd, as a .db.zst, through the same hardened path `connrec query` uses.
 *
 * An input that starts with "CRSC" also brings sidecar files, which are just as hostile:
 *   "CRSC" u8 mask (1 -wal, 2 -shm, 4 -journal), then the .db and each sidecar in that order,
 *   each as a u32 little-endian length and its bytes (the last one takes the rest).
 * After each open, the directory must hold exactly what was written, unchanged: reading
 * evidence never writes, creates or deletes anything beside it. Nor elsewhere: the file
 * "victim" in the working directory, which a seed's hot journal names as its super-journal,
 * must survive.
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
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
	struct addr_port_range pr = { 1, 60000 }, many[10];
	struct addr_cidr cidrs[6] = {
		{ .family = 4, .prefix = 8, .addr = { 10 } },
		{ .family = 6, .prefix = 0 },
		{ .family = 6, .prefix = 120, .addr = { [10] = 0xff, [11] = 0xff, 192, 168 } },
		{ .family = 4, .prefix = 32, .addr = { 127, 0, 0, 1 } },
		{ .family = 6, .prefix = 128, .addr = { [15] = 1 } },
		{ .family = 4, .prefix = 16, .addr = { 172, 16 } },
	};
	uint32_t pids[3] = { 1, 300, 4000 };
	struct sr_meta meta;
	char err[256];

	/* Planning's cheap read of the meta (a .zst's first pages, in memory) first. */
	sr_read_meta(path, &o, &meta, err, sizeof(err));
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
	/* Lists: written out in SQL when short, tested by the set functions when long. */
	for (int i = 0; i < 10; i++)
		many[i] = (struct addr_port_range){ (uint16_t)(i * 100), (uint16_t)(i * 100 + 50) };
	sr_conn_filter_init(&f);
	f.ports = many;
	f.n_ports = 10;
	f.addrs = cidrs;
	f.n_addrs = 2;
	sr_conns(seg, &f, on_conn, NULL);
	f.n_ports = 2;
	f.n_addrs = 6;
	f.pids = pids;
	f.n_pids = 3;
	sr_conns(seg, &f, on_conn, NULL);
	sr_gaps(seg, SR_NO_TIME, SR_TIME_MAX, on_gap, NULL);
	sr_runs(seg, on_run, NULL);
	sr_close(seg);

	/*
	 * Again as if the hash chain vouched for it (its end zones and conn_whole taken at their
	 * word) and checked in a thread of its own, as query opens the active segment: windows
	 * from each zone's end, read and counted while the check runs.
	 */
	o.flags = SR_OPEN_VOUCHED | SR_OPEN_CHECK_AHEAD;
	if (sr_open(path, &o, &seg, err, sizeof(err)))
		return;
	sr_conn_filter_init(&f);
	for (unsigned j = 0; j <= sr_meta(seg)->zones.n && j < 4; j++) {
		const struct sr_meta *m = sr_meta(seg);
		uint64_t n;

		f.since = j < m->zones.n ? m->zones.end[j] : m->first_ns / 2 + m->last_ns / 2;
		f.skip_folded = false;
		sr_conns(seg, &f, on_conn, NULL);
		sr_count_folded(seg, &f, &n);
		f.skip_folded = true;
		sr_conns(seg, &f, on_conn, NULL);
	}
	sr_check_wait(seg, err, sizeof(err));
	sr_close(seg);
}

static const char *const side_sfx[] = { "-wal", "-shm", "-journal" };

struct file {
	char path[160];
	const uint8_t *data;
	size_t size;
};

static void write_file(const struct file *f)
{
	int fd = open(f->path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	if (fd < 0)
		abort();
	if (write(fd, f->data, f->size) != (ssize_t)f->size)
		abort();
	close(fd);
}

/* The next part of a CRSC input: a u32 length and that many bytes, or the rest when last. */
static void take(const uint8_t **p, size_t *left, bool last, struct file *f)
{
	uint32_t len = 0;

	if (!last && *left >= 4) {
		memcpy(&len, *p, 4);
		*p += 4;
		*left -= 4;
	}
	if (last || len > *left)
		len = (uint32_t)*left;
	f->data = *p;
	f->size = len;
	*p += len;
	*left -= len;
}

/* The files of one input: [0] the segment, then its sidecars. Returns how many. */
static size_t split_input(const uint8_t *data, size_t size, struct file files[4])
{
	const uint8_t *p = data + 5;
	size_t left = size - 5, n = 1;
	unsigned mask;

	if (size < 5 || memcmp(data, "CRSC", 4)) {
		files[0].data = data;
		files[0].size = size;
		snprintf(files[0].path, sizeof(files[0].path), "%s/%s", dir,
			 size >= 4 && !memcmp(data, "\x28\xb5\x2f\xfd", 4) ? "in.db.zst" : "in.db");
		return 1;
	}
	mask = data[4] & 7;
	snprintf(files[0].path, sizeof(files[0].path), "%s/in.db", dir);
	take(&p, &left, !mask, &files[0]);
	for (unsigned k = 0; k < 3; k++) {
		if (!(mask & (1u << k)))
			continue;
		snprintf(files[n].path, sizeof(files[n].path), "%s/in.db%s", dir, side_sfx[k]);
		take(&p, &left, !(mask >> (k + 1)), &files[n]);
		n++;
	}
	return n;
}

/* Aborts (a finding) unless dir holds exactly these files, with their sizes and contents. */
static void check_untouched(const struct file *files, size_t n)
{
	struct dirent *de;
	size_t seen = 0;
	DIR *d = opendir(dir);

	if (!d)
		abort();
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		seen++;
	}
	closedir(d);
	if (seen != n)
		abort();
	for (size_t i = 0; i < n; i++) {
		uint8_t buf[4096];
		size_t off = 0;
		ssize_t r;
		int fd = open(files[i].path, O_RDONLY);

		if (fd < 0)
			abort();
		while ((r = read(fd, buf, sizeof(buf))) > 0) {
			if (off + (size_t)r > files[i].size || memcmp(buf, files[i].data + off, (size_t)r))
				abort();
			off += (size_t)r;
		}
		close(fd);
		if (off != files[i].size)
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct file files[4];
	size_t n;

	if (!dir[0]) {
		cr_log_set_level(CR_LOG_ERROR); /* no warning per hot journal */
		/* In the working directory (run.sh's own): a concurrent run cannot touch it. */
		snprintf(dir, sizeof(dir), "connrec-fuzz.XXXXXX");
		/* Not empty: SQLite takes an empty super-journal for a missing one. */
		struct file victim = { .path = "victim", .data = (const uint8_t *)"x", .size = 1 };

		if (!mkdtemp(dir))
			abort();
		write_file(&victim);
	}
	n = split_input(data, size, files);
	for (size_t i = 0; i < n; i++)
		write_file(&files[i]);
	try_open(files[0].path);
	check_untouched(files, n);
	if (access("victim", F_OK))
		abort();
	for (size_t i = 0; i < n; i++)
		unlink(files[i].path);
	return 0;
}
