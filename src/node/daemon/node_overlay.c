/* The daemon's side of the GroupVPN overlay (node/overlay): members from
 * presence, the overlay's actions carried out on links (a request is an
 * offer or hello, a close a bye), requests from others let in or answered
 * "full", links reported up and down, traffic fed in once a second for
 * on-demand links and least-recently-used eviction. Social mode has no
 * overlay. */
#include <string.h>

#include "log.h"
#include "node.h"
#include "tick.h"

_Static_assert((int)OV_SESSION_ID_LEN == (int)SIGNAL_ID_LEN, "sessions are named by node id");

static bool on(const struct node *n)
{
	return !n->social_on;
}

int node_overlay_init(struct node *n)
{
	struct overlay_conf c;

	members_init(&n->members);
	if (!on(n))
		return 0;
	overlay_conf_default(&c);
	c.max_links = n->conf->max_links;
	c.multihop = n->conf->multihop;
	c.hop_limit = n->conf->hop_limit;
	c.on_demand = n->conf->on_demand;
	c.demand_bps = n->conf->on_demand_bps;
	c.idle_timeout_s = n->conf->on_demand_timeout_s;
	c.trim = n->conf->trim;
	n->presence.has_ip4 = true;
	n->presence.ip4 = n->conf->ip4;
	n->presence.has_ip6 = n->conf->has_ip6;
	n->presence.ip6 = n->conf->ip6;
	n->presence.has_key = true;
	memcpy(n->presence.key, n->kp.pub, sizeof(n->presence.key));
	/* sessions through the overlay take the link slots direct links leave */
	size_t cap = LINKS_MAX > c.max_links + 16 ? LINKS_MAX - c.max_links : 16;
	int rc = ov_sessions_init(&n->ovs, cap, 0);
	return rc ? rc : overlay_init(&n->ov, &c, n->id);
}

void node_overlay_free(struct node *n)
{
	if (on(n)) {
		overlay_free(&n->ov);
		ov_sessions_free(&n->ovs);
	}
	members_free(&n->members);
}

static void refresh(struct node *n, uint64_t now_ms)
{
	size_t k;
	const struct ov_member *m = members_sorted(&n->members, &k);

	if (on(n))
		overlay_set_members(&n->ov, m, k, now_ms);
}

void node_overlay_member(struct node *n, const char *jid, bool online, uint64_t now_ms)
{
	uint8_t id[SIGNAL_ID_LEN];

	if (links_id_of_jid(jid, id) < 0 || memcmp(id, n->id, SIGNAL_ID_LEN) == 0)
		return;
	if (online)
		members_up(&n->members, jid, id);
	else
		members_down(&n->members, jid);
	if (on(n))
		ov_sessions_member(&n->ovs, id, online, now_ms);
	refresh(n, now_ms);
}

void node_overlay_info(struct node *n, const char *jid, const struct signal_presence *p, uint64_t now_ms)
{
	(void)now_ms;
	members_info(&n->members, jid, p->has_ip4 ? &p->ip4 : NULL, p->has_ip6 ? &p->ip6 : NULL,
		     p->has_key ? p->key : NULL);
}

bool node_overlay_accept(struct node *n, const char *jid, bool need, uint64_t now_ms)
{
	uint8_t id[SIGNAL_ID_LEN];

	if (!on(n) || links_id_of_jid(jid, id) < 0)
		return true;
	if (need ? overlay_accept_need(&n->ov, id, now_ms) : overlay_accept(&n->ov, id, now_ms))
		return true;
	struct signal_msg m;
	memset(&m, 0, sizeof(m));
	m.kind = SIGNAL_BYE;
	memcpy(m.from, n->id, SIGNAL_ID_LEN);
	m.has_to = true;
	memcpy(m.to, id, SIGNAL_ID_LEN);
	m.has_reason = true;
	snprintf(m.reason, sizeof(m.reason), "full");
	node_signal_send(n, jid, &m);
	log_info("peer %s: asks for a link; refused, %u links already (max_links)", jid, n->ov.nslots);
	return false;
}

void node_overlay_refused(struct node *n, const char *jid, uint64_t now_ms)
{
	uint8_t id[SIGNAL_ID_LEN];

	if (on(n) && links_id_of_jid(jid, id) == 0) {
		log_info("peer %s: its links are full; asking again later", jid);
		overlay_refused(&n->ov, id, now_ms);
	}
}

/* A link with a path of its own counts for the overlay once it is up. One
 * up through the overlay while ICE still looks for a direct path (its
 * packets took the overlay while it was set up) is a request still under
 * way, not a failed one. */
void node_overlay_link_changed(struct node *n, struct link *l, uint64_t now_ms)
{
	if (!on(n))
		return;
	if (l->state == LINK_UP && l->have_path && !link_path_overlay(l))
		overlay_link_up(&n->ov, l->id, l, now_ms);
	else if (l->state == LINK_UP && link_path_overlay(l) && l->ice_on)
		return;
	else if (l->state == LINK_UP || l->state == LINK_FAILED)
		overlay_link_down(&n->ov, l->id, now_ms);
}

void node_overlay_link_removed(struct node *n, struct link *l, uint64_t now_ms)
{
	if (on(n)) {
		overlay_link_down(&n->ov, l->id, now_ms);
		ov_sessions_gone(&n->ovs, l->id);
	}
}

static void do_request(struct node *n, const struct ov_action *a, uint64_t now_ms)
{
	const struct member *m = members_by_id(&n->members, a->id);
	struct link *l = m ? node_link_get(n, m->jid, now_ms, true) : NULL;

	if (!l) {
		overlay_link_down(&n->ov, a->id, now_ms);
		return;
	}
	log_info("peer %s: link wanted by the overlay (%s%s%s%s)", l->jid, a->why & OV_WHY_MESH ? "mesh " : "",
		 a->why & OV_WHY_RING ? "ring " : "", a->why & OV_WHY_FINGER ? "long-distance " : "",
		 a->why & OV_WHY_DEMAND ? "on-demand" : "");
	link_online(l, now_ms);
	if (l->state == LINK_UP && l->have_path && !link_path_overlay(l))
		overlay_link_up(&n->ov, l->id, l, now_ms);
}

/* A direct link the overlay closes (trimmed, evicted, not needed) that
 * still carries traffic keeps its session through the overlay: both ends
 * move it there (bye reason "overlay") and no packet waits for a new
 * handshake. An idle one goes. */
enum { NODE_OVL_BUSY_MS = 10000 };

/* A bye to the link's peer, with a reason when one is given. */
static void send_bye(struct node *n, const struct link *l, const char *reason)
{
	struct signal_msg m;

	memset(&m, 0, sizeof(m));
	m.kind = SIGNAL_BYE;
	memcpy(m.from, n->id, SIGNAL_ID_LEN);
	m.has_to = true;
	memcpy(m.to, l->id, SIGNAL_ID_LEN);
	if (reason) {
		m.has_reason = true;
		snprintf(m.reason, sizeof(m.reason), "%s", reason);
	}
	node_signal_send(n, l->jid, &m);
}

static void do_close(struct node *n, const struct ov_action *a, uint64_t now_ms)
{
	struct link *l = links_by_id(&n->links, a->id);

	if (!l)
		return;
	bool busy = n->conf->multihop && l->state == LINK_UP && l->path_rx_ms && now_ms - l->path_rx_ms < NODE_OVL_BUSY_MS;
	send_bye(n, l, busy ? "overlay" : NULL);
	if (busy && link_keep_overlay(l, now_ms)) {
		log_info("peer %s: direct link closed (the overlay keeps other links); its traffic goes through the overlay",
			 l->jid);
		return;
	}
	node_remove_link(n, l, "the overlay does not need it any more");
}

/* We no longer need a link the member also asked for: a bye with reason
 * "unneeded" that leaves the link up (node_sig.c). The member keeps it if
 * it wants it, else closes it after its grace. */
static void do_release(struct node *n, const struct ov_action *a)
{
	struct link *l = links_by_id(&n->links, a->id);

	if (l)
		send_bye(n, l, "unneeded");
}

void node_overlay_released(struct node *n, const char *jid, uint64_t now_ms)
{
	uint8_t id[SIGNAL_ID_LEN];

	if (on(n) && links_id_of_jid(jid, id) == 0)
		overlay_released(&n->ov, id, now_ms);
}

/* Once a second, on the whole seconds the links' timers use (tick.h), so
 * that it shares their wakeup: traffic through the overlay (on-demand)
 * and over direct links (least recently used). The overlay is told the
 * tick's time, not the moment the loop woke, so its one-second demand
 * windows are whole seconds long. */
static void account(struct node *n, uint64_t now_ms)
{
	uint64_t tick = tick_start(now_ms);

	if (n->ov_acct_ms && tick < n->ov_acct_ms + TICK_GRID_MS)
		return;
	n->ov_acct_ms = tick;
	for (unsigned i = 0; i < n->links.n; i++) {
		struct link *l = n->links.l[i];
		uint64_t bytes = l->tx_bytes + l->rx_bytes, delta = bytes - l->acct_bytes;
		l->acct_bytes = bytes;
		if (link_path_overlay(l)) {
			overlay_demand(&n->ov, l->id, delta, tick);
			ov_sessions_used(&n->ovs, l->id, delta, tick);
		} else if (delta)
			overlay_used(&n->ov, l->id, tick);
	}
}

/* A session through the overlay that sessions.h says is done (idle, its
 * member gone, or the least recently used of a full table): its link goes,
 * unless it has a path of its own by now or ICE is setting one up. The
 * next packet for the member starts a new one. */
static void end_session(struct node *n, const uint8_t id[SIGNAL_ID_LEN])
{
	struct link *l = links_by_id(&n->links, id);

	if (l && link_path_overlay(l) && !l->ice_on)
		node_remove_link(n, l, "session through the overlay idle or no longer needed");
}

void node_overlay_tick(struct node *n, uint64_t now_ms)
{
	struct ov_action a;
	uint8_t id[SIGNAL_ID_LEN];

	if (!on(n))
		return;
	account(n, now_ms);
	while (ov_sessions_poll_end(&n->ovs, id, now_ms))
		end_session(n, id);
	overlay_handle_timeout(&n->ov, now_ms);
	while (overlay_poll_action(&n->ov, &a)) {
		if (a.type == OV_ACT_REQUEST)
			do_request(n, &a, now_ms);
		else if (a.type == OV_ACT_RELEASE)
			do_release(n, &a);
		else
			do_close(n, &a, now_ms);
	}
}

uint64_t node_overlay_deadline(const struct node *n)
{
	if (!on(n))
		return UINT64_MAX;
	uint64_t d = overlay_next_deadline(&n->ov), ad = n->ov_acct_ms + TICK_GRID_MS;
	return d < ad ? d : ad;
}
