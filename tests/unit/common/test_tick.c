/* The shared whole-second grid of tick.h. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "tick.h"

static void test_next_is_strictly_after(void **state)
{
	(void)state;
	assert_int_equal(tick_next(0), 1000);
	assert_int_equal(tick_next(999), 1000);
	assert_int_equal(tick_next(1000), 2000); /* a tick never fires twice */
	assert_int_equal(tick_next(123456), 124000);
}

static void test_start_before_ceil_after(void **state)
{
	(void)state;
	assert_int_equal(tick_start(1000), 1000);
	assert_int_equal(tick_start(1999), 1000);
	assert_int_equal(tick_start(123456), 123000);
	assert_int_equal(tick_ceil(1000), 1000);
	assert_int_equal(tick_ceil(1001), 2000);
	assert_int_equal(tick_ceil(0), 0);
	for (uint64_t t = 5000; t < 7000; t += 37)
		assert_int_equal(tick_next(t) - tick_start(t), TICK_GRID_MS);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_next_is_strictly_after),
		cmocka_unit_test(test_start_before_ceil_after),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
