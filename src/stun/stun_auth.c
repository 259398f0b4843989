/* STUN integrity, fingerprint and credentials (RFC 8489 9, 14.5-14.7). */
#include "stun_auth.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>

/* ---- CRC-32 (ISO-HDLC, as RFC 8489 14.7 via RFC 1952) ---- */

static uint32_t crc_table[256];
static pthread_once_t crc_once = PTHREAD_ONCE_INIT;

static void crc_init(void)
{
	for (uint32_t i = 0; i < 256; i++) {
		uint32_t c = i;
		for (int k = 0; k < 8; k++)
			c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
		crc_table[i] = c;
	}
}

uint32_t stun_crc32(const uint8_t *buf, size_t len)
{
	uint32_t c = 0xFFFFFFFFu;

	pthread_once(&crc_once, crc_init);
	for (size_t i = 0; i < len; i++)
		c = crc_table[(c ^ buf[i]) & 0xFF] ^ (c >> 8);
	return c ^ 0xFFFFFFFFu;
}

/* ---- HMAC over up to two byte ranges ---- */

/* Each thread keeps one context per digest and only rekeys it: creating
 * a context (allocations, the digest fetched by name) cost more than the
 * HMAC of a consent check itself, and an idle node computes a few of
 * those per link every 5 s. The contexts are freed when the thread
 * exits. */
enum { HMAC_CACHED = 2 }; /* SHA1 (ICE, short-term) and SHA256 (long-term) */

struct hmac_slot {
	char digest[16];
	EVP_MAC_CTX *ctx;
};

static EVP_MAC *hmac_alg;
static pthread_key_t hmac_key;
static bool hmac_have_key;
static pthread_once_t hmac_once = PTHREAD_ONCE_INIT;

static void hmac_slots_free(void *p)
{
	struct hmac_slot *s = p;

	for (unsigned i = 0; i < HMAC_CACHED; i++)
		EVP_MAC_CTX_free(s[i].ctx);
	free(s);
}

static void hmac_init(void)
{
	hmac_alg = EVP_MAC_fetch(NULL, "HMAC", NULL);
	hmac_have_key = pthread_key_create(&hmac_key, hmac_slots_free) == 0;
}

/* This thread's slot for digest (its context made when new: *fresh);
 * NULL when none can be had. */
static struct hmac_slot *hmac_slot(const char *digest, bool *fresh)
{
	struct hmac_slot *s = hmac_have_key ? pthread_getspecific(hmac_key) : NULL;

	if (!s && hmac_have_key) {
		s = calloc(HMAC_CACHED, sizeof(*s));
		if (s && pthread_setspecific(hmac_key, s) != 0) {
			free(s);
			s = NULL;
		}
	}
	if (!s)
		return NULL;
	unsigned i;
	for (i = 0; i < HMAC_CACHED && s[i].ctx; i++)
		if (strcmp(s[i].digest, digest) == 0)
			return &s[i];
	if (i == HMAC_CACHED || strlen(digest) >= sizeof(s[i].digest))
		return NULL;
	s[i].ctx = EVP_MAC_CTX_new(hmac_alg);
	if (!s[i].ctx)
		return NULL;
	snprintf(s[i].digest, sizeof(s[i].digest), "%s", digest);
	*fresh = true;
	return &s[i];
}

int stun_hmac2(const char *digest, const uint8_t *key, size_t keylen,
	       const uint8_t *a, size_t alen, const uint8_t *b, size_t blen,
	       uint8_t *out, size_t outlen)
{
	static const uint8_t nokey[1];
	uint8_t full[EVP_MAX_MD_SIZE];
	OSSL_PARAM params[2];
	size_t got = 0;
	bool fresh = false, own = false;
	int ok;

	pthread_once(&hmac_once, hmac_init);
	if (!hmac_alg)
		return -ENOSYS;
	struct hmac_slot *slot = hmac_slot(digest, &fresh);
	EVP_MAC_CTX *ctx = slot ? slot->ctx : NULL;
	if (!ctx) { /* no cache: a context for this one */
		ctx = EVP_MAC_CTX_new(hmac_alg);
		if (!ctx)
			return -ENOMEM;
		fresh = own = true;
	}
	params[0] = OSSL_PARAM_construct_utf8_string("digest", (char *)digest, 0);
	params[1] = OSSL_PARAM_construct_end();
	/* A NULL key would mean "keep the previous key" to OpenSSL; the
	 * digest is set once per context. */
	ok = EVP_MAC_init(ctx, key ? key : nokey, keylen, fresh ? params : NULL) &&
	     (alen == 0 || EVP_MAC_update(ctx, a, alen)) &&
	     (blen == 0 || EVP_MAC_update(ctx, b, blen)) &&
	     EVP_MAC_final(ctx, full, &got, sizeof(full)) && outlen <= got;
	if (slot && fresh && !ok) { /* not kept half set up (a digest OpenSSL lacks) */
		EVP_MAC_CTX_free(slot->ctx);
		memset(slot, 0, sizeof(*slot));
	}
	if (own)
		EVP_MAC_CTX_free(ctx);
	if (ok)
		memcpy(out, full, outlen);
	OPENSSL_cleanse(full, sizeof(full));
	return ok ? 0 : -EINVAL;
}

/* ---- long-term keys ---- */

static void digest3(const EVP_MD *md, const char *a, const char *b, const char *c, uint8_t *out)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned n = 0;

	if (!ctx || !EVP_DigestInit_ex(ctx, md, NULL) ||
	    !EVP_DigestUpdate(ctx, a, strlen(a)) || !EVP_DigestUpdate(ctx, ":", 1) ||
	    !EVP_DigestUpdate(ctx, b, strlen(b)) ||
	    (c && (!EVP_DigestUpdate(ctx, ":", 1) || !EVP_DigestUpdate(ctx, c, strlen(c)))) ||
	    !EVP_DigestFinal_ex(ctx, out, &n))
		abort(); /* only fails when the crypto library is unusable */
	EVP_MD_CTX_free(ctx);
}

void stun_key_md5(const char *user, const char *realm, const char *pass,
		  uint8_t key[STUN_KEY_MD5_LEN])
{
	digest3(EVP_md5(), user, realm, pass, key);
}

void stun_key_sha256(const char *user, const char *realm, const char *pass,
		     uint8_t key[STUN_KEY_SHA256_LEN])
{
	digest3(EVP_sha256(), user, realm, pass, key);
}

void stun_userhash(const char *user, const char *realm, uint8_t out[STUN_USERHASH_LEN])
{
	digest3(EVP_sha256(), user, realm, NULL, out);
}

/* ---- checking ---- */

/* HMAC over the message up to the integrity attribute, with the header
 * length rewritten to end at that attribute (RFC 8489 14.5): this is what
 * lets FINGERPRINT, and MI-SHA256 after MI, follow without breaking it. */
static int check_one(const struct stun_msg *m, const struct stun_attr *a, const char *digest,
		     const uint8_t *key, size_t keylen)
{
	uint8_t hdr[STUN_HEADER_LEN], mac[STUN_MI256_LEN];
	size_t start = (size_t)a->off - STUN_ATTR_HEADER_LEN;
	size_t body = (size_t)a->off + a->len - STUN_HEADER_LEN;

	memcpy(hdr, m->buf, STUN_HEADER_LEN);
	hdr[2] = (uint8_t)(body >> 8);
	hdr[3] = (uint8_t)body;
	if (stun_hmac2(digest, key, keylen, hdr, sizeof(hdr), m->buf + STUN_HEADER_LEN,
		       start - STUN_HEADER_LEN, mac, a->len) < 0)
		return -EACCES;
	return CRYPTO_memcmp(mac, stun_attr_value(m, a), a->len) == 0 ? 0 : -EACCES;
}

int stun_check_integrity(const struct stun_msg *m, const uint8_t *key, size_t keylen)
{
	if (m->mi256 >= 0)
		return check_one(m, &m->attrs[m->mi256], "SHA256", key, keylen);
	if (m->mi >= 0)
		return check_one(m, &m->attrs[m->mi], "SHA1", key, keylen);
	return -ENOENT;
}

bool stun_check_fingerprint(const struct stun_msg *m)
{
	if (m->fp < 0)
		return true;
	const struct stun_attr *a = &m->attrs[m->fp];
	const uint8_t *v = stun_attr_value(m, a);
	/* The parser made FINGERPRINT last, so the header length already
	 * covers it, as the CRC input requires. */
	uint32_t want = stun_crc32(m->buf, (size_t)a->off - STUN_ATTR_HEADER_LEN) ^
			STUN_FINGERPRINT_XOR;
	uint32_t got = ((uint32_t)v[0] << 24) | ((uint32_t)v[1] << 16) |
		       ((uint32_t)v[2] << 8) | v[3];
	return a->len == STUN_FP_LEN && got == want;
}

/* ---- building ---- */

/* Appends a zeroed attribute, which also sets the header length to end at
 * it, then computes the value over everything before it. */
static uint8_t *trailer_reserve(struct stun_builder *b, uint16_t type, size_t len, size_t *start)
{
	static const uint8_t zero[STUN_MI256_LEN];

	*start = b->len;
	stun_build_attr(b, type, zero, len);
	return b->err ? NULL : b->buf + *start + STUN_ATTR_HEADER_LEN;
}

static void build_mac(struct stun_builder *b, uint16_t type, const char *digest, size_t maclen,
		      const uint8_t *key, size_t keylen)
{
	size_t start;
	uint8_t *p = trailer_reserve(b, type, maclen, &start);

	if (p && stun_hmac2(digest, key, keylen, b->buf, start, NULL, 0, p, maclen) < 0)
		b->err = -EINVAL;
}

void stun_build_integrity(struct stun_builder *b, const uint8_t *key, size_t keylen)
{
	build_mac(b, STUN_ATTR_MESSAGE_INTEGRITY, "SHA1", STUN_MI_LEN, key, keylen);
}

void stun_build_integrity_sha256(struct stun_builder *b, const uint8_t *key, size_t keylen)
{
	build_mac(b, STUN_ATTR_MESSAGE_INTEGRITY_SHA256, "SHA256", STUN_MI256_LEN, key, keylen);
}

void stun_build_fingerprint(struct stun_builder *b)
{
	size_t start;
	uint8_t *p = trailer_reserve(b, STUN_ATTR_FINGERPRINT, STUN_FP_LEN, &start);

	if (!p)
		return;
	uint32_t crc = stun_crc32(b->buf, start) ^ STUN_FINGERPRINT_XOR;
	p[0] = (uint8_t)(crc >> 24);
	p[1] = (uint8_t)(crc >> 16);
	p[2] = (uint8_t)(crc >> 8);
	p[3] = (uint8_t)crc;
}

/* ---- TURN REST shared secret (coturn --use-auth-secret) ---- */

void turn_rest_password(const char *secret, const char *username, char out[29])
{
	uint8_t mac[20];

	if (stun_hmac2("SHA1", (const uint8_t *)secret, strlen(secret),
		       (const uint8_t *)username, strlen(username), NULL, 0, mac, sizeof(mac)) < 0)
		abort(); /* only fails when the crypto library is unusable */
	EVP_EncodeBlock((unsigned char *)out, mac, sizeof(mac));
	OPENSSL_cleanse(mac, sizeof(mac));
}

int turn_rest_check_username(const char *username, int64_t now_unix)
{
	int64_t expiry = 0;
	const char *p = username;

	if (*p < '0' || *p > '9')
		return -EINVAL;
	for (; *p >= '0' && *p <= '9'; p++) {
		int d = *p - '0';
		if (expiry > (INT64_MAX - d) / 10)
			return -EINVAL;
		expiry = expiry * 10 + d;
	}
	if (*p != '\0' && *p != ':')
		return -EINVAL;
	return expiry > now_unix ? 0 : -ESTALE;
}
