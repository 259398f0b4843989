/* Per-peer tunnel sessions: the keypairs a handshake produced, their send
 * counters and replay windows, and the rekey timers as deadlines from the
 * caller's monotonic now_ms. Sans-IO.
 *
 * Like WireGuard a peer holds up to three keypairs: `current` (sends),
 * `previous` (still decrypts packets in flight across a rekey) and `next`
 * (a responder's new keypair, unused for sending until the initiator's
 * first packet on it arrives, which proves the initiator has it). The
 * initiator of a keypair rekeys after SESSION_REKEY_AFTER_TIME_MS; the
 * responder only when the keypair nears SESSION_REJECT_AFTER_TIME_MS, so
 * both ends do not race. A keypair older than the reject time, or whose
 * counter reached the message limit, is never used again. */
#ifndef IPOP_SESSION_H
#define IPOP_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "noise.h"
#include "replay.h"

enum {
	SESSION_REKEY_AFTER_TIME_MS = 120000,
	SESSION_REJECT_AFTER_TIME_MS = 180000,
	SESSION_REKEY_ATTEMPT_TIME_MS = 90000, /* then stop retrying */
	SESSION_KEEPALIVE_TIMEOUT_MS = 10000,
	/* the responder rekeys this early so a fresh keypair exists before
	 * the old one is rejected */
	SESSION_RESPONDER_REKEY_MS = SESSION_REJECT_AFTER_TIME_MS - SESSION_KEEPALIVE_TIMEOUT_MS -
				     NOISE_REKEY_TIMEOUT_MS,
};
#define SESSION_REKEY_AFTER_MESSAGES (UINT64_C(1) << 60)
/* The send counter (= AEAD nonce) stops here, so it can never wrap. */
#define SESSION_REJECT_AFTER_MESSAGES REPLAY_COUNTER_LIMIT

struct session_keypair {
	bool valid;
	bool initiator;
	bool confirmed; /* may send */
	uint8_t send_key[NOISE_KEY_LEN], recv_key[NOISE_KEY_LEN];
	uint32_t local_index, remote_index;
	uint64_t created_ms;
	uint64_t send_counter; /* next nonce */
	struct replay_window replay;
};

struct session_peer {
	struct noise_peer noise; /* first: session_from_noise relies on it */
	struct session_keypair current, previous, next;
	bool hs_attempting;
	uint64_t hs_attempt_start_ms;
	bool need_keepalive;  /* tell a responder we have the new keypair */
	bool rx_since_tx;     /* passive keepalive owed */
	uint64_t last_tx_ms, last_rx_ms;
	uint64_t rx_dropped_replay, rx_dropped_auth, rx_dropped_nokey, rx_dropped_malformed;
};

void session_peer_init(struct session_peer *p, const uint8_t remote_static[NOISE_KEY_LEN]);
void session_peer_wipe(struct session_peer *p);
struct session_peer *session_from_noise(struct noise_peer *np);

/* Handshake wrappers that also install keys and track attempts. */
int session_initiate(struct noise_local *l, struct session_peer *p, uint32_t local_index, uint64_t now_ms,
		     uint64_t wall_ns, uint8_t *out, size_t cap, size_t *out_len);
/* Consumes an initiation and writes the response; *peer_out is the peer
 * the lookup matched. Errors as noise_consume_initiation. */
int session_respond(struct noise_local *l, const uint8_t *msg, size_t len, const struct cookie_src *src,
		    uint64_t now_ms, noise_lookup_fn lookup,
		    void *ctx, uint32_t local_index, uint8_t *out, size_t cap, size_t *out_len,
		    struct session_peer **peer_out);
/* After success the caller should send at once (a keepalive if nothing
 * else): session_tick reports SESSION_ACT_KEEPALIVE for that. */
int session_handle_response(struct noise_local *l, struct session_peer *p, const uint8_t *msg, size_t len,
			    uint64_t now_ms);

/* Installs handshake keys (and wipes *keys). */
void session_install(struct session_peer *p, struct noise_keys *keys, uint64_t now_ms);

/* The keypair to send with, or NULL: no handshake yet, expired, or used up. */
struct session_keypair *session_send_keypair(struct session_peer *p, uint64_t now_ms);
/* The keypair with our index `index` that may still receive, or NULL. */
struct session_keypair *session_recv_keypair(struct session_peer *p, uint32_t index, uint64_t now_ms);
/* Whether `index` still names one of p's keypairs (to prune index tables). */
bool session_owns_index(const struct session_peer *p, uint32_t index);
/* After a packet authenticated on kp: promotes `next`, notes activity (a
 * keepalive, payload_len 0, owes no keepalive back). Returns the keypair's
 * new place. */
struct session_keypair *session_received(struct session_peer *p, struct session_keypair *kp, size_t payload_len,
					 uint64_t now_ms);
/* After sending on the current keypair. */
void session_sent(struct session_peer *p, uint64_t now_ms);
/* True when a new handshake should start (age or message count). */
bool session_wants_rekey(const struct session_peer *p, uint64_t now_ms);

enum session_action {
	SESSION_ACT_INITIATE = 1,  /* call session_initiate */
	SESSION_ACT_KEEPALIVE = 2, /* seal and send an empty packet */
};
/* Expires keypairs and gives up stale handshakes; returns a mask of
 * session_action and the next time it wants to run (UINT64_MAX: never). */
int session_tick(struct session_peer *p, uint64_t now_ms, uint64_t *next_deadline);

#endif
