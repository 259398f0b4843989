/* Connections per source IP: the cap, release, IPv6 /64 keys, no limit
 * with 0, and a pool that never runs dry within the server-wide cap. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "addr.h"
#include "turn_connlimit.h"

static struct sockaddr_storage sa(const char *s)
{
	struct sockaddr_storage ss;
	assert_int_equal(addr_parse(s, 0, &ss), 0);
	return ss;
}

#define SA(x) ((const struct sockaddr *)&(x))

static void test_per_ip_cap(void **state)
{
	(void)state;
	struct turn_connlimit *cl = turn_connlimit_new(100, 3);
	assert_non_null(cl);
	struct sockaddr_storage a1 = sa("198.51.100.2:1000"), a2 = sa("198.51.100.2:1001");
	struct sockaddr_storage b = sa("203.0.113.2:1000");
	assert_true(turn_connlimit_take(cl, SA(a1)));
	assert_true(turn_connlimit_take(cl, SA(a2)));
	assert_true(turn_connlimit_take(cl, SA(a1)));
	assert_false(turn_connlimit_take(cl, SA(a2))); /* the port does not matter */
	assert_int_equal(turn_connlimit_count(cl, SA(a1)), 3);
	assert_true(turn_connlimit_take(cl, SA(b)));   /* others are not affected */
	turn_connlimit_release(cl, SA(a1));
	assert_int_equal(turn_connlimit_count(cl, SA(a2)), 2);
	assert_true(turn_connlimit_take(cl, SA(a2)));
	for (int i = 0; i < 3; i++)
		turn_connlimit_release(cl, SA(a1));
	turn_connlimit_release(cl, SA(b));
	assert_int_equal(turn_connlimit_count(cl, SA(a1)), 0);
	assert_int_equal(turn_connlimit_count(cl, SA(b)), 0);
	turn_connlimit_release(cl, SA(b)); /* a stray release changes nothing */
	assert_true(turn_connlimit_take(cl, SA(b)));
	turn_connlimit_release(cl, SA(b));
	turn_connlimit_free(cl);
}

static void test_ipv6_by_64(void **state)
{
	(void)state;
	struct turn_connlimit *cl = turn_connlimit_new(100, 2);
	struct sockaddr_storage a = sa("[2001:db8:0:1::1]:1"), b = sa("[2001:db8:0:1:ffff::2]:1");
	struct sockaddr_storage c = sa("[2001:db8:0:2::1]:1");
	assert_true(turn_connlimit_take(cl, SA(a)));
	assert_true(turn_connlimit_take(cl, SA(b)));
	assert_false(turn_connlimit_take(cl, SA(a)));
	assert_true(turn_connlimit_take(cl, SA(c)));
	turn_connlimit_release(cl, SA(a));
	turn_connlimit_release(cl, SA(b));
	turn_connlimit_release(cl, SA(c));
	turn_connlimit_free(cl);
}

static void test_unlimited(void **state)
{
	(void)state;
	struct turn_connlimit *cl = turn_connlimit_new(10, 0);
	struct sockaddr_storage a = sa("198.51.100.2:1");
	for (int i = 0; i < 1000; i++)
		assert_true(turn_connlimit_take(cl, SA(a)));
	for (int i = 0; i < 1000; i++)
		turn_connlimit_release(cl, SA(a));
	turn_connlimit_free(cl);
}

/* As many distinct sources as the capacity fit; entries are reused after
 * release (the pool's free list), many times over. */
static void test_pool_reuse(void **state)
{
	(void)state;
	enum { CAP = 300 };
	struct turn_connlimit *cl = turn_connlimit_new(CAP, 5);
	char buf[64];
	for (int round = 0; round < 5; round++) {
		for (int i = 0; i < CAP; i++) {
			snprintf(buf, sizeof(buf), "10.%d.%d.%d:1", round, i / 256, i % 256);
			struct sockaddr_storage s = sa(buf);
			assert_true(turn_connlimit_take(cl, SA(s)));
		}
		struct sockaddr_storage extra = sa("192.0.2.200:1");
		assert_false(turn_connlimit_take(cl, SA(extra))); /* beyond the capacity */
		for (int i = 0; i < CAP; i++) {
			snprintf(buf, sizeof(buf), "10.%d.%d.%d:1", round, i / 256, i % 256);
			struct sockaddr_storage s = sa(buf);
			assert_int_equal(turn_connlimit_count(cl, SA(s)), 1);
			turn_connlimit_release(cl, SA(s));
		}
	}
	turn_connlimit_free(cl);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_per_ip_cap),
		cmocka_unit_test(test_ipv6_by_64),
		cmocka_unit_test(test_unlimited),
		cmocka_unit_test(test_pool_reuse),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
