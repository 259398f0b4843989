/* A link's round-trip time from tunnel probes (see rtt.h). */
#include <string.h>

#include "addr.h"
#include "link.h"
#include "links.h"
#include "log.h"
#include "rtt.h"
#include "tick.h"
#include "tunnel_packet.h"

void rtt_est_reset(struct rtt_est *e)
{
	memset(e, 0, sizeof(*e));
}

static uint64_t min64(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

static uint64_t max64(uint64_t a, uint64_t b)
{
	return a > b ? a : b;
}

/* The median of the last three round trips, or the smaller of two. */
static uint64_t filtered(const struct rtt_est *e)
{
	const uint64_t *v = e->recent;
	if (e->samples < 2)
		return v[0];
	if (e->samples == 2)
		return min64(v[0], v[1]);
	return max64(min64(v[0], v[1]), min64(max64(v[0], v[1]), v[2]));
}

void rtt_est_sample(struct rtt_est *e, uint64_t rtt, uint64_t now_ms)
{
	e->recent[2] = e->recent[1];
	e->recent[1] = e->recent[0];
	e->recent[0] = rtt;
	e->min_us = e->samples ? min64(e->min_us, rtt) : rtt;
	e->last_us = rtt;
	e->at_ms = now_ms;
	e->samples++;
	uint64_t r = filtered(e);
	if (e->samples < 3) {
		e->srtt_us = r;
		e->rttvar_us = r / 2;
		return;
	}
	uint64_t dev = e->srtt_us > r ? e->srtt_us - r : r - e->srtt_us;
	/* signed steps in unsigned arithmetic: x += (y - x) / k */
	e->rttvar_us = e->rttvar_us - e->rttvar_us / 4 + dev / 4;
	e->srtt_us = e->srtt_us - e->srtt_us / 8 + r / 8;
}

static bool same_path(const struct link_rtt *r, const struct link *l)
{
	return r->have_path && r->base_id == l->base_id &&
	       addr_equal((const struct sockaddr *)&r->endpoint, (const struct sockaddr *)&l->endpoint);
}

/* The estimate belongs to one path: on another one it starts over, and a
 * ping goes at once. */
static void follow_path(struct link_rtt *r, const struct link *l, uint64_t now_ms)
{
	if (same_path(r, l))
		return;
	if (r->est.samples)
		log_debug("peer %s: path changed; RTT measured again", l->jid);
	rtt_est_reset(&r->est);
	r->have_path = true;
	r->base_id = l->base_id;
	r->endpoint = l->endpoint;
	r->sent_us = 0;
	r->next_ms = now_ms + LINK_RTT_FIRST_MS;
	r->data_ms = now_ms ? now_ms : 1; /* a new path counts as busy for a while */
}

/* Whether data packets (not probes) moved either way lately. */
static bool carries_data(struct link_rtt *r, const struct link *l, uint64_t now_ms)
{
	uint64_t seen = l->tx_packets + l->rx_packets;

	if (seen != r->data_seen) {
		r->data_seen = seen;
		r->data_ms = now_ms ? now_ms : 1;
	}
	return now_ms - r->data_ms < LINK_RTT_IDLE_AFTER_MS;
}

void link_rtt_tick(struct link *l, uint64_t now_ms, uint64_t *deadline)
{
	struct link_rtt *r = &l->rtt;

	if (l->state != LINK_UP || !l->have_path || !l->peer_probes) {
		r->ping_due = false;
		return;
	}
	follow_path(r, l, now_ms);
	uint64_t every = carries_data(r, l, now_ms) ? LINK_RTT_PROBE_MS : LINK_RTT_IDLE_PROBE_MS;
	/* On the whole second at or before now + every (tick.h), so that a
	 * probe shares the wakeup of the link timers and consent checks. */
	uint64_t at = tick_start(now_ms + every);
	if (now_ms >= r->next_ms) {
		r->ping_due = true;
		r->next_ms = at;
	} else if (r->next_ms > at) {
		r->next_ms = at; /* traffic again after a quiet spell */
	}
	if (r->next_ms < *deadline)
		*deadline = r->next_ms;
}

static bool seal_probe(struct link *l, struct link_tx *tx, uint8_t *buf, size_t cap, enum tunnel_probe_type type,
		       uint32_t seq, uint64_t now_us)
{
	struct tunnel_probe p = { .type = (uint8_t)type };
	struct tunnel_buf b = { .data = buf, .len = sizeof(p), .cap = cap };

	if (!l->have_path || cap < TUNNEL_DATA_MIN_LEN + sizeof(p))
		return false;
	tunnel_put_le32(p.seq, seq);
	memcpy(buf + TUNNEL_DATA_HEADER_LEN, &p, sizeof(p));
	if (tunnel_seal_batch(&l->sess, &b, 1, now_us / 1000, NULL) != 1)
		return false;
	tx->base_id = l->base_id;
	tx->dst = l->endpoint;
	tx->data = buf;
	tx->len = b.len;
	tx->ttl = 0; /* the socket's, like any data */
	tx->df = false;
	return true;
}

bool link_poll_probe(struct link *l, struct link_tx *tx, uint8_t *buf, size_t cap, uint64_t now_us)
{
	struct link_rtt *r = &l->rtt;

	if (r->pong_owed) {
		r->pong_owed = false;
		if (seal_probe(l, tx, buf, cap, TUNNEL_PROBE_PONG, r->pong_seq, now_us)) {
			r->pongs_tx++;
			return true;
		}
	}
	if (!r->ping_due || l->state != LINK_UP)
		return false;
	/* No send key yet (a responder waits for the initiator's first
	 * packet): the ping stays due and goes with the link's next output. */
	if (!seal_probe(l, tx, buf, cap, TUNNEL_PROBE_PING, r->seq + 1, now_us))
		return false;
	r->ping_due = false;
	r->seq++;
	r->sent_us = now_us ? now_us : 1;
	r->pings_tx++;
	return true;
}

bool link_probe_is(const uint8_t *payload, size_t len)
{
	return len > 0 && payload[0] == 0;
}

void link_probe_rx(struct link *l, const uint8_t *payload, size_t len, uint64_t now_us)
{
	struct link_rtt *r = &l->rtt;
	struct tunnel_probe p;

	if (len < sizeof(p))
		return;
	memcpy(&p, payload, sizeof(p));
	uint32_t seq = tunnel_get_le32(p.seq);
	if (p.type == TUNNEL_PROBE_PING) {
		r->pong_owed = true; /* a newer ping replaces an older one not yet answered */
		r->pong_seq = seq;
		links_mark_dirty(l->tab, l);
		return;
	}
	if (p.type != TUNNEL_PROBE_PONG)
		return;
	/* Only the pong of the last ping counts: an older one (its ping was
	 * overtaken) would pair with the wrong send time, and one whose ping
	 * left on a path the link has left since measures that path. */
	if (!r->sent_us || seq != r->seq || now_us < r->sent_us || !same_path(r, l)) {
		r->pongs_stale++;
		return;
	}
	rtt_est_sample(&r->est, now_us - r->sent_us, now_us / 1000);
	r->sent_us = 0;
	r->pongs_rx++;
}
