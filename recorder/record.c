// SPDX-License-Identifier: MIT
/* connrec record: wire capture -> ingest -> store and run until SIGINT/SIGTERM. */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "anchor.h"
#include "ch_http.h"
#include "commands.h"
#include "capture.h"
#include "cgroup_names.h"
#include "dns_ingest.h"
#include "ingest.h"
#include "log.h"
#include "opts.h"
#include "proc_capture.h"
#include "proc_ingest.h"
#include "ship_spawn.h"
#include "sockdump.h"
#include "store.h"
#include "timespec.h"
#include "watch.h"

#define COMMIT_PERIOD_NS (200 * 1000000LL)  /* rows reach the store within ~this */
#define POLL_MS 50			     /* consumer timer when BPF does not wake us */
#define BUSY_POLL_MS 1			     /* ... and while the last wait found a burst */
#define BUSY_EVENTS 256			     /* what counts as a burst */
#define UDP_SCAN_PERIOD_NS (5 * TS_NSEC_PER_SEC)
/*
 * TCP connections still open after OPEN_AGE_NS get their OPEN stored (checked every
 * OPEN_SCAN_PERIOD_NS); shorter ones are stored once, from their CLOSE.
 */
#define OPEN_AGE_NS TS_NSEC_PER_SEC
#define OPEN_SCAN_PERIOD_NS (TS_NSEC_PER_SEC / 2)
#define DEFAULT_UDP_IDLE_NS (60 * TS_NSEC_PER_SEC)
/*
 * How often the connections stored as open are audited for closes no hook saw (a skipped
 * state change whose destruction was missed too): a walk of the tracking map (about 0.3 s of
 * CPU per million tracked connections) and one report_opens question per reported
 * connection. Hidden flag --audit-period for tests.
 */
#define DEFAULT_AUDIT_PERIOD_NS (30 * TS_NSEC_PER_SEC)

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
	(void)sig;
	stop_requested = 1;
}

struct record_opts {
	struct store_opts store;
	struct capture_opts capture;
	struct anchor_opts anchor;
	int64_t udp_idle_ns;
	struct ship_spawn_opts ship; /* --ship-to: url set */
	int64_t audit_period_ns;
};

enum {
	OPT_DATA_DIR = OPT_FIRST,
	OPT_ROTATE_SIZE,
	OPT_ROTATE_AGE,
	OPT_RETAIN_SIZE,
	OPT_RETAIN_AGE,
	OPT_UDP_IDLE,
	OPT_RING_SIZE,
	OPT_DNS_RING_SIZE,
	OPT_MAX_FLOWS,
	OPT_SKIP_CLOSE_PORT,
	OPT_LOSE_CLOSE_PORT,
	OPT_AUDIT_PERIOD,
	OPT_PROC_RING_SIZE,
	OPT_NO_PROC_EVENTS,
	OPT_YOUNG_SLOTS,
	OPT_ALLOW_UNSAFE_DIR,
	OPT_SYSLOG_SOCKET,
	OPT_SYSLOG_FACILITY,
	OPT_CHECKPOINT_EVERY,
	OPT_KEY_FILE,
	OPT_VERBOSE,
	OPT_SHIP_TO,
	OPT_SHIP_AUTH,
	OPT_SHIP_DATABASE,
};

static const struct opt record_options[] = {
	OPT_ROW_DATA_DIR(OPT_DATA_DIR),
	{ .id = OPT_ROTATE_SIZE, .name = "rotate-size", .arg = OPT_REQUIRED, .metavar = "SIZE",
	  .help = "seal the active segment at this size (K/M/G suffixes)" },
	{ .id = OPT_ROTATE_AGE, .name = "rotate-age", .arg = OPT_REQUIRED, .metavar = "DUR",
	  .help = "seal the active segment at this age (e.g. 1h)" },
	{ .id = OPT_RETAIN_SIZE, .name = "retain-size", .arg = OPT_REQUIRED, .metavar = "SIZE",
	  .help = "keep at most this much of sealed segments" },
	{ .id = OPT_RETAIN_AGE, .name = "retain-age", .arg = OPT_REQUIRED, .metavar = "DUR",
	  .help = "delete sealed segments older than this (e.g. 30d)" },
	{ .id = OPT_UDP_IDLE, .name = "udp-idle", .arg = OPT_REQUIRED, .metavar = "DUR",
	  .help = "end a UDP flow after this long without a datagram (default 60s)" },
	{ .id = OPT_MAX_FLOWS, .name = "max-flows", .arg = OPT_REQUIRED, .metavar = "N",
	  .help = "TCP endpoints tracked at once (default: one per 16 KiB of RAM, at least 65536;"
		  " about 220 bytes of kernel memory each)" },
	{ .id = OPT_ALLOW_UNSAFE_DIR, .name = "allow-unsafe-dir",
	  .help = "record into a data dir owned by another user, or writable by\n"
		  "group or others (refused by default: whoever can write there can\n"
		  "plant links and rewrite the history)" },
	{ .id = OPT_SYSLOG_SOCKET, .name = "syslog-socket", .arg = OPT_REQUIRED, .metavar = "PATH",
	  .help = "send anchor lines (start, stop, checkpoints, seals) to this unix "
		  "datagram socket (default " ANCHOR_DEFAULT_SOCKET "; 'none': nowhere)" },
	{ .id = OPT_SYSLOG_FACILITY, .name = "syslog-facility", .arg = OPT_REQUIRED,
	  .metavar = "NAME", .help = "syslog facility of anchor lines (default auth)",
	  .values = "auth authpriv daemon user syslog local0 local1 local2 local3 local4 local5 "
		    "local6 local7" },
	{ .id = OPT_CHECKPOINT_EVERY, .name = "checkpoint-every", .arg = OPT_REQUIRED,
	  .metavar = "DUR", .help = "checkpoint the active segment's rows at least this often "
				    "(default 15m)" },
	{ .id = OPT_KEY_FILE, .name = "key-file", .arg = OPT_REQUIRED, .metavar = "PATH",
	  .help = "seal with this key (connrec keygen; default DIR/connrec.key when it exists)" },
	{ .id = OPT_SHIP_TO, .name = "ship-to", .arg = OPT_REQUIRED, .metavar = "URL",
	  .help = "run `connrec ship --to URL` after each seal (see connrec ship)" },
	{ .id = OPT_SHIP_AUTH, .name = "ship-auth", .arg = OPT_REQUIRED, .metavar = "FILE",
	  .help = "--ship-to: read USER[:PASSWORD] from FILE" },
	{ .id = OPT_SHIP_DATABASE, .name = "ship-database", .arg = OPT_REQUIRED, .metavar = "DB",
	  .help = "--ship-to: the database (default connrec)" },
	OPT_ROW_VERBOSE(OPT_VERBOSE),
	/* Hidden: for fault tests and tuning. */
	{ .id = OPT_RING_SIZE, .name = "ring-size", .arg = OPT_REQUIRED, .metavar = "BYTES" },
	{ .id = OPT_DNS_RING_SIZE, .name = "dns-ring-size", .arg = OPT_REQUIRED,
	  .metavar = "BYTES" },
	{ .id = OPT_SKIP_CLOSE_PORT, .name = "skip-close-port", .arg = OPT_REQUIRED,
	  .metavar = "PORT" },
	{ .id = OPT_LOSE_CLOSE_PORT, .name = "lose-close-port", .arg = OPT_REQUIRED,
	  .metavar = "PORT" },
	{ .id = OPT_AUDIT_PERIOD, .name = "audit-period", .arg = OPT_REQUIRED, .metavar = "DUR" },
	{ .id = OPT_PROC_RING_SIZE, .name = "proc-ring-size", .arg = OPT_REQUIRED,
	  .metavar = "BYTES" },
	{ .id = OPT_NO_PROC_EVENTS, .name = "no-proc-events" },
	{ .id = OPT_YOUNG_SLOTS, .name = "young-slots", .arg = OPT_REQUIRED, .metavar = "N" },
	{ 0 },
};

static int parse_u32(const char *s, uint32_t min, uint32_t max, uint32_t *out)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s || *end || s[0] == '-' || v < min || v > max)
		return -EINVAL;
	*out = (uint32_t)v;
	return 0;
}

static int on_opt(void *ctx, const struct opt *opt, const char *arg)
{
	struct record_opts *o = ctx;
	long page = sysconf(_SC_PAGESIZE);

	switch (opt->id) {
	case OPT_DATA_DIR:
		if (!*arg)
			return opt_bad_value(opt, arg, "empty path");
		o->store.dir = arg;
		break;
	case OPT_ROTATE_SIZE:
		if (ts_parse_size(arg, &o->store.rotate_size) || !o->store.rotate_size)
			return opt_bad_value(opt, arg, "expected a size like 64M");
		break;
	case OPT_ROTATE_AGE:
		if (ts_parse_duration(arg, &o->store.rotate_age_ns) || o->store.rotate_age_ns <= 0)
			return opt_bad_value(opt, arg, "expected a duration like 1h");
		break;
	case OPT_RETAIN_SIZE:
		if (ts_parse_size(arg, &o->store.retain_size) || !o->store.retain_size)
			return opt_bad_value(opt, arg, "expected a size like 10G");
		break;
	case OPT_RETAIN_AGE:
		if (ts_parse_duration(arg, &o->store.retain_age_ns) || o->store.retain_age_ns <= 0)
			return opt_bad_value(opt, arg, "expected a duration like 30d");
		break;
	case OPT_UDP_IDLE:
		if (ts_parse_duration(arg, &o->udp_idle_ns) || o->udp_idle_ns <= 0)
			return opt_bad_value(opt, arg, "expected a duration like 60s");
		break;
	case OPT_RING_SIZE:
		if (parse_u32(arg, (uint32_t)page, 1u << 30, &o->capture.ring_size) ||
		    (o->capture.ring_size & (o->capture.ring_size - 1)))
			return opt_bad_value(opt, arg,
					     "expected a power of two of at least a page");
		break;
	case OPT_DNS_RING_SIZE:
		if (parse_u32(arg, (uint32_t)page, 1u << 30, &o->capture.dns_ring_size) ||
		    (o->capture.dns_ring_size & (o->capture.dns_ring_size - 1)))
			return opt_bad_value(opt, arg,
					     "expected a power of two of at least a page");
		break;
	case OPT_MAX_FLOWS:
		if (parse_u32(arg, 16, 1u << 24, &o->capture.max_flows))
			return opt_bad_value(opt, arg, "expected 16..16777216");
		break;
	case OPT_SKIP_CLOSE_PORT: {
		uint32_t port;

		if (parse_u32(arg, 1, 65535, &port))
			return opt_bad_value(opt, arg, "expected 1..65535");
		o->capture.skip_close_port = (uint16_t)port;
		break;
	}
	case OPT_YOUNG_SLOTS:
		if (parse_u32(arg, 16, CAPTURE_MAX_YOUNG_SLOTS, &o->capture.young_slots) ||
		    (o->capture.young_slots & (o->capture.young_slots - 1)))
			return opt_bad_value(opt, arg, "expected a power of two, 16..32768");
		break;
	case OPT_NO_PROC_EVENTS:
		o->capture.no_proc_events = true;
		break;
	case OPT_LOSE_CLOSE_PORT: {
		uint32_t port;

		if (parse_u32(arg, 1, 65535, &port))
			return opt_bad_value(opt, arg, "expected 1..65535");
		o->capture.lose_close_port = (uint16_t)port;
		break;
	}
	case OPT_AUDIT_PERIOD:
		if (ts_parse_duration(arg, &o->audit_period_ns) || o->audit_period_ns <= 0)
			return opt_bad_value(opt, arg, "expected a duration like 30s");
		break;
	case OPT_PROC_RING_SIZE:
		if (parse_u32(arg, (uint32_t)page, 1u << 30, &o->capture.proc_ring_size) ||
		    (o->capture.proc_ring_size & (o->capture.proc_ring_size - 1)))
			return opt_bad_value(opt, arg,
					     "expected a power of two of at least a page");
		break;
	case OPT_ALLOW_UNSAFE_DIR:
		o->store.allow_unsafe_dir = true;
		break;
	case OPT_SYSLOG_SOCKET:
		if (!*arg || strlen(arg) >= sizeof(((struct sockaddr_un *)0)->sun_path))
			return opt_bad_value(opt, arg, "expected a socket path (at most 107 bytes)"
						       " or 'none'");
		o->anchor.socket_path = arg;
		break;
	case OPT_SYSLOG_FACILITY:
		o->anchor.facility = anchor_facility(arg);
		if (o->anchor.facility < 0)
			return opt_bad_value(opt, arg, "expected a facility like auth or local0");
		break;
	case OPT_CHECKPOINT_EVERY:
		if (ts_parse_duration(arg, &o->store.checkpoint_every_ns) ||
		    o->store.checkpoint_every_ns < TS_NSEC_PER_SEC)
			return opt_bad_value(opt, arg, "expected a duration of at least 1s, like 15m");
		break;
	case OPT_KEY_FILE:
		if (!*arg)
			return opt_bad_value(opt, arg, "empty path");
		o->store.key_file = arg;
		break;
	case OPT_VERBOSE:
		cr_log_set_level(CR_LOG_DEBUG);
		break;
	case OPT_SHIP_TO: {
		char *copy = strdup(arg);

		if (!copy)
			return -ENOMEM;
		/* What ps shows: the password must not stay there. */
		ch_mask_password((char *)arg);
		free((char *)o->ship.url);
		o->ship.url = copy;
		break;
	}
	case OPT_SHIP_AUTH:
		o->ship.auth = arg;
		break;
	case OPT_SHIP_DATABASE:
		o->ship.database = arg;
		break;
	}
	return 0;
}

static int record_run(int argc, char **argv);

const struct opt_cmd cmd_record = {
	.name = "record",
	.summary = "capture connections into a store (daemon, needs root)",
	.synopsis = "[OPTIONS]",
	.description =
		"Capture every TCP connect, accept, close and failed connect, every UDP flow and\n"
		"every listening socket into an append-only store. Needs root.\n",
	.epilog =
		"It prints a line containing 'ready' on stderr once every hook is attached and\n"
		"the connections that already existed are stored, and notifies systemd (READY=1)\n"
		"when $NOTIFY_SOCKET is set. SIGINT or SIGTERM flush everything and exit 0.\n\n"
		"Four times a second it checks that its hooks are still attached and its files\n"
		"still in place; what someone else detached or removed is re-attached or saved,\n"
		"and stored as a 'tamper' gap (docs/blinding.md).\n\n"
		"Examples:\n"
		"  connrec record\n"
		"  connrec record -d /srv/connrec --rotate-size 256M --retain-age 90d\n",
	.opts = record_options,
	.run = record_run,
};

/* Tell systemd we are ready, when it is listening (Type=notify). */
static void notify_systemd(const char *msg)
{
	const char *path = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	socklen_t len;
	int fd;

	if (!path || !*path || strlen(path) >= sizeof(sa.sun_path))
		return;
	memcpy(sa.sun_path, path, strlen(path));
	if (sa.sun_path[0] == '@')
		sa.sun_path[0] = '\0'; /* abstract socket */
	len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(path));
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return;
	if (sendto(fd, msg, strlen(msg), MSG_NOSIGNAL, (struct sockaddr *)&sa, len) < 0)
		cr_warn("cannot notify systemd: %s", strerror(errno));
	close(fd);
}

static int64_t now_mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * TS_NSEC_PER_SEC + ts.tv_nsec;
}

static int64_t now_boot(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_BOOTTIME, &ts);
	return (int64_t)ts.tv_sec * TS_NSEC_PER_SEC + ts.tv_nsec;
}

struct recorder {
	struct anchor *anchor; /* off-host lines: the store's checkpoints and seals, tamper events */
	struct store *store;
	struct capture *cap;
	struct ingest *ingest;
	struct proc_ingest *procs;
	struct cgroup_names *cgnames;
	struct watch *watch;
	struct dns_ingest *dns;
	struct ship_spawn *ship; /* --ship-to, or NULL */
	uint8_t end_reason; /* for the UDP end callback */
	int64_t end_ns;
};

static void on_udp_end(void *ctx, const struct capture_udp_end *end);

static uint64_t new_conn_id(void *cap)
{
	return capture_alloc_conn_id(cap);
}

static void on_event(void *ctx, const struct cr_event *e)
{
	struct recorder *r = ctx;

	dns_ingest_flow(r->dns, e);
	if (e->kind == CR_EV_UDP_RELEASE) {
		/* A socket with several peers: end each of its flows by walking the map. */
		r->end_reason = CR_END_RELEASED;
		r->end_ns = ingest_wall_ns(r->ingest, e->ts_boot_ns);
		capture_end_udp_socket(r->cap, e->cookie, on_udp_end, r);
		return;
	}
	ingest_event(r->ingest, e);
}

static void on_udp_end(void *ctx, const struct capture_udp_end *end)
{
	struct recorder *r = ctx;
	int64_t end_ns = r->end_reason == CR_END_IDLE ? ingest_wall_ns(r->ingest, end->last_boot_ns)
							: r->end_ns;

	/* Refused says more than how it ended: the peer's host turned the datagrams away. */
	ingest_udp_end(r->ingest, end->conn_id, end_ns,
		       end->refused ? CR_END_REFUSED : r->end_reason, end->bytes_out, end->bytes_in);
}

static void on_preexisting(void *ctx, const struct sockdump_entry *d)
{
	struct recorder *r = ctx;
	uint64_t id = capture_alloc_conn_id(r->cap);
	struct timespec ts;
	int64_t now;

	clock_gettime(CLOCK_REALTIME, &ts);
	now = (int64_t)ts.tv_sec * TS_NSEC_PER_SEC + ts.tv_nsec;
	dns_ingest_preexisting(r->dns, d);
	if (ingest_preexisting(r->ingest, d, id, now))
		return;
	/* A connected UDP socket's release must end it: let BPF know about it. */
	if (d->proto == 17 && d->cookie)
		capture_track_udp(r->cap, d->cookie, d->raddr, d->rport, id);
}

/* final: the recorder is stopping, nothing may wait for a later commit. */
static int commit(struct recorder *r, bool final)
{
	uint64_t drops[CR_DROP_MAX], dns_drops[CR_DNS_DROP_MAX], proc_lost[CR_PROC_DROP_MAX];
	int err;

	if (capture_drops(r->cap, drops) == 0)
		ingest_losses(r->ingest, drops);
	if (proc_capture_drops(r->cap, proc_lost) == 0)
		proc_ingest_losses(r->procs, proc_lost);
	/* DNS rows are queued before ingest_commit() flushes the store. */
	if (dns_ingest_commit(r->dns, capture_dns_drops(r->cap, dns_drops) ? NULL : dns_drops,
			      final))
		cr_warn("out of memory queueing DNS answers");
	err = ingest_commit(r->ingest);
	ingest_sync_clock(r->ingest);
	proc_ingest_sync_clock(r->procs);
	return err;
}

/* Not losses, but worth knowing when judging a store made under heavy load. */
static void say_second_chances(const struct ingest_stats *st)
{
	if (st->skipped[CR_DROP_KEPT_END])
		cr_info("%" PRIu64 " connection ends found the ring buffer full and waited in the "
			"tracking map until the recorder made room for them",
			st->skipped[CR_DROP_KEPT_END]);
	if (st->skipped[CR_DROP_RECURSION] || st->skipped[CR_DROP_LATE_CLOSE])
		cr_info("the kernel skipped %" PRIu64 " TCP state changes (a program cannot run "
			"nested in itself); %" PRIu64 " closes among them were taken from the "
			"socket's destruction or the audit of open connections instead",
			st->skipped[CR_DROP_RECURSION], st->skipped[CR_DROP_LATE_CLOSE]);
}

static void say_dns(const struct dns_ingest_stats *st)
{
	if (!st->records && !st->ring_lost)
		return;
	cr_info("DNS: %" PRIu64 " answers stored (%" PRIu64 " without a known owner); not "
		"stored: %" PRIu64 " malformed, %" PRIu64 " truncated, %" PRIu64 " lost in the "
		"ring, %" PRIu64 " lost in TCP streams, %" PRIu64 " dropped; %" PRIu64
		" queries from port 53 ignored",
		st->stored, st->no_owner, st->malformed, st->truncated, st->ring_lost,
		st->tcp_lost, st->dropped, st->not_answers);
}

static int run(struct recorder *r, const struct record_opts *o)
{
	int64_t next_commit = now_mono() + COMMIT_PERIOD_NS;
	int64_t next_udp_scan = now_mono() + UDP_SCAN_PERIOD_NS;
	int64_t next_open_scan = now_mono() + OPEN_SCAN_PERIOD_NS;
	int64_t next_audit = now_mono() + o->audit_period_ns;
	int last_err = 0;
	int wait_ms = POLL_MS;

	while (!stop_requested) {
		int n = capture_poll(r->cap, wait_ms);
		int64_t now = now_mono();

		if (n < 0) {
			cr_err("reading the ring buffer failed: %s", strerror(-n));
			return n;
		}
		/*
		 * BPF never wakes us, so a burst (a mass close) has only the ring to wait in until
		 * the timer: while a wait finds one, drain again after a millisecond, not 50.
		 */
		wait_ms = n >= BUSY_EVENTS ? BUSY_POLL_MS : POLL_MS;
		if (now >= next_udp_scan) {
			r->end_reason = CR_END_IDLE;
			capture_end_udp_idle(r->cap, (uint64_t)(now_boot() - o->udp_idle_ns),
					     on_udp_end, r);
			next_udp_scan = now + UDP_SCAN_PERIOD_NS;
		}
		if (now >= next_open_scan) {
			capture_report_opens(r->cap, (uint64_t)(now_boot() - OPEN_AGE_NS));
			next_open_scan = now + OPEN_SCAN_PERIOD_NS;
		}
		if (now >= next_audit) {
			capture_audit_opens(r->cap);
			next_audit = now_mono() + o->audit_period_ns;
		}
		watch_tick(r->watch, now);
		if (now >= next_commit) {
			int err = commit(r, false);

			/* A failed flush keeps its rows; say so once per failure streak. */
			if (err && err != last_err)
				cr_warn("cannot write to the store (%s); keeping events in memory "
					"and retrying", strerror(-err));
			else if (!err && last_err)
				cr_info("store writable again; queued events written");
			last_err = err;
			next_commit = now + COMMIT_PERIOD_NS;
			ship_spawn_poll(r->ship, store_get_stats(r->store)->segments_sealed, now);
		}
	}
	return 0;
}

static int record_run(int argc, char **argv)
{
	struct record_opts o = { .store = { .dir = STORE_DEFAULT_DIR, .version = CONNREC_VERSION },
				 .anchor = { .facility = ANCHOR_DEFAULT_FACILITY },
				 .udp_idle_ns = DEFAULT_UDP_IDLE_NS,
				 .audit_period_ns = DEFAULT_AUDIT_PERIOD_NS };
	struct recorder r = { 0 };
	struct sigaction sa = { .sa_handler = on_signal };
	int err, npre, nproc, status = EXIT_FAIL;

	err = opt_parse(&cmd_record, argc, argv, on_opt, &o);
	if (!err && !o.ship.url && (o.ship.auth || o.ship.database))
		err = opt_usage_error("--ship-auth and --ship-database go with --ship-to");
	if (!err && o.ship.url) {
		o.ship.dir = o.store.dir;
		err = ship_spawn_new(&r.ship, &o.ship);
	}
	if (err) {
		status = opt_exit_status(err);
		goto cleanup;
	}
	if (geteuid() != 0) {
		cr_err("recording needs root (CAP_BPF, CAP_PERFMON, CAP_NET_ADMIN)");
		goto cleanup;
	}
	/* No SA_RESTART: a signal must interrupt the ring-buffer wait. */
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	/* Without a cgroup v2 root, cgroups stay unnamed (it says so); recording goes on. */
	if (cgroup_names_open(&r.cgnames) == 0) {
		o.store.cgroup_name = cgroup_names_lookup;
		o.store.cgroup_ctx = r.cgnames;
	}
	if (o.anchor.socket_path && !strcmp(o.anchor.socket_path, "none"))
		err = 0; /* no anchor: the store writes its lines nowhere */
	else
		err = anchor_open(&r.anchor, &o.anchor);
	if (err) {
		cr_err("cannot open a socket for syslog: %s", strerror(-err));
		goto cleanup;
	}
	o.store.anchor = r.anchor;
	/* store_open() names the problem itself (in use, not a directory, read-only, ...). */
	err = store_open(&r.store, &o.store);
	if (err)
		goto cleanup;
	o.capture.first_conn_id = store_next_conn_id(r.store);
	err = capture_open(&r.cap, &o.capture, on_event, &r);
	if (err)
		goto cleanup;
	err = ingest_new(&r.ingest, r.store, new_conn_id, r.cap);
	if (!err)
		err = proc_ingest_new(&r.procs, r.store);
	if (!err)
		err = proc_capture_start(r.cap, proc_ingest_event, r.procs);
	if (!err)
		err = dns_ingest_new(&r.dns, r.store, r.ingest, new_conn_id, r.cap);
	if (!err)
		err = capture_dns_start(r.cap, dns_ingest_record, r.dns);
	if (err)
		goto cleanup;
	/* The process events are on: a process started from here on is seen either way. */
	nproc = proc_capture_seed(r.cap);
	/* Every hook is attached now: what the watch sees is what must stay. */
	err = watch_new(&r.watch, r.cap, r.store);
	if (err)
		goto cleanup;

	/* Attach first, then dump: a connection is then seen twice rather than not at all. */
	npre = sockdump_all(on_preexisting, &r);
	if (npre < 0)
		cr_warn("could not list the connections that already exist: %s",
			strerror(-npre));
	capture_drain(r.cap);
	err = commit(&r, false);
	if (err) {
		cr_err("cannot write to the store in %s: %s", o.store.dir, strerror(-err));
		goto cleanup;
	}
	cr_info("ready: recording into %s (%d hooks attached, %d existing connections and %d "
		"processes stored)",
		o.store.dir, capture_attached(r.cap), npre < 0 ? 0 : npre, nproc < 0 ? 0 : nproc);
	notify_systemd("READY=1");

	err = run(&r, &o);
	notify_systemd("STOPPING=1");
	/* Connections open at the stop are stored as open, however young. */
	capture_report_opens(r.cap, UINT64_MAX);
	capture_drain(r.cap);
	/* Ends kept in the tracking map while the ring was full. */
	capture_flush_kept(r.cap);
	if (commit(&r, true))
		cr_err("could not write the last events before stopping");
	else if (!err)
		status = EXIT_OK;
	say_second_chances(ingest_get_stats(r.ingest)); /* counted by that last commit */
	say_dns(dns_ingest_get_stats(r.dns));
cleanup:
	ship_spawn_free(r.ship);
	/* Detach before closing the store so no event arrives after the stop row. */
	watch_free(r.watch);
	capture_close(r.cap);
	if (r.store && store_close(r.store) && status == EXIT_OK)
		status = EXIT_FAIL;
	anchor_close(r.anchor);
	ingest_free(r.ingest);
	proc_ingest_free(r.procs);
	cgroup_names_close(r.cgnames); /* after store_close: its last flush may name cgroups */
	dns_ingest_free(r.dns);
	free((char *)o.ship.url);
	return status;
}
