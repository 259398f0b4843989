/* What the signalling thread reports to the data thread (presence,
 * signalling messages, the connection's state, friends), and the messages
 * the data thread hands it. Every signalling message is decoded and
 * checked here (its sender's node id against its XMPP resource, its
 * addressee) before a link sees it. */
#include <sodium.h>
#include <string.h>

#include "log.h"
#include "node.h"

void node_signal_send(struct node *n, const char *jid, const struct signal_msg *m)
{
	char body[SIGNAL_MSG_MAX + 1];
	int len = signal_msg_encode(m, body, sizeof(body));

	if (len < 0) {
		log_warn("signal: cannot encode %s for %s: %s", signal_kind_name(m->kind), jid,
			 signal_msg_check(m) ? signal_msg_check(m) : strerror(-len));
		return;
	}
	xmpp_thread_post(&n->sig, sigmsg_new(SIGMSG_SEND, jid, body, (size_t)len));
}

void node_friend_cmd(struct node *n, enum xmpp_friend_cmd cmd, const char *bare)
{
	struct sigmsg *m = sigmsg_new(SIGMSG_FRIEND_CMD, bare, NULL, 0);

	if (m)
		m->u.friend_cmd = cmd;
	xmpp_thread_post(&n->sig, m);
}

void node_say_bye_all(struct node *n)
{
	log_info("stopping: saying bye to %u peer(s)", n->links.n);
	for (unsigned i = 0; i < n->links.n; i++) {
		struct signal_msg m;
		memset(&m, 0, sizeof(m));
		m.kind = SIGNAL_BYE;
		memcpy(m.from, n->id, SIGNAL_ID_LEN);
		m.has_to = true;
		memcpy(m.to, n->links.l[i]->id, SIGNAL_ID_LEN);
		node_signal_send(n, n->links.l[i]->jid, &m);
	}
}

/* Room for a new link of jid (slots.h): a member at its cap, or a full
 * table, gives up a link that never came up, or jid is refused. */
static bool make_room(struct node *n, const char *jid, uint64_t now_ms)
{
	static struct log_ratelimit rl = LOG_RATELIMIT_INIT(5, 10000);
	struct link *victim;
	const char *why;

	switch (slots_admit(&n->links, jid, n->conf->max_links_per_member, &victim, &why)) {
	case SLOTS_ROOM:
		return true;
	case SLOTS_EVICT:
		n->cnt.slots_evicted++;
		log_info("peer %s: makes room for %s: %s", victim->jid, jid, why);
		node_remove_link(n, victim, "evicted for a new link");
		return true;
	case SLOTS_FULL:
		break;
	}
	n->cnt.slots_refused++;
	if (log_ratelimit_ok(&rl, now_ms))
		log_warn("peer %s: no link: %s", jid, why);
	return false;
}

/* The link for jid, created when asked and new (social mode gives it its
 * friend's address first), if its member has room (slots.h). */
struct link *node_link_get(struct node *n, const char *jid, uint64_t now_ms, bool create)
{
	struct link *l = links_by_jid(&n->links, jid);
	uint8_t id[SIGNAL_ID_LEN];

	if (l || !create)
		return l;
	/* ourselves and non-ipop resources are links_get's to refuse */
	if (links_id_of_jid(jid, id) == 0 && memcmp(id, n->id, SIGNAL_ID_LEN) != 0 && !make_room(n, jid, now_ms))
		return NULL;
	l = links_get(&n->links, jid, now_ms, true);
	/* group mode makes links after the presence (the overlay decides):
	 * an online member's new link has shown it (slots.h) */
	if (l && !n->social_on && members_by_jid(&n->members, jid))
		l->presence = true;
	if (l && n->social_on && !social_link_attach(&n->social, l)) {
		links_remove(&n->links, l);
		return NULL;
	}
	return l;
}

static void on_message(struct node *n, const char *jid, const char *body, size_t len, uint64_t now_ms)
{
	struct signal_msg m;
	uint8_t id[SIGNAL_ID_LEN];

	if (signal_msg_decode(&m, body, len) != 0) {
		n->cnt.sig_bad++;
		log_warn("signal: bad message from %s: %s", jid, m.error);
		return;
	}
	if (links_id_of_jid(jid, id) < 0 || memcmp(id, m.from, SIGNAL_ID_LEN) != 0) {
		n->cnt.sig_bad++;
		log_warn("signal: %s from %s claims another node id; dropped", signal_kind_name(m.kind), jid);
		return;
	}
	if (m.has_to && memcmp(m.to, n->id, SIGNAL_ID_LEN) != 0) {
		n->cnt.sig_not_for_us++;
		return;
	}
	/* its key, its node id's pin, the address it claims (trust.h) */
	if (trust_judge(&n->trust, &n->links, jid, &m, node_trust_now_s())) {
		n->cnt.sig_refused++;
		return;
	}
	if (m.kind == SIGNAL_BYE && m.has_reason && strcmp(m.reason, "unneeded") == 0) {
		node_overlay_released(n, jid, now_ms); /* the link stays (node_overlay.c) */
		return;
	}
	if (m.kind == SIGNAL_BYE) {
		struct link *l = links_by_jid(&n->links, jid);
		bool full = m.has_reason && strcmp(m.reason, "full") == 0;
		/* "overlay": it closed the direct link, the session goes on there */
		bool keep = full || (m.has_reason && strcmp(m.reason, "overlay") == 0);
		if (l && !(keep && link_keep_overlay(l, now_ms)))
			node_remove_link(n, l, full ? "bye received: its links are full" : "bye received");
		if (full)
			node_overlay_refused(n, jid, now_ms);
		return;
	}
	bool request = m.kind == SIGNAL_OFFER || m.kind == SIGNAL_HELLO;
	if (request && !node_overlay_accept(n, jid, m.need, now_ms))
		return; /* answered "full" */
	struct link *l = node_link_get(n, jid, now_ms, request);
	struct signal_msg bye;
	if (l) {
		link_on_signal(l, &m, now_ms);
	} else if (links_orphan_reply(&n->links, &m, &bye)) {
		log_info("peer %s: answers an offer of a link we dropped since; bye", jid);
		node_signal_send(n, jid, &bye);
	}
}

static void on_state(struct node *n, enum xmpp_sig_state st, uint64_t now_ms)
{
	log_info("xmpp: %s", xmpp_sig_state_name(st));
	links_xmpp_state(&n->links, st == XMPP_SIG_ONLINE, now_ms);
}

/* XEP-0215: the XMPP server's STUN/TURN services, to the bases. */
static void on_services(struct node *n, struct sigmsg *m, uint64_t now_ms)
{
	struct extdisco_service sv;
	struct bases_disc d[EXTDISCO_MAX];
	unsigned k = 0;

	for (size_t off = 0; off + sizeof(sv) <= m->len && k < EXTDISCO_MAX; off += sizeof(sv)) {
		memcpy(&sv, m->body + off, sizeof(sv));
		struct bases_disc *o = &d[k++];
		memset(o, 0, sizeof(*o));
		o->turn = sv.kind == EXTDISCO_TURN;
		snprintf(o->host, sizeof(o->host), "%s", sv.host);
		o->port = sv.port;
		o->transport = sv.transport == EXTDISCO_TLS   ? NODE_TURN_TLS
			       : sv.transport == EXTDISCO_TCP ? NODE_TURN_TCP
							      : NODE_TURN_UDP;
		snprintf(o->user, sizeof(o->user), "%s", sv.username);
		snprintf(o->pass, sizeof(o->pass), "%s", sv.password);
		o->expires = sv.expires;
	}
	bases_set_discovered(&n->bases, d, k, now_ms);
	sodium_memzero(&sv, sizeof(sv));
	sodium_memzero(d, sizeof(d));
	sodium_memzero(m->body, m->len); /* the credentials go no further */
}

static void handle(struct node *n, struct sigmsg *m, uint64_t now_ms)
{
	struct link *l;

	switch (m->type) {
	case SIGMSG_STATE:
		on_state(n, m->u.state, now_ms);
		break;
	case SIGMSG_PEER_UP:
		/* social mode links every friend; the group's overlay decides */
		if ((l = node_link_get(n, m->jid, now_ms, n->social_on)))
			link_online(l, now_ms);
		node_overlay_member(n, m->jid, true, now_ms);
		break;
	case SIGMSG_PEER_DOWN:
		if ((l = links_by_jid(&n->links, m->jid)))
			link_offline(l, now_ms);
		node_overlay_member(n, m->jid, false, now_ms);
		break;
	case SIGMSG_PEER_INFO: {
		/* the key and address the overlay may use for it (trust.h) */
		struct signal_presence p = m->u.info;
		if (trust_judge_presence(&n->trust, &n->links, m->jid, &p, node_trust_now_s()))
			n->cnt.sig_refused++;
		node_overlay_info(n, m->jid, &p, now_ms);
		break;
	}
	case SIGMSG_PEER_REVOKED:
		if ((l = links_by_jid(&n->links, m->jid)))
			node_remove_link(n, l, "no longer a friend (subscription removed)");
		break;
	case SIGMSG_FRIEND:
		friends_event(&n->friends, m->u.friend.ev, m->jid, m->u.friend.sub, m->u.friend.ask);
		break;
	case SIGMSG_MESSAGE:
		on_message(n, m->jid, m->body, m->len, now_ms);
		break;
	case SIGMSG_SERVICES:
		on_services(n, m, now_ms);
		break;
	default:
		break; /* data -> signalling kinds never come this way */
	}
}

void node_sig_input(struct node *n, uint64_t now_ms)
{
	struct sigmsg *list = sigq_take_all(&n->sig.to_data);

	for (struct sigmsg *m = list; m; m = m->next)
		handle(n, m, now_ms);
	sigmsg_free_list(list);
}
