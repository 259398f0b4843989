/* ChaCha20-Poly1305 through OpenSSL, libsodium as the fallback; see
 * aead.h. */
#include "aead.h"
#include "aead_prov.h"
#include "chacha20_avx512.h"
#include "tunnel_proto.h"

#include <limits.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdbool.h>
#include <string.h>
#include <sodium.h>

enum {
	BLOCK = 64, /* a ChaCha20 block */
	/* Packets up to this size take the one-pass path (a jumbo MTU of
	 * 9000 and its headers fit); longer ones the EVP AEAD. */
	ONEPASS_MAX = 9216,
	POLY_STRIDE = 128, /* see poly_tag */
};

/* One direction's cipher context of a thread, and the key it holds:
 * setting the key again costs more than the comparison (packets of a flow
 * share it). */
struct aead_ctx {
	EVP_CIPHER_CTX *c;
	bool keyed;
	uint8_t key[AEAD_KEY_LEN];
};

/* The one-pass path of a thread: the provider's raw ChaCha20 and
 * Poly1305 contexts (aead_prov.h; ChaCha20 only XORs a keystream, so
 * seal and open share one, keyed anew per packet), and the buffer the
 * keystream is made in. */
struct onepass {
	const struct aead_prov *p;
	void *chacha, *poly;
	bool broken; /* OpenSSL lacks something: use the EVP AEAD */
	_Alignas(64) uint8_t buf[BLOCK + ONEPASS_MAX + BLOCK];
};

static _Thread_local struct aead_ctx enc_ctx, dec_ctx;
static _Thread_local struct onepass op;

/* The thread's context for one direction, with the cipher chosen once. */
static struct aead_ctx *ctx_get(struct aead_ctx *x, const EVP_CIPHER *cipher, int enc)
{
	if (x->c)
		return x;
	EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
	if (!c)
		return NULL;
	if (EVP_CipherInit_ex(c, cipher, NULL, NULL, NULL, enc) != 1) {
		EVP_CIPHER_CTX_free(c);
		return NULL;
	}
	x->c = c;
	x->keyed = false;
	return x;
}

/* Sets the IV, and the key when it changed. */
static int ctx_start(struct aead_ctx *x, const uint8_t *key, const uint8_t *iv, int enc)
{
	bool same = x->keyed && CRYPTO_memcmp(x->key, key, AEAD_KEY_LEN) == 0;
	if (EVP_CipherInit_ex(x->c, NULL, NULL, same ? NULL : key, iv, enc) != 1) {
		x->keyed = false;
		return -1;
	}
	if (!same) {
		memcpy(x->key, key, AEAD_KEY_LEN);
		x->keyed = true;
	}
	return 0;
}

static void ctx_free(struct aead_ctx *x)
{
	EVP_CIPHER_CTX_free(x->c);
	x->c = NULL;
	x->keyed = false;
	OPENSSL_cleanse(x->key, AEAD_KEY_LEN);
}

void aead_thread_release(void)
{
	ctx_free(&enc_ctx);
	ctx_free(&dec_ctx);
	if (op.chacha)
		op.p->chacha_free(op.chacha);
	if (op.poly)
		op.p->poly_free(op.poly);
	op.chacha = op.poly = NULL;
	op.p = NULL;
	op.broken = false;
	OPENSSL_cleanse(op.buf, sizeof(op.buf));
}

void aead_seal_sodium(const uint8_t key[AEAD_KEY_LEN], const uint8_t nonce[AEAD_NONCE_LEN], const uint8_t *ad,
		      size_t adlen, const uint8_t *in, size_t len, uint8_t *out)
{
	crypto_aead_chacha20poly1305_ietf_encrypt(out, NULL, in, len, ad, adlen, NULL, nonce, key);
}

int aead_open_sodium(const uint8_t key[AEAD_KEY_LEN], const uint8_t nonce[AEAD_NONCE_LEN], const uint8_t *ad,
		     size_t adlen, const uint8_t *in, size_t len, uint8_t *out)
{
	return crypto_aead_chacha20poly1305_ietf_decrypt(out, NULL, NULL, in, len, ad, adlen, nonce, key) == 0 ? 0
														: -1;
}

/* ---- one pass: ChaCha20 once over [key block | text] ----
 *
 * OpenSSL's AEAD makes three ChaCha20 calls per packet: the block that
 * keys Poly1305, the whole blocks of the text, and its partial last block.
 * The short calls take a path built for up to 512 bytes whose cost is
 * mostly latency, as much as a kilobyte on the long path (see
 * docs/benchmarks.md, issue 14). Here ChaCha20 runs once from counter 0,
 * the key block and the text in one pass: with AVX-512 this project's
 * ChaCha20 (chacha20_avx512.h: OpenSSL's makes 24 blocks cost 32), from
 * the packet to itself with the partial last block masked; otherwise
 * OpenSSL's raw ChaCha20 over a buffer holding 64 zero bytes (which
 * become the Poly1305 key), a copy of the text, and zeros up to a whole
 * block. Poly1305 is OpenSSL's. OpenSSL's functions are called through
 * their provider's table, not EVP (aead_prov.h says why). The bytes on
 * the wire are RFC 8439's, as before. */

static bool onepass_ready(void)
{
	if (op.poly)
		return true;
	if (op.broken)
		return false;
	op.p = aead_prov_get();
	/* OpenSSL's ChaCha20 only where this project's AVX-512 one is not */
	op.chacha = op.p && !chacha20_avx512_ok() ? op.p->chacha_new(op.p->provctx) : NULL;
	op.poly = op.p && (op.chacha || chacha20_avx512_ok()) ? op.p->poly_new(op.p->mac_provctx) : NULL;
	if (!op.poly) {
		aead_thread_release();
		op.broken = true;
		return false;
	}
	return true;
}

/* Without AVX-512: OpenSSL's ChaCha20 from block 0 over the first BLOCK +
 * len bytes of op.buf, which holds zeros then the text, rounded up to
 * whole blocks (its short-input path would make the key block and the
 * partial last block cost a call each). */
static int keystream_xor(const uint8_t *key, const uint8_t nonce[AEAD_NONCE_LEN], const uint8_t *text, size_t len)
{
	uint8_t iv[16] = { 0 }; /* 32-bit block counter 0, then the nonce */
	size_t total = BLOCK + (len + BLOCK - 1) / BLOCK * BLOCK, ol;

	memcpy(iv + 4, nonce, AEAD_NONCE_LEN);
	memset(op.buf, 0, BLOCK);
	if (len) /* text may be NULL then */
		memcpy(op.buf + BLOCK, text, len);
	memset(op.buf + BLOCK + len, 0, total - BLOCK - len);
	/* the key each time: setting it is 8 loads, cheaper than comparing */
	if (op.p->chacha_init(op.chacha, key, AEAD_KEY_LEN, iv, sizeof(iv), NULL) != 1 ||
	    op.p->chacha_cipher(op.chacha, op.buf, &ol, total, op.buf, total) != 1 || ol != total)
		return -1;
	return 0;
}

static int mac_update(const uint8_t *in, size_t len)
{
	return op.p->poly_update(op.poly, in, len) == 1 ? 0 : -1;
}

static int mac_pad(size_t len)
{
	static const uint8_t zeros[16];
	return len % 16 == 0 ? 0 : mac_update(zeros, 16 - len % 16);
}

/* RFC 8439 section 2.8: Poly1305 over ad, pad, ct, pad, both lengths,
 * with the one-time key pk.
 *
 * How the bytes go in matters: OpenSSL's vector Poly1305 (AVX-512 IFMA
 * here) is slow on a call whose length is not a whole number of
 * 128-byte pieces (its 8-block stride), and every call costs its own
 * dispatch. So the text goes in as one call of whole 128-byte pieces and
 * one short call with the rest, its padding and the lengths copied
 * together; an ad of whole blocks that lies just before ct (the tunnel
 * header in front of its payload) joins ct's run. Measured (1000s of
 * calls, min of 30): 1368 bytes of ct with a 16-byte ad 335 -> 205 ns,
 * 1420 bytes 243 -> 221 ns, 52 bytes 131 -> 87 ns (docs/benchmarks.md,
 * "Two hops"). The tag is the same. */
static int poly_tag(const uint8_t *pk, const uint8_t *ad, size_t adlen, const uint8_t *ct, size_t len,
		    uint8_t tag[AEAD_TAG_LEN])
{
	uint8_t rest[POLY_STRIDE + 16 + 16]; /* < 128 bytes of text, its pad, the lengths */
	const uint8_t *run = ct;
	size_t runlen = len, tl;

	if (op.p->poly_init(op.poly, pk, 32, NULL) != 1)
		return -1;
	if (adlen && adlen % 16 == 0 && ad + adlen == ct) {
		run = ad; /* one run: ad needs no padding and ct follows it */
		runlen = adlen + len;
	} else if (adlen && (mac_update(ad, adlen) != 0 || mac_pad(adlen) != 0)) {
		return -1;
	}
	size_t head = runlen / POLY_STRIDE * POLY_STRIDE, n = runlen - head, pad = (16 - len % 16) % 16;
	if (head && mac_update(run, head) != 0)
		return -1;
	if (n)
		memcpy(rest, run + head, n);
	memset(rest + n, 0, pad);
	tunnel_put_le64(rest + n + pad, adlen);
	tunnel_put_le64(rest + n + pad + 8, len);
	if (mac_update(rest, n + pad + 16) != 0 || op.p->poly_final(op.poly, tag, &tl, AEAD_TAG_LEN) != 1 ||
	    tl != AEAD_TAG_LEN)
		return -1;
	return 0;
}

/* With AVX-512 ChaCha20 runs from in to out, the key block in the same
 * pass, and Poly1305 reads the ciphertext where it lies: no copy. */
static int onepass_seal(const uint8_t *key, const uint8_t *nonce, const uint8_t *ad, size_t adlen,
			const uint8_t *in, size_t len, uint8_t *out)
{
	uint8_t tag[AEAD_TAG_LEN], pk[32];

	if (chacha20_avx512_ok()) {
		chacha20_avx512_aead(key, nonce, pk, in, out, len);
		int rc = poly_tag(pk, ad, adlen, out, len, tag);
		OPENSSL_cleanse(pk, sizeof(pk));
		if (rc != 0)
			return -1;
		memcpy(out + len, tag, AEAD_TAG_LEN);
		return 0;
	}
	if (keystream_xor(key, nonce, in, len) != 0)
		return -1;
	/* A short ad of whole blocks goes just before the ciphertext, into
	 * the unused half of the block that keyed Poly1305, so that
	 * poly_tag takes both as one run. */
	const uint8_t *mad = ad;
	if (adlen && adlen <= BLOCK - 32 && adlen % 16 == 0)
		mad = memcpy(op.buf + BLOCK - adlen, ad, adlen);
	if (poly_tag(op.buf, mad, adlen, op.buf + BLOCK, len, tag) != 0)
		return -1;
	if (len)
		memcpy(out, op.buf + BLOCK, len);
	memcpy(out + len, tag, AEAD_TAG_LEN);
	return 0;
}

/* 0, -1 forged, or -2 when OpenSSL failed (then nothing was written).
 * The text is deciphered into op.buf and copied out only once the tag
 * matched: in may be out, and a forged packet must leave it whole. */
static int onepass_open(const uint8_t *key, const uint8_t *nonce, const uint8_t *ad, size_t adlen,
			const uint8_t *in, size_t clen, uint8_t *out)
{
	uint8_t tag[AEAD_TAG_LEN], pk[32];
	const uint8_t *k = pk;

	if (chacha20_avx512_ok())
		chacha20_avx512_aead(key, nonce, pk, in, op.buf + BLOCK, clen);
	else if (keystream_xor(key, nonce, in, clen) != 0)
		return -2;
	else
		k = op.buf;
	int rc = poly_tag(k, ad, adlen, in, clen, tag);
	OPENSSL_cleanse(pk, sizeof(pk));
	if (rc != 0)
		return -2;
	if (CRYPTO_memcmp(tag, in + clen, AEAD_TAG_LEN) != 0)
		return -1;
	if (clen) /* out may be NULL then */
		memcpy(out, op.buf + BLOCK, clen);
	return 0;
}

/* ---- the EVP AEAD, for longer packets ---- */

static int evp_seal(struct aead_ctx *x, const uint8_t *key, const uint8_t *nonce, const uint8_t *ad, size_t adlen,
		    const uint8_t *in, size_t len, uint8_t *out)
{
	EVP_CIPHER_CTX *c = x->c;
	int ol;

	if (ctx_start(x, key, nonce, 1) != 0 ||
	    (adlen && EVP_EncryptUpdate(c, NULL, &ol, ad, (int)adlen) != 1) ||
	    (len && EVP_EncryptUpdate(c, out, &ol, in, (int)len) != 1) || EVP_EncryptFinal_ex(c, out + len, &ol) != 1 ||
	    EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_GET_TAG, AEAD_TAG_LEN, out + len) != 1)
		return -1;
	return 0;
}

static int evp_open(struct aead_ctx *x, const uint8_t *key, const uint8_t *nonce, const uint8_t *ad, size_t adlen,
		    const uint8_t *in, size_t clen, uint8_t *out)
{
	EVP_CIPHER_CTX *c = x->c;
	uint8_t tag[AEAD_TAG_LEN];
	int ol;

	/* copy the tag first: out may equal in */
	memcpy(tag, in + clen, AEAD_TAG_LEN);
	if (ctx_start(x, key, nonce, 0) != 0 ||
	    (adlen && EVP_DecryptUpdate(c, NULL, &ol, ad, (int)adlen) != 1) ||
	    (clen && EVP_DecryptUpdate(c, out, &ol, in, (int)clen) != 1) ||
	    EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_SET_TAG, AEAD_TAG_LEN, tag) != 1 ||
	    EVP_DecryptFinal_ex(c, out + clen, &ol) != 1)
		return -1;
	return 0;
}

void aead_seal(const uint8_t key[AEAD_KEY_LEN], const uint8_t nonce[AEAD_NONCE_LEN], const uint8_t *ad,
	       size_t adlen, const uint8_t *in, size_t len, uint8_t *out)
{
	if (len <= ONEPASS_MAX && onepass_ready() && onepass_seal(key, nonce, ad, adlen, in, len, out) == 0)
		return;
	struct aead_ctx *x =
		len < INT_MAX && adlen < INT_MAX ? ctx_get(&enc_ctx, EVP_chacha20_poly1305(), 1) : NULL;
	if (!x || evp_seal(x, key, nonce, ad, adlen, in, len, out) != 0)
		aead_seal_sodium(key, nonce, ad, adlen, in, len, out);
}

int aead_open(const uint8_t key[AEAD_KEY_LEN], const uint8_t nonce[AEAD_NONCE_LEN], const uint8_t *ad,
	      size_t adlen, const uint8_t *in, size_t len, uint8_t *out)
{
	if (len < AEAD_TAG_LEN)
		return -1;
	size_t clen = len - AEAD_TAG_LEN;
	if (clen <= ONEPASS_MAX && onepass_ready()) {
		int rc = onepass_open(key, nonce, ad, adlen, in, clen, out);
		if (rc != -2)
			return rc;
	}
	struct aead_ctx *x =
		clen < INT_MAX && adlen < INT_MAX ? ctx_get(&dec_ctx, EVP_chacha20_poly1305(), 0) : NULL;
	if (!x)
		return aead_open_sodium(key, nonce, ad, adlen, in, len, out);
	return evp_open(x, key, nonce, ad, adlen, in, clen, out);
}
