/* XMPP signalling over libstrophe: login (STARTTLS + SASL), presence,
 * roster, project-namespace messages, keepalive pings, and reconnects with
 * exponential backoff and jitter. libstrophe runs its own select loop, so
 * this module lives on the node's signalling thread; it is not thread-safe. */
#ifndef IPOP_XMPP_SIGNAL_H
#define IPOP_XMPP_SIGNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "xmpp_roster.h"

#define XMPP_SIGNAL_NS "urn:ipop:signal:1"
enum { XMPP_SIGNAL_MAX_BODY = 4096 };

enum xmpp_tls_mode { XMPP_TLS_REQUIRED = 0, XMPP_TLS_OPTIONAL, XMPP_TLS_OFF };

enum xmpp_sig_state {
	XMPP_SIG_OFFLINE = 0, /* waiting for the backoff timer */
	XMPP_SIG_CONNECTING,
	XMPP_SIG_ONLINE,
};

struct xmpp_sig_conf {
	const char *jid;       /* bare user@domain */
	const char *password;
	const char *host;      /* server to connect to (name or IP) */
	uint16_t port;
	enum xmpp_tls_mode tls;
	bool tls_verify;       /* verify the server certificate */
	const char *ca_file;   /* extra PEM to trust, or NULL */
	const char *resource;  /* "ipop-<nodeid>" */
	unsigned ping_interval_s; /* XEP-0199 keepalive, default 15 */
	unsigned ping_timeout_s;  /* default 10 */
};

struct xmpp_sig_ops {
	void *ctx;
	void (*peer)(void *ctx, enum roster_event ev, const char *full_jid);
	/* A project-namespace message from an authorized peer. */
	void (*message)(void *ctx, const char *full_jid, const char *body, size_t len);
	void (*state)(void *ctx, enum xmpp_sig_state st);
};

struct xmpp_sig;

struct xmpp_sig *xmpp_sig_new(const struct xmpp_sig_conf *conf, const struct xmpp_sig_ops *ops);
void xmpp_sig_free(struct xmpp_sig *s);
/* Runs libstrophe for up to timeout_ms, reconnecting when due. now_ms is
 * the caller's monotonic clock. */
void xmpp_sig_run(struct xmpp_sig *s, uint64_t now_ms, unsigned long timeout_ms);
/* Sends body to an authorized peer. Returns 0, -ENOTCONN or -EPERM. */
int xmpp_sig_send(struct xmpp_sig *s, const char *full_jid, const char *body);
enum xmpp_sig_state xmpp_sig_state(const struct xmpp_sig *s);
const char *xmpp_sig_state_name(enum xmpp_sig_state st);
/* Exponential backoff with +-25% jitter: 1 s, 2 s, ... capped at 60 s.
 * `rnd` is a uniform random 32-bit value. */
uint64_t xmpp_backoff_ms(unsigned attempt, uint32_t rnd);

#endif
