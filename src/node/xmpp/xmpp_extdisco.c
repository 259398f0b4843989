/* XEP-0215 answers into service entries (see xmpp_extdisco.h). */
#include "xmpp_extdisco.h"

#include <string.h>

#include "log.h"

#define NS_DISCO_INFO "http://jabber.org/protocol/disco#info"

static xmpp_stanza_t *services_of(xmpp_stanza_t *st)
{
	const char *name = xmpp_stanza_get_name(st);
	const char *ns = xmpp_stanza_get_ns(st);
	if (name && strcmp(name, "services") == 0 && ns && strcmp(ns, EXTDISCO_NS) == 0)
		return st;
	return xmpp_stanza_get_child_by_name_and_ns(st, "services", EXTDISCO_NS);
}

unsigned xmpp_extdisco_parse(xmpp_stanza_t *st, struct extdisco_service *out, unsigned max, unsigned *skipped)
{
	xmpp_stanza_t *list = services_of(st);
	unsigned n = 0;

	*skipped = 0;
	if (!list)
		return 0;
	for (xmpp_stanza_t *c = xmpp_stanza_get_children(list); c; c = xmpp_stanza_get_next(c)) {
		const char *name = xmpp_stanza_get_name(c), *why;
		if (!xmpp_stanza_is_tag(c) || !name || strcmp(name, "service") != 0)
			continue;
		if (n == max) {
			(*skipped)++;
			continue;
		}
		int rc = extdisco_service_parse(
			xmpp_stanza_get_attribute(c, "type"), xmpp_stanza_get_attribute(c, "transport"),
			xmpp_stanza_get_attribute(c, "host"), xmpp_stanza_get_attribute(c, "port"),
			xmpp_stanza_get_attribute(c, "username"), xmpp_stanza_get_attribute(c, "password"),
			xmpp_stanza_get_attribute(c, "expires"), &out[n], &why);
		if (rc == 0) {
			n++;
			continue;
		}
		(*skipped)++;
		log_debug("xmpp: external service skipped: %s", why);
	}
	return n;
}

bool xmpp_extdisco_offered(xmpp_stanza_t *disco_result)
{
	xmpp_stanza_t *q = xmpp_stanza_get_child_by_name_and_ns(disco_result, "query", NS_DISCO_INFO);
	for (xmpp_stanza_t *c = q ? xmpp_stanza_get_children(q) : NULL; c; c = xmpp_stanza_get_next(c)) {
		const char *name = xmpp_stanza_get_name(c), *var = xmpp_stanza_get_attribute(c, "var");
		if (xmpp_stanza_is_tag(c) && name && strcmp(name, "feature") == 0 && var &&
		    strcmp(var, EXTDISCO_NS) == 0)
			return true;
	}
	return false;
}
