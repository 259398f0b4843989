/* Replay window: in order, out of order within the window, too old,
 * duplicates, the exact window edge, counter jumps and the limit; plus a
 * randomized comparison with a naive set-based model. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "replay.h"

static void test_in_order(void **state)
{
	(void)state;
	struct replay_window w;

	replay_init(&w);
	for (uint64_t c = 0; c < 5000; c++) {
		assert_true(replay_check(&w, c));
		assert_true(replay_update(&w, c));
		assert_false(replay_check(&w, c));
	}
}

static void test_duplicate(void **state)
{
	(void)state;
	struct replay_window w;

	replay_init(&w);
	assert_true(replay_update(&w, 0));
	assert_false(replay_update(&w, 0));
	assert_true(replay_update(&w, 7));
	assert_false(replay_update(&w, 7));
	assert_false(replay_update(&w, 0));
	assert_true(replay_update(&w, 3));
	assert_false(replay_update(&w, 3));
}

static void test_out_of_order(void **state)
{
	(void)state;
	struct replay_window w;

	replay_init(&w);
	assert_true(replay_update(&w, 1000));
	for (uint64_t c = 999; c > 0; c -= 3)
		assert_true(replay_update(&w, c));
	for (uint64_t c = 999; c > 0; c -= 3)
		assert_false(replay_update(&w, c));
	assert_true(replay_update(&w, 998));
	assert_true(replay_update(&w, 0));
}

static void test_window_edge(void **state)
{
	(void)state;
	struct replay_window w;
	const uint64_t top = 100000;

	replay_init(&w);
	assert_true(replay_update(&w, top));
	/* REPLAY_WINDOW - 1 behind is the oldest accepted */
	assert_true(replay_check(&w, top - (REPLAY_WINDOW - 1)));
	assert_false(replay_check(&w, top - REPLAY_WINDOW));
	assert_true(replay_update(&w, top - (REPLAY_WINDOW - 1)));
	assert_false(replay_update(&w, top - REPLAY_WINDOW));
	assert_false(replay_update(&w, 0));
	/* one step forward pushes the edge by one */
	assert_true(replay_update(&w, top + 1));
	assert_false(replay_check(&w, top + 1 - REPLAY_WINDOW));
	assert_true(replay_check(&w, top + 2 - REPLAY_WINDOW));
	assert_true(REPLAY_WINDOW >= 1024); /* 2048-bit ring, one block slack */
}

static void test_counter_jump(void **state)
{
	(void)state;
	struct replay_window w;

	replay_init(&w);
	for (uint64_t c = 0; c < 200; c++)
		assert_true(replay_update(&w, c));
	/* jump further than the whole ring: stale bits must not survive */
	uint64_t j = 200 + 64 * REPLAY_BLOCKS * 3 + 5;
	assert_true(replay_update(&w, j));
	for (uint64_t c = j - (REPLAY_WINDOW - 1); c < j; c++)
		assert_true(replay_check(&w, c));
	/* jump by less than the ring: the skipped range is accepted once */
	uint64_t k = j + 700;
	assert_true(replay_update(&w, k));
	assert_false(replay_check(&w, j));
	for (uint64_t c = j + 1; c < k; c++)
		assert_true(replay_update(&w, c));
	for (uint64_t c = j; c <= k; c++)
		assert_false(replay_check(&w, c));
	/* a first counter far from zero works too */
	replay_init(&w);
	assert_true(replay_update(&w, UINT64_C(1) << 40));
	assert_true(replay_update(&w, (UINT64_C(1) << 40) - 5));
	assert_false(replay_update(&w, (UINT64_C(1) << 40) - 5));
}

static void test_limit(void **state)
{
	(void)state;
	struct replay_window w;

	replay_init(&w);
	assert_false(replay_check(&w, REPLAY_COUNTER_LIMIT));
	assert_false(replay_update(&w, UINT64_MAX));
	assert_true(replay_update(&w, REPLAY_COUNTER_LIMIT - 1));
	assert_false(replay_update(&w, REPLAY_COUNTER_LIMIT - 1));
	assert_true(replay_update(&w, REPLAY_COUNTER_LIMIT - 2));
}

/* Model: accepted iff never seen and within REPLAY_WINDOW of the max. */
static void test_against_model(void **state)
{
	(void)state;
	enum { SPAN = 20000 };
	static uint8_t seen[SPAN];
	struct replay_window w;
	uint64_t max = 0;
	bool any = false;
	unsigned seed = 12345;
	int accepted = 0, refused = 0;

	memset(seen, 0, sizeof(seen));
	replay_init(&w);
	for (int i = 0; i < 200000; i++) {
		/* mostly forward, sometimes far back, sometimes big jumps */
		seed = seed * 1103515245u + 12345u;
		uint64_t r = (seed >> 8) % 3000;
		uint64_t c = any ? max + 40 > r ? max + 40 - r : 0 : r;
		if (c >= SPAN)
			break;
		bool expect = !seen[c] && (!any || c > max || max - c < REPLAY_WINDOW);
		bool got = replay_update(&w, c);
		assert_int_equal(got, expect);
		if (got) {
			seen[c] = 1;
			if (!any || c > max)
				max = c;
			any = true;
			accepted++;
		} else {
			refused++;
		}
	}
	assert_true(accepted > 1000);
	assert_true(refused > 1000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_in_order),      cmocka_unit_test(test_duplicate),
		cmocka_unit_test(test_out_of_order),  cmocka_unit_test(test_window_edge),
		cmocka_unit_test(test_counter_jump),  cmocka_unit_test(test_limit),
		cmocka_unit_test(test_against_model),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
