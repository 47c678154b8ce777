// SPDX-License-Identifier: MIT
/* record --ship-to: `connrec ship` as a child process after each seal (see ship_spawn.h). */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ch_http.h"
#include "log.h"
#include "ship_spawn.h"

#define CHILD_NICE 10
#define AUTH_FD 3
#define STOP_WAIT_MS 5000

struct ship_spawn {
	char *url;	/* without the password */
	char *secret;	/* "USER:PASSWORD" when the URL had a password, else NULL */
	char *auth, *database, *dir;
	pid_t child;
	uint64_t shipped_upto; /* the seal count the running (or last) child started at */
	bool started_once, last_failed;
	int64_t retry_at;
};

/* The URL with its password cut out, and "USER:PASSWORD" for the pipe. */
static int split_secret(struct ship_spawn *sp, const char *url)
{
	const char *p = strstr(url, "://"), *at, *colon, *slash;

	sp->url = strdup(url);
	if (!sp->url)
		return -ENOMEM;
	if (!p)
		return 0;
	p += 3;
	slash = strchr(p, '/');
	at = strchr(p, '@');
	if (!at || (slash && slash < at))
		return 0;
	colon = memchr(p, ':', (size_t)(at - p));
	if (!colon)
		return 0;
	/* user:password@ → user@ for the child's command line, user:password in the pipe */
	if (asprintf(&sp->secret, "%.*s\n", (int)(at - p), p) < 0) {
		sp->secret = NULL;
		return -ENOMEM;
	}
	free(sp->url);
	if (asprintf(&sp->url, "%.*s%s", (int)(p - url), url, at + 1) < 0) {
		sp->url = NULL;
		return -ENOMEM;
	}
	return 0;
}

int ship_spawn_new(struct ship_spawn **out, const struct ship_spawn_opts *o)
{
	struct ship_spawn *sp = calloc(1, sizeof(*sp));
	struct ch_opts co = { .url = o->url, .auth_file = o->auth, .database = o->database };
	struct ch_server *probe = NULL;
	char err[512];
	int ret;

	if (!sp)
		return -ENOMEM;
	/* Checked now, so a bad URL or auth file stops the recorder at its start. */
	ret = ch_open(&probe, &co, err, sizeof(err));
	ch_close(probe);
	if (ret) {
		cr_err("--ship-to: %s", err);
		free(sp);
		return ret;
	}
	ret = split_secret(sp, o->url);
	sp->auth = o->auth ? strdup(o->auth) : NULL;
	sp->database = o->database ? strdup(o->database) : NULL;
	sp->dir = strdup(o->dir);
	if (ret || (o->auth && !sp->auth) || (o->database && !sp->database) || !sp->dir) {
		ship_spawn_free(sp);
		return -ENOMEM;
	}
	*out = sp;
	return 0;
}

/* The child's command line: no password on it (it comes on AUTH_FD). */
static void child_argv(const struct ship_spawn *sp, const char **argv, char *fdpath, size_t len)
{
	int k = 0;

	argv[k++] = "connrec";
	argv[k++] = "ship";
	argv[k++] = "--no-progress";
	argv[k++] = "--to";
	argv[k++] = sp->url;
	argv[k++] = "-d";
	argv[k++] = sp->dir;
	if (sp->database) {
		argv[k++] = "--database";
		argv[k++] = sp->database;
	}
	if (sp->auth || sp->secret) {
		snprintf(fdpath, len, "/dev/fd/%d", AUTH_FD);
		argv[k++] = "--auth";
		argv[k++] = sp->auth ? sp->auth : fdpath;
	}
	argv[k] = NULL;
}

static void start_child(struct ship_spawn *sp, uint64_t sealed, int64_t now)
{
	const char *argv[12];
	char fdpath[32];
	int pipefd[2] = { -1, -1 };
	pid_t pid;

	child_argv(sp, argv, fdpath, sizeof(fdpath));
	if (sp->secret && pipe2(pipefd, O_CLOEXEC)) {
		cr_warn("--ship-to: cannot start connrec ship: %s", strerror(errno));
		goto failed;
	}
	pid = fork();
	if (pid < 0) {
		cr_warn("--ship-to: cannot start connrec ship: %s", strerror(errno));
		goto failed;
	}
	if (pid == 0) {
		/* The child: only async-signal-safe calls until exec. */
		int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);

		if (devnull >= 0) {
			dup2(devnull, STDIN_FILENO);
			dup2(devnull, STDOUT_FILENO);
		}
		/* dup2() clears close-on-exec, except onto itself. */
		if (pipefd[0] == AUTH_FD)
			fcntl(AUTH_FD, F_SETFD, 0);
		else if (pipefd[0] >= 0 && dup2(pipefd[0], AUTH_FD) < 0)
			_exit(127);
		setpriority(PRIO_PROCESS, 0, CHILD_NICE);
		execv("/proc/self/exe", (char *const *)argv);
		_exit(127);
	}
	if (sp->secret) {
		/* Far below a pipe's capacity: written whole before the child reads it. */
		ssize_t w = write(pipefd[1], sp->secret, strlen(sp->secret));

		(void)w;
		close(pipefd[0]);
		close(pipefd[1]);
	}
	sp->child = pid;
	sp->shipped_upto = sealed;
	sp->started_once = true;
	cr_debug("--ship-to: connrec ship started (pid %d)", (int)pid);
	return;
failed:
	if (pipefd[0] >= 0) {
		close(pipefd[0]);
		close(pipefd[1]);
	}
	sp->last_failed = true;
	sp->retry_at = now + SHIP_SPAWN_RETRY_NS;
}

void ship_spawn_poll(struct ship_spawn *sp, uint64_t sealed, int64_t now)
{
	int status;

	if (!sp)
		return;
	if (sp->child > 0) {
		pid_t r = waitpid(sp->child, &status, WNOHANG);

		if (r == 0)
			return;
		sp->child = 0;
		sp->last_failed = r < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0;
		if (sp->last_failed) {
			sp->retry_at = now + SHIP_SPAWN_RETRY_NS;
			/* The child said why on our stderr. */
			cr_warn("--ship-to: connrec ship did not ship everything; trying again"
				" after the next seal or in %llds",
				(long long)(SHIP_SPAWN_RETRY_NS / 1000000000));
		}
	}
	if (!sp->started_once || sealed > sp->shipped_upto ||
	    (sp->last_failed && now >= sp->retry_at))
		start_child(sp, sealed, now);
}

void ship_spawn_free(struct ship_spawn *sp)
{
	if (!sp)
		return;
	if (sp->child > 0) {
		/* A ship stopped midway marks nothing: the next run sends the segment again. */
		kill(sp->child, SIGTERM);
		for (int ms = 0; ms < STOP_WAIT_MS; ms += 50) {
			if (waitpid(sp->child, NULL, WNOHANG) != 0)
				break;
			usleep(50000);
		}
		if (waitpid(sp->child, NULL, WNOHANG) == 0) {
			kill(sp->child, SIGKILL);
			waitpid(sp->child, NULL, 0);
		}
	}
	if (sp->secret) {
		explicit_bzero(sp->secret, strlen(sp->secret));
		free(sp->secret);
	}
	free(sp->url);
	free(sp->auth);
	free(sp->database);
	free(sp->dir);
	free(sp);
}
