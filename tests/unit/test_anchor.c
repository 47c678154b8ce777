// SPDX-License-Identifier: MIT
/*
 * Anchor lines (store/anchor.c): the body format, escaping, RFC 3164 framing as received on
 * a unix datagram socket, and counting sends that fail (no receiver, a path too long).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "anchor.h"
#include "check.h"
#include "log.h"

static const char store_id[] = "0123456789abcdef0123456789abcdef";

static int bind_receiver(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		perror("bind receiver");
		exit(1);
	}
	return fd;
}

/* One datagram, NUL-terminated; "" when none is waiting. */
static void receive(int fd, char *buf, size_t len)
{
	ssize_t n = recv(fd, buf, len - 1, MSG_DONTWAIT);

	buf[n > 0 ? n : 0] = '\0';
}

static void test_format(void)
{
	char buf[ANCHOR_LINE_MAX];
	int n;

	n = anchor_format(buf, sizeof(buf), store_id, "checkpoint", "seg=%d rows=%d", 7, 42);
	CHECK(n > 0 && !strcmp(buf, "connrec-anchor v=1 store=0123456789abcdef0123456789abcdef "
				    "kind=checkpoint seg=7 rows=42"),
	      "format: %s", buf);
	/* File-derived or odd text never breaks the line: controls and backslashes escaped. */
	anchor_format(buf, sizeof(buf), NULL, "tamper", "msg=%s", "a\nb\x1b[2J\\c\xff");
	CHECK(!strcmp(buf, "connrec-anchor v=1 store=- kind=tamper msg=a\\x0ab\\x1b[2J\\x5cc\\xff"),
	      "escaped: %s", buf);
	n = anchor_format(buf, 64, store_id, "checkpoint", "hash=%s",
			  "0000000000000000000000000000000000000000000000000000000000000000");
	CHECK(n == -ENOSPC, "too long for the buffer: %d", n);
}

static void test_send(const char *dir)
{
	char path[256], got[2048];
	struct anchor_opts o = { .socket_path = path, .facility = anchor_facility("local3") };
	struct anchor *a = NULL;
	struct anchor_stats st;
	char want[128];
	int rfd, err;

	snprintf(path, sizeof(path), "%s/log.sock", dir);
	CHECK(o.facility == 19, "local3 = %d", o.facility);
	CHECK(anchor_facility("nope") == -EINVAL, "unknown facility refused");
	rfd = bind_receiver(path);
	err = anchor_open(&a, &o);
	CHECK(err == 0 && a, "open: %d", err);
	anchor_set_store(a, store_id);
	err = anchor_emit(a, "seal", "seg=%u sha256=%s", 3u, "ab");
	CHECK(err == 0, "emit: %d", err);
	receive(rfd, got, sizeof(got));
	/* <PRI>: local3 (19) * 8 + notice (5) = 157; tag and pid as syslog(3) writes them. */
	snprintf(want, sizeof(want), "]: connrec-anchor v=1 store=%s kind=seal seg=3 sha256=ab",
		 store_id);
	CHECK(!strncmp(got, "<157>", 5), "priority: %s", got);
	CHECK(strstr(got, " connrec[") != NULL, "tag: %s", got);
	CHECK(strlen(got) > strlen(want) && !strcmp(got + strlen(got) - strlen(want), want),
	      "body at the end: %s", got);
	anchor_emit(a, "tamper", "what=link msg=%s", "cgroup link detached");
	receive(rfd, got, sizeof(got));
	CHECK(!strncmp(got, "<156>", 5), "tamper is a warning: %s", got);

	/* No receiver: counted and reported, never fatal. */
	close(rfd);
	unlink(path);
	err = anchor_emit(a, "checkpoint", "seg=1");
	CHECK(err == -ENOENT || err == -ECONNREFUSED, "send without a receiver: %d", err);
	st = anchor_get_stats(a);
	CHECK(st.sent == 2 && st.failed == 1 && st.last_err == err, "stats %llu/%llu/%d",
	      (unsigned long long)st.sent, (unsigned long long)st.failed, st.last_err);
	/* It comes back: the socket is unconnected, so a restarted syslog is found again. */
	rfd = bind_receiver(path);
	CHECK(anchor_emit(a, "checkpoint", "seg=2") == 0, "send after the receiver is back");
	receive(rfd, got, sizeof(got));
	CHECK(strstr(got, "kind=checkpoint seg=2") != NULL, "received again: %s", got);
	st = anchor_get_stats(a);
	CHECK(st.last_err == 0, "last_err cleared");
	close(rfd);
	anchor_close(a);

	CHECK(anchor_emit(NULL, "seal", "seg=1") == 0, "a NULL anchor does nothing");
	memset(path, 'x', sizeof(path) - 1);
	path[sizeof(path) - 1] = '\0';
	CHECK(anchor_open(&a, &o) == -ENAMETOOLONG && !a, "path too long refused");
}

int main(void)
{
	char dir[] = "/tmp/connrec-anchor.XXXXXX";

	cr_log_set_level(CR_LOG_ERROR);
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	test_format();
	test_send(dir);
	rmdir(dir);
	return check_done();
}
