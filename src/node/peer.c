/* One link (see peer.h).
 *
 * Who starts: the node with the lower id is ICE controlling; it sends the
 * offer when the peer comes online and, once ICE selects a pair, the first
 * Noise initiation over that pair. The other side answers the offer and
 * waits. Either side may start a later handshake (rekey, or keys that
 * lapsed while idle). The controlling side re-offers when no answer came
 * within PEER_OFFER_TIMEOUT_MS or ICE failed. */
#include <arpa/inet.h>
#include <errno.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "addr.h"
#include "log.h"
#include "social.h"
#include "node.h"
#include "roam.h"
#include "tunnel_packet.h"

enum {
	PEER_OFFER_TIMEOUT_MS = 10000,
	PEER_FAIL_RETRY_MS = 5000,      /* first retry after ICE failed... */
	PEER_FAIL_RETRY_MAX_MS = 60000, /* ...doubling up to this */
	PEER_TICK_MAX_MS = 1000, /* session timers are re-read at least this often */
	PEER_NOMINATE_WAIT_MS = 300,
	/* Failed pairs better than the selected one (direct, while on the
	 * relay) are checked again this soon, so the link upgrades within a
	 * few seconds of a direct path becoming possible. */
	PEER_RECHECK_MS = 2000,
	/* A selected pair that stops answering consent checks (every ~5 s)
	 * for this long is left for another pair that worked, the relay
	 * included, well before consent expires (30 s). */
	PEER_SWITCH_SILENT_MS = 12000,
};

static const char *const state_names[] = {
	[PEER_NEW] = "new", [PEER_OFFERED] = "offered", [PEER_CHECKING] = "checking",
	[PEER_HANDSHAKE] = "handshake", [PEER_UP] = "up", [PEER_FAILED] = "failed",
};

const char *peer_state_name(enum peer_state s)
{
	return (unsigned)s < sizeof(state_names) / sizeof(state_names[0]) ? state_names[s] : "?";
}

void peer_set_state(struct peer *p, enum peer_state s, uint64_t now_ms, const char *why)
{
	if (p->state == s)
		return;
	log_info("peer %s: %s -> %s (%s)", p->jid, peer_state_name(p->state), peer_state_name(s), why);
	p->state = s;
	p->state_ms = now_ms;
	p->deadline_ms = now_ms; /* re-evaluate timers at once */
}

struct peer *peer_new(struct node *n, const char *jid, const uint8_t id[SIGNAL_ID_LEN], uint64_t now_ms)
{
	struct peer *p = calloc(1, sizeof(*p));

	if (!p)
		return NULL;
	p->stage = malloc(PEER_STAGE_MAX * n->slot_cap);
	if (!p->stage) {
		free(p);
		return NULL;
	}
	p->node = n;
	snprintf(p->jid, sizeof(p->jid), "%s", jid);
	memcpy(p->id, id, SIGNAL_ID_LEN);
	node_hex(id, SIGNAL_ID_LEN, p->idhex);
	p->controlling = memcmp(n->id, id, SIGNAL_ID_LEN) < 0;
	p->state = PEER_NEW;
	p->state_ms = now_ms;
	p->deadline_ms = now_ms;
	uint8_t zero[NOISE_KEY_LEN] = { 0 };
	session_peer_init(&p->sess, zero);
	log_info("peer %s: online, node id %s, we are %s", jid, p->idhex,
		 p->controlling ? "controlling (we offer)" : "controlled (we answer)");
	return p;
}

void peer_free(struct peer *p)
{
	if (!p)
		return;
	session_peer_wipe(&p->sess);
	sodium_memzero(p->lpwd, sizeof(p->lpwd));
	free(p->stage);
	free(p);
}

static void random_ice_string(char *out, size_t len)
{
	static const char chars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	for (size_t i = 0; i < len; i++)
		out[i] = chars[randombytes_uniform(64)];
	out[len] = '\0';
}

static void ice_start(struct peer *p, uint64_t now_ms)
{
	struct ice_config cfg;
	struct ice_cand c[ICE_MAX_LOCAL];
	uint64_t tb;

	random_ice_string(p->lufrag, 8);
	random_ice_string(p->lpwd, 24);
	randombytes_buf(&tb, sizeof(tb));
	ice_config_default(&cfg);
	cfg.nominate_wait_ms = PEER_NOMINATE_WAIT_MS;
	cfg.recheck_ms = PEER_RECHECK_MS;
	cfg.switch_silent_ms = PEER_SWITCH_SILENT_MS;
	ice_agent_init(&p->ice, &cfg, p->controlling, tb, p->lufrag, p->lpwd);
	unsigned k = gather_local_cands(p->node, c, ICE_MAX_LOCAL);
	for (unsigned i = 0; i < k; i++)
		ice_agent_add_local_candidate(&p->ice, &c[i], now_ms);
	p->nlocal_sent = k;
	p->ice_on = true;
	p->rufrag[0] = '\0';
	p->deadline_ms = now_ms;
}

static void cand_to_signal(const struct ice_cand *c, struct signal_cand *s)
{
	memset(s, 0, sizeof(*s));
	snprintf(s->foundation, sizeof(s->foundation), "%s", c->foundation);
	s->component = 1;
	s->priority = c->priority;
	s->type = (enum signal_cand_type)c->type;
	s->addr = c->addr;
	if (c->type == ICE_CAND_HOST)
		s->related.ss_family = AF_UNSPEC;
	else
		s->related = c->rel_addr;
}

static void cand_from_signal(const struct signal_cand *s, struct ice_cand *c)
{
	memset(c, 0, sizeof(*c));
	snprintf(c->foundation, sizeof(c->foundation), "%s", s->foundation);
	c->component = 1;
	c->priority = s->priority;
	c->type = (enum ice_cand_type)s->type;
	c->addr = s->addr;
	c->rel_addr = s->related.ss_family == AF_UNSPEC ? s->addr : s->related;
}

static void fill_msg(struct peer *p, enum signal_kind kind, struct signal_msg *m, unsigned first_cand)
{
	struct node *n = p->node;
	struct ice_cand c[ICE_MAX_LOCAL];

	memset(m, 0, sizeof(*m));
	m->kind = kind;
	memcpy(m->from, n->id, SIGNAL_ID_LEN);
	m->has_to = true;
	memcpy(m->to, p->id, SIGNAL_ID_LEN);
	if (kind == SIGNAL_OFFER || kind == SIGNAL_ANSWER) {
		m->has_key = true;
		memcpy(m->key, n->kp.pub, SIGNAL_KEY_LEN);
		m->has_ip4 = true;
		m->ip4 = n->conf->ip4;
		m->has_tiebreaker = true;
		m->tiebreaker = p->ice.tiebreaker;
	}
	m->has_ice = true;
	snprintf(m->ufrag, sizeof(m->ufrag), "%s", p->lufrag);
	snprintf(m->pwd, sizeof(m->pwd), "%s", p->lpwd);
	unsigned k = gather_local_cands(n, c, ICE_MAX_LOCAL);
	for (unsigned i = first_cand; i < k && m->n_cands < SIGNAL_MAX_CANDS; i++)
		if (c[i].addr.ss_family == AF_INET)
			cand_to_signal(&c[i], &m->cands[m->n_cands++]);
}

static void send_offer(struct peer *p, uint64_t now_ms)
{
	struct signal_msg m;

	ice_start(p, now_ms);
	fill_msg(p, SIGNAL_OFFER, &m, 0);
	node_signal_send(p->node, p->jid, &m);
	log_info("peer %s: offer sent (ufrag %s, %u candidates%s)", p->jid, p->lufrag, m.n_cands,
		 p->ice_restarting ? ", ICE restart" : "");
	p->retry_ms = now_ms + PEER_OFFER_TIMEOUT_MS;
	if (p->ice_restarting)
		return; /* the link stays up on its current path meanwhile */
	peer_set_state(p, PEER_OFFERED, now_ms, "offer sent");
}

/* A hello from us to this peer: who we are, our key and address. */
static void hello_fill(struct peer *p, struct signal_msg *m)
{
	memset(m, 0, sizeof(*m));
	m->kind = SIGNAL_HELLO;
	memcpy(m->from, p->node->id, SIGNAL_ID_LEN);
	m->has_to = true;
	memcpy(m->to, p->id, SIGNAL_ID_LEN);
	m->has_key = true;
	memcpy(m->key, p->node->kp.pub, SIGNAL_KEY_LEN);
	m->has_ip4 = true;
	m->ip4 = p->node->conf->ip4;
}

void peer_ice_restart(struct peer *p, uint64_t now_ms, const char *why)
{
	p->relay_lost = false;
	if (p->state != PEER_UP) {
		if (p->controlling && p->state != PEER_NEW) {
			/* not up yet: simply start over */
			log_info("peer %s: ICE restart (%s)", p->jid, why);
			p->ice_restarting = false;
			send_offer(p, now_ms);
		}
		return;
	}
	log_info("peer %s: ICE restart (%s)", p->jid, why);
	if (p->controlling) {
		p->ice_restarting = true;
		send_offer(p, now_ms);
		return;
	}
	struct signal_msg m;
	hello_fill(p, &m);
	m.has_ice = true;
	snprintf(m.ufrag, sizeof(m.ufrag), "%s", p->lufrag);
	snprintf(m.pwd, sizeof(m.pwd), "%s", p->lpwd);
	node_signal_send(p->node, p->jid, &m);
	log_info("peer %s: asked the controlling side for an ICE restart", p->jid);
}

void peer_online(struct peer *p, uint64_t now_ms)
{
	if (p->controlling && (p->state == PEER_NEW || p->state == PEER_FAILED)) {
		send_offer(p, now_ms);
	} else if (!p->controlling && p->state == PEER_NEW) {
		/* Tells a controlling peer that believes a link already exists
		 * (it missed our restart) to offer anew. */
		struct signal_msg m;
		hello_fill(p, &m);
		node_signal_send(p->node, p->jid, &m);
		log_info("peer %s: hello sent (waiting for an offer)", p->jid);
	}
}

static void on_hello(struct peer *p, const struct signal_msg *m, uint64_t now_ms)
{
	if (!p->controlling)
		return;
	/* It asks for an ICE restart while our offer is on its way: that
	 * offer restarts ICE already (the messages crossed). */
	if (m->has_ice && p->ice_on && !p->rufrag[0] && p->state != PEER_NEW) {
		log_info("peer %s: its restart request crossed our offer; waiting for the answer", p->jid);
		return;
	}
	/* The peer still has this ICE session and wants it restarted. */
	if (m->has_ice && p->state == PEER_UP && p->ice_on && strcmp(m->ufrag, p->rufrag) == 0) {
		peer_ice_restart(p, now_ms, "the peer asked for it");
		return;
	}
	switch (p->state) {
	case PEER_UP:
		/* It has no link with us: it restarted while we did not see it go. */
		peer_restart(p, now_ms, "peer says hello: it lost the link");
		send_offer(p, now_ms);
		break;
	case PEER_NEW:
	case PEER_FAILED:
		send_offer(p, now_ms);
		break;
	default:
		break; /* setup in progress; its timers handle a loss */
	}
}

/* The peer lost its keys: drop ours too, so the next handshake is not
 * held back by the rekey timer of the old session. The greatest initiation
 * timestamp seen is kept: old initiations stay replays. */
static void reset_sessions(struct peer *p)
{
	uint8_t ts[NOISE_TIMESTAMP_LEN];
	bool seen = p->sess.noise.init_rx_seen;
	uint64_t rx_ms = p->sess.noise.last_init_rx_ms;

	memcpy(ts, p->sess.noise.last_timestamp, sizeof(ts));
	session_peer_wipe(&p->sess);
	session_peer_init(&p->sess, p->key);
	memcpy(p->sess.noise.last_timestamp, ts, sizeof(ts));
	p->sess.noise.init_rx_seen = seen;
	p->sess.noise.last_init_rx_ms = rx_ms;
	p->hs_wanted = false;
}

void peer_restart(struct peer *p, uint64_t now_ms, const char *why)
{
	p->ice_on = false;
	p->retry_ms = 0;
	p->ice_restarting = false;
	if (p->have_info)
		reset_sessions(p);
	peer_set_state(p, PEER_NEW, now_ms, why);
}

static bool agent_has_local(const struct ice_agent *a, const struct ice_cand *c)
{
	for (unsigned i = 0; i < a->nlocal; i++)
		if (a->local[i].type == c->type && a->local[i].base_id == c->base_id &&
		    addr_equal((const struct sockaddr *)&a->local[i].addr, (const struct sockaddr *)&c->addr))
			return true;
	return false;
}

void peer_local_cands_changed(struct peer *p, uint64_t now_ms)
{
	struct ice_cand c[ICE_MAX_LOCAL];
	struct signal_msg m;

	if (!p->ice_on)
		return;
	unsigned k = gather_local_cands(p->node, c, ICE_MAX_LOCAL);
	fill_msg(p, SIGNAL_CANDIDATES, &m, k); /* header only */
	for (unsigned i = 0; i < k; i++) {
		if (agent_has_local(&p->ice, &c[i]))
			continue;
		ice_agent_add_local_candidate(&p->ice, &c[i], now_ms);
		if (c[i].addr.ss_family == AF_INET && m.n_cands < SIGNAL_MAX_CANDS)
			cand_to_signal(&c[i], &m.cands[m.n_cands++]);
	}
	p->nlocal_sent = k;
	if (m.n_cands) {
		node_signal_send(p->node, p->jid, &m);
		log_info("peer %s: trickled %u candidate(s)", p->jid, m.n_cands);
	}
	p->deadline_ms = now_ms;
}

/* Takes the peer's key and virtual address from an offer/answer. */
static bool set_info(struct peer *p, const struct signal_msg *m)
{
	struct node *n = p->node;
	char ip[INET_ADDRSTRLEN];

	if (!m->has_key || !m->has_ip4)
		return false;
	if (!n->social && m->ip4.s_addr == n->conf->ip4.s_addr) {
		log_warn("peer %s: announces our own virtual address %s; ignored", p->jid,
			 inet_ntop(AF_INET, &m->ip4, ip, sizeof(ip)));
		return false;
	}
	if (!p->have_info || memcmp(p->key, m->key, SIGNAL_KEY_LEN) != 0) {
		if (p->have_info)
			log_warn("peer %s: static key changed; old sessions dropped", p->jid);
		session_peer_wipe(&p->sess);
		session_peer_init(&p->sess, m->key);
		memcpy(p->key, m->key, SIGNAL_KEY_LEN);
	}
	if (n->social) {
		/* Routed by the address it has in our space (fixed at attach). */
		p->ip4 = m->ip4;
		social_peer_own_addr(p, m->ip4.s_addr);
		if (!p->routed) {
			int rc = routing_add(&n->rt, p->map4, p);
			p->routed = rc == 0;
			if (rc == -EEXIST)
				log_warn("peer %s: %s already carries another node of this friend; not routed",
					 p->jid, inet_ntop(AF_INET, &p->map4, ip, sizeof(ip)));
		}
	} else if (!p->routed || p->ip4.s_addr != m->ip4.s_addr) {
		if (p->routed)
			routing_del(&n->rt, p->ip4, p);
		p->ip4 = m->ip4;
		int rc = routing_add(&n->rt, p->ip4, p);
		p->routed = rc == 0;
		if (rc == -EEXIST)
			log_warn("peer %s: virtual address %s already belongs to another peer; not routed", p->jid,
				 inet_ntop(AF_INET, &p->ip4, ip, sizeof(ip)));
	}
	p->have_info = true;
	return true;
}

static void add_remote(struct peer *p, const struct signal_msg *m, uint64_t now_ms)
{
	char a[ADDR_STRLEN];

	for (unsigned i = 0; i < m->n_cands; i++) {
		struct ice_cand c;
		if (m->cands[i].addr.ss_family != AF_INET)
			continue;
		cand_from_signal(&m->cands[i], &c);
		int rc = ice_agent_add_remote_candidate(&p->ice, &c, now_ms);
		log_debug("peer %s: remote candidate %s %s: %d", p->jid, ice_cand_type_name(c.type),
			  addr_format((struct sockaddr *)&c.addr, true, a), rc);
	}
	relay_sync_peers(p->node, now_ms); /* permissions for the new addresses */
	p->deadline_ms = now_ms;
}

static void on_offer(struct peer *p, const struct signal_msg *m, uint64_t now_ms)
{
	struct signal_msg ans;

	if (p->controlling) {
		log_warn("peer %s: offer from a node with a higher id; ignored (we offer)", p->jid);
		return;
	}
	if (!set_info(p, m))
		return;
	bool same = p->ice_on && strcmp(p->rufrag, m->ufrag) == 0;
	log_info("peer %s: offer received (ufrag %s, %u candidates%s)", p->jid, m->ufrag, m->n_cands,
		 same ? ", repeated" : "");
	if (!same) {
		ice_start(p, now_ms);
		ice_agent_set_remote_credentials(&p->ice, m->ufrag, m->pwd);
		snprintf(p->rufrag, sizeof(p->rufrag), "%s", m->ufrag);
		add_remote(p, m, now_ms);
	}
	fill_msg(p, SIGNAL_ANSWER, &ans, 0);
	ans.has_offer_ufrag = true;
	snprintf(ans.offer_ufrag, sizeof(ans.offer_ufrag), "%s", m->ufrag);
	node_signal_send(p->node, p->jid, &ans);
	log_info("peer %s: answer sent (ufrag %s, %u candidates)", p->jid, p->lufrag, ans.n_cands);
	if (!same && p->state != PEER_UP)
		peer_set_state(p, PEER_CHECKING, now_ms, "answered offer");
}

static void on_answer(struct peer *p, const struct signal_msg *m, uint64_t now_ms)
{
	bool restart = p->ice_restarting && p->state == PEER_UP;
	/* The answer to our current offer, still awaited by its ICE session,
	 * even if a handshake on the old path brought the link up meanwhile:
	 * ICE must still check the new candidates. */
	bool awaited = p->ice_on && !p->rufrag[0] && m->has_offer_ufrag && strcmp(m->offer_ufrag, p->lufrag) == 0;

	if (!p->controlling || (p->state != PEER_OFFERED && !restart && !awaited) || !p->ice_on ||
	    (restart && strcmp(p->rufrag, m->ufrag) == 0)) {
		log_debug("peer %s: unexpected answer in state %s; ignored", p->jid, peer_state_name(p->state));
		return;
	}
	if (m->has_offer_ufrag && strcmp(m->offer_ufrag, p->lufrag) != 0) {
		log_info("peer %s: answer to an older offer (%s, ours is %s); ignored", p->jid, m->offer_ufrag,
			 p->lufrag);
		return;
	}
	if (!set_info(p, m))
		return;
	log_info("peer %s: answer received (ufrag %s, %u candidates%s)", p->jid, m->ufrag, m->n_cands,
		 restart ? ", ICE restart" : "");
	ice_agent_set_remote_credentials(&p->ice, m->ufrag, m->pwd);
	snprintf(p->rufrag, sizeof(p->rufrag), "%s", m->ufrag);
	add_remote(p, m, now_ms);
	p->retry_ms = 0;
	p->ice_restarting = false;
	if (p->state == PEER_OFFERED)
		peer_set_state(p, PEER_CHECKING, now_ms, "answer received");
}

void peer_on_signal(struct peer *p, const struct signal_msg *m, uint64_t now_ms)
{
	switch (m->kind) {
	case SIGNAL_OFFER:
		on_offer(p, m, now_ms);
		break;
	case SIGNAL_ANSWER:
		on_answer(p, m, now_ms);
		break;
	case SIGNAL_HELLO:
		log_info("peer %s: hello received", p->jid);
		on_hello(p, m, now_ms);
		break;
	case SIGNAL_CANDIDATES:
		if (p->ice_on && strcmp(p->rufrag, m->ufrag) == 0) {
			log_info("peer %s: %u trickled candidate(s) received", p->jid, m->n_cands);
			add_remote(p, m, now_ms);
		}
		break;
	default:
		break;
	}
}

/* ICE moved the path (or a new ICE session connected) while our handshake
 * initiation is unanswered: it probably went to the old path, or was
 * refused by the peer's per-peer rate limit, and a new one may not be sent
 * before NOISE_REKEY_TIMEOUT_MS, so the same bytes go again now (a
 * duplicate that arrives is refused as a replay, harmlessly). On the same
 * path only once the peer's rate limit allows another. */
static void resend_initiation(struct peer *p, bool moved, uint64_t now_ms)
{
	char a[ADDR_STRLEN];

	if (p->sess.noise.state != NOISE_PEER_INIT_SENT || !p->init_len ||
	    (!moved && now_ms - p->sess.noise.last_init_tx_ms < NOISE_INIT_RX_MIN_INTERVAL_MS))
		return;
	node_udp_send(p->node, p->base_id, &p->endpoint, p->init_msg, p->init_len);
	log_info("peer %s: handshake initiation sent again on the new path to %s", p->jid,
		 addr_format((struct sockaddr *)&p->endpoint, true, a));
}

static void set_path(struct peer *p, const struct ice_event *ev, uint64_t now_ms)
{
	char a[ADDR_STRLEN], b[ADDR_STRLEN];

	if (ev->remote.addr.ss_family != AF_INET)
		return;
	bool same = p->sel_known && p->base_id == ev->local.base_id &&
		    addr_equal((const struct sockaddr *)&p->sel_remote.addr, (const struct sockaddr *)&ev->remote.addr);
	p->base_id = ev->local.base_id;
	memcpy(&p->endpoint, &ev->remote.addr, sizeof(p->endpoint));
	p->sel_local = ev->local;
	p->sel_remote = ev->remote;
	p->sel_known = true;
	p->have_path = true;
	if (!same || ev->type == ICE_EV_CONNECTED)
		resend_initiation(p, !same, now_ms);
	if (same)
		return;
	log_info("peer %s: ICE selected pair %s %s -> %s %s (path %s)", p->jid, ice_cand_type_name(ev->local.type),
		 addr_format((const struct sockaddr *)&ev->local.addr, true, a), ice_cand_type_name(ev->remote.type),
		 addr_format((const struct sockaddr *)&ev->remote.addr, true, b),
		 peer_path_relayed(p) ? "relay" : "direct");
}

bool peer_path_relayed(const struct peer *p)
{
	if (!p->have_path)
		return false;
	if (p->base_id >= RELAY_BASE)
		return true;
	return p->sel_known && (p->sel_local.type == ICE_CAND_RELAY || p->sel_remote.type == ICE_CAND_RELAY);
}

static void ice_events(struct peer *p, uint64_t now_ms)
{
	struct ice_event ev;

	while (ice_agent_poll_event(&p->ice, &ev)) {
		switch (ev.type) {
		case ICE_EV_CONNECTED:
		case ICE_EV_SELECTED_CHANGED:
			set_path(p, &ev, now_ms);
			if (p->state == PEER_CHECKING || p->state == PEER_OFFERED)
				peer_set_state(p, PEER_HANDSHAKE, now_ms, "ICE connected");
			/* A new ICE session means the peer may have restarted:
			 * fresh keys either way (rate-limited by noise). */
			if (p->controlling && (ev.type == ICE_EV_CONNECTED || !session_send_keypair(&p->sess, now_ms)))
				peer_initiate(p, now_ms);
			break;
		case ICE_EV_PAIR_FAILED:
			log_warn("peer %s: selected pair lost consent; rechecking", p->jid);
			break;
		case ICE_EV_FAILED: {
			char why[160];
			ice_agent_describe(&p->ice, why, sizeof(why));
			log_warn("peer %s: ICE failed: %s", p->jid, why);
			p->ice_on = false;
			p->have_path = false;
			p->ice_restarting = false;
			if (p->fail_backoff_ms < PEER_FAIL_RETRY_MS)
				p->fail_backoff_ms = PEER_FAIL_RETRY_MS;
			else if (p->fail_backoff_ms < PEER_FAIL_RETRY_MAX_MS)
				p->fail_backoff_ms *= 2;
			if (p->fail_backoff_ms > PEER_FAIL_RETRY_MAX_MS)
				p->fail_backoff_ms = PEER_FAIL_RETRY_MAX_MS;
			p->retry_ms = p->controlling ? now_ms + p->fail_backoff_ms : 0;
			peer_set_state(p, PEER_FAILED, now_ms, "ICE failed");
			break;
		}
		case ICE_EV_ROLE_CHANGED:
			log_info("peer %s: ICE role now %s", p->jid, ev.controlling ? "controlling" : "controlled");
			break;
		}
	}
}

static void ice_flush(struct peer *p, uint64_t now_ms)
{
	struct node *n = p->node;
	struct ice_transmit t;
	int len;

	while ((len = ice_agent_poll_transmit(&p->ice, &t, n->ctl_buf, n->ctl_cap, now_ms)) > 0) {
		if (t.dst.ss_family != AF_INET)
			continue;
		node_udp_send(n, t.base_id, (const struct sockaddr_in *)&t.dst, n->ctl_buf, (size_t)len);
	}
}

void peer_tick(struct peer *p, uint64_t now_ms)
{
	/* On a whole-period boundary, so idle links share one wakeup. */
	uint64_t d = (now_ms / PEER_TICK_MAX_MS + 1) * PEER_TICK_MAX_MS, sd;

	if (p->ice_on) {
		if (now_ms >= ice_agent_next_deadline(&p->ice, now_ms))
			ice_agent_handle_timeout(&p->ice, now_ms);
		ice_flush(p, now_ms);
		ice_events(p, now_ms);
		if (p->ice_on) {
			uint64_t id = ice_agent_next_deadline(&p->ice, now_ms);
			if (id < d)
				d = id;
		}
	}
	if (p->hs_wanted) {
		uint64_t at = p->sess.noise.last_init_tx_ms + NOISE_REKEY_TIMEOUT_MS;
		if (now_ms >= at)
			peer_initiate(p, now_ms);
		else if (at < d)
			d = at;
	}
	if (p->have_info) {
		int act = session_tick(&p->sess, now_ms, &sd);
		if (act & SESSION_ACT_INITIATE)
			peer_initiate(p, now_ms);
		if (act & SESSION_ACT_KEEPALIVE)
			peer_send_keepalive(p, now_ms);
		if (sd < d)
			d = sd;
	}
	roam_tick(p, now_ms);
	if (p->retry_ms) {
		if (now_ms >= p->retry_ms && p->controlling &&
		    (p->state == PEER_OFFERED || p->state == PEER_FAILED ||
		     (p->state == PEER_UP && p->ice_restarting))) {
			log_info("peer %s: %s; offering again", p->jid,
				 p->state == PEER_FAILED ? "retrying after failure" : "no answer");
			send_offer(p, now_ms);
		} else if (now_ms >= p->retry_ms) {
			p->retry_ms = 0;
		}
		if (p->retry_ms && p->retry_ms < d)
			d = p->retry_ms;
	}
	p->deadline_ms = d;
}

uint64_t peer_deadline(struct peer *p, uint64_t now_ms)
{
	(void)now_ms;
	return p->deadline_ms;
}

void peer_initiate(struct peer *p, uint64_t now_ms)
{
	struct node *n = p->node;
	size_t len;
	char a[ADDR_STRLEN];

	if (!p->have_info || !p->have_path)
		return;
	if (p->sess.noise.state == NOISE_PEER_INIT_SENT &&
	    now_ms - p->sess.noise.last_init_tx_ms < NOISE_REKEY_TIMEOUT_MS)
		return;
	int rc = session_initiate(&n->noise, &p->sess, node_new_index(n), now_ms, node_wall_ns(), n->ctl_buf,
				  n->ctl_cap, &len);
	if (rc == -EAGAIN) {
		/* too soon after the last one: peer_tick retries when allowed */
		p->hs_wanted = true;
		return;
	}
	p->hs_wanted = false;
	if (rc != 0)
		return;
	node_udp_send(n, p->base_id, &p->endpoint, n->ctl_buf, len);
	p->init_len = len <= sizeof(p->init_msg) ? len : 0;
	memcpy(p->init_msg, n->ctl_buf, p->init_len);
	log_info("peer %s: handshake initiation sent to %s", p->jid,
		 addr_format((struct sockaddr *)&p->endpoint, true, a));
	p->deadline_ms = now_ms;
}

void peer_handshake_done(struct peer *p, uint64_t now_ms)
{
	char a[ADDR_STRLEN];

	p->last_handshake_wall_s = (uint64_t)time(NULL);
	if (p->state != PEER_UP) {
		const char *path = p->base_id >= RELAY_BASE || peer_path_relayed(p) ? "relay" : "direct";
		if (p->sel_known)
			log_info("peer %s: handshake complete, path %s %s %s -> %s", p->jid, path,
				 ice_cand_type_name(p->sel_local.type), ice_cand_type_name(p->sel_remote.type),
				 addr_format((struct sockaddr *)&p->endpoint, true, a));
		else
			log_info("peer %s: handshake complete, path %s -> %s (handshake source; ICE "
				 "selection pending)",
				 p->jid, path, addr_format((struct sockaddr *)&p->endpoint, true, a));
		peer_set_state(p, PEER_UP, now_ms, "handshake complete");
		p->fail_backoff_ms = 0;
	} else {
		log_info("peer %s: rekeyed (new session keys)", p->jid);
	}
	peer_flush_staged(p, now_ms);
	p->deadline_ms = now_ms;
}

void peer_stage(struct peer *p, const uint8_t *buf, size_t len)
{
	size_t cap = p->node->slot_cap;

	if (len > cap - TUNNEL_DATA_MIN_LEN)
		return;
	if (p->nstaged == PEER_STAGE_MAX) {
		/* drop the oldest: the newest are the ones still awaited */
		memmove(p->stage, p->stage + cap, (PEER_STAGE_MAX - 1) * cap);
		memmove(p->stage_len, p->stage_len + 1, (PEER_STAGE_MAX - 1) * sizeof(p->stage_len[0]));
		p->nstaged--;
		p->stage_dropped++;
	}
	memcpy(p->stage + p->nstaged * cap + TUNNEL_DATA_HEADER_LEN, buf + TUNNEL_DATA_HEADER_LEN, len);
	p->stage_len[p->nstaged++] = (uint16_t)len;
}

void peer_flush_staged(struct peer *p, uint64_t now_ms)
{
	struct node *n = p->node;
	size_t cap = n->slot_cap;
	unsigned i = 0;

	if (!p->nstaged || !p->have_path || !session_send_keypair(&p->sess, now_ms))
		return;
	for (; i < p->nstaged; i++) {
		struct tunnel_buf b = { .data = p->stage + i * cap, .len = p->stage_len[i], .cap = cap };
		if (tunnel_seal_batch(&p->sess, &b, 1, now_ms, NULL) != 1)
			break;
		p->tx_bytes += p->stage_len[i];
		p->tx_packets++;
		node_udp_send(n, p->base_id, &p->endpoint, b.data, b.len);
	}
	log_debug("peer %s: sent %u staged packet(s)", p->jid, i);
	if (i < p->nstaged) {
		memmove(p->stage, p->stage + i * cap, (p->nstaged - i) * cap);
		memmove(p->stage_len, p->stage_len + i, (p->nstaged - i) * sizeof(p->stage_len[0]));
	}
	p->nstaged -= i;
}

void peer_send_keepalive(struct peer *p, uint64_t now_ms)
{
	struct node *n = p->node;
	struct tunnel_buf b = { .data = n->ctl_buf, .len = 0, .cap = n->ctl_cap };

	if (!p->have_path)
		return;
	if (tunnel_seal_batch(&p->sess, &b, 1, now_ms, NULL) != 1)
		return;
	node_udp_send(n, p->base_id, &p->endpoint, n->ctl_buf, b.len);
}
