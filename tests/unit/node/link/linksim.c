/* The fake network of linksim.h. */
#include "linksim.h"

#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "addr.h"
#include "ice_cand.h"
#include "stun_msg.h"
#include "trust.h"
#include "tunnel_packet.h"
#include "xmpp_roster.h"

static void addr_set(struct sockaddr_in *a, const char *s)
{
	struct sockaddr_storage ss;
	assert_int_equal(addr_parse(s, 0, &ss), 0);
	memcpy(a, &ss, sizeof(*a));
}

/* Keys for node i, so that node ids sort as the indices. */
static void make_keys(struct sim *s)
{
	struct {
		struct noise_keypair kp;
		uint8_t id[SIGNAL_ID_LEN];
	} k[SIM_NODES], tmp;

	for (unsigned i = 0; i < s->n; i++) {
		uint8_t priv[NOISE_KEY_LEN];
		memset(priv, (int)(0x41 + i), sizeof(priv));
		assert_int_equal(noise_keypair_from_private(&k[i].kp, priv), 0);
		crypto_generichash(k[i].id, SIGNAL_ID_LEN, k[i].kp.pub, NOISE_KEY_LEN, NULL, 0);
	}
	for (unsigned i = 0; i < s->n; i++) /* sort by id */
		for (unsigned j = i + 1; j < s->n; j++)
			if (memcmp(k[j].id, k[i].id, SIGNAL_ID_LEN) < 0) {
				tmp = k[i];
				k[i] = k[j];
				k[j] = tmp;
			}
	for (unsigned i = 0; i < s->n; i++) {
		struct sim_node *x = &s->node[i];
		char hex[2 * SIGNAL_ID_LEN + 1];
		x->kp = k[i].kp;
		sodium_bin2hex(hex, sizeof(hex), k[i].id, SIGNAL_ID_LEN);
		snprintf(x->jid, sizeof(x->jid), "n%u@example.test/%s%s", i, XMPP_IPOP_RESOURCE_PREFIX, hex);
	}
}

static void ip4_of(int i, struct in_addr *a)
{
	char t[32];
	snprintf(t, sizeof(t), "172.31.0.%d", i + 1);
	inet_pton(AF_INET, t, a);
}

/* A handshake through the overlay from a member we have no link with:
 * the link is made from what its presence said (node_trust.c's role). */
static struct link *sim_unknown_key(void *ctx, const uint8_t key[SIGNAL_KEY_LEN], uint64_t now_ms)
{
	struct sim_node *x = ctx;
	struct sim *s = x->sim;

	if (!s->overlay)
		return NULL;
	for (unsigned j = 0; j < s->n; j++)
		if (memcmp(s->node[j].kp.pub, key, SIGNAL_KEY_LEN) == 0) {
			struct in_addr a;
			ip4_of((int)j, &a);
			return links_overlay(&x->t, s->node[j].jid, key, a, NULL, now_ms);
		}
	return NULL;
}

static void node_init(struct sim *s, int i)
{
	struct sim_node *x = &s->node[i];
	struct link_env *e = &x->t.env;
	uint8_t id[SIGNAL_ID_LEN];

	links_init(&x->t);
	noise_local_init(&x->noise, &x->kp, s->now);
	crypto_generichash(id, SIGNAL_ID_LEN, x->kp.pub, NOISE_KEY_LEN, NULL, 0);
	memcpy(e->self_id, id, SIGNAL_ID_LEN);
	memcpy(e->self_key, x->kp.pub, SIGNAL_KEY_LEN);
	ip4_of(i, &e->self_ip4);
	e->noise = &x->noise;
	e->slot_cap = 1600;
	e->wall_offset_ns = 1700000000000000000LL;
	e->unknown_key = sim_unknown_key;
	e->unknown_key_ctx = x;
	x->sim = s;
	x->online = true;
	trust_init(&x->trust, true, e->self_ip4, 24);
}

struct sim *sim_new(unsigned nodes)
{
	struct sim *s = calloc(1, sizeof(*s));
	char a[32];

	assert_non_null(s);
	assert_true(nodes <= SIM_NODES);
	s->pkts = calloc(SIM_PKTS, sizeof(*s->pkts));
	s->sigs = calloc(SIM_SIGS, sizeof(*s->sigs));
	assert_non_null(s->pkts);
	assert_non_null(s->sigs);
	s->n = nodes;
	s->now = 1000000;
	s->cur_us = s->now * 1000;
	s->xmpp_ms = 20;
	s->hold_from = -1;
	make_keys(s);
	for (unsigned i = 0; i < nodes; i++) {
		node_init(s, (int)i);
		snprintf(a, sizeof(a), "198.51.100.%u:4000", 10 + i);
		addr_set(&s->node[i].host, a);
		sim_local_changed(s, (int)i, false);
	}
	return s;
}

void sim_free(struct sim *s)
{
	for (unsigned i = 0; i < s->n; i++) {
		links_free(&s->node[i].t);
		trust_free(&s->node[i].trust);
	}
	free(s->pkts);
	free(s->sigs);
	free(s);
}

void sim_set_relay(struct sim *s, int i, bool on, uint32_t base, const char *relayed)
{
	struct sim_node *x = &s->node[i];

	x->has_relay = on;
	x->relay_base = base;
	if (relayed)
		addr_set(&x->relayed, relayed);
}

void sim_set_srflx(struct sim *s, int i, const char *addr)
{
	s->node[i].has_srflx = true;
	addr_set(&s->node[i].srflx, addr);
}

void sim_local_changed(struct sim *s, int i, bool moved)
{
	struct sim_node *x = &s->node[i];
	struct ice_cand c[3];
	struct sockaddr_in server;
	unsigned k = 0;

	addr_set(&server, "192.0.2.1:3478");
	assert_int_equal(ice_cand_init(&c[k++], ICE_CAND_HOST, (struct sockaddr *)&x->host, NULL, 0, 65535, NULL), 0);
	if (x->has_srflx)
		assert_int_equal(ice_cand_init(&c[k++], ICE_CAND_SRFLX, (struct sockaddr *)&x->srflx,
					       (struct sockaddr *)&x->host, 0, 65535, (struct sockaddr *)&server),
				 0);
	if (x->has_relay)
		assert_int_equal(ice_cand_init(&c[k++], ICE_CAND_RELAY, (struct sockaddr *)&x->relayed,
					       (struct sockaddr *)&x->host, x->relay_base, 65535,
					       (struct sockaddr *)&server),
				 0);
	links_set_local(&x->t, c, k, 1, !moved, s->now);
	if (moved) {
		uint32_t remap[1] = { 0 };
		links_local_moved(&x->t, remap, 1, s->now, "test: addresses moved");
	}
}

static int node_by_jid(const struct sim *s, const char *jid)
{
	for (unsigned i = 0; i < s->n; i++)
		if (strcmp(s->node[i].jid, jid) == 0)
			return (int)i;
	return -1;
}

static int node_of(const struct sim *s, const struct link *l)
{
	for (unsigned i = 0; i < s->n; i++)
		if (&s->node[i].t == l->tab)
			return (int)i;
	return -1;
}

/* Where a datagram from i's base goes: the node and base it arrives on and
 * the source address it shows; false when the network drops it. */
static bool route(struct sim *s, int i, uint32_t base, const struct sockaddr_in *dst, int *to, uint32_t *tobase,
		  struct sockaddr_in *from)
{
	const struct sim_node *x = &s->node[i];
	bool via_relay = base != 0;

	if (via_relay && (!x->has_relay || base != x->relay_base))
		return false; /* a dead relay base */
	*from = via_relay ? x->relayed : x->host;
	for (unsigned j = 0; j < s->n; j++) {
		const struct sim_node *y = &s->node[j];
		if ((int)j == i)
			continue;
		if (addr_equal((const struct sockaddr *)dst, (const struct sockaddr *)&y->host)) {
			if (!via_relay && s->block_direct)
				return false;
			if (via_relay && s->block_relay)
				return false;
			*to = (int)j;
			*tobase = 0;
			return true;
		}
		if (y->has_relay && addr_equal((const struct sockaddr *)dst, (const struct sockaddr *)&y->relayed)) {
			if (s->block_relay)
				return false;
			*to = (int)j;
			*tobase = y->relay_base;
			return true;
		}
	}
	return false;
}

static void send_dgram(struct sim *s, int i, uint32_t base, const struct sockaddr_in *dst, const uint8_t *buf,
		       size_t len)
{
	struct sim_pkt *p;
	int to;
	uint32_t tobase;
	struct sockaddr_in from;

	if (!route(s, i, base, dst, &to, &tobase, &from) || len > sizeof(p->buf) || s->npkts == SIM_PKTS) {
		s->dropped++;
		return;
	}
	p = &s->pkts[s->npkts++];
	p->to = to;
	p->at_us = s->cur_us + s->latency_us;
	p->base = tobase;
	p->from = from;
	p->len = len;
	memcpy(p->buf, buf, len);
}

/* Through the overlay: to the link's peer, on LINK_BASE_OVERLAY. */
static void send_overlay(struct sim *s, int i, const struct link *l, const uint8_t *buf, size_t len)
{
	int to = node_by_jid(s, l->jid);
	struct sim_pkt *p;

	if (!s->overlay || to < 0 || len > sizeof(p->buf) || s->npkts == SIM_PKTS) {
		s->dropped++;
		return;
	}
	p = &s->pkts[s->npkts++];
	memset(p, 0, sizeof(*p));
	p->to = to;
	p->at_us = s->cur_us + s->latency_us;
	p->base = LINK_BASE_OVERLAY;
	p->from = s->node[i].host; /* unused on that base */
	p->len = len;
	memcpy(p->buf, buf, len);
	s->overlay_pkts++;
}

static void send_signal(struct sim *s, int i, const char *jid, const struct signal_msg *m)
{
	int to = node_by_jid(s, jid);
	struct sim_sig *g;

	s->node[i].signals_sent++;
	if (to < 0 || s->drop_signals || !s->node[i].online || !s->node[to].online || s->nsigs == SIM_SIGS)
		return;
	g = &s->sigs[s->nsigs++];
	int len = signal_msg_encode(m, g->body, sizeof(g->body));
	assert_true(len > 0);
	g->len = (size_t)len;
	g->to = to;
	g->at = i == s->hold_from ? UINT64_MAX : s->now + s->xmpp_ms;
	snprintf(g->from, sizeof(g->from), "%s", s->node[i].jid);
}

/* One datagram a link wants sent: primes and the pool's checks are
 * counted (they die before the peer or leave on sockets the sim does not
 * model), the rest goes on the fake network. */
static void sim_transmit(struct sim *s, int i, const struct link *l, const struct link_tx *tx)
{
	struct sim_node *x = &s->node[i];

	if (tx->base_id == LINK_BASE_OVERLAY)
		send_overlay(s, i, l, tx->data, tx->len);
	else if (tx->ttl)
		x->tx_ttl++; /* a prime: it dies before the peer */
	else if (link_base_is_pool(tx->base_id))
		x->tx_pool++;
	else
		send_dgram(s, i, tx->base_id, &tx->dst, tx->data, tx->len);
}

static void pump(struct sim *s, int i)
{
	struct sim_node *x = &s->node[i];
	static uint8_t scratch[2048];
	static struct signal_msg msg;
	struct link *l;
	struct link_tx tx;
	struct link_event ev;

	while ((l = links_next_dirty(&x->t))) {
		bool gone = false;
		while (link_poll_transmit(l, &tx, scratch, sizeof(scratch), s->now))
			sim_transmit(s, i, l, &tx);
		while (link_poll_probe(l, &tx, scratch, sizeof(scratch), s->cur_us))
			sim_transmit(s, i, l, &tx);
		while (!gone && link_poll_event(l, &ev, &msg)) {
			if (ev.type == LINK_EV_SIGNAL)
				send_signal(s, i, l->jid, &msg);
			if (ev.type == LINK_EV_POOL) {
				x->pool_events++;
				if (hardnat_pool_want(l) && l->hn.phase == HARDNAT_POOL)
					link_pool_granted(l, s->pool_grant, s->now);
			}
			if (ev.type == LINK_EV_STATE && ev.to == LINK_UP)
				trust_link_up(&x->trust, l, (int64_t)(s->now / 1000));
			gone = ev.type == LINK_EV_GONE;
		}
		if (gone)
			links_remove(&x->t, l);
	}
}

static void deliver_tunnel(struct sim *s, struct sim_pkt *p)
{
	struct sim_node *y = &s->node[p->to];
	struct tunnel_packet tp;

	if (tunnel_packet_parse(p->buf, p->len, &tp) != 0)
		return;
	if (tp.type == TUNNEL_MSG_INITIATION) {
		struct link_tx tx;
		links_on_initiation(&y->t, p->base, &p->from, p->buf, p->len, s->now);
		if (links_poll_reply(&y->t, &tx)) { /* under load: a cookie reply */
			y->cookie_replies++;
			send_dgram(s, p->to, tx.base_id, &tx.dst, tx.data, tx.len);
		}
		return;
	}
	if (tp.type == TUNNEL_MSG_COOKIE_REPLY) {
		links_on_cookie_reply(&y->t, p->base, &p->from, p->buf, p->len, tp.receiver_index, s->now);
		return;
	}
	if (tp.type == TUNNEL_MSG_RESPONSE) {
		links_on_response(&y->t, p->base, &p->from, p->buf, p->len, tp.receiver_index, s->now);
		return;
	}
	struct link *l = links_by_index(&y->t, tp.receiver_index);
	struct tunnel_buf b = { .data = p->buf, .len = p->len, .cap = sizeof(p->buf) };
	if (!l || tunnel_open_batch(&l->sess, &b, 1, s->now) != 1)
		return;
	link_data_rx(l, p->base, &p->from, b.len, s->now);
	if (link_probe_is(p->buf + TUNNEL_DATA_HEADER_LEN, b.len)) {
		link_probe_rx(l, p->buf + TUNNEL_DATA_HEADER_LEN, b.len, p->at_us);
		return;
	}
	if (b.len) {
		y->rx_data++;
		y->rx_bytes += b.len;
	}
}

/* Every datagram due by now, in the order sent (with one latency for
 * all, that is the order of arrival): a FIFO drained to the end, as a
 * datagram may make more; those still on their way stay. */
static void deliver_pkts(struct sim *s)
{
	uint64_t step_us = s->now * 1000;
	unsigned keep = 0;

	for (unsigned k = 0; k < s->npkts; k++) {
		struct sim_pkt *p = &s->pkts[k];
		if (p->at_us > step_us) {
			if (keep != k)
				memmove(&s->pkts[keep], p, sizeof(*p));
			keep++;
			continue;
		}
		s->cur_us = p->at_us; /* answers leave as it arrives */
		if (tunnel_packet_is_tunnel(p->buf, p->len))
			deliver_tunnel(s, p);
		else if (stun_is_message(p->buf, p->len))
			links_on_stun(&s->node[p->to].t, p->base, (struct sockaddr *)&p->from, p->buf, p->len, s->now);
		pump(s, p->to);
	}
	s->npkts = keep;
	s->cur_us = step_us;
}

static void deliver_signal(struct sim *s, const struct sim_sig *g)
{
	struct sim_node *y = &s->node[g->to];
	struct signal_msg m;
	uint8_t id[SIGNAL_ID_LEN];

	if (signal_msg_decode(&m, g->body, g->len) != 0 || links_id_of_jid(g->from, id) != 0 ||
	    memcmp(id, m.from, SIGNAL_ID_LEN) != 0)
		fail_msg("a signalling message did not decode: %.200s", g->body);
	if (trust_judge(&y->trust, &y->t, g->from, &m, (int64_t)(s->now / 1000))) { /* as node_sig.c */
		y->refused++;
		return;
	}
	if (m.kind == SIGNAL_BYE) {
		struct link *l = links_by_jid(&y->t, g->from);
		if (l)
			links_remove(&y->t, l);
		return;
	}
	struct link *l = links_get(&y->t, g->from, s->now, m.kind == SIGNAL_OFFER || m.kind == SIGNAL_HELLO);
	struct signal_msg bye;
	if (l)
		link_on_signal(l, &m, s->now);
	else if (links_orphan_reply(&y->t, &m, &bye)) /* as node_sig.c */
		send_signal(s, g->to, g->from, &bye);
}

static void deliver_sigs(struct sim *s)
{
	unsigned k = 0;

	for (unsigned i = 0; i < s->nsigs; i++) {
		if (s->sigs[i].at > s->now) {
			s->sigs[k++] = s->sigs[i];
			continue;
		}
		struct sim_sig g = s->sigs[i];
		deliver_signal(s, &g);
		pump(s, g.to);
	}
	/* signals sent while delivering were appended after nsigs: keep them */
	s->nsigs = k;
}

void sim_release(struct sim *s)
{
	for (unsigned i = 0; i < s->nsigs; i++)
		if (s->sigs[i].at == UINT64_MAX)
			s->sigs[i].at = s->now;
	s->hold_from = -1;
}

void sim_online(struct sim *s, int i, int j)
{
	struct link *l = links_get(&s->node[i].t, s->node[j].jid, s->now, true);
	assert_non_null(l);
	link_online(l, s->now);
	pump(s, i);
	deliver_pkts(s);
}

static void step(struct sim *s)
{
	s->cur_us = s->now * 1000;
	for (unsigned i = 0; i < s->n; i++) {
		links_handle_timeout(&s->node[i].t, s->now);
		pump(s, (int)i);
	}
	deliver_pkts(s);
	deliver_sigs(s);
	deliver_pkts(s);
}

void sim_run(struct sim *s, uint64_t ms)
{
	for (uint64_t end = s->now + ms; s->now < end; s->now += 5)
		step(s);
}

bool sim_until(struct sim *s, bool (*cond)(struct sim *, void *), void *arg, uint64_t max_ms)
{
	for (uint64_t end = s->now + max_ms; s->now < end; s->now += 5) {
		step(s);
		if (cond(s, arg))
			return true;
	}
	return false;
}

struct link *sim_link(struct sim *s, int i, int j)
{
	return links_by_jid(&s->node[i].t, s->node[j].jid);
}

bool sim_up(struct sim *s, int i, int j)
{
	struct link *l = sim_link(s, i, j);
	return l && l->state == LINK_UP;
}

void sim_send_data(struct sim *s, int i, int j, size_t len)
{
	struct link *l = sim_link(s, i, j);
	uint8_t buf[1600];
	struct tunnel_buf b = { .data = buf, .len = len, .cap = sizeof(buf) };

	assert_non_null(l);
	assert_true(len + TUNNEL_DATA_MIN_LEN <= sizeof(buf));
	memset(buf + TUNNEL_DATA_HEADER_LEN, 0x45, len);
	if (s->overlay && !l->have_path && l->state != LINK_UP) { /* send.c's dp_overlay_detour */
		struct in_addr a;
		ip4_of(j, &a);
		links_overlay(&s->node[i].t, s->node[j].jid, s->node[j].kp.pub, a, NULL, s->now);
	}
	if (!l->have_path || tunnel_seal_batch(&l->sess, &b, 1, s->now, NULL) != 1) {
		link_stage(l, buf, len);
		link_initiate(l, s->now);
		pump(s, i);
		return;
	}
	l->tx_packets++;
	if (link_path_overlay(l))
		send_overlay(s, i, l, b.data, b.len);
	else
		send_dgram(s, i, l->base_id, &l->endpoint, b.data, b.len);
	deliver_pkts(s);
}

void sim_bye(struct sim *s, int i, int j)
{
	struct link *l = sim_link(s, i, j);
	struct signal_msg m;

	memset(&m, 0, sizeof(m));
	m.kind = SIGNAL_BYE;
	memcpy(m.from, s->node[i].t.env.self_id, SIGNAL_ID_LEN);
	m.has_to = true;
	assert_non_null(l);
	memcpy(m.to, l->id, SIGNAL_ID_LEN);
	send_signal(s, i, s->node[j].jid, &m);
	links_remove(&s->node[i].t, l);
}

void sim_restart_node(struct sim *s, int i)
{
	struct noise_keypair kp = s->node[i].kp;
	char jid[XMPP_JID_MAX];
	struct sockaddr_in host = s->node[i].host;

	struct trust tr = s->node[i].trust; /* its trust file survives */
	snprintf(jid, sizeof(jid), "%s", s->node[i].jid);
	links_free(&s->node[i].t);
	memset(&s->node[i], 0, sizeof(s->node[i]));
	s->node[i].kp = kp;
	s->node[i].host = host;
	snprintf(s->node[i].jid, sizeof(s->node[i].jid), "%s", jid);
	node_init(s, i);
	trust_free(&s->node[i].trust);
	s->node[i].trust = tr;
	sim_local_changed(s, i, false);
	(void)node_of;
}
