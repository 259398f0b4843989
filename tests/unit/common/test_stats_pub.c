/* The lock-free publication of worker counters: a reader sees zeros
 * before the first publish, then exactly what was published; and while a
 * writer thread publishes without pause, every snapshot a reader gets is
 * one the writer wrote whole (all words of a publish carry the same
 * value, which grows), never a mix of two. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "stats_pub.h"

enum { WORDS = 64, PUBLISHES = 200000 };

static void test_basic(void **state)
{
	struct stats_pub p;
	uint64_t in[WORDS], out[WORDS];
	(void)state;
	assert_int_equal(stats_pub_init(&p, WORDS), 0);
	memset(out, 0xff, sizeof(out));
	assert_true(stats_pub_read(&p, out));
	for (int i = 0; i < WORDS; i++)
		assert_int_equal(out[i], 0);
	for (int i = 0; i < WORDS; i++)
		in[i] = (uint64_t)i * 0x0101010101010101ull;
	stats_pub_write(&p, in);
	assert_true(stats_pub_read(&p, out));
	assert_memory_equal(in, out, sizeof(in));
	stats_pub_free(&p);
}

struct race {
	struct stats_pub p;
	atomic_bool done;
};

static void *writer(void *arg)
{
	struct race *r = arg;
	uint64_t v[WORDS];
	for (uint64_t n = 1; n <= PUBLISHES; n++) {
		for (int i = 0; i < WORDS; i++)
			v[i] = n;
		stats_pub_write(&r->p, v);
	}
	atomic_store(&r->done, true);
	return NULL;
}

static void test_concurrent_snapshots_are_whole(void **state)
{
	struct race r;
	pthread_t t;
	uint64_t v[WORDS], last = 0;
	(void)state;
	assert_int_equal(stats_pub_init(&r.p, WORDS), 0);
	atomic_init(&r.done, false);
	assert_int_equal(pthread_create(&t, NULL, writer, &r), 0);
	while (!atomic_load(&r.done)) {
		if (!stats_pub_read(&r.p, v))
			continue; /* the writer never paused long enough: allowed */
		for (int i = 1; i < WORDS; i++)
			assert_int_equal(v[i], v[0]);
		assert_true(v[0] >= last); /* never goes back */
		last = v[0];
	}
	pthread_join(t, NULL);
	assert_true(stats_pub_read(&r.p, v));
	assert_int_equal(v[0], PUBLISHES);
	assert_int_equal(v[WORDS - 1], PUBLISHES);
	stats_pub_free(&r.p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_basic),
		cmocka_unit_test(test_concurrent_snapshots_are_whole),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
