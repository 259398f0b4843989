/* The AVX-512 ChaCha20 gives libsodium's keystream (RFC 8439's
 * ChaCha20, 96-bit nonce) for every block count from 1 to 60 (every
 * number of 4-block groups in a pass, one pass and several), from block
 * counter 0 and from others, and writes nothing past its blocks; any
 * length from one buffer to another; the AEAD's key block and text in one
 * pass. Skipped
 * on a CPU without AVX-512 (the AEAD then uses OpenSSL's ChaCha20). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <sodium.h>
#include <string.h>

#include "chacha20_avx512.h"

enum { MAX_BLOCKS = 60 };

static void test_same_keystream_as_libsodium(void **state)
{
	static uint8_t key[32], nonce[12], pt[MAX_BLOCKS * 64], want[MAX_BLOCKS * 64], got[MAX_BLOCKS * 64 + 64];
	(void)state;
	assert_true(sodium_init() >= 0);
	if (!chacha20_avx512_ok())
		skip();
	for (size_t nb = 1; nb <= MAX_BLOCKS; nb++) {
		for (int round = 0; round < 4; round++) {
			/* counter 0 (the AEAD's), 1, and random ones that still fit */
			uint32_t ctr = round < 2 ? (uint32_t)round
						 : randombytes_uniform(UINT32_MAX - MAX_BLOCKS);
			randombytes_buf(key, sizeof(key));
			randombytes_buf(nonce, sizeof(nonce));
			randombytes_buf(pt, nb * 64);
			crypto_stream_chacha20_ietf_xor_ic(want, pt, nb * 64, nonce, ctr, key);
			memcpy(got, pt, nb * 64);
			memset(got + nb * 64, 0xa5, 64);
			chacha20_avx512_xor(key, ctr, nonce, got, got, nb * 64);
			assert_memory_equal(got, want, nb * 64);
			for (size_t i = 0; i < 64; i++)
				assert_int_equal(got[nb * 64 + i], 0xa5);
			/* XOR again: back to the plaintext */
			chacha20_avx512_xor(key, ctr, nonce, got, got, nb * 64);
			assert_memory_equal(got, pt, nb * 64);
		}
	}
}

/* RFC 8439 section 2.4.2's test vector: key 00..1f, nonce 00 00 00 00 00
 * 00 00 4a 00 00 00 00, counter 1, the sunscreen text. */
static void test_rfc8439_vector(void **state)
{
	static const uint8_t nonce[12] = { 0, 0, 0, 0, 0, 0, 0, 0x4a, 0, 0, 0, 0 };
	static const char text[] = "Ladies and Gentlemen of the class of '99: If I could offer you only one tip for "
				   "the future, sunscreen would be it.";
	static const uint8_t ct_start[16] = { 0x6e, 0x2e, 0x35, 0x9a, 0x25, 0x68, 0xf9, 0x80,
					      0x41, 0xba, 0x07, 0x28, 0xdd, 0x0d, 0x69, 0x81 };
	static const uint8_t ct_end[2] = { 0x87, 0x4d };
	uint8_t key[32], buf[128] = { 0 };
	(void)state;
	if (!chacha20_avx512_ok())
		skip();
	for (int i = 0; i < 32; i++)
		key[i] = (uint8_t)i;
	memcpy(buf, text, sizeof(text) - 1); /* 114 bytes; two blocks ciphered */
	chacha20_avx512_xor(key, 1, nonce, buf, buf, sizeof(text) - 1);
	assert_memory_equal(buf, ct_start, sizeof(ct_start));
	assert_memory_equal(buf + 112, ct_end, sizeof(ct_end));
	for (size_t i = sizeof(text) - 1; i < sizeof(buf); i++)
		assert_int_equal(buf[i], 0); /* the masked tail wrote nothing past the text */
}

/* Any length from one buffer to another: the bytes past len in out stay
 * as they were, in is not written, and the result is libsodium's; from
 * block counter 0 and from others. */
static void test_any_length_out_of_place(void **state)
{
	static uint8_t key[32], nonce[12], pt[MAX_BLOCKS * 64], keep[MAX_BLOCKS * 64], want[MAX_BLOCKS * 64],
		got[MAX_BLOCKS * 64 + 64];
	(void)state;
	if (!chacha20_avx512_ok())
		skip();
	for (size_t len = 0; len <= MAX_BLOCKS * 64; len += len < 200 ? 1 : 61) {
		uint32_t ctr = len % 3 ? randombytes_uniform(UINT32_MAX - MAX_BLOCKS) : 0;
		randombytes_buf(key, sizeof(key));
		randombytes_buf(nonce, sizeof(nonce));
		randombytes_buf(pt, len);
		memcpy(keep, pt, len);
		crypto_stream_chacha20_ietf_xor_ic(want, pt, len, nonce, ctr, key);
		memset(got, 0x5a, sizeof(got));
		chacha20_avx512_xor(key, ctr, nonce, pt, got, len);
		assert_memory_equal(got, want, len);
		for (size_t i = len; i < sizeof(got); i++)
			assert_int_equal(got[i], 0x5a);
		assert_memory_equal(pt, keep, len);
	}
}

/* The AEAD's pass: block 0's first 32 bytes are the Poly1305 key (RFC
 * 8439 2.6), the text is ciphered from block 1, for every length around
 * the pass's 24-block edge and the block edges. */
static void test_aead_pass(void **state)
{
	static uint8_t key[32], nonce[12], pt[MAX_BLOCKS * 64], want[MAX_BLOCKS * 64], got[MAX_BLOCKS * 64 + 64];
	uint8_t pk[32], zero[64] = { 0 }, block0[64];
	(void)state;
	if (!chacha20_avx512_ok())
		skip();
	for (size_t len = 0; len <= 30 * 64; len++) {
		randombytes_buf(key, sizeof(key));
		randombytes_buf(nonce, sizeof(nonce));
		randombytes_buf(pt, len);
		crypto_stream_chacha20_ietf_xor_ic(block0, zero, 64, nonce, 0, key);
		crypto_stream_chacha20_ietf_xor_ic(want, pt, len, nonce, 1, key);
		memset(got, 0x3c, sizeof(got));
		chacha20_avx512_aead(key, nonce, pk, pt, got, len);
		assert_memory_equal(pk, block0, 32);
		assert_memory_equal(got, want, len);
		assert_int_equal(got[len], 0x3c);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_same_keystream_as_libsodium),
		cmocka_unit_test(test_rfc8439_vector),
		cmocka_unit_test(test_any_length_out_of_place),
		cmocka_unit_test(test_aead_pass),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
