/* Stateless nonces: the server keeps no state per unauthenticated client.
 * nonce = "obMatJos2" + base64(features) + hex(expiry) + "." + tag, where tag
 * = base64 of 12 bytes of HMAC-SHA256(key, everything before the "." ||
 * client IP address). The port is not bound: see stun_nonce.c. */
#ifndef IPOP_STUN_NONCE_H
#define IPOP_STUN_NONCE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

enum { STUN_NONCE_MAX = 64 };

/* Writes a NUL-terminated nonce valid until now + lifetime (seconds) for that
 * client address. Returns its length. */
size_t stun_nonce_make(const uint8_t *key, size_t keylen, uint64_t now_s, uint32_t lifetime_s,
		       const struct sockaddr *client, char out[STUN_NONCE_MAX]);
/* 0 when valid, -ESTALE when well-formed and authentic but expired,
 * -EINVAL otherwise. */
int stun_nonce_check(const uint8_t *key, size_t keylen, uint64_t now_s,
		     const struct sockaddr *client, const uint8_t *nonce, size_t len);
/* Client side (RFC 8489 9.2.4): the 24-bit security feature set of a
 * server's nonce. 0, -ENOENT when the nonce has no "obMatJos2" cookie, or
 * -EINVAL when the 4 feature characters are not base64. Our own nonces
 * always carry 0 (see stun_nonce.c). */
int stun_nonce_features(const uint8_t *nonce, size_t len, uint32_t *features);

#endif
