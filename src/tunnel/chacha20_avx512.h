/* ChaCha20 (RFC 8439: 32-bit block counter, 96-bit nonce) with AVX-512
 * on the CPUs that have it: from one buffer to another (or in place), any
 * length, the last partial block by masked loads and stores, and for the
 * AEAD the block that keys Poly1305 in the same pass.
 *
 * Why not OpenSSL's: OpenSSL 3.0's x86-64 ChaCha20 makes 16 blocks a step
 * on inputs over 512 bytes, each step one dependent chain of 20 rounds, and
 * 4 blocks a step below that. A tunnel packet of 1420 bytes plus the block
 * that keys Poly1305 is 24 blocks: two steps, the second a third used, so
 * 1,472 bytes cost what 2,048 do (~350 ns here), and a 52-byte ACK pays a
 * whole short step (~180 ns). This code keeps 4 blocks in each 512-bit
 * register (one row of the state per register, the diagonals by
 * shuffles within 128-bit lanes) and runs up to 6 such groups, 24 blocks,
 * as independent chains in one pass of the rounds, so the cores' vector
 * units overlap them: 24 blocks ~205 ns, 2 blocks ~125 ns
 * (docs/benchmarks.md, "ChaCha20 in 4-block groups"). The bytes are
 * libsodium's (tests/unit/tunnel/test_chacha20_avx512.c). */
#ifndef IPOP_CHACHA20_AVX512_H
#define IPOP_CHACHA20_AVX512_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Whether this CPU (and its OS) runs AVX-512F and AVX-512BW and the
 * environment does not say IPOP_AVX512=0; checked once. */
bool chacha20_avx512_ok(void);
/* out[0 .. len) = in[0 .. len) ^ the keystream of key and nonce from block
 * counter on; in may equal out (not otherwise overlap); the blocks used
 * must not pass counter 2^32. Only when chacha20_avx512_ok(). */
void chacha20_avx512_xor(const uint8_t key[32], uint32_t counter, const uint8_t nonce[12], const uint8_t *in,
			 uint8_t *out, size_t len);
/* RFC 8439 2.8's ChaCha20 half of the AEAD in one pass: block 0's first
 * 32 bytes into polykey (2.6), then as chacha20_avx512_xor from block 1.
 * Only when chacha20_avx512_ok(). */
void chacha20_avx512_aead(const uint8_t key[32], const uint8_t nonce[12], uint8_t polykey[32], const uint8_t *in,
			  uint8_t *out, size_t len);

#endif
