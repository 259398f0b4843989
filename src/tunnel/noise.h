/* Noise_IK_25519_ChaChaPoly_BLAKE2b on libsodium, sans-IO.
 *
 * libsodium has no BLAKE2s, so unlike WireGuard we use BLAKE2b: HASHLEN 64,
 * BLOCKLEN 128, HMAC per RFC 2104 on crypto_generichash, HKDF per Noise
 * rev 34 section 4.3. Cipher keys are the first 32 bytes of HKDF outputs.
 *
 * Two layers:
 *  - noise_ik_*: the bare Noise IK pattern (any prologue and payloads), so
 *    it can be checked against the cacophony test vectors;
 *  - noise_{create,consume}_{initiation,response}: ipop's handshake messages
 *    (tunnel_proto.h) with indices, mac1, a TAI64N timestamp against
 *    replayed initiations, and rate limits. They return the transport keys;
 *    session.h installs them.
 * Nothing here reads a clock or a socket: callers pass now_ms (monotonic)
 * and, for initiations, the wall-clock time in nanoseconds. Ephemeral keys
 * come from randombytes_buf (not I/O in the sans-IO sense). */
#ifndef IPOP_NOISE_H
#define IPOP_NOISE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cookie.h"
#include "tunnel_proto.h"

enum {
	NOISE_KEY_LEN = 32,
	NOISE_HASH_LEN = 64,
	NOISE_BLOCK_LEN = 128,
	NOISE_TAG_LEN = 16,
	NOISE_TIMESTAMP_LEN = 12,
};

/* Limits, in ms unless said otherwise. */
enum {
	NOISE_REKEY_TIMEOUT_MS = 5000,          /* min gap between our initiations */
	NOISE_INIT_RX_MIN_INTERVAL_MS = 1000,   /* per peer, incoming initiations */
	NOISE_INIT_RX_RATE_PER_S = 200,         /* default global bucket refill */
	NOISE_INIT_RX_BURST = 400,              /* default global bucket size */
	/* Once the global bucket ran dry the node is "under load" for at
	 * least this long: initiations need a valid mac2 (cookie.h). */
	NOISE_LOAD_HOLD_MS = 1000,
};

#define NOISE_PROTOCOL_NAME "Noise_IK_25519_ChaChaPoly_BLAKE2b"

/* Must be called before anything else; wraps sodium_init (idempotent). */
int noise_init(void);

struct noise_keypair {
	uint8_t pub[NOISE_KEY_LEN];
	uint8_t priv[NOISE_KEY_LEN];
};
int noise_keypair_generate(struct noise_keypair *kp);
/* Derives pub from priv. Returns -EINVAL when the key gives a zero point. */
int noise_keypair_from_private(struct noise_keypair *kp, const uint8_t priv[NOISE_KEY_LEN]);

/* A random 32-bit session index (the caller must still check it is not in
 * use in its index table). */
uint32_t noise_index_random(void);

/* --- primitives (exposed for tests) --- */
void noise_hash(uint8_t out[NOISE_HASH_LEN], const uint8_t *a, size_t alen, const uint8_t *b, size_t blen);
/* HMAC-BLAKE2b over data1 || data2. */
void noise_hmac(uint8_t out[NOISE_HASH_LEN], const uint8_t *key, size_t keylen,
		const uint8_t *d1, size_t l1, const uint8_t *d2, size_t l2);
/* HKDF(ck, ikm) with 2 or 3 outputs (out3 may be NULL). */
void noise_hkdf(const uint8_t ck[NOISE_HASH_LEN], const uint8_t *ikm, size_t ikmlen,
		uint8_t out1[NOISE_HASH_LEN], uint8_t out2[NOISE_HASH_LEN], uint8_t *out3);
/* ChaCha20-Poly1305 IETF with Noise's nonce (4 zero bytes, 64-bit LE n).
 * out may equal in. seal writes len + 16 bytes; open returns -EBADMSG on a
 * bad tag and writes len - 16 bytes. */
int noise_aead_seal(const uint8_t key[NOISE_KEY_LEN], uint64_t n, const uint8_t *ad, size_t adlen,
		    const uint8_t *in, size_t len, uint8_t *out);
int noise_aead_open(const uint8_t key[NOISE_KEY_LEN], uint64_t n, const uint8_t *ad, size_t adlen,
		    const uint8_t *in, size_t len, uint8_t *out);

/* --- bare Noise IK --- */
enum noise_hs_step { NOISE_HS_EMPTY = 0, NOISE_HS_INIT_WRITTEN, NOISE_HS_INIT_READ, NOISE_HS_DONE };

struct noise_handshake {
	uint8_t ck[NOISE_HASH_LEN], h[NOISE_HASH_LEN];
	uint8_t k[NOISE_KEY_LEN];
	uint64_t n;
	bool has_key;
	bool initiator;
	enum noise_hs_step step;
	struct noise_keypair s, e;
	uint8_t rs[NOISE_KEY_LEN], re[NOISE_KEY_LEN];
};

/* rs is the responder's static key: required for the initiator, ignored
 * for the responder (who mixes its own). */
void noise_ik_init(struct noise_handshake *hs, bool initiator, const uint8_t *prologue, size_t prologue_len,
		   const struct noise_keypair *s, const uint8_t *rs);
/* "-> e, es, s, ss". e_priv NULL picks a random ephemeral. Writes
 * 32 + 48 + payload_len + 16 bytes. */
int noise_ik_write_msg1(struct noise_handshake *hs, const uint8_t *e_priv, const uint8_t *payload,
			size_t payload_len, uint8_t *out, size_t cap, size_t *out_len);
/* Learns hs->rs (the initiator's static key): the caller decides whether
 * that key is acceptable. */
int noise_ik_read_msg1(struct noise_handshake *hs, const uint8_t *msg, size_t len, uint8_t *payload,
		       size_t cap, size_t *payload_len);
/* "<- e, ee, se". */
int noise_ik_write_msg2(struct noise_handshake *hs, const uint8_t *e_priv, const uint8_t *payload,
			size_t payload_len, uint8_t *out, size_t cap, size_t *out_len);
int noise_ik_read_msg2(struct noise_handshake *hs, const uint8_t *msg, size_t len, uint8_t *payload,
		       size_t cap, size_t *payload_len);
/* After msg2: the transport keys for our direction; wipes hs. */
int noise_ik_split(struct noise_handshake *hs, uint8_t send_key[NOISE_KEY_LEN], uint8_t recv_key[NOISE_KEY_LEN]);
void noise_handshake_wipe(struct noise_handshake *hs);

/* --- ipop handshake messages --- */

/* A token bucket in milli-tokens; refilled from now_ms. */
struct noise_bucket {
	uint64_t last_ms;
	uint64_t tokens_milli;
	uint32_t rate_per_s, burst;
};
void noise_bucket_init(struct noise_bucket *b, uint32_t rate_per_s, uint32_t burst, uint64_t now_ms);
bool noise_bucket_take(struct noise_bucket *b, uint64_t now_ms);

/* This node: its static key and the global limit on incoming initiations.
 * Every initiation with a valid mac1 takes a token of init_bucket; when
 * none is left the node is under load (NOISE_LOAD_HOLD_MS after the last
 * miss). Under load, with cookies on, an initiation is answered only with
 * a valid mac2 (and within its source's rate), others get a cookie reply;
 * with cookies off (the old behaviour) only those that got a token. */
struct noise_local {
	struct noise_keypair s;
	uint8_t mac1_key[NOISE_KEY_LEN]; /* checks mac1 on messages to us */
	struct noise_bucket init_bucket;
	bool cookies;                    /* default on */
	uint64_t load_until_ms;
	struct cookie_checker cookie;
	uint64_t rx_dropped_ratelimit, rx_dropped_mac, rx_dropped_auth, rx_dropped_unknown, rx_dropped_replay;
	uint64_t rx_cookie_replies;      /* initiations answered with a cookie reply */
	uint64_t rx_mac2_ok;             /* initiations let in under load by their mac2 */
};
void noise_local_init(struct noise_local *l, const struct noise_keypair *s, uint64_t now_ms);
bool noise_local_under_load(const struct noise_local *l, uint64_t now_ms);

enum noise_peer_state { NOISE_PEER_IDLE = 0, NOISE_PEER_INIT_SENT };

/* Per remote peer handshake state. Embed it in the caller's peer object;
 * the lookup callback maps a static key to it. */
struct noise_peer {
	uint8_t remote_static[NOISE_KEY_LEN];
	uint8_t remote_mac1_key[NOISE_KEY_LEN];
	uint8_t last_timestamp[NOISE_TIMESTAMP_LEN]; /* greatest seen in an initiation */
	uint64_t last_init_rx_ms, last_init_tx_ms;
	bool init_rx_seen, init_tx_seen;
	enum noise_peer_state state;
	uint32_t hs_local_index; /* index of our pending initiation */
	struct noise_handshake hs;
	struct cookie_maker cookie; /* the peer's cookie, when it is under load */
};
void noise_peer_init(struct noise_peer *p, const uint8_t remote_static[NOISE_KEY_LEN]);
void noise_peer_wipe(struct noise_peer *p);

/* Returns the peer whose announced static key is `static_pub`, or NULL. */
typedef struct noise_peer *(*noise_lookup_fn)(void *ctx, const uint8_t static_pub[NOISE_KEY_LEN]);

/* Keys of a finished handshake. */
struct noise_keys {
	uint8_t send[NOISE_KEY_LEN], recv[NOISE_KEY_LEN];
	uint32_t local_index, remote_index;
	bool initiator;
};
void noise_keys_wipe(struct noise_keys *k);

/* TAI64N label of a wall-clock time (ns since the Unix epoch). */
void noise_tai64n(uint8_t out[NOISE_TIMESTAMP_LEN], uint64_t wall_ns);

/* Writes a TUNNEL_INITIATION_LEN message, or TUNNEL_INITIATION_MAC2_LEN
 * with mac2 when the peer gave us a cookie that is still fresh and cap
 * allows. local_index is a fresh random index the caller will route
 * responses by. -EAGAIN when the previous initiation is younger than
 * NOISE_REKEY_TIMEOUT_MS. */
int noise_create_initiation(struct noise_local *l, struct noise_peer *p, uint32_t local_index, uint64_t now_ms,
			    uint64_t wall_ns, uint8_t *out, size_t cap, size_t *out_len);
/* Checks mac1 and the load (the global bucket; under load mac2 for src)
 * before any DH, then decrypts, requires a known static key (lookup), a
 * timestamp newer than the last one from that peer and the per-peer
 * interval. src is where it came from (NULL: unknown, no cookie can be
 * made: under load it is dropped). On success *peer_out and *hs_out
 * (caller storage, pass it to noise_create_response) are set.
 * Errors: -EINVAL malformed, -EBADMSG mac/auth, -EBUSY rate limited,
 * -EAGAIN under load without a valid mac2 (answer with
 * noise_create_cookie_reply), -ENOENT unknown key, -EALREADY replayed
 * timestamp. */
int noise_consume_initiation(struct noise_local *l, const uint8_t *msg, size_t len, const struct cookie_src *src,
			     uint64_t now_ms, noise_lookup_fn lookup, void *ctx, struct noise_peer **peer_out,
			     struct noise_handshake *hs_out, uint32_t *remote_index);
/* The cookie reply to an initiation that noise_consume_initiation answered
 * with -EAGAIN. Writes TUNNEL_COOKIE_REPLY_LEN bytes. */
void noise_create_cookie_reply(struct noise_local *l, const uint8_t *msg, const struct cookie_src *src,
			       uint64_t now_ms, uint8_t out[TUNNEL_COOKIE_REPLY_LEN]);
/* A cookie reply for p (the caller routed its receiver index to p's
 * pending initiation). 0: the cookie is kept, and the initiation should go
 * again with mac2 (noise_initiation_add_mac2). -ESTALE when no initiation
 * with that index is pending; -EINVAL, -EBADMSG as cookie_maker_consume. */
int noise_consume_cookie_reply(struct noise_peer *p, const uint8_t *msg, size_t len, uint64_t now_ms);
/* Re-stamps an initiation in buf (*len bytes, cap) with mac2 from p's
 * cookie, or without mac2 when it is no longer fresh. */
void noise_initiation_add_mac2(const struct noise_peer *p, uint8_t *buf, size_t *len, size_t cap, uint64_t now_ms);
/* Writes a TUNNEL_RESPONSE_LEN message and the responder's keys. */
int noise_create_response(struct noise_local *l, struct noise_peer *p, struct noise_handshake *hs,
			  uint32_t local_index, uint32_t remote_index, uint8_t *out, size_t cap, size_t *out_len,
			  struct noise_keys *keys);
/* p is the peer the caller routed the receiver index to. -ESTALE when no
 * initiation with that index is pending. */
int noise_consume_response(struct noise_local *l, struct noise_peer *p, const uint8_t *msg, size_t len,
			   struct noise_keys *keys);

#endif
