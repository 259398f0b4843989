/* Cookies under load, see cookie.h. */
#include "cookie.h"

#include <errno.h>
#include <string.h>

#include <sodium.h>

_Static_assert(crypto_aead_xchacha20poly1305_ietf_NPUBBYTES == TUNNEL_COOKIE_NONCE_LEN, "XChaCha nonce");
_Static_assert(crypto_aead_xchacha20poly1305_ietf_ABYTES == 16, "XChaCha tag");
_Static_assert(crypto_shorthash_KEYBYTES == 16, "SipHash key");

enum { MAC2_OFFSET = TUNNEL_INITIATION_LEN };

void cookie_src_ipv4(struct cookie_src *s, const void *addr4, uint16_t port_be)
{
	memset(s, 0, sizeof(*s));
	memcpy(s->b, addr4, 4);
	memcpy(s->b + 4, &port_be, 2);
	s->len = 6;
	s->addr_len = 4;
}

static void label_key(uint8_t out[COOKIE_KEY_LEN], const uint8_t pub[COOKIE_KEY_LEN])
{
	crypto_generichash_state st;

	crypto_generichash_init(&st, NULL, 0, COOKIE_KEY_LEN);
	crypto_generichash_update(&st, (const uint8_t *)TUNNEL_COOKIE_LABEL, sizeof(TUNNEL_COOKIE_LABEL) - 1);
	crypto_generichash_update(&st, pub, COOKIE_KEY_LEN);
	crypto_generichash_final(&st, out, COOKIE_KEY_LEN);
}

/* ---- responder ---- */

void cookie_checker_init(struct cookie_checker *c, const uint8_t our_pub[COOKIE_KEY_LEN])
{
	memset(c, 0, sizeof(*c));
	label_key(c->enc_key, our_pub);
	randombytes_buf(c->src_key, sizeof(c->src_key));
}

void cookie_checker_wipe(struct cookie_checker *c)
{
	sodium_memzero(c, sizeof(*c));
}

/* cookie = MAC(secret, source address and port); the secret is renewed
 * once it is COOKIE_SECRET_MAX_AGE_MS old, which ends every cookie made
 * with the old one. */
static void make_cookie(struct cookie_checker *c, const struct cookie_src *src, uint64_t now_ms,
			uint8_t cookie[TUNNEL_COOKIE_LEN])
{
	if (!c->have_secret || now_ms - c->secret_ms >= COOKIE_SECRET_MAX_AGE_MS) {
		randombytes_buf(c->secret, sizeof(c->secret));
		c->secret_ms = now_ms;
		c->have_secret = true;
	}
	crypto_generichash(cookie, TUNNEL_COOKIE_LEN, src->b, src->len, c->secret, sizeof(c->secret));
}

static void mac2_compute(uint8_t mac[TUNNEL_MAC_LEN], const uint8_t cookie[TUNNEL_COOKIE_LEN], const uint8_t *msg)
{
	crypto_generichash(mac, TUNNEL_MAC_LEN, msg, MAC2_OFFSET, cookie, TUNNEL_COOKIE_LEN);
}

bool cookie_checker_mac2_ok(struct cookie_checker *c, const uint8_t *msg, const struct cookie_src *src,
			    uint64_t now_ms)
{
	uint8_t cookie[TUNNEL_COOKIE_LEN], mac[TUNNEL_MAC_LEN];

	make_cookie(c, src, now_ms, cookie);
	mac2_compute(mac, cookie, msg);
	bool ok = sodium_memcmp(mac, msg + MAC2_OFFSET, TUNNEL_MAC_LEN) == 0;
	sodium_memzero(cookie, sizeof(cookie));
	return ok;
}

/* The bucket of src's address in table t: its own way of the set its
 * keyed hash picks, or the set's least recently used one, refilled. */
static struct cookie_bucket *bucket(const struct cookie_checker *c, struct cookie_bucket *t,
				    const struct cookie_src *src, uint32_t burst, uint64_t now_ms)
{
	uint8_t h[crypto_shorthash_BYTES];
	uint64_t hv;

	crypto_shorthash(h, src->b, src->addr_len, c->src_key);
	memcpy(&hv, h, sizeof(hv));
	struct cookie_bucket *set = &t[(hv % (COOKIE_SRC_SLOTS / COOKIE_SRC_WAYS)) * COOKIE_SRC_WAYS], *old = set;
	for (unsigned w = 0; w < COOKIE_SRC_WAYS; w++) {
		struct cookie_bucket *b = &set[w];
		if (b->used && b->len == src->addr_len && memcmp(b->addr, src->b, src->addr_len) == 0)
			return b;
		if (!b->used || (old->used && b->last_ms < old->last_ms))
			old = b;
	}
	memset(old, 0, sizeof(*old));
	memcpy(old->addr, src->b, src->addr_len);
	old->len = src->addr_len;
	old->used = true;
	old->tokens_milli = burst * 1000u;
	old->last_ms = now_ms;
	return old;
}

static bool take(const struct cookie_checker *c, struct cookie_bucket *t, const struct cookie_src *src,
		 uint32_t rate_per_s, uint32_t burst, uint64_t now_ms)
{
	struct cookie_bucket *b = bucket(c, t, src, burst, now_ms);
	const uint32_t cap = burst * 1000u;

	if (now_ms > b->last_ms) {
		uint64_t add = (now_ms - b->last_ms) * rate_per_s;
		b->tokens_milli = add >= cap - b->tokens_milli ? cap : b->tokens_milli + (uint32_t)add;
		b->last_ms = now_ms;
	}
	if (b->tokens_milli < 1000)
		return false;
	b->tokens_milli -= 1000;
	return true;
}

bool cookie_checker_src_allow(struct cookie_checker *c, const struct cookie_src *src, uint64_t now_ms)
{
	return take(c, c->src, src, COOKIE_SRC_RATE_PER_S, COOKIE_SRC_BURST, now_ms);
}

bool cookie_checker_reply_allow(struct cookie_checker *c, const struct cookie_src *src, uint64_t now_ms)
{
	return take(c, c->reply, src, COOKIE_REPLY_RATE_PER_S, COOKIE_REPLY_BURST, now_ms);
}

void cookie_checker_reply(struct cookie_checker *c, const uint8_t *init, const struct cookie_src *src,
			  uint64_t now_ms, uint8_t out[TUNNEL_COOKIE_REPLY_LEN])
{
	struct tunnel_msg_cookie_reply *r = (struct tunnel_msg_cookie_reply *)out;
	const struct tunnel_msg_initiation *m = (const struct tunnel_msg_initiation *)init;
	uint8_t cookie[TUNNEL_COOKIE_LEN];
	unsigned long long clen;

	make_cookie(c, src, now_ms, cookie);
	r->type = TUNNEL_MSG_COOKIE_REPLY;
	memset(r->reserved, 0, sizeof(r->reserved));
	memcpy(r->receiver_index, m->sender_index, sizeof(r->receiver_index));
	randombytes_buf(r->nonce, sizeof(r->nonce));
	/* bound to the initiation it answers: a reply for another one (or a
	 * forged one) does not decrypt at the initiator */
	crypto_aead_xchacha20poly1305_ietf_encrypt(r->enc_cookie, &clen, cookie, sizeof(cookie), m->mac1,
						   sizeof(m->mac1), NULL, r->nonce, c->enc_key);
	sodium_memzero(cookie, sizeof(cookie));
}

/* ---- initiator ---- */

void cookie_maker_init(struct cookie_maker *m, const uint8_t peer_pub[COOKIE_KEY_LEN])
{
	memset(m, 0, sizeof(*m));
	label_key(m->dec_key, peer_pub);
}

void cookie_maker_mac1_sent(struct cookie_maker *m, const uint8_t mac1[TUNNEL_MAC_LEN])
{
	memcpy(m->last_mac1, mac1, TUNNEL_MAC_LEN);
	m->mac1_sent = true;
}

int cookie_maker_consume(struct cookie_maker *m, const uint8_t *msg, size_t len, uint64_t now_ms)
{
	const struct tunnel_msg_cookie_reply *r = (const struct tunnel_msg_cookie_reply *)msg;
	uint8_t cookie[TUNNEL_COOKIE_LEN];
	unsigned long long n;

	if (len != TUNNEL_COOKIE_REPLY_LEN || msg[0] != TUNNEL_MSG_COOKIE_REPLY || msg[1] || msg[2] || msg[3])
		return -EINVAL;
	if (!m->mac1_sent)
		return -ESTALE;
	if (crypto_aead_xchacha20poly1305_ietf_decrypt(cookie, &n, NULL, r->enc_cookie, sizeof(r->enc_cookie),
						       m->last_mac1, sizeof(m->last_mac1), r->nonce, m->dec_key) != 0 ||
	    n != sizeof(cookie))
		return -EBADMSG;
	memcpy(m->cookie, cookie, sizeof(cookie));
	m->cookie_ms = now_ms;
	m->have_cookie = true;
	sodium_memzero(cookie, sizeof(cookie));
	return 0;
}

bool cookie_maker_fresh(const struct cookie_maker *m, uint64_t now_ms)
{
	return m->have_cookie && now_ms - m->cookie_ms < COOKIE_SECRET_MAX_AGE_MS - COOKIE_LATENCY_MS;
}

void cookie_maker_mac2(const struct cookie_maker *m, uint8_t *buf, size_t *len, size_t cap, uint64_t now_ms)
{
	if (!cookie_maker_fresh(m, now_ms) || cap < TUNNEL_INITIATION_MAC2_LEN) {
		*len = TUNNEL_INITIATION_LEN;
		return;
	}
	mac2_compute(buf + MAC2_OFFSET, m->cookie, buf);
	*len = TUNNEL_INITIATION_MAC2_LEN;
}
