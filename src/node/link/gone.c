/* An offline peer's link (gone.h).
 *
 * The old rule ended a link 5 s after the peer's "unavailable" presence
 * unless our own XMPP session dropped meanwhile. With a cluster of XMPP
 * servers that is wrong: when the peer's server goes away cleanly, its
 * contacts hear "unavailable" while the tunnel between the two nodes works
 * as before, and the peer is back through another member a second later.
 * So presence now only starts a watch: a link that is up lives on as long
 * as its data path answers (ICE consent checks every ~5 s, tunnel
 * packets), and ends GONE_SILENT_MS after the last answer while the peer
 * is offline. A link that is not up has no data path to trust: it ends
 * LINKS_GONE_GRACE_MS after the presence, as before. */
#include "gone.h"

#include "ice_agent.h"
#include "link.h"
#include "links.h"
#include "log.h"

static uint64_t max64(uint64_t a, uint64_t b)
{
	return a > b ? a : b;
}

uint64_t gone_heard_ms(const struct link *l)
{
	uint64_t t = max64(l->path_rx_ms, l->sess.last_rx_ms);
	int sel = l->ice_on ? ice_agent_selected(&l->ice) : -1;

	if (sel >= 0)
		t = max64(t, l->ice.cl.pairs[sel].last_rx_ms);
	return t;
}

static bool path_alive(const struct link *l, uint64_t now_ms)
{
	return l->state == LINK_UP && now_ms < gone_heard_ms(l) + GONE_SILENT_MS;
}

void gone_offline(struct link *l, uint64_t now_ms)
{
	if (l->offline_ms)
		return;
	l->offline_ms = now_ms ? now_ms : 1;
	l->deadline_ms = now_ms;
	if (path_alive(l, now_ms))
		log_info("peer %s: offline in XMPP; the link stays while its data path works", l->jid);
}

bool gone_online(struct link *l, uint64_t now_ms)
{
	if (!l->offline_ms)
		return false;
	uint64_t away = now_ms - l->offline_ms;
	l->offline_ms = 0;
	if (path_alive(l, now_ms)) {
		log_info("peer %s: back online after %llu ms; its data path kept working, link kept", l->jid,
			 (unsigned long long)away);
		return false;
	}
	return true;
}

void gone_xmpp_lost(struct link *l)
{
	if (!l->offline_ms)
		return;
	log_info("peer %s: offline presence came with an XMPP outage; link kept", l->jid);
	l->offline_ms = 0;
}

void gone_tick(struct link *l, uint64_t now_ms, uint64_t *deadline)
{
	if (!l->offline_ms)
		return;
	bool up = l->state == LINK_UP;
	uint64_t at = up ? gone_heard_ms(l) + GONE_SILENT_MS : l->offline_ms + LINKS_GONE_GRACE_MS;

	if (now_ms < at) {
		if (at < *deadline)
			*deadline = at;
		return;
	}
	if (up)
		log_info("peer %s: offline, and nothing heard on the data path for %llu ms; link ends", l->jid,
			 (unsigned long long)(now_ms - gone_heard_ms(l)));
	else
		log_info("peer %s: offline, and the link is %s; link ends", l->jid, link_state_name(l->state));
	l->offline_ms = 0;
	link_queue_event(l, LINK_EV_GONE);
}
