/* Credentials and integrity: long-term keys, USERHASH, CRC-32, the RFC 8489
 * SHA-256 vector, and the TURN REST (coturn --use-auth-secret) scheme. */
#include <stdarg.h>
#include <stddef.h>
#include <pthread.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "stun_auth.h"
#include "stun_msg.h"

static void unhex(const char *s, uint8_t *out, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned v;
		assert_int_equal(sscanf(s + 2 * i, "%2x", &v), 1);
		out[i] = (uint8_t)v;
	}
}

/* Expected values below were computed outside this code base with
 *   printf 'alice:example.org:s3cret' | openssl dgst -md5
 *   printf 'alice:example.org:s3cret' | openssl dgst -sha256
 *   printf 'alice:example.org' | openssl dgst -sha256 */
static void test_keys(void **state)
{
	uint8_t got[32], want[32];
	(void)state;

	stun_key_md5("alice", "example.org", "s3cret", got);
	unhex("8b83b40c22906c0c67a3c5bcc491bc14", want, 16);
	assert_memory_equal(got, want, 16);

	stun_key_sha256("alice", "example.org", "s3cret", got);
	unhex("f22052fea8541d9a84dc48aa41b20e65023c376e463bc39e716fac6e0f0f7a5f", want, 32);
	assert_memory_equal(got, want, 32);

	stun_userhash("alice", "example.org", got);
	unhex("435b7933096a304d3c734cfb833ec9075bd47ab1c0160321aed31c06a8c7009e", want, 32);
	assert_memory_equal(got, want, 32);
}

static void test_crc32(void **state)
{
	(void)state;
	/* The published CRC-32/ISO-HDLC check value; also what
	 * `printf 123456789 | gzip -c | tail -c8` shows. */
	assert_int_equal(stun_crc32((const uint8_t *)"123456789", 9), 0xCBF43926u);
	assert_int_equal(stun_crc32(NULL, 0), 0);
}

/* RFC 8489 Appendix B.1 with the corrections of errata 6268 (nonce length
 * and padding) and the MESSAGE-INTEGRITY-SHA256 value recomputed after them.
 * The key is SHA-256(username ":" realm ":" password) as PASSWORD-ALGORITHM
 * SHA-256 requires. */
static const char *RFC8489_B1 =
	"000100902112a44278ad3433c6ad72c029da412e"
	"001e00204a3cf38fef6992bda952c6780417da0f24819415569e60b205c46e41407f1704"
	"001500296f624d61744a6f73324141414366"
	"2f2f3439396b39353464364f4c33346f4c394653547679363473410000"
	"00"
	"0014000b6578616d706c652e6f726700"
	"001d000400020000"
	"001c0020b5c7bf005b6c52a21c51c5e892f8192413"
	"6296cb927c43149309278cc6518e65";

static void test_rfc8489_b1(void **state)
{
	const char *user = "\xe3\x83\x9e\xe3\x83\x88\xe3\x83\xaa\xe3\x83\x83\xe3\x82\xaf\xe3\x82\xb9";
	uint8_t buf[164], uh[STUN_USERHASH_LEN], key[STUN_KEY_SHA256_LEN];
	struct stun_msg m;
	uint16_t algs[2];
	unsigned n;
	(void)state;

	assert_int_equal(strlen(RFC8489_B1), 2 * sizeof(buf));
	unhex(RFC8489_B1, buf, sizeof(buf));
	assert_int_equal(stun_msg_parse(&m, buf, sizeof(buf)), 0);
	assert_int_equal(m.nattrs, 5);
	assert_int_equal(m.mi, -1);
	assert_int_equal(m.mi256, 4);

	stun_userhash(user, "example.org", uh);
	const struct stun_attr *a = stun_msg_find(&m, STUN_ATTR_USERHASH);
	assert_non_null(a);
	assert_int_equal(a->len, 32);
	assert_memory_equal(stun_attr_value(&m, a), uh, 32);

	a = stun_msg_find(&m, STUN_ATTR_NONCE);
	assert_int_equal(a->len, 41);
	assert_memory_equal(stun_attr_value(&m, a), "obMatJos2AAACf//499k954d6OL34oL9FSTvy64sA", 41);
	assert_int_equal(stun_attr_get_pwalgs(&m, stun_msg_find(&m, STUN_ATTR_PASSWORD_ALGORITHM),
					      algs, 2, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(algs[0], STUN_PWALG_SHA256);

	stun_key_sha256(user, "example.org", "TheMatrIX", key);
	assert_int_equal(stun_check_integrity(&m, key, sizeof(key)), 0);
	key[0] ^= 1;
	assert_int_equal(stun_check_integrity(&m, key, sizeof(key)), -EACCES);

	/* The builder reproduces it. */
	uint8_t out[200];
	struct stun_builder b;
	uint8_t pwalg[4] = { 0, 2, 0, 0 };
	key[0] ^= 1;
	stun_build_init(&b, out, sizeof(out), STUN_METHOD_BINDING, STUN_CLASS_REQUEST, m.tid);
	stun_build_attr(&b, STUN_ATTR_USERHASH, uh, sizeof(uh));
	stun_build_attr(&b, STUN_ATTR_NONCE, "obMatJos2AAACf//499k954d6OL34oL9FSTvy64sA", 41);
	stun_build_attr(&b, STUN_ATTR_REALM, "example.org", 11);
	stun_build_attr(&b, STUN_ATTR_PASSWORD_ALGORITHM, pwalg, 4);
	stun_build_integrity_sha256(&b, key, sizeof(key));
	assert_int_equal(stun_build_finish(&b), (int)sizeof(buf));
	assert_memory_equal(out, buf, sizeof(buf));
}

/* Expected value computed outside this code base with
 *   printf '1700000000:alice' | openssl dgst -sha1 -hmac 'north-secret' -binary | base64 */
static void test_rest_password(void **state)
{
	char pw[29], pw2[29];
	(void)state;

	memset(pw, 'x', sizeof(pw));
	turn_rest_password("north-secret", "1700000000:alice", pw);
	assert_string_equal(pw, "g+jb180fcj+xlpA/2mP60OdIgU0=");
	turn_rest_password("north-secreT", "1700000000:alice", pw2);
	assert_string_not_equal(pw, pw2);
	turn_rest_password("north-secret", "1700000001:alice", pw2);
	assert_string_not_equal(pw, pw2);
}

static void test_rest_username(void **state)
{
	(void)state;
	assert_int_equal(turn_rest_check_username("1700000000:alice", 1699999999), 0);
	assert_int_equal(turn_rest_check_username("1700000000:alice", 1700000000), -ESTALE);
	assert_int_equal(turn_rest_check_username("1700000000:alice", 1800000000), -ESTALE);
	assert_int_equal(turn_rest_check_username("1700000000", 1), 0);
	assert_int_equal(turn_rest_check_username("1700000000:", 1), 0);
	assert_int_equal(turn_rest_check_username("1700000000:a:b", 1), 0);
	assert_int_equal(turn_rest_check_username("", 1), -EINVAL);
	assert_int_equal(turn_rest_check_username(":alice", 1), -EINVAL);
	assert_int_equal(turn_rest_check_username("alice:1700000000", 1), -EINVAL);
	assert_int_equal(turn_rest_check_username("-5:alice", -10), -EINVAL);
	assert_int_equal(turn_rest_check_username("17x:alice", 1), -EINVAL);
	assert_int_equal(turn_rest_check_username(" 17:alice", 1), -EINVAL);
	assert_int_equal(turn_rest_check_username("99999999999999999999:a", 1), -EINVAL);
	assert_int_equal(turn_rest_check_username("9223372036854775807:a", 1), 0);
}

/* The REST password is an ordinary long-term password: a message keyed
 * with MD5(username:realm:password) from it verifies. */
static void test_rest_end_to_end(void **state)
{
	char pw[29];
	uint8_t key[STUN_KEY_MD5_LEN], buf[256], tid[STUN_TID_LEN] = { 3 };
	struct stun_builder b;
	struct stun_msg m;
	(void)state;

	turn_rest_password("s", "2000000000:bob", pw);
	stun_key_md5("2000000000:bob", "ipop", pw, key);
	stun_build_init(&b, buf, sizeof(buf), TURN_METHOD_ALLOCATE, STUN_CLASS_REQUEST, tid);
	stun_build_attr(&b, STUN_ATTR_USERNAME, "2000000000:bob", 14);
	stun_build_integrity(&b, key, sizeof(key));
	stun_build_fingerprint(&b);
	int n = stun_build_finish(&b);
	assert_int_equal(stun_msg_parse(&m, buf, (size_t)n), 0);
	assert_int_equal(stun_check_integrity(&m, key, sizeof(key)), 0);
	assert_true(stun_check_fingerprint(&m));
	assert_int_equal(turn_rest_check_username("2000000000:bob", 1999999999), 0);
}

/* Each thread keeps its HMAC contexts and only rekeys them: keys and
 * digests taken in turn, a digest OpenSSL lacks in between, and another
 * thread give the RFC 2202 / RFC 4231 answers every time. */
static const uint8_t jefe_sha1[20] = { 0xef, 0xfc, 0xdf, 0x6a, 0xe5, 0xeb, 0x2f, 0xa2, 0xd2, 0x74,
				       0x16, 0xd5, 0xf1, 0x84, 0xdf, 0x9c, 0x25, 0x9a, 0x7c, 0x79 };
static const uint8_t jefe_sha256[32] = { 0x5b, 0xdc, 0xc1, 0x46, 0xbf, 0x60, 0x75, 0x4e, 0x6a, 0x04, 0x24,
					 0x26, 0x08, 0x95, 0x75, 0xc7, 0x5a, 0x00, 0x3f, 0x08, 0x9d, 0x27,
					 0x39, 0x83, 0x9d, 0xec, 0x58, 0xb9, 0x64, 0xec, 0x38, 0x43 };
static const char jefe_data[] = "what do ya want for nothing?";

static int jefe(const char *digest, const char *key, uint8_t *out, size_t len)
{
	return stun_hmac2(digest, (const uint8_t *)key, strlen(key), (const uint8_t *)jefe_data, 10,
			  (const uint8_t *)jefe_data + 10, strlen(jefe_data) - 10, out, len);
}

static void *jefe_thread(void *arg)
{
	uint8_t out[32];
	*(int *)arg = jefe("SHA256", "Jefe", out, 32) == 0 && memcmp(out, jefe_sha256, 32) == 0 &&
		      jefe("SHA1", "Jefe", out, 20) == 0 && memcmp(out, jefe_sha1, 20) == 0;
	return NULL;
}

static void test_hmac2_reused(void **state)
{
	uint8_t out[32], other[20];
	(void)state;

	for (int round = 0; round < 3; round++) {
		assert_int_equal(jefe("SHA1", "Jefe", out, 20), 0);
		assert_memory_equal(out, jefe_sha1, 20);
		assert_int_equal(jefe("SHA1", "another key", other, 20), 0);
		assert_memory_not_equal(other, jefe_sha1, 20);
		assert_int_equal(jefe("SHA256", "Jefe", out, 32), 0);
		assert_memory_equal(out, jefe_sha256, 32);
		assert_int_not_equal(jefe("NO-SUCH-DIGEST", "Jefe", out, 20), 0);
		assert_int_equal(jefe("SHA1", "Jefe", out, 20), 0);
		assert_memory_equal(out, jefe_sha1, 20);
	}
	pthread_t t;
	int ok = 0;
	assert_int_equal(pthread_create(&t, NULL, jefe_thread, &ok), 0);
	assert_int_equal(pthread_join(t, NULL), 0);
	assert_true(ok);
}

static void test_hmac2_split(void **state)
{
	uint8_t one[32], two[32];
	const uint8_t msg[] = "the quick brown fox";
	(void)state;

	assert_int_equal(stun_hmac2("SHA256", (const uint8_t *)"k", 1, msg, sizeof(msg), NULL, 0,
				    one, 32), 0);
	assert_int_equal(stun_hmac2("SHA256", (const uint8_t *)"k", 1, msg, 5, msg + 5,
				    sizeof(msg) - 5, two, 32), 0);
	assert_memory_equal(one, two, 32);
	/* Empty key works (HMAC allows it). */
	assert_int_equal(stun_hmac2("SHA1", NULL, 0, msg, 3, NULL, 0, one, 20), 0);
	/* Truncated output is the prefix; longer than the digest is refused. */
	assert_int_equal(stun_hmac2("SHA256", (const uint8_t *)"k", 1, msg, sizeof(msg), NULL, 0,
				    two, 12), 0);
	assert_int_equal(stun_hmac2("SHA256", (const uint8_t *)"k", 1, msg, sizeof(msg), NULL, 0,
				    one, 32), 0);
	assert_memory_equal(one, two, 12);
	assert_int_not_equal(stun_hmac2("SHA1", (const uint8_t *)"k", 1, msg, 3, NULL, 0, one, 32),
			     0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_keys),
		cmocka_unit_test(test_crc32),
		cmocka_unit_test(test_rfc8489_b1),
		cmocka_unit_test(test_rest_password),
		cmocka_unit_test(test_rest_username),
		cmocka_unit_test(test_rest_end_to_end),
		cmocka_unit_test(test_hmac2_split),
		cmocka_unit_test(test_hmac2_reused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
