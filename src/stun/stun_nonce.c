/* Stateless nonces (RFC 8489 9.2): the nonce carries its own expiry and a
 * truncated HMAC binding it to the client, so a server can issue one in a
 * 401 without remembering anything and verify it on the retry.
 *
 * Layout (46 characters):
 *   "obMatJos2"  nonce cookie (RFC 8489 9.2)
 *   "AAAA"       security feature set, base64 of 24 bits, all zero: this
 *                server announces neither Password Algorithms nor Username
 *                Anonymity, so clients never expect the 9.2.4 bid-down
 *                protection from us
 *   16 hex       expiry, seconds
 *   "."
 *   16 base64    first 12 bytes of HMAC-SHA256(key, all of the above ||
 *                client address)
 *
 * The tag covers the client IP address but not the port: a NAT may rebind
 * the client's port between our 401 and its authenticated retry, and the
 * retry must still succeed. IPv4-mapped IPv6 addresses are bound as the
 * IPv4 address they carry. */
#include "stun_nonce.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "stun_auth.h"
#include "stun_proto.h"

enum {
	FEATURES_LEN = 4,
	EXPIRY_LEN = 16,
	PREFIX_LEN = STUN_NONCE_COOKIE_LEN + FEATURES_LEN + EXPIRY_LEN, /* 29 */
	TAG_BYTES = 12,
	TAG_LEN = 16, /* base64 of 12 bytes, no padding */
	NONCE_LEN = PREFIX_LEN + 1 + TAG_LEN, /* 46 */
};

_Static_assert((int)NONCE_LEN < (int)STUN_NONCE_MAX, "nonce fits its buffer");

/* Family byte and raw address bytes; the port is left out on purpose. */
static size_t client_id(const struct sockaddr *sa, uint8_t out[17])
{
	static const uint8_t v4mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

	if (sa && sa->sa_family == AF_INET) {
		out[0] = 4;
		memcpy(out + 1, &((const struct sockaddr_in *)sa)->sin_addr, 4);
		return 5;
	}
	if (sa && sa->sa_family == AF_INET6) {
		const uint8_t *a = ((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr;
		if (memcmp(a, v4mapped, 12) == 0) {
			out[0] = 4;
			memcpy(out + 1, a + 12, 4);
			return 5;
		}
		out[0] = 6;
		memcpy(out + 1, a, 16);
		return 17;
	}
	out[0] = 0;
	return 1;
}

/* Writes TAG_LEN base64 characters plus a NUL. */
static int make_tag(const uint8_t *key, size_t keylen, const char *prefix,
		    const struct sockaddr *client, char out[TAG_LEN + 1])
{
	uint8_t id[17], mac[TAG_BYTES];
	size_t idlen = client_id(client, id);

	if (stun_hmac2("SHA256", key, keylen, (const uint8_t *)prefix, PREFIX_LEN, id, idlen, mac,
		       sizeof(mac)) < 0)
		return -EINVAL;
	EVP_EncodeBlock((unsigned char *)out, mac, sizeof(mac));
	return 0;
}

size_t stun_nonce_make(const uint8_t *key, size_t keylen, uint64_t now_s, uint32_t lifetime_s,
		       const struct sockaddr *client, char out[STUN_NONCE_MAX])
{
	char tag[TAG_LEN + 1];

	snprintf(out, STUN_NONCE_MAX, "%sAAAA%016llx", STUN_NONCE_COOKIE,
		 (unsigned long long)(now_s + lifetime_s));
	if (make_tag(key, keylen, out, client, tag) < 0) {
		/* Cannot happen with a working libcrypto; an empty nonce
		 * makes every check fail rather than pass. */
		out[0] = '\0';
		return 0;
	}
	out[PREFIX_LEN] = '.';
	memcpy(out + PREFIX_LEN + 1, tag, TAG_LEN + 1);
	return NONCE_LEN;
}

static int parse_expiry(const uint8_t *p, uint64_t *out)
{
	uint64_t v = 0;

	for (int i = 0; i < EXPIRY_LEN; i++) {
		uint8_t c = p[i];
		unsigned d;
		if (c >= '0' && c <= '9')
			d = c - '0';
		else if (c >= 'a' && c <= 'f')
			d = c - 'a' + 10u;
		else
			return -EINVAL;
		v = v << 4 | d;
	}
	*out = v;
	return 0;
}

int stun_nonce_check(const uint8_t *key, size_t keylen, uint64_t now_s,
		     const struct sockaddr *client, const uint8_t *nonce, size_t len)
{
	char prefix[PREFIX_LEN + 1], tag[TAG_LEN + 1];
	uint64_t expiry;

	if (len != NONCE_LEN || memcmp(nonce, STUN_NONCE_COOKIE, STUN_NONCE_COOKIE_LEN) != 0 ||
	    nonce[PREFIX_LEN] != '.' ||
	    parse_expiry(nonce + STUN_NONCE_COOKIE_LEN + FEATURES_LEN, &expiry) < 0)
		return -EINVAL;
	memcpy(prefix, nonce, PREFIX_LEN);
	prefix[PREFIX_LEN] = '\0';
	if (make_tag(key, keylen, prefix, client, tag) < 0 ||
	    CRYPTO_memcmp(tag, nonce + PREFIX_LEN + 1, TAG_LEN) != 0)
		return -EINVAL;
	return now_s < expiry ? 0 : -ESTALE;
}

int stun_nonce_features(const uint8_t *nonce, size_t len, uint32_t *features)
{
	uint8_t raw[4];

	if (len < STUN_NONCE_COOKIE_LEN + FEATURES_LEN ||
	    memcmp(nonce, STUN_NONCE_COOKIE, STUN_NONCE_COOKIE_LEN) != 0)
		return -ENOENT;
	/* Decoding 4 characters gives 3 bytes; EVP_DecodeBlock rejects
	 * anything outside the base64 alphabet. */
	if (EVP_DecodeBlock(raw, nonce + STUN_NONCE_COOKIE_LEN, FEATURES_LEN) != 3)
		return -EINVAL;
	*features = (uint32_t)raw[0] << 16 | (uint32_t)raw[1] << 8 | raw[2];
	return 0;
}
