/* Credentials out of libstrophe's debug lines, see xmpp_redact.h. */
#include "xmpp_redact.h"

#include <stdio.h>
#include <string.h>

/* Namespaces whose stanzas carry authentication data: SASL (auth,
 * challenge, response, success, failure; also the mechanisms list, which
 * is harmless but goes with them) and XEP-0078 legacy authentication. */
static const char *const secret_ns[] = {
	"urn:ietf:params:xml:ns:xmpp-sasl",
	"jabber:iq:auth",
};

/* Element names of the SASL exchange, for a message that lost its
 * namespace declaration (a stanza logged without its xmlns). */
static const char *const sasl_tags[] = { "<auth", "<challenge", "<response", "<success", "<abort" };

bool xmpp_redact_needed(const char *msg)
{
	for (size_t i = 0; i < sizeof(secret_ns) / sizeof(secret_ns[0]); i++)
		if (strstr(msg, secret_ns[i]))
			return true;
	const char *lt = strchr(msg, '<');
	for (size_t i = 0; lt && i < sizeof(sasl_tags) / sizeof(sasl_tags[0]); i++) {
		size_t n = strlen(sasl_tags[i]);
		if (strncmp(lt, sasl_tags[i], n) == 0 && (lt[n] == ' ' || lt[n] == '>' || lt[n] == '/'))
			return true;
	}
	return false;
}

const char *xmpp_redact(const char *msg, char *buf, size_t cap)
{
	if (!xmpp_redact_needed(msg))
		return msg;
	const char *lt = strchr(msg, '<');
	size_t pre = lt ? (size_t)(lt - msg) : 0, tag = 0;
	if (lt)
		tag = 1 + strcspn(lt + 1, " />\t\r\n");
	if (pre > 16)
		pre = 16; /* "SENT: " / "RECV: " and nothing longer */
	if (tag > 40)
		tag = 40;
	snprintf(buf, cap, "%.*s%.*s%s(authentication; not logged)", (int)pre, msg, (int)tag, lt ? lt : "",
		 lt ? "> " : "");
	return buf;
}
