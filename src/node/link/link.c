/* One link's state machine (see link.h).
 *
 * Who starts: the node with the lower id is ICE controlling; it sends the
 * offer when the peer comes online and, once ICE selects a pair, the first
 * Noise initiation over that pair. The other side answers the offer and
 * waits. Either side may start a later handshake (rekey, or keys that
 * lapsed while idle). The controlling side re-offers when no answer came
 * within LINK_OFFER_TIMEOUT_MS (doubling for each offer left unanswered,
 * up to LINK_OFFER_TIMEOUT_MAX_MS: a slow or silent peer is not flooded)
 * or ICE failed. */
#include <arpa/inet.h>
#include <errno.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "gone.h"
#include "link.h"
#include "links.h"
#include "log.h"
#include "roam.h"
#include "slots.h"
#include "tick.h"

enum {
	LINK_OFFER_TIMEOUT_MS = 10000,
	LINK_OFFER_TIMEOUT_MAX_MS = 80000,
	LINK_FAIL_RETRY_MS = 5000,      /* first retry after ICE failed... */
	LINK_FAIL_RETRY_MAX_MS = 60000, /* ...doubling up to this */
	LINK_NOMINATE_WAIT_MS = 300,
	/* Failed pairs better than the selected one (direct, while on the
	 * relay) are checked again after 2 s, 4 s, ... up to 32-40 s: soon at
	 * first, then seldom enough that the state a failed check leaves in a
	 * Linux NAT (30 s) expires between rounds (docs/nat.md). */
	LINK_RECHECK_MS = 2000,
	LINK_RECHECK_MAX_MS = 32000,
	/* Controlled side: checks to the peer's reflexive candidates wait for
	 * its first check (it primed its NAT by then), at most this long. */
	LINK_HOLD_MS = 5000,
	/* Controlled side: no check from the controlling side this long after
	 * our answer means the answer went nowhere (the peer dropped the link
	 * while the offer was on its way: a bye crossed it); the ICE session
	 * is given up. Above the hold and any signalling delay seen (over 10 s
	 * through a loaded Prosody), the consent timeout's length. */
	LINK_CHECK_WAIT_MS = 30000,
	/* A selected pair that stops answering consent checks (every ~5 s)
	 * for this long is left for another pair that worked, the relay
	 * included, well before consent expires (30 s). */
	LINK_SWITCH_SILENT_MS = 12000,
	/* An unanswered initiation goes again (the same bytes: a duplicate
	 * is a replay the responder drops) this often until the rekey
	 * timeout allows a new one; every 250 ms while the peer is under load
	 * (we hold its cookie), where its socket drops what it cannot read. */
	LINK_INIT_RESEND_MS = 1000,
	LINK_INIT_RESEND_LOAD_MS = 250,
};

static const char *const state_names[] = {
	[LINK_NEW] = "new", [LINK_OFFERED] = "offered", [LINK_CHECKING] = "checking",
	[LINK_HANDSHAKE] = "handshake", [LINK_UP] = "up", [LINK_FAILED] = "failed",
};

const char *link_state_name(enum link_state s)
{
	return (unsigned)s < sizeof(state_names) / sizeof(state_names[0]) ? state_names[s] : "?";
}

void link_set_state(struct link *l, enum link_state s, uint64_t now_ms, const char *why)
{
	if (l->state == s)
		return;
	log_info("peer %s: %s -> %s (%s)", l->jid, link_state_name(l->state), link_state_name(s), why);
	link_queue_state(l, l->state, s);
	l->state = s;
	l->state_ms = now_ms;
	l->deadline_ms = now_ms; /* re-evaluate timers at once */
}

struct link *link_new(struct links *t, const char *jid, const uint8_t id[SIGNAL_ID_LEN], uint64_t now_ms)
{
	struct link *l = calloc(1, sizeof(*l));

	if (!l)
		return NULL;
	l->tab = t;
	snprintf(l->jid, sizeof(l->jid), "%s", jid);
	memcpy(l->id, id, SIGNAL_ID_LEN);
	sodium_bin2hex(l->idhex, sizeof(l->idhex), id, SIGNAL_ID_LEN);
	l->controlling = memcmp(t->env.self_id, id, SIGNAL_ID_LEN) < 0;
	l->state = LINK_NEW;
	l->state_ms = l->created_ms = now_ms;
	l->deadline_ms = now_ms;
	uint8_t zero[NOISE_KEY_LEN] = { 0 };
	session_peer_init(&l->sess, zero);
	log_info("peer %s: online, node id %s, we are %s", jid, l->idhex,
		 l->controlling ? "controlling (we offer)" : "controlled (we answer)");
	return l;
}

void link_free(struct link *l)
{
	if (!l)
		return;
	session_peer_wipe(&l->sess);
	sodium_memzero(l->lpwd, sizeof(l->lpwd));
	free(l->stage);
	free(l);
}

static void random_ice_string(char *out, size_t len)
{
	static const char chars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	for (size_t i = 0; i < len; i++)
		out[i] = chars[randombytes_uniform(64)];
	out[len] = '\0';
}

static void ice_start(struct link *l, uint64_t now_ms)
{
	const struct link_env *e = &l->tab->env;
	struct ice_config cfg;
	uint64_t tb;

	random_ice_string(l->lufrag, 8);
	random_ice_string(l->lpwd, 24);
	randombytes_buf(&tb, sizeof(tb));
	ice_config_default(&cfg);
	cfg.nominate_wait_ms = LINK_NOMINATE_WAIT_MS;
	cfg.recheck_ms = LINK_RECHECK_MS;
	cfg.recheck_max_ms = LINK_RECHECK_MAX_MS;
	cfg.switch_silent_ms = LINK_SWITCH_SILENT_MS;
	cfg.prime_ttl = e->prime_ttl;
	cfg.hold_ms = e->prime_ttl ? LINK_HOLD_MS : 0;
	cfg.pad_to = e->full_size;
	ice_agent_init(&l->ice, &cfg, l->controlling, tb, l->lufrag, l->lpwd);
	hardnat_reset(l);
	link_drop_signals(l, SIGNAL_CANDIDATES); /* the old session's trickles */
	for (unsigned i = 0; i < e->nlocal; i++)
		ice_agent_add_local_candidate(&l->ice, &e->local[i], now_ms);
	l->ice_on = true;
	l->rufrag[0] = '\0';
	l->deadline_ms = now_ms;
}

/* How long an offer waits for its answer: 10 s, then doubling while
 * offers go unanswered (a busy XMPP server, a peer that ignores us), with
 * a spread of up to 2 s from the peer's id so that a group's re-offers do
 * not come in step. */
static uint64_t offer_timeout(const struct link *l)
{
	uint64_t t = LINK_OFFER_TIMEOUT_MS;
	for (unsigned i = 0; i < l->offers_unanswered && t < LINK_OFFER_TIMEOUT_MAX_MS; i++)
		t *= 2;
	if (t > LINK_OFFER_TIMEOUT_MAX_MS)
		t = LINK_OFFER_TIMEOUT_MAX_MS;
	return t + (uint64_t)(l->id[0] % 16) * 125;
}

static void send_offer(struct link *l, uint64_t now_ms)
{
	ice_start(l, now_ms);
	link_queue_signal(l, SIGNAL_OFFER, false, 0, NULL);
	log_info("peer %s: offer sent (ufrag %s, %u candidates%s)", l->jid, l->lufrag, l->tab->env.nlocal,
		 l->ice_restarting ? ", ICE restart" : "");
	l->retry_ms = now_ms + offer_timeout(l);
	if (l->offers_unanswered < 8)
		l->offers_unanswered++;
	if (l->ice_restarting)
		return; /* the link stays up on its current path meanwhile */
	link_set_state(l, LINK_OFFERED, now_ms, "offer sent");
}

/* No answer to our offer in time: the same offer again, the same ICE
 * session (ufrag, password, candidates), so that an answer to the first
 * one that was only late (a loaded XMPP server: over 10 s through Prosody
 * at N=200) still matches instead of naming a session that is gone, and
 * a peer that got the first one answers the repeat without restarting
 * its checks. A new session comes only after a failure or a restart. */
static void repeat_offer(struct link *l, uint64_t now_ms)
{
	link_queue_signal(l, SIGNAL_OFFER, false, 0, NULL);
	log_info("peer %s: no answer; offer sent again (ufrag %s, %u candidates)", l->jid, l->lufrag,
		 l->tab->env.nlocal);
	l->retry_ms = now_ms + offer_timeout(l);
	if (l->offers_unanswered < 8)
		l->offers_unanswered++;
}

void link_ice_restart(struct link *l, uint64_t now_ms, const char *why)
{
	l->relay_lost = false;
	if (l->state != LINK_UP) {
		if (l->controlling && l->state != LINK_NEW) {
			/* not up yet: simply start over */
			log_info("peer %s: ICE restart (%s)", l->jid, why);
			l->ice_restarting = false;
			send_offer(l, now_ms);
		}
		return;
	}
	log_info("peer %s: ICE restart (%s)", l->jid, why);
	if (l->controlling) {
		l->ice_restarting = true;
		send_offer(l, now_ms);
		return;
	}
	link_queue_signal(l, SIGNAL_HELLO, true, 0, NULL);
	log_info("peer %s: asked the controlling side for an ICE restart", l->jid);
}

/* A link up through the overlay is wanted directly (on-demand, or the
 * overlay's structure): ICE runs as a restart would, and the overlay
 * carries the packets, under the same session keys, until a pair works. */
static void seek_direct(struct link *l, uint64_t now_ms)
{
	if (l->ice_on)
		return; /* already checking */
	if (l->controlling) {
		l->ice_restarting = true;
		log_info("peer %s: up through the overlay; looking for a direct path", l->jid);
		send_offer(l, now_ms);
		return;
	}
	link_queue_signal(l, SIGNAL_HELLO, false, 0, NULL);
	log_info("peer %s: up through the overlay; hello sent for a direct path", l->jid);
}

void link_online(struct link *l, uint64_t now_ms)
{
	l->presence = true;
	/* Offline then back while XMPP stayed up, and its data path died
	 * meanwhile: the peer restarted, so its link state is gone. */
	if (gone_online(l, now_ms))
		link_restart(l, now_ms, "peer came back online");
	if (l->state == LINK_UP && link_path_overlay(l)) {
		seek_direct(l, now_ms);
		return;
	}
	if (l->controlling && (l->state == LINK_NEW || l->state == LINK_FAILED)) {
		send_offer(l, now_ms);
	} else if (!l->controlling && l->state == LINK_NEW) {
		/* Tells a controlling peer that believes a link already exists
		 * (it missed our restart) to offer anew. */
		link_queue_signal(l, SIGNAL_HELLO, false, 0, NULL);
		log_info("peer %s: hello sent (waiting for an offer)", l->jid);
	}
}

void link_offline(struct link *l, uint64_t now_ms)
{
	l->presence = false;
	gone_offline(l, now_ms);
}

/* The peer lost its keys: drop ours too, so the next handshake is not
 * held back by the rekey timer of the old session. The greatest initiation
 * timestamp seen is kept: old initiations stay replays. */
static void reset_sessions(struct link *l)
{
	uint8_t ts[NOISE_TIMESTAMP_LEN];
	bool seen = l->sess.noise.init_rx_seen;
	uint64_t rx_ms = l->sess.noise.last_init_rx_ms;

	memcpy(ts, l->sess.noise.last_timestamp, sizeof(ts));
	session_peer_wipe(&l->sess);
	session_peer_init(&l->sess, l->key);
	memcpy(l->sess.noise.last_timestamp, ts, sizeof(ts));
	l->sess.noise.init_rx_seen = seen;
	l->sess.noise.last_init_rx_ms = rx_ms;
	l->hs_wanted = false;
}

void link_restart(struct link *l, uint64_t now_ms, const char *why)
{
	l->ice_on = false;
	l->retry_ms = 0;
	l->ice_restarting = false;
	if (l->have_info)
		reset_sessions(l);
	link_set_state(l, LINK_NEW, now_ms, why);
}

static void on_hello(struct link *l, const struct signal_msg *m, uint64_t now_ms)
{
	if (!l->controlling)
		return;
	/* It asks for an ICE restart while our offer is on its way: that
	 * offer restarts ICE already (the messages crossed). */
	if (m->has_ice && l->ice_on && !l->rufrag[0] && l->state != LINK_NEW) {
		log_info("peer %s: its restart request crossed our offer; waiting for the answer", l->jid);
		return;
	}
	/* The peer still has this ICE session and wants it restarted. */
	if (m->has_ice && l->state == LINK_UP && l->ice_on && strcmp(m->ufrag, l->rufrag) == 0) {
		link_ice_restart(l, now_ms, "the peer asked for it");
		return;
	}
	if (l->state == LINK_UP && link_path_overlay(l)) {
		seek_direct(l, now_ms); /* it wants a direct path (or restarted: the handshake tells) */
		return;
	}
	switch (l->state) {
	case LINK_UP:
		/* It has no link with us: it restarted while we did not see it go. */
		link_restart(l, now_ms, "peer says hello: it lost the link");
		send_offer(l, now_ms);
		break;
	case LINK_NEW:
	case LINK_FAILED:
		send_offer(l, now_ms);
		break;
	default:
		break; /* setup in progress; its timers handle a loss */
	}
}

static bool agent_has_local(const struct ice_agent *a, const struct ice_cand *c)
{
	for (unsigned i = 0; i < a->nlocal; i++)
		if (a->local[i].type == c->type && a->local[i].base_id == c->base_id &&
		    addr_equal((const struct sockaddr *)&a->local[i].addr, (const struct sockaddr *)&c->addr))
			return true;
	return false;
}

void link_local_cands_changed(struct link *l, uint64_t now_ms)
{
	const struct link_env *e = &l->tab->env;

	if (!l->ice_on)
		return;
	unsigned first = l->ice.nlocal, added = 0;
	for (unsigned i = 0; i < e->nlocal; i++) {
		if (agent_has_local(&l->ice, &e->local[i]))
			continue;
		if (ice_agent_add_local_candidate(&l->ice, &e->local[i], now_ms) >= 0 &&
		    e->local[i].addr.sa.sa_family == AF_INET)
			added++;
	}
	if (added) {
		link_queue_signal(l, SIGNAL_CANDIDATES, false, first, NULL);
		log_info("peer %s: trickled %u candidate(s)", l->jid, added);
	}
	l->deadline_ms = now_ms;
}

/* Takes the peer's key and virtual addresses (ip4; ip6 and routes in
 * l->net) from an offer/answer. */
static bool set_info(struct link *l, const struct signal_msg *m)
{
	const struct link_env *e = &l->tab->env;
	char ip[INET_ADDRSTRLEN];

	if (!m->has_key || !m->has_ip4)
		return false;
	if (!e->social && m->ip4.s_addr == e->self_ip4.s_addr) {
		log_warn("peer %s: announces our own virtual address %s; ignored", l->jid,
			 inet_ntop(AF_INET, &m->ip4, ip, sizeof(ip)));
		return false;
	}
	/* A node id has one key (trust.h checked it is the key's hash): a
	 * different one is refused, never taken over. */
	if (l->have_info && sodium_memcmp(l->key, m->key, SIGNAL_KEY_LEN) != 0) {
		log_warn("peer %s: announces another static key than before; refused", l->jid);
		return false;
	}
	bool changed = !l->have_info || l->ip4.s_addr != m->ip4.s_addr;
	if (!l->have_info) {
		session_peer_wipe(&l->sess);
		session_peer_init(&l->sess, m->key);
		memcpy(l->key, m->key, SIGNAL_KEY_LEN);
	}
	l->ip4 = m->ip4;
	changed |= link_sig_take_net(l, m);
	l->have_info = true;
	l->peer_nat = m->nat;
	l->peer_probes = m->probes;
	if (changed || !l->routed)
		link_queue_event(l, LINK_EV_PEER_INFO);
	return true;
}

static void on_offer(struct link *l, const struct signal_msg *m, uint64_t now_ms)
{
	if (l->controlling) {
		log_warn("peer %s: offer from a node with a higher id; ignored (we offer)", l->jid);
		return;
	}
	if (!set_info(l, m))
		return;
	bool same = l->ice_on && strcmp(l->rufrag, m->ufrag) == 0;
	log_info("peer %s: offer received (ufrag %s, %u candidates%s)", l->jid, m->ufrag, m->n_cands,
		 same ? ", repeated" : "");
	if (!same) {
		ice_start(l, now_ms);
		ice_agent_set_remote_credentials(&l->ice, m->ufrag, m->pwd);
		snprintf(l->rufrag, sizeof(l->rufrag), "%s", m->ufrag);
		link_sig_add_remotes(l, m, now_ms);
		l->answered_ms = now_ms;
	}
	link_queue_signal(l, SIGNAL_ANSWER, false, 0, m->ufrag);
	log_info("peer %s: answer sent (ufrag %s, %u candidates)", l->jid, l->lufrag, l->tab->env.nlocal);
	if (!same && l->state != LINK_UP)
		link_set_state(l, LINK_CHECKING, now_ms, "answered offer");
}

static void on_answer(struct link *l, const struct signal_msg *m, uint64_t now_ms)
{
	bool restart = l->ice_restarting && l->state == LINK_UP;
	/* The answer to our current offer, still awaited by its ICE session,
	 * even if a handshake on the old path brought the link up meanwhile:
	 * ICE must still check the new candidates. */
	bool awaited = l->ice_on && !l->rufrag[0] && m->has_offer_ufrag && strcmp(m->offer_ufrag, l->lufrag) == 0;

	if (!l->controlling || (l->state != LINK_OFFERED && !restart && !awaited) || !l->ice_on ||
	    (restart && strcmp(l->rufrag, m->ufrag) == 0)) {
		log_debug("peer %s: unexpected answer in state %s; ignored", l->jid, link_state_name(l->state));
		return;
	}
	if (m->has_offer_ufrag && strcmp(m->offer_ufrag, l->lufrag) != 0) {
		log_info("peer %s: answer to an older offer (%s, ours is %s); ignored", l->jid, m->offer_ufrag,
			 l->lufrag);
		return;
	}
	if (!set_info(l, m))
		return;
	log_info("peer %s: answer received (ufrag %s, %u candidates%s)", l->jid, m->ufrag, m->n_cands,
		 restart ? ", ICE restart" : "");
	ice_agent_set_remote_credentials(&l->ice, m->ufrag, m->pwd);
	snprintf(l->rufrag, sizeof(l->rufrag), "%s", m->ufrag);
	link_sig_add_remotes(l, m, now_ms);
	l->retry_ms = 0;
	l->offers_unanswered = 0;
	l->ice_restarting = false;
	if (l->state == LINK_OFFERED)
		link_set_state(l, LINK_CHECKING, now_ms, "answer received");
}

void link_on_signal(struct link *l, const struct signal_msg *m, uint64_t now_ms)
{
	switch (m->kind) {
	case SIGNAL_OFFER:
		on_offer(l, m, now_ms);
		break;
	case SIGNAL_ANSWER:
		on_answer(l, m, now_ms);
		break;
	case SIGNAL_HELLO:
		log_info("peer %s: hello received", l->jid);
		on_hello(l, m, now_ms);
		break;
	case SIGNAL_CANDIDATES:
		if (l->ice_on && strcmp(l->rufrag, m->ufrag) == 0) {
			log_info("peer %s: %u trickled candidate(s) received", l->jid, m->n_cands);
			link_sig_add_remotes(l, m, now_ms);
		}
		break;
	default:
		break;
	}
	links_mark_dirty(l->tab, l);
}

/* ICE moved the path (or a new ICE session connected) while our handshake
 * initiation is unanswered: it probably went to the old path, or was
 * refused by the peer's per-peer rate limit, and a new one may not be sent
 * before NOISE_REKEY_TIMEOUT_MS, so the same bytes go again now (a
 * duplicate that arrives is refused as a replay, harmlessly). On the same
 * path only once the peer's rate limit allows another. */
static void resend_initiation(struct link *l, bool moved, uint64_t now_ms)
{
	char a[ADDR_STRLEN];

	if (l->sess.noise.state != NOISE_PEER_INIT_SENT || !l->init_len ||
	    (!moved && now_ms - l->sess.noise.last_init_tx_ms < NOISE_INIT_RX_MIN_INTERVAL_MS))
		return;
	link_queue_tx(l, LINK_TX_INIT, l->base_id, &l->endpoint);
	l->init_sent_ms = now_ms;
	log_info("peer %s: handshake initiation sent again on the new path to %s", l->jid,
		 addr_format((struct sockaddr *)&l->endpoint, true, a));
}

/* The pending initiation again while it is unanswered (a lost datagram,
 * a responder under load), until a new one may be made. */
static void init_retry(struct link *l, uint64_t now_ms, uint64_t *d)
{
	const struct noise_peer *np = &l->sess.noise;

	if (np->state != NOISE_PEER_INIT_SENT || !l->init_len || !l->have_path ||
	    now_ms - np->last_init_tx_ms >= NOISE_REKEY_TIMEOUT_MS)
		return;
	bool load = cookie_maker_fresh(&np->cookie, now_ms);
	uint64_t at = l->init_sent_ms + (load ? LINK_INIT_RESEND_LOAD_MS : LINK_INIT_RESEND_MS);
	if (now_ms < at) {
		if (at < *d)
			*d = at;
		return;
	}
	noise_initiation_add_mac2(np, l->init_msg, &l->init_len, sizeof(l->init_msg), now_ms);
	link_queue_tx(l, LINK_TX_INIT, l->base_id, &l->endpoint);
	l->init_sent_ms = now_ms;
	log_debug("peer %s: handshake initiation repeated%s", l->jid, load ? " (the peer is under load)" : "");
	at = now_ms + (load ? LINK_INIT_RESEND_LOAD_MS : LINK_INIT_RESEND_MS);
	if (at < *d)
		*d = at;
}

static void set_path(struct link *l, const struct ice_event *ev, uint64_t now_ms)
{
	char a[ADDR_STRLEN], b[ADDR_STRLEN];

	if (ev->remote.addr.sa.sa_family != AF_INET)
		return;
	bool same = l->sel_known && l->base_id == ev->local.base_id &&
		    addr_equal((const struct sockaddr *)&l->sel_remote.addr, (const struct sockaddr *)&ev->remote.addr);
	bool moved = !l->have_path || l->base_id != ev->local.base_id ||
		     !addr_equal((const struct sockaddr *)&l->endpoint, (const struct sockaddr *)&ev->remote.addr);
	l->base_id = ev->local.base_id;
	memcpy(&l->endpoint, &ev->remote.addr, sizeof(l->endpoint));
	l->sel_local = ev->local;
	l->sel_remote = ev->remote;
	l->sel_known = true;
	l->have_path = true;
	if (moved)
		link_queue_event(l, LINK_EV_PATH);
	if (!same || ev->type == ICE_EV_CONNECTED)
		resend_initiation(l, !same, now_ms);
	if (same)
		return;
	log_info("peer %s: ICE selected pair %s %s -> %s %s (path %s)", l->jid, ice_cand_type_name(ev->local.type),
		 addr_format((const struct sockaddr *)&ev->local.addr, true, a), ice_cand_type_name(ev->remote.type),
		 addr_format((const struct sockaddr *)&ev->remote.addr, true, b),
		 link_path_relayed(l) ? "relay" : "direct");
}

bool link_path_relayed(const struct link *l)
{
	if (!l->have_path)
		return false;
	if (link_base_is_relay(l->base_id))
		return true;
	return l->sel_known && (l->sel_local.type == ICE_CAND_RELAY || l->sel_remote.type == ICE_CAND_RELAY);
}

static void back_to_overlay(struct link *l)
{
	l->ice_on = false;
	l->ice_restarting = false;
	l->have_path = true;
	l->base_id = LINK_BASE_OVERLAY;
	l->sel_known = false;
	link_queue_event(l, LINK_EV_PATH);
}

bool link_keep_overlay(struct link *l, uint64_t now_ms)
{
	(void)now_ms;
	if (l->state != LINK_UP || !l->overlay_ok)
		return false;
	if (!link_path_overlay(l) || l->ice_on) {
		log_info("peer %s: no direct link; stays up through the overlay", l->jid);
		back_to_overlay(l);
	}
	return true;
}

static void ice_failed(struct link *l, uint64_t now_ms)
{
	char why[160];

	ice_agent_describe(&l->ice, why, sizeof(why));
	log_warn("peer %s: ICE failed: %s", l->jid, why);
	l->ice_on = false;
	l->have_path = false;
	l->ice_restarting = false;
	if (l->overlay_ok) { /* the overlay still carries it */
		back_to_overlay(l);
		if (l->state == LINK_UP) {
			log_info("peer %s: stays up through the overlay", l->jid);
			return; /* the overlay asks again after its back-off */
		}
	}
	if (l->fail_backoff_ms < LINK_FAIL_RETRY_MS)
		l->fail_backoff_ms = LINK_FAIL_RETRY_MS;
	else if (l->fail_backoff_ms < LINK_FAIL_RETRY_MAX_MS)
		l->fail_backoff_ms *= 2;
	if (l->fail_backoff_ms > LINK_FAIL_RETRY_MAX_MS)
		l->fail_backoff_ms = LINK_FAIL_RETRY_MAX_MS;
	l->retry_ms = l->controlling ? now_ms + l->fail_backoff_ms : 0;
	link_set_state(l, LINK_FAILED, now_ms, "ICE failed");
}

/* Controlled side: the ICE session we answered has not heard from the
 * controlling side LINK_CHECK_WAIT_MS after our answer. Its checks would
 * have come long since; the peer has no such session (it dropped the link
 * while its offer was on the way). Without this bound the link sat in
 * "checking" for minutes: its checks to reflexive candidates wait for the
 * peer's first one, and failed pairs are rechecked, so ICE's own failure
 * came late or never. The link fails (or stays up through the overlay)
 * and, after the back-off, asks for a new offer. */
static void check_wait(struct link *l, uint64_t now_ms, uint64_t *d)
{
	if (l->controlling || !l->ice_on || !l->answered_ms || l->ice.heard_peer || l->ice.connected ||
	    !(l->state == LINK_CHECKING || (l->state == LINK_UP && link_path_overlay(l))))
		return;
	uint64_t at = l->answered_ms + LINK_CHECK_WAIT_MS;
	if (now_ms < at) {
		if (at < *d)
			*d = at;
		return;
	}
	log_info("peer %s: no check from the controlling side %u s after our answer (ufrag %s)", l->jid,
		 (unsigned)(LINK_CHECK_WAIT_MS / 1000), l->lufrag);
	l->answered_ms = 0;
	ice_failed(l, now_ms);
	/* the peer probably has no link with us: ask it for an offer after
	 * the back-off (offer_timer), as the controlling side would offer */
	if (l->state == LINK_FAILED)
		l->retry_ms = now_ms + l->fail_backoff_ms;
}

static void ice_events(struct link *l, uint64_t now_ms)
{
	struct ice_event ev;

	while (l->ice_on && ice_agent_poll_event(&l->ice, &ev)) {
		switch (ev.type) {
		case ICE_EV_CONNECTED:
		case ICE_EV_SELECTED_CHANGED:
			set_path(l, &ev, now_ms);
			hardnat_selected(l, ev.local.base_id, link_path_relayed(l), now_ms);
			if (l->state == LINK_CHECKING || l->state == LINK_OFFERED)
				link_set_state(l, LINK_HANDSHAKE, now_ms, "ICE connected");
			/* A new ICE session means the peer may have restarted:
			 * fresh keys either way (rate-limited by noise). */
			if (l->controlling && (ev.type == ICE_EV_CONNECTED || !session_send_keypair(&l->sess, now_ms)))
				link_initiate(l, now_ms);
			break;
		case ICE_EV_PAIR_FAILED:
			log_warn("peer %s: selected pair lost consent; rechecking", l->jid);
			break;
		case ICE_EV_FAILED:
			ice_failed(l, now_ms);
			break;
		case ICE_EV_ROLE_CHANGED:
			log_info("peer %s: ICE role now %s", l->jid, ev.controlling ? "controlling" : "controlled");
			break;
		}
	}
}

bool link_on_stun(struct link *l, uint32_t base_id, const struct sockaddr *from, const uint8_t *buf, size_t len,
		  uint64_t now_ms)
{
	if (l->ice_on && hardnat_input(l, base_id, from, buf, len, now_ms))
		return true;
	if (!l->ice_on || !ice_agent_input(&l->ice, base_id, from, buf, len, now_ms))
		return false;
	link_handle_timeout(l, now_ms);
	return true;
}

void link_base_failed(struct link *l, uint32_t base_id, uint64_t now_ms)
{
	if (l->have_path && l->base_id == base_id)
		l->relay_lost = true;
	if (l->ice_on)
		ice_agent_base_failed(&l->ice, base_id, now_ms);
	l->deadline_ms = now_ms;
	links_mark_dirty(l->tab, l);
}

static void offer_timer(struct link *l, uint64_t now_ms, uint64_t *d)
{
	if (!l->retry_ms)
		return;
	if (now_ms >= l->retry_ms && l->controlling && l->state == LINK_OFFERED && l->ice_on && !l->rufrag[0]) {
		repeat_offer(l, now_ms);
	} else if (now_ms >= l->retry_ms && l->controlling &&
		   (l->state == LINK_OFFERED || l->state == LINK_FAILED || (l->state == LINK_UP && l->ice_restarting))) {
		log_info("peer %s: %s; offering again", l->jid,
			 l->state == LINK_FAILED ? "retrying after failure" : "no answer");
		send_offer(l, now_ms);
	} else if (now_ms >= l->retry_ms && !l->controlling && l->state == LINK_FAILED) {
		l->retry_ms = 0;
		link_set_state(l, LINK_NEW, now_ms, "asking for a new offer after the back-off");
		link_queue_signal(l, SIGNAL_HELLO, false, 0, NULL);
		log_info("peer %s: hello sent (waiting for an offer)", l->jid);
	} else if (now_ms >= l->retry_ms) {
		l->retry_ms = 0;
	}
	if (l->retry_ms && l->retry_ms < *d)
		*d = l->retry_ms;
}

static void session_timer(struct link *l, uint64_t now_ms, uint64_t *d)
{
	uint64_t sd;

	if (l->hs_wanted) {
		uint64_t at = l->sess.noise.last_init_tx_ms + NOISE_REKEY_TIMEOUT_MS;
		if (now_ms >= at)
			link_initiate(l, now_ms);
		else if (at < *d)
			*d = at;
	}
	if (!l->have_info)
		return;
	init_retry(l, now_ms, d);
	int act = session_tick(&l->sess, now_ms, &sd);
	if (act & SESSION_ACT_INITIATE)
		link_initiate(l, now_ms);
	if (act & SESSION_ACT_KEEPALIVE)
		link_send_keepalive(l);
	if (sd < *d)
		*d = sd;
}

void link_handle_timeout(struct link *l, uint64_t now_ms)
{
	/* Session timers are re-read at least once a tick, on the shared
	 * grid, so idle links share one wakeup (tick.h). */
	uint64_t d = tick_next(now_ms);

	if (l->ice_on) {
		if (now_ms >= ice_agent_next_deadline(&l->ice, now_ms))
			ice_agent_handle_timeout(&l->ice, now_ms);
		ice_events(l, now_ms);
		if (l->ice_on) {
			uint64_t id = ice_agent_next_deadline(&l->ice, now_ms);
			if (id < d)
				d = id;
		}
	}
	check_wait(l, now_ms, &d);
	session_timer(l, now_ms, &d);
	hardnat_tick(l, now_ms, &d);
	slots_tick(l, now_ms, &d);
	gone_tick(l, now_ms, &d);
	roam_tick(l, now_ms);
	link_rtt_tick(l, now_ms, &d);
	offer_timer(l, now_ms, &d);
	l->deadline_ms = d;
	links_mark_dirty(l->tab, l); /* ICE may have checks to send */
}

uint64_t link_next_deadline(const struct link *l)
{
	return l->deadline_ms;
}

void link_initiate(struct link *l, uint64_t now_ms)
{
	struct links *t = l->tab;
	const struct link_env *e = &t->env;
	size_t len;
	char a[ADDR_STRLEN];

	if (!l->have_info || !l->have_path)
		return;
	if (l->sess.noise.state == NOISE_PEER_INIT_SENT &&
	    now_ms - l->sess.noise.last_init_tx_ms < NOISE_REKEY_TIMEOUT_MS)
		return;
	uint64_t wall_ns = (uint64_t)((int64_t)(now_ms * 1000000u) + e->wall_offset_ns);
	int rc = session_initiate(e->noise, &l->sess, links_new_index(t), now_ms, wall_ns, l->init_msg,
				  sizeof(l->init_msg), &len);
	if (rc == -EAGAIN) {
		/* too soon after the last one: the session timer retries when allowed */
		l->hs_wanted = true;
		return;
	}
	l->hs_wanted = false;
	if (rc != 0) {
		l->init_len = 0;
		return;
	}
	l->init_len = len;
	l->init_sent_ms = now_ms;
	link_queue_tx(l, LINK_TX_INIT, l->base_id, &l->endpoint);
	log_info("peer %s: handshake initiation sent to %s", l->jid, link_where(l->base_id, &l->endpoint, a));
	l->deadline_ms = now_ms;
}

const char *link_where(uint32_t base_id, const struct sockaddr_in *addr, char *buf)
{
	if (base_id == LINK_BASE_OVERLAY)
		return "the overlay";
	return addr_format((const struct sockaddr *)addr, true, buf);
}

void link_handshake_done(struct link *l, uint64_t now_ms)
{
	char a[ADDR_STRLEN];

	l->last_handshake_ms = now_ms;
	l->tab->hs_completed++;
	if (l->state != LINK_UP) {
		const char *path = link_path_relayed(l) ? "relay" : "direct";
		if (link_path_overlay(l))
			log_info("peer %s: handshake complete, through the overlay", l->jid);
		else if (l->sel_known)
			log_info("peer %s: handshake complete, path %s %s %s -> %s", l->jid, path,
				 ice_cand_type_name(l->sel_local.type), ice_cand_type_name(l->sel_remote.type),
				 addr_format((struct sockaddr *)&l->endpoint, true, a));
		else
			log_info("peer %s: handshake complete, path %s -> %s (handshake source; ICE "
				 "selection pending)",
				 l->jid, path, addr_format((struct sockaddr *)&l->endpoint, true, a));
		link_set_state(l, LINK_UP, now_ms, "handshake complete");
		l->fail_backoff_ms = 0;
		l->ever_up = true;
	} else {
		log_info("peer %s: rekeyed (new session keys)", l->jid);
	}
	l->deadline_ms = now_ms;
	links_mark_dirty(l->tab, l); /* staged packets may leave now */
}

void link_data_rx(struct link *l, uint32_t base_id, const struct sockaddr_in *from, size_t payload_len,
		  uint64_t now_ms)
{
	(void)payload_len;
	roam_rx(l, base_id, from, now_ms);
	if (l->state == LINK_HANDSHAKE)
		link_handshake_done(l, now_ms);
	/* a responder may send once the initiator's first packet arrived */
	if (l->nstaged)
		links_mark_dirty(l->tab, l);
}
