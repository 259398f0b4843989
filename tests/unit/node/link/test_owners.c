/* Overlay address ownership (src/node/link/owners.c), IPv4 and IPv6: an
 * address is its member's once seen, whoever claims it next; unusable
 * addresses of either family are refused; learned owners are bounded and
 * go to the trust file and back; the operator's map is strict. */
#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "owners.h"
#include "test_addr.h"

struct bad {
	const char *a, *why;
};

/* Each address is refused for the reason given, and cannot be noted. */
static void assert_refused(struct owners *t, const struct bad *bad, size_t n)
{
	char why[OWNERS_WHY_LEN];
	for (size_t i = 0; i < n; i++) {
		const char *r = owners_refusal(t, A(bad[i].a), "bob@x.org", why, sizeof(why));
		assert_non_null(r);
		assert_string_equal(r, bad[i].why);
		assert_int_equal(owners_note(t, A(bad[i].a), "bob@x.org", 1), -EPERM);
	}
}

/* t's learned owners written and read into u, line by line. */
static void round_trip(const struct owners *t, struct owners *u)
{
	char line[256];
	for (size_t i = 0; i < t->n; i++) {
		assert_true(owners_format_line(&t->o[i], line, sizeof(line)) > 0);
		line[strlen(line) - 1] = '\0';
		assert_null(owners_parse_line(u, line + 6));
	}
}

static void test_owners_refusals(void **state)
{
	(void)state;
	struct owners t;
	char why[OWNERS_WHY_LEN];
	owners_init(&t, ip("172.31.0.1"), 24);
	static const struct bad bad[] = {
		{ "10.77.0.2", "10.77.0.2 is outside this overlay's 172.31.0.0/24" },
		{ "172.31.1.2", "172.31.1.2 is outside this overlay's 172.31.0.0/24" },
		{ "172.31.0.0", "172.31.0.0 is the network or broadcast address of 172.31.0.0/24" },
		{ "172.31.0.255", "172.31.0.255 is the network or broadcast address of 172.31.0.0/24" },
		{ "172.31.0.1", "172.31.0.1 is this node's own address" },
		{ "127.0.0.1", "127.0.0.1 is in 127.0.0.0/8 (loopback)" },
		{ "224.0.0.1", "224.0.0.1 is in 224.0.0.0/4 (multicast)" },
		{ "0.0.0.1", "0.0.0.1 is in 0.0.0.0/8 (this network)" },
	};
	assert_refused(&t, bad, sizeof(bad) / sizeof(bad[0]));
	/* the benign case: a free host address */
	assert_null(owners_refusal(&t, A("172.31.0.2"), "bob@x.org", why, sizeof(why)));
	owners_free(&t);
}

static void test_owners(void **state)
{
	(void)state;
	struct owners t;
	char why[OWNERS_WHY_LEN];
	owners_init(&t, ip("172.31.0.1"), 24);
	assert_int_equal(owners_note(&t, A("172.31.0.2"), "bob@x.org", 100), 0);
	assert_true(t.dirty);
	/* first come after the owner was seen: refused, whoever comes */
	assert_string_equal(owners_refusal(&t, A("172.31.0.2"), "mallory@x.org", why, sizeof(why)),
			    "172.31.0.2 belongs to bob@x.org");
	assert_int_equal(owners_note(&t, A("172.31.0.2"), "mallory@x.org", 200), -EPERM);
	assert_null(owners_refusal(&t, A("172.31.0.2"), "bob@x.org", why, sizeof(why)));
	assert_int_equal(owners_note(&t, A("172.31.0.2"), "bob@x.org", 300), 0);
	assert_int_equal(owners_find(&t, A("172.31.0.2"))->seen_s, 300);

	/* a member's learned addresses are bounded (its least recently seen goes) */
	for (int i = 0; i < OWNERS_PER_MEMBER + 3; i++) {
		char a[32];
		snprintf(a, sizeof(a), "172.31.0.%d", 100 + i);
		assert_int_equal(owners_note(&t, A(a), "mallory@x.org", 1000 + i), 0);
	}
	size_t m = 0;
	for (size_t i = 0; i < t.n; i++)
		m += strcmp(t.o[i].bare, "mallory@x.org") == 0;
	assert_int_equal(m, OWNERS_PER_MEMBER);
	assert_null(owners_find(&t, A("172.31.0.100")));
	assert_non_null(owners_find(&t, A("172.31.0.2")));

	/* round trip */
	struct owners u;
	owners_init(&u, ip("172.31.0.1"), 24);
	round_trip(&t, &u);
	assert_int_equal(u.n, t.n);
	assert_string_equal(owners_find(&u, A("172.31.0.2"))->bare, "bob@x.org");
	assert_string_equal(owners_parse_line(&u, "172.31.0.2 carol@x.org 1"), "address owned twice (or mapped)");
	assert_string_equal(owners_parse_line(&u, "10.0.0.5 carol@x.org 1"), "10.0.0.5 is outside this overlay's 172.31.0.0/24");
	assert_non_null(owners_parse_line(&u, "172.31.0.9 Carol@x.org 1"));
	assert_non_null(owners_parse_line(&u, "172.31.0.9 carol@x.org"));
	assert_non_null(owners_parse_line(&u, "172.31.0.9 carol@x.org 1 extra"));
	assert_non_null(owners_parse_line(&u, "172.31.0.9 carol@x.org x1"));
	owners_free(&u);

	/* forget: an address, a member */
	assert_int_equal(owners_forget(&t, "172.31.0.2"), 1);
	assert_null(owners_refusal(&t, A("172.31.0.2"), "mallory@x.org", why, sizeof(why)));
	assert_int_equal(owners_forget(&t, "mallory@x.org"), OWNERS_PER_MEMBER);
	assert_int_equal(t.n, 0);
	owners_free(&t);
}

/* The operator's map: strict, mapped addresses are their JIDs' from the
 * start, anything else is refused; it wins over a learned owner. */
static void test_owners_map(void **state)
{
	(void)state;
	struct owners t;
	char why[OWNERS_WHY_LEN];
	owners_init(&t, ip("172.31.0.1"), 24);
	assert_int_equal(owners_note(&t, A("172.31.0.3"), "mallory@x.org", 5), 0);
	assert_null(owners_map_line(&t, "bob@x.org 172.31.0.2"));
	assert_null(owners_map_line(&t, "carol@x.org\t172.31.0.3"));
	assert_true(t.strict);
	/* the group's map names this node too: accepted, nothing kept, and
	 * its address stays nobody else's */
	size_t before = t.n;
	assert_null(owners_map_line(&t, "alice@x.org 172.31.0.1"));
	assert_int_equal(t.n, before);
	assert_non_null(owners_refusal(&t, A("172.31.0.1"), "mallory@x.org", why, sizeof(why)));
	assert_string_equal(owners_map_line(&t, "dave@x.org 172.31.0.3"), "address mapped twice");
	assert_string_equal(owners_map_line(&t, "dave@x.org 10.1.1.1"), "10.1.1.1 is outside this overlay's 172.31.0.0/24");
	assert_non_null(owners_map_line(&t, "dave@x.org"));
	assert_non_null(owners_map_line(&t, "dave 172.31.0.4"));
	assert_non_null(owners_map_line(&t, "dave@x.org/res 172.31.0.4"));
	assert_non_null(owners_map_line(&t, "dave@x.org 172.31.0.4 x"));
	assert_null(owners_refusal(&t, A("172.31.0.2"), "bob@x.org", why, sizeof(why)));
	assert_null(owners_refusal(&t, A("172.31.0.3"), "carol@x.org", why, sizeof(why)));
	assert_string_equal(owners_refusal(&t, A("172.31.0.3"), "mallory@x.org", why, sizeof(why)),
			    "172.31.0.3 belongs to carol@x.org (address map)");
	assert_string_equal(owners_refusal(&t, A("172.31.0.9"), "bob@x.org", why, sizeof(why)),
			    "172.31.0.9 is not in the address map for bob@x.org");
	/* mapped owners are the map's: not forgotten, not saved */
	assert_int_equal(owners_forget(&t, "carol@x.org"), 0);
	owners_free(&t);
}

/* ---- trust_judge on messages ---- */

/* ---- IPv6 owners: the same rules, and the ranges of IPv6 ---- */

static void owners6_init(struct owners *t)
{
	struct in6_addr a;
	assert_int_equal(inet_pton(AF_INET6, "fd00::1", &a), 1);
	owners_init(t, ip("172.31.0.1"), 24);
	owners_set_ip6(t, &a, 64);
}

static void test_owners6_refusals(void **state)
{
	(void)state;
	struct owners t;
	char why[OWNERS_WHY_LEN];
	static const struct bad bad[] = {
		{ "fd01::2", "fd01::2 is outside this overlay's fd00::/64" },
		{ "2001:db8::2", "2001:db8::2 is outside this overlay's fd00::/64" },
		{ "fd00::", "fd00:: is the subnet-router anycast address of fd00::/64" },
		{ "fd00::1", "fd00::1 is this node's own address" },
		{ "::1", "::1 is in ::1/128 (loopback)" },
		{ "ff02::1", "ff02::1 is in ff00::/8 (multicast)" },
		{ "fe80::2", "fe80::2 is in fe80::/10 (link-local)" },
		{ "::", ":: is in ::/128 (unspecified)" },
		{ "::ffff:172.31.0.2", "::ffff:172.31.0.2 is in ::ffff:0:0/96 (IPv4-mapped)" },
	};
	owners6_init(&t);
	assert_true(owners_has_family(&t, AF_INET6));
	assert_refused(&t, bad, sizeof(bad) / sizeof(bad[0]));
	/* benign: a free host address of the prefix; the ip4 rules unchanged */
	assert_null(owners_refusal(&t, A("fd00::2"), "bob@x.org", why, sizeof(why)));
	assert_null(owners_refusal(&t, A("fd00::ffff:ffff:ffff:ffff"), "bob@x.org", why, sizeof(why)));
	assert_non_null(owners_refusal(&t, A("172.31.0.255"), "bob@x.org", why, sizeof(why)));
	owners_free(&t);
	/* a node without ip6 has no IPv6 subnet: only the ranges */
	owners_init(&t, ip("172.31.0.1"), 24);
	assert_false(owners_has_family(&t, AF_INET6));
	assert_null(owners_refusal(&t, A("fd77::2"), "bob@x.org", why, sizeof(why)));
	assert_non_null(owners_refusal(&t, A("fe80::2"), "bob@x.org", why, sizeof(why)));
	owners_free(&t);
}

/* bob's ip6 is his once seen, whoever claims it next; his ip4 and ip6 are
 * owned apart; both go to the trust file and back, and an old file (ip4
 * lines only) and a v4-only node's reading of a new one still load. */
static void test_owners6(void **state)
{
	(void)state;
	struct owners t, u;
	char why[OWNERS_WHY_LEN];
	owners6_init(&t);
	assert_int_equal(owners_note(&t, A("172.31.0.2"), "bob@x.org", 100), 0);
	assert_int_equal(owners_note(&t, A("fd00::2"), "bob@x.org", 100), 0);
	assert_string_equal(owners_refusal(&t, A("fd00::2"), "mallory@x.org", why, sizeof(why)),
			    "fd00::2 belongs to bob@x.org");
	assert_int_equal(owners_note(&t, A("fd00::2"), "mallory@x.org", 200), -EPERM);
	assert_null(owners_refusal(&t, A("fd00::2"), "bob@x.org", why, sizeof(why)));
	assert_int_equal(owners_note(&t, A("fd00::5"), "mallory@x.org", 200), 0);
	/* one address of many spellings is one address */
	assert_non_null(owners_find(&t, A("FD00:0::0002")));

	owners6_init(&u);
	round_trip(&t, &u);
	assert_int_equal(u.n, 3);
	assert_string_equal(owners_find(&u, A("fd00::2"))->bare, "bob@x.org");
	assert_int_equal(owners_find(&u, A("fd00::2"))->seen_s, 100);
	assert_string_equal(owners_parse_line(&u, "fd00::2 carol@x.org 1"), "address owned twice (or mapped)");
	assert_string_equal(owners_parse_line(&u, "fd01::9 carol@x.org 1"), "fd01::9 is outside this overlay's fd00::/64");
	assert_string_equal(owners_parse_line(&u, "fe80::9 carol@x.org 1"), "fe80::9 is in fe80::/10 (link-local)");
	assert_string_equal(owners_parse_line(&u, "fd00::zz carol@x.org 1"), "not an IPv4 or IPv6 address");
	owners_free(&u);

	/* forget by IPv6 address; the member's ip4 stays */
	assert_int_equal(owners_forget(&t, "fd00:0::2"), 1);
	assert_null(owners_refusal(&t, A("fd00::2"), "mallory@x.org", why, sizeof(why)));
	assert_non_null(owners_find(&t, A("172.31.0.2")));
	owners_free(&t);
}

/* The operator's map with IPv6 lines: mapped ip6s are their JIDs' from
 * the start, an unmapped ip6 is refused; a v4-only node reads the same
 * (shared) map without error. */
static void test_owners6_map(void **state)
{
	(void)state;
	struct owners t;
	char why[OWNERS_WHY_LEN];
	owners6_init(&t);
	assert_int_equal(owners_note(&t, A("fd00::3"), "mallory@x.org", 5), 0);
	assert_null(owners_map_line(&t, "bob@x.org 172.31.0.2"));
	assert_null(owners_map_line(&t, "bob@x.org fd00::2"));
	assert_null(owners_map_line(&t, "carol@x.org\tfd00::3")); /* wins over the learned owner */
	size_t before = t.n;
	assert_null(owners_map_line(&t, "alice@x.org fd00::1")); /* this node's own: nothing kept */
	assert_int_equal(t.n, before);
	assert_string_equal(owners_map_line(&t, "dave@x.org fd00::3"), "address mapped twice");
	assert_string_equal(owners_map_line(&t, "dave@x.org fd01::4"), "fd01::4 is outside this overlay's fd00::/64");
	assert_string_equal(owners_map_line(&t, "dave@x.org ff02::1"), "ff02::1 is in ff00::/8 (multicast)");
	assert_string_equal(owners_map_line(&t, "dave@x.org fd00::4::"), "not an IPv4 or IPv6 address");
	assert_null(owners_refusal(&t, A("fd00::2"), "bob@x.org", why, sizeof(why)));
	assert_null(owners_refusal(&t, A("fd00::3"), "carol@x.org", why, sizeof(why)));
	assert_string_equal(owners_refusal(&t, A("fd00::2"), "mallory@x.org", why, sizeof(why)),
			    "fd00::2 belongs to bob@x.org (address map)");
	assert_string_equal(owners_refusal(&t, A("fd00::9"), "bob@x.org", why, sizeof(why)),
			    "fd00::9 is not in the address map for bob@x.org");
	owners_free(&t);

	owners_init(&t, ip("172.31.0.1"), 24);
	assert_null(owners_map_line(&t, "bob@x.org fd00::2"));
	assert_null(owners_map_line(&t, "bob@x.org 172.31.0.2"));
	assert_non_null(owners_map_line(&t, "dave@x.org ::1"));
	assert_null(owners_refusal(&t, A("172.31.0.2"), "bob@x.org", why, sizeof(why)));
	owners_free(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_owners_refusals),
		cmocka_unit_test(test_owners),
		cmocka_unit_test(test_owners_map),
		cmocka_unit_test(test_owners6_refusals),
		cmocka_unit_test(test_owners6),
		cmocka_unit_test(test_owners6_map),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
