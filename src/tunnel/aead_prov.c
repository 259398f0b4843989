/* Looks up OpenSSL's provider functions for raw ChaCha20 and Poly1305;
 * see aead_prov.h. */
#include "aead_prov.h"

#include <openssl/core.h>
#include <openssl/evp.h>
#include <openssl/provider.h>
#include <pthread.h>
#include <stdbool.h>
#include <string.h>
#include <strings.h>

static struct aead_prov table;
static bool table_ok;
static pthread_once_t once = PTHREAD_ONCE_INIT;

/* Whether name is one of the ':'-separated names of an algorithm. */
static bool has_name(const char *names, const char *name)
{
	size_t n = strlen(name);

	for (const char *p = names; p && *p;) {
		const char *end = strchr(p, ':');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		if (len == n && strncasecmp(p, name, n) == 0)
			return true;
		p = end ? end + 1 : NULL;
	}
	return false;
}

/* The dispatch table prov gives for name under operation op, or NULL. */
static const OSSL_DISPATCH *find_impl(const OSSL_PROVIDER *prov, int op, const char *name)
{
	int no_store = 0;
	const OSSL_ALGORITHM *alg = OSSL_PROVIDER_query_operation(prov, op, &no_store);
	const OSSL_DISPATCH *impl = NULL;

	for (const OSSL_ALGORITHM *a = alg; a && a->algorithm_names; a++) {
		if (has_name(a->algorithm_names, name)) {
			impl = a->implementation;
			break;
		}
	}
	/* The table's functions are the provider's own: they stay valid while
	 * it is loaded, which the fetched method below guarantees. */
	OSSL_PROVIDER_unquery_operation(prov, op, alg);
	return impl;
}

/* Function id of the dispatch table d, or NULL. Cipher and MAC ids
 * overlap, so each table is searched for its own. */
static void (*fn(const OSSL_DISPATCH *d, int id))(void)
{
	for (; d && d->function_id; d++)
		if (d->function_id == id)
			return d->function;
	return NULL;
}

static void lookup(void)
{
	/* Kept for the life of the process: they hold their providers. */
	static EVP_CIPHER *cipher;
	static EVP_MAC *mac;
	const OSSL_PROVIDER *cprov, *mprov;

	cipher = EVP_CIPHER_fetch(NULL, "ChaCha20", NULL);
	mac = EVP_MAC_fetch(NULL, "POLY1305", NULL);
	cprov = cipher ? EVP_CIPHER_get0_provider(cipher) : NULL;
	mprov = mac ? EVP_MAC_get0_provider(mac) : NULL;
	if (!cprov || !mprov)
		return;
	const OSSL_DISPATCH *c = find_impl(cprov, OSSL_OP_CIPHER, "ChaCha20");
	const OSSL_DISPATCH *m = find_impl(mprov, OSSL_OP_MAC, "POLY1305");
	/* the casts OpenSSL's OSSL_FUNC_*() helpers make */
	table.chacha_new = (OSSL_FUNC_cipher_newctx_fn *)fn(c, OSSL_FUNC_CIPHER_NEWCTX);
	table.chacha_free = (OSSL_FUNC_cipher_freectx_fn *)fn(c, OSSL_FUNC_CIPHER_FREECTX);
	table.chacha_init = (OSSL_FUNC_cipher_encrypt_init_fn *)fn(c, OSSL_FUNC_CIPHER_ENCRYPT_INIT);
	table.chacha_cipher = (OSSL_FUNC_cipher_cipher_fn *)fn(c, OSSL_FUNC_CIPHER_CIPHER);
	table.poly_new = (OSSL_FUNC_mac_newctx_fn *)fn(m, OSSL_FUNC_MAC_NEWCTX);
	table.poly_free = (OSSL_FUNC_mac_freectx_fn *)fn(m, OSSL_FUNC_MAC_FREECTX);
	table.poly_init = (OSSL_FUNC_mac_init_fn *)fn(m, OSSL_FUNC_MAC_INIT);
	table.poly_update = (OSSL_FUNC_mac_update_fn *)fn(m, OSSL_FUNC_MAC_UPDATE);
	table.poly_final = (OSSL_FUNC_mac_final_fn *)fn(m, OSSL_FUNC_MAC_FINAL);
	table.provctx = OSSL_PROVIDER_get0_provider_ctx(cprov);
	table.mac_provctx = OSSL_PROVIDER_get0_provider_ctx(mprov);
	table_ok = table.chacha_new && table.chacha_free && table.chacha_init && table.chacha_cipher &&
		   table.poly_new && table.poly_free && table.poly_init && table.poly_update && table.poly_final;
}

const struct aead_prov *aead_prov_get(void)
{
	if (pthread_once(&once, lookup) != 0)
		return NULL;
	return table_ok ? &table : NULL;
}
