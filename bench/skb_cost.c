// SPDX-License-Identifier: MIT
/*
 * skb_cost: what a bulk transfer over loopback costs the CPU that sends it, in CPU time per
 * send call rather than in throughput.
 *
 * A sender thread pinned to one CPU sends a fixed amount to a receiver thread pinned to the
 * other, through 127.0.0.1, and each thread reads its own task-clock (perf_event_open: the
 * time the thread was on a CPU, which includes the softirq work done in its context). Over
 * loopback the whole receive path of a datagram (IP, UDP, the cgroup_skb ingress program,
 * the queueing to the receiving socket) runs in the sender's softirq, so the sender's time
 * per datagram is what decides the throughput of a CPU-bound bulk transfer, and unlike
 * throughput it barely moves when other processes share the machine: they take CPU away from
 * the sender, they do not make its datagrams dearer. bench/skb_bench.sh runs it with and
 * without programs attached, alternated, and reports the ratios.
 *
 * A UDP receiver polls its socket without blocking (recvmmsg, MSG_DONTWAIT), so the sender
 * never pays for waking it: the sender's cost does not depend on whether the receiver happened
 * to be asleep (its own time is then just the run's length). Datagrams it could not take in
 * time are dropped by the kernel after the ingress program ran; the last column says how much
 * arrived. A TCP receiver blocks in recv() as any would: TCP's cost is shared by both CPUs
 * (the receiver's ACKs run the hooks on its side), so both times count.
 *
 *   skb_cost MODE SIZE COUNT [SENDER_CPU RECEIVER_CPU]
 *     MODE udp  COUNT send() calls of SIZE-byte datagrams (connected socket, as iperf3 -u)
 *               to a receiver that connects back to the sender (as iperf3 -s does)
 *          udp-noaddr  the same to a receiver that stays unconnected and never asks for
 *               the sender's address
 *          gso  COUNT send() calls of SIZE bytes cut into 1400-byte datagrams by UDP_SEGMENT,
 *               to a receiver with UDP_GRO, as QUIC stacks send and receive: over loopback
 *               each send travels as one skb both ways
 *          tcp  COUNT send() calls of SIZE bytes on one TCP connection
 *   prints: MODE SIZE COUNT, then ns per send call: the sender's mean, the median and the
 *           10th percentile of its batches, the receiver's mean and batch median; then the
 *           share of the bytes that arrived
 *
 * Batches: each thread also reads its clock every BATCH_UDP (BATCH_TCP) send calls' worth,
 * and the median batch is the figure to compare. A batch in which something else borrowed
 * the thread's CPU time (another process's softirq work run in its context, caches another
 * process emptied) costs more; on a busy machine the whole-run mean moves with such batches,
 * the median batch much less.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* pthread_setaffinity_np, CPU_SET */
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <linux/perf_event.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103
#endif
#ifndef UDP_GRO
#define UDP_GRO 104
#endif
#ifndef SOL_UDP
#define SOL_UDP 17
#endif

#define GSO_SEGMENT 1400        /* bytes per datagram of a gso send, as a QUIC stack's */
#define MAX_SIZE 65000          /* below UDP's 65507-byte limit */
#define RCVBUF (32 * 1024 * 1024) /* room for the bursts the receiver takes late */
#define RECV_BATCH 64            /* datagrams per recvmmsg */
#define BATCH_UDP 250            /* send calls per batch: about half a millisecond */
#define BATCH_TCP 25
#define MAX_SECONDS 60          /* a bound on every run: a stuck one must not hold the lock */

enum mode { MODE_UDP, MODE_UDP_NOADDR, MODE_GSO, MODE_TCP };

/* The task-clock time of each batch of one thread. */
struct batches {
	uint64_t *ns;
	size_t n, cap;
	uint64_t last; /* the clock at the end of the previous batch */
};

struct run {
	enum mode mode;
	size_t size;
	unsigned long count;
	int sender_cpu, receiver_cpu;
	int rx_fd;           /* the receiver's socket (UDP) or listener (TCP) */
	struct sockaddr_in to;
	atomic_int sending_done;
	unsigned long batch;  /* send calls per batch */
	uint64_t sender_ns, receiver_ns;
	struct batches sender_b, receiver_b;
	uint64_t received;   /* bytes */
	int err;             /* first error, -errno */
};

static int pin(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	return -pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
}

/* A task-clock counter for the calling thread only, started at once; or -errno. */
static int task_clock_open(void)
{
	struct perf_event_attr a;
	long fd;

	memset(&a, 0, sizeof(a));
	a.size = sizeof(a);
	a.type = PERF_TYPE_SOFTWARE;
	a.config = PERF_COUNT_SW_TASK_CLOCK;
	fd = syscall(SYS_perf_event_open, &a, 0, -1, -1, 0);
	return fd < 0 ? -errno : (int)fd;
}

static uint64_t task_clock_read(int fd)
{
	uint64_t v = 0;

	if (read(fd, &v, sizeof(v)) != (ssize_t)sizeof(v))
		return 0;
	return v;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int batches_init(struct batches *b, unsigned long count, unsigned long batch, int clk)
{
	b->cap = count / batch + 2;
	b->ns = calloc(b->cap, sizeof(*b->ns));
	b->n = 0;
	b->last = task_clock_read(clk);
	return b->ns ? 0 : -ENOMEM;
}

static void batches_mark(struct batches *b, int clk)
{
	uint64_t now = task_clock_read(clk);

	if (b->n < b->cap)
		b->ns[b->n++] = now - b->last;
	b->last = now;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* The q-quantile (0..1) of the batches, in ns per send call; 0 when there are none. */
static double batches_quantile(struct batches *b, double q, unsigned long batch)
{
	if (!b->n)
		return 0;
	qsort(b->ns, b->n, sizeof(*b->ns), cmp_u64);
	return (double)b->ns[(size_t)(q * (double)(b->n - 1) + 0.5)] / (double)batch;
}

static void set_err(struct run *r, int err)
{
	if (!r->err)
		r->err = err;
}

static void *receiver(void *arg)
{
	struct run *r = arg;
	char *buf = malloc(RECV_BATCH * (size_t)(MAX_SIZE + 1));
	struct mmsghdr msgs[RECV_BATCH];
	struct iovec iov[RECV_BATCH];
	int fd = r->rx_fd, clk = -1, own = -1;
	double deadline = now_s() + MAX_SECONDS;
	uint64_t t0;
	ssize_t n;

	memset(msgs, 0, sizeof(msgs));
	for (int i = 0; buf && i < RECV_BATCH; i++) {
		iov[i] = (struct iovec){ .iov_base = buf + (size_t)i * (MAX_SIZE + 1),
					 .iov_len = MAX_SIZE + 1 };
		msgs[i].msg_hdr.msg_iov = &iov[i];
		msgs[i].msg_hdr.msg_iovlen = 1;
	}
	if (!buf || pin(r->receiver_cpu) || (clk = task_clock_open()) < 0) {
		set_err(r, clk < 0 ? clk : -ENOMEM);
		goto cleanup;
	}
	if (r->mode == MODE_TCP) {
		own = accept(r->rx_fd, NULL, NULL);
		if (own < 0) {
			set_err(r, -errno);
			goto cleanup;
		}
		fd = own;
	}
	if (batches_init(&r->receiver_b, r->count, r->batch, clk)) {
		set_err(r, -ENOMEM);
		goto cleanup;
	}
	t0 = task_clock_read(clk);
	while (r->mode == MODE_TCP) {
		uint64_t step = (uint64_t)r->batch * r->size;

		n = recv(fd, buf, RECV_BATCH * GSO_SEGMENT, 0);
		if (n == 0)
			break; /* the sender shut down */
		if (n < 0 && errno != EINTR) {
			set_err(r, -errno);
			break;
		}
		if (n <= 0)
			continue;
		if (r->received / step != (r->received + (uint64_t)n) / step)
			batches_mark(&r->receiver_b, clk);
		r->received += (uint64_t)n;
	}
	/*
	 * As iperf3 -s does, a UDP receiver connects to its sender on the first datagram (a
	 * udp-noaddr one never asks who sent what; it stays unconnected).
	 */
	while (r->mode == MODE_UDP || r->mode == MODE_GSO) {
		struct sockaddr_in from;
		socklen_t len = sizeof(from);

		n = recvfrom(fd, buf, MAX_SIZE + 1, MSG_DONTWAIT, (struct sockaddr *)&from, &len);
		if (n > 0) {
			r->received += (uint64_t)n;
			if (connect(fd, (struct sockaddr *)&from, len))
				set_err(r, -errno);
			break;
		}
		if ((n < 0 && errno != EAGAIN && errno != EINTR) || now_s() > deadline) {
			set_err(r, n < 0 && errno != EAGAIN ? -errno : -ETIMEDOUT);
			break;
		}
	}
	while (r->mode != MODE_TCP && !r->err) {
		int got = recvmmsg(fd, msgs, RECV_BATCH, MSG_DONTWAIT, NULL);

		for (int i = 0; i < got; i++)
			r->received += msgs[i].msg_len;
		if (got > 0)
			continue;
		if (got < 0 && errno != EAGAIN && errno != EINTR) {
			set_err(r, -errno);
			break;
		}
		/* nothing queued: done once the sender is (a datagram still late was dropped) */
		if (atomic_load(&r->sending_done))
			break;
		if (now_s() > deadline) {
			set_err(r, -ETIMEDOUT);
			break;
		}
	}
	r->receiver_ns = task_clock_read(clk) - t0;
cleanup:
	if (own >= 0)
		close(own);
	if (clk >= 0)
		close(clk);
	free(buf);
	return NULL;
}

/* Sends r->count times r->size bytes; fills r->sender_ns. */
static int send_all(struct run *r)
{
	char *buf = calloc(1, r->size);
	int fd = -1, clk = -1, err = 0, one = 1, seg = GSO_SEGMENT;
	double deadline = now_s() + MAX_SECONDS;
	uint64_t t0;

	if (!buf) {
		err = -ENOMEM;
		goto cleanup;
	}
	err = pin(r->sender_cpu);
	if (err)
		goto cleanup;
	fd = socket(AF_INET, r->mode == MODE_TCP ? SOCK_STREAM : SOCK_DGRAM, 0);
	if (fd < 0 || (r->mode == MODE_GSO && setsockopt(fd, SOL_UDP, UDP_SEGMENT, &seg, sizeof(seg))) ||
	    (r->mode == MODE_TCP && setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one))) ||
	    connect(fd, (struct sockaddr *)&r->to, sizeof(r->to))) {
		err = -errno;
		goto cleanup;
	}
	clk = task_clock_open();
	if (clk < 0) {
		err = clk;
		goto cleanup;
	}
	if (batches_init(&r->sender_b, r->count, r->batch, clk)) {
		err = -ENOMEM;
		goto cleanup;
	}
	t0 = task_clock_read(clk);
	for (unsigned long i = 0; i < r->count; i++) {
		size_t off = 0;

		while (off < r->size) {
			ssize_t n = send(fd, buf + off, r->size - off, 0);

			if (n < 0 && errno == ENOBUFS && r->mode != MODE_TCP)
				break; /* a datagram the kernel had no room for: not sent, not counted */
			if (n < 0 && errno != EINTR) {
				err = -errno;
				goto cleanup;
			}
			if (n > 0)
				off += (size_t)n;
		}
		if ((i + 1) % r->batch)
			continue;
		batches_mark(&r->sender_b, clk);
		if (now_s() > deadline) {
			err = -ETIMEDOUT;
			goto cleanup;
		}
	}
	r->sender_ns = task_clock_read(clk) - t0;
	if (r->mode == MODE_TCP)
		shutdown(fd, SHUT_WR);
cleanup:
	atomic_store(&r->sending_done, 1);
	if (clk >= 0)
		close(clk);
	if (fd >= 0)
		close(fd);
	free(buf);
	return err;
}

static int parse_ul(const char *s, unsigned long min, unsigned long max, unsigned long *out)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s || *end || *s == '-' || v < min || v > max)
		return -EINVAL;
	*out = (unsigned long)v;
	return 0;
}

int main(int argc, char **argv)
{
	struct run r = { .sender_cpu = 0, .receiver_cpu = 1, .rx_fd = -1 };
	socklen_t len = sizeof(r.to);
	unsigned long size, cpu;
	int big = RCVBUF, one = 1, err;
	pthread_t th;

	if (argc != 4 && argc != 6) {
		fprintf(stderr, "usage: skb_cost udp|udp-noaddr|gso|tcp SIZE COUNT [SENDER_CPU RECEIVER_CPU]\n");
		return 2;
	}
	if (!strcmp(argv[1], "udp"))
		r.mode = MODE_UDP;
	else if (!strcmp(argv[1], "udp-noaddr"))
		r.mode = MODE_UDP_NOADDR;
	else if (!strcmp(argv[1], "gso"))
		r.mode = MODE_GSO;
	else if (!strcmp(argv[1], "tcp"))
		r.mode = MODE_TCP;
	else {
		fprintf(stderr, "skb_cost: unknown mode '%s' (udp, udp-noaddr, gso or tcp)\n", argv[1]);
		return 2;
	}
	if (parse_ul(argv[2], 1, r.mode == MODE_TCP ? 1UL << 24 : MAX_SIZE, &size) ||
	    parse_ul(argv[3], 1, 1UL << 32, &r.count) ||
	    (r.mode == MODE_GSO && size > 64 * GSO_SEGMENT)) {
		fprintf(stderr, "skb_cost: bad SIZE or COUNT\n");
		return 2;
	}
	r.size = size;
	r.batch = r.mode == MODE_TCP ? BATCH_TCP : BATCH_UDP;
	if (argc == 6) {
		if (parse_ul(argv[4], 0, CPU_SETSIZE - 1, &cpu)) {
			fprintf(stderr, "skb_cost: bad SENDER_CPU\n");
			return 2;
		}
		r.sender_cpu = (int)cpu;
		if (parse_ul(argv[5], 0, CPU_SETSIZE - 1, &cpu)) {
			fprintf(stderr, "skb_cost: bad RECEIVER_CPU\n");
			return 2;
		}
		r.receiver_cpu = (int)cpu;
	}

	r.to.sin_family = AF_INET;
	r.to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	r.rx_fd = socket(AF_INET, r.mode == MODE_TCP ? SOCK_STREAM : SOCK_DGRAM, 0);
	if (r.rx_fd < 0 || bind(r.rx_fd, (struct sockaddr *)&r.to, sizeof(r.to)) ||
	    getsockname(r.rx_fd, (struct sockaddr *)&r.to, &len) ||
	    (r.mode == MODE_TCP && listen(r.rx_fd, 1))) {
		fprintf(stderr, "skb_cost: receiver socket: %s\n", strerror(errno));
		return 1;
	}
	/* A QUIC receiver takes a gso sender's datagrams whole, as the skb they travel in */
	if (r.mode == MODE_GSO && setsockopt(r.rx_fd, SOL_UDP, UDP_GRO, &one, sizeof(one))) {
		fprintf(stderr, "skb_cost: UDP_GRO: %s\n", strerror(errno));
		return 1;
	}
	/* FORCE: above rmem_max (we are root); without it the buffer just stays smaller */
	if (setsockopt(r.rx_fd, SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof(big)))
		setsockopt(r.rx_fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
	err = pthread_create(&th, NULL, receiver, &r);
	if (err) {
		fprintf(stderr, "skb_cost: thread: %s\n", strerror(err));
		return 1;
	}
	err = send_all(&r);
	pthread_join(th, NULL);
	close(r.rx_fd);
	if (err || r.err) {
		fprintf(stderr, "skb_cost: %s\n", strerror(-(err ? err : r.err)));
		free(r.sender_b.ns);
		free(r.receiver_b.ns);
		return 1;
	}
	printf("%s %zu %lu %.1f %.1f %.1f %.1f %.1f %.4f\n", argv[1], r.size, r.count,
	       (double)r.sender_ns / (double)r.count,
	       batches_quantile(&r.sender_b, 0.5, r.batch),
	       batches_quantile(&r.sender_b, 0.1, r.batch),
	       (double)r.receiver_ns / (double)r.count,
	       batches_quantile(&r.receiver_b, 0.5, r.batch),
	       (double)r.received / ((double)r.size * (double)r.count));
	free(r.sender_b.ns);
	free(r.receiver_b.ns);
	return 0;
}
