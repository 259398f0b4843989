/* The failed-authentication buckets: per source and username, per source,
 * per username; who is held back and who is not, refill over time, and
 * the tables shared by threads. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "addr.h"
#include "turn_authlimit.h"

static struct sockaddr_storage sa(const char *s)
{
	struct sockaddr_storage ss;
	assert_int_equal(addr_parse(s, 0, &ss), 0);
	return ss;
}

#define SA(x) ((const struct sockaddr *)&(x))

/* Fails (user, src) until held back; returns how many were checked. */
static unsigned fail_until_held(struct turn_authlimit *al, const struct sockaddr *src,
				const char *user, uint64_t now)
{
	unsigned n = 0;
	while (turn_authlimit_check(al, src, user, now) == TURN_AUTHLIMIT_OK) {
		turn_authlimit_failed(al, src, user, now);
		assert_true(++n < 1000);
	}
	return n;
}

static void test_one_source_one_user(void **state)
{
	(void)state;
	struct turn_authlimit *al = turn_authlimit_new();
	assert_non_null(al);
	struct sockaddr_storage a = sa("198.51.100.2:4000"), a2 = sa("198.51.100.2:4001");
	struct sockaddr_storage b = sa("203.0.113.7:4000");
	uint64_t now = 5000000;

	/* the burst, then held back whatever the source port */
	assert_int_equal(fail_until_held(al, SA(a), "alice", now), TURN_AUTHLIMIT_PAIR_BURST);
	assert_int_equal(turn_authlimit_check(al, SA(a), "alice", now), TURN_AUTHLIMIT_PAIR);
	assert_int_equal(turn_authlimit_check(al, SA(a2), "alice", now), TURN_AUTHLIMIT_PAIR);
	/* another user from that source, the same user from another source */
	assert_int_equal(turn_authlimit_check(al, SA(a), "bob", now), TURN_AUTHLIMIT_OK);
	assert_int_equal(turn_authlimit_check(al, SA(b), "alice", now), TURN_AUTHLIMIT_OK);
	/* refill: PAIR_RATE per second, never more than the burst */
	now += 1000;
	assert_int_equal(fail_until_held(al, SA(a), "alice", now), TURN_AUTHLIMIT_PAIR_RATE);
	now += 3600 * 1000;
	assert_int_equal(fail_until_held(al, SA(a), "alice", now), TURN_AUTHLIMIT_PAIR_BURST);
	turn_authlimit_free(al);
}

/* A sustained attack from one source on one user gets PAIR_RATE checks a
 * second, and meanwhile its source and the user stay usable. */
static void test_sustained_rate(void **state)
{
	(void)state;
	struct turn_authlimit *al = turn_authlimit_new();
	struct sockaddr_storage a = sa("198.51.100.2:4000"), b = sa("203.0.113.7:4000");
	uint64_t now = 1000;
	unsigned checked = 0;

	for (unsigned ms = 0; ms < 60000; ms += 2) { /* 500 guesses/s for a minute */
		if (turn_authlimit_check(al, SA(a), "alice", now + ms) == TURN_AUTHLIMIT_OK) {
			turn_authlimit_failed(al, SA(a), "alice", now + ms);
			checked++;
		}
		if (ms % 1000 == 0) {
			assert_int_equal(turn_authlimit_check(al, SA(a), "bob", now + ms),
					 TURN_AUTHLIMIT_OK);
			assert_int_equal(turn_authlimit_check(al, SA(b), "alice", now + ms),
					 TURN_AUTHLIMIT_OK);
		}
	}
	assert_true(checked >= 60 * TURN_AUTHLIMIT_PAIR_RATE);
	assert_true(checked <= 60 * TURN_AUTHLIMIT_PAIR_RATE + TURN_AUTHLIMIT_PAIR_BURST + 1);
	turn_authlimit_free(al);
}

/* One source trying many usernames: the source bucket. */
static void test_spraying_one_source(void **state)
{
	(void)state;
	struct turn_authlimit *al = turn_authlimit_new();
	struct sockaddr_storage a = sa("198.51.100.2:4000"), b = sa("203.0.113.7:1");
	char user[32];
	unsigned checked = 0;
	for (unsigned i = 0; i < 100; i++) {
		snprintf(user, sizeof(user), "user%u", i);
		if (turn_authlimit_check(al, SA(a), user, 1000) == TURN_AUTHLIMIT_OK) {
			turn_authlimit_failed(al, SA(a), user, 1000);
			checked++;
		}
	}
	assert_int_equal(checked, TURN_AUTHLIMIT_IP_BURST);
	assert_int_equal(turn_authlimit_check(al, SA(a), "fresh", 1000), TURN_AUTHLIMIT_IP);
	assert_int_equal(turn_authlimit_check(al, SA(b), "fresh", 1000), TURN_AUTHLIMIT_OK);
	/* an IPv6 source counts by its /64 */
	struct sockaddr_storage c1 = sa("[2001:db8:1:2::1]:1"), c2 = sa("[2001:db8:1:2:ffff::9]:1");
	struct sockaddr_storage c3 = sa("[2001:db8:1:3::1]:1");
	for (unsigned i = 0; i < 100; i++) {
		snprintf(user, sizeof(user), "u6-%u", i);
		if (turn_authlimit_check(al, SA(c1), user, 1000) == TURN_AUTHLIMIT_OK)
			turn_authlimit_failed(al, SA(c1), user, 1000);
	}
	assert_int_equal(turn_authlimit_check(al, SA(c2), "fresh", 1000), TURN_AUTHLIMIT_IP);
	assert_int_equal(turn_authlimit_check(al, SA(c3), "fresh", 1000), TURN_AUTHLIMIT_OK);
	turn_authlimit_free(al);
}

/* Many sources on one username: the username bucket. */
static void test_many_sources_one_user(void **state)
{
	(void)state;
	struct turn_authlimit *al = turn_authlimit_new();
	char src[64];
	unsigned checked = 0;
	for (unsigned i = 0; i < 200; i++) {
		snprintf(src, sizeof(src), "198.51.100.%u:1", i + 1);
		struct sockaddr_storage s = sa(src);
		if (turn_authlimit_check(al, SA(s), "svpnjingle", 1000) == TURN_AUTHLIMIT_OK) {
			turn_authlimit_failed(al, SA(s), "svpnjingle", 1000);
			checked++;
		}
	}
	assert_int_equal(checked, TURN_AUTHLIMIT_USER_BURST);
	struct sockaddr_storage n = sa("203.0.113.50:1");
	assert_int_equal(turn_authlimit_check(al, SA(n), "svpnjingle", 1000), TURN_AUTHLIMIT_USER);
	assert_int_equal(turn_authlimit_check(al, SA(n), "other", 1000), TURN_AUTHLIMIT_OK);
	assert_int_equal(turn_authlimit_check(al, SA(n), "svpnjingle", 3000), TURN_AUTHLIMIT_OK);
	turn_authlimit_free(al);
}

/* A source that only ever succeeds is never charged (check takes
 * nothing), and names do not collide by construction of the key. */
static void test_check_takes_nothing(void **state)
{
	(void)state;
	struct turn_authlimit *al = turn_authlimit_new();
	struct sockaddr_storage a = sa("198.51.100.2:4000");
	for (unsigned i = 0; i < 10000; i++)
		assert_int_equal(turn_authlimit_check(al, SA(a), "alice", 1000), TURN_AUTHLIMIT_OK);
	/* "ab" from one source is not "b" from a source ending in "a" */
	assert_int_equal(fail_until_held(al, SA(a), "ab", 1000), TURN_AUTHLIMIT_PAIR_BURST);
	assert_int_equal(turn_authlimit_check(al, SA(a), "b", 1000), TURN_AUTHLIMIT_OK);
	assert_string_equal(turn_authlimit_verdict_name(TURN_AUTHLIMIT_PAIR),
			    "this source and username");
	turn_authlimit_free(al);
}

/* Workers share the tables: concurrent failures are all counted (no lost
 * updates), so 4 threads cannot get more than one burst through. */
struct hammer {
	struct turn_authlimit *al;
	unsigned checked;
};

static void *hammer_main(void *arg)
{
	struct hammer *h = arg;
	struct sockaddr_storage a = sa("198.51.100.2:4000");
	for (unsigned i = 0; i < 20000; i++) {
		if (turn_authlimit_check(h->al, SA(a), "alice", 1000) == TURN_AUTHLIMIT_OK) {
			turn_authlimit_failed(h->al, SA(a), "alice", 1000);
			h->checked++;
		}
	}
	return NULL;
}

static void test_threads(void **state)
{
	(void)state;
	struct turn_authlimit *al = turn_authlimit_new();
	struct hammer h[4];
	pthread_t t[4];
	for (int i = 0; i < 4; i++) {
		h[i] = (struct hammer){ al, 0 };
		assert_int_equal(pthread_create(&t[i], NULL, hammer_main, &h[i]), 0);
	}
	unsigned total = 0;
	for (int i = 0; i < 4; i++) {
		pthread_join(t[i], NULL);
		total += h[i].checked;
	}
	/* a check and its charge are not one atomic step: each thread may get
	 * one check in between, never more */
	assert_true(total >= TURN_AUTHLIMIT_PAIR_BURST);
	assert_true(total <= TURN_AUTHLIMIT_PAIR_BURST + 4);
	turn_authlimit_free(al);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_one_source_one_user),
		cmocka_unit_test(test_sustained_rate),
		cmocka_unit_test(test_spraying_one_source),
		cmocka_unit_test(test_many_sources_one_user),
		cmocka_unit_test(test_check_takes_nothing),
		cmocka_unit_test(test_threads),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
