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
#include "bases.h"
#include "relay_stream.h"
#include "stun_chan.h"
#include "stun_msg.h"

static const char *transport_name(enum node_turn_transport t)
{
	return node_turn_transport_name(t);
}

const char *relay_transport_name(const struct bases *b)
{
	return transport_name(b->relay.transport);
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
static void build_attempts(struct bases *b, unsigned start)
{
	struct relay *r = &b->relay;
	unsigned nt = b->nturn;

	r->nattempts = r->tried = 0;
	for (unsigned i = 0; i < nt; i++) {
		const struct bases_turn_srv *t = &b->turn_srv[(start + i) % nt];
		add_attempt(r, (start + i) % nt, t->transport, t->port ? t->port : default_port(t->transport), false);
	}
	for (unsigned i = 0; i < nt; i++) {
		unsigned e = (start + i) % nt;
		const struct bases_turn_srv *t = &b->turn_srv[e];
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

static void out_raw_df(struct bases *b, const uint8_t *buf, size_t len, bool df)
{
	struct relay *r = &b->relay;

	if (r->transport == NODE_TURN_UDP)
		udp_send_opt(b, LINK_BASE_ANY, &r->server, buf, len, 0, df);
	else if (relay_stream_write(b, buf, len) < 0)
		r->stats.tx_dropped++;
}

static void out_raw(struct bases *b, const uint8_t *buf, size_t len)
{
	out_raw_df(b, buf, len, false);
}

static void flush_client(struct bases *b)
{
	struct relay *r = &b->relay;
	int len;

	while (r->tc_on && (len = turn_client_poll_transmit(&r->tc, r->buf, r->buf_cap)) > 0)
		out_raw(b, r->buf, (size_t)len);
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

static void teardown(struct bases *b)
{
	struct relay *r = &b->relay;

	relay_stream_close(b);
	if (r->tc_on)
		turn_client_free(&r->tc);
	r->tc_on = false;
	r->tc_timer = UINT64_MAX;
	r->chan_cache = 0;
}

static int client_start(struct bases *b, uint64_t now_ms)
{
	struct relay *r = &b->relay;
	const struct bases_turn_srv *t = &b->turn_srv[r->attempts[r->cur].entry];
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
	flush_client(b);
	return 0;
}

/* Links that lost their path with the old allocation restart ICE now:
 * with the new relayed candidate, or without any. */
static void settled(struct bases *b, uint64_t now_ms)
{
	if (b->ops.relay_settled)
		b->ops.relay_settled(b->ops.ctx, now_ms);
}

/* The next attempt in the list, or WAITING when none is left. */
static void attempt_next(struct bases *b, uint64_t now_ms)
{
	struct relay *r = &b->relay;
	char a[ADDR_STRLEN];

	teardown(b);
	while (r->tried < r->nattempts) {
		r->cur = r->tried++;
		const struct relay_attempt *at = &r->attempts[r->cur];
		const struct bases_turn_srv *t = &b->turn_srv[at->entry];
		if (at->fallback && !r->udp_timed_out)
			continue;
		if (!t->user[0]) {
			log_info("relay: %s:%u has no credentials yet (config.json gives none: waiting for the XMPP "
				 "server's)", t->host, t->port);
			continue;
		}
		if (resolve(t->host, at->port, &r->server) < 0) {
			log_warn("relay: cannot resolve TURN server %s", t->host);
			continue;
		}
		r->transport = at->transport;
		snprintf(r->cur_host, sizeof(r->cur_host), "%s", t->host);
		r->cur_port = at->port;
		r->redirected = false;
		r->got_rx = false;
		snprintf(r->server_name, sizeof(r->server_name), "%s (%s%s)",
			 addr_format((struct sockaddr *)&r->server, true, a), transport_name(at->transport),
			 at->fallback ? ", UDP fallback" : "");
		log_info("relay: allocating on %s", r->server_name);
		if (at->transport == NODE_TURN_UDP) {
			r->deadline_ms = now_ms + RELAY_UDP_ATTEMPT_MS;
			if (client_start(b, now_ms) == 0)
				return;
		} else {
			r->deadline_ms = now_ms + RELAY_STREAM_ATTEMPT_MS;
			r->phase = RELAY_CONNECTING;
			if (relay_stream_open(b, t->ca_file, t->host) == 0)
				return;
		}
		teardown(b);
	}
	r->phase = RELAY_WAITING;
	r->deadline_ms = now_ms + RELAY_RETRY_MS;
	log_warn("relay: no TURN server gave an allocation; no relayed candidate (retry in %d s)",
		 RELAY_RETRY_MS / 1000);
	settled(b, now_ms);
}

void relay_start(struct bases *b, uint64_t now_ms)
{
	if (b->nturn == 0)
		return;
	build_attempts(b, randombytes_uniform(b->nturn));
	attempt_next(b, now_ms);
}

void relay_servers_changed(struct bases *b, bool servers_changed, uint64_t now_ms)
{
	struct relay *r = &b->relay;

	if (!r->inited || !b->started)
		return;
	switch (r->phase) {
	case RELAY_OFF:
	case RELAY_WAITING: /* new servers or fresh credentials: try now */
		relay_start(b, now_ms);
		return;
	default:
		break;
	}
	if (!servers_changed)
		return; /* same entries: the next allocation takes the new credentials */
	/* Keep the allocation (or attempt) under way; failover goes on from
	 * its server in the new list, or from the start if it is gone. */
	for (unsigned i = 0; i < b->nturn; i++) {
		const struct bases_turn_srv *t = &b->turn_srv[i];
		if (t->transport == r->transport && strcmp(t->host, r->cur_host) == 0 && t->port == r->cur_port) {
			build_attempts(b, i);
			r->cur = 0;
			r->tried = 1;
			return;
		}
	}
	build_attempts(b, 0);
	r->cur = 0;
	r->tried = 0;
}

int relay_init(struct bases *b)
{
	struct relay *r = &b->relay;

	memset(r, 0, sizeof(*r));
	r->fd = -1;
	r->inited = true;
	r->buf_cap = b->slot_cap + 256;
	r->buf = malloc(r->buf_cap);
	r->slot = malloc(b->slot_cap);
	if (!r->buf || !r->slot)
		return -ENOMEM;
	return relay_stream_init(b);
}

void relay_free(struct bases *b)
{
	struct relay *r = &b->relay;

	if (!r->inited)
		return;
	if (r->phase == RELAY_READY && r->tc_on && turn_client_close(&r->tc, evloop_now_ms()) == 0) {
		/* best effort: the server frees the allocation now, not in 10 minutes */
		flush_client(b);
		log_info("relay: allocation on %s released", r->server_name);
	}
	teardown(b);
	relay_stream_free(b);
	free(r->buf);
	free(r->slot);
	r->buf = NULL;
	r->slot = NULL;
}

/* The allocation (or the attempt) is gone: fail its pairs, move on (to
 * the next server, or the same one first when it is fine: retry_same). */
static void lost_how(struct bases *b, uint64_t now_ms, const char *why, bool retry_same)
{
	struct relay *r = &b->relay;

	if (r->phase == RELAY_READY) {
		log_warn("relay: allocation on %s lost (%s); failing over", r->server_name, why);
		r->stats.failovers++;
		r->phase = RELAY_ALLOCATING; /* no relayed candidate from now on */
		if (b->ops.relay_lost)
			b->ops.relay_lost(b->ops.ctx, r->base_id, now_ms);
		build_attempts(b, b->nturn ? (r->attempts[r->cur].entry + (retry_same ? 0 : 1)) % b->nturn : 0);
	} else {
		log_warn("relay: %s: %s", r->server_name, why);
	}
	attempt_next(b, now_ms);
}

static void lost(struct bases *b, uint64_t now_ms, const char *why)
{
	lost_how(b, now_ms, why, false);
}

static void on_allocated(struct bases *b, const struct turn_client_event *ev, uint64_t now_ms)
{
	struct relay *r = &b->relay;
	char a[ADDR_STRLEN], bb[ADDR_STRLEN];

	if (ev->addr.ss_family != AF_INET) {
		lost(b, now_ms, "relayed address is not IPv4");
		return;
	}
	r->phase = RELAY_READY;
	r->base_id = LINK_RELAY_BASE + (++r->gen & 0xffff);
	r->last_rx_ms = now_ms;
	r->probe_ms = 0;
	if (r->transport != NODE_TURN_UDP && r->udp_timed_out)
		r->udp_blocked = true;
	if (r->transport == NODE_TURN_UDP)
		r->udp_timed_out = r->udp_blocked = false;
	log_info("relay: relayed candidate %s on %s (lifetime %u s, mapped %s)",
		 addr_format((const struct sockaddr *)&ev->addr, true, a), r->server_name, ev->lifetime,
		 addr_format(turn_client_mapped(&r->tc), true, bb));
	if (r->transport == NODE_TURN_UDP && turn_client_mapped(&r->tc)->sa_family == AF_INET) {
		struct sockaddr_in m;
		memcpy(&m, turn_client_mapped(&r->tc), sizeof(m));
		natkind_seen(b, &r->server, &m, now_ms); /* a second view of our mapping */
	}
	if (b->ops.relay_sync)
		b->ops.relay_sync(b->ops.ctx, now_ms);
	if (b->ops.cands_changed)
		b->ops.cands_changed(b->ops.ctx, now_ms);
	settled(b, now_ms);
}

/* One relayed datagram from peer: into the receive path as if it had
 * arrived on the relay base from that address. */
static void deliver(struct bases *b, const struct turn_client_event *ev, uint64_t now_ms)
{
	struct relay *r = &b->relay;

	struct sockaddr_in from;

	if (ev->addr.ss_family != AF_INET || ev->len == 0 || ev->len > b->slot_cap) {
		b->cnt.relay_rx_trunc++;
		return;
	}
	/* The receive path opens packets in place: a copy of our own, so
	 * the client's buffer stays as it is. */
	memcpy(r->slot, ev->data, ev->len);
	memcpy(&from, &ev->addr, sizeof(from));
	r->stats.rx_packets++;
	if (b->ops.relayed)
		b->ops.relayed(b->ops.ctx, r->base_id, &from, r->slot, ev->len, b->slot_cap, now_ms);
}

/* A 300 to the Allocate: one redirect per attempt is followed, with the
 * same transport and credentials. */
static void follow_redirect(struct bases *b, const struct turn_client_event *ev, uint64_t now_ms)
{
	struct relay *r = &b->relay;
	char a[ADDR_STRLEN];

	if (r->redirected || ev->addr.ss_family != AF_INET || r->phase != RELAY_ALLOCATING) {
		lost(b, now_ms, "redirected again (300); giving up on it");
		return;
	}
	log_info("relay: %s redirects to %s (300 ALTERNATE-SERVER)", r->server_name,
		 addr_format((const struct sockaddr *)&ev->addr, true, a));
	teardown(b);
	memcpy(&r->server, &ev->addr, sizeof(r->server));
	r->redirected = true;
	snprintf(r->server_name, sizeof(r->server_name), "%s (%s)", addr_format((struct sockaddr *)&r->server, true, a),
		 transport_name(r->transport));
	if (r->transport == NODE_TURN_UDP) {
		if (client_start(b, now_ms) < 0)
			lost(b, now_ms, "cannot start a client");
		return;
	}
	r->phase = RELAY_CONNECTING;
	if (relay_stream_open(b, b->turn_srv[r->attempts[r->cur].entry].ca_file, NULL) < 0)
		lost(b, now_ms, "cannot connect to the alternate server");
}

static void client_failed(struct bases *b, const struct turn_client_event *ev, uint64_t now_ms)
{
	char why[96];

	if (ev->code == -ETIMEDOUT)
		snprintf(why, sizeof(why), "no answer");
	else
		snprintf(why, sizeof(why), "refused: %d %s", ev->code, stun_error_reason(ev->code));
	lost(b, now_ms, why);
}

/* Handles the client's events; then sends what it queued and re-reads its
 * timer, unless only ChannelData came in (which changes neither). */
static void client_events(struct bases *b, uint64_t now_ms, bool flush)
{
	struct relay *r = &b->relay;
	struct turn_client_event ev;
	char a[ADDR_STRLEN];

	while (r->tc_on && turn_client_poll_event(&r->tc, &ev)) {
		switch (ev.type) {
		case TURN_EV_ALLOCATED:
			on_allocated(b, &ev, now_ms);
			break;
		case TURN_EV_FAILED:
			client_failed(b, &ev, now_ms);
			return; /* the client was replaced */
		case TURN_EV_REDIRECT:
			follow_redirect(b, &ev, now_ms);
			return;
		case TURN_EV_CHANNEL:
		case TURN_EV_PERMISSION:
			if (ev.code)
				log_info("relay: %s for %s refused (%d)", turn_client_event_name(ev.type),
					 addr_format((const struct sockaddr *)&ev.addr, true, a), ev.code);
			if (ev.code == STUN_ERR_UNAUTHORIZED || ev.code == TURN_ERR_WRONG_CREDENTIALS) {
				/* short-lived credentials expired: a new allocation with
				 * the latest ones, on the same server */
				lost_how(b, now_ms, "credentials no longer accepted", true);
				return;
			}
			break;
		case TURN_EV_DATA:
			deliver(b, &ev, now_ms);
			break;
		default:
			break;
		}
	}
	if (flush)
		flush_client(b);
}

static bool probe_answer(struct bases *b, const uint8_t *buf, size_t len)
{
	return len >= 20 && stun_is_message(buf, len) && memcmp(buf + 8, b->relay.probe_tid, 12) == 0;
}

/* The answer to a probe names the address the server sees us from. When it
 * is not the allocation's any more (a NAT rebinding, a new local address),
 * the server drops what we send and sends to the old one: the allocation
 * is as good as lost. */
static bool mapping_moved(struct bases *b, const uint8_t *buf, size_t len, char *why, size_t cap)
{
	struct stun_msg m;
	struct sockaddr_storage seen;
	const struct sockaddr *alloc = turn_client_mapped(&b->relay.tc);
	char a[ADDR_STRLEN], bb[ADDR_STRLEN];

	if (stun_msg_parse(&m, buf, len) < 0 || m.cls != STUN_CLASS_SUCCESS || alloc->sa_family != AF_INET)
		return false;
	const struct stun_attr *x = stun_msg_find(&m, STUN_ATTR_XOR_MAPPED_ADDRESS);
	if (!x || stun_attr_get_addr(&m, x, &seen) < 0 || addr_equal((struct sockaddr *)&seen, alloc))
		return false;
	snprintf(why, cap, "our address toward the server changed from %s to %s", addr_format(alloc, true, a),
		 addr_format((struct sockaddr *)&seen, true, bb));
	return true;
}

void relay_feed(struct bases *b, const uint8_t *buf, size_t len, uint64_t now_ms)
{
	struct relay *r = &b->relay;

	r->last_rx_ms = now_ms;
	r->got_rx = true;
	if (r->transport == NODE_TURN_UDP) {
		if (probe_answer(b, buf, len)) {
			char why[160];
			if (r->phase == RELAY_READY && mapping_moved(b, buf, len, why, sizeof(why)))
				lost_how(b, now_ms, why, true); /* the server itself is fine */
			return;
		}
		bool chan = stun_is_channel_data(buf, len);
		turn_client_input(&r->tc, buf, len, now_ms);
		client_events(b, now_ms, !chan);
		return;
	}
	/* small pieces, so that the events of one piece fit the queue */
	for (size_t off = 0; off < len && r->tc_on;) {
		size_t k = len - off < RELAY_STREAM_FEED ? len - off : RELAY_STREAM_FEED;
		if (turn_client_input(&r->tc, buf + off, k, now_ms) == -EPROTO) {
			lost(b, now_ms, "the stream is not STUN/ChannelData");
			return;
		}
		off += k;
		client_events(b, now_ms, true);
	}
}

bool relay_udp_from_server(const struct bases *b, const struct sockaddr_in *from)
{
	const struct relay *r = &b->relay;

	return r->tc_on && r->transport == NODE_TURN_UDP &&
	       addr_equal((const struct sockaddr *)from, (const struct sockaddr *)&r->server);
}

bool relay_udp_input(struct bases *b, const struct sockaddr_in *from, uint32_t base_id, const uint8_t *buf,
		     size_t len, uint64_t now_ms)
{
	if (!relay_udp_from_server(b, from))
		return false;
	/* the same server may also answer our STUN Binding (gather.c) */
	if (stun_is_message(buf, len) && gather_stun_input(b, from, base_id, buf, len, now_ms))
		return true;
	relay_feed(b, buf, len, now_ms);
	return true;
}

void relay_stream_ready(struct bases *b, uint64_t now_ms)
{
	if (client_start(b, now_ms) < 0)
		lost(b, now_ms, "cannot start a client");
}

void relay_stream_failed(struct bases *b, uint64_t now_ms, const char *why)
{
	lost(b, now_ms, why);
}

static void probe(struct bases *b, uint64_t now_ms)
{
	struct relay *r = &b->relay;
	struct stun_builder sb;

	stun_tid_random(r->probe_tid);
	stun_build_init(&sb, r->buf, r->buf_cap, STUN_METHOD_BINDING, STUN_CLASS_REQUEST, r->probe_tid);
	stun_build_fingerprint(&sb);
	int len = stun_build_finish(&sb);
	if (len > 0)
		out_raw(b, r->buf, (size_t)len);
	r->probe_ms = now_ms + RELAY_PROBE_IDLE_MS / 2;
}

void relay_tick(struct bases *b, uint64_t now_ms)
{
	struct relay *r = &b->relay;

	switch (r->phase) {
	case RELAY_OFF:
		return;
	case RELAY_WAITING:
		if (now_ms >= r->deadline_ms)
			relay_start(b, now_ms);
		return;
	case RELAY_CONNECTING:
	case RELAY_ALLOCATING:
		if (r->broken) {
			lost(b, now_ms, "the connection broke");
			return;
		}
		if (now_ms >= r->deadline_ms) {
			if (r->transport == NODE_TURN_UDP && !r->got_rx)
				r->udp_timed_out = true;
			lost(b, now_ms, r->got_rx ? "no allocation in time" : "no answer");
			return;
		}
		break;
	case RELAY_READY:
		if (r->broken) {
			lost(b, now_ms, "the connection broke");
			return;
		}
		if (now_ms >= r->last_rx_ms + RELAY_DEAD_MS) {
			lost(b, now_ms, "the server went silent");
			return;
		}
		if (now_ms >= r->last_rx_ms + RELAY_PROBE_IDLE_MS && now_ms >= r->probe_ms)
			probe(b, now_ms);
		if (r->sync_ms && now_ms >= r->sync_ms) {
			r->sync_ms = 0;
			if (b->ops.relay_sync)
				b->ops.relay_sync(b->ops.ctx, now_ms);
		}
		break;
	}
	if (r->tc_on && now_ms >= r->tc_timer) {
		turn_client_handle_timeout(&r->tc, now_ms);
		client_events(b, now_ms, true);
	}
}

uint64_t relay_deadline(const struct bases *b)
{
	const struct relay *r = &b->relay;
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

bool relay_candidate(const struct bases *b, struct sockaddr_in *relayed, struct sockaddr_in *mapped,
		     uint32_t *base_id)
{
	const struct relay *r = &b->relay;

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

bool relay_server(const struct bases *b, struct sockaddr_in *out)
{
	if (b->relay.phase != RELAY_READY)
		return false;
	*out = b->relay.server;
	return true;
}

int relay_send(struct bases *b, uint32_t base_id, const struct sockaddr_in *dst, const uint8_t *buf, size_t len)
{
	return relay_send_df(b, base_id, dst, buf, len, false);
}

int relay_send_df(struct bases *b, uint32_t base_id, const struct sockaddr_in *dst, const uint8_t *buf, size_t len,
		  bool df)
{
	struct relay *r = &b->relay;

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
	out_raw_df(b, r->buf, (size_t)k, df);
	return 0;
}

const struct sockaddr_in *relay_wrap(struct bases *b, uint8_t *buf, size_t *len, uint32_t base_id,
				     const struct sockaddr_in *dst)
{
	struct relay *r = &b->relay;
	uint16_t chan;

	if (r->phase == RELAY_READY && base_id == r->base_id && r->transport == NODE_TURN_UDP &&
	    *len + STUN_CHANNEL_HEADER_LEN <= b->slot_cap && (chan = channel_of(r, dst)) != 0) {
		memmove(buf + STUN_CHANNEL_HEADER_LEN, buf, *len);
		stun_chan_header(buf, chan, (uint16_t)*len, false);
		*len += STUN_CHANNEL_HEADER_LEN;
		r->stats.tx_packets++;
		return &r->server;
	}
	relay_send(b, base_id, dst, buf, *len);
	return NULL;
}

static bool wanted(const struct sockaddr_in *addrs, unsigned n, const struct sockaddr *a)
{
	for (unsigned i = 0; i < n; i++)
		if (addr_equal((const struct sockaddr *)&addrs[i], a))
			return true;
	return false;
}

/* Stops refreshing channels no link uses any more. Only when the table is
 * full: the server keeps a channel for 10 minutes, and binding the same
 * address again within them under a new number is refused (400). */
static unsigned evict_unwanted(struct bases *b, const struct sockaddr_in *addrs, unsigned n)
{
	struct relay *r = &b->relay;
	struct sockaddr_storage gone[TURN_CLIENT_MAX_PEERS];
	unsigned ngone = 0;

	for (unsigned i = 0; i < TURN_CLIENT_MAX_PEERS; i++)
		if (turn_client_peer_at(&r->tc, i, &gone[ngone]) &&
		    !wanted(addrs, n, (const struct sockaddr *)&gone[ngone]))
			ngone++;
	for (unsigned i = 0; i < ngone; i++)
		turn_client_remove_peer(&r->tc, (const struct sockaddr *)&gone[i]);
	return ngone;
}

void relay_sync(struct bases *b, const struct sockaddr_in *addrs, unsigned n, uint64_t now_ms)
{
	struct relay *r = &b->relay;
	bool evicted = false;
	char a[ADDR_STRLEN];

	r->sync_ms = 0;
	if (r->phase != RELAY_READY)
		return;
	for (unsigned i = 0; i < n; i++) {
		const struct sockaddr *sa = (const struct sockaddr *)&addrs[i];
		if (turn_client_has_peer(&r->tc, sa))
			continue;
		int rc = turn_client_bind_channel(&r->tc, sa, now_ms);
		if (rc == -ENOSPC && !evicted) {
			evicted = true;
			if (evict_unwanted(b, addrs, n))
				rc = turn_client_bind_channel(&r->tc, sa, now_ms);
		}
		if (rc == -EBUSY)
			r->sync_ms = now_ms + RELAY_SYNC_RETRY_MS;
		else if (rc < 0)
			log_debug("relay: no channel for %s: %s", addr_format(sa, true, a), strerror(-rc));
	}
	flush_client(b);
}
