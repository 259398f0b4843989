/* Roaming and recovery (see roam.h).
 *
 * Three things move a link's path, and each is handled where it is seen:
 *  - The node's interface addresses change: netmon.c notices (rtnetlink),
 *    gathers the host candidates again and calls roam_local_changed().
 *  - The node's NAT mapping or public address changes: the periodic STUN
 *    refresh in gather.c sees a new server-reflexive address and calls
 *    roam_local_changed(). A mapping that changed only towards one peer
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
 * naming its ICE session (peer_ice_restart in peer.c). */
#include <string.h>

#include "addr.h"
#include "log.h"
#include "node.h"
#include "roam.h"

static bool is_host_base(const struct node *n, uint32_t base_id)
{
	return base_id < n->nhosts;
}

/* An address the current ICE session was told about: packets from it are
 * ICE's business (a path it checks or used), not a move. Peer-reflexive
 * candidates are learned from checks and do not count. */
static bool signalled_remote(const struct peer *p, const struct sockaddr_in *from)
{
	if (!p->ice_on)
		return false;
	for (unsigned i = 0; i < p->ice.nremote; i++) {
		const struct ice_cand *c = &p->ice.remote[i];
		if (c->type != ICE_CAND_PRFLX && addr_equal((const struct sockaddr *)&c->addr, (const struct sockaddr *)from))
			return true;
	}
	return false;
}

void roam_rx(struct peer *p, uint32_t base_id, const struct sockaddr_in *from, uint64_t now_ms)
{
	struct node *n = p->node;
	char a[ADDR_STRLEN], b[ADDR_STRLEN];

	if (!p->have_path)
		return;
	if (p->base_id == base_id && addr_equal((const struct sockaddr *)&p->endpoint, (const struct sockaddr *)from)) {
		p->path_rx_ms = now_ms;
		return;
	}
	if (p->state != PEER_UP)
		return; /* link setup: ICE and the handshake are still choosing */
	if (!is_host_base(n, base_id) || !is_host_base(n, p->base_id))
		return; /* relayed paths are managed by ICE and the TURN client */
	/* Between two addresses the current ICE session knows, ICE decides
	 * (packets still in flight on the path it just left); an endpoint the
	 * session does not know is stale (set up before an ICE restart). */
	if (now_ms - p->path_rx_ms < ROAM_QUIET_MS || (signalled_remote(p, from) && signalled_remote(p, &p->endpoint)))
		return;
	log_info("peer %s: packets now come from %s (was %s, silent for %llu ms): following the peer", p->jid,
		 addr_format((const struct sockaddr *)from, true, a),
		 addr_format((const struct sockaddr *)&p->endpoint, true, b),
		 (unsigned long long)(now_ms - p->path_rx_ms));
	p->endpoint = *from;
	p->base_id = base_id;
	p->path_rx_ms = now_ms;
	peer_flush_staged(p, now_ms);
	roam_restart(p, now_ms, "the peer's address moved", false);
}

/* The controlled side asks with a hello naming its ICE session
 * (peer_ice_restart); remember it, to ask again if no offer comes. */
static void note_request(struct peer *p, uint64_t now_ms)
{
	if (p->controlling || p->state != PEER_UP)
		return;
	p->restart_asked = true;
	p->restart_ask_ms = now_ms;
	snprintf(p->restart_ask_ufrag, sizeof(p->restart_ask_ufrag), "%s", p->rufrag);
}

void roam_restart(struct peer *p, uint64_t now_ms, const char *why, bool force)
{
	if (!force && p->roam_restart_ms && now_ms - p->roam_restart_ms < ROAM_RESTART_MIN_MS)
		return;
	if (!p->have_info && p->state == PEER_NEW)
		return; /* no link yet: the setup under way uses the new candidates */
	p->roam_restart_ms = now_ms;
	p->fail_backoff_ms = 0;
	peer_ice_restart(p, now_ms, why);
	note_request(p, now_ms);
}

void roam_tick(struct peer *p, uint64_t now_ms)
{
	struct node *n = p->node;

	if (p->tx_packets != p->tx_seen) {
		p->tx_seen = p->tx_packets;
		p->tx_active_ms = now_ms;
	}
	if (p->state == PEER_UP && p->have_path && p->path_rx_ms && now_ms - p->tx_active_ms <= 1500 &&
	    now_ms - p->path_rx_ms >= ROAM_SILENT_MS && now_ms - p->silent_check_ms >= ROAM_SILENT_CHECK_MS) {
		p->silent_check_ms = now_ms;
		log_info("peer %s: sending, but nothing received for %llu ms; checking our public address", p->jid,
			 (unsigned long long)(now_ms - p->path_rx_ms));
		gather_stun_refresh(n, now_ms);
	}
	if (p->restart_asked) {
		if (p->controlling || p->state != PEER_UP || strcmp(p->rufrag, p->restart_ask_ufrag) != 0) {
			p->restart_asked = false; /* an offer came (or the link went): done */
		} else if (now_ms - p->restart_ask_ms >= ROAM_ASK_RETRY_MS) {
			peer_ice_restart(p, now_ms, "no offer after the last request; asking again");
			note_request(p, now_ms);
		}
	}
}

void roam_xmpp_online(struct node *n, uint64_t now_ms)
{
	for (unsigned i = 0; i < n->npeers; i++) {
		struct peer *p = n->peers[i];
		/* An offer (restart or not) or a restart request in flight when
		 * the old connection died is most likely lost. */
		if ((p->controlling && (p->ice_restarting || p->state == PEER_OFFERED)) || p->restart_asked) {
			peer_ice_restart(p, now_ms, "XMPP is back; the last restart message may be lost");
			note_request(p, now_ms);
		}
	}
}

/* The new index of the host address a link sent from, or 0. */
static uint32_t remap_base(const struct node *n, const struct sockaddr_in *old_hosts, unsigned old_n, uint32_t base)
{
	if (base >= old_n)
		return base;
	for (unsigned i = 0; i < n->nhosts; i++)
		if (n->hosts[i].addr.sin_addr.s_addr == old_hosts[base].sin_addr.s_addr)
			return i;
	return 0;
}

void roam_local_changed(struct node *n, const struct sockaddr_in *old_hosts, unsigned old_n, uint64_t now_ms,
			const char *why)
{
	log_info("roam: %s; restarting ICE on %u link(s)", why, n->npeers);
	/* The XMPP connection went out through the old address too. */
	atomic_store(&n->xmpp_probe, true);
	for (unsigned i = 0; i < n->npeers; i++) {
		struct peer *p = n->peers[i];
		if (old_hosts && p->have_path)
			p->base_id = remap_base(n, old_hosts, old_n, p->base_id);
		/* The path may be dead now; let the peer's next packet
		 * (from whatever address it uses) be followed at once. */
		p->path_rx_ms = 0;
		roam_restart(p, now_ms, why, true);
	}
}
