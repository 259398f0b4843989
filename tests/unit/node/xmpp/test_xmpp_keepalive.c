/* The signalling session's timers on a fake clock: the thread sleeps until
 * xmpp_ka_deadline(), so every timer must be in it and nothing may be
 * due earlier than it says. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "xmpp_keepalive.h"

enum { T0 = 100000, IV = 15000 };

static void test_offline_no_deadline(void **state)
{
	(void)state;
	struct xmpp_ka k = { 0 };
	assert_true(xmpp_ka_deadline(&k) == UINT64_MAX);
	assert_int_equal(xmpp_ka_poll(&k, T0), XKA_NONE);
	/* no probe or refresh without a session */
	xmpp_ka_probe(&k, T0);
	xmpp_ka_services_at(&k, T0);
	assert_true(xmpp_ka_deadline(&k) == UINT64_MAX);
}

/* An answered ping every interval, and no wakeup in between. */
static void test_ping_every_interval(void **state)
{
	(void)state;
	struct xmpp_ka k;
	xmpp_ka_start(&k, IV, T0);
	assert_int_equal(xmpp_ka_deadline(&k), T0 + IV);
	assert_int_equal(xmpp_ka_poll(&k, T0 + IV - 1), XKA_NONE);
	for (int i = 1; i <= 4; i++) {
		uint64_t now = T0 + (uint64_t)i * IV + 7; /* woken a little late */
		assert_int_equal(xmpp_ka_poll(&k, now), XKA_PING);
		xmpp_ka_sent(&k);
		assert_int_equal(xmpp_ka_poll(&k, now), XKA_NONE);
		assert_int_equal(xmpp_ka_deadline(&k), now + IV);
		xmpp_ka_answered(&k);
	}
}

/* Unanswered with nothing else received: reconnect, and the timers stop. */
static void test_unanswered_reconnects(void **state)
{
	(void)state;
	struct xmpp_ka k;
	xmpp_ka_start(&k, IV, T0);
	assert_int_equal(xmpp_ka_poll(&k, T0 + IV), XKA_PING);
	xmpp_ka_sent(&k);
	assert_int_equal(xmpp_ka_poll(&k, T0 + 2 * IV), XKA_RECONNECT);
	assert_true(xmpp_ka_deadline(&k) == UINT64_MAX);
	assert_int_equal(xmpp_ka_poll(&k, T0 + 3 * IV), XKA_NONE);
}

/* A busy server that delivers other stanzas gets one more interval per
 * interval with traffic; silence then ends the session. */
static void test_slow_server_waits(void **state)
{
	(void)state;
	struct xmpp_ka k;
	xmpp_ka_start(&k, IV, T0);
	assert_int_equal(xmpp_ka_poll(&k, T0 + IV), XKA_PING);
	xmpp_ka_sent(&k);
	xmpp_ka_rx(&k);
	assert_int_equal(xmpp_ka_poll(&k, T0 + 2 * IV), XKA_SLOW);
	assert_int_equal(xmpp_ka_deadline(&k), T0 + 3 * IV);
	xmpp_ka_rx(&k);
	assert_int_equal(xmpp_ka_poll(&k, T0 + 3 * IV), XKA_SLOW);
	assert_int_equal(xmpp_ka_poll(&k, T0 + 4 * IV), XKA_RECONNECT);
}

/* The probe after an address change: its deadline comes first; an answer
 * in time keeps the session and the ping timer's rhythm. */
static void test_probe(void **state)
{
	(void)state;
	struct xmpp_ka k;
	xmpp_ka_start(&k, IV, T0);
	xmpp_ka_probe(&k, T0 + 1000);
	xmpp_ka_sent(&k);
	assert_int_equal(xmpp_ka_deadline(&k), T0 + 1000 + XMPP_KA_PROBE_MS);
	assert_int_equal(xmpp_ka_poll(&k, T0 + 1000 + XMPP_KA_PROBE_MS - 1), XKA_NONE);
	xmpp_ka_answered(&k);
	assert_int_equal(xmpp_ka_poll(&k, T0 + 1000 + XMPP_KA_PROBE_MS), XKA_NONE);
	assert_int_equal(xmpp_ka_deadline(&k), T0 + IV);

	xmpp_ka_probe(&k, T0 + 2000);
	xmpp_ka_sent(&k);
	assert_int_equal(xmpp_ka_poll(&k, T0 + 2000 + XMPP_KA_PROBE_MS), XKA_PROBE_FAILED);
	assert_true(xmpp_ka_deadline(&k) == UINT64_MAX);
}

/* The services refresh is one shot and in the deadline; a new time
 * replaces the old one; it ends with the session. */
static void test_services_refresh(void **state)
{
	(void)state;
	struct xmpp_ka k;
	xmpp_ka_start(&k, IV, T0);
	xmpp_ka_services_at(&k, T0 + 5000);
	xmpp_ka_services_at(&k, T0 + 4000);
	assert_int_equal(xmpp_ka_deadline(&k), T0 + 4000);
	assert_int_equal(xmpp_ka_poll(&k, T0 + 4000), XKA_SERVICES);
	assert_int_equal(xmpp_ka_poll(&k, T0 + 4000), XKA_NONE);
	assert_int_equal(xmpp_ka_deadline(&k), T0 + IV);
	/* due together with the ping: both come out, one at a time */
	xmpp_ka_services_at(&k, T0 + IV);
	enum xka_action a = xmpp_ka_poll(&k, T0 + IV), b = xmpp_ka_poll(&k, T0 + IV);
	assert_true((a == XKA_PING && b == XKA_SERVICES) || (a == XKA_SERVICES && b == XKA_PING));
	assert_int_equal(xmpp_ka_poll(&k, T0 + IV), XKA_NONE);
	xmpp_ka_services_at(&k, T0 + IV + 1000);
	xmpp_ka_stop(&k);
	assert_true(xmpp_ka_deadline(&k) == UINT64_MAX);
	assert_int_equal(xmpp_ka_poll(&k, T0 + IV + 1000), XKA_NONE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_offline_no_deadline), cmocka_unit_test(test_ping_every_interval),
		cmocka_unit_test(test_unanswered_reconnects), cmocka_unit_test(test_slow_server_waits),
		cmocka_unit_test(test_probe), cmocka_unit_test(test_services_refresh),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
