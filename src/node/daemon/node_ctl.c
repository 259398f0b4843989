/* ipopd's answers to the control socket (ctl_proto.h): copies of the
 * daemon's state, filled on the data thread, which also owns that state,
 * so nothing needs a lock. */
#include <arpa/inet.h>
#include <errno.h>
#include <sodium.h>
#include <sys/epoll.h>
#include <string.h>
#include <time.h>

#include "ctl_proto.h"
#include "ctl_server.h"
#include "log.h"
#include "node.h"
#include "path.h"

_Static_assert((int)CTL_MAX_ROUTES >= (int)SIGNAL_MAX_ROUTES && (int)CTL_MAX_ROUTES >= (int)NODE_CONF_MAX_ROUTES,
	       "ipopctl shows every route");
_Static_assert((int)CTL_ROUTE_WHY_LEN >= (int)LINK_NET_WHY_LEN, "a refusal's reason fits");

void node_ctl_fill_status(struct node *n, struct ctl_node_status *st)
{
	const struct node_conf *c = n->conf;

	snprintf(st->jid, sizeof(st->jid), "%.400s/%s", c->xmpp_username, n->resource);
	snprintf(st->node_id, sizeof(st->node_id), "%s", n->idhex);
	snprintf(st->interface, sizeof(st->interface), "%s", n->dp.tun.name);
	st->ip4 = c->ip4;
	st->ip4_mask = c->ip4_mask;
	st->has_ip6 = c->has_ip6;
	st->ip6 = c->ip6;
	st->ip6_mask = c->ip6_mask;
	st->n_routes = c->n_routes;
	memcpy(st->routes, c->routes, c->n_routes * sizeof(c->routes[0]));
	st->mtu = c->mtu;
	st->social = c->mode == NODE_MODE_SOCIAL;
	int xs = atomic_load(&n->sig.state);
	st->xmpp = xs == XMPP_SIG_ONLINE ? CTL_XMPP_ONLINE : xs == XMPP_SIG_CONNECTING ? CTL_XMPP_CONNECTING
										   : CTL_XMPP_OFFLINE;
	if (n->bases.have_srflx)
		memcpy(&st->public_addr, &n->bases.srflx, sizeof(n->bases.srflx));
	struct sockaddr_in rel, mapped, srv;
	uint32_t base;
	if (relay_candidate(&n->bases, &rel, &mapped, &base) && relay_server(&n->bases, &srv)) {
		memcpy(&st->relay_addr, &rel, sizeof(rel));
		memcpy(&st->relay_server, &srv, sizeof(srv));
		snprintf(st->relay_transport, sizeof(st->relay_transport), "%s", relay_transport_name(&n->bases));
	}
	for (unsigned i = 0; i < n->links.n; i++) {
		const struct link *l = n->links.l[i];
		if (!node_link_listed(l))
			continue;
		st->peers_up += l->state == LINK_UP;
		st->peers_total++;
	}
	st->uptime_s = (evloop_now_ms() - n->start_ms) / 1000;
	st->drop_no_route = n->dp.cnt.no_route;
	st->drop_bad_source = n->dp.cnt.cryptokey_drop;
	st->drop_untranslatable = n->social_on ? n->social.xlate_drop : 0;
	pins_key_b64(n->kp.pub, st->key);
	st->refused_signals = n->cnt.sig_refused;
	st->refused_links = n->cnt.slots_refused;
	st->under_load = noise_local_under_load(&n->noise, evloop_now_ms());
	st->cookie_replies = n->noise.rx_cookie_replies;
	st->drop_link_local = n->dp.cnt.link_local;
	st->drop_too_big = n->dp.cnt.too_big;
	node_overlay_ctl_status(n, &st->ovl);
}

static int ctl_status(void *ctx, struct ctl_node_status *st)
{
	node_ctl_fill_status(ctx, st);
	return 0;
}

enum ctl_path node_ctl_path(const struct link *l)
{
	if (!l->have_path)
		return CTL_PATH_NONE;
	if (link_path_overlay(l))
		return CTL_PATH_OVERLAY;
	return link_path_relayed(l) ? CTL_PATH_RELAY : CTL_PATH_DIRECT;
}

enum ctl_peer_state node_ctl_state(enum link_state s)
{
	switch (s) {
	case LINK_NEW:
	case LINK_OFFERED:
		return CTL_PEER_CONNECTING;
	case LINK_CHECKING:
		return CTL_PEER_CHECKING;
	case LINK_HANDSHAKE:
		return CTL_PEER_HANDSHAKE;
	case LINK_UP:
		return CTL_PEER_UP;
	case LINK_FAILED:
		break;
	}
	return CTL_PEER_DOWN;
}

static uint32_t sat32(uint64_t v)
{
	return v > UINT32_MAX ? UINT32_MAX : (uint32_t)v;
}

void node_ctl_fill_peer(const struct node *n, const struct link *p, struct ctl_peer_status *o, uint64_t now_ms)
{
	(void)now_ms;
	snprintf(o->jid, sizeof(o->jid), "%.*s", (int)sizeof(o->jid) - 1, p->jid);
	snprintf(o->node_id, sizeof(o->node_id), "%s", p->idhex);
	o->ip4 = n->social_on ? p->map4 : p->ip4;
	o->has_ip6 = p->own.ip6;
	if (p->own.ip6)
		o->ip6 = p->net.ip6;
	o->n_routes = p->own.n_routes;
	memcpy(o->routes, p->own.routes, p->own.n_routes * sizeof(p->own.routes[0]));
	o->n_refused = p->own.n_refused;
	for (unsigned i = 0; i < p->own.n_refused; i++) {
		o->refused[i].prefix = p->own.refused[i].prefix;
		snprintf(o->refused[i].why, sizeof(o->refused[i].why), "%s", p->own.refused[i].why);
	}
	o->state = node_ctl_state(p->state);
	o->path = node_ctl_path(p);
	if (p->have_path && o->path != CTL_PATH_OVERLAY) {
		bool relay = o->path == CTL_PATH_RELAY;
		struct sockaddr_in srv;
		memcpy(&o->endpoint, &p->endpoint, sizeof(p->endpoint));
		/* our TURN server when we send through it, else the peer's relayed address */
		if (link_base_is_relay(p->base_id) && relay_server(&n->bases, &srv))
			memcpy(&o->relay, &srv, sizeof(srv));
		else if (relay)
			memcpy(&o->relay, &p->endpoint, sizeof(p->endpoint));
		if (p->sel_known) {
			o->local_type = (enum ctl_cand_type)(p->sel_local.type + 1);
			o->remote_type = (enum ctl_cand_type)(p->sel_remote.type + 1);
		}
	}
	const struct rtt_est *e = &p->rtt.est;
	if (e->samples) {
		o->has_rtt = true;
		o->rtt_us = sat32(e->srtt_us);
		o->rtt_last_us = sat32(e->last_us);
		o->rtt_min_us = sat32(e->min_us);
		o->rtt_age_ms = now_ms >= e->at_ms ? now_ms - e->at_ms : 0;
	}
	o->rx_bytes = p->rx_bytes;
	o->tx_bytes = p->tx_bytes;
	o->rx_packets = p->rx_packets;
	o->tx_packets = p->tx_packets;
	o->last_handshake = p->last_handshake_ms ? node_wall_s_of(p->last_handshake_ms) : 0;
	struct path_env pe = { .udp_blocked = n->bases.relay.udp_blocked, .have_srflx = n->bases.have_srflx,
			       .stun_timed_out = n->bases.stun_timed_out };
	path_why_not_direct(p, &pe, o->why_not_direct, sizeof(o->why_not_direct));
	path_refused(p, o->paths_refused, sizeof(o->paths_refused));
	if (p->have_info)
		pins_key_b64(p->key, o->key);
	const struct trust_refusal *r = trust_refusal_of(&n->trust, p->jid);
	if (r)
		snprintf(o->trust_refused, sizeof(o->trust_refused), "%s", r->why);
}

static int ctl_peers(void *ctx, struct ctl_peer_status *arr, unsigned max)
{
	struct node *n = ctx;
	uint64_t now_ms = evloop_now_ms();

	unsigned k = 0;

	/* links through the overlay alone are members' business ("members") */
	for (unsigned i = 0; i < n->links.n; i++) {
		const struct link *l = n->links.l[i];
		if (!node_link_listed(l))
			continue;
		if (k < max)
			node_ctl_fill_peer(n, l, &arr[k], now_ms);
		k++;
	}
	return (int)k;
}

/* The most advanced link among the friend's nodes. */
static void friend_link(const struct node *n, const char *bare, struct ctl_friend_status *o)
{
	char b[XMPP_JID_MAX];
	const struct link *best = NULL;
	for (unsigned i = 0; i < n->links.n; i++) {
		const struct link *p = n->links.l[i];
		if (!jid_split(p->jid, b, sizeof(b), NULL) || strcmp(b, bare) != 0)
			continue;
		if (!best || node_ctl_state(p->state) > node_ctl_state(best->state))
			best = p;
	}
	if (!best)
		return;
	struct ctl_peer_status ps;
	memset(&ps, 0, sizeof(ps));
	node_ctl_fill_peer(n, best, &ps, evloop_now_ms());
	o->online = true;
	o->state = ps.state;
	o->path = ps.path;
	o->endpoint = ps.endpoint;
}

static int ctl_friends(void *ctx, struct ctl_friend_status *arr, unsigned max)
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
		if (n->social_on) {
			const struct social_map_entry *e = social_map_find(&n->social.smap, f->bare);
			if (e)
				o->ip4 = e->ip4;
		}
		friend_link(n, f->bare, o);
	}
	return (int)fl->n;
}

static int ctl_friend_cmd(void *ctx, enum ctl_friend_cmd cmd, const char *jid, char *err, size_t errlen)
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
	if (atomic_load(&n->sig.state) != XMPP_SIG_ONLINE) {
		snprintf(err, errlen, "friend: XMPP is not connected; try again later");
		return -ENOTCONN;
	}
	node_friend_cmd(n, map[cmd], bare);
	return 0;
}

static int ctl_pins(void *ctx, struct ctl_pin *arr, unsigned max)
{
	const struct pins *t = &((struct node *)ctx)->trust.pins;

	for (size_t i = 0; i < t->n && i < max; i++) {
		sodium_bin2hex(arr[i].node_id, sizeof(arr[i].node_id), t->p[i].id, SIGNAL_ID_LEN);
		pins_key_b64(t->p[i].key, arr[i].key);
		snprintf(arr[i].jid, sizeof(arr[i].jid), "%.*s", (int)sizeof(arr[i].jid) - 1, t->p[i].bare);
		arr[i].seen = t->p[i].seen_s;
	}
	return (int)t->n;
}

static int ctl_owners(void *ctx, struct ctl_owner *arr, unsigned max)
{
	const struct owners *t = &((struct node *)ctx)->trust.owners;

	for (size_t i = 0; i < t->n && i < max; i++) {
		arr[i].addr = t->o[i].addr;
		snprintf(arr[i].jid, sizeof(arr[i].jid), "%.*s", (int)sizeof(arr[i].jid) - 1, t->o[i].bare);
		arr[i].seen = t->o[i].seen_s;
		arr[i].mapped = t->o[i].mapped;
	}
	return (int)t->n;
}

static int ctl_pin_forget(void *ctx, const char *what, unsigned *np, unsigned *no, char *err, size_t errlen)
{
	struct node *n = ctx;
	size_t p, o;
	struct ip_addr a;
	char bare[XMPP_JID_MAX];
	bool id = strlen(what) == 2 * SIGNAL_ID_LEN && strspn(what, "0123456789abcdefABCDEF") == 2 * SIGNAL_ID_LEN;

	if (!id && !ip_addr_parse(&a, what) && (strchr(what, '/') || !jid_split(what, bare, sizeof(bare), NULL))) {
		snprintf(err, errlen, "pin: \"%.200s\" is not a bare JID, a node id (40 hex digits) or an address", what);
		return -EINVAL;
	}
	trust_forget(&n->trust, what, &p, &o);
	log_info("ctl: forgot %zu pin(s) and %zu address owner(s) of %s", p, o, what);
	if (p || o)
		node_trust_save(n);
	*np = (unsigned)p;
	*no = (unsigned)o;
	return 0;
}

static int ctl_members(void *ctx, struct ctl_member_status *arr, unsigned max)
{
	return node_overlay_ctl_members(ctx, arr, max);
}

static void on_ctl(void *ctx, uint32_t events, uint64_t now_ms)
{
	struct node *n = ctx;

	(void)events;
	ctl_server_handle(n->ctl, now_ms);
}

int node_ctl_open(struct node *n)
{
	static const struct ctl_ops ops = { ctl_status, ctl_peers, ctl_friends, ctl_friend_cmd,
					    ctl_members, ctl_pins, ctl_owners, ctl_pin_forget };

	if (!n->conf->control_socket)
		return 0;
	n->ctl = ctl_server_new(n->conf->control_socket, &ops, n);
	if (!n->ctl)
		return -errno; /* ctl_server_new logged why */
	int rc = evloop_add(&n->loop, ctl_server_fd(n->ctl), EPOLLIN, on_ctl, n);
	if (rc < 0)
		return rc;
	log_info("control socket %s", n->conf->control_socket);
	return 0;
}
