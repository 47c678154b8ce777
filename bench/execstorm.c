// SPDX-License-Identifier: MIT
/*
 * execstorm: fork and exec a program over and over at a given rate, and say exactly how many
 * times it did. Used by bench/exec.sh to measure what process events cost the recorder.
 *
 *   execstorm [-r RATE] [-s SECONDS] [-p PROG]
 *
 * One child at a time: fork, exec PROG (default /bin/true) with no arguments, wait. When ahead
 * of RATE per second (default 2000) it sleeps. At the end it prints one JSON line:
 *   {"made":N,"failed":F,"elapsed_s":T,"rate":R,"pid":P,"prog":"..."}
 * where made counts children whose exec succeeded (exit status 0 for /bin/true) and pid is
 * its own pid: the parent of every exec it made. Exits 0 when nothing failed.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	const char *prog = "/bin/true";
	double rate = 2000, secs = 5, t0, t;
	unsigned long long made = 0, failed = 0;
	int c;

	while ((c = getopt(argc, argv, "r:s:p:")) != -1) {
		switch (c) {
		case 'r':
			rate = atof(optarg);
			break;
		case 's':
			secs = atof(optarg);
			break;
		case 'p':
			prog = optarg;
			break;
		default:
			fprintf(stderr, "usage: execstorm [-r RATE] [-s SECONDS] [-p PROG]\n");
			return 2;
		}
	}
	if (rate <= 0 || secs <= 0) {
		fprintf(stderr, "execstorm: rate and seconds must be positive\n");
		return 2;
	}
	t0 = now_s();
	while ((t = now_s() - t0) < secs) {
		double due = (double)(made + failed) / rate;
		pid_t pid;
		int st;

		if (due > t) {
			struct timespec d = { 0, (long)((due - t) * 1e9) };

			nanosleep(&d, NULL);
			continue;
		}
		pid = fork();
		if (pid < 0) {
			failed++;
			continue;
		}
		if (pid == 0) {
			char *const args[] = { (char *)prog, NULL };

			execv(prog, args);
			_exit(127);
		}
		if (waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0)
			made++;
		else
			failed++;
	}
	t = now_s() - t0;
	printf("{\"made\":%llu,\"failed\":%llu,\"elapsed_s\":%.6f,\"rate\":%.1f,\"pid\":%d,"
	       "\"prog\":\"%s\"}\n",
	       made, failed, t, (double)made / t, (int)getpid(), prog);
	return failed ? 1 : 0;
}
