// SPDX-License-Identifier: MIT
/*
 * connburst: make N short-lived TCP connections to a listener of its own, and say exactly how
 * many it made. Used by the e2e tests to check that the recorder saw every one of them.
 *
 *   connburst [-n N] [-a ADDR] [-p PORT]
 *
 * It listens on ADDR (default 127.0.0.1) port PORT (default 0: the kernel picks), prints
 * "listening PORT pid PID" and then, in one thread, accepts and closes each connection (the
 * server closes first) while the main thread connects, waits for the server's FIN and closes.
 * N = 0 means "until killed". At the end it prints
 *   "made M failed F accepted A port PORT pid PID usec T"
 * and exits 0 when every connect succeeded and every connection was accepted.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static int lfd;
static unsigned long long accepted;

static void *acceptor(void *arg)
{
	unsigned long long want = *(unsigned long long *)arg;

	while (want == 0 || accepted < want) {
		int fd = accept(lfd, NULL, NULL);
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			perror("connburst: accept");
			break;
		}
		close(fd);
		__atomic_add_fetch(&accepted, 1, __ATOMIC_RELAXED);
	}
	return NULL;
}

static int parse_ull(const char *s, unsigned long long max, unsigned long long *out)
{
	char *end;

	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || end == s || *end || v > max || s[0] == '-')
		return -EINVAL;
	*out = v;
	return 0;
}

int main(int argc, char **argv)
{
	unsigned long long n = 10000, port = 0, made = 0, failed = 0;
	const char *addr = "127.0.0.1";
	struct sockaddr_storage ss = { 0 };
	socklen_t sl;
	pthread_t th;
	struct timespec t0, t1;
	char buf[64];
	int opt;

	while ((opt = getopt(argc, argv, "n:a:p:")) != -1) {
		switch (opt) {
		case 'n':
			if (parse_ull(optarg, 100000000ULL, &n)) {
				fprintf(stderr, "connburst: bad -n '%s'\n", optarg);
				return 2;
			}
			break;
		case 'a':
			addr = optarg;
			break;
		case 'p':
			if (parse_ull(optarg, 65535, &port)) {
				fprintf(stderr, "connburst: bad -p '%s'\n", optarg);
				return 2;
			}
			break;
		default:
			fprintf(stderr, "usage: connburst [-n N] [-a ADDR] [-p PORT]\n");
			return 2;
		}
	}

	struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
	if (inet_pton(AF_INET, addr, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons((unsigned short)port);
		sl = sizeof(*s4);
	} else if (inet_pton(AF_INET6, addr, &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((unsigned short)port);
		sl = sizeof(*s6);
	} else {
		fprintf(stderr, "connburst: bad address '%s'\n", addr);
		return 2;
	}

	lfd = socket(ss.ss_family, SOCK_STREAM, 0);
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&ss, sl) || listen(lfd, 4096)) {
		perror("connburst: listen");
		return 1;
	}
	if (getsockname(lfd, (struct sockaddr *)&ss, &sl)) {
		perror("connburst: getsockname");
		return 1;
	}
	port = ntohs(ss.ss_family == AF_INET ? s4->sin_port : s6->sin6_port);
	printf("listening %llu pid %d\n", port, (int)getpid());
	fflush(stdout);

	if (pthread_create(&th, NULL, acceptor, &n)) {
		fprintf(stderr, "connburst: cannot start the accept thread\n");
		return 1;
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (unsigned long long i = 0; n == 0 || i < n; i++) {
		int fd = socket(ss.ss_family, SOCK_STREAM, 0);
		if (fd < 0) {
			perror("connburst: socket");
			failed++;
			continue;
		}
		if (connect(fd, (struct sockaddr *)&ss, sl)) {
			failed++;
			if (failed <= 3)
				perror("connburst: connect");
			close(fd);
			continue;
		}
		made++;
		/* Wait for the server's FIN, so each connection ends the normal way. */
		while (read(fd, buf, sizeof(buf)) > 0)
			;
		close(fd);
	}
	/* Every successful connect is in the accept queue; wait for the thread to take them all. */
	if (failed == 0)
		pthread_join(th, NULL);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	long long usec = (t1.tv_sec - t0.tv_sec) * 1000000LL + (t1.tv_nsec - t0.tv_nsec) / 1000;
	printf("made %llu failed %llu accepted %llu port %llu pid %d usec %lld\n", made, failed,
	       __atomic_load_n(&accepted, __ATOMIC_RELAXED), port, (int)getpid(), usec);
	return failed == 0 && made == n ? 0 : 1;
}
