/* Which XMPP server next (xmpp_servers.h): a list in random order, each
 * server once per round, the next at once after a failure, the backoff
 * only when the whole round failed; after an established session ends,
 * the next round tries that server last; SRV records in priority order. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "xmpp_servers.h"

static uint32_t xorshift(void *ctx)
{
	uint32_t *x = ctx;
	*x ^= *x << 13;
	*x ^= *x >> 17;
	*x ^= *x << 5;
	return *x;
}

static void make(struct xmpp_server *s, unsigned n)
{
	memset(s, 0, n * sizeof(*s));
	for (unsigned i = 0; i < n; i++) {
		snprintf(s[i].host, sizeof(s[i].host), "m%u.example.test", i + 1);
		s[i].port = 5222;
	}
}

static unsigned index_of(const struct xmpp_server *s)
{
	return (unsigned)(s->host[1] - '1');
}

/* Every server once per round, in an order that varies: each is first
 * about a third of the time. */
static void test_random_order_each_once(void **state)
{
	(void)state;
	uint32_t seed = 12345;
	struct xmpp_servers sv;
	struct xmpp_server list[3];
	unsigned first[3] = { 0 }, rounds = 3000;

	make(list, 3);
	xmpp_servers_init(&sv, xorshift, &seed);
	for (unsigned r = 0; r < rounds; r++) {
		xmpp_servers_start(&sv, list, 3, false);
		unsigned seen = 0;
		const struct xmpp_server *s;
		for (unsigned k = 0; (s = xmpp_servers_next(&sv)); k++) {
			assert_true(k < 3);
			assert_ptr_equal(xmpp_servers_current(&sv), s);
			seen |= 1u << index_of(s);
			if (k == 0)
				first[index_of(s)]++;
		}
		assert_int_equal(seen, 7);
	}
	for (unsigned i = 0; i < 3; i++)
		assert_in_range(first[i], rounds * 28 / 100, rounds * 39 / 100);
}

/* Connection failures move on at once; the backoff comes only when every
 * server of the round failed, and grows with each failed round; a login
 * resets it. */
static void test_failover_then_backoff(void **state)
{
	(void)state;
	uint32_t seed = 7;
	struct xmpp_servers sv;
	struct xmpp_server list[3];

	make(list, 3);
	xmpp_servers_init(&sv, xorshift, &seed);
	assert_null(xmpp_servers_current(&sv));
	xmpp_servers_start(&sv, list, 3, false);
	assert_non_null(xmpp_servers_next(&sv));
	assert_int_equal(xmpp_servers_down(&sv, false), 0);
	assert_non_null(xmpp_servers_next(&sv));
	assert_int_equal(xmpp_servers_down(&sv, false), 0);
	assert_non_null(xmpp_servers_next(&sv));
	uint64_t w = xmpp_servers_down(&sv, false);
	assert_in_range(w, 750, 1250);
	assert_null(xmpp_servers_next(&sv)); /* the round is over */
	xmpp_servers_start(&sv, list, 3, false);
	for (int i = 0; i < 3; i++) {
		assert_non_null(xmpp_servers_next(&sv));
		w = xmpp_servers_down(&sv, false);
	}
	assert_in_range(w, 1500, 2500); /* the second failed round */
	xmpp_servers_start(&sv, list, 3, false);
	assert_non_null(xmpp_servers_next(&sv));
	xmpp_servers_up(&sv);
	/* the session ends: a new round after the first step of the backoff */
	assert_in_range(xmpp_servers_down(&sv, true), 750, 1250);
	assert_null(xmpp_servers_next(&sv));
}

/* A cluster member whose session ended is tried last in the next round,
 * whatever the shuffle says; with one server it is simply tried again. */
static void test_dropped_server_last(void **state)
{
	(void)state;
	uint32_t seed = 99;
	struct xmpp_servers sv;
	struct xmpp_server list[3];

	make(list, 3);
	xmpp_servers_init(&sv, xorshift, &seed);
	for (int r = 0; r < 200; r++) {
		xmpp_servers_start(&sv, list, 3, false);
		const struct xmpp_server *s = xmpp_servers_next(&sv);
		unsigned dropped = index_of(s);
		xmpp_servers_up(&sv);
		xmpp_servers_down(&sv, true);
		xmpp_servers_start(&sv, list, 3, false);
		assert_int_not_equal(index_of(xmpp_servers_next(&sv)), dropped);
		assert_int_not_equal(index_of(xmpp_servers_next(&sv)), dropped);
		assert_int_equal(index_of(xmpp_servers_next(&sv)), dropped);
	}
	/* only after a session: a failed connection does not reorder */
	xmpp_servers_start(&sv, list, 1, false);
	assert_non_null(xmpp_servers_next(&sv));
	xmpp_servers_up(&sv);
	xmpp_servers_down(&sv, true);
	xmpp_servers_start(&sv, list, 1, false);
	assert_string_equal(xmpp_servers_next(&sv)->host, "m1.example.test");
	assert_null(xmpp_servers_next(&sv));
}

/* SRV records: the lowest priority first (RFC 2782); a member whose
 * session ended goes last even though its priority is the best. */
static void test_srv_priority(void **state)
{
	(void)state;
	uint32_t seed = 5;
	struct xmpp_servers sv;
	struct xmpp_server list[3];

	make(list, 3);
	list[0].priority = 20;
	list[1].priority = 10; /* m2 */
	list[2].priority = 30;
	xmpp_servers_init(&sv, xorshift, &seed);
	for (int r = 0; r < 50; r++) {
		xmpp_servers_start(&sv, list, 3, true);
		assert_true(sv.srv);
		assert_string_equal(xmpp_servers_next(&sv)->host, "m2.example.test");
		assert_string_equal(xmpp_servers_next(&sv)->host, "m1.example.test");
		assert_string_equal(xmpp_servers_next(&sv)->host, "m3.example.test");
	}
	xmpp_servers_start(&sv, list, 3, true);
	xmpp_servers_next(&sv);
	xmpp_servers_up(&sv);
	xmpp_servers_down(&sv, true);
	xmpp_servers_start(&sv, list, 3, true);
	assert_string_equal(xmpp_servers_next(&sv)->host, "m1.example.test");
	assert_string_equal(xmpp_servers_next(&sv)->host, "m3.example.test");
	assert_string_equal(xmpp_servers_next(&sv)->host, "m2.example.test");
}

/* An empty round (the domain has no XMPP service) backs off; a list
 * longer than the table is cut. */
static void test_edges(void **state)
{
	(void)state;
	uint32_t seed = 1;
	struct xmpp_servers sv;
	struct xmpp_server list[XMPP_SERVERS_MAX + 4];

	xmpp_servers_init(&sv, xorshift, &seed);
	xmpp_servers_start(&sv, list, 0, true);
	assert_null(xmpp_servers_next(&sv));
	assert_in_range(xmpp_servers_down(&sv, false), 750, 1250);
	memset(list, 0, sizeof(list));
	for (unsigned i = 0; i < XMPP_SERVERS_MAX + 4; i++)
		snprintf(list[i].host, sizeof(list[i].host), "h%u", i);
	xmpp_servers_start(&sv, list, XMPP_SERVERS_MAX + 4, false);
	unsigned k = 0;
	while (xmpp_servers_next(&sv))
		k++;
	assert_int_equal(k, XMPP_SERVERS_MAX);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_random_order_each_once),
		cmocka_unit_test(test_failover_then_backoff),
		cmocka_unit_test(test_dropped_server_last),
		cmocka_unit_test(test_srv_priority),
		cmocka_unit_test(test_edges),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
