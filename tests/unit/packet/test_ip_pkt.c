/* ip_pkt: header checks and address access for both families, the IPv6
 * extension header walk, and which IPv6 packets stay on the TUN's link. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <string.h>
#include <sys/socket.h>

#include "ip_pkt.h"

/* IPv6 header + chain of extension headers given as next-header values
 * (each 8 bytes long) + l4len bytes of transport. Returns the length. */
static size_t make6(uint8_t *p, const char *src, const char *dst, const uint8_t *chain, int n, uint8_t proto,
		    size_t l4len)
{
	size_t off = 40;
	memset(p, 0, 40 + 8 * (size_t)n + l4len);
	p[0] = 0x60;
	assert_int_equal(inet_pton(AF_INET6, src, p + 8), 1);
	assert_int_equal(inet_pton(AF_INET6, dst, p + 24), 1);
	p[6] = n ? chain[0] : proto;
	p[7] = 255;
	for (int i = 0; i < n; i++) {
		p[off] = i + 1 < n ? chain[i + 1] : proto;
		p[off + 1] = 0; /* 8 bytes (fragment headers have no length field) */
		off += 8;
	}
	size_t len = off + l4len;
	p[4] = (uint8_t)((len - 40) >> 8);
	p[5] = (uint8_t)(len - 40);
	return len;
}

static void test_v4(void **state)
{
	(void)state;
	uint8_t p[60] = { 0x45, 0, 0, 28, 0, 0, 0x20, 0, 64, 17, 0, 0, 172, 31, 0, 1, 172, 31, 0, 2 };
	struct in_addr a;
	int family = 0;
	assert_int_equal(ip_pkt_version(p, sizeof(p)), 4);
	assert_int_equal(ip_pkt_len(p, sizeof(p)), 28);
	assert_true(ip_pkt_dst4(p, sizeof(p), &a));
	assert_int_equal(ntohl(a.s_addr), 0xac1f0002);
	assert_ptr_equal(ip_pkt_dst(p, sizeof(p), &family), p + 16);
	assert_int_equal(family, AF_INET);
	assert_ptr_equal(ip_pkt_src(p, sizeof(p), &family), p + 12);
	struct ip_pkt_l4 l4;
	assert_true(ip_pkt_l4(p, sizeof(p), &l4));
	assert_int_equal(l4.proto, 17);
	assert_int_equal(l4.off, 20);
	assert_int_equal(l4.end, 28);
	assert_true(l4.fragment); /* MF */
	assert_false(l4.later);
	p[7] = 1; /* offset 8 */
	assert_true(ip_pkt_l4(p, sizeof(p), &l4));
	assert_true(l4.later);
	assert_false(ip_pkt_link_scope6(p, sizeof(p)));
	struct in6_addr a6;
	assert_false(ip_pkt_dst6(p, sizeof(p), &a6));
	assert_int_equal(ip_pkt_version(p, 27), 0); /* total length beyond data */
	assert_null(ip_pkt_dst(p, 27, &family));
}

static void test_v6(void **state)
{
	(void)state;
	uint8_t p[200];
	struct in6_addr a;
	int family = 0;
	size_t len = make6(p, "fd00::1", "fd00::2", NULL, 0, IPPROTO_TCP, 20);
	assert_int_equal(ip_pkt_version(p, len), 6);
	assert_int_equal(ip_pkt_version(p, len + 5), 6); /* trailing bytes ignored */
	assert_int_equal(ip_pkt_len(p, len + 5), len);
	assert_true(ip_pkt_dst6(p, len, &a));
	assert_int_equal(a.s6_addr[15], 2);
	assert_true(ip_pkt_src6(p, len, &a));
	assert_int_equal(a.s6_addr[15], 1);
	assert_ptr_equal(ip_pkt_dst(p, len, &family), p + 24);
	assert_int_equal(family, AF_INET6);
	assert_ptr_equal(ip_pkt_src(p, len, &family), p + 8);
	struct in_addr a4;
	assert_false(ip_pkt_dst4(p, len, &a4));

	assert_int_equal(ip_pkt_version(p, len - 1), 0); /* payload beyond data */
	assert_int_equal(ip_pkt_version(p, 39), 0);
	p[4] = p[5] = 0; /* a jumbogram */
	assert_int_equal(ip_pkt_version(p, len), 0);
	assert_false(ip_pkt_src6(p, len, &a));
	p[0] = 0x50;
	assert_int_equal(ip_pkt_version(p, len), 0);
}

static void test_v6_extension_headers(void **state)
{
	(void)state;
	uint8_t p[300];
	struct ip_pkt_l4 l4;
	const uint8_t chain[] = { 0, 43, 60, 44 };
	size_t len = make6(p, "fd00::1", "fd00::2", chain, 4, IPPROTO_UDP, 8);
	assert_true(ip_pkt_l4(p, len, &l4));
	assert_int_equal(l4.proto, IPPROTO_UDP);
	assert_int_equal(l4.off, 72);
	assert_int_equal(l4.end, len);
	assert_true(l4.routing);
	assert_true(l4.fragment);
	assert_false(l4.later);
	p[64 + 3] = 0x08; /* fragment offset 1 */
	assert_true(ip_pkt_l4(p, len, &l4));
	assert_true(l4.later);

	/* hop-by-hop anywhere but first is malformed */
	const uint8_t late_hbh[] = { 60, 0 };
	len = make6(p, "fd00::1", "fd00::2", late_hbh, 2, IPPROTO_TCP, 20);
	assert_false(ip_pkt_l4(p, len, &l4));
	/* a header longer than the payload */
	const uint8_t dst[] = { 60 };
	len = make6(p, "fd00::1", "fd00::2", dst, 1, IPPROTO_TCP, 0);
	assert_true(ip_pkt_l4(p, len, &l4));
	assert_int_equal(l4.off, 48);
	p[41] = 1; /* 16 bytes */
	assert_false(ip_pkt_l4(p, len, &l4));
	/* more than IP_PKT_IP6_MAX_EXT headers */
	uint8_t many[IP_PKT_IP6_MAX_EXT + 1];
	memset(many, 60, sizeof(many));
	len = make6(p, "fd00::1", "fd00::2", many, IP_PKT_IP6_MAX_EXT, IPPROTO_TCP, 0);
	assert_true(ip_pkt_l4(p, len, &l4));
	len = make6(p, "fd00::1", "fd00::2", many, IP_PKT_IP6_MAX_EXT + 1, IPPROTO_TCP, 0);
	assert_false(ip_pkt_l4(p, len, &l4));
	/* not IP at all */
	memset(p, 0, 60);
	assert_false(ip_pkt_l4(p, 60, &l4));
}

/* What Linux sends on a TUN by itself stays on the link: router
 * solicitations, anything link-local, multicast, Neighbor Discovery. */
static void test_link_scope(void **state)
{
	(void)state;
	uint8_t p[200];
	size_t len = make6(p, "fe80::832e:dc9c:81c0:1294", "ff02::2", NULL, 0, IPPROTO_ICMPV6, 8);
	p[40] = 133;
	assert_true(ip_pkt_link_scope6(p, len));
	len = make6(p, "fe80::1", "fd00::2", NULL, 0, IPPROTO_ICMPV6, 8);
	p[40] = 128; /* echo request from a link-local source */
	assert_true(ip_pkt_link_scope6(p, len));
	len = make6(p, "fd00::1", "fe80::5", NULL, 0, IPPROTO_ICMPV6, 8);
	p[40] = 128;
	assert_true(ip_pkt_link_scope6(p, len));
	len = make6(p, "fd00::1", "ff05::fb", NULL, 0, IPPROTO_UDP, 8);
	assert_true(ip_pkt_link_scope6(p, len));
	for (uint8_t type = 133; type <= 137; type++) { /* NDP between global addresses */
		const uint8_t hbh[] = { 0 };
		len = make6(p, "fd00::1", "fd00::2", hbh, type % 2, IPPROTO_ICMPV6, 24);
		p[len - 24] = type;
		assert_true(ip_pkt_link_scope6(p, len));
	}
	len = make6(p, "fd00::1", "fd00::2", NULL, 0, IPPROTO_ICMPV6, 8);
	p[40] = 128;
	assert_false(ip_pkt_link_scope6(p, len));
	p[40] = 2; /* packet too big */
	assert_false(ip_pkt_link_scope6(p, len));
	len = make6(p, "fd00::1", "fd00::2", NULL, 0, IPPROTO_TCP, 20);
	assert_false(ip_pkt_link_scope6(p, len));
	assert_false(ip_pkt_link_scope6(p, len - 1));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_v4),
		cmocka_unit_test(test_v6),
		cmocka_unit_test(test_v6_extension_headers),
		cmocka_unit_test(test_link_scope),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
