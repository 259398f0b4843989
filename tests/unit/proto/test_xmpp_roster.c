/* Who gets a link: own-account ipop resources and mutual contacts only. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "friends.h"
#include "xmpp_roster.h"

struct events {
	int n;
	char log[16][128];
};

static void record(void *ctx, enum roster_event ev, const char *full)
{
	struct events *e = ctx;
	if (e->n < 16)
		snprintf(e->log[e->n++], 128, "%s %s",
			 ev == ROSTER_PEER_UP ? "up" : ev == ROSTER_PEER_DOWN ? "down" : "revoked", full);
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
	assert_string_equal(e.log[2], "revoked bob@example.test/ipop-2");
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
	assert_false(jid_split("example.test/ipop-1@x", bare, sizeof(bare), &res)); /* a server resource */
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

/* A friend who removes us (or whom we remove) is revoked at once, not
 * "down" (which waits for a grace period). */
static void test_removal_revokes(void **state)
{
	(void)state;
	struct events e = { 0 };
	struct xmpp_roster r;
	roster_init(&r, "alice@example.test/ipop-1", record, &e);
	roster_set(&r, "bob@example.test", ROSTER_SUB_BOTH);
	roster_presence(&r, "bob@example.test/ipop-2", true);
	roster_set(&r, "bob@example.test", ROSTER_SUB_TO); /* bob withdrew our subscription */
	assert_int_equal(e.n, 2);
	assert_string_equal(e.log[1], "revoked bob@example.test/ipop-2");
	roster_set(&r, "bob@example.test", ROSTER_SUB_BOTH);
	roster_set(&r, "bob@example.test", ROSTER_SUB_REMOVE);
	assert_int_equal(e.n, 4);
	assert_string_equal(e.log[3], "revoked bob@example.test/ipop-2");
	roster_presence(&r, "bob@example.test/ipop-2", false); /* its unavailable: nothing more */
	assert_int_equal(e.n, 4);
	enum roster_sub sub;
	bool ask;
	assert_false(roster_contact_get(&r, "bob@example.test", &sub, &ask));
	roster_set(&r, "dave@example.test", ROSTER_SUB_NONE);
	roster_set_ask(&r, "dave@example.test", true);
	assert_true(roster_contact_get(&r, "Dave@Example.test", &sub, &ask));
	assert_int_equal(sub, ROSTER_SUB_NONE);
	assert_true(ask);
	roster_free(&r);
}

static void test_accept_patterns(void **state)
{
	(void)state;
	assert_true(jid_pattern_match("*", "a@b.c"));
	assert_true(jid_pattern_match("*@b.c", "a@b.c"));
	assert_true(jid_pattern_match("*@B.c", "a@b.c"));
	assert_false(jid_pattern_match("*@b.c", "a@xb.c"));
	assert_false(jid_pattern_match("*@b.c", "a@b.c.evil"));
	assert_true(jid_pattern_match("Dave@b.c", "dave@b.c"));
	assert_false(jid_pattern_match("dave@b.c", "dave@b.cc"));
	assert_false(jid_pattern_match("dave@b.c", "eve@b.c"));
}

static void test_friends_list(void **state)
{
	(void)state;
	struct friends fl;
	friends_init(&fl);
	friends_event(&fl, XMPP_FRIEND_REQUEST, "dave@b.c", ROSTER_SUB_NONE, false);
	friends_event(&fl, XMPP_FRIEND_ITEM, "bob@b.c", ROSTER_SUB_BOTH, false);
	friends_event(&fl, XMPP_FRIEND_ITEM, "eve@b.c", ROSTER_SUB_NONE, true);
	assert_int_equal(fl.n, 3);
	assert_true(friends_find(&fl, "dave@b.c")->request);
	assert_true(friends_find(&fl, "eve@b.c")->ask);
	/* accepting dave: the roster shows him with "from", then "both" */
	friends_event(&fl, XMPP_FRIEND_ITEM, "dave@b.c", ROSTER_SUB_FROM, true);
	assert_false(friends_find(&fl, "dave@b.c")->request);
	friends_event(&fl, XMPP_FRIEND_ITEM, "dave@b.c", ROSTER_SUB_BOTH, false);
	assert_string_equal(friends_sub_name(friends_find(&fl, "dave@b.c")->sub), "both");
	friends_event(&fl, XMPP_FRIEND_ITEM, "bob@b.c", ROSTER_SUB_REMOVE, false);
	assert_null(friends_find(&fl, "bob@b.c"));
	assert_int_equal(fl.n, 2);
	friends_event(&fl, XMPP_FRIEND_RESET, "", ROSTER_SUB_NONE, false);
	assert_int_equal(fl.n, 0);
	friends_free(&fl);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_own_account_resources_link),
		cmocka_unit_test(test_only_mutual_contacts_link),
		cmocka_unit_test(test_jid_parsing),
		cmocka_unit_test(test_clear_presence_is_silent),
		cmocka_unit_test(test_removal_revokes),
		cmocka_unit_test(test_accept_patterns),
		cmocka_unit_test(test_friends_list),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
