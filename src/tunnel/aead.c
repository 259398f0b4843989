/* ChaCha20-Poly1305 through OpenSSL EVP, libsodium as the fallback; see
 * aead.h. */
#include "aead.h"

#include <limits.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdbool.h>
#include <string.h>
#include <sodium.h>

/* One direction's context of a thread, and the key it holds: setting the
 * key again costs more than the comparison (packets of a flow share it). */
struct aead_ctx {
	EVP_CIPHER_CTX *c;
	bool keyed;
	uint8_t key[AEAD_KEY_LEN];
};

static _Thread_local struct aead_ctx enc_ctx, dec_ctx;

/* The thread's context for one direction, with the cipher chosen once. */
static struct aead_ctx *ctx_get(struct aead_ctx *x, int enc)
{
	if (x->c)
		return x;
	EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
	if (!c)
		return NULL;
	if (EVP_CipherInit_ex(c, EVP_chacha20_poly1305(), NULL, NULL, NULL, enc) != 1) {
		EVP_CIPHER_CTX_free(c);
		return NULL;
	}
	x->c = c;
	x->keyed = false;
	return x;
}

/* Sets the nonce, and the key when it changed. */
static int ctx_start(struct aead_ctx *x, const uint8_t *key, const uint8_t *nonce, int enc)
{
	bool same = x->keyed && CRYPTO_memcmp(x->key, key, AEAD_KEY_LEN) == 0;
	if (EVP_CipherInit_ex(x->c, NULL, NULL, same ? NULL : key, nonce, enc) != 1) {
		x->keyed = false;
		return -1;
	}
	if (!same) {
		memcpy(x->key, key, AEAD_KEY_LEN);
		x->keyed = true;
	}
	return 0;
}

void aead_thread_release(void)
{
	struct aead_ctx *all[2] = { &enc_ctx, &dec_ctx };

	for (int i = 0; i < 2; i++) {
		EVP_CIPHER_CTX_free(all[i]->c);
		all[i]->c = NULL;
		all[i]->keyed = false;
		OPENSSL_cleanse(all[i]->key, AEAD_KEY_LEN);
	}
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

void aead_seal(const uint8_t key[AEAD_KEY_LEN], const uint8_t nonce[AEAD_NONCE_LEN], const uint8_t *ad,
	       size_t adlen, const uint8_t *in, size_t len, uint8_t *out)
{
	struct aead_ctx *x = len < INT_MAX && adlen < INT_MAX ? ctx_get(&enc_ctx, 1) : NULL;

	if (!x || evp_seal(x, key, nonce, ad, adlen, in, len, out) != 0)
		aead_seal_sodium(key, nonce, ad, adlen, in, len, out);
}

int aead_open(const uint8_t key[AEAD_KEY_LEN], const uint8_t nonce[AEAD_NONCE_LEN], const uint8_t *ad,
	      size_t adlen, const uint8_t *in, size_t len, uint8_t *out)
{
	if (len < AEAD_TAG_LEN)
		return -1;
	size_t clen = len - AEAD_TAG_LEN;
	struct aead_ctx *x = clen < INT_MAX && adlen < INT_MAX ? ctx_get(&dec_ctx, 0) : NULL;
	if (!x)
		return aead_open_sodium(key, nonce, ad, adlen, in, len, out);
	EVP_CIPHER_CTX *c = x->c;
	uint8_t tag[AEAD_TAG_LEN];
	int ol;
	/* copy the tag first: out may equal in */
	for (size_t i = 0; i < AEAD_TAG_LEN; i++)
		tag[i] = in[clen + i];
	if (ctx_start(x, key, nonce, 0) != 0 ||
	    (adlen && EVP_DecryptUpdate(c, NULL, &ol, ad, (int)adlen) != 1) ||
	    (clen && EVP_DecryptUpdate(c, out, &ol, in, (int)clen) != 1) ||
	    EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_SET_TAG, AEAD_TAG_LEN, tag) != 1 ||
	    EVP_DecryptFinal_ex(c, out + clen, &ol) != 1)
		return -1;
	return 0;
}
