/* IP prefixes: parsing and its refusals, canonical form, containment,
 * and the ranges a route or an overlay address may not use. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "ip_prefix.h"

static struct ip_prefix P(const char *s)
{
	struct ip_prefix p;
	const char *why = ip_prefix_parse(s, &p, NULL);
	if (why)
		fail_msg("%s: %s", s, why);
	return p;
}

static void test_parse_and_format(void **state)
{
	(void)state;
	static const char *const good[] = { "10.77.0.0/24", "0.0.0.0/0", "192.0.2.1/32", "fd00:77::/64",
					    "::/0", "2001:db8::1/128", "fd00::/8", "172.31.0.0/16" };
	char buf[IP_PREFIX_STRLEN];
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		struct ip_prefix p = P(good[i]);
		assert_string_equal(ip_prefix_format(&p, buf), good[i]);
		assert_true(ip_prefix_is_canonical(&p));
	}
	struct ip_prefix p = P("FD00:0077:0000::/48");
	assert_string_equal(ip_prefix_format(&p, buf), "fd00:77::/48");
	assert_int_equal(p.family, AF_INET6);
	assert_int_equal(p.len, 48);

	static const struct {
		const char *text, *why;
	} bad[] = {
		{ "10.77.0.0", "length is required" },
		{ "10.77.0.0/", "0 to 32" },
		{ "10.77.0.0/33", "0 to 32" },
		{ "10.77.0.0/024", "0 to 32" },
		{ "10.77.0.0/+4", "0 to 32" },
		{ "fd00::/129", "0 to 128" },
		{ "10.77.0/24", "not an IPv4" },
		{ "fd00:::/64", "not an IPv6" },
		{ "bob/8", "not an IPv4" },
		{ "", "length is required" },
		{ "/8", "not an IPv4" },
		{ "10.77.0.0/24/1", "0 to 32" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		bool hb = true;
		const char *why = ip_prefix_parse(bad[i].text, &p, &hb);
		assert_non_null(why);
		if (!strstr(why, bad[i].why))
			fail_msg("%s: %s", bad[i].text, why);
		assert_false(hb);
	}
	/* host bits: refused, with the masked prefix to suggest */
	bool hb = false;
	assert_non_null(ip_prefix_parse("10.77.0.1/24", &p, &hb));
	assert_true(hb);
	assert_string_equal(ip_prefix_format(&p, buf), "10.77.0.0/24");
	assert_non_null(ip_prefix_parse("fd00:77::1/64", &p, &hb));
	assert_true(hb);
	assert_string_equal(ip_prefix_format(&p, buf), "fd00:77::/64");
	assert_null(ip_prefix_parse("fd00:77:8000::/33", &p, &hb)); /* bit 33 is in */
	assert_non_null(ip_prefix_parse("fd00:77:c000::/33", &p, &hb));
	assert_string_equal(ip_prefix_format(&p, buf), "fd00:77:8000::/33");
	p.family = 0;
	assert_string_equal(ip_prefix_format(&p, buf), "?");
}

/* Masking against a bit-by-bit reference, for every length. */
static void test_mask_reference(void **state)
{
	(void)state;
	for (int round = 0; round < 2000; round++) {
		struct ip_prefix p = { .family = round % 2 ? AF_INET : AF_INET6 };
		unsigned bits = ip_prefix_bits(p.family);
		for (int i = 0; i < 16; i++)
			p.addr[i] = (uint8_t)rand();
		if (p.family == AF_INET)
			memset(p.addr + 4, 0, 12);
		p.len = (uint8_t)(rand() % (bits + 1));
		struct ip_prefix q = p;
		ip_prefix_mask(&q);
		for (unsigned b = 0; b < 128; b++) {
			unsigned bit = (p.addr[b / 8] >> (7 - b % 8)) & 1, got = (q.addr[b / 8] >> (7 - b % 8)) & 1;
			assert_int_equal(got, b < p.len ? bit : 0);
		}
		assert_true(ip_prefix_is_canonical(&q));
		assert_true(ip_prefix_contains(&q, &q));
		assert_true(ip_prefix_has_addr(&q, p.family, p.addr));
		struct ip_prefix host;
		ip_prefix_from_addr(&host, p.family, p.addr);
		assert_int_equal(host.len, bits);
		assert_true(ip_prefix_contains(&q, &host));
		assert_int_equal(ip_prefix_contains(&host, &q), q.len == bits);
	}
}

static void test_contains_overlaps(void **state)
{
	(void)state;
	struct ip_prefix a = P("10.77.0.0/16"), b = P("10.77.3.0/24"), c = P("10.78.0.0/16"), d = P("fd00::/8"),
			 e = P("0.0.0.0/0"), f = P("::/0"), g = P("10.77.3.0/24");
	assert_true(ip_prefix_contains(&a, &b));
	assert_false(ip_prefix_contains(&b, &a));
	assert_true(ip_prefix_overlaps(&b, &a));
	assert_false(ip_prefix_overlaps(&a, &c));
	assert_false(ip_prefix_overlaps(&a, &d)); /* families never overlap */
	assert_true(ip_prefix_contains(&e, &c));
	assert_false(ip_prefix_contains(&e, &d));
	assert_true(ip_prefix_contains(&f, &d));
	assert_true(ip_prefix_equal(&b, &g));
	assert_false(ip_prefix_equal(&a, &b));
	uint8_t in[4] = { 10, 77, 200, 1 }, out[4] = { 10, 76, 0, 1 };
	assert_true(ip_prefix_has_addr(&a, AF_INET, in));
	assert_false(ip_prefix_has_addr(&a, AF_INET, out));
	assert_false(ip_prefix_has_addr(&a, AF_INET6, in));
	struct ip_prefix bad = b;
	bad.len = 40; /* longer than IPv4 */
	assert_false(ip_prefix_is_canonical(&bad));
	assert_false(ip_prefix_contains(&a, &bad));
}

static void test_unroutable(void **state)
{
	(void)state;
	static const char *const ok[] = { "10.77.0.0/24", "192.168.1.0/24", "172.31.0.0/16", "100.64.0.0/10",
					  "fd00:77::/64", "2001:db8::/32", "fd00::/8", "1.0.0.0/8" };
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		struct ip_prefix p = P(ok[i]);
		const char *why = ip_prefix_unroutable(&p);
		if (why)
			fail_msg("%s: %s", ok[i], why);
	}
	static const struct {
		const char *text, *why;
	} bad[] = {
		{ "0.0.0.0/0", "default route" },	 { "::/0", "default route" },
		{ "127.0.0.0/8", "loopback" },		 { "127.1.0.0/16", "loopback" },
		{ "96.0.0.0/3", "loopback" },		 { "169.254.0.0/16", "link-local" },
		{ "224.0.0.0/24", "multicast" },	 { "255.255.255.255/32", "broadcast" },
		{ "0.0.0.0/8", "this network" },	 { "fe80::/64", "link-local" },
		{ "ff02::/16", "multicast" },		 { "::1/128", "loopback" },
		{ "::ffff:10.0.0.0/104", "IPv4-mapped" }, { "::/96", "unspecified" },
		{ "8000::/1", "link-local" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct ip_prefix p = P(bad[i].text);
		const char *why = ip_prefix_unroutable(&p);
		if (!why || !strstr(why, bad[i].why))
			fail_msg("%s: %s", bad[i].text, why ? why : "(accepted)");
	}
	uint8_t a[16];
	assert_int_equal(inet_pton(AF_INET6, "fd00::1", a), 1);
	assert_null(ip_addr_unusable(AF_INET6, a));
	assert_int_equal(inet_pton(AF_INET6, "fe80::1", a), 1);
	assert_non_null(strstr(ip_addr_unusable(AF_INET6, a), "link-local"));
	assert_int_equal(inet_pton(AF_INET6, "ff02::1", a), 1);
	assert_non_null(strstr(ip_addr_unusable(AF_INET6, a), "multicast"));
	assert_int_equal(inet_pton(AF_INET6, "::", a), 1);
	assert_non_null(strstr(ip_addr_unusable(AF_INET6, a), "unspecified"));
	assert_int_equal(inet_pton(AF_INET6, "::ffff:172.31.0.1", a), 1);
	assert_non_null(strstr(ip_addr_unusable(AF_INET6, a), "IPv4-mapped"));
	assert_int_equal(inet_pton(AF_INET, "172.31.0.1", a), 1);
	assert_null(ip_addr_unusable(AF_INET, a));
	assert_int_equal(inet_pton(AF_INET, "127.0.0.2", a), 1);
	assert_non_null(strstr(ip_addr_unusable(AF_INET, a), "loopback"));
	assert_non_null(ip_addr_unusable(AF_UNIX, a));
}

int main(void)
{
	srand(5);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_and_format),
		cmocka_unit_test(test_mask_reference),
		cmocka_unit_test(test_contains_overlaps),
		cmocka_unit_test(test_unroutable),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
