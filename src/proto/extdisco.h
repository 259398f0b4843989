/* XEP-0215 External Service Discovery, the part ipopd uses: the STUN and
 * TURN servers an XMPP server lists in <services xmlns='urn:xmpp:extdisco:2'>,
 * with the short-lived TURN REST credentials it hands out (ejabberd's
 * mod_stun_disco, Prosody's mod_turn_external). Pure validation of one
 * <service/> element's attributes and of XEP-0082 date-times; walking
 * the stanza is node/xmpp's (xmpp_extdisco.c). */
#ifndef IPOP_EXTDISCO_H
#define IPOP_EXTDISCO_H

#include <stdbool.h>
#include <stdint.h>

#define EXTDISCO_NS "urn:xmpp:extdisco:2"

enum {
	EXTDISCO_MAX = 8,         /* services taken from one answer */
	EXTDISCO_HOST_MAX = 253,  /* a DNS name or an IP literal */
	EXTDISCO_CRED_MAX = 127,  /* username, password */
	/* Credentials are asked for again this long before they expire (or
	 * after a quarter of their life, when that is shorter), and never
	 * more often than EXTDISCO_REFRESH_MIN_S. */
	EXTDISCO_REFRESH_MARGIN_S = 60,
	EXTDISCO_REFRESH_MIN_S = 5,
	EXTDISCO_REFRESH_NONE_S = 3600, /* no expiry given: look again hourly */
};

enum extdisco_kind { EXTDISCO_STUN = 0, EXTDISCO_TURN };
enum extdisco_transport { EXTDISCO_UDP = 0, EXTDISCO_TCP, EXTDISCO_TLS };

struct extdisco_service {
	enum extdisco_kind kind;
	enum extdisco_transport transport; /* "turns"/"stuns" are TLS over TCP */
	char host[EXTDISCO_HOST_MAX + 1];
	uint16_t port;
	char username[EXTDISCO_CRED_MAX + 1]; /* "" when none */
	char password[EXTDISCO_CRED_MAX + 1];
	int64_t expires; /* Unix time; 0: no expiry given */
};

/* The attributes of one <service/> (NULL when absent). Returns 0 with out
 * filled, 1 for a service ipopd has no use for (another type, STUN over
 * TLS), or -1 for one that is malformed, with *why set. */
int extdisco_service_parse(const char *type, const char *transport, const char *host, const char *port,
			   const char *username, const char *password, const char *expires,
			   struct extdisco_service *out, const char **why);
/* XEP-0082 DateTime, "CCYY-MM-DDThh:mm:ss[.sss](Z|(+|-)hh:mm)", to Unix
 * time. Returns 0 or -1. */
int extdisco_datetime(const char *s, int64_t *out);
/* When to ask again (Unix time), from the earliest expiry of the TURN
 * services with credentials; now + EXTDISCO_REFRESH_NONE_S if none. */
int64_t extdisco_refresh_at(const struct extdisco_service *s, unsigned n, int64_t now);

#endif
