/* Roaming and recovery (see roam.h).
 *
 * Three things move a link's path, and each is handled where it is seen:
 *  - The node's interface addresses change: the netmon base notices
 *    (rtnetlink), gathers the host candidates again and the daemon calls
 *    links_local_moved(), which restarts ICE on every link.
 *  - The node's NAT mapping or public address changes: the periodic STUN
 *    refresh of the gathering base sees a new server-reflexive address,
 *    with the same effect. A mapping that changed only towards one peer
 *    (conntrack flushed, the old port taken) is seen by the peer instead:
 *  - The peer's authenticated packets arrive from an unknown address:
 *    roam_rx() follows them at once (as WireGuard does), so data flows
 *    again within a round trip, and asks for an ICE restart, so that ICE
 *    consent checks the new path instead of failing the old one 30 s later.
 *
 * An ICE restart keeps the link up: the session keys and the current path
 * stay until the new ICE session selects a pair, so TCP connections inside
 * the VPN see at most the packets lost while the path was broken. Only the
 * controlling side offers; the controlled side asks it to with a hello
 * naming its ICE session (link_ice_restart in link.c). */
#include <stdio.h>
#include <string.h>

#include "addr.h"
#include "link.h"
#include "links.h"
#include "log.h"
#include "roam.h"

static bool is_host_base(const struct link *l, uint32_t base_id)
{
	return base_id < l->tab->env.nhosts;
}

/* An address the current ICE session was told about: packets from it are
 * ICE's business (a path it checks or used), not a move. Peer-reflexive
 * candidates are learned from checks and do not count. */
static bool signalled_remote(const struct link *l, const struct sockaddr_in *from)
{
	if (!l->ice_on)
		return false;
	for (unsigned i = 0; i < l->ice.nremote; i++) {
		const struct ice_cand *c = &l->ice.remote[i];
		if (c->type != ICE_CAND_PRFLX && addr_equal((const struct sockaddr *)&c->addr, (const struct sockaddr *)from))
			return true;
	}
	return false;
}

void roam_rx(struct link *l, uint32_t base_id, const struct sockaddr_in *from, uint64_t now_ms)
{
	char a[ADDR_STRLEN], b[ADDR_STRLEN];

	if (!l->have_path)
		return;
	if (l->base_id == base_id && addr_equal((const struct sockaddr *)&l->endpoint, (const struct sockaddr *)from)) {
		l->path_rx_ms = now_ms;
		return;
	}
	if (l->state != LINK_UP)
		return; /* link setup: ICE and the handshake are still choosing */
	if (!is_host_base(l, base_id) || !is_host_base(l, l->base_id))
		return; /* relayed paths are managed by ICE and the TURN client */
	/* Between two addresses the current ICE session knows, ICE decides
	 * (packets still in flight on the path it just left); an endpoint the
	 * session does not know is stale (set up before an ICE restart). */
	if (now_ms - l->path_rx_ms < ROAM_QUIET_MS || (signalled_remote(l, from) && signalled_remote(l, &l->endpoint)))
		return;
	log_info("peer %s: packets now come from %s (was %s, silent for %llu ms): following the peer", l->jid,
		 addr_format((const struct sockaddr *)from, true, a),
		 addr_format((const struct sockaddr *)&l->endpoint, true, b),
		 (unsigned long long)(now_ms - l->path_rx_ms));
	l->endpoint = *from;
	l->base_id = base_id;
	l->path_rx_ms = now_ms;
	link_queue_event(l, LINK_EV_PATH);
	links_mark_dirty(l->tab, l); /* staged packets follow the peer */
	roam_restart(l, now_ms, "the peer's address moved", false);
}

/* The controlled side asks with a hello naming its ICE session
 * (link_ice_restart); remember it, to ask again if no offer comes. */
static void note_request(struct link *l, uint64_t now_ms)
{
	if (l->controlling || l->state != LINK_UP)
		return;
	l->restart_asked = true;
	l->restart_ask_ms = now_ms;
	snprintf(l->restart_ask_ufrag, sizeof(l->restart_ask_ufrag), "%s", l->rufrag);
}

void roam_restart(struct link *l, uint64_t now_ms, const char *why, bool force)
{
	if (!force && l->roam_restart_ms && now_ms - l->roam_restart_ms < ROAM_RESTART_MIN_MS)
		return;
	if (!l->have_info && l->state == LINK_NEW)
		return; /* no link yet: the setup under way uses the new candidates */
	l->roam_restart_ms = now_ms;
	l->fail_backoff_ms = 0;
	link_ice_restart(l, now_ms, why);
	note_request(l, now_ms);
}

void roam_tick(struct link *l, uint64_t now_ms)
{
	if (l->tx_packets != l->tx_seen) {
		l->tx_seen = l->tx_packets;
		l->tx_active_ms = now_ms;
	}
	if (l->state == LINK_UP && l->have_path && l->path_rx_ms && now_ms - l->tx_active_ms <= 1500 &&
	    now_ms - l->path_rx_ms >= ROAM_SILENT_MS && now_ms - l->silent_check_ms >= ROAM_SILENT_CHECK_MS) {
		l->silent_check_ms = now_ms;
		log_info("peer %s: sending, but nothing received for %llu ms; checking our public address", l->jid,
			 (unsigned long long)(now_ms - l->path_rx_ms));
		link_queue_event(l, LINK_EV_CHECK_PUBLIC);
	}
	if (l->restart_asked) {
		if (l->controlling || l->state != LINK_UP || strcmp(l->rufrag, l->restart_ask_ufrag) != 0) {
			l->restart_asked = false; /* an offer came (or the link went): done */
		} else if (now_ms - l->restart_ask_ms >= ROAM_ASK_RETRY_MS) {
			link_ice_restart(l, now_ms, "no offer after the last request; asking again");
			note_request(l, now_ms);
		}
	}
}

void roam_xmpp_online(struct link *l, uint64_t now_ms)
{
	if ((l->controlling && (l->ice_restarting || l->state == LINK_OFFERED)) || l->restart_asked) {
		link_ice_restart(l, now_ms, "XMPP is back; the last restart message may be lost");
		note_request(l, now_ms);
	}
}

void roam_local_moved(struct link *l, uint32_t new_base, uint64_t now_ms, const char *why)
{
	if (l->have_path)
		l->base_id = new_base;
	/* The path may be dead now; let the peer's next packet (from whatever
	 * address it uses) be followed at once. */
	l->path_rx_ms = 0;
	roam_restart(l, now_ms, why, true);
}
