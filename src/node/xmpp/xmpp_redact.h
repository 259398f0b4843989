/* What libstrophe may not write to our log: its debug lines "SENT: ..."
 * and "RECV: ..." carry whole stanzas, and the SASL exchange among them
 * (SCRAM's client-first/final messages, the server's salt and iteration
 * count, PLAIN's password in base64, legacy jabber:iq:auth passwords) is
 * enough for offline password guessing. Pure functions. */
#ifndef IPOP_XMPP_REDACT_H
#define IPOP_XMPP_REDACT_H

#include <stdbool.h>
#include <stddef.h>

/* True when msg carries credentials (SASL or legacy authentication). */
bool xmpp_redact_needed(const char *msg);
/* msg as it may be logged: unchanged (the same pointer) when it carries
 * no credentials, else its prefix ("SENT: ") and first tag name with the
 * payload left out, written to buf. */
const char *xmpp_redact(const char *msg, char *buf, size_t cap);

#endif
