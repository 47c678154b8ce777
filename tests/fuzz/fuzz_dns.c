// SPDX-License-Identifier: MIT
/*
 * libFuzzer target: the recorder's DNS entry points on arbitrary bytes. The bytes are parsed
 * as one DNS message (dns_parse), and also fed as a TCP stream, cut into segments where the
 * input says, through the reassembly that hands each message to the parser.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dns_internal.h"
#include "dns_parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_name(const char *s)
{
	if (!s)
		abort();
	for (; *s; s++)
		if (*s < 0x21 || *s > 0x7e)
			abort(); /* names must be printable ASCII */
}

static void parse_one(const uint8_t *msg, size_t len)
{
	struct dns_msg m;

	if (dns_parse(msg, len, &m))
		return;
	check_name(m.qname);
	if (m.n_rrs > DNS_MAX_RRS)
		abort();
	for (size_t i = 0; i < m.n_rrs; i++) {
		const struct dns_rr *r = &m.rrs[i];

		check_name(r->name);
		if ((r->type == CR_DNS_TYPE_CNAME) != (r->target != NULL))
			abort();
		if (r->target)
			check_name(r->target);
		if (r->type != CR_DNS_TYPE_A && r->type != CR_DNS_TYPE_AAAA &&
		    r->type != CR_DNS_TYPE_CNAME)
			abort();
	}
	dns_msg_free(&m);
}

static void on_msg(void *ctx, const struct dns_sock_key *k, const uint8_t *msg, size_t len)
{
	(void)ctx;
	(void)k;
	parse_one(msg, len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dns_tcp t = { 0 };
	struct dns_sock_key k = { .proto = 6, .lport = 1, .rport = 53 };
	size_t off = 0, cut = size ? (size_t)data[0] % 7 + 1 : 1;
	uint32_t seq = 0xffffff00u;

	parse_one(data, size);
	/* The same bytes as a stream, in pieces of a size the first byte picks, one repeated. */
	while (off < size) {
		size_t n = size - off < cut ? size - off : cut;

		dns_tcp_feed(&t, &k, seq + (uint32_t)off, data + off, n, n, 1, on_msg, NULL);
		if (off % 3 == 0)
			dns_tcp_feed(&t, &k, seq + (uint32_t)off, data + off, n, n, 1, on_msg,
				     NULL);
		off += n;
	}
	dns_tcp_free(&t);
	return 0;
}
