/* Credentials and integrity: long-term keys, USERHASH, CRC-32, the RFC 8489
 * SHA-256 vector, and the TURN REST (coturn --use-auth-secret) scheme. */
#include <stdarg.h>
#include <stddef.h>
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
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
