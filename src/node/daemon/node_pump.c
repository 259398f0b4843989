/* The daemon's wiring between the link core and everything with I/O:
 *  - node_pump drains every link that has output: datagrams leave through
 *    the bases (the socket or the relay), signalling messages go to the
 *    signalling thread, and events install routes (the prefix table, and
 *    kernel routes for subnets behind peers), ask the relay for
 *    channels, the gathering base for a STUN check, or end a link;
 *  - the bases' reports (candidates changed, addresses moved, the relay
 *    lost or back, a relayed datagram) go to the link table or the data
 *    path. */
#include <arpa/inet.h>
#include <errno.h>
#include <string.h>

#include "log.h"
#include "node.h"

/* Social mode routes the address the friend has in our space (fixed when
 * the link was made); group mode the addresses and routes the peer
 * announced (node_routes.c). */
static void route(struct node *n, struct link *l)
{
	char ip[INET_ADDRSTRLEN];
	struct ip_prefix p;

	if (!n->social_on) {
		node_routes_peer(n, l);
		return;
	}
	social_link_own_addr(l, l->ip4.s_addr);
	if (l->routed)
		return;
	ip_prefix_from_addr(&p, AF_INET, &l->map4);
	int rc = prefix_table_insert(&n->dp.pt, &p, l);
	l->routed = rc == 0;
	l->route4 = l->map4;
	if (rc == -EEXIST)
		log_warn("peer %s: %s already carries another node of this friend; not routed", l->jid,
			 inet_ntop(AF_INET, &l->map4, ip, sizeof(ip)));
}

/* Social mode: the link that carried a friend's address is gone; another
 * node of the same friend that knows its keys takes the route. */
static void route_takeover(struct node *n, struct in_addr map4)
{
	struct ip_prefix p;

	ip_prefix_from_addr(&p, AF_INET, &map4);
	for (unsigned i = 0; i < n->links.n; i++) {
		struct link *l = n->links.l[i];
		if (l->routed || !l->have_info || l->map4.s_addr != map4.s_addr)
			continue;
		l->routed = prefix_table_insert(&n->dp.pt, &p, l) == 0;
		l->route4 = map4;
		if (l->routed) {
			log_info("peer %s: now carries this friend's address", l->jid);
			return;
		}
	}
}

void node_remove_link(struct node *n, struct link *l, const char *why)
{
	bool routed = l->routed;
	struct in_addr addr = l->route4;

	log_info("peer %s: link removed (%s)", l->jid, why);
	node_overlay_link_removed(n, l, evloop_now_ms());
	node_metrics_fold(n, l); /* its traffic stays in the node's totals */
	if (n->bases.pool.owner == l)
		portpool_close(&n->bases);
	if (!n->social_on) {
		node_routes_drop(n, l);
		links_remove(&n->links, l);
		return;
	}
	prefix_table_remove_owner(&n->dp.pt, l);
	social_link_detach(l);
	links_remove(&n->links, l);
	if (routed)
		route_takeover(n, addr);
}

/* Channels on the relay for every address a link may send to. */
static void sync_relay(struct node *n, uint64_t now_ms)
{
	enum { MAX = 512 };
	struct sockaddr_in a[MAX];
	/* reflexive and relayed addresses first: the relay's table is small,
	 * and a remote host address is rarely reachable from the relay */
	unsigned k = links_remote_addrs(&n->links, false, a, MAX);
	k += links_remote_addrs(&n->links, true, a + k, MAX - k);
	bases_relay_sync(&n->bases, a, k, now_ms);
}

/* Multi-port probing (link/hardnat.c): the port pool follows what the
 * link wants; one link holds it at a time. */
static void pool_sync(struct node *n, struct link *l, uint64_t now_ms)
{
	struct bases *b = &n->bases;
	uint32_t keep = hardnat_pool_keep(l);
	unsigned want = hardnat_pool_want(l);

	if (b->pool.owner && b->pool.owner != l) {
		if (want && l->hn.phase == HARDNAT_POOL)
			link_pool_granted(l, 0, now_ms); /* busy: this link stays relayed */
		return;
	}
	if (keep != LINK_BASE_ANY) {
		if (b->pool.owner == l) {
			portpool_keep(b, keep);
			link_pool_kept(l, keep, b->pool.port[keep - LINK_POOL_BASE], now_ms);
		}
		return;
	}
	if (want && l->hn.phase == HARDNAT_POOL) {
		int err = 0;
		int k = portpool_open(b, l, want, &err);
		if (k <= 0)
			log_warn("peer %s: no sockets for multi-port probing: %s", l->jid,
				 strerror(k < 0 ? -k : -err));
		link_pool_granted(l, k > 0 ? (unsigned)k : 0, now_ms);
		return;
	}
	if (!want && b->pool.owner == l)
		portpool_close(b);
}

/* Handles one event; false when the link is gone. */
static bool on_event(struct node *n, struct link *l, const struct link_event *ev, const struct signal_msg *msg,
		     uint64_t now_ms)
{
	switch (ev->type) {
	case LINK_EV_SIGNAL:
		node_signal_send(n, l->jid, msg);
		break;
	case LINK_EV_PEER_INFO:
		route(n, l);
		break;
	case LINK_EV_REMOTES:
		sync_relay(n, now_ms);
		break;
	case LINK_EV_CHECK_PUBLIC:
		gather_stun_refresh(&n->bases, now_ms);
		break;
	case LINK_EV_GONE:
		node_remove_link(n, l, l->gone_why ? l->gone_why : "peer went offline");
		return false;
	case LINK_EV_POOL:
		pool_sync(n, l, now_ms);
		break;
	case LINK_EV_STATE:
		if (ev->to == LINK_UP) /* a handshake proved its key: its address is its own now */
			trust_link_up(&n->trust, l, node_trust_now_s());
		node_overlay_link_changed(n, l, now_ms); /* the overlay counts links up and down */
		break;
	case LINK_EV_PATH:
		node_overlay_link_changed(n, l, now_ms);
		break;
	}
	return true;
}

/* A packet the link core wants sent: on a base, or through the overlay. */
static void pump_send(struct node *n, struct link *l, const struct link_tx *tx, uint64_t now_ms)
{
	if (tx->base_id == LINK_BASE_OVERLAY)
		dp_overlay_send(&n->dp, l, tx->data, tx->len, now_ms);
	else
		bases_send_opt(&n->bases, tx->base_id, &tx->dst, tx->data, tx->len, tx->ttl, tx->df);
}

static void pump_link(struct node *n, struct link *l, uint64_t now_ms)
{
	struct link_tx tx;
	struct link_event ev;
	struct signal_msg msg;

	while (link_poll_transmit(l, &tx, n->scratch, n->scratch_cap, now_ms))
		pump_send(n, l, &tx, now_ms);
	/* probes are timed: each with the time it leaves */
	while (link_poll_probe(l, &tx, n->scratch, n->scratch_cap, evloop_now_us()))
		pump_send(n, l, &tx, now_ms);
	while (link_poll_event(l, &ev, &msg))
		if (!on_event(n, l, &ev, &msg, now_ms))
			return;
	node_metrics_fold(n, l); /* the path may have moved */
}

void node_pump(struct node *n, uint64_t now_ms)
{
	struct link *l;

	/* one DF switch for the links' checks of this round, not two per
	 * datagram (bases_tx_begin) */
	bases_tx_begin(&n->bases);
	while ((l = links_next_dirty(&n->links)))
		pump_link(n, l, now_ms);
	bases_tx_end(&n->bases);
}

/* --- the bases' reports --- */

static void local_cands(struct node *n, bool trickle, uint64_t now_ms)
{
	struct ice_cand c[ICE_MAX_LOCAL];
	unsigned k = bases_local_cands(&n->bases, c, ICE_MAX_LOCAL);

	n->links.env.nat = n->bases.nat == BASES_NAT_HARD   ? SIGNAL_NAT_HARD
			   : n->bases.nat == BASES_NAT_EASY ? SIGNAL_NAT_EASY
							    : SIGNAL_NAT_UNKNOWN;
	links_set_local(&n->links, c, k, n->bases.nhosts, trickle, now_ms);
}

static void on_cands_changed(void *ctx, uint64_t now_ms)
{
	local_cands(ctx, true, now_ms);
}

static void on_moved(void *ctx, const uint32_t *remap, unsigned nremap, const char *why, uint64_t now_ms)
{
	struct node *n = ctx;

	local_cands(n, false, now_ms);
	/* The XMPP connection went out through the old address too. */
	xmpp_thread_post(&n->sig, sigmsg_new(SIGMSG_PROBE, NULL, NULL, 0));
	links_local_moved(&n->links, remap, nremap, now_ms, why);
}

static void on_relay_lost(void *ctx, uint32_t base_id, uint64_t now_ms)
{
	struct node *n = ctx;

	local_cands(n, false, now_ms);
	links_base_failed(&n->links, base_id, now_ms);
}

static void on_relay_settled(void *ctx, uint64_t now_ms)
{
	struct node *n = ctx;

	local_cands(n, false, now_ms);
	links_relay_settled(&n->links, now_ms);
}

static void on_relay_sync(void *ctx, uint64_t now_ms)
{
	sync_relay(ctx, now_ms);
}

static void on_relayed(void *ctx, uint32_t base_id, const struct sockaddr_in *from, uint8_t *buf, size_t len,
		       size_t cap, uint64_t now_ms)
{
	struct node *n = ctx;

	dp_receive_relayed(&n->dp, base_id, from, buf, len, cap, now_ms);
}

static void on_nat_kind(void *ctx, uint64_t now_ms)
{
	local_cands(ctx, true, now_ms);
}

const struct bases_ops node_bases_ops = {
	.pool_rx = on_relayed, /* a datagram on a pool socket: the same way in */
	.nat_kind = on_nat_kind,
	.cands_changed = on_cands_changed,
	.moved = on_moved,
	.relay_lost = on_relay_lost,
	.relay_settled = on_relay_settled,
	.relay_sync = on_relay_sync,
	.relayed = on_relayed,
};
