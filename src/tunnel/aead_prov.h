/* OpenSSL's raw ChaCha20 and Poly1305, called through the function table
 * of the provider that implements them rather than through EVP.
 *
 * Per packet, the one-pass AEAD (aead.c) sets a new IV, ciphers one
 * buffer, keys Poly1305 and takes a tag. Through EVP (OpenSSL 3.0) that
 * glue costs about as much as ciphering 200 bytes: EVP_CipherInit_ex
 * re-checks the context and cipher, EVP_MAC_final asks the provider for
 * the MAC size through an OSSL_PARAM lookup (strcmp), and every call
 * passes through the method checks. The provider functions underneath
 * are what EVP calls in the end, with the same arguments; only the glue
 * is skipped (docs/benchmarks.md, "The AEAD's glue per packet").
 *
 * The table is looked up once per process, from the provider that
 * EVP_CIPHER_fetch picks for "ChaCha20" (and EVP_MAC_fetch for
 * "POLY1305"), with OSSL_PROVIDER_query_operation: the documented way a
 * provider hands out its functions. The fetched methods are kept, so the
 * provider stays loaded. NULL when anything is missing: then the caller
 * uses EVP. */
#ifndef IPOP_AEAD_PROV_H
#define IPOP_AEAD_PROV_H

#include <openssl/core_dispatch.h>

struct aead_prov {
	void *provctx; /* the ChaCha20 provider's */
	OSSL_FUNC_cipher_newctx_fn *chacha_new;
	OSSL_FUNC_cipher_freectx_fn *chacha_free;
	OSSL_FUNC_cipher_encrypt_init_fn *chacha_init; /* key (may be NULL), 16-byte IV */
	OSSL_FUNC_cipher_cipher_fn *chacha_cipher;
	void *mac_provctx; /* the Poly1305 provider's */
	OSSL_FUNC_mac_newctx_fn *poly_new;
	OSSL_FUNC_mac_freectx_fn *poly_free;
	OSSL_FUNC_mac_init_fn *poly_init;
	OSSL_FUNC_mac_update_fn *poly_update;
	OSSL_FUNC_mac_final_fn *poly_final;
};

/* The table, or NULL when this OpenSSL does not offer it. Thread-safe. */
const struct aead_prov *aead_prov_get(void);

#endif
