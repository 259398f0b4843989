/* Who gets a link: own-account ipop resources and mutual contacts only. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "xmpp_roster.h"

struct events {
	int n;
	char log[16][128];
};

static void record(void *ctx, enum roster_event ev, const char *full)
{
	struct events *e = ctx;
	if (e->n < 16)
		snprintf(e->log[e->n++], 128, "%s %s", ev == ROSTER_PEER_UP ? "up" : "down", full);
}

static void test_own_account_resources_link(void **state)
{
	(void)state;
	struct events e = { 0 };
	struct xmpp_roster r;
	roster_init(&r, "alice@example.test/ipop-aaaa", record, &e);
	roster_presence(&r, "alice@example.test/ipop-aaaa", true); /* ourselves */
	roster_presence(&r, "alice@example.test/ipop-bbbb", true);
	roster_presence(&r, "alice@example.test/phone", true);     /* not ipop */
	assert_int_equal(e.n, 1);
	assert_string_equal(e.log[0], "up alice@example.test/ipop-bbbb");
	roster_presence(&r, "alice@example.test/ipop-bbbb", false);
	assert_int_equal(e.n, 2);
	assert_string_equal(e.log[1], "down alice@example.test/ipop-bbbb");
	roster_free(&r);
}

static void test_only_mutual_contacts_link(void **state)
{
	(void)state;
	struct events e = { 0 };
	struct xmpp_roster r;
	roster_init(&r, "alice@example.test/ipop-1", record, &e);
	roster_set(&r, "bob@example.test", ROSTER_SUB_BOTH);
	roster_set(&r, "dave@example.test", ROSTER_SUB_TO);
	roster_presence(&r, "bob@example.test/ipop-2", true);
	roster_presence(&r, "dave@example.test/ipop-3", true);
	roster_presence(&r, "carol@example.test/ipop-4", true); /* in nobody's roster */
	assert_int_equal(e.n, 1);
	assert_string_equal(e.log[0], "up bob@example.test/ipop-2");
	assert_false(roster_peer_allowed(&r, "carol@example.test/ipop-4"));
	assert_false(roster_peer_allowed(&r, "dave@example.test/ipop-3"));

	/* dave accepts: the already-online resource comes up at once */
	roster_set(&r, "dave@example.test", ROSTER_SUB_BOTH);
	assert_int_equal(e.n, 2);
	assert_string_equal(e.log[1], "up dave@example.test/ipop-3");
	/* bob removes us: the link goes down at once */
	roster_set(&r, "bob@example.test", ROSTER_SUB_REMOVE);
	assert_int_equal(e.n, 3);
	assert_string_equal(e.log[2], "down bob@example.test/ipop-2");
	roster_free(&r);
}

static void test_jid_parsing(void **state)
{
	(void)state;
	char bare[64];
	const char *res;
	assert_true(jid_split("Bob@Example.Test/ipop-x", bare, sizeof(bare), &res));
	assert_string_equal(bare, "bob@example.test");
	assert_string_equal(res, "ipop-x");
	assert_false(jid_split("/ipop-x", bare, sizeof(bare), &res));
	assert_false(jid_split("nodomain/ipop-x", bare, sizeof(bare), &res));
	assert_false(jid_split("a@b.c", bare, 3, &res));
	assert_true(jid_is_ipop_resource("a@b/ipop-1"));
	assert_false(jid_is_ipop_resource("a@b/ipo"));
	assert_false(jid_is_ipop_resource("a@b"));
	assert_int_equal(roster_sub_parse("both"), ROSTER_SUB_BOTH);
	assert_int_equal(roster_sub_parse("bogus"), ROSTER_SUB_NONE);
	assert_int_equal(roster_sub_parse(NULL), ROSTER_SUB_NONE);
}

static void test_clear_presence_is_silent(void **state)
{
	(void)state;
	struct events e = { 0 };
	struct xmpp_roster r;
	roster_init(&r, "alice@example.test/ipop-1", record, &e);
	roster_presence(&r, "alice@example.test/ipop-2", true);
	roster_clear_presence(&r); /* XMPP dropped: links must stay up */
	assert_int_equal(e.n, 1);
	roster_presence(&r, "alice@example.test/ipop-2", true); /* after re-login */
	assert_int_equal(e.n, 2);
	roster_free(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_own_account_resources_link),
		cmocka_unit_test(test_only_mutual_contacts_link),
		cmocka_unit_test(test_jid_parsing),
		cmocka_unit_test(test_clear_presence_is_silent),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
