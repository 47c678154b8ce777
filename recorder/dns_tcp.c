// SPDX-License-Identifier: MIT
/*
 * DNS over TCP: BPF copies each segment the server sends (with its sequence number); here
 * they are put back in order into the connection's byte stream, which holds messages each
 * preceded by a two-byte length (RFC 1035 4.2.2).
 *
 * The first segment seen is taken to begin a message (a server only speaks after a query, so
 * its first byte starts the first answer). Retransmitted bytes are skipped. A hole (a segment
 * lost to a full ring, cut at CR_DNS_SNAPLEN, or arriving out of order) makes the rest of the
 * stream unreadable: it is counted once and the connection's later segments are ignored.
 */
#include <stdlib.h>
#include <string.h>

#include "dns_internal.h"

#define STREAMS_MAX 256		    /* DNS-over-TCP connections followed at once */
#define STREAM_BUF_MAX (2 * 65537) /* a partial message and the start of the next */

struct tcp_stream {
	struct dns_sock_key k;
	uint32_t next_seq;
	bool broken;
	int64_t last_ns;
	uint8_t *buf;
	size_t len, cap;
};

static struct tcp_stream *find(struct dns_tcp *t, const struct dns_sock_key *k)
{
	for (size_t i = 0; i < t->n; i++)
		if (!memcmp(&t->v[i].k, k, sizeof(*k)))
			return &t->v[i];
	return NULL;
}

static void drop(struct dns_tcp *t, struct tcp_stream *s)
{
	free(s->buf);
	*s = t->v[--t->n];
}

static struct tcp_stream *add(struct dns_tcp *t, const struct dns_sock_key *k, uint32_t seq)
{
	struct tcp_stream *s;

	if (t->n == STREAMS_MAX)
		return NULL;
	if (t->n == t->cap) {
		size_t cap = t->cap ? 2 * t->cap : 8;
		struct tcp_stream *nv = realloc(t->v, cap * sizeof(*nv));

		if (!nv)
			return NULL;
		t->v = nv;
		t->cap = cap;
	}
	s = &t->v[t->n++];
	memset(s, 0, sizeof(*s));
	s->k = *k;
	s->next_seq = seq;
	return s;
}

static bool append(struct tcp_stream *s, const uint8_t *p, size_t len)
{
	if (s->len + len > STREAM_BUF_MAX)
		return false;
	if (s->len + len > s->cap) {
		size_t cap = s->cap ? s->cap : 1024;
		uint8_t *nb;

		while (cap < s->len + len)
			cap *= 2;
		nb = realloc(s->buf, cap);
		if (!nb)
			return false;
		s->buf = nb;
		s->cap = cap;
	}
	memcpy(s->buf + s->len, p, len);
	s->len += len;
	return true;
}

static void break_stream(struct tcp_stream *s)
{
	s->broken = true;
	free(s->buf);
	s->buf = NULL;
	s->len = s->cap = 0;
}

unsigned dns_tcp_feed(struct dns_tcp *t, const struct dns_sock_key *k, uint32_t seq,
		      const uint8_t *p, size_t len, size_t wire_len, int64_t now_ns,
		      dns_tcp_msg_fn fn, void *ctx)
{
	struct tcp_stream *s = find(t, k);
	size_t skip, used = 0;
	int32_t ahead;

	if (!s)
		s = add(t, k, seq);
	if (!s)
		return 1;
	s->last_ns = now_ns;
	if (s->broken)
		return 0; /* counted when it broke */
	ahead = (int32_t)(seq - s->next_seq);
	if (ahead > 0) {
		break_stream(s);
		return 1;
	}
	skip = (size_t)-(int64_t)ahead;
	if (skip >= wire_len)
		return 0; /* all of it seen before */
	/* The new bytes are [skip, wire_len); all of them must have been copied. */
	if (len < wire_len || !append(s, p + skip, wire_len - skip)) {
		break_stream(s);
		return 1;
	}
	s->next_seq += (uint32_t)(wire_len - skip);
	while (s->len - used >= 2) {
		size_t m = (size_t)s->buf[used] << 8 | s->buf[used + 1];

		if (s->len - used < 2 + m)
			break;
		fn(ctx, k, s->buf + used + 2, m);
		used += 2 + m;
	}
	memmove(s->buf, s->buf + used, s->len - used);
	s->len -= used;
	return 0;
}

void dns_tcp_end(struct dns_tcp *t, const struct dns_sock_key *k)
{
	struct tcp_stream *s = find(t, k);

	if (s)
		drop(t, s);
}

void dns_tcp_expire(struct dns_tcp *t, int64_t cutoff_ns)
{
	for (size_t i = 0; i < t->n;) {
		if (t->v[i].last_ns < cutoff_ns)
			drop(t, &t->v[i]);
		else
			i++;
	}
}

void dns_tcp_free(struct dns_tcp *t)
{
	while (t->n)
		drop(t, &t->v[t->n - 1]);
	free(t->v);
	memset(t, 0, sizeof(*t));
}
