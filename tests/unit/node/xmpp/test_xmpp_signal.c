/* Reconnect backoff: exponential, capped, jittered by +-25%. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

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

/* Stanzas through the live handlers: who the roster lets link, whose
 * messages reach the daemon, which roster pushes count. */
struct seen {
	int up, down, revoked, msgs;
	char last_msg_from[128];
};

static void on_peer(void *ctx, enum roster_event ev, const char *full)
{
	struct seen *s = ctx;
	(void)full;
	s->up += ev == ROSTER_PEER_UP;
	s->down += ev == ROSTER_PEER_DOWN;
	s->revoked += ev == ROSTER_PEER_REVOKED;
}

static void on_msg(void *ctx, const char *full, const char *body, size_t len)
{
	struct seen *s = ctx;
	(void)body;
	(void)len;
	s->msgs++;
	snprintf(s->last_msg_from, sizeof(s->last_msg_from), "%s", full);
}

#define BOB "bob@example.test/ipop-00000000000000000000000000000000000000b0"
#define MAL "mallory@example.test/ipop-1111111111111111111111111111111111111111"

static void test_stanzas(void **state)
{
	(void)state;
	struct seen seen = { 0 };
	struct xmpp_sig_conf conf = {
		.jid = "alice@example.test", .password = "pw",
		.servers = { { .host = "127.0.0.1", .port = 5222 } }, .n_servers = 1, .port = 5222,
		.resource = "ipop-0000000000000000000000000000000000000001",
	};
	struct xmpp_sig_ops ops = { .ctx = &seen, .peer = on_peer, .message = on_msg };
	struct xmpp_sig *s = xmpp_sig_new(&conf, &ops);
	assert_non_null(s);
	assert_int_equal(xmpp_sig_stanza_text(s, "<iq type='result' id='roster1'><query xmlns='jabber:iq:roster'>"
						  "<item jid='bob@example.test' subscription='both'/></query></iq>"),
			 0);
	/* a roster push from another account is not believed */
	assert_int_equal(xmpp_sig_stanza_text(s, "<iq type='set' from='mallory@example.test/x' id='p'>"
						  "<query xmlns='jabber:iq:roster'><item jid='mallory@example.test' "
						  "subscription='both'/></query></iq>"),
			 0);
	assert_int_equal(xmpp_sig_stanza_text(s, "<presence from='" BOB "'/>"), 0);
	assert_int_equal(xmpp_sig_stanza_text(s, "<presence from='" MAL "'/>"), 0);
	assert_int_equal(seen.up, 1);
	assert_int_equal(xmpp_sig_stanza_text(s, "<message from='" MAL "'><ipop xmlns='urn:ipop:signal:1'>x</ipop>"
						  "</message>"),
			 0);
	assert_int_equal(seen.msgs, 0);
	assert_int_equal(xmpp_sig_stanza_text(s, "<message from='" BOB "'><ipop xmlns='urn:ipop:signal:1'>{}</ipop>"
						  "</message>"),
			 0);
	assert_int_equal(seen.msgs, 1);
	assert_string_equal(seen.last_msg_from, BOB);
	/* the subscription goes: the link ends */
	assert_int_equal(xmpp_sig_stanza_text(s, "<iq type='set' id='p2'><query xmlns='jabber:iq:roster'>"
						  "<item jid='bob@example.test' subscription='remove'/></query></iq>"),
			 0);
	assert_int_equal(seen.revoked, 1);
	assert_int_equal(xmpp_sig_stanza_text(s, "not xml"), -EINVAL);
	xmpp_sig_free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_backoff_grows_and_caps),
		cmocka_unit_test(test_backoff_jitter_bounds),
		cmocka_unit_test(test_stanzas),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
