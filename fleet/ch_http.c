// SPDX-License-Identifier: MIT
/*
 * The HTTP side of a ClickHouse server: one libcurl easy handle (its connection is reused
 * between requests), basic auth from the URL or an auth file, timeouts, retries with
 * backoff for statements that may run twice, and answers read into a capped buffer.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "ch_http.h"
#include "log.h"

#define AUTH_FILE_MAX 4096
#define ERROR_TEXT_MAX 240
#define BACKOFF_FIRST_MS 500
#define BACKOFF_MAX_MS 30000

struct ch_server {
	CURL *curl;
	char *url;     /* with credentials removed; requests append "?..." or "&..." */
	char *shown;   /* the same, for messages */
	bool has_query; /* url already has a query string */
	char *user, *password;
	char database[64];
	long timeout_s;
	unsigned tries;
	uint64_t max_answer;
};

static volatile sig_atomic_t interrupted;

void ch_interrupt(void)
{
	interrupted = 1;
}

/* ---- opening ---- */

bool ch_mask_password(char *arg)
{
	char *p = strstr(arg, "://"), *at, *colon, *slash;

	if (!p)
		return false;
	p += 3;
	slash = strchr(p, '/');
	at = strchr(p, '@');
	if (!at || (slash && slash < at))
		return false;
	colon = memchr(p, ':', (size_t)(at - p));
	if (!colon || colon + 1 == at)
		return false;
	memset(colon + 1, 'x', (size_t)(at - colon - 1));
	return true;
}

/* One line "USER[:PASSWORD]" (a trailing newline is allowed, nothing after it). */
static int read_auth(const char *path, char **user, char **password, char *err, size_t errlen)
{
	char buf[AUTH_FILE_MAX + 1];
	struct stat st;
	ssize_t n;
	size_t len = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY), ret = -EINVAL;
	char *nl, *colon;

	if (fd < 0) {
		snprintf(err, errlen, "--auth %s: %s", path, strerror(errno));
		return -errno;
	}
	if (!fstat(fd, &st) && S_ISREG(st.st_mode) && (st.st_mode & 0077))
		cr_warn("--auth %s is readable by other users (chmod 600 it)", path);
	while (len < sizeof(buf) && (n = read(fd, buf + len, sizeof(buf) - len)) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			snprintf(err, errlen, "--auth %s: %s", path, strerror(errno));
			ret = -errno;
			goto cleanup;
		}
		len += (size_t)n;
	}
	if (len > AUTH_FILE_MAX) {
		snprintf(err, errlen, "--auth %s: longer than %d bytes", path, AUTH_FILE_MAX);
		goto cleanup;
	}
	buf[len] = '\0';
	if (memchr(buf, '\0', len)) {
		snprintf(err, errlen, "--auth %s: contains a NUL byte", path);
		goto cleanup;
	}
	nl = strpbrk(buf, "\r\n");
	if (nl) {
		*nl++ = '\0';
		nl += strspn(nl, "\r\n");
	}
	if ((nl && *nl) || !buf[0]) {
		snprintf(err, errlen, "--auth %s: expected one line USER[:PASSWORD]", path);
		goto cleanup;
	}
	colon = strchr(buf, ':');
	if (colon)
		*colon = '\0';
	*user = strdup(buf);
	*password = strdup(colon ? colon + 1 : "");
	ret = *user && *password ? 0 : -ENOMEM;
cleanup:
	explicit_bzero(buf, sizeof(buf));
	close(fd);
	return ret;
}

static int take_part(CURLU *u, CURLUPart part, char **out)
{
	char *v = NULL;
	CURLUcode rc = curl_url_get(u, part, &v, CURLU_URLDECODE);

	*out = NULL;
	if (rc != CURLUE_OK || !v)
		return 0;
	*out = strdup(v);
	curl_free(v);
	return *out ? 0 : -ENOMEM;
}

bool ch_valid_database(const char *db)
{
	size_t n = strlen(db);

	if (!n || n >= 64)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (!isalnum((unsigned char)db[i]) && db[i] != '_')
			return false;
	}
	return true;
}

/* The URL without credentials, and the credentials from it. */
static int parse_url(struct ch_server *s, const char *url, char *err, size_t errlen)
{
	CURLU *u = curl_url();
	char *scheme = NULL, *frag = NULL, *query = NULL, *clean = NULL;
	int ret = -EINVAL;

	if (!u)
		return -ENOMEM;
	if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK) {
		snprintf(err, errlen, "invalid URL (expected http://HOST:PORT)");
		goto cleanup;
	}
	if (take_part(u, CURLUPART_SCHEME, &scheme) || take_part(u, CURLUPART_FRAGMENT, &frag) ||
	    take_part(u, CURLUPART_QUERY, &query) || take_part(u, CURLUPART_USER, &s->user) ||
	    take_part(u, CURLUPART_PASSWORD, &s->password)) {
		ret = -ENOMEM;
		goto cleanup;
	}
	if (!scheme || (strcmp(scheme, "http") && strcmp(scheme, "https"))) {
		snprintf(err, errlen, "invalid URL: only http:// and https:// are supported");
		goto cleanup;
	}
	if (frag) {
		snprintf(err, errlen, "invalid URL: a #fragment means nothing here");
		goto cleanup;
	}
	curl_url_set(u, CURLUPART_USER, NULL, 0);
	curl_url_set(u, CURLUPART_PASSWORD, NULL, 0);
	if (curl_url_get(u, CURLUPART_URL, &clean, 0) != CURLUE_OK) {
		snprintf(err, errlen, "invalid URL");
		goto cleanup;
	}
	s->url = strdup(clean);
	s->shown = strdup(clean);
	s->has_query = query != NULL;
	ret = s->url && s->shown ? 0 : -ENOMEM;
cleanup:
	curl_free(clean);
	free(scheme);
	free(frag);
	free(query);
	curl_url_cleanup(u);
	return ret;
}


int ch_open(struct ch_server **out, const struct ch_opts *o, char *err, size_t errlen)
{
	static bool curl_ready;
	const char *db = o->database ? o->database : CH_DEFAULT_DATABASE;
	struct ch_server *s;
	int ret;

	*out = NULL;
	if (!curl_ready) {
		if (curl_global_init(CURL_GLOBAL_DEFAULT)) {
			snprintf(err, errlen, "libcurl failed to initialise");
			return -ENOMEM;
		}
		curl_ready = true;
	}
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	if (!ch_valid_database(db)) {
		snprintf(err, errlen, "invalid --database '%.64s': 1-63 letters, digits or '_'", db);
		ret = -EINVAL;
		goto fail;
	}
	snprintf(s->database, sizeof(s->database), "%s", db);
	ret = parse_url(s, o->url, err, errlen);
	if (ret)
		goto fail;
	if (o->auth_file) {
		if (s->user) {
			snprintf(err, errlen, "credentials both in the URL and in --auth");
			ret = -EINVAL;
			goto fail;
		}
		ret = read_auth(o->auth_file, &s->user, &s->password, err, errlen);
		if (ret)
			goto fail;
	}
	s->timeout_s = (long)((o->timeout_ns ? o->timeout_ns : CH_DEFAULT_TIMEOUT_NS) / 1000000000);
	if (s->timeout_s < 1)
		s->timeout_s = 1;
	s->tries = o->tries ? o->tries : CH_DEFAULT_TRIES;
	s->max_answer = o->max_answer ? o->max_answer : CH_DEFAULT_MAX_ANSWER;
	s->curl = curl_easy_init();
	if (!s->curl) {
		ret = -ENOMEM;
		goto fail;
	}
	*out = s;
	return 0;
fail:
	ch_close(s);
	return ret;
}

void ch_close(struct ch_server *s)
{
	if (!s)
		return;
	if (s->curl)
		curl_easy_cleanup(s->curl);
	if (s->password) {
		explicit_bzero(s->password, strlen(s->password));
		free(s->password);
	}
	free(s->user);
	free(s->url);
	free(s->shown);
	free(s);
}

const char *ch_url(const struct ch_server *s)
{
	return s->shown;
}

const char *ch_database(const struct ch_server *s)
{
	return s->database;
}

/* ---- requests ---- */

/* One request's answer, and when its transfer last moved (for the stall timeout). */
struct answer {
	struct ch_buf *buf;
	uint64_t max;
	bool too_big, stalled;
	long timeout_s;
	curl_off_t dn, un;
	int64_t moved_ns;
};

static int64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/*
 * Called by libcurl at least once a second: stops a transfer on ch_interrupt(), or when no
 * byte moved either way for the timeout (libcurl's own low-speed check averages over
 * several seconds, so it would wait longer than it was told).
 */
static int progress_cb(void *ctx, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
	struct answer *a = ctx;
	int64_t now = mono_ns();

	(void)dt, (void)ut;
	if (interrupted)
		return 1;
	if (dn != a->dn || un != a->un) {
		a->dn = dn;
		a->un = un;
		a->moved_ns = now;
	} else if (now - a->moved_ns > (int64_t)a->timeout_s * 1000000000) {
		a->stalled = true;
		return 1;
	}
	return 0;
}

static size_t write_cb(char *data, size_t size, size_t n, void *ctx)
{
	struct answer *a = ctx;
	size_t len = size * n;

	if (a->buf->n + len > a->max) {
		a->too_big = true;
		return 0;
	}
	return ch_buf_put(a->buf, data, len) ? 0 : len;
}

/*
 * The server's error text: the exception message when there is one, its first line,
 * shortened. Not escaped here: the log escapes every message it prints (escaping twice
 * would show "\x5cx1b" for an ESC).
 */
static void server_text(const struct ch_buf *b, char *out, size_t len)
{
	static const char mark[] = "DB::Exception: ";
	const char *p = (const char *)b->p, *m;
	char raw[ERROR_TEXT_MAX + 1];
	size_t n;

	if (!b->n) {
		snprintf(out, len, "(no message)");
		return;
	}
	m = memmem(p, b->n, mark, sizeof(mark) - 1);
	n = b->n;
	if (m) {
		n -= (size_t)(m + sizeof(mark) - 1 - p);
		p = m + sizeof(mark) - 1;
	}
	if (n > ERROR_TEXT_MAX)
		n = ERROR_TEXT_MAX;
	memcpy(raw, p, n);
	raw[n] = '\0';
	raw[strcspn(raw, "\n")] = '\0';
	/* "..., e.what() = DB::Exception" repeats what was said. */
	m = strstr(raw, ", e.what() = ");
	if (m)
		raw[m - raw] = '\0';
	snprintf(out, len, "%s", raw);
}

/* A ClickHouse error code that says "try again later". */
static bool overloaded(const struct ch_buf *b)
{
	static const char *const codes[] = {
		"Code: 202,", /* TOO_MANY_SIMULTANEOUS_QUERIES */
		"Code: 252,", /* TOO_MANY_PARTS */
		"Code: 209,", /* SOCKET_TIMEOUT */
		"Code: 210,", /* NETWORK_ERROR */
	};

	for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
		size_t l = strlen(codes[i]);

		if (b->n >= l && !memcmp(b->p, codes[i], l))
			return true;
	}
	return false;
}

static int curl_error(const struct ch_server *s, CURLcode rc, const char *detail, char *err,
		      size_t errlen)
{
	int e;

	switch (rc) {
	case CURLE_COULDNT_CONNECT:
		e = -ECONNREFUSED;
		break;
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
		e = -EHOSTUNREACH;
		break;
	case CURLE_OPERATION_TIMEDOUT:
		e = -ETIMEDOUT;
		break;
	case CURLE_ABORTED_BY_CALLBACK:
		e = interrupted ? -ECANCELED : -EIO;
		break;
	case CURLE_OUT_OF_MEMORY:
		e = -ENOMEM;
		break;
	default:
		e = -EIO;
		break;
	}
	if (e == -ETIMEDOUT)
		snprintf(err, errlen, "%s: no answer within %lds", s->shown, s->timeout_s);
	else if (e == -ECANCELED)
		snprintf(err, errlen, "%s: interrupted", s->shown);
	else if (e == -ECONNREFUSED)
		snprintf(err, errlen, "%s: connection refused (is the server up?)", s->shown);
	else
		snprintf(err, errlen, "%s: %s", s->shown, detail[0] ? detail : curl_easy_strerror(rc));
	return e;
}

/*
 * One request: POST body to the URL with params appended. The answer goes into *answer.
 * Returns 0, or an error as in ch_http.h (server errors with *overload set when retrying
 * later may help).
 */
static int request(struct ch_server *s, const char *params, const void *body, size_t len,
		   struct ch_buf *answer, bool *overload, char *err, size_t errlen)
{
	char detail[CURL_ERROR_SIZE] = "", text[ERROR_TEXT_MAX + 16];
	struct answer a = {
		.buf = answer, .max = s->max_answer, .timeout_s = s->timeout_s, .moved_ns = mono_ns()
	};
	struct curl_slist *hdr = curl_slist_append(NULL, "Content-Type: application/octet-stream");
	char *url = NULL;
	long status = 0;
	CURLcode rc;
	int ret;

	*overload = false;
	answer->n = 0;
	if (!hdr || asprintf(&url, "%s%s%s", s->url, s->has_query ? "&" : "?", params) < 0) {
		url = NULL;
		ret = -ENOMEM;
		goto cleanup;
	}
	curl_easy_reset(s->curl);
	curl_easy_setopt(s->curl, CURLOPT_URL, url);
	curl_easy_setopt(s->curl, CURLOPT_POST, 1L);
	curl_easy_setopt(s->curl, CURLOPT_POSTFIELDS, body ? body : "");
	curl_easy_setopt(s->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
	curl_easy_setopt(s->curl, CURLOPT_HTTPHEADER, hdr);
	curl_easy_setopt(s->curl, CURLOPT_WRITEFUNCTION, write_cb);
	curl_easy_setopt(s->curl, CURLOPT_WRITEDATA, &a);
	curl_easy_setopt(s->curl, CURLOPT_ERRORBUFFER, detail);
	curl_easy_setopt(s->curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(s->curl, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(s->curl, CURLOPT_XFERINFOFUNCTION, progress_cb);
	curl_easy_setopt(s->curl, CURLOPT_XFERINFODATA, &a);
	curl_easy_setopt(s->curl, CURLOPT_CONNECTTIMEOUT, s->timeout_s);
	curl_easy_setopt(s->curl, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(s->curl, CURLOPT_FOLLOWLOCATION, 0L);
	if (s->user) {
		curl_easy_setopt(s->curl, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
		curl_easy_setopt(s->curl, CURLOPT_USERNAME, s->user);
		curl_easy_setopt(s->curl, CURLOPT_PASSWORD, s->password ? s->password : "");
	}
	rc = curl_easy_perform(s->curl);
	if (a.too_big) {
		snprintf(err, errlen, "%s: answer larger than %llu bytes; narrow the question",
			 s->shown, (unsigned long long)s->max_answer);
		ret = -EFBIG;
		goto cleanup;
	}
	if (rc != CURLE_OK) {
		ret = curl_error(s, a.stalled ? CURLE_OPERATION_TIMEDOUT : rc, detail, err, errlen);
		goto cleanup;
	}
	curl_easy_getinfo(s->curl, CURLINFO_RESPONSE_CODE, &status);
	if (status == 200) {
		ret = 0;
		goto cleanup;
	}
	server_text(answer, text, sizeof(text));
	if (status == 401 || status == 403 || strstr(text, "password") ||
	    (answer->n > 9 && !memcmp(answer->p, "Code: 516,", 10))) {
		snprintf(err, errlen, "%s: authentication refused (HTTP %ld): %s", s->shown, status,
			 text);
		ret = -EACCES;
		goto cleanup;
	}
	*overload = status == 502 || status == 503 || status == 504 || overloaded(answer);
	snprintf(err, errlen, "%s: server error (HTTP %ld): %s", s->shown, status, text);
	ret = -EPROTO;
cleanup:
	free(url);
	curl_slist_free_all(hdr);
	return ret;
}

bool ch_transient(int err)
{
	return err == -ECONNREFUSED || err == -EHOSTUNREACH || err == -ETIMEDOUT || err == -EIO ||
	       err == -EAGAIN;
}

/* Sleeps ms, in slices, so that ch_interrupt() cuts it short. */
static int backoff_sleep(long ms)
{
	while (ms > 0 && !interrupted) {
		long slice = ms < 100 ? ms : 100;
		struct timespec ts = { .tv_sec = 0, .tv_nsec = slice * 1000000L };

		nanosleep(&ts, NULL);
		ms -= slice;
	}
	return interrupted ? -ECANCELED : 0;
}

static char *escape_param(struct ch_server *s, const char *v)
{
	return curl_easy_escape(s->curl, v, 0);
}

uint64_t ch_set_max_answer(struct ch_server *s, uint64_t max)
{
	uint64_t old = s->max_answer;

	s->max_answer = max ? max : CH_DEFAULT_MAX_ANSWER;
	return old;
}

int ch_query(struct ch_server *s, const char *sql, struct ch_buf *answer, char *err,
	     size_t errlen)
{
	struct ch_buf sink = { 0 };
	struct ch_buf *b = answer ? answer : &sink;
	long wait_ms = BACKOFF_FIRST_MS;
	int ret = 0;

	/* The whole answer is made before it is sent, so an error cannot arrive as data. */
	for (unsigned attempt = 1;; attempt++) {
		bool overload;

		ret = request(s, "wait_end_of_query=1", sql, strlen(sql), b, &overload, err, errlen);
		if (ret == -EPROTO && overload)
			ret = -EAGAIN;
		if (!ret || !ch_transient(ret) || attempt >= s->tries)
			break;
		cr_debug("%s; retrying in %ld ms (attempt %u of %u)", err, wait_ms, attempt + 1,
			 s->tries);
		if (backoff_sleep(wait_ms)) {
			snprintf(err, errlen, "%s: interrupted", s->shown);
			ret = -ECANCELED;
			break;
		}
		wait_ms = wait_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : wait_ms * 2;
	}
	if (ret && ch_transient(ret) && s->tries > 1) {
		size_t l = strlen(err);

		snprintf(err + l, errlen - l, " (after %u attempts)", s->tries);
	}
	ch_buf_free(&sink);
	return ret;
}

int ch_insert(struct ch_server *s, const char *sql, const void *rows, size_t len, char *err,
	      size_t errlen)
{
	struct ch_buf answer = { 0 };
	char *q = escape_param(s, sql), *params = NULL;
	bool overload;
	int ret;

	if (!q || asprintf(&params, "query=%s", q) < 0) {
		curl_free(q);
		return -ENOMEM;
	}
	ret = request(s, params, rows, len, &answer, &overload, err, errlen);
	if (ret == -EPROTO && overload)
		ret = -EAGAIN;
	curl_free(q);
	free(params);
	ch_buf_free(&answer);
	return ret;
}
