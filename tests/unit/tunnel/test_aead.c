/* The OpenSSL ChaCha20-Poly1305 path gives exactly libsodium's bytes, opens
 * what libsodium sealed (and back), works in place, refuses any flipped
 * bit, and keeps working after a refusal and across key changes. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <sodium.h>
#include <string.h>

#include "aead.h"

static void test_same_bytes_both_ways(void **state)
{
	(void)state;
	static uint8_t key[AEAD_KEY_LEN], nonce[AEAD_NONCE_LEN], ad[64], pt[3000], a[3100], b[3100], back[3100];
	assert_true(sodium_init() >= 0);
	for (int round = 0; round < 300; round++) {
		size_t len = randombytes_uniform(sizeof(pt)), adlen = randombytes_uniform(sizeof(ad));
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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_same_bytes_both_ways),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
