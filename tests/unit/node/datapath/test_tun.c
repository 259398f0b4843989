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

#include "ip_pkt.h"
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
	};
	return cmocka_run_group_tests(tests, setup_netns, NULL);
}
