/* ChaCha20-Poly1305 (RFC 8439, 96-bit nonce) for the tunnel and the Noise
 * handshake. OpenSSL does the work: on this project's machines it seals
 * 1400-byte packets about 1.5x as fast per CPU-second as libsodium's
 * (docs/benchmarks.md), and the data path spends most of its time here.
 * Up to 9216 bytes, one ChaCha20 pass per packet makes the Poly1305 key
 * and the text together (AVX-512 code of this project's where the CPU has
 * it, chacha20_avx512.h, which seals from the packet to itself with no
 * copy; else OpenSSL's raw ChaCha20 over a copy) and OpenSSL's
 * Poly1305 the tag, both OpenSSL parts called through the provider's
 * functions rather than EVP (aead.c, aead_prov.h say why); longer inputs
 * go through the EVP AEAD. Each thread keeps its
 * contexts and buffer, allocated on first use, so there is no allocation
 * per packet; should OpenSSL fail, libsodium does the same computation.
 * The bytes are the same on every path (tests/unit/tunnel/test_aead.c). */
#ifndef IPOP_AEAD_H
#define IPOP_AEAD_H

#include <stddef.h>
#include <stdint.h>

enum { AEAD_KEY_LEN = 32, AEAD_NONCE_LEN = 12, AEAD_TAG_LEN = 16 };

/* out = ciphertext (len bytes) then the tag; out may equal in. */
void aead_seal(const uint8_t key[AEAD_KEY_LEN], const uint8_t nonce[AEAD_NONCE_LEN], const uint8_t *ad,
	       size_t adlen, const uint8_t *in, size_t len, uint8_t *out);
/* in = ciphertext + tag (len >= AEAD_TAG_LEN); out gets len - AEAD_TAG_LEN
 * bytes and may equal in. Returns 0, or -1 when it does not authenticate
 * (then out holds nothing usable). */
int aead_open(const uint8_t key[AEAD_KEY_LEN], const uint8_t nonce[AEAD_NONCE_LEN], const uint8_t *ad,
	      size_t adlen, const uint8_t *in, size_t len, uint8_t *out);
/* Frees the calling thread's contexts (a worker thread calls it before it
 * ends; the next call on that thread would allocate them again). */
void aead_thread_release(void);
/* The libsodium path, for tests and the fallback. */
void aead_seal_sodium(const uint8_t key[AEAD_KEY_LEN], const uint8_t nonce[AEAD_NONCE_LEN], const uint8_t *ad,
		      size_t adlen, const uint8_t *in, size_t len, uint8_t *out);
int aead_open_sodium(const uint8_t key[AEAD_KEY_LEN], const uint8_t nonce[AEAD_NONCE_LEN], const uint8_t *ad,
		     size_t adlen, const uint8_t *in, size_t len, uint8_t *out);

#endif
