/* Stateless nonces: the server keeps no state per unauthenticated client.
 * nonce = "obMatJos2" + base64(features) + hex(expiry) + "." + tag, where tag
 * = truncated HMAC-SHA256(key, expiry || client address). */
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

#endif
