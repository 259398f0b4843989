/* The EVEN-PORT R=1 reservation table: tokens, expiry, the bounds in total
 * and per user, and that every hold is released exactly once. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "addr.h"
#include "turn_reserve.h"

static int released[64];

static void release(void *hold)
{
	released[(intptr_t)hold]++;
}

static struct sockaddr_storage sa(const char *s)
{
	struct sockaddr_storage ss;
	assert_int_equal(addr_parse(s, 0, &ss), 0);
	return ss;
}

static const uint8_t TID_A[12] = { 1 }, TID_B[12] = { 2 };

static void test_put_take(void **state)
{
	(void)state;
	memset(released, 0, sizeof(released));
	struct turn_reserve *r = turn_reserve_new(4, 0);
	struct sockaddr_storage a = sa("192.0.2.1:50001"), got;
	uint8_t t1[8], t2[8], t[8];

	assert_int_equal(turn_reserve_put(r, "alice", TID_A, (void *)1, release,
					  (struct sockaddr *)&a, 1000, t1), 0);
	assert_int_equal(turn_reserve_put(r, "alice", TID_B, (void *)2, release,
					  (struct sockaddr *)&a, 1000, t2), 0);
	assert_memory_not_equal(t1, t2, 8);
	assert_true(turn_reserve_token_of(r, TID_A, 1000, t));
	assert_memory_equal(t, t1, 8);
	/* taken once, with its address; the hold is the taker's, not released */
	assert_ptr_equal(turn_reserve_take(r, t1, 2000, &got), (void *)1);
	assert_true(addr_equal((struct sockaddr *)&got, (struct sockaddr *)&a));
	assert_null(turn_reserve_take(r, t1, 2000, &got));
	assert_false(turn_reserve_token_of(r, TID_A, 2000, t));
	assert_int_equal(released[1], 0);
	/* expiry: held until 1000 + 30 s */
	assert_int_equal(turn_reserve_expire(r, 1000 + TURN_RESERVE_HOLD_MS - 1), 1);
	assert_int_equal(released[2], 0);
	assert_null(turn_reserve_take(r, t2, 1000 + TURN_RESERVE_HOLD_MS, &got));
	assert_int_equal(released[2], 1); /* found expired: released there */
	assert_int_equal(turn_reserve_expire(r, 1000 + TURN_RESERVE_HOLD_MS), 0);
	turn_reserve_free(r);
	assert_int_equal(released[2], 1);
}

static void test_bounds(void **state)
{
	(void)state;
	memset(released, 0, sizeof(released));
	struct turn_reserve *r = turn_reserve_new(4, 2);
	struct sockaddr_storage a = sa("192.0.2.1:50001");
	uint8_t t[8];

	/* per user: two */
	assert_int_equal(turn_reserve_put(r, "alice", TID_A, (void *)1, release, (struct sockaddr *)&a, 0, t), 0);
	assert_int_equal(turn_reserve_put(r, "alice", TID_A, (void *)2, release, (struct sockaddr *)&a, 0, t), 0);
	assert_int_equal(turn_reserve_put(r, "alice", TID_A, (void *)3, release, (struct sockaddr *)&a, 0, t), -ENOSPC);
	assert_int_equal(released[3], 0); /* a refused hold stays the caller's */
	/* in total: four */
	assert_int_equal(turn_reserve_put(r, "bob", TID_A, (void *)4, release, (struct sockaddr *)&a, 0, t), 0);
	assert_int_equal(turn_reserve_put(r, "carol", TID_A, (void *)5, release, (struct sockaddr *)&a, 0, t), 0);
	assert_int_equal(turn_reserve_put(r, "dave", TID_A, (void *)6, release, (struct sockaddr *)&a, 0, t), -ENOSPC);
	/* expired entries make room */
	assert_int_equal(turn_reserve_put(r, "dave", TID_A, (void *)7, release, (struct sockaddr *)&a,
					  TURN_RESERVE_HOLD_MS, t), 0);
	for (int i = 1; i <= 5; i++)
		assert_int_equal(released[i], i == 3 ? 0 : 1);
	turn_reserve_free(r);
	assert_int_equal(released[7], 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_put_take),
		cmocka_unit_test(test_bounds),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
