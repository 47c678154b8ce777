// SPDX-License-Identifier: MIT
/*
 * execstorm: fork and exec a program over and over at a given rate, and say exactly how many
 * times it did. Used by bench/exec.sh to measure what process events cost the recorder.
 *
 *   execstorm [-r RATE] [-s SECONDS] [-j JOBS] [-p PROG]
 *
 * Fork, exec PROG (default /bin/true) with no arguments, wait; up to JOBS children (default 1)
 * at a time, so that a rate one child at a time cannot reach (a fork + exec + exit takes about
 * 0.6 ms on a small VM) is reachable. When ahead of RATE per second (default 2000) it sleeps.
 * At the end it prints one JSON line:
 *   {"made":N,"failed":F,"elapsed_s":T,"rate":R,"cpu_s":C,"pid":P,"prog":"..."}
 * where made counts children whose exec succeeded (exit status 0 for /bin/true), cpu_s is the
 * user + system time of execstorm and its children (what the execs cost, BPF programs run in
 * their context included), and pid is its own pid: the parent of every exec it made. Exits 0
 * when nothing failed.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double tv_s(struct timeval tv)
{
	return (double)tv.tv_sec + (double)tv.tv_usec / 1e6;
}

/* User + system time of this process and of its children that were waited for. */
static double cpu_s(void)
{
	struct rusage self, kids;

	getrusage(RUSAGE_SELF, &self);
	getrusage(RUSAGE_CHILDREN, &kids);
	return tv_s(self.ru_utime) + tv_s(self.ru_stime) + tv_s(kids.ru_utime) + tv_s(kids.ru_stime);
}

/* Wait for one child (blocking, or not with WNOHANG); counts it. Returns 1 if one was reaped. */
static int reap(int flags, unsigned long long *made, unsigned long long *failed)
{
	int st;
	pid_t pid = waitpid(-1, &st, flags);

	if (pid <= 0)
		return 0;
	if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
		(*made)++;
	else
		(*failed)++;
	return 1;
}

int main(int argc, char **argv)
{
	const char *prog = "/bin/true";
	double rate = 2000, secs = 5, t0, t;
	unsigned long long made = 0, failed = 0, started = 0;
	long jobs = 1, inflight = 0;
	int c;

	while ((c = getopt(argc, argv, "r:s:j:p:")) != -1) {
		switch (c) {
		case 'r':
			rate = atof(optarg);
			break;
		case 's':
			secs = atof(optarg);
			break;
		case 'j':
			jobs = atol(optarg);
			break;
		case 'p':
			prog = optarg;
			break;
		default:
			fprintf(stderr, "usage: execstorm [-r RATE] [-s SECONDS] [-j JOBS] [-p PROG]\n");
			return 2;
		}
	}
	if (rate <= 0 || secs <= 0 || jobs < 1 || jobs > 64) {
		fprintf(stderr, "execstorm: rate and seconds must be positive, jobs 1 to 64\n");
		return 2;
	}
	t0 = now_s();
	while ((t = now_s() - t0) < secs) {
		double due = (double)started / rate;
		pid_t pid;

		while (inflight && reap(WNOHANG, &made, &failed))
			inflight--;
		if (inflight == jobs) {
			inflight -= reap(0, &made, &failed);
			continue;
		}
		if (due > t) {
			struct timespec d = { 0, (long)((due - t) * 1e9) };

			nanosleep(&d, NULL);
			continue;
		}
		started++;
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
		inflight++;
	}
	while (inflight && reap(0, &made, &failed))
		inflight--;
	t = now_s() - t0;
	printf("{\"made\":%llu,\"failed\":%llu,\"elapsed_s\":%.6f,\"rate\":%.1f,\"cpu_s\":%.6f,"
	       "\"pid\":%d,\"prog\":\"%s\"}\n",
	       made, failed, t, (double)made / t, cpu_s(), (int)getpid(), prog);
	return failed ? 1 : 0;
}
