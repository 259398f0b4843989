/* XEP-0215 answers as libstrophe stanzas: the <services/> of an IQ result
 * into extdisco_service entries (proto/extdisco.h validates each). Used by
 * xmpp_signal.c; the fuzz harness fuzz_extdisco feeds it raw XML. */
#ifndef IPOP_XMPP_EXTDISCO_H
#define IPOP_XMPP_EXTDISCO_H

#include <strophe.h>

#include "extdisco.h"

/* The STUN/TURN services of an IQ result (or of a bare <services/>
 * element): at most max go to out; *skipped counts the malformed ones
 * (logged at debug level) and the unused kinds. Returns how many. */
unsigned xmpp_extdisco_parse(xmpp_stanza_t *st, struct extdisco_service *out, unsigned max, unsigned *skipped);
/* Whether a disco#info result lists urn:xmpp:extdisco:2. */
bool xmpp_extdisco_offered(xmpp_stanza_t *disco_result);

#endif
