/* XMPP signalling over libstrophe: login (STARTTLS + SASL), presence,
 * roster, project-namespace messages, keepalive pings, and reconnects: to
 * the next server of the list or of the domain's SRV records at once
 * (xmpp_servers.h), with exponential backoff and jitter once all failed.
 * libstrophe runs its own select loop, so this module lives on the node's
 * signalling thread; it is not thread-safe. */
#ifndef IPOP_XMPP_SIGNAL_H
#define IPOP_XMPP_SIGNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "extdisco.h"
#include "signal_presence.h"
#include "xmpp_roster.h"
#include "xmpp_servers.h"

#define XMPP_SIGNAL_NS "urn:ipop:signal:1"
enum {
	XMPP_SIGNAL_MAX_BODY = 4096,
	XMPP_SIG_POLL_MS = 500, /* while logging in or out: libstrophe's own timers run this often */
};

enum xmpp_tls_mode { XMPP_TLS_REQUIRED = 0, XMPP_TLS_OPTIONAL, XMPP_TLS_OFF };

enum xmpp_sig_state {
	XMPP_SIG_OFFLINE = 0, /* waiting for the backoff timer */
	XMPP_SIG_CONNECTING,
	XMPP_SIG_ONLINE,
};

struct xmpp_sig_conf {
	const char *jid;       /* bare user@domain */
	const char *password;
	/* Servers to try, in random order, the next on failure ("xmpp_host");
	 * none: the _xmpp-client._tcp SRV records of the JID's domain, and
	 * without records the domain itself at `port`. A server's port 0
	 * means `port`. */
	struct xmpp_server servers[XMPP_SERVERS_MAX];
	unsigned n_servers;
	uint16_t port;
	enum xmpp_tls_mode tls;
	bool tls_verify;       /* verify the server certificate */
	const char *ca_file;   /* extra PEM to trust, or NULL */
	const char *resource;  /* "ipop-<nodeid>" */
	unsigned ping_interval_s; /* XEP-0199 keepalive, default 15 */
	unsigned ping_timeout_s;  /* default 10 */
	/* Friend requests from JIDs matching one of these patterns
	 * (jid_pattern_match) are accepted without asking. */
	char *const *auto_accept;
	unsigned n_auto_accept;
	/* XEP-0215: ask the server for STUN/TURN services after login, and
	 * again before their credentials expire. */
	bool ext_services;
	/* What our presence tells the group (signal_presence.h), or NULL. */
	const struct signal_presence *presence;
};

/* Friends (roster contacts and requests), reported to the daemon so it can
 * list them: RESET (a full roster follows), ITEM (a contact, added or
 * changed; sub REMOVE when gone), REQUEST (someone asks to subscribe to
 * us and waits for an accept). */
enum xmpp_friend_ev { XMPP_FRIEND_RESET, XMPP_FRIEND_ITEM, XMPP_FRIEND_REQUEST };
enum xmpp_friend_cmd { XMPP_FRIEND_ADD, XMPP_FRIEND_ACCEPT, XMPP_FRIEND_REMOVE };

struct xmpp_sig_ops {
	void *ctx;
	void (*peer)(void *ctx, enum roster_event ev, const char *full_jid);
	/* A project-namespace message from an authorized peer. */
	void (*message)(void *ctx, const char *full_jid, const char *body, size_t len);
	void (*state)(void *ctx, enum xmpp_sig_state st);
	/* ask: we asked them and they have not answered yet. */
	void (*friend)(void *ctx, enum xmpp_friend_ev ev, const char *bare, enum roster_sub sub, bool ask);
	/* The server's STUN/TURN services (XEP-0215), each time it answers. */
	void (*services)(void *ctx, const struct extdisco_service *s, unsigned n);
	/* An authorized ipop resource's presence said this about it. */
	void (*info)(void *ctx, const char *full_jid, const struct signal_presence *p);
};

struct xmpp_sig;

struct xmpp_sig *xmpp_sig_new(const struct xmpp_sig_conf *conf, const struct xmpp_sig_ops *ops);
void xmpp_sig_free(struct xmpp_sig *s);
/* Runs libstrophe for up to timeout_ms, reconnecting when due. now_ms is
 * the caller's monotonic clock. */
void xmpp_sig_run(struct xmpp_sig *s, uint64_t now_ms, unsigned long timeout_ms);
/* For a caller that sleeps in its own poll(): the connection's socket and
 * the events to wait for, or -1 when there is none; *wake_ms is when
 * xmpp_sig_run wants to run next on its own (a reconnect, the keepalive
 * ping; while logging in or out, within XMPP_SIG_POLL_MS for libstrophe's
 * timers; UINT64_MAX: no such time). */
int xmpp_sig_poll(const struct xmpp_sig *s, short *events, uint64_t *wake_ms);
/* Sends body to an authorized peer. Returns 0, -ENOTCONN or -EPERM. */
int xmpp_sig_send(struct xmpp_sig *s, const char *full_jid, const char *body);
/* Friends management over presence subscriptions (RFC 6121):
 *   ADD     subscribe request to bare;
 *   ACCEPT  approve bare's request and ask back, so it becomes mutual;
 *   REMOVE  remove bare from the roster (both subscriptions end).
 * A request from a JID we asked ourselves is approved at once. Returns 0,
 * -ENOTCONN or -EINVAL (not a bare JID). */
int xmpp_sig_friend(struct xmpp_sig *s, enum xmpp_friend_cmd cmd, const char *bare);
/* The node's address changed, so the TCP connection may be dead: pings
 * the server now and reconnects unless it answers within
 * XMPP_KA_PROBE_MS (xmpp_keepalive.h). */
void xmpp_sig_probe(struct xmpp_sig *s);
enum xmpp_sig_state xmpp_sig_state(const struct xmpp_sig *s);
const char *xmpp_sig_state_name(enum xmpp_sig_state st);

/* One stanza from the server, as XML text, through the same handlers as
 * a live connection's (roster, presence, subscriptions, our messages);
 * replies are not sent without a connection. For fuzzers and tests.
 * 0, or -EINVAL when the text is not one XML element. */
int xmpp_sig_stanza_text(struct xmpp_sig *s, const char *xml);

#endif
