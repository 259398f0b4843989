/* ipopd's TURN relay (see relay.h): which server, the allocation's life,
 * and relayed datagrams in and out. The stream transports (TCP, TLS) are
 * in relay_stream.c. */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "log.h"
#include "node.h"
#include "relay_stream.h"
#include "stun_chan.h"
#include "stun_msg.h"

static const char *transport_name(enum node_turn_transport t)
{
	return node_turn_transport_name(t);
}

const char *relay_transport_name(const struct node *n)
{
	return transport_name(n->relay.transport);
}

static uint16_t default_port(enum node_turn_transport t)
{
	return t == NODE_TURN_TLS ? NODE_CONF_DEFAULT_TURNS_PORT : NODE_CONF_DEFAULT_STUN_PORT;
}

static void add_attempt(struct relay *r, unsigned entry, enum node_turn_transport t, uint16_t port, bool fallback)
{
	for (unsigned i = 0; i < r->nattempts; i++) {
		const struct relay_attempt *a = &r->attempts[i];
		if (a->entry == entry && a->transport == t && a->port == port)
			return;
	}
	if (r->nattempts < RELAY_MAX_ATTEMPTS)
		r->attempts[r->nattempts++] = (struct relay_attempt){ entry, t, port, fallback };
}

/* The configured servers from `start` on, then the stream fallbacks of the
 * UDP ones (tried only once a UDP attempt got no answer at all). */
static void build_attempts(struct node *n, unsigned start)
{
	struct relay *r = &n->relay;
	unsigned nt = n->conf->n_turn;

	r->nattempts = r->tried = 0;
	for (unsigned i = 0; i < nt; i++) {
		const struct node_turn *t = &n->conf->turn[(start + i) % nt];
		add_attempt(r, (start + i) % nt, t->transport, t->port ? t->port : default_port(t->transport), false);
	}
	for (unsigned i = 0; i < nt; i++) {
		unsigned e = (start + i) % nt;
		const struct node_turn *t = &n->conf->turn[e];
		if (t->transport != NODE_TURN_UDP)
			continue;
		/* 443 first: "only TCP 443 goes out" is the usual firewall */
		add_attempt(r, e, NODE_TURN_TLS, 443, true);
		add_attempt(r, e, NODE_TURN_TCP, t->port ? t->port : default_port(NODE_TURN_UDP), true);
		add_attempt(r, e, NODE_TURN_TLS, NODE_CONF_DEFAULT_TURNS_PORT, true);
	}
}

static int resolve(const char *host, uint16_t port, struct sockaddr_in *out)
{
	struct addrinfo hints = { .ai_family = AF_INET, .ai_socktype = SOCK_DGRAM }, *res;
	char p[8];

	snprintf(p, sizeof(p), "%u", port);
	if (getaddrinfo(host, p, &hints, &res) != 0 || !res)
		return -EHOSTUNREACH;
	memcpy(out, res->ai_addr, sizeof(*out));
	freeaddrinfo(res);
	return 0;
}

static void out_raw(struct node *n, const uint8_t *buf, size_t len)
{
	struct relay *r = &n->relay;

	if (r->transport == NODE_TURN_UDP)
		node_udp_send(n, UINT32_MAX, &r->server, buf, len);
	else if (relay_stream_write(n, buf, len) < 0)
		r->stats.tx_dropped++;
}

static void flush_client(struct node *n)
{
	struct relay *r = &n->relay;
	int len;

	while (r->tc_on && (len = turn_client_poll_transmit(&r->tc, r->buf, r->buf_cap)) > 0)
		out_raw(n, r->buf, (size_t)len);
	/* every change of the client ends here: cache its next timer, so the
	 * loop does not scan its tables on every wakeup, and forget the
	 * channel looked up last (it may be gone) */
	r->tc_timer = r->tc_on ? turn_client_timeout(&r->tc) : UINT64_MAX;
	r->chan_cache = 0;
}

/* The channel bound to dst; the data path asks for the same peer packet
 * after packet, so the last answer is kept until the client changes. */
static uint16_t channel_of(struct relay *r, const struct sockaddr_in *dst)
{
	if (r->chan_cache && r->chan_cache_addr.sin_port == dst->sin_port &&
	    r->chan_cache_addr.sin_addr.s_addr == dst->sin_addr.s_addr)
		return r->chan_cache;
	r->chan_cache = turn_client_channel(&r->tc, (const struct sockaddr *)dst);
	r->chan_cache_addr = *dst;
	return r->chan_cache;
}

static void teardown(struct node *n)
{
	struct relay *r = &n->relay;

	relay_stream_close(n);
	if (r->tc_on)
		turn_client_free(&r->tc);
	r->tc_on = false;
	r->tc_timer = UINT64_MAX;
	r->chan_cache = 0;
}

static int client_start(struct node *n, uint64_t now_ms)
{
	struct relay *r = &n->relay;
	const struct node_turn *t = &n->conf->turn[r->attempts[r->cur].entry];
	struct turn_client_config cfg = {
		.username = t->user,
		.password = t->pass,
		.transport = r->transport == NODE_TURN_UDP   ? TURN_CLIENT_UDP
			     : r->transport == NODE_TURN_TCP ? TURN_CLIENT_TCP
							     : TURN_CLIENT_TLS,
		.family = AF_INET,
		.software = "ipopd",
	};

	memcpy(&cfg.server, &r->server, sizeof(r->server));
	if (turn_client_init(&r->tc, &cfg) < 0)
		return -ENOMEM;
	r->tc_on = true;
	turn_client_start(&r->tc, now_ms);
	r->phase = RELAY_ALLOCATING;
	flush_client(n);
	return 0;
}

static void restart_marked_peers(struct node *n, uint64_t now_ms)
{
	for (unsigned i = 0; i < n->npeers; i++)
		if (n->peers[i]->relay_lost)
			peer_ice_restart(n->peers[i], now_ms, "its relay went away");
}

/* The next attempt in the list, or WAITING when none is left. */
static void attempt_next(struct node *n, uint64_t now_ms)
{
	struct relay *r = &n->relay;
	char a[ADDR_STRLEN];

	teardown(n);
	while (r->tried < r->nattempts) {
		r->cur = r->tried++;
		const struct relay_attempt *at = &r->attempts[r->cur];
		const struct node_turn *t = &n->conf->turn[at->entry];
		if (at->fallback && !r->udp_timed_out)
			continue;
		if (resolve(t->host, at->port, &r->server) < 0) {
			log_warn("relay: cannot resolve TURN server %s", t->host);
			continue;
		}
		r->transport = at->transport;
		r->redirected = false;
		r->got_rx = false;
		snprintf(r->server_name, sizeof(r->server_name), "%s (%s%s)",
			 addr_format((struct sockaddr *)&r->server, true, a), transport_name(at->transport),
			 at->fallback ? ", UDP fallback" : "");
		log_info("relay: allocating on %s", r->server_name);
		if (at->transport == NODE_TURN_UDP) {
			r->deadline_ms = now_ms + RELAY_UDP_ATTEMPT_MS;
			if (client_start(n, now_ms) == 0)
				return;
		} else {
			r->deadline_ms = now_ms + RELAY_STREAM_ATTEMPT_MS;
			r->phase = RELAY_CONNECTING;
			if (relay_stream_open(n, t->ca_file, t->host) == 0)
				return;
		}
		teardown(n);
	}
	r->phase = RELAY_WAITING;
	r->deadline_ms = now_ms + RELAY_RETRY_MS;
	log_warn("relay: no TURN server gave an allocation; no relayed candidate (retry in %d s)",
		 RELAY_RETRY_MS / 1000);
	restart_marked_peers(n, now_ms);
}

void relay_start(struct node *n, uint64_t now_ms)
{
	if (n->conf->n_turn == 0)
		return;
	build_attempts(n, randombytes_uniform(n->conf->n_turn));
	attempt_next(n, now_ms);
}

int relay_init(struct node *n)
{
	struct relay *r = &n->relay;

	memset(r, 0, sizeof(*r));
	r->fd = -1;
	r->inited = true;
	r->buf_cap = n->slot_cap + 256;
	r->buf = malloc(r->buf_cap);
	r->slot = calloc(1, sizeof(*r->slot));
	if (r->slot)
		r->slot->buf = malloc(n->slot_cap);
	if (!r->buf || !r->slot || !r->slot->buf)
		return -ENOMEM;
	return relay_stream_init(n);
}

void relay_free(struct node *n)
{
	struct relay *r = &n->relay;

	if (!r->inited)
		return;
	if (r->phase == RELAY_READY && r->tc_on && turn_client_close(&r->tc, node_now_ms()) == 0) {
		/* best effort: the server frees the allocation now, not in 10 minutes */
		flush_client(n);
		log_info("relay: allocation on %s released", r->server_name);
	}
	teardown(n);
	relay_stream_free(n);
	free(r->buf);
	if (r->slot)
		free(r->slot->buf);
	free(r->slot);
	r->buf = NULL;
	r->slot = NULL;
}

/* The allocation (or the attempt) is gone: fail its pairs, move on (to
 * the next server, or the same one first when it is fine: retry_same). */
static void lost_how(struct node *n, uint64_t now_ms, const char *why, bool retry_same)
{
	struct relay *r = &n->relay;

	if (r->phase == RELAY_READY) {
		log_warn("relay: allocation on %s lost (%s); failing over", r->server_name, why);
		r->stats.failovers++;
		for (unsigned i = 0; i < n->npeers; i++) {
			struct peer *p = n->peers[i];
			if (p->have_path && p->base_id == r->base_id)
				p->relay_lost = true;
			if (p->ice_on)
				ice_agent_base_failed(&p->ice, r->base_id, now_ms);
			p->deadline_ms = now_ms;
		}
		r->phase = RELAY_ALLOCATING;
		build_attempts(n, (r->attempts[r->cur].entry + (retry_same ? 0 : 1)) % n->conf->n_turn);
	} else {
		log_warn("relay: %s: %s", r->server_name, why);
	}
	attempt_next(n, now_ms);
}

static void lost(struct node *n, uint64_t now_ms, const char *why)
{
	lost_how(n, now_ms, why, false);
}

static void on_allocated(struct node *n, const struct turn_client_event *ev, uint64_t now_ms)
{
	struct relay *r = &n->relay;
	char a[ADDR_STRLEN], b[ADDR_STRLEN];

	if (ev->addr.ss_family != AF_INET) {
		lost(n, now_ms, "relayed address is not IPv4");
		return;
	}
	r->phase = RELAY_READY;
	r->base_id = RELAY_BASE + (++r->gen & 0xffff);
	r->last_rx_ms = now_ms;
	r->probe_ms = 0;
	if (r->transport != NODE_TURN_UDP && r->udp_timed_out)
		r->udp_blocked = true;
	if (r->transport == NODE_TURN_UDP)
		r->udp_timed_out = r->udp_blocked = false;
	log_info("relay: relayed candidate %s on %s (lifetime %u s, mapped %s)",
		 addr_format((const struct sockaddr *)&ev->addr, true, a), r->server_name, ev->lifetime,
		 addr_format(turn_client_mapped(&r->tc), true, b));
	relay_sync_peers(n, now_ms);
	for (unsigned i = 0; i < n->npeers; i++)
		peer_local_cands_changed(n->peers[i], now_ms);
	restart_marked_peers(n, now_ms);
}

/* One relayed datagram from peer: into the receive path as if it had
 * arrived on the relay base from that address. */
static void deliver(struct node *n, const struct turn_client_event *ev, uint64_t now_ms)
{
	struct relay *r = &n->relay;

	if (ev->addr.ss_family != AF_INET || ev->len == 0 || ev->len > n->slot_cap) {
		n->cnt.udp_rx_trunc++;
		return;
	}
	memcpy(r->slot->buf, ev->data, ev->len);
	r->slot->len = ev->len;
	memcpy(&r->slot->addr, &ev->addr, sizeof(r->slot->addr));
	r->slot->base_id = r->base_id;
	r->stats.rx_packets++;
	receive_datagram(n, r->slot, now_ms);
}

/* A 300 to the Allocate: one redirect per attempt is followed, with the
 * same transport and credentials. */
static void follow_redirect(struct node *n, const struct turn_client_event *ev, uint64_t now_ms)
{
	struct relay *r = &n->relay;
	char a[ADDR_STRLEN];

	if (r->redirected || ev->addr.ss_family != AF_INET || r->phase != RELAY_ALLOCATING) {
		lost(n, now_ms, "redirected again (300); giving up on it");
		return;
	}
	log_info("relay: %s redirects to %s (300 ALTERNATE-SERVER)", r->server_name,
		 addr_format((const struct sockaddr *)&ev->addr, true, a));
	teardown(n);
	memcpy(&r->server, &ev->addr, sizeof(r->server));
	r->redirected = true;
	snprintf(r->server_name, sizeof(r->server_name), "%s (%s)", addr_format((struct sockaddr *)&r->server, true, a),
		 transport_name(r->transport));
	if (r->transport == NODE_TURN_UDP) {
		if (client_start(n, now_ms) < 0)
			lost(n, now_ms, "cannot start a client");
		return;
	}
	r->phase = RELAY_CONNECTING;
	if (relay_stream_open(n, n->conf->turn[r->attempts[r->cur].entry].ca_file, NULL) < 0)
		lost(n, now_ms, "cannot connect to the alternate server");
}

static void client_failed(struct node *n, const struct turn_client_event *ev, uint64_t now_ms)
{
	char why[96];

	if (ev->code == -ETIMEDOUT)
		snprintf(why, sizeof(why), "no answer");
	else
		snprintf(why, sizeof(why), "refused: %d %s", ev->code, stun_error_reason(ev->code));
	lost(n, now_ms, why);
}

/* Handles the client's events; then sends what it queued and re-reads its
 * timer, unless only ChannelData came in (which changes neither). */
static void client_events(struct node *n, uint64_t now_ms, bool flush)
{
	struct relay *r = &n->relay;
	struct turn_client_event ev;
	char a[ADDR_STRLEN];

	while (r->tc_on && turn_client_poll_event(&r->tc, &ev)) {
		switch (ev.type) {
		case TURN_EV_ALLOCATED:
			on_allocated(n, &ev, now_ms);
			break;
		case TURN_EV_FAILED:
			client_failed(n, &ev, now_ms);
			return; /* the client was replaced */
		case TURN_EV_REDIRECT:
			follow_redirect(n, &ev, now_ms);
			return;
		case TURN_EV_CHANNEL:
		case TURN_EV_PERMISSION:
			if (ev.code)
				log_info("relay: %s for %s refused (%d)", turn_client_event_name(ev.type),
					 addr_format((const struct sockaddr *)&ev.addr, true, a), ev.code);
			break;
		case TURN_EV_DATA:
			deliver(n, &ev, now_ms);
			break;
		default:
			break;
		}
	}
	if (flush)
		flush_client(n);
}

static bool probe_answer(struct node *n, const uint8_t *buf, size_t len)
{
	return len >= 20 && stun_is_message(buf, len) && memcmp(buf + 8, n->relay.probe_tid, 12) == 0;
}

/* The answer to a probe names the address the server sees us from. When it
 * is not the allocation's any more (a NAT rebinding, a new local address),
 * the server drops what we send and sends to the old one: the allocation
 * is as good as lost. */
static bool mapping_moved(struct node *n, const uint8_t *buf, size_t len, char *why, size_t cap)
{
	struct stun_msg m;
	struct sockaddr_storage seen;
	const struct sockaddr *alloc = turn_client_mapped(&n->relay.tc);
	char a[ADDR_STRLEN], b[ADDR_STRLEN];

	if (stun_msg_parse(&m, buf, len) < 0 || m.cls != STUN_CLASS_SUCCESS || alloc->sa_family != AF_INET)
		return false;
	const struct stun_attr *x = stun_msg_find(&m, STUN_ATTR_XOR_MAPPED_ADDRESS);
	if (!x || stun_attr_get_addr(&m, x, &seen) < 0 || addr_equal((struct sockaddr *)&seen, alloc))
		return false;
	snprintf(why, cap, "our address toward the server changed from %s to %s", addr_format(alloc, true, a),
		 addr_format((struct sockaddr *)&seen, true, b));
	return true;
}

void relay_feed(struct node *n, const uint8_t *buf, size_t len, uint64_t now_ms)
{
	struct relay *r = &n->relay;

	r->last_rx_ms = now_ms;
	r->got_rx = true;
	if (r->transport == NODE_TURN_UDP) {
		if (probe_answer(n, buf, len)) {
			char why[160];
			if (r->phase == RELAY_READY && mapping_moved(n, buf, len, why, sizeof(why)))
				lost_how(n, now_ms, why, true); /* the server itself is fine */
			return;
		}
		bool chan = stun_is_channel_data(buf, len);
		turn_client_input(&r->tc, buf, len, now_ms);
		client_events(n, now_ms, !chan);
		return;
	}
	/* small pieces, so that the events of one piece fit the queue */
	for (size_t off = 0; off < len && r->tc_on;) {
		size_t k = len - off < RELAY_STREAM_FEED ? len - off : RELAY_STREAM_FEED;
		if (turn_client_input(&r->tc, buf + off, k, now_ms) == -EPROTO) {
			lost(n, now_ms, "the stream is not STUN/ChannelData");
			return;
		}
		off += k;
		client_events(n, now_ms, true);
	}
}

bool relay_udp_from_server(const struct node *n, const struct node_slot *s)
{
	const struct relay *r = &n->relay;

	return r->tc_on && r->transport == NODE_TURN_UDP &&
	       addr_equal((const struct sockaddr *)&s->addr, (const struct sockaddr *)&r->server);
}

bool relay_udp_input(struct node *n, struct node_slot *s, uint64_t now_ms)
{
	if (!relay_udp_from_server(n, s))
		return false;
	/* the same server may also answer our STUN Binding (gather.c) */
	if (stun_is_message(s->buf, s->len) &&
	    gather_stun_input(n, &s->addr, s->base_id, s->buf, s->len, now_ms))
		return true;
	relay_feed(n, s->buf, s->len, now_ms);
	return true;
}

void relay_stream_ready(struct node *n, uint64_t now_ms)
{
	if (client_start(n, now_ms) < 0)
		lost(n, now_ms, "cannot start a client");
}

void relay_stream_failed(struct node *n, uint64_t now_ms, const char *why)
{
	lost(n, now_ms, why);
}

static void probe(struct node *n, uint64_t now_ms)
{
	struct relay *r = &n->relay;
	struct stun_builder b;

	stun_tid_random(r->probe_tid);
	stun_build_init(&b, r->buf, r->buf_cap, STUN_METHOD_BINDING, STUN_CLASS_REQUEST, r->probe_tid);
	stun_build_fingerprint(&b);
	int len = stun_build_finish(&b);
	if (len > 0)
		out_raw(n, r->buf, (size_t)len);
	r->probe_ms = now_ms + RELAY_PROBE_IDLE_MS / 2;
}

void relay_tick(struct node *n, uint64_t now_ms)
{
	struct relay *r = &n->relay;

	switch (r->phase) {
	case RELAY_OFF:
		return;
	case RELAY_WAITING:
		if (now_ms >= r->deadline_ms)
			relay_start(n, now_ms);
		return;
	case RELAY_CONNECTING:
	case RELAY_ALLOCATING:
		if (r->broken) {
			lost(n, now_ms, "the connection broke");
			return;
		}
		if (now_ms >= r->deadline_ms) {
			if (r->transport == NODE_TURN_UDP && !r->got_rx)
				r->udp_timed_out = true;
			lost(n, now_ms, r->got_rx ? "no allocation in time" : "no answer");
			return;
		}
		break;
	case RELAY_READY:
		if (r->broken) {
			lost(n, now_ms, "the connection broke");
			return;
		}
		if (now_ms >= r->last_rx_ms + RELAY_DEAD_MS) {
			lost(n, now_ms, "the server went silent");
			return;
		}
		if (now_ms >= r->last_rx_ms + RELAY_PROBE_IDLE_MS && now_ms >= r->probe_ms)
			probe(n, now_ms);
		if (r->sync_ms && now_ms >= r->sync_ms)
			relay_sync_peers(n, now_ms);
		break;
	}
	if (r->tc_on && now_ms >= r->tc_timer) {
		turn_client_handle_timeout(&r->tc, now_ms);
		client_events(n, now_ms, true);
	}
}

uint64_t relay_deadline(const struct node *n)
{
	const struct relay *r = &n->relay;
	uint64_t d = UINT64_MAX;

	switch (r->phase) {
	case RELAY_OFF:
		return d;
	case RELAY_WAITING:
		return r->deadline_ms;
	case RELAY_CONNECTING:
	case RELAY_ALLOCATING:
		d = r->broken ? 0 : r->deadline_ms;
		break;
	case RELAY_READY: {
		if (r->broken)
			return 0;
		d = r->last_rx_ms + RELAY_DEAD_MS;
		uint64_t pd = r->last_rx_ms + RELAY_PROBE_IDLE_MS;
		if (pd < r->probe_ms)
			pd = r->probe_ms;
		if (pd < d)
			d = pd;
		if (r->sync_ms && r->sync_ms < d)
			d = r->sync_ms;
		break;
	}
	}
	if (r->tc_on) {
		uint64_t t = r->tc_timer;
		if (t < d)
			d = t;
	}
	return d;
}

bool relay_candidate(const struct node *n, struct sockaddr_in *relayed, struct sockaddr_in *mapped,
		     uint32_t *base_id)
{
	const struct relay *r = &n->relay;

	if (r->phase != RELAY_READY)
		return false;
	memcpy(relayed, turn_client_relayed(&r->tc), sizeof(*relayed));
	const struct sockaddr *m = turn_client_mapped(&r->tc);
	if (m->sa_family == AF_INET)
		memcpy(mapped, m, sizeof(*mapped));
	else
		*mapped = *relayed;
	*base_id = r->base_id;
	return true;
}

bool relay_server(const struct node *n, struct sockaddr_in *out)
{
	if (n->relay.phase != RELAY_READY)
		return false;
	*out = n->relay.server;
	return true;
}

int relay_send(struct node *n, uint32_t base_id, const struct sockaddr_in *dst, const uint8_t *buf, size_t len)
{
	struct relay *r = &n->relay;

	if (r->phase != RELAY_READY || base_id != r->base_id) {
		r->stats.tx_dropped++;
		return -ENETUNREACH;
	}
	int k = turn_client_send(&r->tc, (const struct sockaddr *)dst, buf, len, r->buf, r->buf_cap);
	if (k < 0) {
		r->stats.tx_dropped++;
		return k;
	}
	r->stats.tx_packets++;
	out_raw(n, r->buf, (size_t)k);
	return 0;
}

const struct sockaddr_in *relay_wrap(struct node *n, struct node_slot *s, uint32_t base_id,
				     const struct sockaddr_in *dst)
{
	struct relay *r = &n->relay;
	uint16_t chan;

	if (r->phase == RELAY_READY && base_id == r->base_id && r->transport == NODE_TURN_UDP &&
	    s->len + STUN_CHANNEL_HEADER_LEN <= n->slot_cap &&
	    (chan = channel_of(r, dst)) != 0) {
		memmove(s->buf + STUN_CHANNEL_HEADER_LEN, s->buf, s->len);
		stun_chan_header(s->buf, chan, (uint16_t)s->len, false);
		s->len += STUN_CHANNEL_HEADER_LEN;
		r->stats.tx_packets++;
		return &r->server;
	}
	relay_send(n, base_id, dst, s->buf, s->len);
	return NULL;
}

static bool wanted(const struct node *n, const struct sockaddr *a)
{
	for (unsigned i = 0; i < n->npeers; i++) {
		const struct peer *p = n->peers[i];
		if (!p->ice_on)
			continue;
		for (unsigned j = 0; j < p->ice.nremote; j++)
			if (addr_equal((const struct sockaddr *)&p->ice.remote[j].addr, a))
				return true;
	}
	return false;
}

/* Stops refreshing channels no link uses any more. Only when the table is
 * full: the server keeps a channel for 10 minutes, and binding the same
 * address again within them under a new number is refused (400). */
static unsigned evict_unwanted(struct node *n)
{
	struct relay *r = &n->relay;
	struct sockaddr_storage gone[TURN_CLIENT_MAX_PEERS];
	unsigned ngone = 0;

	for (unsigned i = 0; i < TURN_CLIENT_MAX_PEERS; i++)
		if (turn_client_peer_at(&r->tc, i, &gone[ngone]) && !wanted(n, (const struct sockaddr *)&gone[ngone]))
			ngone++;
	for (unsigned i = 0; i < ngone; i++)
		turn_client_remove_peer(&r->tc, (const struct sockaddr *)&gone[i]);
	return ngone;
}

/* Binds channels to the remote candidates of every link: the host ones
 * (hosts == true) or the others. */
static void bind_remotes(struct node *n, bool hosts, uint64_t now_ms)
{
	struct relay *r = &n->relay;
	bool evicted = false;

	for (unsigned i = 0; i < n->npeers; i++) {
		const struct peer *p = n->peers[i];
		if (!p->ice_on)
			continue;
		for (unsigned j = 0; j < p->ice.nremote; j++) {
			const struct sockaddr *a = (const struct sockaddr *)&p->ice.remote[j].addr;
			if ((p->ice.remote[j].type == ICE_CAND_HOST) != hosts || a->sa_family != AF_INET ||
			    turn_client_has_peer(&r->tc, a))
				continue;
			int rc = turn_client_bind_channel(&r->tc, a, now_ms);
			if (rc == -ENOSPC && !evicted) {
				evicted = true;
				if (evict_unwanted(n))
					rc = turn_client_bind_channel(&r->tc, a, now_ms);
			}
			if (rc == -EBUSY)
				r->sync_ms = now_ms + RELAY_SYNC_RETRY_MS;
			else if (rc < 0)
				log_debug("relay: no channel for a candidate of %s: %s", p->jid, strerror(-rc));
		}
	}
}

void relay_sync_peers(struct node *n, uint64_t now_ms)
{
	struct relay *r = &n->relay;

	r->sync_ms = 0;
	if (r->phase != RELAY_READY)
		return;
	/* reflexive and relayed addresses first: the table is small, and a
	 * remote host address is rarely reachable from the relay */
	bind_remotes(n, false, now_ms);
	bind_remotes(n, true, now_ms);
	flush_client(n);
}
