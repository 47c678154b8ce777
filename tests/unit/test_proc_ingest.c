// SPDX-License-Identifier: MIT
/*
 * Process events into lives: the command line quoted for people (and cut), and records as
 * the BPF programs send them (fork, exec, exit) becoming rows with wall-clock times.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "check.h"
#include "sqlq.h"
#include "log.h"
#include "proc_event.h"
#include "proc_ingest.h"
#include "store.h"

static void quoted(const char *argv, size_t n, int cut, const char *want)
{
	char out[1100];
	size_t len = proc_quote_args(argv, n, cut, out, sizeof(out));

	CHECK(!strcmp(out, want) && len == strlen(want), "quote: want [%s], got [%s]", want, out);
}

/* A literal's bytes as argv, without the NUL C adds. */
#define Q(lit, cut, want) quoted(lit, sizeof(lit) - 1, cut, want)

static void test_quote(void)
{
	char big[CR_PROC_ARGS_LEN], small[8];

	Q("curl\0-s\0http://x/y?a=1\0", 0, "curl -s 'http://x/y?a=1'");
	Q("sh\0-c\0echo hi; true\0", 0, "sh -c 'echo hi; true'");
	Q("a\0it's\0", 0, "a 'it'\\''s'");
	Q("a\0\0b\0", 0, "a '' b");     /* an empty argument stays visible */
	Q("a\0\0", 0, "a ''");	       /* so does a last empty one */
	Q("x\0y", 0, "x y");	       /* no final NUL */
	Q("", 0, "");
	Q("tab\there\0", 0, "'tab\there'"); /* control bytes: the printers escape them */
	Q("nginx: worker process", 0, "'nginx: worker process'");
	Q("/usr/bin/x\0--opt=a,b:c@d%e+f\0", 0, "/usr/bin/x --opt=a,b:c@d%e+f");
	/* Cut: the partial last argument, then a marker. */
	Q("python3\0-c\0prin", 1, "python3 -c prin ...");
	memset(big, 'a', sizeof(big));
	{
		char out[1100];

		proc_quote_args(big, sizeof(big), 1, out, sizeof(out));
		CHECK(strlen(out) == CR_PROC_ARGS_LEN + 4, "cut length %zu", strlen(out));
	}
	/* A short output buffer is never overrun and always terminated. */
	proc_quote_args("abcdefghij\0", 11, 0, small, sizeof(small));
	CHECK(!strcmp(small, "abcdefg"), "short buffer: [%s]", small);
}


static void test_events(const char *base)
{
	char dir[300], db[400];
	struct store_opts o = { .version = "test" };
	struct store *s = NULL;
	struct proc_ingest *p = NULL;
	struct cr_proc_exec_event x;
	struct cr_proc_event e;
	static const char args[] = "curl\0-s\0http://127.0.0.1:8080/\0";

	snprintf(dir, sizeof(dir), "%s/events", base);
	snprintf(db, sizeof(db), "%s/seg-00000001.db", dir);
	o.dir = dir;
	CHECK_THAT(store_open(&s, &o) == 0);
	CHECK_THAT(s && proc_ingest_new(&p, s) == 0);
	if (!s || !p)
		return;
	memset(&e, 0, sizeof(e));
	e.kind = CR_PROC_FORK;
	e.pid = 4000000; /* above pid_max: /proc never has it */
	e.pstart_ns = 123;
	e.start_boot_ns = 456;
	e.ts_boot_ns = 456;
	e.ppid = 1;
	e.ppstart_ns = 0;
	e.uid = 33;
	e.cgroup_id = 1;
	memcpy(e.comm, "bash", 5);
	memcpy(e.pcomm, "init", 5);
	proc_ingest_event(p, &e, sizeof(e));

	memset(&x, 0, sizeof(x));
	x.h = e;
	x.h.kind = CR_PROC_EXEC;
	x.h.ts_boot_ns = 1456;
	memcpy(x.h.comm, "curl", 5);
	strcpy(x.x.path, "/usr/bin/curl");
	x.h.path_len = (uint16_t)strlen(x.x.path);
	memcpy(x.x.args, args, sizeof(args) - 1);
	x.h.args_len = sizeof(args) - 1;
	proc_ingest_event(p, &x, sizeof(x));

	e.kind = CR_PROC_EXIT;
	e.ts_boot_ns = 9456;
	e.exit_code = 7 << 8;
	proc_ingest_event(p, &e, sizeof(e));
	/* A truncated exec record (shorter than its kind says) is ignored. */
	x.h.pid = 4000001;
	proc_ingest_event(p, &x, sizeof(x.h));
	CHECK_THAT(store_flush(s) == 0);

	CHECK_THAT(q1(db, "SELECT count(*) FROM life") == 1);
	CHECK_THAT(q1(db, "SELECT count(*) FROM life WHERE pid = 4000000 AND pstart_ns = 123 AND"
			  " exe = '/usr/bin/curl' AND args = 'curl -s http://127.0.0.1:8080/' AND"
			  " comm = 'curl' AND ppid = 1 AND pcomm = 'init' AND uid = 33 AND"
			  " exit_code = 1792 AND flags = 4") == 1);
	/* Boot-time stamps become wall-clock ones with one offset. */
	CHECK_THAT(q1(db, "SELECT image_ns - start_ns FROM life") == 1000);
	CHECK_THAT(q1(db, "SELECT exit_ns - start_ns FROM life") == 9000);
	CHECK_THAT(proc_ingest_get_stats(p)->forks == 1 && proc_ingest_get_stats(p)->execs == 1 &&
		   proc_ingest_get_stats(p)->exits == 1);

	/* Losses become one gap per growth of a counter, named by what was lost. */
	{
		uint64_t lost[CR_PROC_DROP_MAX] = { 0 };

		CHECK_THAT(proc_ingest_losses(p, lost) == 0);
		lost[CR_PROC_EXEC] = 5;
		CHECK_THAT(proc_ingest_losses(p, lost) == 0);
		CHECK_THAT(proc_ingest_losses(p, lost) == 0);
		lost[CR_PROC_EXEC] = 7;
		lost[CR_PROC_EXIT] = 1;
		CHECK_THAT(proc_ingest_losses(p, lost) == 0);
	}
	CHECK_THAT(store_flush(s) == 0);
	CHECK_THAT(q1(db, "SELECT count(*) || sum(count) FROM gap WHERE kind = 1 AND reason ="
			  " 'process ring buffer full: execs lost'") == 27);
	CHECK_THAT(q1(db, "SELECT sum(count) FROM gap WHERE kind = 1 AND reason ="
			  " 'process ring buffer full: exits lost'") == 1);
	proc_ingest_free(p);
	CHECK_THAT(store_close(s) == 0);
}

int main(void)
{
	char base[] = "/tmp/connrec-test-proc.XXXXXX", cmd[100];

	cr_log_set_level(CR_LOG_ERROR);
	test_quote();
	if (!mkdtemp(base)) {
		perror("mkdtemp");
		return 1;
	}
	test_events(base);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", base);
	if (check_failed == 0 && system(cmd) != 0)
		fprintf(stderr, "cleanup failed\n");
	return check_done();
}
