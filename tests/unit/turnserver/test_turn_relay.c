/* Relay socket binding: the port range, even ports first, random probes in
 * big ranges, exhaustion, and which relay address serves a family. On
 * 127.0.0.1 only. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <errno.h>
#include <unistd.h>

#include "addr.h"
#include "turn_conf.h"
#include "turn_relay.h"

static struct sockaddr_storage sa(const char *s)
{
	struct sockaddr_storage ss;
	assert_int_equal(addr_parse(s, 0, &ss), 0);
	return ss;
}

/* A free range of n ports: probe from a pseudo-random base. */
static uint16_t free_range(unsigned n)
{
	struct sockaddr_storage lo = sa("127.0.0.1"), b;
	for (unsigned tries = 0; tries < 50; tries++) {
		uint16_t base = (uint16_t)(20000 + ((unsigned)getpid() * 97u + tries * 331u) % 30000);
		base &= (uint16_t)~1u;
		int fds[64];
		unsigned k = 0;
		for (; k < n; k++) {
			fds[k] = turn_relay_bind(&lo, (uint16_t)(base + k), (uint16_t)(base + k), &b);
			if (fds[k] < 0)
				break;
		}
		for (unsigned i = 0; i < k; i++)
			close(fds[i]);
		if (k == n)
			return base;
	}
	fail_msg("no free port range");
	return 0;
}

static void test_range_even_first_then_exhausted(void **state)
{
	(void)state;
	enum { N = 8 };
	struct sockaddr_storage lo = sa("127.0.0.1"), b;
	uint16_t base = free_range(N);
	int fds[N];
	unsigned seen = 0;
	for (unsigned i = 0; i < N; i++) {
		fds[i] = turn_relay_bind(&lo, base, (uint16_t)(base + N - 1), &b);
		assert_true(fds[i] >= 0);
		uint16_t port = addr_port((struct sockaddr *)&b);
		assert_true(port >= base && port < base + N);
		assert_true(addr_equal_ip((struct sockaddr *)&b, (struct sockaddr *)&lo));
		/* The first N/2 sockets get the even ports. */
		assert_int_equal(port & 1u, i < N / 2 ? 0u : 1u);
		assert_false(seen & (1u << (port - base)));
		seen |= 1u << (port - base);
	}
	assert_int_equal(turn_relay_bind(&lo, base, (uint16_t)(base + N - 1), &b), -EADDRINUSE);
	close(fds[3]);
	int fd = turn_relay_bind(&lo, base, (uint16_t)(base + N - 1), &b);
	assert_true(fd >= 0); /* a freed port is found again */
	fds[3] = fd;
	for (unsigned i = 0; i < N; i++)
		close(fds[i]);
}

/* A range big enough for random probing: every port of it is still
 * found (the scan catches what the probes miss), each once, then 508's
 * EADDRINUSE. Ports other programs hold are simply skipped. */
static void test_big_range_fills(void **state)
{
	(void)state;
	enum { N = 256 };
	struct sockaddr_storage lo = sa("127.0.0.1"), b;
	uint16_t base = (uint16_t)(21000 + ((unsigned)getpid() * 131u) % 10000);
	int fds[N];
	uint8_t seen[N] = { 0 };
	unsigned k = 0;
	for (; k < N; k++) {
		fds[k] = turn_relay_bind(&lo, base, (uint16_t)(base + N - 1), &b);
		if (fds[k] < 0)
			break;
		uint16_t port = addr_port((struct sockaddr *)&b);
		assert_true(port >= base && port < base + N);
		assert_int_equal(seen[port - base], 0);
		seen[port - base] = 1;
	}
	assert_true(k >= N - 16); /* at most a few held by other programs */
	assert_int_equal(turn_relay_bind(&lo, base, (uint16_t)(base + N - 1), &b), -EADDRINUSE);
	for (unsigned i = 0; i < k; i++)
		close(fds[i]);
}

static void test_bad_range(void **state)
{
	(void)state;
	struct sockaddr_storage lo = sa("127.0.0.1"), b;
	assert_int_equal(turn_relay_bind(&lo, 5000, 4000, &b), -EINVAL);
	assert_int_equal(turn_relay_bind(&lo, 0, 4000, &b), -EINVAL);
}

static void test_pick_address(void **state)
{
	(void)state;
	struct turn_conf *c = calloc(1, sizeof(*c));
	struct sockaddr_storage out;
	c->listen[c->n_listen++] = sa("192.0.2.1");
	/* No relay_address: the listen addresses serve. */
	assert_int_equal(turn_relay_pick_address(c, AF_INET, &out), 0);
	assert_true(addr_equal_ip((struct sockaddr *)&out, (struct sockaddr *)&c->listen[0]));
	assert_int_equal(turn_relay_pick_address(c, AF_INET6, &out), -EAFNOSUPPORT);
	c->relay[c->n_relay++] = sa("2001:db8::1");
	c->relay[c->n_relay++] = sa("203.0.113.9");
	assert_int_equal(turn_relay_pick_address(c, AF_INET, &out), 0);
	assert_true(addr_equal_ip((struct sockaddr *)&out, (struct sockaddr *)&c->relay[1]));
	assert_int_equal(turn_relay_pick_address(c, AF_INET6, &out), 0);
	assert_true(addr_equal_ip((struct sockaddr *)&out, (struct sockaddr *)&c->relay[0]));
	free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_range_even_first_then_exhausted),
		cmocka_unit_test(test_big_range_fills),
		cmocka_unit_test(test_bad_range),
		cmocka_unit_test(test_pick_address),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
