// SPDX-License-Identifier: MIT
/*
 * Anchor lines to syslog (anchor.h): formatting, RFC 3164 framing, a non-blocking datagram
 * send, and counting what did not go out.
 */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "anchor.h"
#include "log.h"

#define SEV_WARNING 4
#define SEV_NOTICE 5

struct anchor {
	int fd;
	struct sockaddr_un addr;
	socklen_t addr_len;
	int facility;
	pthread_mutex_t mu; /* the fields below */
	char store_id[ANCHOR_STORE_ID_LEN + 1];
	struct anchor_stats stats;
};

static const struct {
	const char *name;
	int num;
} facilities[] = {
	{ "kern", 0 },	   { "user", 1 },	{ "mail", 2 },	   { "daemon", 3 },
	{ "auth", 4 },	   { "syslog", 5 },	{ "lpr", 6 },	   { "news", 7 },
	{ "uucp", 8 },	   { "cron", 9 },	{ "authpriv", 10 }, { "ftp", 11 },
	{ "local0", 16 }, { "local1", 17 },	{ "local2", 18 },  { "local3", 19 },
	{ "local4", 20 }, { "local5", 21 },	{ "local6", 22 },  { "local7", 23 },
};

int anchor_facility(const char *name)
{
	for (size_t i = 0; i < sizeof(facilities) / sizeof(facilities[0]); i++)
		if (!strcmp(name, facilities[i].name))
			return facilities[i].num;
	return -EINVAL;
}

int anchor_open(struct anchor **out, const struct anchor_opts *opts)
{
	const char *path = opts && opts->socket_path ? opts->socket_path : ANCHOR_DEFAULT_SOCKET;
	int facility = opts ? opts->facility : ANCHOR_DEFAULT_FACILITY;
	struct anchor *a;

	*out = NULL;
	if (!*path || facility < 0 || facility > 23)
		return -EINVAL;
	if (strlen(path) >= sizeof(a->addr.sun_path))
		return -ENAMETOOLONG;
	a = calloc(1, sizeof(*a));
	if (!a)
		return -ENOMEM;
	a->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (a->fd < 0) {
		int err = -errno;

		free(a);
		return err;
	}
	a->addr.sun_family = AF_UNIX;
	memcpy(a->addr.sun_path, path, strlen(path));
	a->addr_len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(path) + 1);
	a->facility = facility;
	pthread_mutex_init(&a->mu, NULL);
	*out = a;
	return 0;
}

void anchor_close(struct anchor *a)
{
	if (!a)
		return;
	close(a->fd);
	pthread_mutex_destroy(&a->mu);
	free(a);
}

void anchor_set_store(struct anchor *a, const char *store_id)
{
	if (!a)
		return;
	pthread_mutex_lock(&a->mu);
	snprintf(a->store_id, sizeof(a->store_id), "%s", store_id);
	pthread_mutex_unlock(&a->mu);
}

/* Copies SRC into DST[*o..len), writing bytes outside printable ASCII as \xHH. */
static int append_escaped(char *dst, size_t len, size_t *o, const char *src)
{
	for (const unsigned char *p = (const unsigned char *)src; *p; p++) {
		size_t need = (*p >= 0x20 && *p < 0x7f && *p != '\\') ? 1 : 4;

		if (*o + need >= len)
			return -ENOSPC;
		if (need == 1)
			dst[(*o)++] = (char)*p;
		else
			*o += (size_t)snprintf(dst + *o, len - *o, "\\x%02x", *p);
	}
	dst[*o] = '\0';
	return 0;
}

int anchor_vformat(char *buf, size_t len, const char *store_id, const char *kind,
		   const char *fmt, va_list ap)
{
	char fields[ANCHOR_LINE_MAX];
	size_t o;
	int n;

	n = snprintf(buf, len, "%s v=%d store=%s kind=%s ", ANCHOR_MARK, ANCHOR_VERSION,
		     store_id && *store_id ? store_id : "-", kind);
	if (n < 0 || (size_t)n >= len)
		return -ENOSPC;
	o = (size_t)n;
	n = vsnprintf(fields, sizeof(fields), fmt, ap);
	if (n < 0 || (size_t)n >= sizeof(fields))
		return -ENOSPC;
	if (append_escaped(buf, len, &o, fields))
		return -ENOSPC;
	return (int)o;
}

int anchor_format(char *buf, size_t len, const char *store_id, const char *kind,
		  const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = anchor_vformat(buf, len, store_id, kind, fmt, ap);
	va_end(ap);
	return n;
}

/* Tamper events are warnings; checkpoints and seals are routine notices. */
static int severity_of(const char *body)
{
	return strstr(body, " kind=tamper ") ? SEV_WARNING : SEV_NOTICE;
}

static void count(struct anchor *a, int err)
{
	bool first;

	pthread_mutex_lock(&a->mu);
	first = err && a->stats.last_err != err;
	if (err)
		a->stats.failed++;
	else
		a->stats.sent++;
	if (!err && a->stats.last_err)
		cr_info("anchor: sending to %s works again", a->addr.sun_path);
	a->stats.last_err = err;
	pthread_mutex_unlock(&a->mu);
	if (first)
		cr_warn("anchor: cannot send to %s (%s): anchor lines are not reaching syslog",
			a->addr.sun_path, strerror(-err));
}

int anchor_send(struct anchor *a, const char *body)
{
	char msg[ANCHOR_LINE_MAX + 128], stamp[32];
	struct tm tm;
	time_t now;
	int n, err = 0;

	if (!a)
		return 0;
	now = time(NULL);
	if (!localtime_r(&now, &tm) || !strftime(stamp, sizeof(stamp), "%b %e %H:%M:%S", &tm))
		snprintf(stamp, sizeof(stamp), "Jan  1 00:00:00");
	n = snprintf(msg, sizeof(msg), "<%d>%s %s[%d]: %s", a->facility * 8 + severity_of(body),
		     stamp, ANCHOR_TAG, (int)getpid(), body);
	if (n < 0 || (size_t)n >= sizeof(msg))
		err = -EMSGSIZE;
	else if (sendto(a->fd, msg, (size_t)n, MSG_DONTWAIT | MSG_NOSIGNAL,
			(const struct sockaddr *)&a->addr, a->addr_len) < 0)
		err = -errno;
	count(a, err);
	return err;
}

int anchor_emit(struct anchor *a, const char *kind, const char *fmt, ...)
{
	char body[ANCHOR_LINE_MAX], id[ANCHOR_STORE_ID_LEN + 1];
	va_list ap;
	int n;

	if (!a)
		return 0;
	pthread_mutex_lock(&a->mu);
	memcpy(id, a->store_id, sizeof(id));
	pthread_mutex_unlock(&a->mu);
	va_start(ap, fmt);
	n = anchor_vformat(body, sizeof(body), id, kind, fmt, ap);
	va_end(ap);
	if (n < 0) {
		count(a, n);
		return n;
	}
	return anchor_send(a, body);
}

struct anchor_stats anchor_get_stats(struct anchor *a)
{
	struct anchor_stats s = { 0 };

	if (!a)
		return s;
	pthread_mutex_lock(&a->mu);
	s = a->stats;
	pthread_mutex_unlock(&a->mu);
	return s;
}
