/* The signalling session's timers (see xmpp_keepalive.h). */
#include "xmpp_keepalive.h"

#include <string.h>

void xmpp_ka_start(struct xmpp_ka *k, uint64_t interval_ms, uint64_t now_ms)
{
	memset(k, 0, sizeof(*k));
	k->interval_ms = interval_ms;
	k->ping_ms = now_ms + interval_ms;
}

void xmpp_ka_stop(struct xmpp_ka *k)
{
	uint64_t interval = k->interval_ms;

	memset(k, 0, sizeof(*k));
	k->interval_ms = interval;
}

void xmpp_ka_sent(struct xmpp_ka *k)
{
	k->outstanding = true;
	k->rx_since = false;
}

void xmpp_ka_answered(struct xmpp_ka *k)
{
	k->outstanding = false;
}

void xmpp_ka_rx(struct xmpp_ka *k)
{
	k->rx_since = true;
}

void xmpp_ka_probe(struct xmpp_ka *k, uint64_t now_ms)
{
	if (k->ping_ms)
		k->probe_ms = now_ms + XMPP_KA_PROBE_MS;
}

void xmpp_ka_services_at(struct xmpp_ka *k, uint64_t at_ms)
{
	if (k->ping_ms)
		k->services_ms = at_ms ? at_ms : 1;
}

static enum xka_action ping_timer(struct xmpp_ka *k, uint64_t now_ms)
{
	if (k->outstanding && !k->rx_since) {
		xmpp_ka_stop(k); /* the caller ends the session */
		return XKA_RECONNECT;
	}
	k->ping_ms = now_ms + k->interval_ms;
	if (k->outstanding) {
		k->rx_since = false;
		return XKA_SLOW;
	}
	return XKA_PING;
}

enum xka_action xmpp_ka_poll(struct xmpp_ka *k, uint64_t now_ms)
{
	if (!k->ping_ms)
		return XKA_NONE;
	if (k->probe_ms && now_ms >= k->probe_ms) {
		k->probe_ms = 0;
		if (k->outstanding) {
			xmpp_ka_stop(k);
			return XKA_PROBE_FAILED;
		}
	}
	if (now_ms >= k->ping_ms)
		return ping_timer(k, now_ms);
	if (k->services_ms && now_ms >= k->services_ms) {
		k->services_ms = 0;
		return XKA_SERVICES;
	}
	return XKA_NONE;
}

uint64_t xmpp_ka_deadline(const struct xmpp_ka *k)
{
	if (!k->ping_ms)
		return UINT64_MAX;
	uint64_t d = k->ping_ms;

	if (k->probe_ms && k->probe_ms < d)
		d = k->probe_ms;
	if (k->services_ms && k->services_ms < d)
		d = k->services_ms;
	return d;
}
