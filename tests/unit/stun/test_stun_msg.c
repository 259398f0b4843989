/* STUN codec: RFC 5769 vectors, round trips of every attribute, and the
 * malformed messages the parser must reject. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "stun_auth.h"
#include "stun_msg.h"

/* ---- RFC 5769 vectors, typed in from the RFC text ---- */

static const char *RFC_REQ =
	"00 01 00 58 21 12 a4 42 b7 e7 a7 01 bc 34 d6 86 fa 87 df ae"
	"80 22 00 10 53 54 55 4e 20 74 65 73 74 20 63 6c 69 65 6e 74"
	"00 24 00 04 6e 00 01 ff"
	"80 29 00 08 93 2f f9 b1 51 26 3b 36"
	"00 06 00 09 65 76 74 6a 3a 68 36 76 59 20 20 20"
	"00 08 00 14 9a ea a7 0c bf d8 cb 56 78 1e f2 b5 b2 d3 f2 49 c1 b5 71 a2"
	"80 28 00 04 e5 7a 3b cf";

static const char *RFC_RESP4 =
	"01 01 00 3c 21 12 a4 42 b7 e7 a7 01 bc 34 d6 86 fa 87 df ae"
	"80 22 00 0b 74 65 73 74 20 76 65 63 74 6f 72 20"
	"00 20 00 08 00 01 a1 47 e1 12 a6 43"
	"00 08 00 14 2b 91 f5 99 fd 9e 90 c3 8c 74 89 f9 2a f9 ba 53 f0 6b e7 d7"
	"80 28 00 04 c0 7d 4c 96";

static const char *RFC_RESP6 =
	"01 01 00 48 21 12 a4 42 b7 e7 a7 01 bc 34 d6 86 fa 87 df ae"
	"80 22 00 0b 74 65 73 74 20 76 65 63 74 6f 72 20"
	"00 20 00 14 00 02 a1 47 01 13 a9 fa a5 d3 f1 79 bc 25 f4 b5 be d2 b9 d9"
	"00 08 00 14 a3 82 95 4e 4b e6 7b f1 17 84 c9 7c 82 92 c2 75 bf e3 ed 41"
	"80 28 00 04 c8 fb 0b 4c";

static const char *RFC_LONGTERM =
	"00 01 00 60 21 12 a4 42 78 ad 34 33 c6 ad 72 c0 29 da 41 2e"
	"00 06 00 12 e3 83 9e e3 83 88 e3 83 aa e3 83 83 e3 82 af e3 82 b9 00 00"
	"00 15 00 1c 66 2f 2f 34 39 39 6b 39 35 34 64 36 4f 4c 33 34 6f 4c 39 46"
	"53 54 76 79 36 34 73 41"
	"00 14 00 0b 65 78 61 6d 70 6c 65 2e 6f 72 67 00"
	"00 08 00 14 f6 70 24 65 6d d6 4a 3e 02 b8 e0 71 2e 85 c9 a2 8c a8 96 66";

static const char *SHORT_PW = "VOkJxbRl1RmTxUk/WvJxBt";
static const char *LT_USER = "\xe3\x83\x9e\xe3\x83\x88\xe3\x83\xaa\xe3\x83\x83\xe3\x82\xaf\xe3\x82\xb9";

static size_t unhex(const char *s, uint8_t *out, size_t cap)
{
	size_t n = 0;
	int hi = -1;

	for (; *s; s++) {
		int v;
		if (*s >= '0' && *s <= '9')
			v = *s - '0';
		else if (*s >= 'a' && *s <= 'f')
			v = *s - 'a' + 10;
		else
			continue;
		if (hi < 0) {
			hi = v;
		} else {
			assert_true(n < cap);
			out[n++] = (uint8_t)(hi << 4 | v);
			hi = -1;
		}
	}
	assert_int_equal(hi, -1);
	return n;
}

static void assert_attr_str(const struct stun_msg *m, uint16_t type, const char *want)
{
	const struct stun_attr *a = stun_msg_find(m, type);
	assert_non_null(a);
	assert_int_equal(a->len, strlen(want));
	assert_memory_equal(stun_attr_value(m, a), want, a->len);
}

static void assert_addr(const struct stun_msg *m, uint16_t type, const char *want)
{
	struct sockaddr_storage ss, exp;
	const struct stun_attr *a = stun_msg_find(m, type);

	assert_non_null(a);
	assert_int_equal(stun_attr_get_addr(m, a, &ss), 0);
	assert_int_equal(addr_parse(want, 0, &exp), 0);
	assert_true(addr_equal((struct sockaddr *)&ss, (struct sockaddr *)&exp));
}

/* No single-bit flip before the integrity attribute may leave a message
 * that still authenticates or passes its FINGERPRINT. */
static void assert_bitflips_detected(const uint8_t *msg, size_t len, const uint8_t *key,
				     size_t keylen, size_t mi_start)
{
	uint8_t copy[512];
	struct stun_msg m;

	assert_true(len <= sizeof(copy));
	for (size_t i = 0; i < mi_start; i++) {
		for (int bit = 0; bit < 8; bit++) {
			memcpy(copy, msg, len);
			copy[i] ^= (uint8_t)(1 << bit);
			if (stun_msg_parse(&m, copy, len) < 0)
				continue;
			/* A longer length can swallow the integrity attribute: the
			 * message then simply is not authenticated. */
			assert_int_equal(stun_check_integrity(&m, key, keylen),
					 m.mi < 0 && m.mi256 < 0 ? -ENOENT : -EACCES);
			if (m.fp >= 0)
				assert_false(stun_check_fingerprint(&m));
		}
	}
}

static size_t mi_start(const struct stun_msg *m)
{
	return (size_t)m->attrs[m->mi].off - STUN_ATTR_HEADER_LEN;
}

static void test_rfc5769_request(void **state)
{
	uint8_t buf[256], out[256];
	size_t len = unhex(RFC_REQ, buf, sizeof(buf));
	struct stun_msg m;
	uint32_t prio;
	uint64_t tie;
	(void)state;

	assert_int_equal(len, 108);
	assert_true(stun_is_message(buf, len));
	assert_int_equal(stun_msg_parse(&m, buf, len), 0);
	assert_int_equal(m.method, STUN_METHOD_BINDING);
	assert_int_equal(m.cls, STUN_CLASS_REQUEST);
	assert_memory_equal(m.tid, buf + 8, STUN_TID_LEN);
	assert_int_equal(m.nattrs, 6);
	assert_int_equal(m.nunknown, 0);
	assert_attr_str(&m, STUN_ATTR_SOFTWARE, "STUN test client");
	assert_attr_str(&m, STUN_ATTR_USERNAME, "evtj:h6vY");
	assert_int_equal(stun_attr_get_u32(&m, stun_msg_find(&m, ICE_ATTR_PRIORITY), &prio), 0);
	assert_int_equal(prio, 0x6e0001ff);
	assert_int_equal(stun_attr_get_u64(&m, stun_msg_find(&m, ICE_ATTR_CONTROLLED), &tie), 0);
	assert_true(tie == 0x932ff9b151263b36ull);
	assert_int_equal(m.mi, 4);
	assert_int_equal(m.fp, 5);
	assert_int_equal(m.mi256, -1);
	assert_int_equal(stun_check_integrity(&m, (const uint8_t *)SHORT_PW, strlen(SHORT_PW)), 0);
	assert_int_equal(stun_check_integrity(&m, (const uint8_t *)"VOkJxbRl1RmTxUk/WvJxBu", 22),
			 -EACCES);
	assert_true(stun_check_fingerprint(&m));
	assert_bitflips_detected(buf, len, (const uint8_t *)SHORT_PW, strlen(SHORT_PW),
				 mi_start(&m));

	/* Rebuilt from its parts. The RFC pads USERNAME with spaces while our
	 * builder pads with zeros, so the test writes the spaces into the
	 * padding before MI and FINGERPRINT are computed. */
	struct stun_builder b;
	stun_build_init(&b, out, sizeof(out), STUN_METHOD_BINDING, STUN_CLASS_REQUEST, m.tid);
	stun_build_attr(&b, STUN_ATTR_SOFTWARE, "STUN test client", 16);
	stun_build_u32(&b, ICE_ATTR_PRIORITY, prio);
	stun_build_u64(&b, ICE_ATTR_CONTROLLED, tie);
	stun_build_attr(&b, STUN_ATTR_USERNAME, "evtj:h6vY", 9);
	assert_memory_equal(out + b.len - 3, "\0\0\0", 3);
	memset(out + b.len - 3, ' ', 3);
	stun_build_integrity(&b, (const uint8_t *)SHORT_PW, strlen(SHORT_PW));
	stun_build_fingerprint(&b);
	assert_int_equal(stun_build_finish(&b), (int)len);
	assert_memory_equal(out, buf, len);
}

static void check_response(const char *hexmsg, const char *mapped, size_t want_len)
{
	uint8_t buf[256], out[256];
	size_t len = unhex(hexmsg, buf, sizeof(buf));
	struct stun_msg m;
	struct stun_builder b;
	struct sockaddr_storage ss;

	assert_int_equal(len, want_len);
	assert_int_equal(stun_msg_parse(&m, buf, len), 0);
	assert_int_equal(m.method, STUN_METHOD_BINDING);
	assert_int_equal(m.cls, STUN_CLASS_SUCCESS);
	assert_attr_str(&m, STUN_ATTR_SOFTWARE, "test vector");
	assert_addr(&m, STUN_ATTR_XOR_MAPPED_ADDRESS, mapped);
	assert_int_equal(stun_check_integrity(&m, (const uint8_t *)SHORT_PW, strlen(SHORT_PW)), 0);
	assert_true(stun_check_fingerprint(&m));
	assert_bitflips_detected(buf, len, (const uint8_t *)SHORT_PW, strlen(SHORT_PW),
				 mi_start(&m));

	assert_int_equal(addr_parse(mapped, 0, &ss), 0);
	stun_build_response(&b, out, sizeof(out), &m, STUN_CLASS_SUCCESS);
	stun_build_attr(&b, STUN_ATTR_SOFTWARE, "test vector", 11);
	out[b.len - 1] = ' '; /* the RFC's padding byte, see test_rfc5769_request */
	stun_build_addr(&b, STUN_ATTR_XOR_MAPPED_ADDRESS, (struct sockaddr *)&ss);
	stun_build_integrity(&b, (const uint8_t *)SHORT_PW, strlen(SHORT_PW));
	stun_build_fingerprint(&b);
	assert_int_equal(stun_build_finish(&b), (int)len);
	assert_memory_equal(out, buf, len);
}

static void test_rfc5769_resp4(void **state)
{
	(void)state;
	check_response(RFC_RESP4, "192.0.2.1:32853", 80);
}

static void test_rfc5769_resp6(void **state)
{
	(void)state;
	check_response(RFC_RESP6, "[2001:db8:1234:5678:11:2233:4455:6677]:32853", 92);
}

static void test_rfc5769_longterm(void **state)
{
	uint8_t buf[256], out[256], key[STUN_KEY_MD5_LEN];
	size_t len = unhex(RFC_LONGTERM, buf, sizeof(buf));
	struct stun_msg m;
	struct stun_builder b;
	(void)state;

	assert_int_equal(len, 116);
	assert_int_equal(stun_msg_parse(&m, buf, len), 0);
	assert_int_equal(m.method, STUN_METHOD_BINDING);
	assert_int_equal(m.cls, STUN_CLASS_REQUEST);
	assert_attr_str(&m, STUN_ATTR_USERNAME, LT_USER);
	assert_attr_str(&m, STUN_ATTR_NONCE, "f//499k954d6OL34oL9FSTvy64sA");
	assert_attr_str(&m, STUN_ATTR_REALM, "example.org");
	assert_int_equal(m.fp, -1);
	assert_true(stun_check_fingerprint(&m)); /* absent is fine */

	stun_key_md5(LT_USER, "example.org", "TheMatrIX", key);
	assert_int_equal(stun_check_integrity(&m, key, sizeof(key)), 0);
	assert_bitflips_detected(buf, len, key, sizeof(key), mi_start(&m));
	uint8_t bad[STUN_KEY_MD5_LEN];
	stun_key_md5(LT_USER, "example.org", "thematrix", bad);
	assert_int_equal(stun_check_integrity(&m, bad, sizeof(bad)), -EACCES);

	/* Zero padding here, so the builder reproduces it byte for byte. */
	stun_build_init(&b, out, sizeof(out), STUN_METHOD_BINDING, STUN_CLASS_REQUEST, m.tid);
	stun_build_attr(&b, STUN_ATTR_USERNAME, LT_USER, strlen(LT_USER));
	stun_build_attr(&b, STUN_ATTR_NONCE, "f//499k954d6OL34oL9FSTvy64sA", 28);
	stun_build_attr(&b, STUN_ATTR_REALM, "example.org", 11);
	stun_build_integrity(&b, key, sizeof(key));
	assert_int_equal(stun_build_finish(&b), (int)len);
	assert_memory_equal(out, buf, len);
}

/* ---- round trips ---- */

static const char *ADDRS[] = { "192.0.2.1:32853", "203.0.113.200:1", "[2001:db8::1]:65535",
			       "[::ffff:198.51.100.7]:3478" };
static const uint16_t ADDR_TYPES[] = { STUN_ATTR_MAPPED_ADDRESS, STUN_ATTR_XOR_MAPPED_ADDRESS,
				       TURN_ATTR_XOR_PEER_ADDRESS, TURN_ATTR_XOR_RELAYED_ADDRESS,
				       STUN_ATTR_ALTERNATE_SERVER };

static void test_addr_roundtrip(void **state)
{
	uint8_t buf[512], tid[STUN_TID_LEN];
	struct stun_builder b;
	struct stun_msg m;
	(void)state;

	for (size_t i = 0; i < sizeof(ADDRS) / sizeof(ADDRS[0]); i++) {
		struct sockaddr_storage ss;
		assert_int_equal(addr_parse(ADDRS[i], 0, &ss), 0);
		stun_tid_random(tid);
		stun_build_init(&b, buf, sizeof(buf), TURN_METHOD_ALLOCATE, STUN_CLASS_SUCCESS, tid);
		for (size_t t = 0; t < 5; t++)
			stun_build_addr(&b, ADDR_TYPES[t], (struct sockaddr *)&ss);
		int n = stun_build_finish(&b);
		size_t vlen = ss.ss_family == AF_INET ? 8 : 20;
		assert_int_equal(n, 20 + 5 * (4 + (int)vlen));
		assert_int_equal(stun_msg_parse(&m, buf, (size_t)n), 0);
		assert_int_equal(m.nattrs, 5);
		for (size_t t = 0; t < 5; t++) {
			assert_int_equal(m.attrs[t].len, vlen);
			assert_addr(&m, ADDR_TYPES[t], ADDRS[i]);
		}
		/* The XOR types really are XORed: the plain bytes differ. */
		assert_memory_not_equal(stun_attr_value(&m, &m.attrs[0]),
					stun_attr_value(&m, &m.attrs[1]), vlen);
		assert_memory_equal(stun_attr_value(&m, &m.attrs[0]),
				    stun_attr_value(&m, &m.attrs[4]), vlen);
	}
}

static void test_attr_roundtrip(void **state)
{
	uint8_t buf[1024], tid[STUN_TID_LEN], key[STUN_KEY_MD5_LEN], uh[STUN_USERHASH_LEN];
	uint16_t unk[] = { 0x0003, 0x7fff, 0x0100 }, algs[] = { STUN_PWALG_SHA256, STUN_PWALG_MD5 };
	uint8_t pwalg[4] = { 0x00, 0x02, 0x00, 0x00 };
	struct stun_builder b;
	struct stun_msg m;
	(void)state;

	stun_tid_random(tid);
	stun_key_md5("user", "realm", "pass", key);
	stun_userhash("user", "realm", uh);
	stun_build_init(&b, buf, sizeof(buf), TURN_METHOD_ALLOCATE, STUN_CLASS_ERROR, tid);
	stun_build_error(&b, 438, "Stale Nonce");
	stun_build_unknown(&b, unk, 3);
	stun_build_channel(&b, 0x4abc);
	stun_build_u32(&b, TURN_ATTR_LIFETIME, 3600);
	stun_build_u8(&b, TURN_ATTR_REQUESTED_TRANSPORT, TURN_TRANSPORT_UDP);
	stun_build_u8(&b, TURN_ATTR_REQUESTED_ADDRESS_FAMILY, STUN_FAMILY_IPV6);
	stun_build_u8(&b, TURN_ATTR_EVEN_PORT, 0x80);
	stun_build_u64(&b, TURN_ATTR_RESERVATION_TOKEN, 0x0102030405060708ull);
	stun_build_flag(&b, TURN_ATTR_DONT_FRAGMENT);
	stun_build_attr(&b, TURN_ATTR_DATA, "\x00\x01\x02\xff\xfe", 5);
	stun_build_attr(&b, STUN_ATTR_USERHASH, uh, sizeof(uh));
	stun_build_attr(&b, STUN_ATTR_REALM, "realm", 5);
	stun_build_attr(&b, STUN_ATTR_NONCE, "obMatJos2AAAAxyz", 16);
	stun_build_attr(&b, STUN_ATTR_PASSWORD_ALGORITHM, pwalg, 4);
	stun_build_pwalgs(&b, algs, 2);
	stun_build_attr(&b, STUN_ATTR_SOFTWARE, "ipop", 4);
	stun_build_attr(&b, STUN_ATTR_USERNAME, "user", 4);
	stun_build_integrity(&b, key, sizeof(key));
	stun_build_integrity_sha256(&b, key, sizeof(key));
	stun_build_fingerprint(&b);
	int n = stun_build_finish(&b);
	assert_true(n > 0);
	assert_int_equal(stun_msg_parse(&m, buf, (size_t)n), 0);
	assert_int_equal(m.method, TURN_METHOD_ALLOCATE);
	assert_int_equal(m.cls, STUN_CLASS_ERROR);
	assert_int_equal(m.nattrs, 20);
	assert_int_equal(m.nunknown, 0);

	int code;
	const char *reason;
	size_t rlen;
	assert_int_equal(stun_attr_get_error(&m, stun_msg_find(&m, STUN_ATTR_ERROR_CODE), &code,
					     &reason, &rlen), 0);
	assert_int_equal(code, 438);
	assert_int_equal(rlen, 11);
	assert_memory_equal(reason, "Stale Nonce", 11);

	const struct stun_attr *a = stun_msg_find(&m, STUN_ATTR_UNKNOWN_ATTRIBUTES);
	assert_int_equal(a->len, 6);
	assert_memory_equal(stun_attr_value(&m, a), "\x00\x03\x7f\xff\x01\x00", 6);

	uint16_t chan;
	assert_int_equal(stun_attr_get_channel(&m, stun_msg_find(&m, TURN_ATTR_CHANNEL_NUMBER),
					       &chan), 0);
	assert_int_equal(chan, 0x4abc);
	uint32_t u32;
	assert_int_equal(stun_attr_get_u32(&m, stun_msg_find(&m, TURN_ATTR_LIFETIME), &u32), 0);
	assert_int_equal(u32, 3600);
	uint8_t u8;
	assert_int_equal(stun_attr_get_u8(&m, stun_msg_find(&m, TURN_ATTR_REQUESTED_TRANSPORT),
					  &u8), 0);
	assert_int_equal(u8, 17);
	assert_int_equal(stun_msg_find(&m, TURN_ATTR_REQUESTED_TRANSPORT)->len, 4);
	assert_int_equal(stun_attr_get_u8(&m, stun_msg_find(&m, TURN_ATTR_REQUESTED_ADDRESS_FAMILY),
					  &u8), 0);
	assert_int_equal(u8, STUN_FAMILY_IPV6);
	assert_int_equal(stun_attr_get_u8(&m, stun_msg_find(&m, TURN_ATTR_EVEN_PORT), &u8), 0);
	assert_int_equal(u8, 0x80);
	assert_int_equal(stun_msg_find(&m, TURN_ATTR_EVEN_PORT)->len, 1);
	uint64_t u64;
	assert_int_equal(stun_attr_get_u64(&m, stun_msg_find(&m, TURN_ATTR_RESERVATION_TOKEN),
					   &u64), 0);
	assert_true(u64 == 0x0102030405060708ull);
	assert_int_equal(stun_msg_find(&m, TURN_ATTR_DONT_FRAGMENT)->len, 0);
	a = stun_msg_find(&m, TURN_ATTR_DATA);
	assert_int_equal(a->len, 5);
	assert_memory_equal(stun_attr_value(&m, a), "\x00\x01\x02\xff\xfe", 5);
	a = stun_msg_find(&m, STUN_ATTR_USERHASH);
	assert_memory_equal(stun_attr_value(&m, a), uh, sizeof(uh));
	assert_attr_str(&m, STUN_ATTR_REALM, "realm");
	assert_attr_str(&m, STUN_ATTR_NONCE, "obMatJos2AAAAxyz");
	assert_attr_str(&m, STUN_ATTR_SOFTWARE, "ipop");
	assert_attr_str(&m, STUN_ATTR_USERNAME, "user");

	uint16_t got[4];
	unsigned cnt;
	assert_int_equal(stun_attr_get_pwalgs(&m, stun_msg_find(&m, STUN_ATTR_PASSWORD_ALGORITHM),
					      got, 4, &cnt), 0);
	assert_int_equal(cnt, 1);
	assert_int_equal(got[0], STUN_PWALG_SHA256);
	assert_int_equal(stun_attr_get_pwalgs(&m, stun_msg_find(&m, STUN_ATTR_PASSWORD_ALGORITHMS),
					      got, 4, &cnt), 0);
	assert_int_equal(cnt, 2);
	assert_int_equal(got[0], STUN_PWALG_SHA256);
	assert_int_equal(got[1], STUN_PWALG_MD5);
	/* Counted in full even when the caller's array is smaller. */
	assert_int_equal(stun_attr_get_pwalgs(&m, stun_msg_find(&m, STUN_ATTR_PASSWORD_ALGORITHMS),
					      got, 1, &cnt), 0);
	assert_int_equal(cnt, 2);

	/* MI, MI-SHA256 and FINGERPRINT together. */
	assert_true(m.mi >= 0 && m.mi256 == m.mi + 1 && m.fp == m.mi256 + 1);
	assert_int_equal(stun_check_integrity(&m, key, sizeof(key)), 0);
	assert_true(stun_check_fingerprint(&m));
	assert_bitflips_detected(buf, (size_t)n, key, sizeof(key), mi_start(&m));
}

/* MI-SHA256 is preferred, and its HMAC covers MI: damaging either breaks it. */
static void test_integrity_both(void **state)
{
	uint8_t buf[256], tid[STUN_TID_LEN] = { 1 }, key[] = "k";
	struct stun_builder b;
	struct stun_msg m;
	(void)state;

	stun_build_init(&b, buf, sizeof(buf), STUN_METHOD_BINDING, STUN_CLASS_REQUEST, tid);
	stun_build_attr(&b, STUN_ATTR_USERNAME, "u", 1);
	stun_build_integrity(&b, key, 1);
	stun_build_integrity_sha256(&b, key, 1);
	int n = stun_build_finish(&b);
	assert_int_equal(stun_msg_parse(&m, buf, (size_t)n), 0);
	assert_int_equal(stun_check_integrity(&m, key, 1), 0);
	buf[m.attrs[m.mi].off] ^= 1;
	assert_int_equal(stun_check_integrity(&m, key, 1), -EACCES);
	buf[m.attrs[m.mi].off] ^= 1;
	buf[m.attrs[m.mi256].off + 31] ^= 0x80;
	assert_int_equal(stun_check_integrity(&m, key, 1), -EACCES);

	/* Neither present. */
	stun_build_init(&b, buf, sizeof(buf), STUN_METHOD_BINDING, STUN_CLASS_REQUEST, tid);
	stun_build_fingerprint(&b);
	n = stun_build_finish(&b);
	assert_int_equal(stun_msg_parse(&m, buf, (size_t)n), 0);
	assert_int_equal(stun_check_integrity(&m, key, 1), -ENOENT);
	assert_true(stun_check_fingerprint(&m));
	buf[n - 1] ^= 1;
	assert_false(stun_check_fingerprint(&m));
}

static void test_type_bits(void **state)
{
	static const struct {
		uint16_t method, cls, type;
	} known[] = {
		{ STUN_METHOD_BINDING, STUN_CLASS_REQUEST, 0x0001 },
		{ STUN_METHOD_BINDING, STUN_CLASS_SUCCESS, 0x0101 },
		{ STUN_METHOD_BINDING, STUN_CLASS_ERROR, 0x0111 },
		{ TURN_METHOD_ALLOCATE, STUN_CLASS_REQUEST, 0x0003 },
		{ TURN_METHOD_ALLOCATE, STUN_CLASS_ERROR, 0x0113 },
		{ TURN_METHOD_REFRESH, STUN_CLASS_SUCCESS, 0x0104 },
		{ TURN_METHOD_SEND, STUN_CLASS_INDICATION, 0x0016 },
		{ TURN_METHOD_DATA, STUN_CLASS_INDICATION, 0x0017 },
		{ TURN_METHOD_CREATE_PERMISSION, STUN_CLASS_REQUEST, 0x0008 },
		{ TURN_METHOD_CHANNEL_BIND, STUN_CLASS_SUCCESS, 0x0109 },
		{ 0x0FFF, STUN_CLASS_ERROR, 0x3FFF },
		{ 0x0080, STUN_CLASS_REQUEST, 0x0200 },
	};
	static const uint16_t classes[] = { STUN_CLASS_REQUEST, STUN_CLASS_INDICATION,
					    STUN_CLASS_SUCCESS, STUN_CLASS_ERROR };
	uint8_t buf[64], tid[STUN_TID_LEN] = { 0 };
	struct stun_builder b;
	struct stun_msg m;
	(void)state;

	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
		stun_build_init(&b, buf, sizeof(buf), known[i].method, known[i].cls, tid);
		assert_int_equal(stun_build_finish(&b), 20);
		assert_int_equal((buf[0] << 8) | buf[1], known[i].type);
	}
	for (uint16_t method = 0; method < 0x1000; method++) {
		for (size_t c = 0; c < 4; c++) {
			stun_build_init(&b, buf, sizeof(buf), method, classes[c], tid);
			assert_int_equal(stun_msg_parse(&m, buf, (size_t)stun_build_finish(&b)), 0);
			assert_int_equal(m.method, method);
			assert_int_equal(m.cls, classes[c]);
		}
	}
}

/* ---- malformed input ---- */

static size_t base_msg(uint8_t *buf, size_t cap)
{
	uint8_t tid[STUN_TID_LEN] = { 9, 8, 7 };
	struct stun_builder b;

	stun_build_init(&b, buf, cap, STUN_METHOD_BINDING, STUN_CLASS_REQUEST, tid);
	stun_build_attr(&b, STUN_ATTR_SOFTWARE, "abcde", 5);
	stun_build_u32(&b, TURN_ATTR_LIFETIME, 5);
	return (size_t)stun_build_finish(&b);
}

static void set_len(uint8_t *buf, size_t body)
{
	buf[2] = (uint8_t)(body >> 8);
	buf[3] = (uint8_t)body;
}

static void test_reject_header(void **state)
{
	uint8_t buf[128];
	size_t n = base_msg(buf, sizeof(buf));
	struct stun_msg m;
	(void)state;

	assert_int_equal(stun_msg_parse(&m, buf, n), 0);
	for (size_t k = 0; k < n; k++)
		assert_int_equal(stun_msg_parse(&m, buf, k), -EBADMSG); /* truncated */
	buf[0] |= 0x80;
	assert_int_equal(stun_msg_parse(&m, buf, n), -EBADMSG);
	assert_false(stun_is_message(buf, n));
	buf[0] &= 0x3f;
	buf[0] |= 0x40;
	assert_int_equal(stun_msg_parse(&m, buf, n), -EBADMSG);
	buf[0] &= 0x3f;
	buf[5] ^= 1; /* cookie */
	assert_int_equal(stun_msg_parse(&m, buf, n), -EBADMSG);
	buf[5] ^= 1;
	set_len(buf, n - 20 - 2); /* not a multiple of 4 */
	assert_int_equal(stun_msg_parse(&m, buf, n - 2), -EBADMSG);
	set_len(buf, n - 20 + 4); /* claims more than there is */
	assert_int_equal(stun_msg_parse(&m, buf, n), -EBADMSG);
	set_len(buf, n - 20);
	uint8_t big[256];
	memcpy(big, buf, n);
	memset(big + n, 0, 8);
	assert_int_equal(stun_msg_parse(&m, big, n + 8), -EBADMSG); /* trailing bytes */
	assert_int_equal(stun_msg_parse(&m, buf, n), 0);
}

static void test_reject_attrs(void **state)
{
	uint8_t buf[128];
	size_t n = base_msg(buf, sizeof(buf));
	struct stun_msg m;
	(void)state;

	/* SOFTWARE value length overrunning into the next attribute and past
	 * the end. */
	buf[23] = 17;
	assert_int_equal(stun_msg_parse(&m, buf, n), -EBADMSG);
	buf[23] = 200;
	assert_int_equal(stun_msg_parse(&m, buf, n), -EBADMSG);
	buf[23] = 5;
	/* Message length cutting LIFETIME's value off. */
	set_len(buf, 16);
	assert_int_equal(stun_msg_parse(&m, buf, 36), -EBADMSG);
	/* LIFETIME's length running into the padding that is not there. */
	buf[35] = 5;
	set_len(buf, n - 20);
	assert_int_equal(stun_msg_parse(&m, buf, n), -EBADMSG);
}

static void test_too_many_attrs(void **state)
{
	uint8_t buf[20 + 4 * (STUN_MAX_ATTRS + 1)], tid[STUN_TID_LEN] = { 0 };
	struct stun_builder b;
	struct stun_msg m;
	(void)state;

	stun_build_init(&b, buf, sizeof(buf), STUN_METHOD_BINDING, STUN_CLASS_REQUEST, tid);
	for (int i = 0; i < STUN_MAX_ATTRS; i++)
		stun_build_flag(&b, TURN_ATTR_DONT_FRAGMENT);
	int n = stun_build_finish(&b);
	assert_int_equal(stun_msg_parse(&m, buf, (size_t)n), 0);
	assert_int_equal(m.nattrs, STUN_MAX_ATTRS);
	stun_build_flag(&b, TURN_ATTR_DONT_FRAGMENT);
	n = stun_build_finish(&b);
	assert_int_equal(n, (int)sizeof(buf));
	assert_int_equal(stun_msg_parse(&m, buf, (size_t)n), -EBADMSG);
}

static int build_trailer(uint8_t *buf, size_t cap, const uint16_t *types, size_t n,
			 const uint16_t *lens)
{
	uint8_t tid[STUN_TID_LEN] = { 5 }, zero[64] = { 0 };
	struct stun_builder b;

	stun_build_init(&b, buf, cap, STUN_METHOD_BINDING, STUN_CLASS_REQUEST, tid);
	for (size_t i = 0; i < n; i++)
		stun_build_attr(&b, types[i], zero, lens[i]);
	return stun_build_finish(&b);
}

static void test_trailer_order(void **state)
{
	enum { MI = STUN_ATTR_MESSAGE_INTEGRITY, M2 = STUN_ATTR_MESSAGE_INTEGRITY_SHA256,
	       FP = STUN_ATTR_FINGERPRINT, SW = STUN_ATTR_SOFTWARE, UN = STUN_ATTR_USERNAME };
	static const struct {
		uint16_t t[4], l[4];
		size_t n;
		int want;
	} cases[] = {
		{ { UN, MI, M2, FP }, { 4, 20, 32, 4 }, 4, 0 },
		{ { UN, MI, FP }, { 4, 20, 4 }, 3, 0 },
		{ { UN, M2, FP }, { 4, 32, 4 }, 3, 0 },
		{ { MI, UN }, { 20, 4 }, 2, -EBADMSG },      /* attribute after MI */
		{ { M2, SW }, { 32, 4 }, 2, -EBADMSG },      /* after MI-SHA256 */
		{ { FP, SW }, { 4, 4 }, 2, -EBADMSG },       /* after FINGERPRINT */
		{ { FP, MI }, { 4, 20 }, 2, -EBADMSG },
		{ { FP, FP }, { 4, 4 }, 2, -EBADMSG },
		{ { M2, MI }, { 32, 20 }, 2, -EBADMSG },     /* MI after MI-SHA256 */
		{ { MI, MI }, { 20, 20 }, 2, -EBADMSG },
		{ { UN, MI }, { 4, 19 }, 2, -EBADMSG },      /* MI with wrong length */
		{ { UN, MI }, { 4, 24 }, 2, -EBADMSG },
		{ { UN, M2 }, { 4, 16 }, 2, -EBADMSG },      /* truncated MI-SHA256 */
		{ { UN, FP }, { 4, 8 }, 2, -EBADMSG },
	};
	uint8_t buf[256];
	struct stun_msg m;
	(void)state;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int n = build_trailer(buf, sizeof(buf), cases[i].t, cases[i].n, cases[i].l);
		assert_true(n > 0);
		assert_int_equal(stun_msg_parse(&m, buf, (size_t)n), cases[i].want);
	}
}

static void test_unknown_attrs(void **state)
{
	uint8_t buf[512], tid[STUN_TID_LEN] = { 0 };
	struct stun_builder b;
	struct stun_msg m;
	(void)state;

	stun_build_init(&b, buf, sizeof(buf), TURN_METHOD_ALLOCATE, STUN_CLASS_REQUEST, tid);
	stun_build_attr(&b, 0x0002, "abcd", 4);  /* RESPONSE-ADDRESS: never honoured */
	stun_build_attr(&b, 0x8001, "abcd", 4);  /* comprehension-optional */
	stun_build_attr(&b, 0x7fff, "", 0);
	stun_build_attr(&b, 0x0002, "abcd", 4);  /* repeated: listed once */
	for (uint16_t t = 0x0030; t < 0x0040; t++)
		stun_build_flag(&b, t);
	int n = stun_build_finish(&b);
	assert_int_equal(stun_msg_parse(&m, buf, (size_t)n), 0);
	assert_int_equal(m.nunknown, STUN_MAX_UNKNOWN);
	assert_int_equal(m.unknown[0], 0x0002);
	assert_int_equal(m.unknown[1], 0x7fff);
	assert_int_equal(m.unknown[2], 0x0030);
	for (unsigned i = 0; i < m.nunknown; i++)
		assert_true(m.unknown[i] < 0x8000);
	assert_int_equal(m.nattrs, 20);
}

static void test_getter_errors(void **state)
{
	uint8_t buf[256], tid[STUN_TID_LEN] = { 0 };
	struct stun_builder b;
	struct stun_msg m;
	struct sockaddr_storage ss;
	uint32_t u32;
	uint64_t u64;
	uint16_t chan, algs[2];
	uint8_t u8;
	unsigned n;
	int code;
	const char *r;
	size_t rl;
	(void)state;

	stun_build_init(&b, buf, sizeof(buf), STUN_METHOD_BINDING, STUN_CLASS_REQUEST, tid);
	stun_build_attr(&b, STUN_ATTR_XOR_MAPPED_ADDRESS, "\x00\x03\x00\x01\x01\x02\x03\x04", 8);
	stun_build_attr(&b, STUN_ATTR_MAPPED_ADDRESS, "\x00\x01\x00\x01\x01\x02\x03", 7);
	stun_build_attr(&b, STUN_ATTR_ALTERNATE_SERVER, "\x00\x02\x00\x01\x01\x02\x03\x04", 8);
	stun_build_attr(&b, STUN_ATTR_ERROR_CODE, "\x00\x00\x02\x00", 4);  /* class 2 */
	stun_build_attr(&b, STUN_ATTR_ERROR_CODE, "\x00\x00\x07\x00", 4);  /* class 7 */
	stun_build_attr(&b, STUN_ATTR_ERROR_CODE, "\x00\x00\x04\x64", 4);  /* number 100 */
	stun_build_attr(&b, STUN_ATTR_ERROR_CODE, "\x00\x00\x04", 3);
	stun_build_attr(&b, TURN_ATTR_CHANNEL_NUMBER, "\x40\x00\x00\x01", 4); /* RFFU set */
	stun_build_attr(&b, TURN_ATTR_LIFETIME, "\x00\x00\x01", 3);
	stun_build_attr(&b, TURN_ATTR_REQUESTED_TRANSPORT, "\x11\x00", 2);
	stun_build_attr(&b, STUN_ATTR_PASSWORD_ALGORITHMS, "\x00\x01\x00\x04\x00\x00", 6);
	int len = stun_build_finish(&b);
	assert_true(len > 0);
	assert_int_equal(stun_msg_parse(&m, buf, (size_t)len), 0);
	assert_int_equal(stun_attr_get_addr(&m, &m.attrs[0], &ss), -EBADMSG);
	assert_int_equal(stun_attr_get_addr(&m, &m.attrs[1], &ss), -EBADMSG);
	assert_int_equal(stun_attr_get_addr(&m, &m.attrs[2], &ss), -EBADMSG); /* v6 with 4 bytes */
	for (int i = 3; i <= 6; i++)
		assert_int_equal(stun_attr_get_error(&m, &m.attrs[i], &code, &r, &rl), -EBADMSG);
	assert_int_equal(stun_attr_get_channel(&m, &m.attrs[7], &chan), -EBADMSG);
	assert_int_equal(stun_attr_get_u32(&m, &m.attrs[8], &u32), -EBADMSG);
	assert_int_equal(stun_attr_get_u64(&m, &m.attrs[7], &u64), -EBADMSG);
	assert_int_equal(stun_attr_get_u8(&m, &m.attrs[9], &u8), -EBADMSG);
	assert_int_equal(stun_attr_get_pwalgs(&m, &m.attrs[10], algs, 2, &n), -EBADMSG);
}

static void test_builder_limits(void **state)
{
	uint8_t buf[40], tid[STUN_TID_LEN] = { 0 };
	struct stun_builder b;
	struct sockaddr_un_like { sa_family_t fam; char pad[30]; } bogus = { AF_UNIX, { 0 } };
	(void)state;

	/* Padding is zeroed even over a dirty buffer. */
	memset(buf, 0xAA, sizeof(buf));
	stun_build_init(&b, buf, sizeof(buf), STUN_METHOD_BINDING, STUN_CLASS_REQUEST, tid);
	stun_build_attr(&b, STUN_ATTR_SOFTWARE, "x", 1);
	assert_int_equal(stun_build_finish(&b), 28);
	assert_memory_equal(buf + 25, "\0\0\0", 3);

	/* Overflow is sticky. */
	stun_build_attr(&b, STUN_ATTR_SOFTWARE, "0123456789", 10);
	assert_int_equal(stun_build_finish(&b), -ENOSPC);
	stun_build_flag(&b, TURN_ATTR_DONT_FRAGMENT);
	assert_int_equal(stun_build_finish(&b), -ENOSPC);
	assert_int_equal(b.len, 28);

	stun_build_init(&b, buf, 19, STUN_METHOD_BINDING, STUN_CLASS_REQUEST, tid);
	assert_int_equal(stun_build_finish(&b), -ENOSPC);

	stun_build_init(&b, buf, sizeof(buf), STUN_METHOD_BINDING, STUN_CLASS_ERROR, tid);
	stun_build_error(&b, 200, "OK");
	assert_int_equal(stun_build_finish(&b), -EINVAL);

	stun_build_init(&b, buf, sizeof(buf), STUN_METHOD_BINDING, STUN_CLASS_ERROR, tid);
	stun_build_addr(&b, STUN_ATTR_MAPPED_ADDRESS, (const struct sockaddr *)&bogus);
	assert_int_equal(stun_build_finish(&b), -EINVAL);

	/* A NULL reason uses the RFC phrase. */
	uint8_t big[128];
	struct stun_msg m;
	int code;
	const char *r;
	size_t rl;
	stun_build_init(&b, big, sizeof(big), STUN_METHOD_BINDING, STUN_CLASS_ERROR, tid);
	stun_build_error(&b, 420, NULL);
	assert_int_equal(stun_msg_parse(&m, big, (size_t)stun_build_finish(&b)), 0);
	assert_int_equal(stun_attr_get_error(&m, &m.attrs[0], &code, &r, &rl), 0);
	assert_int_equal(code, 420);
	assert_int_equal(rl, strlen("Unknown Attribute"));
	assert_memory_equal(r, "Unknown Attribute", rl);
}

static void test_names(void **state)
{
	uint8_t a[STUN_TID_LEN], b[STUN_TID_LEN];
	(void)state;

	assert_string_equal(stun_method_name(STUN_METHOD_BINDING), "Binding");
	assert_string_equal(stun_method_name(TURN_METHOD_CHANNEL_BIND), "ChannelBind");
	assert_string_equal(stun_method_name(TURN_METHOD_CREATE_PERMISSION), "CreatePermission");
	assert_string_equal(stun_method_name(0x0abc), "Unknown");
	assert_string_equal(stun_error_reason(401), "Unauthenticated");
	assert_string_equal(stun_error_reason(438), "Stale Nonce");
	assert_string_equal(stun_error_reason(437), "Allocation Mismatch");
	assert_string_equal(stun_error_reason(508), "Insufficient Capacity");
	assert_string_equal(stun_error_reason(599), "Error");
	stun_tid_random(a);
	stun_tid_random(b);
	assert_memory_not_equal(a, b, STUN_TID_LEN);
}

/* RFC 3489 messages: no magic cookie, a 16-byte transaction id. */
static void test_classic(void **state)
{
	(void)state;
	uint8_t req[28] = { 0x00, 0x01, 0x00, 0x08 };
	for (int i = 4; i < 20; i++)
		req[i] = (uint8_t)i;
	uint8_t ca[8] = { 0x00, 0x03, 0x00, 0x04, 0, 0, 0, STUN_CHANGE_PORT };
	memcpy(req + 20, ca, 8);
	struct stun_msg m;

	assert_true(stun_is_classic(req, sizeof(req)));
	assert_false(stun_is_message(req, sizeof(req)));
	assert_int_equal(stun_msg_parse(&m, req, sizeof(req)), -EBADMSG);
	assert_int_equal(stun_msg_parse_classic(&m, req, sizeof(req)), 0);
	assert_true(m.classic);
	assert_int_equal(m.method, STUN_METHOD_BINDING);
	assert_int_equal(m.cls, STUN_CLASS_REQUEST);
	assert_int_equal(m.nunknown, 0); /* CHANGE-REQUEST is known */
	uint32_t v;
	assert_int_equal(stun_attr_get_u32(&m, stun_msg_find(&m, STUN_ATTR_CHANGE_REQUEST), &v), 0);
	assert_int_equal(v, STUN_CHANGE_PORT);

	/* The answer echoes all 16 bytes of the id, cookie field included. */
	uint8_t out[64];
	struct stun_builder b;
	struct sockaddr_storage a;
	assert_int_equal(addr_parse("192.0.2.1:32853", 0, &a), 0);
	stun_build_response(&b, out, sizeof(out), &m, STUN_CLASS_SUCCESS);
	stun_build_addr(&b, STUN_ATTR_MAPPED_ADDRESS, (struct sockaddr *)&a);
	int n = stun_build_finish(&b);
	assert_int_equal(n, 32);
	assert_memory_equal(out + 4, req + 4, 16);
	assert_int_equal(out[0], 0x01);
	assert_int_equal(out[1], 0x01);
	struct stun_msg r;
	assert_int_equal(stun_msg_parse_classic(&r, out, (size_t)n), 0);
	struct sockaddr_storage got;
	assert_int_equal(stun_attr_get_addr(&r, stun_msg_find(&r, STUN_ATTR_MAPPED_ADDRESS), &got), 0);
	assert_true(addr_equal((struct sockaddr *)&got, (struct sockaddr *)&a));

	/* Demultiplexing still holds: ChannelData (first byte 64-79) and a
	 * message with the cookie are not classic; lengths must agree. */
	uint8_t chan[24] = { 0x40, 0x00, 0x00, 0x04 };
	assert_false(stun_is_classic(chan, sizeof(chan)));
	req[4] = 0x21, req[5] = 0x12, req[6] = 0xA4, req[7] = 0x42;
	assert_false(stun_is_classic(req, sizeof(req)));
	assert_int_equal(stun_msg_parse_classic(&m, req, sizeof(req)), -EBADMSG);
	req[4] = 0;
	assert_false(stun_is_classic(req, sizeof(req) - 4));
	req[3] = 0x07;
	assert_false(stun_is_classic(req, sizeof(req)));
	assert_false(stun_is_classic(req, 19));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rfc5769_request),
		cmocka_unit_test(test_rfc5769_resp4),
		cmocka_unit_test(test_rfc5769_resp6),
		cmocka_unit_test(test_rfc5769_longterm),
		cmocka_unit_test(test_addr_roundtrip),
		cmocka_unit_test(test_attr_roundtrip),
		cmocka_unit_test(test_integrity_both),
		cmocka_unit_test(test_type_bits),
		cmocka_unit_test(test_reject_header),
		cmocka_unit_test(test_reject_attrs),
		cmocka_unit_test(test_too_many_attrs),
		cmocka_unit_test(test_trailer_order),
		cmocka_unit_test(test_unknown_attrs),
		cmocka_unit_test(test_getter_errors),
		cmocka_unit_test(test_builder_limits),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_classic),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
