/* STUN integrity and credentials (RFC 8489 9, 14.5-14.7; RFC 5389 long-term
 * key; TURN REST shared secret as coturn's --use-auth-secret). */
#ifndef IPOP_STUN_AUTH_H
#define IPOP_STUN_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "stun_msg.h"

enum { STUN_KEY_MD5_LEN = 16, STUN_KEY_SHA256_LEN = 32, STUN_USERHASH_LEN = 32 };

/* Long-term key: MD5(user ":" realm ":" pass), or SHA-256 for
 * PASSWORD-ALGORITHM SHA-256. Strings are used as given (OpaqueString on
 * ASCII is the identity; callers pass UTF-8 unchanged). */
void stun_key_md5(const char *user, const char *realm, const char *pass,
		  uint8_t key[STUN_KEY_MD5_LEN]);
void stun_key_sha256(const char *user, const char *realm, const char *pass,
		     uint8_t key[STUN_KEY_SHA256_LEN]);
/* USERHASH = SHA-256(user ":" realm) */
void stun_userhash(const char *user, const char *realm, uint8_t out[STUN_USERHASH_LEN]);

/* Verifies MESSAGE-INTEGRITY-SHA256 if present, else MESSAGE-INTEGRITY.
 * Returns 0 when it matches, -ENOENT when the message carries neither,
 * -EACCES on mismatch. Constant-time compare. */
int stun_check_integrity(const struct stun_msg *m, const uint8_t *key, size_t keylen);
/* true when FINGERPRINT is absent-and-not-required or present and right. */
bool stun_check_fingerprint(const struct stun_msg *m);
uint32_t stun_crc32(const uint8_t *buf, size_t len);
/* HMAC with digest "SHA1"/"SHA256" over a then b (either may be empty),
 * writing the first outlen bytes (at most the digest size). 0 or -errno. */
int stun_hmac2(const char *digest, const uint8_t *key, size_t keylen,
	       const uint8_t *a, size_t alen, const uint8_t *b, size_t blen,
	       uint8_t *out, size_t outlen);

/* TURN REST: password = base64(HMAC-SHA1(secret, username)). out must hold
 * 29 bytes (28 + NUL). */
void turn_rest_password(const char *secret, const char *username, char out[29]);
/* Username "expiry:user" (or just "expiry"): 0 when expiry > now_unix,
 * -ESTALE when expired, -EINVAL when the expiry cannot be parsed. */
int turn_rest_check_username(const char *username, int64_t now_unix);

#endif
