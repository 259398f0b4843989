/* ipopd's answers to the control socket (ctl_proto.h): copies of the
 * daemon's state, filled on the data thread, which also owns that state,
 * so nothing needs a lock. */
#include <errno.h>
#include <string.h>
#include <time.h>

#include "ctl_proto.h"
#include "ctl_server.h"
#include "node.h"
#include "path.h"

int node_ctl_status(void *ctx, struct ctl_node_status *st);
int node_ctl_peers(void *ctx, struct ctl_peer_status *arr, unsigned max);
int node_ctl_friends(void *ctx, struct ctl_friend_status *arr, unsigned max);
int node_ctl_friend_cmd(void *ctx, enum ctl_friend_cmd cmd, const char *jid, char *err, size_t errlen);

int node_ctl_status(void *ctx, struct ctl_node_status *st)
{
	struct node *n = ctx;
	const struct node_conf *c = n->conf;

	snprintf(st->jid, sizeof(st->jid), "%.400s/%s", c->xmpp_username, n->resource);
	snprintf(st->node_id, sizeof(st->node_id), "%s", n->idhex);
	snprintf(st->interface, sizeof(st->interface), "%s", n->tun.name);
	st->ip4 = c->ip4;
	st->ip4_mask = c->ip4_mask;
	st->mtu = c->mtu;
	st->social = c->mode == NODE_MODE_SOCIAL;
	int xs = atomic_load(&n->xmpp_state);
	st->xmpp = xs == XMPP_SIG_ONLINE ? CTL_XMPP_ONLINE : xs == XMPP_SIG_CONNECTING ? CTL_XMPP_CONNECTING
										   : CTL_XMPP_OFFLINE;
	if (n->have_srflx)
		memcpy(&st->public_addr, &n->srflx, sizeof(n->srflx));
	struct sockaddr_in rel, mapped, srv;
	uint32_t base;
	if (relay_candidate(n, &rel, &mapped, &base) && relay_server(n, &srv)) {
		memcpy(&st->relay_addr, &rel, sizeof(rel));
		memcpy(&st->relay_server, &srv, sizeof(srv));
		snprintf(st->relay_transport, sizeof(st->relay_transport), "%s", relay_transport_name(n));
	}
	for (unsigned i = 0; i < n->npeers; i++)
		st->peers_up += n->peers[i]->state == PEER_UP;
	st->peers_total = n->npeers;
	st->uptime_s = (node_now_ms() - n->start_ms) / 1000;
	st->drop_no_route = n->cnt.no_route;
	st->drop_bad_source = n->cnt.cryptokey_drop;
	st->drop_untranslatable = n->cnt.xlate_drop;
	return 0;
}

static enum ctl_peer_state map_state(enum peer_state s)
{
	switch (s) {
	case PEER_NEW:
	case PEER_OFFERED:
		return CTL_PEER_CONNECTING;
	case PEER_CHECKING:
		return CTL_PEER_CHECKING;
	case PEER_HANDSHAKE:
		return CTL_PEER_HANDSHAKE;
	case PEER_UP:
		return CTL_PEER_UP;
	case PEER_FAILED:
		break;
	}
	return CTL_PEER_DOWN;
}

static void fill_peer(const struct peer *p, struct ctl_peer_status *o)
{
	snprintf(o->jid, sizeof(o->jid), "%.*s", (int)sizeof(o->jid) - 1, p->jid);
	snprintf(o->node_id, sizeof(o->node_id), "%s", p->idhex);
	o->ip4 = p->node->social ? p->map4 : p->ip4;
	o->state = map_state(p->state);
	if (p->have_path) {
		bool relay = peer_path_relayed(p);
		struct sockaddr_in srv;
		o->path = relay ? CTL_PATH_RELAY : CTL_PATH_DIRECT;
		memcpy(&o->endpoint, &p->endpoint, sizeof(p->endpoint));
		/* our TURN server when we send through it, else the peer's relayed address */
		if (p->base_id >= RELAY_BASE && relay_server(p->node, &srv))
			memcpy(&o->relay, &srv, sizeof(srv));
		else if (relay)
			memcpy(&o->relay, &p->endpoint, sizeof(p->endpoint));
		if (p->sel_known) {
			o->local_type = (enum ctl_cand_type)(p->sel_local.type + 1);
			o->remote_type = (enum ctl_cand_type)(p->sel_remote.type + 1);
		}
	}
	if (p->ice_on) {
		struct ice_pair_info pi;
		int sel = ice_agent_selected(&p->ice);
		if (sel >= 0 && ice_agent_pair_info(&p->ice, (unsigned)sel, &pi) == 0 && pi.rtt_ms) {
			o->has_rtt = true;
			o->rtt_us = pi.rtt_ms * 1000;
		}
	}
	o->rx_bytes = p->rx_bytes;
	o->tx_bytes = p->tx_bytes;
	o->rx_packets = p->rx_packets;
	o->tx_packets = p->tx_packets;
	o->last_handshake = (int64_t)p->last_handshake_wall_s;
	path_why_not_direct(p, o->why_not_direct, sizeof(o->why_not_direct));
}

int node_ctl_peers(void *ctx, struct ctl_peer_status *arr, unsigned max)
{
	struct node *n = ctx;

	for (unsigned i = 0; i < n->npeers && i < max; i++)
		fill_peer(n->peers[i], &arr[i]);
	return (int)n->npeers;
}

/* The most advanced link among the friend's nodes. */
static void friend_link(const struct node *n, const char *bare, struct ctl_friend_status *o)
{
	char b[XMPP_JID_MAX];
	const struct peer *best = NULL;
	for (unsigned i = 0; i < n->npeers; i++) {
		const struct peer *p = n->peers[i];
		if (!jid_split(p->jid, b, sizeof(b), NULL) || strcmp(b, bare) != 0)
			continue;
		if (!best || map_state(p->state) > map_state(best->state))
			best = p;
	}
	if (!best)
		return;
	struct ctl_peer_status ps;
	memset(&ps, 0, sizeof(ps));
	fill_peer(best, &ps);
	o->online = true;
	o->state = ps.state;
	o->path = ps.path;
	o->endpoint = ps.endpoint;
}

int node_ctl_friends(void *ctx, struct ctl_friend_status *arr, unsigned max)
{
	struct node *n = ctx;
	const struct friends *fl = &n->friends;

	for (size_t i = 0; i < fl->n && i < max; i++) {
		const struct node_friend *f = &fl->f[i];
		struct ctl_friend_status *o = &arr[i];
		snprintf(o->jid, sizeof(o->jid), "%.*s", (int)sizeof(o->jid) - 1, f->bare);
		snprintf(o->subscription, sizeof(o->subscription), "%s", friends_sub_name(f->sub));
		o->asked = f->ask;
		o->request = f->request;
		if (n->social) {
			const struct social_map_entry *e = social_map_find(&n->smap, f->bare);
			if (e)
				o->ip4 = e->ip4;
		}
		friend_link(n, f->bare, o);
	}
	return (int)fl->n;
}

int node_ctl_friend_cmd(void *ctx, enum ctl_friend_cmd cmd, const char *jid, char *err, size_t errlen)
{
	struct node *n = ctx;
	char bare[XMPP_JID_MAX];
	static const enum xmpp_friend_cmd map[] = { XMPP_FRIEND_ADD, XMPP_FRIEND_ACCEPT, XMPP_FRIEND_REMOVE };

	if (strchr(jid, '/') || !jid_split(jid, bare, sizeof(bare), NULL) || bare[0] == '@' ||
	    strchr(bare, '@')[1] == '\0') {
		snprintf(err, errlen, "friend: \"%.200s\" is not a bare JID (user@domain)", jid);
		return -EINVAL;
	}
	if (strcmp(bare, n->conf->xmpp_username) == 0) {
		snprintf(err, errlen, "friend: that is this node's own account");
		return -EINVAL;
	}
	if (atomic_load(&n->xmpp_state) != XMPP_SIG_ONLINE) {
		snprintf(err, errlen, "friend: XMPP is not connected; try again later");
		return -ENOTCONN;
	}
	node_friend_cmd(n, map[cmd], bare);
	return 0;
}
