/* Per-source token buckets for unauthenticated answers. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "addr.h"
#include "turn_ratelimit.h"

static struct sockaddr_storage sa(const char *s)
{
	struct sockaddr_storage ss;
	assert_int_equal(addr_parse(s, 0, &ss), 0);
	return ss;
}

static unsigned allowed_now(struct turn_ratelimit *rl, const char *src, unsigned tries, uint64_t now)
{
	struct sockaddr_storage ss = sa(src);
	unsigned n = 0;
	for (unsigned i = 0; i < tries; i++)
		n += turn_ratelimit_allow(rl, (struct sockaddr *)&ss, now);
	return n;
}

static void test_burst_then_refill(void **state)
{
	(void)state;
	struct turn_ratelimit rl;
	assert_int_equal(turn_ratelimit_init(&rl, 1000, 10, 20, 42), 0);
	assert_int_equal(rl.mask, 1023);
	assert_int_equal(allowed_now(&rl, "192.0.2.1:1000", 100, 5000), 20);
	/* 10 tokens per second: half a second later, five more. */
	assert_int_equal(allowed_now(&rl, "192.0.2.1:1000", 100, 5500), 5);
	/* The bucket never holds more than the burst. */
	assert_int_equal(allowed_now(&rl, "192.0.2.1:1000", 100, 500000), 20);
	turn_ratelimit_free(&rl);
}

static void test_port_ignored_and_sources_independent(void **state)
{
	(void)state;
	struct turn_ratelimit rl;
	assert_int_equal(turn_ratelimit_init(&rl, 1u << 16, 1, 3, 7), 0);
	assert_int_equal(allowed_now(&rl, "192.0.2.1:1", 2, 1000), 2);
	assert_int_equal(allowed_now(&rl, "192.0.2.1:2", 5, 1000), 1); /* same IP, other port */
	assert_int_equal(allowed_now(&rl, "198.51.100.7:1", 5, 1000), 3);
	turn_ratelimit_free(&rl);
}

static void test_ipv6_by_prefix(void **state)
{
	(void)state;
	struct turn_ratelimit rl;
	assert_int_equal(turn_ratelimit_init(&rl, 1u << 16, 1, 4, 9), 0);
	assert_int_equal(allowed_now(&rl, "[2001:db8:1:2::1]:5", 3, 1000), 3);
	/* Same /64, other host: shares the bucket. */
	assert_int_equal(allowed_now(&rl, "[2001:db8:1:2::ffff]:5", 3, 1000), 1);
	/* Another /64: its own bucket. */
	assert_int_equal(allowed_now(&rl, "[2001:db8:1:3::1]:5", 3, 1000), 3);
	turn_ratelimit_free(&rl);
}

static void test_bad_params(void **state)
{
	(void)state;
	struct turn_ratelimit rl;
	assert_int_equal(turn_ratelimit_init(&rl, 0, 1, 1, 0), -EINVAL);
	assert_int_equal(turn_ratelimit_init(&rl, 16, 0, 1, 0), -EINVAL);
	assert_int_equal(turn_ratelimit_init(&rl, 16, 1, 0, 0), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_burst_then_refill),
		cmocka_unit_test(test_port_ignored_and_sources_independent),
		cmocka_unit_test(test_ipv6_by_prefix),
		cmocka_unit_test(test_bad_params),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
