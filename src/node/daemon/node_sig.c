/* What the signalling thread reports to the data thread (presence,
 * signalling messages, the connection's state, friends), and the messages
 * the data thread hands it. Every signalling message is decoded and
 * checked here (its sender's node id against its XMPP resource, its
 * addressee) before a link sees it. */
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

struct link *node_link_get(struct node *n, const char *jid, uint64_t now_ms, bool create)
{
	struct link *l = links_by_jid(&n->links, jid);

	if (l || !create)
		return l;
	l = links_get(&n->links, jid, now_ms, true);
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
	if (m.kind == SIGNAL_BYE) {
		struct link *l = links_by_jid(&n->links, jid);
		bool full = m.has_reason && strcmp(m.reason, "full") == 0;
		if (l && !(full && link_keep_overlay(l, now_ms)))
			node_remove_link(n, l, full ? "bye received: its links are full" : "bye received");
		if (full)
			node_overlay_refused(n, jid, now_ms);
		return;
	}
	bool request = m.kind == SIGNAL_OFFER || m.kind == SIGNAL_HELLO;
	if (request && !node_overlay_accept(n, jid, now_ms))
		return; /* answered "full" */
	struct link *l = node_link_get(n, jid, now_ms, request);
	if (l)
		link_on_signal(l, &m, now_ms);
}

static void on_state(struct node *n, enum xmpp_sig_state st, uint64_t now_ms)
{
	log_info("xmpp: %s", xmpp_sig_state_name(st));
	links_xmpp_state(&n->links, st == XMPP_SIG_ONLINE, now_ms);
}

static void handle(struct node *n, const struct sigmsg *m, uint64_t now_ms)
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
	case SIGMSG_PEER_INFO:
		node_overlay_info(n, m->jid, &m->u.info, now_ms);
		break;
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
