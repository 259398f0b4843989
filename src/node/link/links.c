/* The node's links (see links.h). */
#include <errno.h>
#include <sodium.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "gone.h"
#include "links.h"
#include "log.h"
#include "roam.h"
#include "stun_msg.h"
#include "xmpp_roster.h"

#define link_of_session(sp) ((struct link *)((char *)(sp) - offsetof(struct link, sess)))

void links_init(struct links *t)
{
	memset(t, 0, sizeof(*t));
}

void links_free(struct links *t)
{
	while (t->n)
		links_remove(t, t->l[0]);
}

struct link *links_by_jid(const struct links *t, const char *jid)
{
	for (unsigned i = 0; i < t->n; i++)
		if (strcmp(t->l[i]->jid, jid) == 0)
			return t->l[i];
	return NULL;
}

struct link *links_by_id(const struct links *t, const uint8_t id[SIGNAL_ID_LEN])
{
	for (unsigned i = 0; i < t->n; i++)
		if (memcmp(t->l[i]->id, id, SIGNAL_ID_LEN) == 0)
			return t->l[i];
	return NULL;
}

/* The node id in an ipop resource: "user@domain/ipop-<40 hex>". */
static int id_of_jid(const char *jid, uint8_t id[SIGNAL_ID_LEN])
{
	const char *slash = strchr(jid, '/'), *end;
	size_t got;

	if (!slash || strncmp(slash + 1, XMPP_IPOP_RESOURCE_PREFIX, strlen(XMPP_IPOP_RESOURCE_PREFIX)) != 0)
		return -1;
	const char *hex = slash + 1 + strlen(XMPP_IPOP_RESOURCE_PREFIX);
	if (strlen(hex) != 2 * SIGNAL_ID_LEN || strspn(hex, "0123456789abcdef") != 2 * SIGNAL_ID_LEN)
		return -1;
	return sodium_hex2bin(id, SIGNAL_ID_LEN, hex, 2 * SIGNAL_ID_LEN, NULL, &got, &end) == 0 && got == SIGNAL_ID_LEN
		       ? 0
		       : -1;
}

int links_id_of_jid(const char *jid, uint8_t id[SIGNAL_ID_LEN])
{
	return id_of_jid(jid, id);
}

struct link *links_get(struct links *t, const char *jid, uint64_t now_ms, bool create)
{
	uint8_t id[SIGNAL_ID_LEN];
	struct link *l = links_by_jid(t, jid);

	if (l || !create)
		return l;
	if (id_of_jid(jid, id) < 0) {
		log_warn("xmpp: %s is not an ipop-<node id> resource; ignored", jid);
		return NULL;
	}
	if (memcmp(id, t->env.self_id, SIGNAL_ID_LEN) == 0)
		return NULL; /* ourselves */
	if (t->n == LINKS_MAX) {
		log_warn("peer %s: %d links already; ignored", jid, LINKS_MAX);
		return NULL;
	}
	l = link_new(t, jid, id, now_ms);
	if (l)
		t->l[t->n++] = l;
	return l;
}

void links_remove(struct links *t, struct link *l)
{
	for (unsigned i = 0; i < t->ndirty; i++)
		if (t->dirty[i] == l) {
			t->dirty[i] = t->dirty[--t->ndirty];
			break;
		}
	for (unsigned i = 0; i < t->n; i++) {
		if (t->l[i] != l)
			continue;
		if (t->idx_cache == l)
			t->idx_cache = NULL;
		t->l[i] = t->l[--t->n];
		link_free(l);
		return;
	}
}

struct link *links_by_index(struct links *t, uint32_t index)
{
	if (t->idx_cache && session_owns_index(&t->idx_cache->sess, index))
		return t->idx_cache;
	for (unsigned i = 0; i < t->n; i++) {
		if (t->l[i]->have_info && session_owns_index(&t->l[i]->sess, index)) {
			t->idx_cache = t->l[i];
			return t->l[i];
		}
	}
	return NULL;
}

uint32_t links_new_index(const struct links *t)
{
	for (;;) {
		uint32_t idx = noise_index_random();
		bool used = idx == 0;
		for (unsigned i = 0; i < t->n && !used; i++) {
			const struct link *l = t->l[i];
			used = session_owns_index(&l->sess, idx) ||
			       (l->sess.noise.state == NOISE_PEER_INIT_SENT && l->sess.noise.hs_local_index == idx);
		}
		if (!used)
			return idx;
	}
}

/* Only the key the peer's JID announced over XMPP authenticates: in an
 * offer or answer, or in its presence (a member reached through the
 * overlay). */
static struct noise_peer *lookup_key(void *ctx, const uint8_t static_pub[NOISE_KEY_LEN])
{
	struct links *t = ctx;
	for (unsigned i = 0; i < t->n; i++) {
		struct link *l = t->l[i];
		if (l->have_info && sodium_memcmp(l->key, static_pub, NOISE_KEY_LEN) == 0)
			return &l->sess.noise;
	}
	if (t->env.unknown_key) {
		struct link *l = t->env.unknown_key(t->env.unknown_key_ctx, static_pub, t->now_ms);
		if (l && l->have_info && sodium_memcmp(l->key, static_pub, NOISE_KEY_LEN) == 0)
			return &l->sess.noise;
	}
	return NULL;
}

struct link *links_overlay(struct links *t, const char *jid, const uint8_t key[SIGNAL_KEY_LEN], struct in_addr ip4,
			   const struct in6_addr *ip6, uint64_t now_ms)
{
	struct link *l = links_get(t, jid, now_ms, true);

	if (!l)
		return NULL;
	if (!l->have_info) {
		session_peer_wipe(&l->sess);
		session_peer_init(&l->sess, key);
		memcpy(l->key, key, SIGNAL_KEY_LEN);
		l->ip4 = ip4;
		if (ip6) { /* a dual-stack member: reached over IPv6 too */
			memset(&l->net, 0, sizeof(l->net));
			l->net.has_ip6 = true;
			l->net.ip6 = *ip6;
		}
		l->have_info = true;
		link_queue_event(l, LINK_EV_PEER_INFO);
	}
	l->overlay_ok = true;
	l->presence = true; /* a member of the presence table (slots.h) */
	if (!l->have_path) {
		l->have_path = true;
		l->base_id = LINK_BASE_OVERLAY;
		l->sel_known = false;
		/* still being set up: that goes on as for an ICE restart of a
		 * link up through the overlay (the controlling side re-offers
		 * while no answer comes, link_ice_restart) */
		if (l->ice_on && l->state != LINK_UP) {
			l->ice_restarting = l->controlling;
			log_info("peer %s: %s; its packets go through the overlay meanwhile", l->jid,
				 link_state_name(l->state));
		} else {
			log_info("peer %s: reached through the overlay", l->jid);
		}
		link_queue_event(l, LINK_EV_PATH);
	}
	return l;
}

bool links_orphan_reply(const struct links *t, const struct signal_msg *m, struct signal_msg *bye)
{
	if (m->kind != SIGNAL_ANSWER)
		return false;
	memset(bye, 0, sizeof(*bye));
	bye->kind = SIGNAL_BYE;
	memcpy(bye->from, t->env.self_id, SIGNAL_ID_LEN);
	bye->has_to = true;
	memcpy(bye->to, m->from, SIGNAL_ID_LEN);
	return true;
}

static void use_source_if_pathless(struct link *l, uint32_t base_id, const struct sockaddr_in *from)
{
	if (l->have_path)
		return;
	l->endpoint = *from;
	l->base_id = base_id;
	l->have_path = true;
	link_queue_event(l, LINK_EV_PATH);
}

/* Under load: the cookie reply goes back where the initiation came from
 * (links_poll_reply); the initiator sends it again with mac2. */
static void queue_cookie_reply(struct links *t, uint32_t base_id, const struct sockaddr_in *from, const uint8_t *buf,
			       const struct cookie_src *src, uint64_t now_ms)
{
	noise_create_cookie_reply(t->env.noise, buf, src, now_ms, t->reply);
	t->reply_base = base_id;
	t->reply_dst = *from;
	t->reply_pending = true;
}

bool links_poll_reply(struct links *t, struct link_tx *tx)
{
	if (!t->reply_pending)
		return false;
	t->reply_pending = false;
	tx->base_id = t->reply_base;
	tx->dst = t->reply_dst;
	tx->data = t->reply;
	tx->len = sizeof(t->reply);
	return true;
}

struct link *links_on_initiation(struct links *t, uint32_t base_id, const struct sockaddr_in *from,
				 const uint8_t *buf, size_t len, uint64_t now_ms)
{
	struct session_peer *sp = NULL;
	uint8_t out[TUNNEL_RESPONSE_LEN];
	size_t olen = 0;
	char a[ADDR_STRLEN];
	struct cookie_src src;

	t->now_ms = now_ms;
	/* A handshake through the overlay came inside a member's frame: it has
	 * no address a cookie could be bound to or sent to, so under load it
	 * gets only what the global bucket allows (src NULL). */
	bool overlay = base_id == LINK_BASE_OVERLAY;
	if (!overlay)
		cookie_src_ipv4(&src, &from->sin_addr, from->sin_port);
	int rc = session_respond(t->env.noise, buf, len, overlay ? NULL : &src, now_ms, lookup_key, t,
				 links_new_index(t), out, sizeof(out), &olen, &sp);
	if (rc == -EAGAIN && !overlay) {
		queue_cookie_reply(t, base_id, from, buf, &src, now_ms);
		return NULL;
	}
	if (rc != 0 || olen != sizeof(out)) {
		t->hs_rejected++;
		log_debug("handshake initiation from %s refused: %s", addr_format((const struct sockaddr *)from, true, a),
			  strerror(rc ? -rc : EPROTO));
		return NULL;
	}
	struct link *l = link_of_session(sp);
	memcpy(l->resp_msg, out, sizeof(out));
	use_source_if_pathless(l, base_id, from);
	roam_rx(l, base_id, from, now_ms);
	/* Answer where the initiation came from: it authenticated. */
	link_queue_tx(l, LINK_TX_RESP, base_id, from);
	log_info("peer %s: handshake initiation from %s answered", l->jid, link_where(base_id, from, a));
	link_handshake_done(l, now_ms);
	return l;
}

struct link *links_on_response(struct links *t, uint32_t base_id, const struct sockaddr_in *from,
			       const uint8_t *buf, size_t len, uint32_t receiver_index, uint64_t now_ms)
{
	for (unsigned i = 0; i < t->n; i++) {
		struct link *l = t->l[i];
		if (!l->have_info || l->sess.noise.state != NOISE_PEER_INIT_SENT ||
		    l->sess.noise.hs_local_index != receiver_index)
			continue;
		if (session_handle_response(t->env.noise, &l->sess, buf, len, now_ms) != 0) {
			t->hs_rejected++;
			return NULL;
		}
		use_source_if_pathless(l, base_id, from);
		roam_rx(l, base_id, from, now_ms);
		link_handshake_done(l, now_ms);
		link_send_keepalive(l); /* confirms the keypair to the responder */
		return l;
	}
	t->unknown_index++;
	return NULL;
}

struct link *links_on_cookie_reply(struct links *t, uint32_t base_id, const struct sockaddr_in *from,
				   const uint8_t *buf, size_t len, uint32_t receiver_index, uint64_t now_ms)
{
	char a[ADDR_STRLEN];

	for (unsigned i = 0; i < t->n; i++) {
		struct link *l = t->l[i];
		if (!l->have_info || l->sess.noise.state != NOISE_PEER_INIT_SENT ||
		    l->sess.noise.hs_local_index != receiver_index)
			continue;
		if (noise_consume_cookie_reply(&l->sess.noise, buf, len, now_ms) != 0 || !l->init_len) {
			t->hs_rejected++;
			return NULL;
		}
		/* the same initiation (its timestamp was never seen) with mac2,
		 * now rather than after the retry timer */
		noise_initiation_add_mac2(&l->sess.noise, l->init_msg, &l->init_len, sizeof(l->init_msg), now_ms);
		link_queue_tx(l, LINK_TX_INIT, base_id, from);
		l->init_sent_ms = now_ms;
		log_info("peer %s: %s is under load and sent a cookie; handshake initiation sent again with it", l->jid,
			 addr_format((const struct sockaddr *)from, true, a));
		return l;
	}
	t->unknown_index++;
	return NULL;
}

/* The link whose local ufrag a Binding request's USERNAME ("ours:theirs")
 * names. */
static struct link *by_username(const struct links *t, const struct stun_msg *m)
{
	const struct stun_attr *a = stun_msg_find(m, STUN_ATTR_USERNAME);

	if (!a)
		return NULL;
	const char *u = (const char *)stun_attr_value(m, a);
	const char *colon = memchr(u, ':', a->len);
	if (!colon)
		return NULL;
	size_t ulen = (size_t)(colon - u);
	for (unsigned i = 0; i < t->n; i++) {
		struct link *l = t->l[i];
		if (l->ice_on && strlen(l->lufrag) == ulen && memcmp(l->lufrag, u, ulen) == 0)
			return l;
	}
	return NULL;
}

bool links_on_stun(struct links *t, uint32_t base_id, const struct sockaddr *from, const uint8_t *buf,
		   size_t len, uint64_t now_ms)
{
	struct stun_msg m;

	if (stun_msg_parse(&m, buf, len) != 0)
		return false;
	if (m.cls == STUN_CLASS_REQUEST) {
		struct link *l = by_username(t, &m);
		return l && link_on_stun(l, base_id, from, buf, len, now_ms);
	}
	if (m.cls != STUN_CLASS_SUCCESS && m.cls != STUN_CLASS_ERROR)
		return true; /* indications: keepalives, nothing to do */
	for (unsigned i = 0; i < t->n; i++)
		if (link_on_stun(t->l[i], base_id, from, buf, len, now_ms))
			return true;
	return false;
}

void links_set_local(struct links *t, const struct ice_cand *c, unsigned n, unsigned nhosts, bool trickle,
		     uint64_t now_ms)
{
	if (n > ICE_MAX_LOCAL)
		n = ICE_MAX_LOCAL;
	memcpy(t->env.local, c, n * sizeof(*c));
	t->env.nlocal = n;
	t->env.nhosts = nhosts;
	for (unsigned i = 0; i < t->n && trickle; i++)
		link_local_cands_changed(t->l[i], now_ms);
}

void links_local_moved(struct links *t, const uint32_t *remap, unsigned nremap, uint64_t now_ms, const char *why)
{
	log_info("roam: %s; restarting ICE on %u link(s)", why, t->n);
	for (unsigned i = 0; i < t->n; i++) {
		struct link *l = t->l[i];
		uint32_t base = l->base_id;
		if (remap && base < nremap)
			base = remap[base];
		roam_local_moved(l, base, now_ms, why);
	}
}

void links_base_failed(struct links *t, uint32_t base_id, uint64_t now_ms)
{
	for (unsigned i = 0; i < t->n; i++)
		link_base_failed(t->l[i], base_id, now_ms);
}

void links_relay_settled(struct links *t, uint64_t now_ms)
{
	for (unsigned i = 0; i < t->n; i++)
		if (t->l[i]->relay_lost)
			link_ice_restart(t->l[i], now_ms, "its relay went away");
}

void links_xmpp_state(struct links *t, bool online, uint64_t now_ms)
{
	t->xmpp_online = online;
	for (unsigned i = 0; i < t->n; i++) {
		struct link *l = t->l[i];
		if (online) {
			roam_xmpp_online(l, now_ms);
		} else {
			gone_xmpp_lost(l);
		}
	}
}

unsigned links_remote_addrs(const struct links *t, bool hosts, struct sockaddr_in *out, unsigned max)
{
	unsigned k = 0;

	for (unsigned i = 0; i < t->n; i++) {
		const struct link *l = t->l[i];
		if (!l->ice_on)
			continue;
		for (unsigned j = 0; j < l->ice.nremote && k < max; j++) {
			const struct ice_cand *c = &l->ice.remote[j];
			if ((c->type == ICE_CAND_HOST) == hosts && c->addr.sa.sa_family == AF_INET)
				memcpy(&out[k++], &c->addr, sizeof(out[0]));
		}
	}
	return k;
}

uint64_t links_handle_timeout(struct links *t, uint64_t now_ms)
{
	uint64_t d = UINT64_MAX;

	for (unsigned i = 0; i < t->n; i++) {
		struct link *l = t->l[i];
		if (now_ms >= l->deadline_ms)
			link_handle_timeout(l, now_ms);
		if (l->deadline_ms < d)
			d = l->deadline_ms;
	}
	return d;
}

void links_mark_dirty(struct links *t, struct link *l)
{
	if (l->dirty || t->ndirty == LINKS_MAX)
		return;
	l->dirty = true;
	t->dirty[t->ndirty++] = l;
}

struct link *links_next_dirty(struct links *t)
{
	if (!t->ndirty)
		return NULL;
	struct link *l = t->dirty[--t->ndirty];
	l->dirty = false;
	return l;
}
