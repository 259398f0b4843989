/* Stateless nonces with a fake clock (the functions take "now"). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "addr.h"
#include "stun_nonce.h"
#include "stun_proto.h"

static const uint8_t KEY[] = "0123456789abcdef0123456789abcdef";
#define KEYLEN (sizeof(KEY) - 1)

static struct sockaddr_storage mkaddr(const char *s)
{
	struct sockaddr_storage ss;
	assert_int_equal(addr_parse(s, 0, &ss), 0);
	return ss;
}

#define SA(x) ((const struct sockaddr *)&(x))

static int check(uint64_t now, const struct sockaddr_storage *c, const char *n)
{
	return stun_nonce_check(KEY, KEYLEN, now, (const struct sockaddr *)c, (const uint8_t *)n,
				strlen(n));
}

static void test_shape(void **state)
{
	struct sockaddr_storage c = mkaddr("192.0.2.10:5000");
	char n[STUN_NONCE_MAX];
	uint32_t feat = 99;
	(void)state;

	size_t len = stun_nonce_make(KEY, KEYLEN, 1000, 600, SA(c), n);
	assert_int_equal(len, strlen(n));
	assert_true(len >= 13 + 12 && len < STUN_NONCE_MAX);
	assert_memory_equal(n, "obMatJos2AAAA", 13);
	assert_int_equal(stun_nonce_features((const uint8_t *)n, len, &feat), 0);
	assert_int_equal(feat, 0);
	/* Only characters allowed in a quoted NONCE (qdtext), no quote or backslash. */
	for (size_t i = 0; i < len; i++)
		assert_true(n[i] > 0x20 && n[i] < 0x7f && n[i] != '"' && n[i] != '\\');
}

static void test_valid_and_expiry(void **state)
{
	struct sockaddr_storage c = mkaddr("192.0.2.10:5000");
	char n[STUN_NONCE_MAX];
	(void)state;

	stun_nonce_make(KEY, KEYLEN, 1000, 600, SA(c), n);
	assert_int_equal(check(1000, &c, n), 0);
	assert_int_equal(check(1599, &c, n), 0);
	assert_int_equal(check(1600, &c, n), -ESTALE);
	assert_int_equal(check(99999, &c, n), -ESTALE);
	/* Earlier than issued is still authentic (clock steps). */
	assert_int_equal(check(0, &c, n), 0);
}

/* NAT rebinding between the 401 and the retry changes the port only. */
static void test_bound_to_ip_not_port(void **state)
{
	struct sockaddr_storage c = mkaddr("192.0.2.10:5000"), rebound = mkaddr("192.0.2.10:61000"),
				other = mkaddr("192.0.2.11:5000"),
				mapped = mkaddr("[::ffff:192.0.2.10]:7"),
				v6 = mkaddr("[2001:db8::10]:5000"), v6b = mkaddr("[2001:db8::11]:5000");
	char n[STUN_NONCE_MAX], n6[STUN_NONCE_MAX];
	(void)state;

	stun_nonce_make(KEY, KEYLEN, 1000, 600, SA(c), n);
	assert_int_equal(check(1001, &rebound, n), 0);
	assert_int_equal(check(1001, &mapped, n), 0);
	assert_int_equal(check(1001, &other, n), -EINVAL);
	assert_int_equal(check(1001, &v6, n), -EINVAL);
	/* Wrong address wins over expiry: a stolen nonce reveals nothing. */
	assert_int_equal(check(5000, &other, n), -EINVAL);

	stun_nonce_make(KEY, KEYLEN, 1000, 600, SA(v6), n6);
	assert_int_equal(check(1001, &v6, n6), 0);
	assert_int_equal(check(1001, &v6b, n6), -EINVAL);
	assert_int_equal(check(1001, &c, n6), -EINVAL);
}

static void test_forgery(void **state)
{
	struct sockaddr_storage c = mkaddr("198.51.100.1:1");
	char n[STUN_NONCE_MAX], m[STUN_NONCE_MAX];
	(void)state;

	size_t len = stun_nonce_make(KEY, KEYLEN, 1000, 60, SA(c), n);
	/* Another key. */
	assert_int_equal(stun_nonce_check((const uint8_t *)"other", 5, 1001, SA(c),
					  (const uint8_t *)n, len), -EINVAL);
	/* Every single-character change is refused, including extending the
	 * expiry by editing its hex digits. */
	for (size_t i = 0; i < len; i++) {
		memcpy(m, n, len + 1);
		m[i] = m[i] == 'f' ? 'e' : 'f';
		assert_int_equal(check(1001, &c, m), -EINVAL);
	}
	/* Truncated, extended, empty. */
	memcpy(m, n, len + 1);
	m[len - 1] = '\0';
	assert_int_equal(check(1001, &c, m), -EINVAL);
	memcpy(m, n, len);
	m[len] = 'A';
	m[len + 1] = '\0';
	assert_int_equal(check(1001, &c, m), -EINVAL);
	assert_int_equal(check(1001, &c, ""), -EINVAL);
	assert_int_equal(check(1001, &c, "f//499k954d6OL34oL9FSTvy64sA"), -EINVAL);
}

static void test_distinct(void **state)
{
	struct sockaddr_storage c = mkaddr("192.0.2.10:5000");
	char a[STUN_NONCE_MAX], b[STUN_NONCE_MAX];
	(void)state;

	stun_nonce_make(KEY, KEYLEN, 1000, 600, SA(c), a);
	stun_nonce_make(KEY, KEYLEN, 1001, 600, SA(c), b);
	assert_string_not_equal(a, b);
	stun_nonce_make(KEY, KEYLEN, 1000, 600, SA(c), b);
	assert_string_equal(a, b); /* deterministic: no state, no randomness */
}

static void test_features(void **state)
{
	uint32_t f = 0;
	(void)state;

	assert_int_equal(stun_nonce_features((const uint8_t *)"obMatJos2AAACf//499k", 20, &f), 0);
	assert_int_equal(f, 2);
	assert_int_equal(stun_nonce_features((const uint8_t *)"obMatJos2////", 13, &f), 0);
	assert_int_equal(f, 0xffffff);
	assert_int_equal(stun_nonce_features((const uint8_t *)"f//499k954d6OL34", 16, &f), -ENOENT);
	assert_int_equal(stun_nonce_features((const uint8_t *)"obMatJos2AA", 11, &f), -ENOENT);
	assert_int_equal(stun_nonce_features((const uint8_t *)"obMatJos2A*AA", 13, &f), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_shape),
		cmocka_unit_test(test_valid_and_expiry),
		cmocka_unit_test(test_bound_to_ip_not_port),
		cmocka_unit_test(test_forgery),
		cmocka_unit_test(test_distinct),
		cmocka_unit_test(test_features),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
