/* libstrophe's debug lines: the SASL exchange (SCRAM messages, PLAIN's
 * password) and legacy authentication are cut to their tag name; other
 * stanzas pass unchanged. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "xmpp_redact.h"

static void test_sasl_cut(void **state)
{
	(void)state;
	static const struct {
		const char *in, *out;
	} cases[] = {
		{ "SENT: <auth xmlns=\"urn:ietf:params:xml:ns:xmpp-sasl\" mechanism=\"SCRAM-SHA-1\">"
		  "biwsbj1hbGljZSxyPWZ5a29+ZDJ3VEU2</auth>",
		  "SENT: <auth> (authentication; not logged)" },
		{ "RECV: <challenge xmlns=\"urn:ietf:params:xml:ns:xmpp-sasl\">cj1meWtvK2Qyd2JiLHM9UVNYQ1IrUTZzZWs4"
		  "YmY5MixpPTQwOTY=</challenge>",
		  "RECV: <challenge> (authentication; not logged)" },
		{ "SENT: <response xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>Yz1iaXdzLHI9ZnlrbyxwPXY=</response>",
		  "SENT: <response> (authentication; not logged)" },
		{ "RECV: <success xmlns=\"urn:ietf:params:xml:ns:xmpp-sasl\">dj1ybUY5cHFWOFM3c3VBb1pXamE0ZEpSa0ZzS1E9"
		  "</success>",
		  "RECV: <success> (authentication; not logged)" },
		/* no namespace in the line: the element name is enough */
		{ "SENT: <auth mechanism=\"PLAIN\">AGFsaWNlAGh1bnRlcjI=</auth>", "SENT: <auth> (authentication; not logged)" },
		{ "SENT: <iq type=\"set\" id=\"_xmpp_auth1\"><query xmlns=\"jabber:iq:auth\"><username>alice</username>"
		  "<password>hunter2</password></query></iq>",
		  "SENT: <iq> (authentication; not logged)" },
	};
	char buf[96];
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_true(xmpp_redact_needed(cases[i].in));
		const char *r = xmpp_redact(cases[i].in, buf, sizeof(buf));
		assert_string_equal(r, cases[i].out);
		assert_null(strstr(r, "hunter2"));
	}
	/* a tiny buffer still ends in NUL and leaks nothing */
	char small[12];
	const char *r = xmpp_redact(cases[0].in, small, sizeof(small));
	assert_true(strlen(r) < sizeof(small));
	assert_null(strstr(r, "biws"));
}

static void test_other_stanzas_unchanged(void **state)
{
	(void)state;
	static const char *const keep[] = {
		"RECV: <presence from=\"bob@example.test/ipop-00\"/>",
		"SENT: <message to=\"bob@example.test/ipop-00\"><ipop xmlns=\"urn:ipop:signal:1\">{}</ipop></message>",
		"handle SCRAM-SHA-1 (challenge) called for challenge",
		"SENT: <authority/>", /* a tag that only starts like <auth */
		"",
	};
	char buf[96];
	for (size_t i = 0; i < sizeof(keep) / sizeof(keep[0]); i++) {
		assert_false(xmpp_redact_needed(keep[i]));
		assert_ptr_equal(xmpp_redact(keep[i], buf, sizeof(buf)), keep[i]);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sasl_cut),
		cmocka_unit_test(test_other_stanzas_unchanged),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
