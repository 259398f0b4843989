/* Receive moderation's decision: a heavy flow (tens of thousands of
 * datagrams per second) sleeps to gather more per wakeup; a light one
 * never does, even when a busy CPU let two of its datagrams queue together;
 * a lone datagram, a long wait or moderation off never sleeps. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "turn_moderation.h"

static void test_heavy_flow(void **state)
{
	(void)state;
	/* 40,000/s: 12 datagrams in 300 us (the last sleep included) */
	assert_true(turn_mod_dense(12, 40, 300, 250));
	/* 16,000/s is the edge at 250 us: 4 per sleep */
	assert_true(turn_mod_dense(4, 100, 250, 250));
	assert_false(turn_mod_dense(4, 100, 251, 250));
}

static void test_light_flow(void **state)
{
	(void)state;
	/* 2,000/s: two datagrams bunched after the worker waited 1 ms for a CPU */
	assert_false(turn_mod_dense(2, 10, 1000, 250));
	/* 4,000/s, a steady trickle of pairs */
	assert_false(turn_mod_dense(2, 300, 500, 250));
}

static void test_never(void **state)
{
	(void)state;
	assert_false(turn_mod_dense(1, 0, 1, 250));       /* one datagram */
	assert_false(turn_mod_dense(0, 0, 0, 250));
	assert_false(turn_mod_dense(64, 1000, 1100, 250)); /* epoll_wait slept 1 ms */
	assert_false(turn_mod_dense(64, 0, 10, 0));        /* rx_moderation_us = 0 */
	assert_true(turn_mod_dense(2, 0, 0, 250));         /* no time passed: dense */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_heavy_flow),
		cmocka_unit_test(test_light_flow),
		cmocka_unit_test(test_never),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
