/* ICMP errors the node originates: Packet Too Big and Destination
 * Unreachable for IPv6, fragmentation needed for IPv4. Every field is
 * checked byte for byte and every checksum against a plain byte-by-byte
 * RFC 1071 sum (with the RFC 8200 pseudo-header for ICMPv6); then the
 * packets that must never get an error, and the rate limiter. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "icmp_err.h"

static uint32_t ref_sum(uint32_t s, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		s += i % 2 ? p[i] : (uint32_t)p[i] << 8;
	return s;
}

static uint16_t ref_fold(uint32_t s)
{
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)s;
}

static unsigned be16(const uint8_t *p)
{
	return (unsigned)(p[0] << 8 | p[1]);
}

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static struct in6_addr NODE6;
static struct in_addr NODE4;

/* An IPv6 packet from src to dst: next header nh, l4 bytes of which the
 * first is first (an ICMPv6 type, say), the rest random. */
static size_t make6(uint8_t *p, const char *src, const char *dst, uint8_t nh, uint8_t first, size_t l4)
{
	memset(p, 0, 40);
	p[0] = 0x60;
	p[4] = (uint8_t)(l4 >> 8);
	p[5] = (uint8_t)l4;
	p[6] = nh;
	p[7] = 63;
	assert_int_equal(inet_pton(AF_INET6, src, p + 8), 1);
	assert_int_equal(inet_pton(AF_INET6, dst, p + 24), 1);
	for (size_t i = 0; i < l4; i++)
		p[40 + i] = (uint8_t)rand();
	if (l4)
		p[40] = first;
	return 40 + l4;
}

static size_t make4(uint8_t *p, const char *src, const char *dst, uint8_t proto, uint8_t first, size_t l4,
		    unsigned frag)
{
	memset(p, 0, 20);
	p[0] = 0x45;
	p[2] = (uint8_t)((20 + l4) >> 8);
	p[3] = (uint8_t)(20 + l4);
	p[6] = (uint8_t)(frag >> 8);
	p[7] = (uint8_t)frag;
	p[8] = 63;
	p[9] = proto;
	assert_int_equal(inet_pton(AF_INET, src, p + 12), 1);
	assert_int_equal(inet_pton(AF_INET, dst, p + 16), 1);
	for (size_t i = 0; i < l4; i++)
		p[20 + i] = (uint8_t)rand();
	if (l4)
		p[20] = first;
	return 20 + l4;
}

/* Checks an ICMPv6 error against the invoking packet inv (ilen bytes). */
static void check6(const uint8_t *e, size_t n, uint8_t type, uint8_t code, uint32_t param, const uint8_t *inv,
		   size_t ilen)
{
	size_t quote = ilen < 1232 ? ilen : 1232;
	assert_int_equal(n, 48 + quote);
	assert_true(n <= 1280);
	assert_int_equal(e[0], 0x60);
	assert_int_equal(e[1] | e[2] | e[3], 0);
	assert_int_equal(be16(e + 4), n - 40);
	assert_int_equal(e[6], 58);
	assert_int_equal(e[7], 64);
	assert_memory_equal(e + 8, &NODE6, 16);
	assert_memory_equal(e + 24, inv + 8, 16);
	assert_int_equal(e[40], type);
	assert_int_equal(e[41], code);
	assert_int_equal(be32(e + 44), param);
	assert_memory_equal(e + 48, inv, quote);
	/* pseudo-header: source, destination, 32-bit length, zeros, 58 */
	uint8_t ph[40] = { 0 };
	memcpy(ph, e + 8, 32);
	ph[34] = (uint8_t)((n - 40) >> 8);
	ph[35] = (uint8_t)(n - 40);
	ph[39] = 58;
	assert_int_equal(ref_fold(ref_sum(ref_sum(0, ph, 40), e + 40, n - 40)), 0xffff);
}

static void check4(const uint8_t *e, size_t n, uint8_t type, uint8_t code, uint16_t mtu, const uint8_t *inv,
		   size_t ilen)
{
	size_t quote = ilen < 548 ? ilen : 548;
	assert_int_equal(n, 28 + quote);
	assert_true(n <= 576);
	assert_int_equal(e[0], 0x45);
	assert_int_equal(e[1], 0xc0);
	assert_int_equal(be16(e + 2), n);
	assert_int_equal(be16(e + 6), 0); /* never DF, never a fragment */
	assert_int_equal(e[8], 64);
	assert_int_equal(e[9], 1);
	assert_memory_equal(e + 12, &NODE4, 4);
	assert_memory_equal(e + 16, inv + 12, 4);
	assert_int_equal(ref_fold(ref_sum(0, e, 20)), 0xffff);
	assert_int_equal(e[20], type);
	assert_int_equal(e[21], code);
	assert_int_equal(be16(e + 24), 0);
	assert_int_equal(be16(e + 26), mtu);
	assert_memory_equal(e + 28, inv, quote);
	assert_int_equal(ref_fold(ref_sum(0, e + 20, n - 20)), 0xffff);
}

static void test_packet_too_big(void **state)
{
	(void)state;
	static uint8_t inv[2000], out[2000];
	for (int round = 0; round < 300; round++) {
		size_t l4 = 8 + (size_t)rand() % 1800;
		size_t n = make6(inv, "fd00::7", "fd00:77::20", 17, 0, l4);
		size_t e = icmp6_packet_too_big(out, sizeof(out), &NODE6, 1280, inv, n);
		check6(out, e, 2, 0, 1280, inv, n);
	}
	/* A concrete case: a 1500-byte ping6 against a 1280 tunnel. */
	size_t n = make6(inv, "fd00:77::5", "fd00::2", 58, 128, 1460);
	size_t e = icmp_err_too_big(out, sizeof(out), &NODE4, &NODE6, 1280, inv, n);
	check6(out, e, 2, 0, 1280, inv, n);
	assert_int_equal(e, 1280);
	/* an MTU below IPv6's minimum is announced as 1280 */
	e = icmp6_packet_too_big(out, sizeof(out), &NODE6, 1000, inv, n);
	check6(out, e, 2, 0, 1280, inv, n);
	/* PTB may answer a multicast destination (RFC 4443 2.4(e.2)) */
	n = make6(inv, "fd00::7", "ff0e::1", 17, 0, 1400);
	e = icmp6_packet_too_big(out, sizeof(out), &NODE6, 1280, inv, n);
	check6(out, e, 2, 0, 1280, inv, n);
	/* a smaller buffer: less of the quote, still consistent */
	n = make6(inv, "fd00::7", "fd00::8", 17, 0, 1400);
	e = icmp6_packet_too_big(out, 600, &NODE6, 1280, inv, n);
	assert_int_equal(e, 600);
	assert_int_equal(be16(out + 4), 560);
	assert_memory_equal(out + 48, inv, 552);
	assert_int_equal(icmp6_packet_too_big(out, 87, &NODE6, 1280, inv, n), 0);
	/* in place: the invoking packet at the start of the output buffer */
	memcpy(out, inv, n);
	e = icmp6_packet_too_big(out, sizeof(out), &NODE6, 1400, out, n);
	check6(out, e, 2, 0, 1400, inv, n);
}

static void test_unreachable6(void **state)
{
	(void)state;
	uint8_t inv[300], out[1280];
	size_t n = make6(inv, "fd00::7", "fd00::9", 6, 0, 60);
	size_t e = icmp6_error(out, sizeof(out), &NODE6, ICMP6_DST_UNREACH, ICMP6_UNREACH_ADDR, 0, inv, n + 5);
	check6(out, e, 1, 3, 0, inv, n); /* trailing bytes beyond the header's length are not quoted */
	/* echo requests and replies may be answered */
	n = make6(inv, "fd00::7", "fd00::9", 58, 128, 16);
	assert_true(icmp6_error(out, sizeof(out), &NODE6, 1, 0, 0, inv, n) > 0);
	n = make6(inv, "fd00::7", "fd00::9", 58, 129, 16);
	assert_true(icmp6_error(out, sizeof(out), &NODE6, 1, 0, 0, inv, n) > 0);
}

/* RFC 4443 2.4(e): the packets that never get an ICMPv6 error. */
static void test_no_error6(void **state)
{
	(void)state;
	uint8_t inv[300], out[1280];
	static const uint8_t errors[] = { 1, 2, 3, 4, 127, 137 };
	for (size_t i = 0; i < sizeof(errors); i++) {
		size_t n = make6(inv, "fd00::7", "fd00::9", 58, errors[i], 48);
		assert_int_equal(icmp6_packet_too_big(out, sizeof(out), &NODE6, 1280, inv, n), 0);
	}
	size_t n = make6(inv, "::", "fd00::9", 17, 0, 48);
	assert_int_equal(icmp6_packet_too_big(out, sizeof(out), &NODE6, 1280, inv, n), 0);
	n = make6(inv, "ff02::1", "fd00::9", 17, 0, 48);
	assert_int_equal(icmp6_packet_too_big(out, sizeof(out), &NODE6, 1280, inv, n), 0);
	n = make6(inv, "fd00::7", "ff02::1", 17, 0, 48);
	assert_int_equal(icmp6_error(out, sizeof(out), &NODE6, 1, 0, 0, inv, n), 0);
	n = make6(inv, "fd00::7", "fd00::9", 17, 0, 48);
	assert_int_equal(icmp6_packet_too_big(out, sizeof(out), &NODE6, 1280, inv, n - 1), 0); /* truncated */
	inv[6] = 0;		/* hop-by-hop header running past the payload */
	inv[41] = 200;
	assert_int_equal(icmp6_packet_too_big(out, sizeof(out), &NODE6, 1280, inv, n), 0);
	n = make4(inv, "10.0.0.1", "10.0.0.2", 17, 0, 48, 0x4000);
	assert_int_equal(icmp6_packet_too_big(out, sizeof(out), &NODE6, 1280, inv, n), 0);
	/* an ICMPv6 error in a later fragment cannot be recognised: answered */
	n = make6(inv, "fd00::7", "fd00::9", 44, 58, 48);
	inv[42] = 0, inv[43] = 0x08;
	assert_true(icmp6_packet_too_big(out, sizeof(out), &NODE6, 1280, inv, n) > 0);
}

static void test_frag_needed(void **state)
{
	(void)state;
	static uint8_t inv[2000], out[600];
	for (int round = 0; round < 300; round++) {
		size_t l4 = 8 + (size_t)rand() % 1500;
		size_t n = make4(inv, "10.77.0.5", "172.31.0.2", 17, 0, l4, 0x4000);
		size_t e = icmp4_frag_needed(out, sizeof(out), NODE4, 1280, inv, n);
		check4(out, e, 3, 4, 1280, inv, n);
	}
	size_t n = make4(inv, "10.77.0.5", "172.31.0.2", 1, 8, 1480, 0x4000); /* a big ping */
	size_t e = icmp_err_too_big(out, sizeof(out), &NODE4, &NODE6, 1280, inv, n);
	check4(out, e, 3, 4, 1280, inv, n);
	assert_int_equal(e, 576);
	/* with IP options the whole header is quoted */
	n = make4(inv, "10.77.0.5", "172.31.0.2", 6, 0, 100, 0x4000);
	inv[0] = 0x46;
	e = icmp4_error(out, sizeof(out), NODE4, 3, 1, 0, inv, n);
	check4(out, e, 3, 1, 0, inv, n);
	/* too small an output buffer for header + 8 bytes */
	assert_int_equal(icmp4_error(out, 20 + 8 + 24 + 7, NODE4, 3, 1, 0, inv, n), 0);
	assert_true(icmp4_error(out, 20 + 8 + 24 + 8, NODE4, 3, 1, 0, inv, n) > 0);
}

/* RFC 1122 3.2.2 / RFC 1812 4.3.2.7: the IPv4 packets never answered. */
static void test_no_error4(void **state)
{
	(void)state;
	uint8_t inv[300], out[600];
	size_t n = make4(inv, "10.77.0.5", "172.31.0.2", 17, 0, 100, 0); /* no DF: may be fragmented */
	assert_int_equal(icmp4_frag_needed(out, sizeof(out), NODE4, 1280, inv, n), 0);
	assert_int_equal(icmp_err_too_big(out, sizeof(out), &NODE4, &NODE6, 50, inv, n), 0);
	static const uint8_t errors[] = { 3, 4, 5, 11, 12 };
	for (size_t i = 0; i < sizeof(errors); i++) {
		n = make4(inv, "10.77.0.5", "172.31.0.2", 1, errors[i], 100, 0x4000);
		assert_int_equal(icmp4_frag_needed(out, sizeof(out), NODE4, 1280, inv, n), 0);
	}
	n = make4(inv, "10.77.0.5", "172.31.0.2", 1, 0, 100, 0x4000); /* echo reply: answered */
	assert_true(icmp4_frag_needed(out, sizeof(out), NODE4, 1280, inv, n) > 0);
	static const char *const srcs[] = { "0.0.0.0", "127.0.0.1", "224.0.0.5", "255.255.255.255" };
	for (size_t i = 0; i < 4; i++) {
		n = make4(inv, srcs[i], "172.31.0.2", 17, 0, 100, 0x4000);
		assert_int_equal(icmp4_frag_needed(out, sizeof(out), NODE4, 1280, inv, n), 0);
		n = make4(inv, "10.77.0.5", srcs[i], 17, 0, 100, 0x4000);
		assert_int_equal(icmp4_frag_needed(out, sizeof(out), NODE4, 1280, inv, n), 0);
	}
	n = make4(inv, "10.77.0.5", "172.31.0.2", 17, 0, 100, 0x4001); /* a later fragment */
	assert_int_equal(icmp4_error(out, sizeof(out), NODE4, 3, 1, 0, inv, n), 0);
	n = make4(inv, "10.77.0.5", "172.31.0.2", 17, 0, 100, 0x6000); /* a first fragment */
	assert_true(icmp4_error(out, sizeof(out), NODE4, 3, 1, 0, inv, n) > 0);
	assert_int_equal(icmp4_frag_needed(out, sizeof(out), NODE4, 1280, inv, n - 1), 0); /* truncated */
	n = make6(inv, "fd00::7", "fd00::9", 17, 0, 48);
	assert_int_equal(icmp4_error(out, sizeof(out), NODE4, 3, 1, 0, inv, n), 0);
}

static void test_too_big_dispatch(void **state)
{
	(void)state;
	uint8_t inv[1600], out[1280];
	size_t n = make6(inv, "fd00::7", "fd00::9", 17, 0, 1240); /* exactly 1280: fits */
	assert_int_equal(icmp_err_too_big(out, sizeof(out), &NODE4, &NODE6, 1280, inv, n), 0);
	n = make6(inv, "fd00::7", "fd00::9", 17, 0, 1241);
	assert_int_equal(icmp_err_too_big(out, sizeof(out), &NODE4, &NODE6, 1280, inv, n), 1280);
	assert_int_equal(icmp_err_too_big(out, sizeof(out), &NODE4, NULL, 1280, inv, n), 0); /* no IPv6 address */
	n = make4(inv, "10.0.0.1", "10.0.0.2", 17, 0, 1300, 0x4000);
	assert_int_equal(icmp_err_too_big(out, sizeof(out), NULL, &NODE6, 1280, inv, n), 0);
	assert_int_equal(icmp_err_too_big(out, sizeof(out), &NODE4, &NODE6, 1320, inv, n), 0);
	assert_int_equal(icmp_err_too_big(out, sizeof(out), &NODE4, &NODE6, 1280, inv, n), 576);
	memset(inv, 0, 60);
	assert_int_equal(icmp_err_too_big(out, sizeof(out), &NODE4, &NODE6, 10, inv, 60), 0);
}

static void test_rate_limit(void **state)
{
	(void)state;
	struct icmp_err_limit l;
	icmp_err_limit_init(&l, 10, 3, 1000);
	for (int i = 0; i < 3; i++)
		assert_true(icmp_err_limit_take(&l, 1000));
	assert_false(icmp_err_limit_take(&l, 1000));
	assert_false(icmp_err_limit_take(&l, 1099)); /* 0.99 of a token */
	assert_true(icmp_err_limit_take(&l, 1100));
	assert_false(icmp_err_limit_take(&l, 1100));
	assert_false(icmp_err_limit_take(&l, 50)); /* time going back adds nothing */
	int got = 0;
	for (int i = 0; i < 10; i++)
		got += icmp_err_limit_take(&l, 1000000);
	assert_int_equal(got, 3); /* never more than the burst */
	/* 10/s over 10 s of steady asking: about 100 */
	got = 0;
	for (uint64_t t = 2000000; t < 2010000; t += 7)
		got += icmp_err_limit_take(&l, t);
	assert_true(got >= 100 && got <= 103);
	icmp_err_limit_init(&l, 0, 1, 0);
	assert_true(icmp_err_limit_take(&l, 0));
	assert_false(icmp_err_limit_take(&l, UINT64_MAX));
	icmp_err_limit_init(&l, 4000000000u, 4000000000u, 0);
	assert_true(icmp_err_limit_take(&l, UINT64_MAX)); /* no overflow on huge values */
}

int main(void)
{
	srand(3);
	assert_int_equal(inet_pton(AF_INET6, "fd00::1", &NODE6), 1);
	assert_int_equal(inet_pton(AF_INET, "172.31.0.1", &NODE4), 1);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_packet_too_big),
		cmocka_unit_test(test_unreachable6),
		cmocka_unit_test(test_no_error6),
		cmocka_unit_test(test_frag_needed),
		cmocka_unit_test(test_no_error4),
		cmocka_unit_test(test_too_big_dispatch),
		cmocka_unit_test(test_rate_limit),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
