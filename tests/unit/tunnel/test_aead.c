/* The OpenSSL ChaCha20-Poly1305 paths (one pass up to 9216 bytes, the EVP
 * AEAD above) give exactly libsodium's bytes, open what libsodium sealed
 * (and back), work in place, refuse any flipped bit, and keep working
 * after a refusal and across key changes. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <sodium.h>
#include <string.h>

#include "aead.h"

/* Lengths from min to min + span - 1. */
static void same_bytes(size_t min, uint32_t span)
{
	static uint8_t key[AEAD_KEY_LEN], nonce[AEAD_NONCE_LEN], ad[64], pt[12000], a[12100], b[12100], back[12100];
	assert_true(sodium_init() >= 0);
	assert_true(min + span <= sizeof(pt));
	for (int round = 0; round < 300; round++) {
		size_t len = min + randombytes_uniform(span), adlen = randombytes_uniform(sizeof(ad));
		if (round % 3 == 0) /* else the same key again: the cached-key path */
			randombytes_buf(key, sizeof(key));
		randombytes_buf(nonce, sizeof(nonce));
		randombytes_buf(ad, adlen);
		randombytes_buf(pt, len);
		aead_seal(key, nonce, ad, adlen, pt, len, a);
		aead_seal_sodium(key, nonce, ad, adlen, pt, len, b);
		assert_memory_equal(a, b, len + AEAD_TAG_LEN);
		assert_int_equal(aead_open(key, nonce, ad, adlen, b, len + AEAD_TAG_LEN, back), 0);
		assert_memory_equal(back, pt, len);
		assert_int_equal(aead_open_sodium(key, nonce, ad, adlen, a, len + AEAD_TAG_LEN, back), 0);
		/* in place */
		memcpy(back, pt, len);
		aead_seal(key, nonce, ad, adlen, back, len, back);
		assert_memory_equal(back, b, len + AEAD_TAG_LEN);
		assert_int_equal(aead_open(key, nonce, ad, adlen, back, len + AEAD_TAG_LEN, back), 0);
		assert_memory_equal(back, pt, len);
		/* one flipped bit anywhere (ciphertext, tag or AD) is refused */
		size_t bit = randombytes_uniform((uint32_t)(len + AEAD_TAG_LEN + adlen) * 8);
		if (bit < (len + AEAD_TAG_LEN) * 8) {
			a[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		} else {
			bit -= (len + AEAD_TAG_LEN) * 8;
			ad[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		}
		assert_int_equal(aead_open(key, nonce, ad, adlen, a, len + AEAD_TAG_LEN, back), -1);
	}
	assert_int_equal(aead_open(key, nonce, ad, 0, a, AEAD_TAG_LEN - 1, back), -1);
}

static void test_same_bytes_both_ways(void **state)
{
	(void)state;
	same_bytes(0, 3000);
}

/* Around the one-pass limit, and the EVP AEAD beyond it. */
static void test_long_packets(void **state)
{
	(void)state;
	same_bytes(9100, 2900);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_same_bytes_both_ways),
		cmocka_unit_test(test_long_packets),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
