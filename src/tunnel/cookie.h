/* WireGuard's cookie mechanism for ipop's handshakes, sans-IO (tunnel_proto.h
 * has the wire format).
 *
 * A responder under load must not spend two Diffie-Hellmans on every
 * initiation that carries a valid mac1 (anyone who knows its public key can
 * make those): it answers one without a valid mac2 with a cookie reply
 * instead, which costs a hash and an encryption. The cookie is a MAC of the
 * source address and port under a secret renewed every 2 minutes, so only
 * someone who receives packets at that address can learn it; the initiator
 * sends its initiation again with mac2 (keyed by the cookie), which the
 * responder then answers, limited per source address (a member that learns
 * cookies for its own address still cannot flood).
 *
 *   responder: cookie_checker_mac2_ok, cookie_checker_src_allow,
 *              cookie_checker_reply
 *   initiator: cookie_maker_mac1_sent (remember what a reply must be
 *              bound to), cookie_maker_consume (a reply), cookie_maker_mac2
 *              (add mac2 while the cookie is fresh)
 *
 * Nothing here reads a clock or a socket: callers pass now_ms and the
 * source address as bytes. */
#ifndef IPOP_COOKIE_H
#define IPOP_COOKIE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tunnel_proto.h"

enum {
	COOKIE_SECRET_MAX_AGE_MS = 120000, /* the responder's secret changes this often */
	COOKIE_LATENCY_MS = 5000,          /* a cookie is used this much less long */
	COOKIE_KEY_LEN = 32,
	COOKIE_SRC_SLOTS = 1024,           /* per-source buckets: sets of COOKIE_SRC_WAYS */
	COOKIE_SRC_WAYS = 4,
	COOKIE_SRC_RATE_PER_S = 10,        /* initiations with a valid mac2 per source, under load */
	COOKIE_SRC_BURST = 10,
	COOKIE_REPLY_RATE_PER_S = 20,      /* cookie replies per source address */
	COOKIE_REPLY_BURST = 20,
};

/* A message's source as bytes: IPv4 address and port (6), or IPv6 (18). */
struct cookie_src {
	uint8_t b[18];
	uint8_t len;
	uint8_t addr_len; /* the address part: per-source limits ignore the port */
};
void cookie_src_ipv4(struct cookie_src *s, const void *addr4, uint16_t port_be);

/* A source address's bucket. The table is set-associative: an address
 * picks a set by a keyed hash and has its own way in it; when the set is
 * full, the way used least recently is given to the newcomer (which only
 * ever hands out a full bucket: nobody can drain another address's). */
struct cookie_bucket {
	uint8_t addr[16];
	uint8_t len;
	bool used;
	uint32_t tokens_milli;
	uint64_t last_ms;
};

struct cookie_checker {
	uint8_t secret[COOKIE_KEY_LEN];
	uint64_t secret_ms;
	bool have_secret;
	uint8_t enc_key[COOKIE_KEY_LEN]; /* BLAKE2b-256(TUNNEL_COOKIE_LABEL || our static key) */
	uint8_t src_key[16];            /* keys the hash that picks a source's set */
	struct cookie_bucket src[COOKIE_SRC_SLOTS];   /* initiations with a valid mac2 */
	struct cookie_bucket reply[COOKIE_SRC_SLOTS]; /* cookie replies */
};

void cookie_checker_init(struct cookie_checker *c, const uint8_t our_pub[COOKIE_KEY_LEN]);
void cookie_checker_wipe(struct cookie_checker *c);
/* msg is TUNNEL_INITIATION_MAC2_LEN bytes: is its mac2 the one src's
 * current cookie gives? */
bool cookie_checker_mac2_ok(struct cookie_checker *c, const uint8_t *msg, const struct cookie_src *src,
			    uint64_t now_ms);
/* A token of src's address bucket (COOKIE_SRC_RATE_PER_S). */
bool cookie_checker_src_allow(struct cookie_checker *c, const struct cookie_src *src, uint64_t now_ms);
/* May src's address get another cookie reply (COOKIE_REPLY_RATE_PER_S)?
 * A flood from a few addresses then costs a hash per datagram, not a
 * reply; a member at another address still gets its cookie at once. */
bool cookie_checker_reply_allow(struct cookie_checker *c, const struct cookie_src *src, uint64_t now_ms);
/* The cookie reply to an initiation (at least TUNNEL_INITIATION_LEN bytes,
 * mac1 already checked) from src. */
void cookie_checker_reply(struct cookie_checker *c, const uint8_t *init, const struct cookie_src *src,
			  uint64_t now_ms, uint8_t out[TUNNEL_COOKIE_REPLY_LEN]);

struct cookie_maker {
	uint8_t dec_key[COOKIE_KEY_LEN]; /* BLAKE2b-256(TUNNEL_COOKIE_LABEL || the peer's static key) */
	uint8_t last_mac1[TUNNEL_MAC_LEN];
	bool mac1_sent;
	uint8_t cookie[TUNNEL_COOKIE_LEN];
	uint64_t cookie_ms;
	bool have_cookie;
};

void cookie_maker_init(struct cookie_maker *m, const uint8_t peer_pub[COOKIE_KEY_LEN]);
/* The mac1 of the initiation just sent: a reply must be bound to it. */
void cookie_maker_mac1_sent(struct cookie_maker *m, const uint8_t mac1[TUNNEL_MAC_LEN]);
/* A cookie reply the caller routed to this peer (its receiver index names
 * our pending initiation). 0, -EINVAL malformed, -ESTALE no initiation was
 * sent, -EBADMSG it does not decrypt. */
int cookie_maker_consume(struct cookie_maker *m, const uint8_t *msg, size_t len, uint64_t now_ms);
/* True while a cookie is fresh enough to use. */
bool cookie_maker_fresh(const struct cookie_maker *m, uint64_t now_ms);
/* buf holds an initiation (*len is TUNNEL_INITIATION_LEN or _MAC2_LEN,
 * cap bytes): with a fresh cookie mac2 is (re)computed and *len is
 * TUNNEL_INITIATION_MAC2_LEN, else it is cut back to TUNNEL_INITIATION_LEN. */
void cookie_maker_mac2(const struct cookie_maker *m, uint8_t *buf, size_t *len, size_t cap, uint64_t now_ms);

#endif
