/* TUN device: runs in a private network namespace (unshare), so it needs
 * root but leaves nothing behind. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <sched.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <linux/if_tun.h>

#include "ip_pkt.h"
#include "ip_prefix.h"
#include "tun.h"

static int setup_netns(void **state)
{
	(void)state;
	if (unshare(CLONE_NEWNET) != 0) {
		print_error("unshare(CLONE_NEWNET) failed (%s): TUN tests need root\n",
			    strerror(errno));
		return -1;
	}
	return 0;
}

static void test_tun_carries_ipv4(void **state)
{
	(void)state;
	struct tun t;
	struct in_addr a, dst, src;
	inet_pton(AF_INET, "172.31.0.1", &a);
	assert_int_equal(tun_open(&t, "iptest0", 1), 0);
	assert_string_equal(t.name, "iptest0");
	assert_int_equal(tun_configure(&t, a, 24, 1280), 0);

	int s = socket(AF_INET, SOCK_DGRAM, 0);
	assert_true(s >= 0);
	struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons(9) };
	inet_pton(AF_INET, "172.31.0.2", &to.sin_addr);
	assert_int_equal(sendto(s, "hello", 5, 0, (struct sockaddr *)&to, sizeof(to)), 5);

	/* The kernel routes 172.31.0.2 into the TUN: the packet must appear. */
	unsigned char pkt[2048];
	struct pollfd pfd = { .fd = t.fds[0], .events = POLLIN };
	ssize_t n = -1;
	for (int tries = 0; tries < 10; tries++) {
		assert_true(poll(&pfd, 1, 10000) == 1);
		n = read(t.fds[0], pkt, sizeof(pkt));
		assert_true(n > 0);
		if (ip_pkt_dst4(pkt, (size_t)n, &dst) && dst.s_addr == to.sin_addr.s_addr)
			break; /* skip e.g. IPv6 router solicitations */
	}
	assert_true(ip_pkt_dst4(pkt, (size_t)n, &dst));
	assert_true(ip_pkt_src4(pkt, (size_t)n, &src));
	assert_int_equal(dst.s_addr, to.sin_addr.s_addr);
	assert_int_equal(src.s_addr, a.s_addr);
	assert_int_equal(n, 20 + 8 + 5);
	assert_memory_equal(pkt + 28, "hello", 5);
	close(s);
	tun_close(&t);
}

static void test_tun_multiqueue(void **state)
{
	(void)state;
	struct tun t;
	assert_int_equal(tun_open(&t, "iptest1", 2), 0);
	assert_int_equal(t.nqueues, 2);
	assert_true(t.fds[0] != t.fds[1]);
	tun_close(&t);
	assert_int_equal(tun_open(&t, "this-name-is-far-too-long", 1), -EINVAL);
	assert_int_equal(tun_open(&t, "x", 0), -EINVAL);
}

/* Reads the TUN until a packet for dst (family's address) comes, skipping
 * what the kernel sends by itself (router solicitations, MLD). Returns its
 * length. */
static ssize_t read_for(struct tun *t, int family, const void *dst, unsigned char *pkt, size_t cap)
{
	struct pollfd pfd = { .fd = t->fds[0], .events = POLLIN };
	for (int tries = 0; tries < 20; tries++) {
		assert_true(poll(&pfd, 1, 1000) == 1);
		ssize_t n = read(t->fds[0], pkt, cap);
		assert_true(n > 0);
		int f;
		const unsigned char *d = ip_pkt_dst(pkt, (size_t)n, &f);
		if (d && f == family && memcmp(d, dst, family == AF_INET ? 4 : 16) == 0)
			return n;
	}
	fail_msg("no packet for the address in the TUN");
	return -1;
}

/* ip6 on the TUN (its /64 routed there), the kernel's link-local address
 * left alone, and routes through the TUN added and deleted over
 * rtnetlink; one the kernel has already is refused, not replaced. */
static void test_tun_ipv6_and_routes(void **state)
{
	(void)state;
	struct tun t;
	struct in_addr a, d4;
	struct in6_addr a6, d6, s6;
	struct ip_prefix r4, r6;
	unsigned char pkt[2048];
	inet_pton(AF_INET, "172.31.0.1", &a);
	inet_pton(AF_INET6, "fd00::1", &a6);
	assert_int_equal(tun_open(&t, "iptest6", 1), 0);
	assert_int_equal(tun_configure(&t, a, 24, 1280), 0);
	assert_int_equal(tun_add_ip6(&t, &a6, 64), 0);
	assert_int_equal(tun_add_ip6(&t, &a6, 129), -EINVAL);

	int s6k = socket(AF_INET6, SOCK_DGRAM, 0);
	assert_true(s6k >= 0);
	struct sockaddr_in6 to6 = { .sin6_family = AF_INET6, .sin6_port = htons(9) };
	inet_pton(AF_INET6, "fd00::2", &to6.sin6_addr);
	assert_int_equal(sendto(s6k, "six", 3, 0, (struct sockaddr *)&to6, sizeof(to6)), 3);
	ssize_t n = read_for(&t, AF_INET6, &to6.sin6_addr, pkt, sizeof(pkt));
	assert_true(ip_pkt_src6(pkt, (size_t)n, &s6));
	assert_memory_equal(&s6, &a6, 16);
	assert_int_equal(n, 40 + 8 + 3);

	assert_null(ip_prefix_parse("10.77.0.0/24", &r4, NULL));
	assert_null(ip_prefix_parse("fd00:77::/64", &r6, NULL));
	assert_int_equal(tun_route_add(&t, &r4), 0);
	assert_int_equal(tun_route_add(&t, &r4), -EEXIST);
	assert_int_equal(tun_route_add(&t, &r6), 0);
	int s4 = socket(AF_INET, SOCK_DGRAM, 0);
	assert_true(s4 >= 0);
	struct sockaddr_in to4 = { .sin_family = AF_INET, .sin_port = htons(9) };
	inet_pton(AF_INET, "10.77.0.5", &to4.sin_addr);
	assert_int_equal(sendto(s4, "four", 4, 0, (struct sockaddr *)&to4, sizeof(to4)), 4);
	read_for(&t, AF_INET, &to4.sin_addr, pkt, sizeof(pkt));
	inet_pton(AF_INET6, "fd00:77::5", &d6);
	to6.sin6_addr = d6;
	assert_int_equal(sendto(s6k, "six", 3, 0, (struct sockaddr *)&to6, sizeof(to6)), 3);
	read_for(&t, AF_INET6, &d6, pkt, sizeof(pkt));

	assert_int_equal(tun_route_del(&t, &r4), 0);
	assert_int_equal(tun_route_del(&t, &r4), -ESRCH);
	assert_int_equal(tun_route_del(&t, &r6), 0);
	d4 = to4.sin_addr;
	assert_int_equal(d4.s_addr, to4.sin_addr.s_addr);
	assert_true(sendto(s4, "four", 4, 0, (struct sockaddr *)&to4, sizeof(to4)) < 0); /* no route now */
	close(s4);
	close(s6k);
	tun_close(&t);
}

/* The offloads asked for include TSO6 when the kernel has a vnet TUN. */
static void test_tun_offload_tso6(void **state)
{
	(void)state;
	struct tun t;
	assert_int_equal(tun_open_offload(&t, "iptest7"), 0);
	if (t.vnet)
		assert_true(t.offloads & TUN_F_TSO6);
	tun_close(&t);
}

static void test_ipv4_header_validation(void **state)
{
	(void)state;
	unsigned char p[40] = { 0x45, 0, 0, 40 };
	struct in_addr d;
	assert_true(ip_pkt_dst4(p, sizeof(p), &d));
	assert_false(ip_pkt_dst4(p, 19, &d));       /* shorter than a header */
	p[3] = 41;
	assert_false(ip_pkt_dst4(p, sizeof(p), &d)); /* total length beyond data */
	p[3] = 40;
	p[0] = 0x44;
	assert_false(ip_pkt_dst4(p, sizeof(p), &d)); /* IHL below 5 */
	p[0] = 0x65;
	assert_false(ip_pkt_dst4(p, sizeof(p), &d)); /* not IPv4 */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ipv4_header_validation),
		cmocka_unit_test(test_tun_carries_ipv4),
		cmocka_unit_test(test_tun_multiqueue),
		cmocka_unit_test(test_tun_ipv6_and_routes),
		cmocka_unit_test(test_tun_offload_tso6),
	};
	return cmocka_run_group_tests(tests, setup_netns, NULL);
}
