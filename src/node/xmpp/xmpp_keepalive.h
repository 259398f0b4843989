/* The signalling session's own timers, sans I/O, on the monotonic clock.
 * They used to be libstrophe timed handlers, which libstrophe runs only
 * from xmpp_run_once() and whose next deadline it does not tell: the
 * signalling thread therefore woke every 500 ms to let them run (two
 * wakeups a second on an idle node). Kept here, the thread sleeps until
 * the earliest of them (xmpp_ka_deadline) or until the socket wakes it.
 *
 *  - XEP-0199 keepalive: a ping every interval. A ping unanswered for a
 *    whole interval with nothing else received meanwhile means the
 *    session is dead even if TCP has not noticed (XKA_RECONNECT). A
 *    server that delivers other stanzas is busy, not dead (hundreds of
 *    members logging in at once): the ping stays outstanding one more
 *    interval (XKA_SLOW), since dropping the session would add a presence
 *    storm to its load.
 *  - the probe after a local address change: the ping sent then must be
 *    answered within XMPP_KA_PROBE_MS (XKA_PROBE_FAILED).
 *  - the XEP-0215 services refresh, once, at a time the caller sets
 *    (XKA_SERVICES).
 *
 * xmpp_ka_poll() returns the due actions one at a time, XKA_NONE when
 * nothing is due. Times are ms; 0 means "not set". */
#ifndef IPOP_XMPP_KEEPALIVE_H
#define IPOP_XMPP_KEEPALIVE_H

#include <stdbool.h>
#include <stdint.h>

enum { XMPP_KA_PROBE_MS = 3000 };

enum xka_action {
	XKA_NONE = 0,
	XKA_PING,         /* send a ping, then xmpp_ka_sent() */
	XKA_SLOW,         /* the ping is late but the server delivers: waiting one more interval */
	XKA_RECONNECT,    /* no answer and nothing received for a whole interval: the session is dead */
	XKA_PROBE_FAILED, /* the probe's ping is unanswered: the session is dead */
	XKA_SERVICES,     /* ask for the external services again */
};

struct xmpp_ka {
	uint64_t interval_ms;
	uint64_t ping_ms;     /* when the ping timer fires next; 0: offline */
	uint64_t probe_ms;    /* the probe's deadline; 0: no probe */
	uint64_t services_ms; /* the services refresh; 0: none */
	bool outstanding;     /* a ping is unanswered */
	bool rx_since;        /* a stanza arrived since the last ping went out */
};

/* Logged in at now_ms: the ping timer runs; nothing outstanding. */
void xmpp_ka_start(struct xmpp_ka *k, uint64_t interval_ms, uint64_t now_ms);
/* The session ended: no timer runs. */
void xmpp_ka_stop(struct xmpp_ka *k);
/* A ping went out. */
void xmpp_ka_sent(struct xmpp_ka *k);
/* The server answered our ping. */
void xmpp_ka_answered(struct xmpp_ka *k);
/* Any stanza arrived from the server. */
void xmpp_ka_rx(struct xmpp_ka *k);
/* A probe starts (the caller sends its ping and calls xmpp_ka_sent). */
void xmpp_ka_probe(struct xmpp_ka *k, uint64_t now_ms);
/* Ask for the external services again at at_ms (replaces an earlier time). */
void xmpp_ka_services_at(struct xmpp_ka *k, uint64_t at_ms);
/* The next due action, or XKA_NONE. */
enum xka_action xmpp_ka_poll(struct xmpp_ka *k, uint64_t now_ms);
/* The earliest timer, UINT64_MAX when none runs. */
uint64_t xmpp_ka_deadline(const struct xmpp_ka *k);

#endif
