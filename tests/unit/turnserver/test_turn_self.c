/* The relay host's own addresses: which peers are the host (refused in any
 * spelling), which are its relay addresses (only the ports of live
 * allocations reachable), and which are someone else. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "addr.h"
#include "turn_conf.h"
#include "turn_self.h"

static struct sockaddr_storage sa(const char *s)
{
	struct sockaddr_storage ss;
	assert_int_equal(addr_parse(s, 0, &ss), 0);
	return ss;
}

#define SA(x) ((const struct sockaddr *)&(x))

static enum turn_self_kind kind(const struct turn_self *s, const char *peer)
{
	struct sockaddr_storage p = sa(peer);
	return turn_self_classify(s, SA(p));
}

static bool refused(const struct turn_self *s, const char *peer)
{
	struct sockaddr_storage p = sa(peer);
	return turn_self_refused(s, SA(p));
}

static void conf_init(struct turn_conf *c)
{
	memset(c, 0, sizeof(*c));
	c->n_listen = 2;
	c->listen[0] = sa("192.0.2.1");
	c->listen[1] = sa("2001:db8::1");
	c->n_relay = 2;
	c->relay[0] = sa("192.0.2.1");
	c->relay[1] = sa("2001:db8::1");
}

static void test_listen_and_relay_addresses(void **state)
{
	(void)state;
	struct turn_conf c;
	conf_init(&c);
	c.n_listen = 3;
	c.listen[2] = sa("192.0.2.9"); /* listens there, relays from .1 only */
	struct turn_self *s = turn_self_new(&c);
	assert_non_null(s);
	assert_int_equal(turn_self_count(s), 3);

	assert_int_equal(kind(s, "192.0.2.1:3478"), TURN_SELF_RELAY_IP);
	assert_int_equal(kind(s, "[2001:db8::1]:3478"), TURN_SELF_RELAY_IP);
	assert_int_equal(kind(s, "192.0.2.9:53"), TURN_SELF_HOST);
	assert_int_equal(kind(s, "192.0.2.2:53"), TURN_SELF_NO);
	assert_int_equal(kind(s, "[2001:db8::2]:53"), TURN_SELF_NO);

	/* no live allocation: every port of the relay address is refused,
	 * the listening port (an allocation through an allocation) first */
	assert_true(refused(s, "192.0.2.1:3478"));
	assert_true(refused(s, "192.0.2.1:50000"));
	assert_true(refused(s, "192.0.2.9:50000"));
	assert_false(refused(s, "192.0.2.2:3478"));

	/* another allocation's relayed address: reachable while it lives */
	struct sockaddr_storage r = sa("192.0.2.1:50000"), r6 = sa("[2001:db8::1]:50001");
	turn_self_relay_live(s, SA(r), true);
	turn_self_relay_live(s, SA(r6), true);
	assert_false(refused(s, "192.0.2.1:50000"));
	assert_true(refused(s, "192.0.2.1:50001"));
	assert_false(refused(s, "[2001:db8::1]:50001"));
	assert_true(refused(s, "[2001:db8::1]:50000"));
	turn_self_relay_live(s, SA(r), false);
	assert_true(refused(s, "192.0.2.1:50000"));
	assert_false(refused(s, "[2001:db8::1]:50001"));
	/* ports at the ends of the bitmap */
	struct sockaddr_storage lo = sa("192.0.2.1:1"), hi = sa("192.0.2.1:65535");
	turn_self_relay_live(s, SA(lo), true);
	turn_self_relay_live(s, SA(hi), true);
	assert_false(refused(s, "192.0.2.1:1"));
	assert_false(refused(s, "192.0.2.1:65535"));
	assert_true(refused(s, "192.0.2.1:65534"));
	turn_self_free(s);
}

/* An IPv6 spelling of a host IPv4 address is the host too, and never a
 * way to a live relay port. */
static void test_spellings(void **state)
{
	(void)state;
	struct turn_conf c;
	conf_init(&c);
	struct turn_self *s = turn_self_new(&c);
	struct sockaddr_storage r = sa("192.0.2.1:50000");
	turn_self_relay_live(s, SA(r), true);
	static const char *const host[] = {
		"[::ffff:192.0.2.1]:50000",      /* mapped */
		"[::ffff:0:192.0.2.1]:50000",    /* SIIT */
		"[64:ff9b::192.0.2.1]:50000",    /* NAT64 */
		"[64:ff9b:1::c000:201]:3478",    /* local-use NAT64 */
		"[2002:c000:201::1]:3478",       /* 6to4 */
		"[2001:0:c000:201::1]:3478",     /* Teredo server */
		"[2001:0:4136:e378::3fff:fdfe]:3478", /* Teredo client 192.0.2.1 inverted */
	};
	for (size_t i = 0; i < sizeof(host) / sizeof(host[0]); i++) {
		if (kind(s, host[i]) != TURN_SELF_HOST)
			fail_msg("%s is not seen as this host", host[i]);
		assert_true(refused(s, host[i]));
	}
	assert_int_equal(kind(s, "[2002:c000:202::1]:3478"), TURN_SELF_NO);
	assert_int_equal(kind(s, "[2001:db8::c000:201]:3478"), TURN_SELF_NO);
	turn_self_free(s);
}

/* Host addresses added by main (interfaces): refused on every port;
 * duplicates and wildcards are not added; the table has a bound. */
static void test_host_addresses(void **state)
{
	(void)state;
	struct turn_conf c;
	conf_init(&c);
	c.n_listen = 1;
	c.listen[0] = sa("0.0.0.0"); /* a wildcard listener adds nothing by itself */
	struct turn_self *s = turn_self_new(&c);
	assert_int_equal(turn_self_count(s), 2); /* the two relay addresses */
	struct sockaddr_storage h = sa("198.51.100.77:9"), h2 = sa("198.51.100.77:10");
	struct sockaddr_storage any = sa("[::]:0");
	assert_int_equal(turn_self_add(s, SA(h)), 0);
	assert_int_equal(turn_self_add(s, SA(h2)), 0);
	assert_int_equal(turn_self_add(s, SA(any)), 0);
	assert_int_equal(turn_self_count(s), 3);
	assert_true(refused(s, "198.51.100.77:53"));
	assert_true(refused(s, "[::ffff:198.51.100.77]:53"));
	char buf[64];
	unsigned added = 0;
	int rc = 0;
	for (unsigned i = 0; i < 2 * TURN_SELF_MAX && rc == 0; i++) {
		snprintf(buf, sizeof(buf), "[2001:db8:ff::%x]:1", i + 1);
		struct sockaddr_storage x = sa(buf);
		rc = turn_self_add(s, SA(x));
		added += rc == 0;
	}
	assert_int_equal(rc, -ENOSPC);
	assert_int_equal(turn_self_count(s), TURN_SELF_MAX);
	assert_int_equal(added, TURN_SELF_MAX - 3);
	turn_self_free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_listen_and_relay_addresses),
		cmocka_unit_test(test_spellings),
		cmocka_unit_test(test_host_addresses),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
