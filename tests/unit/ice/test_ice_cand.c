/* ICE candidates: priority formula, foundations, the text form. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "addr.h"
#include "ice_cand.h"

static struct sockaddr_storage A(const char *s)
{
	struct sockaddr_storage ss;
	assert_int_equal(addr_parse(s, 0, &ss), 0);
	return ss;
}

#define SA(x) ((const struct sockaddr *)&(x))

static void test_priority_formula(void **state)
{
	(void)state;
	/* host, local pref 65535, component 1:
	 * 126*2^24 = 2113929216, 65535*2^8 = 16776960, 256-1 = 255 */
	assert_int_equal(ice_cand_priority(ICE_CAND_HOST, 65535, 1), 2130706431u);
	/* srflx: 100*2^24 = 1677721600 + 16776960 + 255 */
	assert_int_equal(ice_cand_priority(ICE_CAND_SRFLX, 65535, 1), 1694498815u);
	/* prflx: 110*2^24 = 1845493760 + 16776960 + 255 */
	assert_int_equal(ice_cand_priority(ICE_CAND_PRFLX, 65535, 1), 1862270975u);
	/* relay: 0 + 16776960 + 255; component 2 gives 254 */
	assert_int_equal(ice_cand_priority(ICE_CAND_RELAY, 65535, 1), 16777215u);
	assert_int_equal(ice_cand_priority(ICE_CAND_RELAY, 10, 2), 2560u + 254u);
	assert_true(ice_cand_priority(ICE_CAND_HOST, 0, 1) > ice_cand_priority(ICE_CAND_PRFLX, 65535, 1));
}

static void test_foundation_rules(void **state)
{
	(void)state;
	struct ice_cand h1, h2, h3, s1, s2;
	struct sockaddr_storage a1 = A("10.0.0.1:1000"), a2 = A("10.0.0.1:2000"), a3 = A("10.0.0.9:1000");
	struct sockaddr_storage m = A("203.0.113.7:5000"), srv1 = A("198.51.100.1:3478"),
				srv2 = A("198.51.100.2:3478");
	assert_int_equal(ice_cand_init(&h1, ICE_CAND_HOST, SA(a1), NULL, 1, 65535, NULL), 0);
	assert_int_equal(ice_cand_init(&h2, ICE_CAND_HOST, SA(a2), NULL, 2, 65535, NULL), 0);
	assert_int_equal(ice_cand_init(&h3, ICE_CAND_HOST, SA(a3), NULL, 3, 65535, NULL), 0);
	assert_int_equal(ice_cand_init(&s1, ICE_CAND_SRFLX, SA(m), SA(a1), 1, 65535, SA(srv1)), 0);
	assert_int_equal(ice_cand_init(&s2, ICE_CAND_SRFLX, SA(m), SA(a1), 1, 65535, SA(srv2)), 0);
	/* same type and base IP: same foundation, whatever the port */
	assert_string_equal(h1.foundation, h2.foundation);
	assert_string_not_equal(h1.foundation, h3.foundation);
	assert_string_not_equal(h1.foundation, s1.foundation); /* type differs */
	assert_string_not_equal(s1.foundation, s2.foundation); /* server differs */
	assert_int_equal(h1.base_id, 1);
	assert_int_equal(s1.component, 1);
	assert_true(addr_equal(SA(s1.rel_addr), SA(a1)));
	assert_true(strlen(h1.foundation) > 0 && strlen(h1.foundation) <= ICE_FOUNDATION_MAX);
}

static void test_format_parse_roundtrip(void **state)
{
	(void)state;
	struct ice_cand c, p;
	char buf[256];
	struct sockaddr_storage m = A("203.0.113.7:5000"), b = A("10.0.0.1:1000");
	assert_int_equal(ice_cand_init(&c, ICE_CAND_SRFLX, SA(m), SA(b), 4, 1234, NULL), 0);
	int n = ice_cand_format(&c, buf, sizeof buf);
	assert_true(n > 0);
	assert_int_equal((size_t)n, strlen(buf));
	assert_non_null(strstr(buf, " udp "));
	assert_non_null(strstr(buf, "typ srflx raddr 10.0.0.1 rport 1000"));
	assert_int_equal(ice_cand_parse(buf, &p), 0);
	assert_int_equal(p.type, ICE_CAND_SRFLX);
	assert_int_equal(p.priority, c.priority);
	assert_int_equal(p.component, 1);
	assert_string_equal(p.foundation, c.foundation);
	assert_true(addr_equal(SA(p.addr), SA(m)));
	assert_true(addr_equal(SA(p.rel_addr), SA(b)));

	struct sockaddr_storage v6 = A("[2001:db8::5]:4444");
	assert_int_equal(ice_cand_init(&c, ICE_CAND_HOST, SA(v6), NULL, 0, 65535, NULL), 0);
	assert_true(ice_cand_format(&c, buf, sizeof buf) > 0);
	assert_null(strstr(buf, "raddr"));
	assert_int_equal(ice_cand_parse(buf, &p), 0);
	assert_true(addr_equal(SA(p.addr), SA(v6)));
	assert_int_equal(p.type, ICE_CAND_HOST);
	assert_int_equal(ice_cand_format(&c, buf, 10), -ENOSPC);
}

static void test_parse_accepts_prefix_and_extensions(void **state)
{
	(void)state;
	struct ice_cand p;
	assert_int_equal(ice_cand_parse("candidate:abc+/ 1 UDP 2130706431 192.0.2.4 9 typ host generation 0", &p), 0);
	assert_string_equal(p.foundation, "abc+/");
	assert_int_equal(p.priority, 2130706431u);
	assert_int_equal(addr_port(SA(p.addr)), 9);
	assert_int_equal(ice_cand_parse("f 1 udp 100 198.51.100.2 3000 typ relay raddr 203.0.113.1 rport 7", &p), 0);
	assert_int_equal(p.type, ICE_CAND_RELAY);
	assert_int_equal(addr_port(SA(p.rel_addr)), 7);
}

static void test_parse_rejects(void **state)
{
	(void)state;
	struct ice_cand p;
	static const char *const bad[] = {
		"",
		"f 1 tcp 100 192.0.2.1 9 typ host",
		"f 1 udp 100 192.0.2.1 9 host host",
		"f 1 udp 100 192.0.2.1 9 typ hosts",
		"f 0 udp 100 192.0.2.1 9 typ host",
		"f 1 udp 0 192.0.2.1 9 typ host",
		"f 1 udp 4294967296 192.0.2.1 9 typ host",
		"f 1 udp -5 192.0.2.1 9 typ host",
		"f 1 udp 100 192.0.2.300 9 typ host",
		"f 1 udp 100 192.0.2.1 65536 typ host",
		"f 1 udp 100 [::1] 9 typ host",
		"f 1 udp 100 192.0.2.1 9 typ srflx raddr 10.0.0.1",
		"f 1 udp 100 192.0.2.1 9 typ srflx raddr 10.0.0.1 rport x",
		"f-x 1 udp 100 192.0.2.1 9 typ host",
		"0123456789012345678901234567890123 1 udp 100 192.0.2.1 9 typ host",
		"f 1 udp 100 192.0.2.1",
	};
	for (unsigned i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		memset(&p, 0x5a, sizeof p);
		assert_int_equal(ice_cand_parse(bad[i], &p), -EINVAL);
		assert_int_equal(p.priority, 0); /* left cleared, never half-filled */
	}
	assert_int_equal(ice_cand_parse(NULL, &p), -EINVAL);
}

static void test_init_rejects_bad_family(void **state)
{
	(void)state;
	struct ice_cand c;
	struct sockaddr_storage none;
	memset(&none, 0, sizeof none);
	assert_int_equal(ice_cand_init(&c, ICE_CAND_HOST, SA(none), NULL, 0, 1, NULL), -EINVAL);
	assert_int_equal(ice_cand_init(&c, ICE_CAND_HOST, NULL, NULL, 0, 1, NULL), -EINVAL);
	assert_string_equal(ice_cand_type_name(ICE_CAND_PRFLX), "prflx");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_priority_formula),
		cmocka_unit_test(test_foundation_rules),
		cmocka_unit_test(test_format_parse_roundtrip),
		cmocka_unit_test(test_parse_accepts_prefix_and_extensions),
		cmocka_unit_test(test_parse_rejects),
		cmocka_unit_test(test_init_rejects_bad_family),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
