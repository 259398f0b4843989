/* Session keypairs and rekey timers, see session.h. */
#include "session.h"

#include <errno.h>
#include <stddef.h>
#include <string.h>

#include <sodium.h>

_Static_assert(offsetof(struct session_peer, noise) == 0, "session_from_noise");

static void kp_wipe(struct session_keypair *kp)
{
	sodium_memzero(kp, sizeof(*kp));
}

void session_peer_init(struct session_peer *p, const uint8_t remote_static[NOISE_KEY_LEN])
{
	memset(p, 0, sizeof(*p));
	noise_peer_init(&p->noise, remote_static);
}

void session_peer_wipe(struct session_peer *p)
{
	sodium_memzero(p, sizeof(*p));
}

struct session_peer *session_from_noise(struct noise_peer *np)
{
	return (struct session_peer *)(void *)np;
}

static uint64_t age(const struct session_keypair *kp, uint64_t now_ms)
{
	return now_ms >= kp->created_ms ? now_ms - kp->created_ms : 0;
}

static bool kp_alive(const struct session_keypair *kp, uint64_t now_ms)
{
	return kp->valid && age(kp, now_ms) < SESSION_REJECT_AFTER_TIME_MS;
}

void session_install(struct session_peer *p, struct noise_keys *keys, uint64_t now_ms)
{
	struct session_keypair kp;

	memset(&kp, 0, sizeof(kp));
	kp.valid = true;
	kp.initiator = keys->initiator;
	kp.confirmed = keys->initiator;
	memcpy(kp.send_key, keys->send, NOISE_KEY_LEN);
	memcpy(kp.recv_key, keys->recv, NOISE_KEY_LEN);
	kp.local_index = keys->local_index;
	kp.remote_index = keys->remote_index;
	kp.created_ms = now_ms;
	replay_init(&kp.replay);
	noise_keys_wipe(keys);

	if (kp.initiator) {
		kp_wipe(&p->previous);
		p->previous = p->current;
		p->current = kp;
		p->need_keepalive = true;
		p->hs_attempting = false;
	} else {
		kp_wipe(&p->next);
		p->next = kp;
	}
	sodium_memzero(&kp, sizeof(kp));
}

int session_initiate(struct noise_local *l, struct session_peer *p, uint32_t local_index, uint64_t now_ms,
		     uint64_t wall_ns, uint8_t *out, size_t cap, size_t *out_len)
{
	int rc = noise_create_initiation(l, &p->noise, local_index, now_ms, wall_ns, out, cap, out_len);

	if (rc == 0 && !p->hs_attempting) {
		p->hs_attempting = true;
		p->hs_attempt_start_ms = now_ms;
	}
	return rc;
}

int session_respond(struct noise_local *l, const uint8_t *msg, size_t len, const struct cookie_src *src,
		    uint64_t now_ms, noise_lookup_fn lookup,
		    void *ctx, uint32_t local_index, uint8_t *out, size_t cap, size_t *out_len,
		    struct session_peer **peer_out)
{
	struct noise_handshake hs;
	struct noise_peer *np = NULL;
	struct noise_keys keys;
	uint32_t remote_index;
	int rc;

	if (cap < TUNNEL_RESPONSE_LEN)
		return -ENOBUFS;
	rc = noise_consume_initiation(l, msg, len, src, now_ms, lookup, ctx, &np, &hs, &remote_index);
	if (rc != 0)
		return rc;
	rc = noise_create_response(l, np, &hs, local_index, remote_index, out, cap, out_len, &keys);
	noise_handshake_wipe(&hs);
	if (rc != 0)
		return rc;
	*peer_out = session_from_noise(np);
	session_install(*peer_out, &keys, now_ms);
	return 0;
}

int session_handle_response(struct noise_local *l, struct session_peer *p, const uint8_t *msg, size_t len,
			    uint64_t now_ms)
{
	struct noise_keys keys;
	int rc = noise_consume_response(l, &p->noise, msg, len, &keys);

	if (rc != 0)
		return rc;
	session_install(p, &keys, now_ms);
	return 0;
}

struct session_keypair *session_send_keypair(struct session_peer *p, uint64_t now_ms)
{
	struct session_keypair *kp = &p->current;

	if (!kp_alive(kp, now_ms) || !kp->confirmed || kp->send_counter >= SESSION_REJECT_AFTER_MESSAGES)
		return NULL;
	return kp;
}

struct session_keypair *session_recv_keypair(struct session_peer *p, uint32_t index, uint64_t now_ms)
{
	struct session_keypair *all[3] = { &p->current, &p->next, &p->previous };

	for (size_t i = 0; i < 3; i++)
		if (all[i]->valid && all[i]->local_index == index)
			return kp_alive(all[i], now_ms) ? all[i] : NULL;
	return NULL;
}

bool session_owns_index(const struct session_peer *p, uint32_t index)
{
	return (p->current.valid && p->current.local_index == index) ||
	       (p->previous.valid && p->previous.local_index == index) ||
	       (p->next.valid && p->next.local_index == index) ||
	       (p->noise.state == NOISE_PEER_INIT_SENT && p->noise.hs_local_index == index);
}

struct session_keypair *session_received(struct session_peer *p, struct session_keypair *kp, size_t payload_len,
					 uint64_t now_ms)
{
	if (kp == &p->next) {
		kp_wipe(&p->previous);
		p->previous = p->current;
		p->current = p->next;
		p->current.confirmed = true;
		kp_wipe(&p->next);
		kp = &p->current;
	}
	p->last_rx_ms = now_ms;
	if (payload_len)
		p->rx_since_tx = true;
	return kp;
}

void session_sent(struct session_peer *p, uint64_t now_ms)
{
	p->last_tx_ms = now_ms;
	p->need_keepalive = false;
	p->rx_since_tx = false;
}

/* When the current keypair should be replaced; UINT64_MAX if never. */
static uint64_t rekey_time(const struct session_peer *p)
{
	const struct session_keypair *kp = &p->current;

	if (!kp->valid)
		return UINT64_MAX;
	if (kp->send_counter >= SESSION_REKEY_AFTER_MESSAGES)
		return 0;
	return kp->created_ms + (kp->initiator ? SESSION_REKEY_AFTER_TIME_MS : SESSION_RESPONDER_REKEY_MS);
}

bool session_wants_rekey(const struct session_peer *p, uint64_t now_ms)
{
	/* a responder's unconfirmed `next` means a handshake just happened */
	if (p->next.valid && kp_alive(&p->next, now_ms))
		return false;
	return now_ms >= rekey_time(p);
}

static void min_deadline(uint64_t *d, uint64_t t)
{
	if (t < *d)
		*d = t;
}

static void expire(struct session_keypair *kp, uint64_t now_ms, uint64_t *deadline)
{
	if (!kp->valid)
		return;
	if (!kp_alive(kp, now_ms))
		kp_wipe(kp);
	else
		min_deadline(deadline, kp->created_ms + SESSION_REJECT_AFTER_TIME_MS);
}

/* Retransmit an unanswered initiation every NOISE_REKEY_TIMEOUT_MS until
 * SESSION_REKEY_ATTEMPT_TIME_MS, then drop it. */
static int tick_handshake(struct session_peer *p, uint64_t now_ms, uint64_t *deadline)
{
	struct noise_peer *np = &p->noise;

	if (np->state != NOISE_PEER_INIT_SENT)
		return 0;
	if (now_ms - p->hs_attempt_start_ms >= SESSION_REKEY_ATTEMPT_TIME_MS) {
		noise_handshake_wipe(&np->hs);
		np->state = NOISE_PEER_IDLE;
		p->hs_attempting = false;
		return 0;
	}
	uint64_t retry = np->last_init_tx_ms + NOISE_REKEY_TIMEOUT_MS;
	if (now_ms >= retry)
		return SESSION_ACT_INITIATE;
	min_deadline(deadline, retry);
	return 0;
}

/* Rekey only peers that carried traffic lately: idle keypairs may lapse,
 * the next packet to send starts a handshake anyway. */
static int tick_rekey(struct session_peer *p, uint64_t now_ms, uint64_t *deadline)
{
	bool active = p->last_tx_ms + SESSION_REKEY_AFTER_TIME_MS > now_ms ||
		      p->last_rx_ms + SESSION_REKEY_AFTER_TIME_MS > now_ms;

	if (p->noise.state == NOISE_PEER_INIT_SENT || !p->current.valid || !active)
		return 0;
	if (session_wants_rekey(p, now_ms))
		return SESSION_ACT_INITIATE;
	min_deadline(deadline, rekey_time(p));
	return 0;
}

static int tick_keepalive(struct session_peer *p, uint64_t now_ms, uint64_t *deadline)
{
	if (!session_send_keypair(p, now_ms))
		return 0;
	if (p->need_keepalive)
		return SESSION_ACT_KEEPALIVE;
	if (!p->rx_since_tx)
		return 0;
	uint64_t due = p->last_rx_ms + SESSION_KEEPALIVE_TIMEOUT_MS;
	if (now_ms >= due)
		return SESSION_ACT_KEEPALIVE;
	min_deadline(deadline, due);
	return 0;
}

int session_tick(struct session_peer *p, uint64_t now_ms, uint64_t *next_deadline)
{
	uint64_t d = UINT64_MAX;
	int act = 0;

	expire(&p->current, now_ms, &d);
	expire(&p->previous, now_ms, &d);
	expire(&p->next, now_ms, &d);
	act |= tick_handshake(p, now_ms, &d);
	act |= tick_rekey(p, now_ms, &d);
	act |= tick_keepalive(p, now_ms, &d);
	*next_deadline = d;
	return act;
}
