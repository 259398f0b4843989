/* Peer-address policy: the built-in bans in every spelling, then
 * allowed_address over denied_address. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "addr.h"
#include "turn_conf.h"
#include "turn_policy.h"

static struct sockaddr_storage sa(const char *s)
{
	struct sockaddr_storage ss;
	assert_int_equal(addr_parse(s, 0, &ss), 0);
	return ss;
}

static void add_rule(struct turn_addr_rule *rules, unsigned *n, const char *ip, unsigned prefix,
		     uint16_t port)
{
	assert_true(*n < TURN_CONF_MAX_RULES);
	struct turn_addr_rule *r = &rules[(*n)++];
	memset(r, 0, sizeof(*r));
	r->addr = sa(ip);
	r->prefix = (uint8_t)prefix;
	r->port = port;
}

struct ban_case {
	const char *addr;
	bool banned;
};

static const struct ban_case ban_cases[] = {
	/* IPv4 */
	{ "0.0.0.0", true },
	{ "0.1.2.3", true },
	{ "127.0.0.1", true },
	{ "127.255.255.254", true },
	{ "169.254.0.1", true },
	{ "169.254.169.254", true },
	{ "224.0.0.1", true },
	{ "239.255.255.250", true },
	{ "240.0.0.1", true },
	{ "255.255.255.255", true },
	{ "1.0.0.1", false },
	{ "10.0.0.1", false },
	{ "126.255.255.255", false },
	{ "128.0.0.1", false },
	{ "169.253.255.255", false },
	{ "169.255.0.1", false },
	{ "192.0.2.1", false },
	{ "198.51.100.7", false },
	{ "203.0.113.200", false },
	{ "223.255.255.255", false },
	/* IPv6 native */
	{ "::", true },
	{ "::1", true },
	{ "fe80::1", true },
	{ "febf:ffff::1", true },
	{ "ff02::1", true },
	{ "ff05::1:3", true },
	{ "2001:db8::1", false },
	{ "fec0::1", false },
	{ "fd00::1", false },
	/* IPv4-compatible (::/96): deprecated, all refused */
	{ "::127.0.0.1", true },
	{ "::0.0.0.0", true },
	{ "::192.0.2.1", true },
	{ "::2", true },
	/* IPv4-mapped: follows the IPv4 verdict */
	{ "::ffff:127.0.0.1", true },
	{ "::ffff:0.0.0.0", true },
	{ "::ffff:169.254.1.1", true },
	{ "::ffff:224.0.0.251", true },
	{ "::ffff:255.255.255.255", true },
	{ "::ffff:7f00:1", true },
	{ "::ffff:192.0.2.1", false },
	{ "::ffff:c000:201", false },
	/* SIIT IPv4-translated ::ffff:0:a.b.c.d */
	{ "::ffff:0:127.0.0.1", true },
	{ "::ffff:0:0.0.0.0", true },
	{ "::ffff:0:203.0.113.1", false },
	/* NAT64 well-known and local-use prefixes */
	{ "64:ff9b::127.0.0.1", true },
	{ "64:ff9b::7f00:1", true },
	{ "64:ff9b::0.0.0.0", true },
	{ "64:ff9b::169.254.169.254", true },
	{ "64:ff9b::192.0.2.1", false },
	{ "64:ff9b:1::127.0.0.1", true },
	{ "64:ff9b:1:abcd::7f00:1", true },
	{ "64:ff9b:1::198.51.100.1", false },
	/* 6to4 and Teredo carrying a banned IPv4 address */
	{ "2002:7f00:1::1", true },
	{ "2002:0:0::1", true },
	{ "2002:c000:201::1", false },
	{ "2001:0:c000:201::80ff:fffe", true },   /* client 127.0.0.1 inverted */
	{ "2001:0:c000:201::3fcc:9cfe", false },  /* client 192.51.99.1 */
};

static void test_always_banned_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(ban_cases) / sizeof(ban_cases[0]); i++) {
		struct sockaddr_storage ss = sa(ban_cases[i].addr);
		bool got = turn_policy_always_banned((struct sockaddr *)&ss);
		if (got != ban_cases[i].banned)
			fail_msg("%s: banned=%d, expected %d", ban_cases[i].addr, got,
				 ban_cases[i].banned);
		/* No configuration can lift a built-in ban. */
		struct turn_conf *conf = calloc(1, sizeof(*conf));
		assert_non_null(conf);
		add_rule(conf->allowed, &conf->n_allowed, "0.0.0.0", 0, 0);
		add_rule(conf->allowed, &conf->n_allowed, "::", 0, 0);
		assert_int_equal(turn_policy_peer_allowed(conf, (struct sockaddr *)&ss),
				 !ban_cases[i].banned);
		assert_int_equal(turn_policy_peer_allowed(NULL, (struct sockaddr *)&ss),
				 !ban_cases[i].banned &&
					 !turn_policy_private((struct sockaddr *)&ss));
		free(conf);
	}
}

static void test_unknown_family_banned(void **state)
{
	(void)state;
	struct sockaddr_storage ss;
	memset(&ss, 0, sizeof(ss));
	ss.ss_family = AF_UNIX;
	assert_true(turn_policy_always_banned((struct sockaddr *)&ss));
	assert_false(turn_policy_peer_allowed(NULL, (struct sockaddr *)&ss));
	assert_true(turn_policy_always_banned(NULL));
}

struct rule_case {
	const char *peer;
	bool allowed;
};

static void test_denied_and_allowed_rules(void **state)
{
	(void)state;
	struct turn_conf *conf = calloc(1, sizeof(*conf));
	assert_non_null(conf);
	add_rule(conf->denied, &conf->n_denied, "10.0.0.0", 8, 0);
	add_rule(conf->denied, &conf->n_denied, "192.0.2.0", 24, 5000);
	add_rule(conf->denied, &conf->n_denied, "2001:db8::", 32, 0);
	add_rule(conf->denied, &conf->n_denied, "198.51.100.128", 25, 0);
	add_rule(conf->allowed, &conf->n_allowed, "10.1.2.0", 24, 0);
	add_rule(conf->allowed, &conf->n_allowed, "10.9.9.9", 32, 3478);
	add_rule(conf->allowed, &conf->n_allowed, "2001:db8:1::", 48, 0);

	static const struct rule_case cases[] = {
		{ "10.0.0.1:1", false },
		{ "10.255.255.255:9", false },
		{ "11.0.0.1:1", true },
		{ "10.1.2.3:7", true },            /* allowed wins */
		{ "10.1.3.3:7", false },
		{ "10.9.9.9:3478", true },         /* allowed only on that port */
		{ "10.9.9.9:3479", false },
		{ "192.0.2.1:5000", false },       /* denied only on that port */
		{ "192.0.2.1:5001", true },
		{ "198.51.100.127:1", true },      /* just outside the /25 */
		{ "198.51.100.128:1", false },
		{ "198.51.100.255:1", false },
		{ "[2001:db8::1]:1", false },
		{ "[2001:db8:1::1]:1", true },
		{ "[2001:db9::1]:1", true },
		/* IPv4 rules apply to IPv6 spellings of IPv4 addresses */
		{ "[::ffff:10.0.0.1]:1", false },
		{ "[::ffff:10.1.2.3]:1", true },
		{ "[::ffff:192.0.2.1]:5000", false },
		{ "[::ffff:192.0.2.1]:5001", true },
		{ "[64:ff9b::10.0.0.1]:1", false },
		{ "[::ffff:0:10.0.0.1]:1", false },
		{ "[::ffff:11.0.0.1]:1", true },
		/* built-in bans stay */
		{ "127.0.0.1:1", false },
		{ "[::ffff:127.0.0.1]:1", false },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct sockaddr_storage ss = sa(cases[i].peer);
		bool got = turn_policy_peer_allowed(conf, (struct sockaddr *)&ss);
		if (got != cases[i].allowed)
			fail_msg("%s: allowed=%d, expected %d", cases[i].peer, got, cases[i].allowed);
	}
	free(conf);
}

struct private_case {
	const char *addr;
	bool private_;
};

/* Private, CGNAT, ULA and site-local ranges, in every spelling; the
 * documentation ranges the labs use as public addresses are not. */
static const struct private_case private_cases[] = {
	{ "10.0.0.1", true },
	{ "10.255.255.255", true },
	{ "172.16.0.1", true },
	{ "172.31.255.255", true },
	{ "192.168.1.1", true },
	{ "100.64.0.1", true },
	{ "100.127.255.255", true },
	{ "[fd00::1]", true },
	{ "[fc00::1]", true },
	{ "[fec0::1]", true },
	{ "[::ffff:10.1.2.3]", true },            /* mapped */
	{ "[::ffff:0:192.168.0.1]", true },       /* SIIT */
	{ "[64:ff9b::10.0.0.1]", true },          /* NAT64 */
	{ "[64:ff9b:1::172.16.0.1]", true },      /* local-use NAT64 */
	{ "[2002:a00:1::]", true },               /* 6to4 of 10.0.0.1 */
	{ "[2002:c0a8:101::1]", true },           /* 6to4 of 192.168.1.1 */
	{ "[2001:0:a00:1::ffff:fffe]", true },    /* Teredo, server 10.0.0.1 */
	{ "[2001:0:c000:201::f5ff:fefe]", true },  /* Teredo, client 10.0.1.1 inverted */
	{ "9.255.255.255", false },
	{ "11.0.0.1", false },
	{ "172.15.255.255", false },
	{ "172.32.0.1", false },
	{ "192.169.0.1", false },
	{ "100.63.255.255", false },
	{ "100.128.0.1", false },
	{ "192.0.2.1", false },                   /* TEST-NET-1 */
	{ "198.51.100.2", false },                /* TEST-NET-2 */
	{ "203.0.113.2", false },                 /* TEST-NET-3 */
	{ "[2001:db8::1]", false },
	{ "[fe00::1]", false },
	{ "[2002:c000:201::]", false },           /* 6to4 of 192.0.2.1 */
	{ "[::ffff:198.51.100.1]", false },
};

static void test_private_ranges(void **state)
{
	(void)state;
	struct turn_conf *conf = calloc(1, sizeof(*conf));
	assert_non_null(conf);
	for (size_t i = 0; i < sizeof(private_cases) / sizeof(private_cases[0]); i++) {
		const struct private_case *c = &private_cases[i];
		struct sockaddr_storage ss = sa(c->addr);
		const struct sockaddr *p = (const struct sockaddr *)&ss;
		if (turn_policy_private(p) != c->private_)
			fail_msg("%s: private=%d, expected %d", c->addr, !c->private_, c->private_);
		/* refused by default, with or without a configuration */
		assert_int_equal(turn_policy_peer_allowed(NULL, p), !c->private_);
		assert_int_equal(turn_policy_peer_allowed(conf, p), !c->private_);
	}
	/* allowed_address lifts it for what it names, in every spelling */
	add_rule(conf->allowed, &conf->n_allowed, "10.0.0.0", 8, 0);
	add_rule(conf->allowed, &conf->n_allowed, "fd00::", 8, 3478);
	static const struct rule_case cases[] = {
		{ "10.1.2.3:9", true },
		{ "[::ffff:10.1.2.3]:9", true },
		{ "[2002:a01:203::]:9", true },
		{ "172.16.0.1:9", false },
		{ "192.168.0.1:9", false },
		{ "[fd00::1]:3478", true },
		{ "[fd00::1]:3479", false },   /* the rule names one port */
		{ "[fc00::1]:3478", false },
		{ "127.0.0.1:9", false },      /* never the built-in bans */
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct sockaddr_storage ss = sa(cases[i].peer);
		if (turn_policy_peer_allowed(conf, (struct sockaddr *)&ss) != cases[i].allowed)
			fail_msg("%s: allowed=%d, expected %d", cases[i].peer, !cases[i].allowed,
				 cases[i].allowed);
	}
	free(conf);
}

/* A denied IPv4 address is refused in each of its IPv6 spellings. */
static void test_denied_every_spelling(void **state)
{
	(void)state;
	struct turn_conf *conf = calloc(1, sizeof(*conf));
	assert_non_null(conf);
	add_rule(conf->denied, &conf->n_denied, "203.0.113.0", 24, 0);
	static const struct rule_case cases[] = {
		{ "203.0.113.9:1", false },
		{ "[::ffff:203.0.113.9]:1", false },          /* mapped */
		{ "[::ffff:0:203.0.113.9]:1", false },        /* SIIT */
		{ "[64:ff9b::203.0.113.9]:1", false },        /* NAT64 */
		{ "[64:ff9b:1:2::cb00:7109]:1", false },      /* local-use NAT64 */
		{ "[2002:cb00:7109::1]:1", false },           /* 6to4 */
		{ "[2001:0:cb00:7109::1]:1", false },         /* Teredo server */
		{ "[2001:0:c000:201::34ff:8ef6]:1", false },  /* Teredo client, inverted */
		{ "203.0.114.9:1", true },
		{ "[2002:cb00:7209::1]:1", true },            /* 6to4 of 203.0.114.9 */
		{ "[2001:db8::cb00:7109]:1", true },          /* merely ends like it */
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct sockaddr_storage ss = sa(cases[i].peer);
		if (turn_policy_peer_allowed(conf, (struct sockaddr *)&ss) != cases[i].allowed)
			fail_msg("%s: allowed=%d, expected %d", cases[i].peer, !cases[i].allowed,
				 cases[i].allowed);
	}
	free(conf);
}

static void test_prefix_edges(void **state)
{
	(void)state;
	struct turn_conf *conf = calloc(1, sizeof(*conf));
	assert_non_null(conf);
	/* /0 denies everything of that family, and only that family */
	add_rule(conf->denied, &conf->n_denied, "0.0.0.0", 0, 0);
	struct sockaddr_storage a = sa("203.0.113.9:1"), b = sa("[2001:db8::9]:1");
	assert_false(turn_policy_peer_allowed(conf, (struct sockaddr *)&a));
	assert_true(turn_policy_peer_allowed(conf, (struct sockaddr *)&b));
	/* /128 matches one address */
	conf->n_denied = 0;
	add_rule(conf->denied, &conf->n_denied, "2001:db8::9", 128, 0);
	struct sockaddr_storage c = sa("[2001:db8::8]:1");
	assert_false(turn_policy_peer_allowed(conf, (struct sockaddr *)&b));
	assert_true(turn_policy_peer_allowed(conf, (struct sockaddr *)&c));
	/* an odd prefix length compares partial bytes */
	conf->n_denied = 0;
	add_rule(conf->denied, &conf->n_denied, "203.0.113.0", 29, 0);
	struct sockaddr_storage d = sa("203.0.113.7:1"), e = sa("203.0.113.8:1");
	assert_false(turn_policy_peer_allowed(conf, (struct sockaddr *)&d));
	assert_true(turn_policy_peer_allowed(conf, (struct sockaddr *)&e));
	free(conf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_always_banned_table),
		cmocka_unit_test(test_unknown_family_banned),
		cmocka_unit_test(test_denied_and_allowed_rules),
		cmocka_unit_test(test_prefix_edges),
		cmocka_unit_test(test_private_ranges),
		cmocka_unit_test(test_denied_every_spelling),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
