// SPDX-License-Identifier: MIT
#include "proc_ingest.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "proc_event.h"
#include "timespec.h"

/*
 * A running life is checked against /proc (is its pid still that process?) a while after exits
 * were lost, and now and then anyway: a life whose exit never arrives is never forgotten.
 */
#define SWEEP_AFTER_LOSS_NS (2 * TS_NSEC_PER_SEC) /* events in flight are in by then */
#define SWEEP_EVERY_NS (600 * TS_NSEC_PER_SEC)

/* Room for CR_PROC_ARGS_LEN bytes of argv once quoted: each byte may become four ('\''). */
#define QUOTED_ARGS_MAX (4 * CR_PROC_ARGS_LEN + 16)
#define PROC_PATH_MAX 4096

struct proc_ingest {
	struct store *store;
	int64_t offset_ns; /* wall = boot + offset */
	int64_t ns_per_tick;
	uint64_t last_lost[CR_PROC_DROP_MAX];
	int64_t last_loss_ns;
	int64_t sweep_ns; /* wall clock: check running lives against /proc from then on */
	struct proc_ingest_stats stats;
};

int proc_ingest_new(struct proc_ingest **out, struct store *store)
{
	struct proc_ingest *p = calloc(1, sizeof(*p));
	long hz = sysconf(_SC_CLK_TCK);

	if (!p)
		return -ENOMEM;
	p->store = store;
	p->ns_per_tick = hz > 0 ? TS_NSEC_PER_SEC / hz : TS_NSEC_PER_SEC / 100;
	proc_ingest_sync_clock(p);
	p->last_loss_ns = ts_now_ns();
	p->sweep_ns = p->last_loss_ns + SWEEP_EVERY_NS;
	*out = p;
	return 0;
}

void proc_ingest_free(struct proc_ingest *p)
{
	free(p);
}

void proc_ingest_sync_clock(struct proc_ingest *p)
{
	p->offset_ns = ts_boot_offset_ns();
}

static int64_t wall(const struct proc_ingest *p, uint64_t boot_ns)
{
	return (int64_t)boot_ns + p->offset_ns;
}

const struct proc_ingest_stats *proc_ingest_get_stats(const struct proc_ingest *p)
{
	return &p->stats;
}

/* ---- the command line ---- */

static bool shell_safe(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       strchr("_@%+=:,./-", c);
}

size_t proc_quote_args(const char *argv, size_t n, int cut, char *out, size_t len)
{
	size_t o = 0;

#define PUT(ch)                                                                                  \
	do {                                                                                     \
		if (o + 1 < len)                                                                 \
			out[o++] = (ch);                                                         \
	} while (0)

	if (!len)
		return 0;
	/* The kernel's copy ends with the last argument's NUL; drop it, keep inner empties. */
	if (n && !argv[n - 1] && !cut)
		n--;
	for (size_t i = 0; i <= n && n;) {
		size_t k = strnlen(argv + i, n - i);
		bool safe = k > 0;

		for (size_t j = 0; j < k && safe; j++)
			safe = shell_safe((unsigned char)argv[i + j]);
		if (i)
			PUT(' ');
		if (safe) {
			for (size_t j = 0; j < k; j++)
				PUT(argv[i + j]);
		} else {
			PUT('\'');
			for (size_t j = 0; j < k; j++) {
				if (argv[i + j] == '\'') {
					PUT('\'');
					PUT('\\');
					PUT('\'');
				}
				PUT(argv[i + j]);
			}
			PUT('\'');
		}
		i += k + 1;
		if (i > n)
			break;
	}
	if (cut) {
		PUT(' ');
		PUT('.');
		PUT('.');
		PUT('.');
	}
#undef PUT
	out[o] = '\0';
	return o;
}

/* ---- /proc, for what BPF cannot give ---- */

/* Reads up to len - 1 bytes of a small /proc file; returns the count or -errno. */
static ssize_t read_small(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = read(fd, buf, len - 1);
	if (n < 0)
		n = -errno;
	close(fd);
	if (n >= 0)
		buf[n] = '\0';
	return n;
}

/* /proc/PID/stat's field 22: the start in clock ticks since boot. false when unreadable. */
static bool start_ticks(uint32_t pid, unsigned long long *ticks)
{
	char path[64], buf[1024];
	const char *s;
	int field = 2;

	snprintf(path, sizeof(path), "/proc/%" PRIu32 "/stat", pid);
	if (read_small(path, buf, sizeof(buf)) <= 0)
		return false;
	/* Field 2 is "(comm)", and comm may hold anything: start after its last ')'. */
	s = strrchr(buf, ')');
	if (!s)
		return false;
	while (*s && field < 22) {
		s = strchr(s + 1, ' ');
		if (!s)
			return false;
		field++;
	}
	return sscanf(s, " %llu", ticks) == 1;
}

/*
 * Whether /proc/PID is still the process that started at START_BOOT_NS: a pid may have been
 * reused since the event.
 */
static bool same_process(const struct proc_ingest *p, uint32_t pid, uint64_t start_boot_ns)
{
	unsigned long long ticks;

	return start_ticks(pid, &ticks) && ticks == start_boot_ns / (uint64_t)p->ns_per_tick;
}

/*
 * store_alive_fn: whether the life that started at START_NS (wall clock) still runs as PID.
 * The wall-to-boot offset may have moved a little since: a tick either way is the same start.
 */
static bool still_running(void *ctx, uint32_t pid, int64_t start_ns)
{
	const struct proc_ingest *p = ctx;
	unsigned long long ticks;
	int64_t boot = start_ns - p->offset_ns, at;

	if (!start_ticks(pid, &ticks))
		return false;
	at = (int64_t)ticks * p->ns_per_tick;
	return at > boot - 2 * p->ns_per_tick && at < boot + 2 * p->ns_per_tick;
}

/* /proc/PID/exe into buf ("" when unreadable, e.g. a kernel thread). */
static void read_exe(uint32_t pid, char *buf, size_t len)
{
	char path[64];
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%" PRIu32 "/exe", pid);
	n = readlink(path, buf, len - 1);
	buf[n > 0 ? n : 0] = '\0';
}

/* ---- events ---- */

static void life_from_event(const struct proc_ingest *p, const struct cr_proc_event *e,
			    struct store_life *l)
{
	memset(l, 0, sizeof(*l));
	l->pid = e->pid;
	l->pstart_ns = e->pstart_ns;
	l->ppid = e->ppid;
	l->ppstart_ns = e->ppstart_ns;
	l->uid = e->uid;
	l->cgroup = e->cgroup_id;
	l->start_ns = wall(p, e->start_boot_ns);
	l->image_ns = l->start_ns;
	memcpy(l->comm, e->comm, sizeof(l->comm));
	l->comm[sizeof(l->comm) - 1] = '\0';
	memcpy(l->pcomm, e->pcomm, sizeof(l->pcomm));
	l->pcomm[sizeof(l->pcomm) - 1] = '\0';
}

static void on_exec(struct proc_ingest *p, const struct cr_proc_exec_event *x)
{
	char exe[PROC_PATH_MAX], args[QUOTED_ARGS_MAX];
	size_t plen = x->h.path_len < CR_PROC_PATH_LEN ? x->h.path_len : CR_PROC_PATH_LEN - 1;
	size_t alen = x->h.args_len < CR_PROC_ARGS_LEN ? x->h.args_len : CR_PROC_ARGS_LEN;
	struct store_life l;

	life_from_event(p, &x->h, &l);
	l.image_ns = wall(p, x->h.ts_boot_ns);
	l.flags = CR_LIFE_EXEC;
	memcpy(exe, x->x.path, plen);
	exe[plen] = '\0';
	/*
	 * A relative path, or an exec through a file descriptor (fexecve, a memfd) names no file
	 * for a reader: ask the kernel which file it was while the process is still that one.
	 */
	if (exe[0] != '/' || !strncmp(exe, "/dev/fd/", 8) || !strncmp(exe, "/proc/", 6)) {
		char real[PROC_PATH_MAX];

		read_exe(x->h.pid, real, sizeof(real));
		if (real[0] && same_process(p, x->h.pid, x->h.start_boot_ns))
			snprintf(exe, sizeof(exe), "%s", real);
	} else if (x->h.flags & CR_PROC_PATH_CUT) {
		l.flags |= CR_LIFE_EXE_CUT;
	}
	if (x->h.flags & CR_PROC_ARGS_CUT)
		l.flags |= CR_LIFE_ARGS_CUT;
	proc_quote_args(x->x.args, alen, !!(x->h.flags & CR_PROC_ARGS_CUT), args, sizeof(args));
	l.exe = exe;
	l.args = args;
	p->stats.execs++;
	if (store_life_exec(p->store, &l))
		cr_warn("out of memory queueing an exec");
}

/* A process that ran before recording: exe and args from /proc, if it is still that one. */
static void on_seed(struct proc_ingest *p, const struct cr_proc_event *e)
{
	char exe[PROC_PATH_MAX] = "", raw[CR_PROC_ARGS_LEN + 1], args[QUOTED_ARGS_MAX] = "";
	char path[64];
	struct store_life l;
	ssize_t n;

	life_from_event(p, e, &l);
	l.flags = CR_LIFE_SEEDED;
	snprintf(path, sizeof(path), "/proc/%" PRIu32 "/cmdline", e->pid);
	n = read_small(path, raw, sizeof(raw));
	read_exe(e->pid, exe, sizeof(exe));
	if (!same_process(p, e->pid, e->start_boot_ns)) {
		exe[0] = '\0'; /* gone, or its pid already serves another process */
		n = 0;
	}
	if (n > 0) {
		bool cut = (size_t)n == sizeof(raw) - 1;

		if (cut) {
			n = CR_PROC_ARGS_LEN;
			l.flags |= CR_LIFE_ARGS_CUT;
		}
		proc_quote_args(raw, (size_t)n, cut, args, sizeof(args));
	}
	l.exe = exe;
	l.args = args;
	p->stats.seeded++;
	if (store_life_begin(p->store, &l))
		cr_warn("out of memory queueing a process found at start");
}

void proc_ingest_event(void *ctx, const void *data, size_t size)
{
	struct proc_ingest *p = ctx;
	const struct cr_proc_event *e = data;
	struct store_life l;

	switch (e->kind) {
	case CR_PROC_FORK:
		life_from_event(p, e, &l);
		p->stats.forks++;
		if (store_life_begin(p->store, &l))
			cr_warn("out of memory queueing a fork");
		break;
	case CR_PROC_EXEC:
		if (size >= sizeof(struct cr_proc_exec_event))
			on_exec(p, data);
		break;
	case CR_PROC_EXIT:
		p->stats.exits++;
		if (store_life_exit(p->store, e->pid, e->pstart_ns, wall(p, e->ts_boot_ns),
				    e->exit_code))
			cr_warn("out of memory queueing an exit");
		break;
	case CR_PROC_SEED:
		on_seed(p, e);
		break;
	default:
		break;
	}
}

int proc_ingest_losses(struct proc_ingest *p, const uint64_t lost[CR_PROC_DROP_MAX])
{
	static const char *const why[CR_PROC_DROP_MAX] = {
		[CR_PROC_FORK] = "process ring buffer full: forks lost",
		[CR_PROC_EXEC] = "process ring buffer full: execs lost",
		[CR_PROC_EXIT] = "process ring buffer full: exits lost",
		[CR_PROC_SEED] = "process ring buffer full: running processes not listed",
	};
	int64_t now = ts_now_ns();

	for (int k = 0; k < CR_PROC_DROP_MAX; k++) {
		uint64_t delta = lost[k] - p->last_lost[k];
		int err;

		if (!delta || !why[k])
			continue;
		err = store_add_gap(p->store, CR_GAP_LOST, p->last_loss_ns, now, delta, why[k]);
		if (err)
			return err;
		p->last_lost[k] = lost[k];
		p->stats.lost += delta;
		if (k == CR_PROC_EXIT && p->sweep_ns > now + SWEEP_AFTER_LOSS_NS)
			p->sweep_ns = now + SWEEP_AFTER_LOSS_NS;
	}
	p->last_loss_ns = now;
	if (now >= p->sweep_ns) {
		size_t gone = store_lives_sweep(p->store, still_running, p);

		if (gone)
			cr_info("%zu processes whose exit was lost are gone; forgotten", gone);
		p->sweep_ns = now + SWEEP_EVERY_NS;
	}
	return 0;
}
