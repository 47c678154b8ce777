// SPDX-License-Identifier: MIT
/* Addresses, CIDR lists and port lists: parsing, matching, formatting, bad input. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "check.h"

/* Does address text A fall in CIDR C? -1 on a parse error. */
static int in(const char *c, const char *a)
{
	struct addr_cidr cidr;
	uint8_t fam, addr[16];

	if (addr_parse_cidr(c, &cidr) || addr_parse(a, &fam, addr))
		return -1;
	return addr_cidr_match(&cidr, addr, fam == 4 ? 4 : 16);
}

static void cidr_bad(const char *s)
{
	struct addr_cidr c;

	CHECK(addr_parse_cidr(s, &c) < 0, "cidr '%s' should fail", s);
}

static void ports_bad(const char *s)
{
	struct addr_port_range *r = NULL;
	size_t n = 0;

	CHECK(addr_parse_port_list(s, &r, &n) < 0 && !r, "ports '%s' should fail", s);
	free(r);
}

static void fmt(const char *text, const char *want)
{
	uint8_t fam, a[16];
	char buf[ADDR_STRLEN];

	CHECK(!addr_parse(text, &fam, a), "parse %s", text);
	addr_format(a, fam == 4 ? 4 : 16, buf);
	CHECK(!strcmp(buf, want), "format %s: got %s want %s", text, buf, want);
}

int main(void)
{
	struct addr_cidr *list = NULL;
	struct addr_port_range *ports = NULL;
	uint8_t lo[16], hi[16];
	size_t n = 0;
	char buf[ADDR_STRLEN];
	uint8_t junk[5] = { 1, 2, 3, 4, 5 };

	CHECK(in("10.0.0.0/8", "10.1.2.3") == 1, "v4 in");
	CHECK(in("10.0.0.0/8", "11.1.2.3") == 0, "v4 out");
	CHECK(in("10.0.0.0/8", "::ffff:10.9.9.9") == 1, "v4 cidr matches v4-mapped");
	CHECK(in("10.0.0.0/8", "::ffff:11.9.9.9") == 0, "v4 cidr vs other v4-mapped");
	CHECK(in("10.0.0.0/8", "a00::1") == 0, "v4 cidr vs v6 with same leading bytes");
	CHECK(in("::ffff:10.0.0.0/104", "10.2.3.4") == 1, "mapped v6 cidr matches v4");
	CHECK(in("192.168.1.7", "192.168.1.7") == 1, "single host");
	CHECK(in("192.168.1.7", "192.168.1.8") == 0, "single host other");
	CHECK(in("0.0.0.0/0", "1.2.3.4") == 1, "v4 any");
	CHECK(in("::/0", "2001:db8::1") == 1, "v6 any");
	CHECK(in("::/0", "1.2.3.4") == 1, "v6 any matches v4 via mapping");
	CHECK(in("2001:db8::/32", "2001:db8:ffff::1") == 1, "v6 in");
	CHECK(in("2001:db8::/33", "2001:db8:ffff::1") == 0, "v6 out by one bit");
	CHECK(in("[::1]", "::1") == 1, "bracketed");
	CHECK(in("10.0.0.0/9", "10.127.255.255") == 1, "odd prefix in");
	CHECK(in("10.0.0.0/9", "10.128.0.0") == 0, "odd prefix out");

	cidr_bad("");
	cidr_bad("10.0.0.0/");
	cidr_bad("10.0.0.0/33");
	cidr_bad("10.0.0.1/8"); /* host bits set */
	cidr_bad("10.0.0.0/-1");
	cidr_bad("10.0.0.0/+8");
	cidr_bad("10.0.0.0/ 8");
	cidr_bad("10.0.0/8");
	cidr_bad("::1/129");
	cidr_bad("example.com");
	cidr_bad("1.2.3.4.5");
	cidr_bad("[::1");
	cidr_bad("/8");
	cidr_bad("10.0.0.0/0008");

	CHECK(!addr_parse_cidr_list("10.0.0.0/8,::1,192.168.0.0/16", &list, &n) && n == 3 &&
		      list[1].family == 6 && list[2].prefix == 16,
	      "cidr list");
	free(list);
	list = NULL;
	CHECK(addr_parse_cidr_list("10.0.0.0/8,,::1", &list, &n) < 0 && !list, "empty item");
	CHECK(addr_parse_cidr_list("10.0.0.0/8,", &list, &n) < 0 && !list, "trailing comma");

	CHECK(!addr_parse_port_list("53", &ports, &n) && n == 1 && ports[0].lo == 53 &&
		      ports[0].hi == 53,
	      "one port");
	free(ports);
	CHECK(!addr_parse_port_list("80,443,8000-8100,0,65535", &ports, &n) && n == 5 &&
		      addr_port_match(ports, n, 8050) && addr_port_match(ports, n, 0) &&
		      addr_port_match(ports, n, 65535) && !addr_port_match(ports, n, 81),
	      "port list");
	free(ports);
	ports = NULL;
	ports_bad("");
	ports_bad("65536");
	ports_bad("-1");
	ports_bad("80,");
	ports_bad(",80");
	ports_bad("80-");
	ports_bad("90-80");
	ports_bad("http");
	ports_bad("80 ");
	ports_bad("+80");
	ports_bad("123456");

	fmt("10.1.2.3", "10.1.2.3");
	fmt("::1", "::1");
	fmt("2001:0db8:0000:0000:0000:0000:0000:0001", "2001:db8::1");
	fmt("::ffff:10.1.2.3", "::ffff:10.1.2.3");
	addr_format(junk, 5, buf);
	CHECK(!strcmp(buf, "?"), "bad length formats as ?");

	addr_parse_cidr("10.0.0.0/8", &(struct addr_cidr){ 0 });
	{
		struct addr_cidr c;

		addr_parse_cidr("10.0.0.0/8", &c);
		addr_cidr_bounds(&c, lo, hi);
		CHECK(lo[0] == 10 && lo[3] == 0 && hi[0] == 10 && hi[1] == 255 && hi[3] == 255,
		      "bounds");
	}

	return check_done();
}
