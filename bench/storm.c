// SPDX-License-Identifier: MIT
/*
 * storm: a connection-storm generator that knows exactly what it did.
 *
 * It runs its own server (a TCP listener or a UDP echo socket) and N client threads against
 * it, then prints one JSON line with exact counts, so a test or the bench can compare what
 * it made with what a recorder stored. It only talks to the address it is given (loopback
 * by default), and every loop is bounded: by --count, by --duration, and always by
 * --timeout.
 *
 * Modes:
 *   tcp   socket, connect, close (the server accepts and closes)       one connection = 2 flows
 *   udp   new socket, one datagram to the server, wait for the reply, close (DNS-like)
 *   hold  open --count TCP connections and keep both ends open until SIGINT/SIGTERM/SIGUSR1
 *         or --duration, then close them all (fills a recorder's tracking maps)
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* accept4 */
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_THREADS 256
#define UDP_PAYLOAD 40 /* about the size of a DNS question */

enum mode { MODE_TCP, MODE_UDP, MODE_HOLD };
enum role { ROLE_BOTH, ROLE_SERVER, ROLE_CLIENT };

static const char *const mode_names[] = { "tcp", "udp", "hold" };
static const char *const role_names[] = { "both", "server", "client" };

static struct {
	enum mode mode;
	enum role role;
	char addr_str[INET6_ADDRSTRLEN];
	struct sockaddr_storage addr; /* where clients connect (port filled in once known) */
	socklen_t addrlen;
	int family;
	unsigned port;
	unsigned threads;
	unsigned server_threads;
	uint64_t count;	 /* 0: not limited by count */
	double duration; /* seconds; 0: not limited by time */
	double rate;	 /* connections (or exchanges) per second in total; 0: full speed */
	double timeout;	 /* hard stop, seconds */
	int rst;	 /* close client sockets with an RST (SO_LINGER 0), leaving no TIME_WAIT */
	unsigned spread; /* IPv4: clients bind to this many source addresses 127.0.0.2... */
	int udp_connect; /* UDP clients call connect() then send(), as glibc's resolver does */
} cfg = {
	.mode = MODE_TCP,
	.role = ROLE_BOTH,
	.addr_str = "127.0.0.1",
	.threads = 0,
	.timeout = 300,
};

static struct timespec t0;
static double client_start;    /* seconds after t0 when the clients began */
static double client_deadline; /* seconds after t0 */
static double server_deadline;

/* Claimed flow numbers: in count and rate modes each flow takes one ticket. */
static atomic_uint_fast64_t tickets;
static atomic_uint_fast64_t accepted; /* TCP: connections accepted by the server */
static atomic_uint_fast64_t served;   /* UDP: requests answered by the server */
static atomic_int stop_clients;
static atomic_int stop_server;
static atomic_uint clients_done;
static atomic_int first_errno;

/* Hold mode keeps every descriptor until the end. */
static int *hold_client_fds;
static int *hold_server_fds;
static atomic_uint_fast64_t hold_server_n;

struct client {
	pthread_t tid;
	unsigned idx;
	uint64_t made;	 /* TCP: connected; UDP: got the reply; hold: connected and held */
	uint64_t failed; /* attempts that got an error (made + failed = attempts) */
	uint64_t sent;	 /* UDP: datagrams sent (each is a client-side flow in the kernel) */
	uint64_t late;	 /* rate mode: flows started behind schedule */
};

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)(ts.tv_sec - t0.tv_sec) + (double)(ts.tv_nsec - t0.tv_nsec) / 1e9;
}

static void note_errno(int e)
{
	int zero = 0;

	atomic_compare_exchange_strong(&first_errno, &zero, e);
}

static int set_rcvtimeo(int fd, long ms)
{
	struct timeval tv = { .tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000 };

	return setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
}

static void set_port(struct sockaddr_storage *ss, unsigned port)
{
	if (ss->ss_family == AF_INET)
		((struct sockaddr_in *)ss)->sin_port = htons(port);
	else
		((struct sockaddr_in6 *)ss)->sin6_port = htons(port);
}

static unsigned get_port(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET)
		return ntohs(((const struct sockaddr_in *)ss)->sin_port);
	return ntohs(((const struct sockaddr_in6 *)ss)->sin6_port);
}

/*
 * Binds a client socket to source address 127.0.0.(2 + k % spread), leaving the port to
 * connect(): each source address has its own ephemeral ports, so TIME_WAIT from earlier
 * connections does not make the kernel search ever longer for a free one.
 */
static int bind_spread(int fd, uint64_t k)
{
	struct sockaddr_in src = { .sin_family = AF_INET };
	int one = 1;

	src.sin_addr.s_addr = htonl(0x7f000002u + (uint32_t)(k % cfg.spread));
	if (setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one)) < 0 ||
	    bind(fd, (struct sockaddr *)&src, sizeof(src)) < 0)
		return -errno;
	return 0;
}

/* One TCP connection: 0 when it connected, -errno otherwise. *fdp keeps it open (hold). */
static int tcp_flow(uint64_t k, int *fdp)
{
	int fd, err = 0;

	fd = socket(cfg.family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (cfg.spread) {
		err = bind_spread(fd, k);
		if (err) {
			close(fd);
			return err;
		}
	}
	if (cfg.rst) {
		struct linger lg = { .l_onoff = 1, .l_linger = 0 };

		setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	}
	if (connect(fd, (struct sockaddr *)&cfg.addr, cfg.addrlen) < 0)
		err = -errno;
	if (fdp && !err)
		*fdp = fd;
	else
		close(fd);
	return err;
}

/* One DNS-like exchange. *sent says whether the datagram left (a client flow exists). */
static int udp_flow(int *sent)
{
	char req[UDP_PAYLOAD], resp[UDP_PAYLOAD + 1];
	int fd, err = 0;
	ssize_t n;

	*sent = 0;
	memset(req, 'q', sizeof(req));
	fd = socket(cfg.family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (set_rcvtimeo(fd, 2000) < 0) {
		err = -errno;
		goto cleanup;
	}
	if (cfg.udp_connect) {
		if (connect(fd, (struct sockaddr *)&cfg.addr, cfg.addrlen) < 0) {
			err = -errno;
			goto cleanup;
		}
		n = send(fd, req, sizeof(req), 0);
	} else {
		n = sendto(fd, req, sizeof(req), 0, (struct sockaddr *)&cfg.addr, cfg.addrlen);
	}
	if (n != (ssize_t)sizeof(req)) {
		err = n < 0 ? -errno : -EMSGSIZE;
		goto cleanup;
	}
	*sent = 1;
	n = recv(fd, resp, sizeof(resp), 0);
	if (n != (ssize_t)sizeof(req))
		err = n < 0 ? -errno : -EPROTO;
cleanup:
	close(fd);
	return err;
}

/* Takes the next flow number, or returns 0 when this client should stop. */
static int next_flow(struct client *c, uint64_t *k)
{
	if (atomic_load_explicit(&stop_clients, memory_order_relaxed))
		return 0;
	if (cfg.count || cfg.rate > 0) {
		*k = atomic_fetch_add_explicit(&tickets, 1, memory_order_relaxed);
		if (cfg.count && *k >= cfg.count)
			return 0;
	}
	if (cfg.rate > 0) {
		double due = client_start + (double)*k / cfg.rate, now = now_s();

		if (due >= client_deadline)
			return 0;
		if (due > now) {
			struct timespec ts = t0;
			uint64_t ns = (uint64_t)(due * 1e9);

			ts.tv_sec += (time_t)(ns / 1000000000u);
			ts.tv_nsec += (long)(ns % 1000000000u);
			if (ts.tv_nsec >= 1000000000L) {
				ts.tv_sec++;
				ts.tv_nsec -= 1000000000L;
			}
			while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
				;
		} else if (now - due > 0.001) {
			c->late++;
		}
		return 1;
	}
	return now_s() < client_deadline;
}

static void *client_main(void *arg)
{
	struct client *c = arg;
	uint64_t k = 0, n = c->idx;
	int err, sent;

	while (next_flow(c, &k)) {
		/* Without tickets (full speed for a duration) spread by a per-thread counter. */
		n += cfg.threads;
		switch (cfg.mode) {
		case MODE_TCP:
			err = tcp_flow(cfg.count || cfg.rate > 0 ? k : n, NULL);
			break;
		case MODE_HOLD:
			err = tcp_flow(k, &hold_client_fds[k]);
			break;
		default:
			err = udp_flow(&sent);
			c->sent += sent;
			break;
		}
		if (err) {
			c->failed++;
			note_errno(-err);
		} else {
			c->made++;
		}
	}
	atomic_fetch_add(&clients_done, 1);
	return NULL;
}

static int server_stopping(void)
{
	return atomic_load_explicit(&stop_server, memory_order_relaxed) ||
	       now_s() >= server_deadline;
}

static void *tcp_server_main(void *arg)
{
	int lfd = *(int *)arg;

	while (!server_stopping()) {
		int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);

		if (fd < 0) {
			/* EAGAIN is the SO_RCVTIMEO tick that lets us see the stop flag. */
			if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
				note_errno(errno);
			continue;
		}
		if (cfg.mode == MODE_HOLD) {
			uint64_t i = atomic_fetch_add(&hold_server_n, 1);

			if (i < cfg.count) {
				hold_server_fds[i] = fd;
				atomic_fetch_add(&accepted, 1);
				continue;
			}
		}
		close(fd);
		atomic_fetch_add_explicit(&accepted, 1, memory_order_relaxed);
	}
	return NULL;
}

static void *udp_server_main(void *arg)
{
	int fd = *(int *)arg;
	char buf[2048];

	while (!server_stopping()) {
		struct sockaddr_storage peer;
		socklen_t plen = sizeof(peer);
		ssize_t n = recvfrom(fd, buf, sizeof(buf), 0, (struct sockaddr *)&peer, &plen);

		if (n < 0) {
			if (errno != EAGAIN && errno != EINTR)
				note_errno(errno);
			continue;
		}
		if (sendto(fd, buf, (size_t)n, 0, (struct sockaddr *)&peer, plen) == n)
			atomic_fetch_add_explicit(&served, 1, memory_order_relaxed);
		else
			note_errno(errno);
	}
	return NULL;
}

static int open_server(void)
{
	struct sockaddr_storage ss = cfg.addr;
	socklen_t len = cfg.addrlen;
	int fd, one = 1, big = 4 << 20;

	fd = socket(cfg.family, (cfg.mode == MODE_UDP ? SOCK_DGRAM : SOCK_STREAM) | SOCK_CLOEXEC,
		    0);
	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (cfg.mode == MODE_UDP) {
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
		setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &big, sizeof(big));
	}
	set_port(&ss, cfg.port);
	if (bind(fd, (struct sockaddr *)&ss, len) < 0 ||
	    (cfg.mode != MODE_UDP && listen(fd, 4096) < 0) || set_rcvtimeo(fd, 100) < 0 ||
	    getsockname(fd, (struct sockaddr *)&ss, &len) < 0) {
		int e = errno;

		close(fd);
		return -e;
	}
	cfg.port = get_port(&ss);
	return fd;
}

static int parse_u64(const char *s, uint64_t max, uint64_t *out)
{
	char *end;
	unsigned long long v;

	if (!s || !*s || *s == '-')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *end || v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

static int parse_double(const char *s, double max, double *out)
{
	char *end;
	double v;

	if (!s || !*s)
		return -EINVAL;
	errno = 0;
	v = strtod(s, &end);
	if (errno || *end || !(v >= 0) || v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

static int parse_addr(const char *s)
{
	char buf[INET6_ADDRSTRLEN + 2];
	size_t n = strlen(s);
	struct sockaddr_in *sin = (struct sockaddr_in *)&cfg.addr;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&cfg.addr;

	if (n >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, s, n + 1);
	if (n >= 2 && buf[0] == '[' && buf[n - 1] == ']') {
		buf[n - 1] = '\0';
		memmove(buf, buf + 1, n - 1);
	}
	memset(&cfg.addr, 0, sizeof(cfg.addr));
	if (inet_pton(AF_INET, buf, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		cfg.addrlen = sizeof(*sin);
	} else if (inet_pton(AF_INET6, buf, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		cfg.addrlen = sizeof(*sin6);
	} else {
		return -EINVAL;
	}
	cfg.family = cfg.addr.ss_family;
	snprintf(cfg.addr_str, sizeof(cfg.addr_str), "%s", buf);
	return 0;
}

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: storm [OPTIONS]\n"
		"Generates a storm of TCP connections or DNS-like UDP exchanges against its own\n"
		"server and prints exact counts as one JSON line on stdout.\n\n"
		"  -m, --mode MODE         tcp (default), udp, or hold\n"
		"  -a, --addr ADDR         server address (default 127.0.0.1; ::1 or [::1] for IPv6)\n"
		"  -p, --port PORT         server port (default: any free port)\n"
		"  -t, --threads N         client threads (default: number of CPUs)\n"
		"  -T, --server-threads N  server threads (default: same as --threads)\n"
		"  -n, --count N           make N flows (TCP connections or UDP exchanges), then stop\n"
		"  -d, --duration SECS     run for SECS seconds (hold: how long to hold at most)\n"
		"  -r, --rate R            steady rate of R flows per second in total (needs -n or -d)\n"
		"      --rst               close TCP clients with a reset (no TIME_WAIT)\n"
		"      --spread N          IPv4 TCP clients use N source addresses 127.0.0.2... (1-250)\n"
		"      --udp-connect       UDP clients connect() before send()\n"
		"      --server-only       only run the server until SIGINT/SIGTERM or -d\n"
		"      --client-only       only run clients, against ADDR and PORT\n"
		"      --timeout SECS      hard stop for everything (default 300)\n"
		"  -h, --help              this help\n\n"
		"Output: a line {\"event\":\"listening\",...} once the server is up, then one\n"
		"{\"event\":\"done\",...} line with made (flows that succeeded), failed (attempts that\n"
		"got an error), sent (UDP datagrams sent), accepted/served (by the server), elapsed_s,\n"
		"flows_per_s and cpu_s (user + system time of the whole process). A recorder sees\n"
		"a TCP connection on loopback as two flows (out and in). In hold mode a line\n"
		"{\"event\":\"holding\",...} says all connections are open.\n\n"
		"Examples:\n"
		"  storm -n 100000                   # 100k TCP connections at full speed\n"
		"  storm -m udp -d 5 -a ::1          # DNS-like UDP exchanges over IPv6 for 5 s\n"
		"  storm -r 10000 -d 10              # 10k connections/s for 10 s\n"
		"  storm -m hold -n 200 -d 60        # hold 200 connections open for up to 60 s\n");
}

enum {
	OPT_RST = 256,
	OPT_SPREAD,
	OPT_UDP_CONNECT,
	OPT_SERVER_ONLY,
	OPT_CLIENT_ONLY,
	OPT_TIMEOUT,
};

static int parse_args(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "mode", required_argument, NULL, 'm' },
		{ "addr", required_argument, NULL, 'a' },
		{ "port", required_argument, NULL, 'p' },
		{ "threads", required_argument, NULL, 't' },
		{ "server-threads", required_argument, NULL, 'T' },
		{ "count", required_argument, NULL, 'n' },
		{ "duration", required_argument, NULL, 'd' },
		{ "rate", required_argument, NULL, 'r' },
		{ "rst", no_argument, NULL, OPT_RST },
		{ "spread", required_argument, NULL, OPT_SPREAD },
		{ "udp-connect", no_argument, NULL, OPT_UDP_CONNECT },
		{ "server-only", no_argument, NULL, OPT_SERVER_ONLY },
		{ "client-only", no_argument, NULL, OPT_CLIENT_ONLY },
		{ "timeout", required_argument, NULL, OPT_TIMEOUT },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const char *addr = cfg.addr_str;
	uint64_t v;
	int c;

	while ((c = getopt_long(argc, argv, "m:a:p:t:T:n:d:r:h", opts, NULL)) != -1) {
		switch (c) {
		case 'm':
			if (!strcmp(optarg, "tcp"))
				cfg.mode = MODE_TCP;
			else if (!strcmp(optarg, "udp"))
				cfg.mode = MODE_UDP;
			else if (!strcmp(optarg, "hold"))
				cfg.mode = MODE_HOLD;
			else
				goto bad;
			break;
		case 'a':
			addr = optarg;
			break;
		case 'p':
			if (parse_u64(optarg, 65535, &v))
				goto bad;
			cfg.port = (unsigned)v;
			break;
		case 't':
			if (parse_u64(optarg, MAX_THREADS, &v) || !v)
				goto bad;
			cfg.threads = (unsigned)v;
			break;
		case 'T':
			if (parse_u64(optarg, MAX_THREADS, &v) || !v)
				goto bad;
			cfg.server_threads = (unsigned)v;
			break;
		case 'n':
			if (parse_u64(optarg, UINT64_C(1) << 40, &cfg.count) || !cfg.count)
				goto bad;
			break;
		case 'd':
			if (parse_double(optarg, 86400, &cfg.duration) || cfg.duration <= 0)
				goto bad;
			break;
		case 'r':
			if (parse_double(optarg, 1e8, &cfg.rate) || cfg.rate <= 0)
				goto bad;
			break;
		case OPT_RST:
			cfg.rst = 1;
			break;
		case OPT_SPREAD:
			if (parse_u64(optarg, 250, &v) || !v)
				goto bad;
			cfg.spread = (unsigned)v;
			break;
		case OPT_UDP_CONNECT:
			cfg.udp_connect = 1;
			break;
		case OPT_SERVER_ONLY:
			cfg.role = ROLE_SERVER;
			break;
		case OPT_CLIENT_ONLY:
			cfg.role = ROLE_CLIENT;
			break;
		case OPT_TIMEOUT:
			if (parse_double(optarg, 86400, &cfg.timeout) || cfg.timeout <= 0)
				goto bad;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			goto bad;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "storm: unexpected argument '%s'\n", argv[optind]);
		goto bad;
	}
	if (parse_addr(addr)) {
		fprintf(stderr, "storm: not an IPv4 or IPv6 address: '%s'\n", addr);
		goto bad;
	}
	if (cfg.role == ROLE_CLIENT && !cfg.port) {
		fprintf(stderr, "storm: --client-only needs --port\n");
		goto bad;
	}
	if (cfg.role != ROLE_SERVER && !cfg.count && !cfg.duration) {
		fprintf(stderr, "storm: say how much with --count or --duration\n");
		goto bad;
	}
	if (cfg.mode == MODE_HOLD && !cfg.count) {
		fprintf(stderr, "storm: hold mode needs --count\n");
		goto bad;
	}
	if (cfg.spread && (cfg.family != AF_INET || cfg.mode == MODE_UDP ||
			   (ntohl(((struct sockaddr_in *)&cfg.addr)->sin_addr.s_addr) >> 24) != 127)) {
		fprintf(stderr, "storm: --spread needs TCP to an IPv4 loopback address\n");
		goto bad;
	}
	if (cfg.mode == MODE_HOLD && cfg.rate > 0) {
		fprintf(stderr, "storm: hold mode does not take --rate\n");
		goto bad;
	}
	if (!cfg.threads) {
		long n = sysconf(_SC_NPROCESSORS_ONLN);

		cfg.threads = n < 1 ? 1 : n > MAX_THREADS ? MAX_THREADS : (unsigned)n;
	}
	if (!cfg.server_threads)
		cfg.server_threads = cfg.threads;
	return 0;
bad:
	fprintf(stderr, "Try 'storm --help'.\n");
	return -EINVAL;
}

/* Raises the descriptor limit as far as allowed: hold mode keeps two per connection. */
static void raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

/*
 * Waits until pred() holds, a signal in *set arrives, or `until` (seconds after t0) passes.
 * Returns the signal number, or 0.
 */
static int wait_for(const sigset_t *set, int (*pred)(void), double until)
{
	while (!(pred && pred()) && now_s() < until) {
		struct timespec ts = { .tv_sec = 0, .tv_nsec = 10 * 1000 * 1000 };
		int sig = sigtimedwait(set, NULL, &ts);

		if (sig > 0)
			return sig;
	}
	return 0;
}

static int all_clients_done(void)
{
	return atomic_load(&clients_done) == cfg.threads;
}

static uint64_t expect_server; /* what the server should have handled before it stops */

static int server_caught_up(void)
{
	if (cfg.mode == MODE_UDP)
		return atomic_load(&served) >= expect_server;
	return atomic_load(&accepted) >= expect_server;
}

int main(int argc, char **argv)
{
	pthread_t stids[MAX_THREADS];
	struct client *clients = NULL;
	uint64_t made = 0, failed = 0, sent = 0, late = 0;
	double elapsed = 0, srv_stop_at, cpu = 0;
	struct rusage ru;
	int lfd = -1, err = 0, sig = 0;
	unsigned i, nstarted = 0;
	sigset_t set;

	if (parse_args(argc, argv))
		return 2;
	raise_nofile();
	signal(SIGPIPE, SIG_IGN);

	/*
	 * Every thread inherits this mask; only the main thread takes these, synchronously. A
	 * shell starts background jobs with SIGINT ignored, and an ignored signal is discarded
	 * even while blocked, so restore the default first.
	 */
	signal(SIGINT, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &set, NULL);

	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (cfg.rate > 0 && !cfg.count)
		cfg.count = (uint64_t)(cfg.rate * cfg.duration + 0.5);
	server_deadline = cfg.timeout;
	if (cfg.role == ROLE_SERVER && cfg.duration > 0 && cfg.duration < server_deadline)
		server_deadline = cfg.duration;

	if (cfg.mode == MODE_HOLD) {
		hold_client_fds = calloc(cfg.count, sizeof(int));
		hold_server_fds = calloc(cfg.count, sizeof(int));
		if (!hold_client_fds || !hold_server_fds) {
			fprintf(stderr, "storm: out of memory\n");
			return 1;
		}
		for (uint64_t k = 0; k < cfg.count; k++)
			hold_client_fds[k] = hold_server_fds[k] = -1;
	}

	if (cfg.role != ROLE_CLIENT) {
		lfd = open_server();
		if (lfd < 0) {
			fprintf(stderr, "storm: cannot listen on %s port %u: %s\n", cfg.addr_str,
				cfg.port, strerror(-lfd));
			return 1;
		}
		for (i = 0; i < cfg.server_threads; i++) {
			err = pthread_create(&stids[i], NULL,
					     cfg.mode == MODE_UDP ? udp_server_main : tcp_server_main,
					     &lfd);
			if (err) {
				fprintf(stderr, "storm: pthread_create: %s\n", strerror(err));
				atomic_store(&stop_server, 1);
				cfg.server_threads = i;
				err = 1;
				goto cleanup;
			}
		}
	}
	set_port(&cfg.addr, cfg.port);
	printf("{\"event\":\"listening\",\"mode\":\"%s\",\"role\":\"%s\",\"addr\":\"%s\",\"port\":%u,"
	       "\"pid\":%d}\n",
	       mode_names[cfg.mode], role_names[cfg.role], cfg.addr_str, cfg.port, (int)getpid());
	fflush(stdout);

	if (cfg.role == ROLE_SERVER) {
		sig = wait_for(&set, NULL, server_deadline);
		goto stop_server;
	}

	clients = calloc(cfg.threads, sizeof(*clients));
	if (!clients) {
		fprintf(stderr, "storm: out of memory\n");
		err = 1;
		goto cleanup;
	}
	client_start = now_s();
	client_deadline = cfg.timeout;
	if (cfg.duration > 0 && cfg.mode != MODE_HOLD &&
	    client_start + cfg.duration < client_deadline)
		client_deadline = client_start + cfg.duration;
	for (i = 0; i < cfg.threads; i++) {
		clients[i].idx = i;
		if (pthread_create(&clients[i].tid, NULL, client_main, &clients[i])) {
			atomic_store(&stop_clients, 1);
			break;
		}
		nstarted++;
	}
	if (nstarted < cfg.threads) {
		/* Count the threads that never started as done so the wait below ends. */
		atomic_fetch_add(&clients_done, cfg.threads - nstarted);
	}
	sig = wait_for(&set, all_clients_done, cfg.timeout);
	if (sig)
		atomic_store(&stop_clients, 1);
	for (i = 0; i < nstarted; i++) {
		pthread_join(clients[i].tid, NULL);
		made += clients[i].made;
		failed += clients[i].failed;
		sent += clients[i].sent;
		late += clients[i].late;
	}
	elapsed = now_s() - client_start;

	if (cfg.role == ROLE_BOTH) {
		/* Let the server take every connection the clients made before it stops. */
		expect_server = cfg.mode == MODE_UDP ? sent : made;
		srv_stop_at = now_s() + 10;
		if (srv_stop_at > cfg.timeout)
			srv_stop_at = cfg.timeout;
		if (!sig)
			sig = wait_for(&set, server_caught_up, srv_stop_at);
	}
	if (cfg.mode == MODE_HOLD && !sig) {
		double until = cfg.duration > 0 ? now_s() + cfg.duration : cfg.timeout;

		printf("{\"event\":\"holding\",\"port\":%u,\"pid\":%d,\"made\":%llu,\"accepted\":%llu}\n",
		       cfg.port, (int)getpid(), (unsigned long long)made,
		       (unsigned long long)atomic_load(&accepted));
		fflush(stdout);
		sig = wait_for(&set, NULL, until < cfg.timeout ? until : cfg.timeout);
	}

stop_server:
	atomic_store(&stop_server, 1);
cleanup:
	if (lfd >= 0) {
		for (i = 0; i < cfg.server_threads; i++)
			pthread_join(stids[i], NULL);
		close(lfd);
	}
	if (cfg.mode == MODE_HOLD) {
		for (uint64_t k = 0; k < cfg.count; k++) {
			if (hold_client_fds[k] >= 0)
				close(hold_client_fds[k]);
			if (hold_server_fds[k] >= 0)
				close(hold_server_fds[k]);
		}
	}
	if (cfg.role == ROLE_SERVER)
		elapsed = now_s();
	if (getrusage(RUSAGE_SELF, &ru) == 0)
		cpu = (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
		      (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
	printf("{\"event\":\"done\",\"mode\":\"%s\",\"role\":\"%s\",\"addr\":\"%s\",\"port\":%u,"
	       "\"pid\":%d,\"threads\":%u,\"count\":%llu,\"duration_s\":%g,\"rate\":%g,"
	       "\"made\":%llu,\"failed\":%llu,\"sent\":%llu,\"accepted\":%llu,\"served\":%llu,"
	       "\"late\":%llu,\"elapsed_s\":%.6f,\"flows_per_s\":%.1f,\"cpu_s\":%.3f,"
	       "\"signal\":%d,\"error\":\"%s\"}\n",
	       mode_names[cfg.mode], role_names[cfg.role], cfg.addr_str, cfg.port, (int)getpid(),
	       cfg.threads, (unsigned long long)cfg.count, cfg.duration, cfg.rate,
	       (unsigned long long)made, (unsigned long long)failed, (unsigned long long)sent,
	       (unsigned long long)atomic_load(&accepted), (unsigned long long)atomic_load(&served),
	       (unsigned long long)late, elapsed, elapsed > 0 ? (double)made / elapsed : 0.0, cpu, sig,
	       atomic_load(&first_errno) ? strerror(atomic_load(&first_errno)) : "");
	fflush(stdout);
	free(clients);
	free(hold_client_fds);
	free(hold_server_fds);
	return err;
}
