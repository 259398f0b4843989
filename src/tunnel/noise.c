/* Noise_IK_25519_ChaChaPoly_BLAKE2b and ipop's handshake messages. */
#include "noise.h"

#include <errno.h>
#include <string.h>

#include <sodium.h>

#include "aead.h"

_Static_assert(crypto_generichash_BYTES_MAX == NOISE_HASH_LEN, "BLAKE2b-512");
_Static_assert(crypto_scalarmult_BYTES == NOISE_KEY_LEN, "X25519");
_Static_assert(crypto_aead_chacha20poly1305_ietf_ABYTES == NOISE_TAG_LEN, "tag");

/* libsodium's own ChaCha20 generator, seeded from the kernel, instead of
 * a getrandom() call for every random value: a node under a flood of
 * initiations makes one (an ephemeral key, a session index, a cookie
 * nonce) for many of them, and system calls are what a flood costs. */
int noise_init(void)
{
	static bool set;
	if (!set) {
		randombytes_set_implementation(&randombytes_internal_implementation);
		set = true;
	}
	return sodium_init() < 0 ? -EIO : 0;
}

int noise_keypair_from_private(struct noise_keypair *kp, const uint8_t priv[NOISE_KEY_LEN])
{
	memmove(kp->priv, priv, NOISE_KEY_LEN);
	if (crypto_scalarmult_base(kp->pub, kp->priv) != 0)
		return -EINVAL;
	return 0;
}

uint32_t noise_index_random(void)
{
	return randombytes_random();
}

int noise_keypair_generate(struct noise_keypair *kp)
{
	uint8_t priv[NOISE_KEY_LEN];

	randombytes_buf(priv, sizeof(priv));
	int rc = noise_keypair_from_private(kp, priv);
	sodium_memzero(priv, sizeof(priv));
	return rc;
}

/* ---- primitives ---- */

void noise_hash(uint8_t out[NOISE_HASH_LEN], const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
	crypto_generichash_state st;

	crypto_generichash_init(&st, NULL, 0, NOISE_HASH_LEN);
	crypto_generichash_update(&st, a, alen);
	if (blen)
		crypto_generichash_update(&st, b, blen);
	crypto_generichash_final(&st, out, NOISE_HASH_LEN);
}

void noise_hmac(uint8_t out[NOISE_HASH_LEN], const uint8_t *key, size_t keylen,
		const uint8_t *d1, size_t l1, const uint8_t *d2, size_t l2)
{
	uint8_t k[NOISE_BLOCK_LEN] = { 0 }, pad[NOISE_BLOCK_LEN], inner[NOISE_HASH_LEN];
	crypto_generichash_state st;

	if (keylen > NOISE_BLOCK_LEN)
		noise_hash(k, key, keylen, NULL, 0);
	else if (keylen)
		memcpy(k, key, keylen);

	for (size_t i = 0; i < sizeof(pad); i++)
		pad[i] = k[i] ^ 0x36;
	crypto_generichash_init(&st, NULL, 0, NOISE_HASH_LEN);
	crypto_generichash_update(&st, pad, sizeof(pad));
	if (l1)
		crypto_generichash_update(&st, d1, l1);
	if (l2)
		crypto_generichash_update(&st, d2, l2);
	crypto_generichash_final(&st, inner, sizeof(inner));

	for (size_t i = 0; i < sizeof(pad); i++)
		pad[i] = k[i] ^ 0x5c;
	noise_hash(out, pad, sizeof(pad), inner, sizeof(inner));

	sodium_memzero(k, sizeof(k));
	sodium_memzero(pad, sizeof(pad));
	sodium_memzero(inner, sizeof(inner));
}

void noise_hkdf(const uint8_t ck[NOISE_HASH_LEN], const uint8_t *ikm, size_t ikmlen,
		uint8_t out1[NOISE_HASH_LEN], uint8_t out2[NOISE_HASH_LEN], uint8_t *out3)
{
	uint8_t temp[NOISE_HASH_LEN], o1[NOISE_HASH_LEN], o2[NOISE_HASH_LEN];
	const uint8_t one = 1, two = 2, three = 3;

	noise_hmac(temp, ck, NOISE_HASH_LEN, ikm, ikmlen, NULL, 0);
	noise_hmac(o1, temp, sizeof(temp), &one, 1, NULL, 0);
	noise_hmac(o2, temp, sizeof(temp), o1, sizeof(o1), &two, 1);
	if (out3)
		noise_hmac(out3, temp, sizeof(temp), o2, sizeof(o2), &three, 1);
	/* outputs may alias ck, so copy only at the end */
	memcpy(out1, o1, sizeof(o1));
	memcpy(out2, o2, sizeof(o2));
	sodium_memzero(temp, sizeof(temp));
	sodium_memzero(o1, sizeof(o1));
	sodium_memzero(o2, sizeof(o2));
}

static void noise_nonce(uint8_t nonce[12], uint64_t n)
{
	memset(nonce, 0, 4);
	tunnel_put_le64(nonce + 4, n);
}

int noise_aead_seal(const uint8_t key[NOISE_KEY_LEN], uint64_t n, const uint8_t *ad, size_t adlen,
		    const uint8_t *in, size_t len, uint8_t *out)
{
	uint8_t nonce[crypto_aead_chacha20poly1305_ietf_NPUBBYTES];

	noise_nonce(nonce, n);
	aead_seal(key, nonce, ad, adlen, in, len, out);
	return 0;
}

int noise_aead_open(const uint8_t key[NOISE_KEY_LEN], uint64_t n, const uint8_t *ad, size_t adlen,
		    const uint8_t *in, size_t len, uint8_t *out)
{
	uint8_t nonce[crypto_aead_chacha20poly1305_ietf_NPUBBYTES];

	if (len < NOISE_TAG_LEN)
		return -EBADMSG;
	noise_nonce(nonce, n);
	if (aead_open(key, nonce, ad, adlen, in, len, out) != 0)
		return -EBADMSG;
	return 0;
}

/* ---- symmetric state (Noise section 5.2) ---- */

static void mix_hash(struct noise_handshake *hs, const uint8_t *data, size_t len)
{
	noise_hash(hs->h, hs->h, NOISE_HASH_LEN, data, len);
}

static void mix_key(struct noise_handshake *hs, const uint8_t *ikm, size_t len)
{
	uint8_t temp_k[NOISE_HASH_LEN];

	noise_hkdf(hs->ck, ikm, len, hs->ck, temp_k, NULL);
	memcpy(hs->k, temp_k, NOISE_KEY_LEN);
	hs->n = 0;
	hs->has_key = true;
	sodium_memzero(temp_k, sizeof(temp_k));
}

/* MixKey(DH(priv, pub)); a low-order public key gives an all-zero result,
 * which libsodium reports and we refuse. */
static int mix_dh(struct noise_handshake *hs, const uint8_t priv[NOISE_KEY_LEN], const uint8_t pub[NOISE_KEY_LEN])
{
	uint8_t shared[NOISE_KEY_LEN];

	if (crypto_scalarmult(shared, priv, pub) != 0)
		return -EBADMSG;
	mix_key(hs, shared, sizeof(shared));
	sodium_memzero(shared, sizeof(shared));
	return 0;
}

/* Only called after a MixKey, so has_key always holds; n never reaches its
 * limit because each key encrypts at most two handshake fields. */
static void encrypt_and_hash(struct noise_handshake *hs, const uint8_t *in, size_t len, uint8_t *out)
{
	noise_aead_seal(hs->k, hs->n++, hs->h, NOISE_HASH_LEN, in, len, out);
	mix_hash(hs, out, len + NOISE_TAG_LEN);
}

static int decrypt_and_hash(struct noise_handshake *hs, const uint8_t *in, size_t len, uint8_t *out)
{
	uint8_t h_next[NOISE_HASH_LEN];

	noise_hash(h_next, hs->h, NOISE_HASH_LEN, in, len);
	if (noise_aead_open(hs->k, hs->n, hs->h, NOISE_HASH_LEN, in, len, out) != 0)
		return -EBADMSG;
	hs->n++;
	memcpy(hs->h, h_next, sizeof(h_next));
	return 0;
}

/* ---- bare IK (Noise section 7.5: "<- s ... -> e, es, s, ss  <- e, ee, se") ---- */

void noise_handshake_wipe(struct noise_handshake *hs)
{
	sodium_memzero(hs, sizeof(*hs));
}

void noise_ik_init(struct noise_handshake *hs, bool initiator, const uint8_t *prologue, size_t prologue_len,
		   const struct noise_keypair *s, const uint8_t *rs)
{
	static const char name[] = NOISE_PROTOCOL_NAME;
	_Static_assert(sizeof(name) - 1 <= NOISE_HASH_LEN, "protocol name is padded, not hashed");

	memset(hs, 0, sizeof(*hs));
	memcpy(hs->h, name, sizeof(name) - 1);
	memcpy(hs->ck, hs->h, NOISE_HASH_LEN);
	mix_hash(hs, prologue, prologue_len);
	hs->initiator = initiator;
	hs->s = *s;
	if (initiator)
		memcpy(hs->rs, rs, NOISE_KEY_LEN);
	mix_hash(hs, initiator ? hs->rs : hs->s.pub, NOISE_KEY_LEN);
}

static int make_ephemeral(struct noise_handshake *hs, const uint8_t *e_priv)
{
	if (e_priv)
		return noise_keypair_from_private(&hs->e, e_priv);
	return noise_keypair_generate(&hs->e);
}

int noise_ik_write_msg1(struct noise_handshake *hs, const uint8_t *e_priv, const uint8_t *payload,
			size_t payload_len, uint8_t *out, size_t cap, size_t *out_len)
{
	size_t need = NOISE_KEY_LEN + NOISE_KEY_LEN + NOISE_TAG_LEN + payload_len + NOISE_TAG_LEN;

	if (!hs->initiator || hs->step != NOISE_HS_EMPTY || cap < need)
		return -EINVAL;
	if (make_ephemeral(hs, e_priv) != 0)
		return -EINVAL;
	memcpy(out, hs->e.pub, NOISE_KEY_LEN);
	mix_hash(hs, hs->e.pub, NOISE_KEY_LEN);
	if (mix_dh(hs, hs->e.priv, hs->rs) != 0)
		return -EINVAL;
	encrypt_and_hash(hs, hs->s.pub, NOISE_KEY_LEN, out + NOISE_KEY_LEN);
	if (mix_dh(hs, hs->s.priv, hs->rs) != 0)
		return -EINVAL;
	encrypt_and_hash(hs, payload, payload_len, out + 2 * NOISE_KEY_LEN + NOISE_TAG_LEN);
	hs->step = NOISE_HS_INIT_WRITTEN;
	*out_len = need;
	return 0;
}

int noise_ik_read_msg1(struct noise_handshake *hs, const uint8_t *msg, size_t len, uint8_t *payload,
		       size_t cap, size_t *payload_len)
{
	const size_t fixed = NOISE_KEY_LEN + NOISE_KEY_LEN + NOISE_TAG_LEN;

	if (hs->initiator || hs->step != NOISE_HS_EMPTY || len < fixed + NOISE_TAG_LEN ||
	    cap < len - fixed - NOISE_TAG_LEN)
		return -EINVAL;
	memcpy(hs->re, msg, NOISE_KEY_LEN);
	mix_hash(hs, hs->re, NOISE_KEY_LEN);
	if (mix_dh(hs, hs->s.priv, hs->re) != 0)
		return -EBADMSG;
	if (decrypt_and_hash(hs, msg + NOISE_KEY_LEN, NOISE_KEY_LEN + NOISE_TAG_LEN, hs->rs) != 0)
		return -EBADMSG;
	if (mix_dh(hs, hs->s.priv, hs->rs) != 0)
		return -EBADMSG;
	if (decrypt_and_hash(hs, msg + fixed, len - fixed, payload) != 0)
		return -EBADMSG;
	*payload_len = len - fixed - NOISE_TAG_LEN;
	hs->step = NOISE_HS_INIT_READ;
	return 0;
}

int noise_ik_write_msg2(struct noise_handshake *hs, const uint8_t *e_priv, const uint8_t *payload,
			size_t payload_len, uint8_t *out, size_t cap, size_t *out_len)
{
	size_t need = NOISE_KEY_LEN + payload_len + NOISE_TAG_LEN;

	if (hs->initiator || hs->step != NOISE_HS_INIT_READ || cap < need)
		return -EINVAL;
	if (make_ephemeral(hs, e_priv) != 0)
		return -EINVAL;
	memcpy(out, hs->e.pub, NOISE_KEY_LEN);
	mix_hash(hs, hs->e.pub, NOISE_KEY_LEN);
	if (mix_dh(hs, hs->e.priv, hs->re) != 0 || mix_dh(hs, hs->e.priv, hs->rs) != 0)
		return -EINVAL;
	encrypt_and_hash(hs, payload, payload_len, out + NOISE_KEY_LEN);
	hs->step = NOISE_HS_DONE;
	*out_len = need;
	return 0;
}

int noise_ik_read_msg2(struct noise_handshake *hs, const uint8_t *msg, size_t len, uint8_t *payload,
		       size_t cap, size_t *payload_len)
{
	if (!hs->initiator || hs->step != NOISE_HS_INIT_WRITTEN || len < NOISE_KEY_LEN + NOISE_TAG_LEN ||
	    cap < len - NOISE_KEY_LEN - NOISE_TAG_LEN)
		return -EINVAL;
	/* Work on a copy: a forged response must not spoil the pending
	 * handshake, or anyone could cancel it with one packet. */
	struct noise_handshake t = *hs;
	int rc = -EBADMSG;

	memcpy(t.re, msg, NOISE_KEY_LEN);
	mix_hash(&t, t.re, NOISE_KEY_LEN);
	if (mix_dh(&t, t.e.priv, t.re) != 0 || mix_dh(&t, t.s.priv, t.re) != 0)
		goto out;
	if (decrypt_and_hash(&t, msg + NOISE_KEY_LEN, len - NOISE_KEY_LEN, payload) != 0)
		goto out;
	*payload_len = len - NOISE_KEY_LEN - NOISE_TAG_LEN;
	t.step = NOISE_HS_DONE;
	*hs = t;
	rc = 0;
out:
	noise_handshake_wipe(&t);
	return rc;
}

int noise_ik_split(struct noise_handshake *hs, uint8_t send_key[NOISE_KEY_LEN], uint8_t recv_key[NOISE_KEY_LEN])
{
	uint8_t k1[NOISE_HASH_LEN], k2[NOISE_HASH_LEN];

	if (hs->step != NOISE_HS_DONE)
		return -EINVAL;
	noise_hkdf(hs->ck, NULL, 0, k1, k2, NULL);
	memcpy(send_key, hs->initiator ? k1 : k2, NOISE_KEY_LEN);
	memcpy(recv_key, hs->initiator ? k2 : k1, NOISE_KEY_LEN);
	sodium_memzero(k1, sizeof(k1));
	sodium_memzero(k2, sizeof(k2));
	noise_handshake_wipe(hs);
	return 0;
}

/* ---- rate limiting ---- */

void noise_bucket_init(struct noise_bucket *b, uint32_t rate_per_s, uint32_t burst, uint64_t now_ms)
{
	b->rate_per_s = rate_per_s;
	b->burst = burst;
	b->tokens_milli = (uint64_t)burst * 1000;
	b->last_ms = now_ms;
}

bool noise_bucket_take(struct noise_bucket *b, uint64_t now_ms)
{
	uint64_t cap = (uint64_t)b->burst * 1000;

	if (now_ms > b->last_ms) {
		uint64_t dt = now_ms - b->last_ms; /* ms; at rate/s that is dt * rate milli-tokens */
		uint64_t room = cap > b->tokens_milli ? cap - b->tokens_milli : 0;
		/* compare before multiplying so a long pause cannot overflow */
		if (b->rate_per_s && dt > room / b->rate_per_s)
			b->tokens_milli = cap;
		else
			b->tokens_milli += dt * b->rate_per_s;
		b->last_ms = now_ms;
	}
	if (b->tokens_milli < 1000)
		return false;
	b->tokens_milli -= 1000;
	return true;
}

/* ---- ipop messages ---- */

static void mac1_key(uint8_t out[NOISE_KEY_LEN], const uint8_t pub[NOISE_KEY_LEN])
{
	crypto_generichash_state st;

	crypto_generichash_init(&st, NULL, 0, NOISE_KEY_LEN);
	crypto_generichash_update(&st, (const uint8_t *)TUNNEL_MAC1_LABEL, sizeof(TUNNEL_MAC1_LABEL) - 1);
	crypto_generichash_update(&st, pub, NOISE_KEY_LEN);
	crypto_generichash_final(&st, out, NOISE_KEY_LEN);
}

static void mac1_compute(uint8_t mac[TUNNEL_MAC_LEN], const uint8_t key[NOISE_KEY_LEN], const uint8_t *msg,
			 size_t len)
{
	crypto_generichash(mac, TUNNEL_MAC_LEN, msg, len, key, NOISE_KEY_LEN);
}

static bool mac1_ok(const uint8_t key[NOISE_KEY_LEN], const uint8_t *msg, size_t len)
{
	uint8_t mac[TUNNEL_MAC_LEN];

	mac1_compute(mac, key, msg, len - TUNNEL_MAC_LEN);
	return sodium_memcmp(mac, msg + len - TUNNEL_MAC_LEN, TUNNEL_MAC_LEN) == 0;
}

void noise_local_init(struct noise_local *l, const struct noise_keypair *s, uint64_t now_ms)
{
	memset(l, 0, sizeof(*l));
	l->s = *s;
	mac1_key(l->mac1_key, s->pub);
	noise_bucket_init(&l->init_bucket, NOISE_INIT_RX_RATE_PER_S, NOISE_INIT_RX_BURST, now_ms);
	cookie_checker_init(&l->cookie, s->pub);
	l->cookies = true;
}

bool noise_local_under_load(const struct noise_local *l, uint64_t now_ms)
{
	return now_ms < l->load_until_ms;
}

void noise_peer_init(struct noise_peer *p, const uint8_t remote_static[NOISE_KEY_LEN])
{
	memset(p, 0, sizeof(*p));
	memcpy(p->remote_static, remote_static, NOISE_KEY_LEN);
	mac1_key(p->remote_mac1_key, remote_static);
	cookie_maker_init(&p->cookie, remote_static);
}

void noise_peer_wipe(struct noise_peer *p)
{
	sodium_memzero(p, sizeof(*p));
}

void noise_keys_wipe(struct noise_keys *k)
{
	sodium_memzero(k, sizeof(*k));
}

void noise_tai64n(uint8_t out[NOISE_TIMESTAMP_LEN], uint64_t wall_ns)
{
	uint64_t secs = (UINT64_C(1) << 62) + wall_ns / 1000000000u;
	uint32_t nsec = (uint32_t)(wall_ns % 1000000000u);

	for (int i = 0; i < 8; i++)
		out[i] = (uint8_t)(secs >> (56 - 8 * i));
	for (int i = 0; i < 4; i++)
		out[8 + i] = (uint8_t)(nsec >> (24 - 8 * i));
}

int noise_create_initiation(struct noise_local *l, struct noise_peer *p, uint32_t local_index, uint64_t now_ms,
			    uint64_t wall_ns, uint8_t *out, size_t cap, size_t *out_len)
{
	struct tunnel_msg_initiation *m = (struct tunnel_msg_initiation *)out;
	uint8_t ts[NOISE_TIMESTAMP_LEN];
	size_t n;

	if (cap < TUNNEL_INITIATION_LEN)
		return -ENOBUFS;
	if (p->init_tx_seen && now_ms - p->last_init_tx_ms < NOISE_REKEY_TIMEOUT_MS)
		return -EAGAIN;
	noise_ik_init(&p->hs, true, (const uint8_t *)TUNNEL_PROLOGUE, sizeof(TUNNEL_PROLOGUE) - 1, &l->s,
		      p->remote_static);
	noise_tai64n(ts, wall_ns);
	if (noise_ik_write_msg1(&p->hs, NULL, ts, sizeof(ts), m->ephemeral, TUNNEL_NOISE_MSG1_LEN, &n) != 0) {
		noise_handshake_wipe(&p->hs);
		p->state = NOISE_PEER_IDLE;
		return -EINVAL;
	}
	m->type = TUNNEL_MSG_INITIATION;
	memset(m->reserved, 0, sizeof(m->reserved));
	tunnel_put_le32(m->sender_index, local_index);
	mac1_compute(m->mac1, p->remote_mac1_key, out, offsetof(struct tunnel_msg_initiation, mac1));
	cookie_maker_mac1_sent(&p->cookie, m->mac1);
	p->hs_local_index = local_index;
	p->state = NOISE_PEER_INIT_SENT;
	p->last_init_tx_ms = now_ms;
	p->init_tx_seen = true;
	*out_len = TUNNEL_INITIATION_LEN;
	cookie_maker_mac2(&p->cookie, out, out_len, cap, now_ms);
	return 0;
}

static int check_initiation_header(const uint8_t *msg, size_t len)
{
	if ((len != TUNNEL_INITIATION_LEN && len != TUNNEL_INITIATION_MAC2_LEN) || msg[0] != TUNNEL_MSG_INITIATION ||
	    msg[1] || msg[2] || msg[3])
		return -EINVAL;
	return 0;
}

/* Whether this initiation may cost a Diffie-Hellman now (see struct
 * noise_local): 0, -EBUSY, or -EAGAIN for "answer with a cookie". */
static int admit(struct noise_local *l, const uint8_t *msg, size_t len, const struct cookie_src *src,
		 uint64_t now_ms)
{
	bool token = noise_bucket_take(&l->init_bucket, now_ms);

	if (!token)
		l->load_until_ms = now_ms + NOISE_LOAD_HOLD_MS;
	if (!noise_local_under_load(l, now_ms))
		return 0;
	if (!l->cookies || !src) {
		if (token)
			return 0;
		l->rx_dropped_ratelimit++;
		return -EBUSY;
	}
	if (len != TUNNEL_INITIATION_MAC2_LEN || !cookie_checker_mac2_ok(&l->cookie, msg, src, now_ms)) {
		if (!cookie_checker_reply_allow(&l->cookie, src, now_ms)) {
			l->rx_dropped_ratelimit++;
			return -EBUSY;
		}
		l->rx_cookie_replies++;
		return -EAGAIN;
	}
	if (!cookie_checker_src_allow(&l->cookie, src, now_ms)) {
		l->rx_dropped_ratelimit++;
		return -EBUSY;
	}
	l->rx_mac2_ok++;
	return 0;
}

/* Identity, replay and per-peer rate checks once the static key is known. */
static int accept_initiator(struct noise_local *l, struct noise_peer *p, const uint8_t ts[NOISE_TIMESTAMP_LEN],
			    uint64_t now_ms)
{
	if (!p) {
		l->rx_dropped_unknown++;
		return -ENOENT;
	}
	if (memcmp(ts, p->last_timestamp, NOISE_TIMESTAMP_LEN) <= 0) {
		l->rx_dropped_replay++;
		return -EALREADY;
	}
	if (p->init_rx_seen && now_ms - p->last_init_rx_ms < NOISE_INIT_RX_MIN_INTERVAL_MS) {
		l->rx_dropped_ratelimit++;
		return -EBUSY;
	}
	return 0;
}

int noise_consume_initiation(struct noise_local *l, const uint8_t *msg, size_t len, const struct cookie_src *src,
			     uint64_t now_ms, noise_lookup_fn lookup, void *ctx, struct noise_peer **peer_out,
			     struct noise_handshake *hs, uint32_t *remote_index)
{
	const struct tunnel_msg_initiation *m = (const struct tunnel_msg_initiation *)msg;
	uint8_t ts[NOISE_TIMESTAMP_LEN];
	size_t ts_len;
	int rc;

	if (check_initiation_header(msg, len) != 0)
		return -EINVAL;
	if (!mac1_ok(l->mac1_key, msg, TUNNEL_INITIATION_LEN)) {
		l->rx_dropped_mac++;
		return -EBADMSG;
	}
	if ((rc = admit(l, msg, len, src, now_ms)) != 0)
		return rc;
	noise_ik_init(hs, false, (const uint8_t *)TUNNEL_PROLOGUE, sizeof(TUNNEL_PROLOGUE) - 1, &l->s, NULL);
	rc = noise_ik_read_msg1(hs, m->ephemeral, TUNNEL_NOISE_MSG1_LEN, ts, sizeof(ts), &ts_len);
	if (rc != 0 || ts_len != sizeof(ts)) {
		l->rx_dropped_auth++;
		noise_handshake_wipe(hs);
		return -EBADMSG;
	}
	struct noise_peer *p = lookup(ctx, hs->rs);
	if (p && sodium_memcmp(p->remote_static, hs->rs, NOISE_KEY_LEN) != 0)
		p = NULL; /* a lookup that returns the wrong peer must not let it in */
	rc = accept_initiator(l, p, ts, now_ms);
	if (rc != 0) {
		noise_handshake_wipe(hs);
		return rc;
	}
	memcpy(p->last_timestamp, ts, sizeof(ts));
	p->last_init_rx_ms = now_ms;
	p->init_rx_seen = true;
	*remote_index = tunnel_get_le32(m->sender_index);
	*peer_out = p;
	return 0;
}

void noise_create_cookie_reply(struct noise_local *l, const uint8_t *msg, const struct cookie_src *src,
			       uint64_t now_ms, uint8_t out[TUNNEL_COOKIE_REPLY_LEN])
{
	cookie_checker_reply(&l->cookie, msg, src, now_ms, out);
}

int noise_consume_cookie_reply(struct noise_peer *p, const uint8_t *msg, size_t len, uint64_t now_ms)
{
	if (len != TUNNEL_COOKIE_REPLY_LEN)
		return -EINVAL;
	if (p->state != NOISE_PEER_INIT_SENT || tunnel_get_le32(msg + 4) != p->hs_local_index)
		return -ESTALE;
	return cookie_maker_consume(&p->cookie, msg, len, now_ms);
}

void noise_initiation_add_mac2(const struct noise_peer *p, uint8_t *buf, size_t *len, size_t cap, uint64_t now_ms)
{
	cookie_maker_mac2(&p->cookie, buf, len, cap, now_ms);
}

int noise_create_response(struct noise_local *l, struct noise_peer *p, struct noise_handshake *hs,
			  uint32_t local_index, uint32_t remote_index, uint8_t *out, size_t cap, size_t *out_len,
			  struct noise_keys *keys)
{
	struct tunnel_msg_response *m = (struct tunnel_msg_response *)out;
	size_t n;

	(void)l;
	if (cap < TUNNEL_RESPONSE_LEN)
		return -ENOBUFS;
	if (noise_ik_write_msg2(hs, NULL, NULL, 0, m->ephemeral, TUNNEL_NOISE_MSG2_LEN, &n) != 0 ||
	    noise_ik_split(hs, keys->send, keys->recv) != 0) {
		noise_handshake_wipe(hs);
		return -EINVAL;
	}
	m->type = TUNNEL_MSG_RESPONSE;
	memset(m->reserved, 0, sizeof(m->reserved));
	tunnel_put_le32(m->sender_index, local_index);
	tunnel_put_le32(m->receiver_index, remote_index);
	mac1_compute(m->mac1, p->remote_mac1_key, out, offsetof(struct tunnel_msg_response, mac1));
	keys->local_index = local_index;
	keys->remote_index = remote_index;
	keys->initiator = false;
	*out_len = TUNNEL_RESPONSE_LEN;
	return 0;
}

int noise_consume_response(struct noise_local *l, struct noise_peer *p, const uint8_t *msg, size_t len,
			   struct noise_keys *keys)
{
	const struct tunnel_msg_response *m = (const struct tunnel_msg_response *)msg;
	uint8_t empty[1];
	size_t n;

	if (len != TUNNEL_RESPONSE_LEN || msg[0] != TUNNEL_MSG_RESPONSE || msg[1] || msg[2] || msg[3])
		return -EINVAL;
	if (!mac1_ok(l->mac1_key, msg, len)) {
		l->rx_dropped_mac++;
		return -EBADMSG;
	}
	if (p->state != NOISE_PEER_INIT_SENT || tunnel_get_le32(m->receiver_index) != p->hs_local_index)
		return -ESTALE;
	if (noise_ik_read_msg2(&p->hs, m->ephemeral, TUNNEL_NOISE_MSG2_LEN, empty, 0, &n) != 0) {
		l->rx_dropped_auth++;
		return -EBADMSG;
	}
	noise_ik_split(&p->hs, keys->send, keys->recv);
	keys->local_index = p->hs_local_index;
	keys->remote_index = tunnel_get_le32(m->sender_index);
	keys->initiator = true;
	p->state = NOISE_PEER_IDLE;
	return 0;
}
