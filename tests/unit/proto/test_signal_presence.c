/* The ipop element of a node's presence (signal_presence.h): what a
 * member announces (overlay addresses, static key) round trips, any may
 * be absent, and anything malformed is refused whole. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <arpa/inet.h>
#include <cmocka.h>
#include <errno.h>

#include "signal_presence.h"

static const char KEY_B64[] = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="; /* bytes 0..31 */

static void assert_empty(const struct signal_presence *p)
{
	struct signal_presence zero;
	memset(&zero, 0, sizeof(zero));
	assert_memory_equal(p, &zero, sizeof(zero));
}

static void test_roundtrip(void **state)
{
	(void)state;
	struct signal_presence p, q;
	char ip4[INET_ADDRSTRLEN], ip6[INET6_ADDRSTRLEN], key[SIGNAL_KEY_B64_LEN + 1];

	assert_int_equal(signal_presence_parse(&p, "172.31.0.5", NULL, KEY_B64), 0);
	assert_true(p.has_ip4);
	assert_int_equal(ntohl(p.ip4.s_addr), 0xac1f0005);
	assert_true(p.has_key);
	for (int i = 0; i < SIGNAL_KEY_LEN; i++)
		assert_int_equal(p.key[i], i);
	signal_presence_format(&p, ip4, ip6, key);
	assert_string_equal(ip4, "172.31.0.5");
	assert_string_equal(key, KEY_B64);
	assert_int_equal(signal_presence_parse(&q, ip4, NULL, key), 0);
	assert_memory_equal(&p, &q, sizeof(p));
}

/* Both attributes are optional: an older node sends neither. */
static void test_optional(void **state)
{
	(void)state;
	struct signal_presence p;
	char ip4[INET_ADDRSTRLEN], ip6[INET6_ADDRSTRLEN], key[SIGNAL_KEY_B64_LEN + 1];

	assert_int_equal(signal_presence_parse(&p, NULL, NULL, NULL), 0);
	assert_empty(&p);
	signal_presence_format(&p, ip4, ip6, key);
	assert_string_equal(ip4, "");
	assert_string_equal(ip6, "");
	assert_string_equal(key, "");

	assert_int_equal(signal_presence_parse(&p, "10.1.2.3", NULL, NULL), 0);
	assert_true(p.has_ip4);
	assert_false(p.has_key);
	signal_presence_format(&p, ip4, ip6, key);
	assert_string_equal(ip4, "10.1.2.3");
	assert_string_equal(key, "");

	assert_int_equal(signal_presence_parse(&p, NULL, NULL, KEY_B64), 0);
	assert_false(p.has_ip4);
	assert_true(p.has_key);
	signal_presence_format(&p, ip4, ip6, key);
	assert_string_equal(ip4, "");
	assert_string_equal(key, KEY_B64);
}

/* A dual-stack member announces its IPv6 overlay address as well, so a
 * member without a link to it can reach it over IPv6 first. */
static void test_ip6(void **state)
{
	(void)state;
	struct signal_presence p, q;
	char ip4[INET_ADDRSTRLEN], ip6[INET6_ADDRSTRLEN], key[SIGNAL_KEY_B64_LEN + 1];
	static const uint8_t want[16] = { 0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 5 };

	assert_int_equal(signal_presence_parse(&p, "172.31.0.5", "fd00:0::5", KEY_B64), 0);
	assert_true(p.has_ip4 && p.has_ip6 && p.has_key);
	assert_memory_equal(&p.ip6, want, 16);
	signal_presence_format(&p, ip4, ip6, key);
	assert_string_equal(ip6, "fd00::5"); /* canonical text */
	assert_int_equal(signal_presence_parse(&q, ip4, ip6, key), 0);
	assert_memory_equal(&p, &q, sizeof(p));

	assert_int_equal(signal_presence_parse(&p, NULL, "2001:db8::1", NULL), 0);
	assert_true(p.has_ip6);
	assert_false(p.has_ip4 || p.has_key);

	static const char *const bad_ip6[] = {
		"", "fd00::5/64", "fe80::1", "ff02::1", "::1", "::", "::ffff:172.31.0.5", "172.31.0.5",
		"fd00::5 ", "fd00:::5", "fd00::5%eth0", "fd00:0000:0000:0000:0000:0000:0000:0000:5",
	};
	for (size_t i = 0; i < sizeof(bad_ip6) / sizeof(bad_ip6[0]); i++) {
		memset(&p, 0xa5, sizeof(p));
		assert_int_equal(signal_presence_parse(&p, "172.31.0.5", bad_ip6[i], KEY_B64), -EINVAL);
		assert_empty(&p);
	}
}

/* The edges of what is somebody's overlay address. */
static void test_address_edges(void **state)
{
	(void)state;
	static const char *const ok[] = { "1.0.0.0", "126.255.255.255", "128.0.0.1", "223.255.255.255",
					  "192.0.2.1", "10.0.0.0" };
	struct signal_presence p;

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		assert_int_equal(signal_presence_parse(&p, ok[i], NULL, NULL), 0);
		assert_true(p.has_ip4);
	}
}

/* Anything malformed: -EINVAL and nothing kept, not even the good half. */
static void test_rejections(void **state)
{
	(void)state;
	static const char *const bad_ip4[] = {
		"", "172.31.0", "172.31.0.256", "172.31.0.5 ", " 172.31.0.5", "172.31.0.5/24", "fd00::5",
		"::ffff:172.31.0.5", "0.0.0.0", "0.1.2.3", "127.0.0.1", "127.255.255.254", "224.0.0.1",
		"239.1.2.3", "240.0.0.1", "255.255.255.254", "255.255.255.255", "0x7f.1.1.1", "172.031.000.005",
		"1111111111111111.0.0.1",
	};
	static const char *const bad_key[] = {
		"",
		"AAEC",                                          /* too short */
		"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8",  /* no padding */
		"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8==", /* 33 bytes' worth */
		"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh9=",  /* non-zero padding bits */
		"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh*=",  /* not base64 */
		"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n",
	};
	struct signal_presence p;

	for (size_t i = 0; i < sizeof(bad_ip4) / sizeof(bad_ip4[0]); i++) {
		memset(&p, 0xa5, sizeof(p));
		assert_int_equal(signal_presence_parse(&p, bad_ip4[i], NULL, KEY_B64), -EINVAL);
		assert_empty(&p);
	}
	for (size_t i = 0; i < sizeof(bad_key) / sizeof(bad_key[0]); i++) {
		memset(&p, 0xa5, sizeof(p));
		assert_int_equal(signal_presence_parse(&p, "172.31.0.5", NULL, bad_key[i]), -EINVAL);
		assert_empty(&p);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_optional),
		cmocka_unit_test(test_ip6),
		cmocka_unit_test(test_address_edges),
		cmocka_unit_test(test_rejections),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
