/* Who a node links with, decided from the XMPP roster and presence, with no
 * I/O: (a) other ipop resources of our own bare JID, (b) ipop resources of
 * contacts whose subscription is "both". Nobody else, whatever they send.
 * The table turns roster and presence changes into peer up/down events. */
#ifndef IPOP_XMPP_ROSTER_H
#define IPOP_XMPP_ROSTER_H

#include <stdbool.h>
#include <stddef.h>

enum { XMPP_JID_MAX = 3072 / 4 }; /* RFC 7622 allows 3071 bytes; we cap at 767 */
#define XMPP_IPOP_RESOURCE_PREFIX "ipop-"

enum roster_sub { ROSTER_SUB_NONE = 0, ROSTER_SUB_TO, ROSTER_SUB_FROM, ROSTER_SUB_BOTH, ROSTER_SUB_REMOVE };

/* DOWN: the resource went offline (presence). REVOKED: it is online but
 * no longer authorized (the subscription was removed): end the link now. */
enum roster_event { ROSTER_PEER_UP, ROSTER_PEER_DOWN, ROSTER_PEER_REVOKED };
typedef void (*roster_event_fn)(void *ctx, enum roster_event ev, const char *full_jid);

struct roster_contact {
	char *bare;
	enum roster_sub sub;
	bool ask; /* we asked for a subscription that is still pending */
};

struct roster_online {
	char *full;
	bool linked; /* reported up */
};

struct xmpp_roster {
	char own_bare[XMPP_JID_MAX];
	char own_full[XMPP_JID_MAX];
	struct roster_contact *contacts;
	size_t ncontacts, capcontacts;
	struct roster_online *online;
	size_t nonline, caponline;
	roster_event_fn fn;
	void *ctx;
};

void roster_init(struct xmpp_roster *r, const char *own_full_jid, roster_event_fn fn, void *ctx);
void roster_free(struct xmpp_roster *r);
/* A roster item from the server (result or push). */
void roster_set(struct xmpp_roster *r, const char *bare, enum roster_sub sub);
enum roster_sub roster_sub_parse(const char *s);
/* The item's ask="subscribe" flag (call after roster_set). */
void roster_set_ask(struct xmpp_roster *r, const char *bare, bool ask);
/* The contact's subscription and pending flag; false when not a contact. */
bool roster_contact_get(const struct xmpp_roster *r, const char *bare, enum roster_sub *sub, bool *ask);
/* auto_accept patterns: "user@domain" (case-insensitive), "*@domain", "*". */
bool jid_pattern_match(const char *pattern, const char *bare);
/* Presence from full_jid: available or not. */
void roster_presence(struct xmpp_roster *r, const char *full_jid, bool available);
/* Everyone went away (our connection dropped): no events, links stay up.
 * Presence after re-login reports PEER_UP again; consumers treat up as
 * idempotent. */
void roster_clear_presence(struct xmpp_roster *r);
bool roster_peer_allowed(const struct xmpp_roster *r, const char *full_jid);

/* JID helpers on plain strings. */
bool jid_split(const char *full, char *bare, size_t bare_cap, const char **resource);
bool jid_is_ipop_resource(const char *full);

#endif
