/* XEP-0215 service attributes, XEP-0082 date-times, the refresh time, and
 * the stanza walker (node/xmpp/xmpp_extdisco.c) on answers shaped like
 * Prosody's mod_turn_external and ejabberd's mod_stun_disco. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>
#include <strophe.h>

#include "extdisco.h"
#include "xmpp_extdisco.h"

static void test_datetime(void **state)
{
	(void)state;
	int64_t t;
	assert_int_equal(extdisco_datetime("1970-01-01T00:00:00Z", &t), 0);
	assert_int_equal(t, 0);
	assert_int_equal(extdisco_datetime("2026-12-02T15:18:54Z", &t), 0);
	assert_int_equal(t, 1796224734);
	assert_int_equal(extdisco_datetime("2026-12-02T15:18:54.000000Z", &t), 0);
	assert_int_equal(t, 1796224734);
	assert_int_equal(extdisco_datetime("2026-12-02T16:48:54.5+01:30", &t), 0);
	assert_int_equal(t, 1796224734);
	assert_int_equal(extdisco_datetime("2024-02-29T00:00:00-00:00", &t), 0);
	assert_int_equal(t, 1709164800);
	static const char *const bad[] = { "", "2026-12-02", "2026-12-02T15:18:54", "2026-13-02T15:18:54Z",
					   "2026-12-02T25:18:54Z", "2026-12-02T15:18:54+1:00", "2026-12-02T15:18:54.Z",
					   "2026-12-02 15:18:54Z", "2026-12-02T15:18:54Zjunk", "x026-12-02T15:18:54Z" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(extdisco_datetime(bad[i], &t), -1);
}

static void test_service(void **state)
{
	(void)state;
	struct extdisco_service s;
	const char *why;
	assert_int_equal(extdisco_service_parse("turn", "udp", "192.0.2.1", "3478", "1796224734:alice", "pw=",
						"2026-12-02T15:18:54Z", &s, &why),
			 0);
	assert_int_equal(s.kind, EXTDISCO_TURN);
	assert_int_equal(s.transport, EXTDISCO_UDP);
	assert_string_equal(s.host, "192.0.2.1");
	assert_int_equal(s.port, 3478);
	assert_string_equal(s.username, "1796224734:alice");
	assert_int_equal(s.expires, 1796224734);
	assert_int_equal(extdisco_service_parse("turns", NULL, "turn.example.test", NULL, "u", "p", NULL, &s, &why),
			 0);
	assert_int_equal(s.transport, EXTDISCO_TLS);
	assert_int_equal(s.port, 5349);
	assert_int_equal(extdisco_service_parse("stun", NULL, "2001:db8::1", NULL, NULL, NULL, NULL, &s, &why), 0);
	assert_int_equal(s.port, 3478);
	/* not for us */
	assert_int_equal(extdisco_service_parse("ftp", "tcp", "h", "21", NULL, NULL, NULL, &s, &why), 1);
	assert_int_equal(extdisco_service_parse("stun", "tcp", "h", "3478", NULL, NULL, NULL, &s, &why), 1);
	assert_int_equal(extdisco_service_parse("stuns", "tcp", "h", "5349", NULL, NULL, NULL, &s, &why), 1);
	/* malformed */
	assert_int_equal(extdisco_service_parse("turn", "sctp", "h", "1", NULL, NULL, NULL, &s, &why), -1);
	assert_int_equal(extdisco_service_parse("turn", "udp", "h h", "1", NULL, NULL, NULL, &s, &why), -1);
	assert_int_equal(extdisco_service_parse("turn", "udp", "h", "0", NULL, NULL, NULL, &s, &why), -1);
	assert_int_equal(extdisco_service_parse("turn", "udp", "h", "65536", NULL, NULL, NULL, &s, &why), -1);
	assert_int_equal(extdisco_service_parse("turn", "udp", "h", "1", "u", NULL, NULL, &s, &why), -1);
	assert_int_equal(extdisco_service_parse("turn", "udp", "h", "1", "u", "", NULL, &s, &why), -1);
	assert_int_equal(extdisco_service_parse("turn", "udp", "h", "1", "u", "p", "tomorrow", &s, &why), -1);
	assert_int_equal(extdisco_service_parse(NULL, "udp", "h", "1", NULL, NULL, NULL, &s, &why), -1);
	assert_non_null(why);
	char longuser[EXTDISCO_CRED_MAX + 2];
	memset(longuser, 'u', sizeof(longuser) - 1);
	longuser[sizeof(longuser) - 1] = '\0';
	assert_int_equal(extdisco_service_parse("turn", "udp", "h", "1", longuser, "p", NULL, &s, &why), -1);
}

static void test_refresh_at(void **state)
{
	(void)state;
	struct extdisco_service s[2];
	memset(s, 0, sizeof(s));
	int64_t now = 1000000;
	assert_int_equal(extdisco_refresh_at(s, 0, now), now + EXTDISCO_REFRESH_NONE_S);
	s[0].kind = EXTDISCO_TURN;
	strcpy(s[0].username, "u");
	s[0].expires = now + 60; /* 60 s credentials: again after 45 s */
	assert_int_equal(extdisco_refresh_at(s, 1, now), now + 45);
	s[1] = s[0];
	s[1].expires = now + 43200; /* 12 h: the hourly look comes first */
	assert_int_equal(extdisco_refresh_at(&s[1], 1, now), now + EXTDISCO_REFRESH_NONE_S);
	s[1].expires = now + 1800; /* 30 min: a minute before */
	assert_int_equal(extdisco_refresh_at(&s[1], 1, now), now + 1740);
	assert_int_equal(extdisco_refresh_at(s, 2, now), now + 45);
	s[0].expires = now + 2; /* never sooner than 5 s */
	assert_int_equal(extdisco_refresh_at(s, 1, now), now + EXTDISCO_REFRESH_MIN_S);
}

static unsigned parse_xml(const char *xml, struct extdisco_service *out, unsigned max, unsigned *skipped)
{
	xmpp_ctx_t *ctx = xmpp_ctx_new(NULL, NULL);
	xmpp_stanza_t *st = xmpp_stanza_new_from_string(ctx, xml);
	assert_non_null(st);
	unsigned n = xmpp_extdisco_parse(st, out, max, skipped);
	xmpp_stanza_release(st);
	xmpp_ctx_free(ctx);
	return n;
}

static void test_walker(void **state)
{
	(void)state;
	struct extdisco_service s[EXTDISCO_MAX];
	unsigned skipped;
	/* Prosody 0.12, mod_turn_external */
	const char *prosody =
		"<iq type='result' id='x'><services xmlns='urn:xmpp:extdisco:2'>"
		"<service type='stun' transport='udp' host='192.0.2.1' port='3478'/>"
		"<service type='turn' transport='udp' host='192.0.2.1' port='3478' username='1796224734' "
		"password='Zm9v' expires='2026-12-02T15:18:54Z' restricted='1'/>"
		"<service type='ftp' host='192.0.2.9' port='21'/>"
		"<service type='turn' host='bad host'/></services></iq>";
	assert_int_equal(parse_xml(prosody, s, EXTDISCO_MAX, &skipped), 2);
	assert_int_equal(skipped, 2);
	assert_int_equal(s[0].kind, EXTDISCO_STUN);
	assert_int_equal(s[1].kind, EXTDISCO_TURN);
	assert_string_equal(s[1].password, "Zm9v");
	assert_int_equal(s[1].expires, 1796224734);
	/* ejabberd 23.01, mod_stun_disco: fractions of a second */
	const char *ejabberd = "<iq xmlns='jabber:client' type='result'><services xmlns='urn:xmpp:extdisco:2'>"
			       "<service host='192.0.2.1' port='3478' type='turn' transport='udp' restricted='1' "
			       "username='1796224734:0a1b2c3d4e5f6071' password='cHc=' "
			       "expires='2026-12-02T15:18:54.000000Z'/></services></iq>";
	assert_int_equal(parse_xml(ejabberd, s, EXTDISCO_MAX, &skipped), 1);
	assert_string_equal(s[0].username, "1796224734:0a1b2c3d4e5f6071");
	/* the bound on what is taken */
	assert_int_equal(parse_xml(prosody, s, 1, &skipped), 1);
	assert_int_equal(skipped, 3);
	/* another namespace is not ours */
	assert_int_equal(parse_xml("<iq type='result'><services xmlns='urn:xmpp:extdisco:1'>"
				   "<service type='turn' host='h'/></services></iq>",
				   s, EXTDISCO_MAX, &skipped),
			 0);
}

static void test_offered(void **state)
{
	(void)state;
	xmpp_ctx_t *ctx = xmpp_ctx_new(NULL, NULL);
	xmpp_stanza_t *yes = xmpp_stanza_new_from_string(
		ctx, "<iq type='result'><query xmlns='http://jabber.org/protocol/disco#info'>"
		     "<feature var='urn:xmpp:ping'/><feature var='urn:xmpp:extdisco:2'/></query></iq>");
	xmpp_stanza_t *no = xmpp_stanza_new_from_string(
		ctx, "<iq type='result'><query xmlns='http://jabber.org/protocol/disco#info'>"
		     "<feature var='urn:xmpp:extdisco:1'/></query></iq>");
	assert_true(xmpp_extdisco_offered(yes));
	assert_false(xmpp_extdisco_offered(no));
	xmpp_stanza_release(yes);
	xmpp_stanza_release(no);
	xmpp_ctx_free(ctx);
}

int main(void)
{
	xmpp_initialize();
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_datetime), cmocka_unit_test(test_service), cmocka_unit_test(test_refresh_at),
		cmocka_unit_test(test_walker), cmocka_unit_test(test_offered),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	xmpp_shutdown();
	return rc;
}
