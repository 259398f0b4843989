/* bench/aead: what one ChaCha20-Poly1305 seal and open cost, in the
 * tunnel's layout (a 16-byte header as ad just before the text, sealed
 * and opened in place), for a TCP ACK (52 bytes), the 2-hop path's
 * end-to-end layer (1368) and a full direct packet (1420): the minimum
 * over ROUNDS rounds of CALLS calls each, in ns of this thread's CPU
 * time, for aead_seal/aead_open and for the libsodium path beside them,
 * and OpenSSL's AES-256-GCM (EVP, key set once, AES-NI/VAES where the CPU
 * has them) in the same layout: the other AEAD a tunnel could negotiate,
 * to tell which is cheaper on this CPU.
 *
 *   build/bench/aead [ROUNDS=40] [CALLS=2000] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>
#include <sodium.h>

#include "aead.h"
#include "bench_clock.h"

enum { HDR = 16, MAXLEN = 1420 };

static uint8_t key[AEAD_KEY_LEN], nonce[AEAD_NONCE_LEN];
static _Alignas(64) uint8_t pkt[HDR + MAXLEN + AEAD_TAG_LEN];

static EVP_CIPHER_CTX *gcm_enc, *gcm_dec;

/* AES-256-GCM seal and open in place, the 16-byte ad just before the
 * text, the 16-byte tag after it (the 12-byte nonce as IV) */
static void gcm_both(const uint8_t *ad, uint8_t *text, size_t len)
{
	int ol;

	if (EVP_EncryptInit_ex(gcm_enc, NULL, NULL, NULL, nonce) != 1 ||
	    EVP_EncryptUpdate(gcm_enc, NULL, &ol, ad, HDR) != 1 ||
	    EVP_EncryptUpdate(gcm_enc, text, &ol, text, (int)len) != 1 ||
	    EVP_EncryptFinal_ex(gcm_enc, text + len, &ol) != 1 ||
	    EVP_CIPHER_CTX_ctrl(gcm_enc, EVP_CTRL_GCM_GET_TAG, 16, text + len) != 1 ||
	    EVP_DecryptInit_ex(gcm_dec, NULL, NULL, NULL, nonce) != 1 ||
	    EVP_DecryptUpdate(gcm_dec, NULL, &ol, ad, HDR) != 1 ||
	    EVP_DecryptUpdate(gcm_dec, text, &ol, text, (int)len) != 1 ||
	    EVP_CIPHER_CTX_ctrl(gcm_dec, EVP_CTRL_GCM_SET_TAG, 16, text + len) != 1 ||
	    EVP_DecryptFinal_ex(gcm_dec, text + len, &ol) != 1) {
		fprintf(stderr, "bench/aead: AES-256-GCM failed\n");
		exit(1);
	}
}

static int gcm_init(void)
{
	gcm_enc = EVP_CIPHER_CTX_new();
	gcm_dec = EVP_CIPHER_CTX_new();
	return gcm_enc && gcm_dec && EVP_EncryptInit_ex(gcm_enc, EVP_aes_256_gcm(), NULL, key, nonce) == 1 &&
			       EVP_DecryptInit_ex(gcm_dec, EVP_aes_256_gcm(), NULL, key, nonce) == 1
		       ? 0
		       : -1;
}

/* what: 0 seal, 1 seal + open, 2 libsodium's seal + open, 3 AES-256-GCM's */
static double one(int what, size_t len, int rounds, int calls)
{
	double best = 1e30;
	uint8_t *ad = pkt, *text = pkt + HDR;

	for (int r = 0; r < rounds; r++) {
		double t0 = bench_cpu_ns();
		for (int i = 0; i < calls; i++) {
			if (what < 2)
				aead_seal(key, nonce, ad, HDR, text, len, text);
			if (what == 1) {
				if (aead_open(key, nonce, ad, HDR, text, len + AEAD_TAG_LEN, text) != 0) {
					fprintf(stderr, "bench/aead: open failed\n");
					exit(1);
				}
			}
			if (what == 3)
				gcm_both(ad, text, len);
			if (what == 2) {
				aead_seal_sodium(key, nonce, ad, HDR, text, len, text);
				if (aead_open_sodium(key, nonce, ad, HDR, text, len + AEAD_TAG_LEN, text) != 0)
					exit(1);
			}
		}
		double ns = (bench_cpu_ns() - t0) / calls;
		if (ns < best)
			best = ns;
	}
	return best;
}

int main(int argc, char **argv)
{
	static const size_t lens[] = { 52, 1368, 1420 };
	int rounds = argc > 1 ? atoi(argv[1]) : 40, calls = argc > 2 ? atoi(argv[2]) : 2000;

	if (sodium_init() < 0 || rounds < 1 || calls < 1)
		return 1;
	randombytes_buf(key, sizeof(key));
	randombytes_buf(nonce, sizeof(nonce));
	randombytes_buf(pkt, sizeof(pkt));
	if (gcm_init() != 0)
		return 1;
	printf("bytes  seal_ns  seal+open_ns  open_ns(derived)  sodium_seal+open_ns  aes256gcm_seal+open_ns   (min of "
	       "%d x %d)\n",
	       rounds, calls);
	for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		size_t len = lens[i];
		double seal = one(0, len, rounds, calls), both = one(1, len, rounds, calls);
		double sodium = one(2, len, rounds, calls), gcm = one(3, len, rounds, calls);
		printf("%5zu  %7.0f  %12.0f  %16.0f  %19.0f  %22.0f\n", len, seal, both, both - seal, sodium, gcm);
	}
	aead_thread_release();
	EVP_CIPHER_CTX_free(gcm_enc);
	EVP_CIPHER_CTX_free(gcm_dec);
	return 0;
}
