/* A link's outputs: the queues its state machine fills and the caller
 * drains (link_poll_transmit, link_poll_event), and the packets that wait
 * for keys (staging). Nothing here sends: datagrams leave through the
 * caller, which owns the sockets. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "link.h"
#include "links.h"
#include "log.h"
#include "tunnel_packet.h"

void link_queue_event(struct link *l, enum link_ev_type type)
{
	/* one of each kind but state changes is enough: the caller reads
	 * the link's current state */
	for (unsigned i = 0; i < l->nev && type != LINK_EV_STATE; i++)
		if (l->evq[i].type == type)
			return;
	if (l->nev == LINK_EVQ) {
		log_warn("peer %s: event queue full; event %d dropped", l->jid, type);
		return;
	}
	l->evq[l->nev++] = (struct link_event){ .type = type };
	links_mark_dirty(l->tab, l);
}

void link_queue_state(struct link *l, enum link_state from, enum link_state to)
{
	if (l->nev == LINK_EVQ) {
		/* merge into the last state change: from stays, to is now */
		for (unsigned i = l->nev; i-- > 0;)
			if (l->evq[i].type == LINK_EV_STATE) {
				l->evq[i].to = to;
				return;
			}
		return;
	}
	l->evq[l->nev++] = (struct link_event){ .type = LINK_EV_STATE, .from = from, .to = to };
	links_mark_dirty(l->tab, l);
}

void link_queue_signal(struct link *l, enum signal_kind kind, bool with_ice, unsigned first_cand,
		       const char *offer_ufrag)
{
	struct link_sigq_item it = { .kind = kind, .with_ice = with_ice, .first_cand = first_cand };

	if (offer_ufrag)
		snprintf(it.offer_ufrag, sizeof(it.offer_ufrag), "%s", offer_ufrag);
	/* A newer message of the same kind replaces a waiting one (an offer
	 * is built from the current session anyway); trickles merge. */
	for (unsigned i = 0; i < l->nsig; i++) {
		struct link_sigq_item *q = &l->sigq[i];
		if (q->kind != kind)
			continue;
		if (kind == SIGNAL_CANDIDATES && q->first_cand < first_cand)
			it.first_cand = q->first_cand;
		*q = it;
		return;
	}
	if (l->nsig == LINK_SIGQ) {
		log_warn("peer %s: signalling queue full; oldest message (%s) dropped", l->jid,
			 signal_kind_name(l->sigq[0].kind));
		memmove(l->sigq, l->sigq + 1, (LINK_SIGQ - 1) * sizeof(l->sigq[0]));
		l->nsig--;
	}
	l->sigq[l->nsig++] = it;
	links_mark_dirty(l->tab, l);
}

void link_drop_signals(struct link *l, enum signal_kind kind)
{
	unsigned k = 0;

	for (unsigned i = 0; i < l->nsig; i++)
		if (l->sigq[i].kind != kind)
			l->sigq[k++] = l->sigq[i];
	l->nsig = k;
}

void link_queue_tx(struct link *l, enum link_tx_kind kind, uint32_t base_id, const struct sockaddr_in *dst)
{
	for (unsigned i = 0; i < l->ntx; i++)
		if (l->txq[i].kind == kind) { /* the newest destination wins */
			l->txq[i].base_id = base_id;
			l->txq[i].dst = *dst;
			return;
		}
	if (l->ntx == LINK_TXQ)
		return; /* one of each kind fits */
	l->txq[l->ntx++] = (struct link_txq_item){ .kind = kind, .base_id = base_id, .dst = *dst };
	links_mark_dirty(l->tab, l);
}

void link_send_keepalive(struct link *l)
{
	if (l->have_path)
		link_queue_tx(l, LINK_TX_KEEPALIVE, l->base_id, &l->endpoint);
}

static void stage_compact(struct link *l)
{
	size_t cap = l->tab->env.slot_cap;

	if (!l->stage_sent)
		return;
	memmove(l->stage, l->stage + l->stage_sent * cap, (l->nstaged - l->stage_sent) * cap);
	memmove(l->stage_len, l->stage_len + l->stage_sent, (l->nstaged - l->stage_sent) * sizeof(l->stage_len[0]));
	l->nstaged -= l->stage_sent;
	l->stage_sent = 0;
}

void link_stage(struct link *l, const uint8_t *buf, size_t len)
{
	size_t cap = l->tab->env.slot_cap;

	if (len > cap - TUNNEL_DATA_MIN_LEN)
		return;
	/* The stage (LINK_STAGE_MAX slots, 24 KB at MTU 1400) comes with the
	 * link's first staged packet and stays until the link ends: once per
	 * link, never per packet, and a link the overlay asked for that never
	 * carries traffic before its keys exist costs nothing. */
	if (!l->stage && !(l->stage = malloc(LINK_STAGE_MAX * cap))) {
		l->stage_dropped++;
		return;
	}
	stage_compact(l);
	if (l->nstaged == LINK_STAGE_MAX) {
		/* drop the oldest: the newest are the ones still awaited */
		l->stage_sent = 1;
		stage_compact(l);
		l->stage_dropped++;
	}
	memcpy(l->stage + l->nstaged * cap + TUNNEL_DATA_HEADER_LEN, buf + TUNNEL_DATA_HEADER_LEN, len);
	l->stage_len[l->nstaged++] = (uint16_t)len;
}

/* The next staged packet, sealed in its slot, while a send key exists. */
static bool poll_staged(struct link *l, struct link_tx *tx, uint64_t now_ms)
{
	size_t cap = l->tab->env.slot_cap;

	if (l->stage_sent == l->nstaged) {
		l->nstaged = l->stage_sent = 0;
		return false;
	}
	if (!l->have_path || !session_send_keypair(&l->sess, now_ms)) {
		stage_compact(l);
		return false;
	}
	unsigned i = l->stage_sent;
	struct tunnel_buf b = { .data = l->stage + i * cap, .len = l->stage_len[i], .cap = cap };
	if (tunnel_seal_batch(&l->sess, &b, 1, now_ms, NULL) != 1) {
		stage_compact(l);
		return false;
	}
	l->tx_bytes += l->stage_len[i];
	l->tx_packets++;
	l->stage_sent++;
	if (l->stage_sent == l->nstaged)
		log_debug("peer %s: sent %u staged packet(s)", l->jid, l->nstaged);
	tx->base_id = l->base_id;
	tx->dst = l->endpoint;
	tx->data = b.data;
	tx->len = b.len;
	return true;
}

/* One of the link's own datagrams (handshake messages, a keepalive). */
static bool poll_queued(struct link *l, struct link_tx *tx, uint8_t *buf, size_t cap, uint64_t now_ms)
{
	while (l->ntx) {
		struct link_txq_item it = l->txq[0];
		memmove(l->txq, l->txq + 1, (l->ntx - 1) * sizeof(l->txq[0]));
		l->ntx--;
		tx->base_id = it.base_id;
		tx->dst = it.dst;
		switch (it.kind) {
		case LINK_TX_INIT:
			if (!l->init_len)
				continue;
			tx->data = l->init_msg;
			tx->len = l->init_len;
			return true;
		case LINK_TX_RESP:
			tx->data = l->resp_msg;
			tx->len = sizeof(l->resp_msg);
			return true;
		case LINK_TX_KEEPALIVE: {
			struct tunnel_buf b = { .data = buf, .len = 0, .cap = cap };
			if (!l->have_path || tunnel_seal_batch(&l->sess, &b, 1, now_ms, NULL) != 1)
				continue;
			tx->base_id = l->base_id;
			tx->dst = l->endpoint;
			tx->data = buf;
			tx->len = b.len;
			return true;
		}
		}
	}
	return false;
}

bool link_poll_transmit(struct link *l, struct link_tx *tx, uint8_t *buf, size_t cap, uint64_t now_ms)
{
	struct ice_transmit t;
	int len;

	while (l->ice_on && (len = ice_agent_poll_transmit(&l->ice, &t, buf, cap, now_ms)) > 0) {
		if (t.dst.ss_family != AF_INET)
			continue;
		tx->base_id = t.base_id;
		memcpy(&tx->dst, &t.dst, sizeof(tx->dst));
		tx->data = buf;
		tx->len = (size_t)len;
		tx->ttl = t.ttl;
		tx->df = t.df;
		return true;
	}
	tx->ttl = 0;
	tx->df = false;
	if (poll_queued(l, tx, buf, cap, now_ms) || poll_staged(l, tx, now_ms))
		return true;
	return hardnat_poll_transmit(l, tx, buf, cap, now_ms);
}

bool link_poll_event(struct link *l, struct link_event *ev, struct signal_msg *msg)
{
	if (l->nev) {
		*ev = l->evq[0];
		memmove(l->evq, l->evq + 1, (l->nev - 1) * sizeof(l->evq[0]));
		l->nev--;
		return true;
	}
	while (l->nsig) {
		link_sig_build(l, &l->sigq[0], msg);
		memmove(l->sigq, l->sigq + 1, (l->nsig - 1) * sizeof(l->sigq[0]));
		l->nsig--;
		if (msg->kind == SIGNAL_CANDIDATES && !msg->n_cands)
			continue; /* nothing new of IPv4 to trickle */
		*ev = (struct link_event){ .type = LINK_EV_SIGNAL };
		return true;
	}
	return false;
}
