/* The OpenSSL ChaCha20-Poly1305 paths (one pass up to 9216 bytes, the EVP
 * AEAD above) give exactly libsodium's bytes, open what libsodium sealed
 * (and back), work in place, refuse any flipped bit, and keep working
 * after a refusal and across key changes, also with the ad just before
 * the text in one buffer (the tunnel's header before its payload), which
 * Poly1305 takes as one run; the provider functions the one-pass path
 * calls are found, and a thread's released contexts come back. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "aead.h"
#include "aead_prov.h"
#include "chacha20_avx512.h"

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

/* The tunnel's layout: ad (its header) just before the text, sealed and
 * opened in place, every length from 0 to 700 and 1200 to 1600 (each
 * rest after whole 128-byte pieces), ad lengths that join the text's run
 * (16, 32, 48) and ones that do not (0, 13): libsodium's bytes, and a
 * flipped bit of ad, text or tag is refused. */
static void test_ad_before_text(void **state)
{
	static const size_t adlens[] = { 0, 13, 16, 32, 48 };
	static uint8_t key[AEAD_KEY_LEN], nonce[AEAD_NONCE_LEN], buf[64 + 1600 + AEAD_TAG_LEN],
		want[1600 + AEAD_TAG_LEN], pt[1600];
	(void)state;
	assert_true(sodium_init() >= 0);
	randombytes_buf(key, sizeof(key));
	for (size_t len = 0; len <= 1600; len++) {
		if (len == 701)
			len = 1200;
		size_t adlen = adlens[len % 5];
		uint8_t *ad = buf + 64 - adlen, *text = buf + 64;
		randombytes_buf(nonce, sizeof(nonce));
		randombytes_buf(ad, adlen);
		randombytes_buf(pt, len);
		memcpy(text, pt, len);
		aead_seal_sodium(key, nonce, ad, adlen, pt, len, want);
		aead_seal(key, nonce, ad, adlen, text, len, text);
		assert_memory_equal(text, want, len + AEAD_TAG_LEN);
		assert_int_equal(aead_open(key, nonce, ad, adlen, text, len + AEAD_TAG_LEN, text), 0);
		assert_memory_equal(text, pt, len);
		memcpy(text, want, len + AEAD_TAG_LEN);
		size_t bit = randombytes_uniform((uint32_t)(adlen + len + AEAD_TAG_LEN) * 8);
		ad[bit / 8] ^= (uint8_t)(1u << (bit % 8)); /* ad and text are one run of bytes */
		assert_int_equal(aead_open(key, nonce, ad, adlen, text, len + AEAD_TAG_LEN, text), -1);
	}
}

/* The one-pass path calls OpenSSL's provider functions (aead_prov.h):
 * the table is found on this OpenSSL; and a thread that released its
 * contexts gets new ones that still give libsodium's bytes. */
static void test_provider_path_and_release(void **state)
{
	static uint8_t key[AEAD_KEY_LEN], nonce[AEAD_NONCE_LEN], ad[16], pt[1420], a[1420 + AEAD_TAG_LEN],
		b[1420 + AEAD_TAG_LEN];
	(void)state;
	assert_true(sodium_init() >= 0);
	const struct aead_prov *p = aead_prov_get();
	assert_non_null(p);
	for (int round = 0; round < 3; round++) {
		randombytes_buf(key, sizeof(key));
		randombytes_buf(nonce, sizeof(nonce));
		randombytes_buf(ad, sizeof(ad));
		randombytes_buf(pt, sizeof(pt));
		aead_seal(key, nonce, ad, sizeof(ad), pt, sizeof(pt), a);
		aead_seal_sodium(key, nonce, ad, sizeof(ad), pt, sizeof(pt), b);
		assert_memory_equal(a, b, sizeof(a));
		aead_thread_release();
		assert_int_equal(aead_open(key, nonce, ad, sizeof(ad), a, sizeof(a), a), 0);
		assert_memory_equal(a, pt, sizeof(pt));
		aead_thread_release();
	}
}

/* Where the CPU has AVX-512 the tests above ran our ChaCha20; the same
 * tests again in a child with IPOP_AVX512=0 run OpenSSL's through the
 * provider (the choice is made once per process). */
static void test_again_without_avx512(void **state)
{
	(void)state;
	if (!chacha20_avx512_ok())
		skip(); /* the tests above ran OpenSSL's already (the child, valgrind, no AVX-512) */
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		setenv("IPOP_AVX512", "0", 1);
		execl("/proc/self/exe", "test_aead", (char *)NULL);
		_exit(127);
	}
	int st;
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_same_bytes_both_ways),
		cmocka_unit_test(test_long_packets),
		cmocka_unit_test(test_ad_before_text),
		cmocka_unit_test(test_provider_path_and_release),
		cmocka_unit_test(test_again_without_avx512),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
