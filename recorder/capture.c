// SPDX-License-Identifier: MIT
#include "capture.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "cgroupfs.h"
#include "log.h"

#define TRACEFS_PATH "/sys/kernel/tracing"
#define TRACEFS_MAGIC 0x74726163

#include "capture_internal.h"

static int libbpf_log(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	/* libbpf is chatty at debug level; only show that with -v. */
	enum cr_log_level l = level == LIBBPF_WARN ? CR_LOG_WARN : CR_LOG_DEBUG;
	char *text = NULL, *line, *save = NULL;

	if (l > cr_log_get_level())
		return 0;
	/* A verifier log comes in one message: one log line per line (the log escapes '\n'). */
	if (vasprintf(&text, fmt, ap) < 0)
		return 0;
	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
		cr_log(l, "%s", line);
	free(text);
	return 0;
}

static int on_ring_record(void *ctx, void *data, size_t size)
{
	struct capture *c = ctx;
	const struct cr_event *e = data;

	if (size < sizeof(struct cr_event))
		return 0;
	/* A flow that spoke needs no OPEN from the young journal any more. */
	if (e->conn_id)
		young_closed(c, e->conn_id);
	/* A released socket's flows are taken out of udp_flows by these keys. */
	if (e->kind == CR_EV_OPEN && (e->flags & CR_FLAG_UDP_PEER)) {
		struct udp_key key = { .cookie = e->cookie, .rport = e->rport };

		memcpy(key.raddr, e->raddr, sizeof(key.raddr));
		udp_peers_add(c->peers, &key);
	}
	c->fn(c->ctx, data);
	return 0;
}

/* Syscall tracepoints need tracefs; a fresh machine may not have it mounted. */
static int ensure_tracefs(void)
{
	struct statfs st;

	if (statfs(TRACEFS_PATH, &st) == 0 && st.f_type == TRACEFS_MAGIC)
		return 0;
	if (mount("nodev", TRACEFS_PATH, "tracefs", 0, NULL)) {
		int err = -errno;

		cr_err("tracefs is not mounted and mounting it at %s failed: %s (the syscall "
		       "tracepoints need it)", TRACEFS_PATH, strerror(errno));
		return err;
	}
	cr_info("mounted tracefs at %s (needed for syscall tracepoints)", TRACEFS_PATH);
	return 0;
}

static int check_environment(void)
{
	if (geteuid() != 0) {
		cr_err("recording needs root (CAP_BPF, CAP_PERFMON, CAP_NET_ADMIN)");
		return -EPERM;
	}
	if (access("/sys/kernel/btf/vmlinux", R_OK)) {
		cr_err("kernel BTF is missing (/sys/kernel/btf/vmlinux): connrec needs a kernel "
		       "built with CONFIG_DEBUG_INFO_BTF");
		return -ENOTSUP;
	}
	return ensure_tracefs();
}

/* A new link for PROG: cgroup hooks on the cgroup-v2 root, the rest where their section says. */
static struct bpf_link *attach_one(struct capture *c, const struct bpf_program *prog)
{
	enum bpf_prog_type type = bpf_program__type(prog);
	struct bpf_program *p = (struct bpf_program *)prog; /* libbpf 1.1 takes non-const */

	if (type == BPF_PROG_TYPE_CGROUP_SOCK_ADDR || type == BPF_PROG_TYPE_CGROUP_SOCK ||
	    type == BPF_PROG_TYPE_CGROUP_SKB)
		return bpf_program__attach_cgroup(p, c->cgroup_fd);
	return bpf_program__attach(p);
}

static int attach_all(struct capture *c)
{
	struct bpf_program *prog;
	char cgroot[1024];
	int err;

	/* The cgroup-v2 root: hooks attached there see every socket on the host. */
	err = cgroupfs_root(cgroot, sizeof(cgroot));
	if (err) {
		cr_err("no cgroup v2 mount found: the UDP hooks need one");
		return err;
	}
	c->cgroup_fd = open(cgroot, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (c->cgroup_fd < 0) {
		err = -errno;
		cr_err("cannot open cgroup v2 root %s: %s", cgroot, strerror(errno));
		return err;
	}
	bpf_object__for_each_program(prog, c->skel->obj) {
		struct bpf_link *link;

		if (!strcmp(bpf_program__section_name(prog), "raw_tp"))
			continue; /* no tracepoint named: run on demand, never attached */
		if (!bpf_program__autoload(prog))
			continue; /* left out on purpose (--no-proc-events) */
		if (c->nlinks == MAX_LINKS)
			return -E2BIG;
		link = attach_one(c, prog);
		if (!link) {
			err = -errno;
			cr_err("cannot attach BPF program %s (%s): %s", bpf_program__name(prog),
			       bpf_program__section_name(prog), strerror(-err));
			return err;
		}
		c->progs[c->nlinks] = prog;
		c->links[c->nlinks++] = link;
	}
	return 0;
}

uint32_t capture_default_max_flows(void)
{
	FILE *f = fopen("/proc/meminfo", "re");
	unsigned long long kb = 0;
	char line[256];

	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "MemTotal: %llu kB", &kb) == 1)
			break;
	if (f)
		fclose(f);
	kb /= CAPTURE_KB_PER_FLOW;
	if (kb < CAPTURE_MIN_FLOWS)
		return CAPTURE_MIN_FLOWS;
	return kb > CAPTURE_MAX_FLOWS ? CAPTURE_MAX_FLOWS : (uint32_t)kb;
}

/*
 * The tracking maps are preallocated: an insert never allocates, which keeps the per
 * connection cost low (bench/NOTES.md). UDP sockets and flows are fewer than TCP endpoints
 * on a busy server, and live at most the idle timeout: half and a quarter of the TCP size.
 */
static void size_maps(struct capture *c, uint32_t flows, uint32_t young_slots)
{
	int ncpu = libbpf_num_possible_cpus();

	bpf_map__set_max_entries(c->skel->maps.tcp_flows, flows);
	bpf_map__set_max_entries(c->skel->maps.udp_flows, flows / 2 > 1024 ? flows / 2 : 1024);
	bpf_map__set_max_entries(c->skel->maps.udp_socks, flows / 4 > 1024 ? flows / 4 : 1024);
	uint32_t slots = CR_YOUNG_SLOTS;

	_Static_assert(CAPTURE_MAX_YOUNG_SLOTS == CR_YOUNG_SLOTS, "young journal size");
	if (ncpu < 1)
		ncpu = 1;
	/* About 32 MB of journal at most, however many CPUs: 8192 slots each at least. */
	while (slots > 8192 && (uint64_t)slots * (uint64_t)ncpu > (1u << 20))
		slots /= 2;
	if (young_slots)
		slots = young_slots;
	c->skel->rodata->young_slots = slots;
	bpf_map__set_max_entries(c->skel->maps.young, (uint32_t)ncpu * slots);
	bpf_map__set_max_entries(c->skel->maps.young_heads, (uint32_t)ncpu);
}

/*
 * Whether the UDP packet counting can keep a connected socket's counters on the socket
 * (bpf/udp_traffic.bpf.h): the kernel must let cgroup_skb programs and cgroup/sock_release
 * programs reach socket storage. Without it every datagram is counted through the udp_socks
 * lookup, which costs more per packet but counts the same.
 */
static void configure_udp_counting(struct capture *c)
{
	bool on = libbpf_probe_bpf_map_type(BPF_MAP_TYPE_SK_STORAGE, NULL) == 1 &&
		  libbpf_probe_bpf_helper(BPF_PROG_TYPE_CGROUP_SKB, BPF_FUNC_sk_fullsock, NULL) == 1 &&
		  libbpf_probe_bpf_helper(BPF_PROG_TYPE_CGROUP_SKB, BPF_FUNC_sk_storage_get, NULL) ==
			  1 &&
		  libbpf_probe_bpf_helper(BPF_PROG_TYPE_CGROUP_SOCK, BPF_FUNC_sk_storage_get, NULL) ==
			  1;

	c->skel->rodata->udp_counts_on_sock = on;
	if (!on)
		bpf_map__set_autocreate(c->skel->maps.udp_sk_counts, false);
	cr_debug("UDP counters of connected sockets: %s", on ? "on the socket" : "by lookup");
}

int capture_open(struct capture **out, const struct capture_opts *opts, capture_event_fn fn,
		 void *ctx)
{
	uint32_t ring = opts->ring_size ? opts->ring_size : CAPTURE_DEFAULT_RING_SIZE;
	uint32_t flows = opts->max_flows ? opts->max_flows : capture_default_max_flows();
	struct capture *c;
	int err;

	*out = NULL;
	err = check_environment();
	if (err)
		return err;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->cgroup_fd = -1;
	c->fn = fn;
	c->ctx = ctx;
	libbpf_set_print(libbpf_log);

	c->skel = connrec_bpf__open();
	if (!c->skel) {
		err = -errno;
		cr_err("cannot open the BPF object: %s", strerror(-err));
		goto cleanup;
	}
	bpf_map__set_max_entries(c->skel->maps.events, ring);
	size_maps(c, flows, opts->young_slots);
	capture_dns_size(c, opts);
	configure_udp_counting(c);
	c->skel->rodata->skip_close_port = opts->skip_close_port;
	c->skel->rodata->lose_close_port = opts->lose_close_port;
	proc_capture_configure(c->skel, opts);

	err = connrec_bpf__load(c->skel);
	if (err) {
		cr_err("cannot load the BPF programs: %s (run with -v for the verifier log)",
		       strerror(-err));
		goto cleanup;
	}
	c->skel->data->next_conn_id = opts->first_conn_id ? opts->first_conn_id : 1;
	err = young_open(c);
	if (err) {
		cr_err("cannot map the list of new connections: %s", strerror(-err));
		goto cleanup;
	}
	err = udp_peers_new(&c->peers);
	if (err) {
		cr_err("cannot set up the index of UDP flows: %s", strerror(-err));
		goto cleanup;
	}
	cr_debug("tracking up to %u TCP endpoints (%u UDP flows)", flows,
		 bpf_map__max_entries(c->skel->maps.udp_flows));

	c->rb = ring_buffer__new(bpf_map__fd(c->skel->maps.events), on_ring_record, c, NULL);
	if (!c->rb) {
		err = -errno;
		cr_err("cannot set up the ring buffer: %s", strerror(-err));
		goto cleanup;
	}
	err = attach_all(c);
	if (err)
		goto cleanup;
	*out = c;
	return 0;
cleanup:
	capture_close(c);
	return err;
}

int capture_poll(struct capture *c, int timeout_ms)
{
	int n = ring_buffer__poll(c->rb, timeout_ms);

	if (n == -EINTR)
		n = 0;
	/*
	 * BPF never wakes us (event_submit in bpf/connrec.bpf.c says why), and poll() only
	 * drains rings that woke it: so after every wait, drain whatever is there.
	 */
	if (n >= 0) {
		int m = ring_buffer__consume(c->rb);

		n = m < 0 ? m : n + m;
	}
	young_read(c);
	if (n >= 0) {
		/* Ends kept in the map while the ring was full: the drain made room for them. */
		int m = capture_send_kept(c);

		n = m < 0 ? m : n + m;
	}
	return n;
}

int capture_drain(struct capture *c)
{
	return ring_buffer__consume(c->rb);
}

static uint64_t prog_misses(const struct bpf_program *prog)
{
	struct bpf_prog_info info;
	__u32 len = sizeof(info);

	memset(&info, 0, sizeof(info));
	if (bpf_obj_get_info_by_fd(bpf_program__fd(prog), &info, &len))
		return 0;
	return info.recursion_misses;
}

int capture_sum_percpu(int map_fd, uint32_t nkeys, uint64_t skip_mask, uint64_t *out)
{
	int ncpu = libbpf_num_possible_cpus();
	uint64_t *vals;

	if (ncpu <= 0)
		return ncpu ? ncpu : -EINVAL;
	vals = calloc((size_t)ncpu, sizeof(*vals));
	if (!vals)
		return -ENOMEM;
	for (uint32_t k = 0; k < nkeys; k++) {
		out[k] = 0;
		if (k < 64 && (skip_mask >> k & 1))
			continue;
		if (bpf_map_lookup_elem(map_fd, &k, vals))
			continue;
		for (int i = 0; i < ncpu; i++)
			out[k] += vals[i];
	}
	free(vals);
	return 0;
}

int capture_drops(struct capture *c, uint64_t out[CR_DROP_MAX])
{
	/* CR_DROP_RECURSION is not a BPF-side counter, see below. */
	int err = capture_sum_percpu(bpf_map__fd(c->skel->maps.drops), CR_DROP_MAX,
				     1ULL << CR_DROP_RECURSION, out);

	if (err)
		return err;
	out[CR_DROP_RING_END] += c->kept_unsent;
	/* Runs the kernel skipped because the program was already running on that CPU. */
	out[CR_DROP_RECURSION] = prog_misses(c->skel->progs.on_tcp_state) +
				 prog_misses(c->skel->progs.on_tcp_destroy);
	return 0;
}

uint64_t capture_alloc_conn_id(struct capture *c)
{
	/* The BPF programs bump the same word with an atomic add; do the same here. */
	return __atomic_fetch_add(&c->skel->data->next_conn_id, 1, __ATOMIC_SEQ_CST);
}

int capture_attached(const struct capture *c)
{
	return c->nlinks;
}

int capture_hook(const struct capture *c, int i, struct capture_hook *out)
{
	if (i < 0 || i >= c->nlinks)
		return -ERANGE;
	out->link_fd = bpf_link__fd(c->links[i]);
	out->prog_fd = bpf_program__fd(c->progs[i]);
	out->name = bpf_program__name(c->progs[i]);
	out->section = bpf_program__section_name(c->progs[i]);
	return 0;
}

int capture_reattach(struct capture *c, int i)
{
	struct bpf_link *link;

	if (i < 0 || i >= c->nlinks)
		return -ERANGE;
	link = attach_one(c, c->progs[i]);
	if (!link)
		return -errno;
	/*
	 * The old link goes only now, so that no moment passes with neither. When its program
	 * had been swapped by someone else, destroying it also takes their program off the hook.
	 */
	bpf_link__destroy(c->links[i]);
	c->links[i] = link;
	return 0;
}

void capture_close(struct capture *c)
{
	if (!c)
		return;
	for (int i = 0; i < c->nlinks; i++)
		bpf_link__destroy(c->links[i]);
	young_close(c);
	udp_peers_free(c->peers);
	ring_buffer__free(c->rb);
	connrec_bpf__destroy(c->skel);
	if (c->cgroup_fd >= 0)
		close(c->cgroup_fd);
	free(c);
}
