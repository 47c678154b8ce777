// SPDX-License-Identifier: MIT
/*
 * samepid: two processes, one after the other, with the same pid, each making a TCP
 * connection. For the e2e test that a reused pid never mixes two process lives up.
 *
 *   samepid PORT PROG [ARGS...]
 *
 * The first child connects to 127.0.0.1:PORT itself, sends "first", and exits. Once it is
 * reaped, the second child is created with the very same pid (clone3 with set_tid, Linux 5.5,
 * needs root) and execs PROG ARGS, which is expected to connect too. It prints
 * "pid P first-exit S second-exit S" and exits 0; 2 when the pid could not be had again
 * (someone else took it: run it again), 1 on any other failure.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <linux/sched.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static int connect_and_send(int port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)))
		return 1;
	if (write(fd, "first\n", 6) != 6)
		return 1;
	shutdown(fd, SHUT_WR);
	close(fd);
	return 0;
}

int main(int argc, char **argv)
{
	struct clone_args ca;
	pid_t first, second;
	int port, st1, st2;

	if (argc < 3 || (port = atoi(argv[1])) <= 0 || port > 65535) {
		fprintf(stderr, "usage: samepid PORT PROG [ARGS...]\n");
		return 1;
	}
	first = fork();
	if (first < 0)
		return 1;
	if (first == 0)
		_exit(connect_and_send(port));
	if (waitpid(first, &st1, 0) != first)
		return 1;

	memset(&ca, 0, sizeof(ca));
	ca.exit_signal = SIGCHLD;
	ca.set_tid = (uint64_t)(uintptr_t)&first;
	ca.set_tid_size = 1;
	second = (pid_t)syscall(SYS_clone3, &ca, sizeof(ca));
	if (second < 0) {
		fprintf(stderr, "samepid: clone3 with pid %d: %s\n", (int)first, strerror(errno));
		return errno == EEXIST ? 2 : 1;
	}
	if (second == 0) {
		execv(argv[2], argv + 2);
		_exit(127);
	}
	if (waitpid(second, &st2, 0) != second)
		return 1;
	printf("pid %d first-exit %d second-exit %d\n", (int)first, st1, st2);
	return second == first ? 0 : 1;
}
