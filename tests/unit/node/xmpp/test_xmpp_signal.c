/* Reconnect backoff: exponential, capped, jittered by +-25%. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "xmpp_signal.h"

static void test_backoff_grows_and_caps(void **state)
{
	(void)state;
	const uint32_t mid = 0x80000000u; /* no jitter */
	assert_int_equal(xmpp_backoff_ms(0, mid), 1000);
	assert_int_equal(xmpp_backoff_ms(1, mid), 2000);
	assert_int_equal(xmpp_backoff_ms(5, mid), 32000);
	assert_int_equal(xmpp_backoff_ms(6, mid), 60000);
	assert_int_equal(xmpp_backoff_ms(40, mid), 60000);
}

static void test_backoff_jitter_bounds(void **state)
{
	(void)state;
	assert_int_equal(xmpp_backoff_ms(2, 0), 3000);             /* 4000 - 25% */
	assert_true(xmpp_backoff_ms(2, UINT32_MAX) < 5000);        /* 4000 + 25% */
	assert_true(xmpp_backoff_ms(2, UINT32_MAX) > 4990);
	assert_true(xmpp_backoff_ms(3, 12345) != xmpp_backoff_ms(3, 0xdeadbeef));
	assert_string_equal(xmpp_sig_state_name(XMPP_SIG_ONLINE), "online");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_backoff_grows_and_caps),
		cmocka_unit_test(test_backoff_jitter_bounds),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
