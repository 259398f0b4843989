/* Noise IK: the cacophony vector, HMAC/HKDF on BLAKE2b, and ipop's
 * handshake messages between two in-memory nodes (keys, identity checks,
 * tampering, replay, rate limits). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <errno.h>
#include <sodium.h>

#include "noise.h"
#include "tunnel_proto.h"

static size_t unhex(const char *s, uint8_t *out, size_t cap)
{
	size_t n = strlen(s) / 2;

	assert_true(n <= cap);
	for (size_t i = 0; i < n; i++) {
		unsigned v;
		assert_int_equal(sscanf(s + 2 * i, "%2x", &v), 1);
		out[i] = (uint8_t)v;
	}
	return n;
}

static void assert_hex(const uint8_t *got, size_t len, const char *want_hex)
{
	uint8_t want[512];
	size_t n = unhex(want_hex, want, sizeof(want));

	assert_int_equal(len, n);
	assert_memory_equal(got, want, n);
}

/* Noise_IK_25519_ChaChaPoly_BLAKE2b from the cacophony vectors (as shipped
 * in noise-c tests/vector/cacophony.txt): first two handshake messages and
 * the first transport message each way. */
static const char V_PROLOGUE[] = "4a6f686e2047616c74";
static const char V_INIT_STATIC[] = "e61ef9919cde45dd5f82166404bd08e38bceb5dfdfded0a34c8df7ed542214d1";
static const char V_INIT_EPH[] = "893e28b9dc6ca8d611ab664754b8ceb7bac5117349a4439a6b0569da977c464a";
static const char V_RESP_STATIC_PUB[] = "31e0303fd6418d2f8c0e78b91f22e8caed0fbe48656dcf4767e4834f701b8f62";
static const char V_RESP_STATIC[] = "4a3acbfdb163dec651dfa3194dece676d437029c62a408b4c5ea9114246e4893";
static const char V_RESP_EPH[] = "bbdb4cdbd309f1a1f2e1456967fe288cadd6f712d65dc7b7793d5e63da6b375b";
static const char V_P0[] = "4c756477696720766f6e204d69736573";
static const char V_C0[] = "ca35def5ae56cec33dc2036731ab14896bc4c75dbb07a61f879f8e3afa4c7944"
			   "ba83a447b38c83e327ad936929812f624884847b7831e95e197b2f797088efdd"
			   "2f88f1db7e1fb0e99c64419097af91cee64e470f4b6fcd9298ce0b56fe20f86e"
			   "13bf70439c538e3602a7127af71a29cc";
static const char V_P1[] = "4d757272617920526f746862617264";
static const char V_C1[] = "95ebc60d2b1fa672c1f46a8aa265ef51bfe38e7ccb39ec5be34069f144808843"
			   "9f069b267a06b3de3ecb1043bcb098e9af91d9c64748d998c7b47890871571";
static const char V_P2[] = "462e20412e20486179656b";
static const char V_C2[] = "cd54383060e7a28434cca27fb1cc524cfbabeb18181589df219d07";
static const char V_P3[] = "4361726c204d656e676572";
static const char V_C3[] = "a856d3bf0246bfc476c655009cd1ed677b8dcc5b349ae8ef2a05f2";

static void test_cacophony_vector(void **state)
{
	(void)state;
	uint8_t prologue[16], priv[32], eph_i[32], eph_r[32], p[64], buf[256], pay[64];
	struct noise_keypair is, rs;
	struct noise_handshake ih, rh;
	size_t plen, n, got;
	uint8_t i_send[32], i_recv[32], r_send[32], r_recv[32];

	size_t prl = unhex(V_PROLOGUE, prologue, sizeof(prologue));
	unhex(V_INIT_STATIC, priv, 32);
	assert_int_equal(noise_keypair_from_private(&is, priv), 0);
	unhex(V_RESP_STATIC, priv, 32);
	assert_int_equal(noise_keypair_from_private(&rs, priv), 0);
	assert_hex(rs.pub, 32, V_RESP_STATIC_PUB);
	unhex(V_INIT_EPH, eph_i, 32);
	unhex(V_RESP_EPH, eph_r, 32);

	noise_ik_init(&ih, true, prologue, prl, &is, rs.pub);
	noise_ik_init(&rh, false, prologue, prl, &rs, NULL);

	plen = unhex(V_P0, p, sizeof(p));
	assert_int_equal(noise_ik_write_msg1(&ih, eph_i, p, plen, buf, sizeof(buf), &n), 0);
	assert_hex(buf, n, V_C0);
	assert_int_equal(noise_ik_read_msg1(&rh, buf, n, pay, sizeof(pay), &got), 0);
	assert_int_equal(got, plen);
	assert_memory_equal(pay, p, plen);
	assert_memory_equal(rh.rs, is.pub, 32);

	plen = unhex(V_P1, p, sizeof(p));
	assert_int_equal(noise_ik_write_msg2(&rh, eph_r, p, plen, buf, sizeof(buf), &n), 0);
	assert_hex(buf, n, V_C1);
	assert_int_equal(noise_ik_read_msg2(&ih, buf, n, pay, sizeof(pay), &got), 0);
	assert_int_equal(got, plen);
	assert_memory_equal(pay, p, plen);

	assert_int_equal(noise_ik_split(&ih, i_send, i_recv), 0);
	assert_int_equal(noise_ik_split(&rh, r_send, r_recv), 0);
	assert_memory_equal(i_send, r_recv, 32);
	assert_memory_equal(i_recv, r_send, 32);

	plen = unhex(V_P2, p, sizeof(p));
	noise_aead_seal(i_send, 0, NULL, 0, p, plen, buf);
	assert_hex(buf, plen + 16, V_C2);
	plen = unhex(V_P3, p, sizeof(p));
	noise_aead_seal(r_send, 0, NULL, 0, p, plen, buf);
	assert_hex(buf, plen + 16, V_C3);
	assert_int_equal(noise_aead_open(i_recv, 0, NULL, 0, buf, plen + 16, pay), 0);
	assert_memory_equal(pay, p, plen);
}

/* Expected values computed independently with Python 3.11:
 *   hmac.new(key, msg, lambda d=b"": hashlib.blake2b(d, digest_size=64)).hexdigest() */
static void test_hmac_blake2b(void **state)
{
	(void)state;
	uint8_t out[64], key[200], one = 1;
	const char *msg = "The quick brown fox jumps over the lazy dog";

	noise_hmac(out, (const uint8_t *)"key", 3, (const uint8_t *)msg, 20, (const uint8_t *)msg + 20,
		   strlen(msg) - 20);
	assert_hex(out, 64,
		   "92294f92c0dfb9b00ec9ae8bd94d7e7d8a036b885a499f149dfe2fd2199394aa"
		   "af6b8894a1730cccb2cd050f9bcf5062a38b51b0dab33207f8ef35ae2c9df51b");

	for (int i = 0; i < 64; i++)
		key[i] = (uint8_t)i;
	noise_hmac(out, key, 64, &one, 1, NULL, 0);
	assert_hex(out, 64,
		   "b7b5d574009695761d348b4bc1b58c61eb470672ad6444fb5d81585fefa50dea"
		   "17294447cdbc700a47964b2315eb9c9e8154422ee3f73de73ad55f42739828cc");

	/* key longer than BLOCKLEN is hashed first */
	memset(key, 0xaa, sizeof(key));
	const char *m2 = "Test Using Larger Than Block-Size Key - Hash Key First";
	noise_hmac(out, key, 200, (const uint8_t *)m2, strlen(m2), NULL, 0);
	assert_hex(out, 64,
		   "2f5f2d35b23f886565d4ef590d7226d15750f0971a39346f2859f38e87f0b09b"
		   "871ff0176dfd41c30f2d99e53309e215601088c0299f83f8acd804b32ccea0ae");
}

/* HKDF's second output must be HMAC(temp, out1 || 0x02) of its first. */
static void test_hkdf_chain(void **state)
{
	(void)state;
	uint8_t ck[64], o1[64], o2[64], o3[64], temp[64], x[64];
	const uint8_t one = 1, two = 2, three = 3;

	memset(ck, 7, sizeof(ck));
	noise_hkdf(ck, (const uint8_t *)"ikm", 3, o1, o2, o3);
	noise_hmac(temp, ck, 64, (const uint8_t *)"ikm", 3, NULL, 0);
	noise_hmac(x, temp, 64, &one, 1, NULL, 0);
	assert_memory_equal(x, o1, 64);
	noise_hmac(x, temp, 64, o1, 64, &two, 1);
	assert_memory_equal(x, o2, 64);
	noise_hmac(x, temp, 64, o2, 64, &three, 1);
	assert_memory_equal(x, o3, 64);
	assert_memory_not_equal(o1, o2, 64);
}

/* ---- two in-memory nodes ---- */

struct node {
	struct noise_local local;
	struct noise_peer peer; /* the other node */
};

struct fixture {
	struct node a, b;
	struct noise_keypair ka, kb;
};

static struct noise_peer *lookup_one(void *ctx, const uint8_t pub[NOISE_KEY_LEN])
{
	struct noise_peer *p = ctx;
	return memcmp(p->remote_static, pub, NOISE_KEY_LEN) == 0 ? p : NULL;
}

static int setup(void **state)
{
	static struct fixture f;

	memset(&f, 0, sizeof(f));
	assert_int_equal(noise_keypair_generate(&f.ka), 0);
	assert_int_equal(noise_keypair_generate(&f.kb), 0);
	noise_local_init(&f.a.local, &f.ka, 0);
	noise_local_init(&f.b.local, &f.kb, 0);
	noise_peer_init(&f.a.peer, f.kb.pub);
	noise_peer_init(&f.b.peer, f.ka.pub);
	*state = &f;
	return 0;
}

/* Runs a handshake a -> b at time now; returns b's consume result. */
static int handshake(struct fixture *f, uint64_t now, uint64_t wall_ns, struct noise_keys *ka, struct noise_keys *kb)
{
	uint8_t init[TUNNEL_INITIATION_LEN], resp[TUNNEL_RESPONSE_LEN];
	struct noise_handshake hs;
	struct noise_peer *who = NULL;
	uint32_t ridx;
	size_t n;
	int rc;

	assert_int_equal(noise_create_initiation(&f->a.local, &f->a.peer, 0x11111111, now, wall_ns, init,
						 sizeof(init), &n), 0);
	assert_int_equal(n, TUNNEL_INITIATION_LEN);
	rc = noise_consume_initiation(&f->b.local, init, n, NULL, now, lookup_one, &f->b.peer, &who, &hs, &ridx);
	if (rc != 0)
		return rc;
	assert_ptr_equal(who, &f->b.peer);
	assert_int_equal(ridx, 0x11111111);
	assert_int_equal(noise_create_response(&f->b.local, who, &hs, 0x22222222, ridx, resp, sizeof(resp), &n, kb),
			 0);
	assert_int_equal(n, TUNNEL_RESPONSE_LEN);
	return noise_consume_response(&f->a.local, &f->a.peer, resp, n, ka);
}

static void test_handshake_and_data(void **state)
{
	struct fixture *f = *state;
	struct noise_keys ka, kb;
	uint8_t msg[64], ct[64 + 16], pt[64];

	assert_int_equal(handshake(f, 1000, 1700000000000000000ull, &ka, &kb), 0);
	assert_true(ka.initiator);
	assert_false(kb.initiator);
	assert_memory_equal(ka.send, kb.recv, 32);
	assert_memory_equal(ka.recv, kb.send, 32);
	assert_memory_not_equal(ka.send, ka.recv, 32);
	assert_int_equal(ka.local_index, 0x11111111);
	assert_int_equal(ka.remote_index, 0x22222222);
	assert_int_equal(kb.local_index, 0x22222222);
	assert_int_equal(kb.remote_index, 0x11111111);
	assert_int_equal(f->a.peer.state, NOISE_PEER_IDLE);

	memset(msg, 0x5a, sizeof(msg));
	noise_aead_seal(ka.send, 0, NULL, 0, msg, sizeof(msg), ct);
	assert_int_equal(noise_aead_open(kb.recv, 0, NULL, 0, ct, sizeof(ct), pt), 0);
	assert_memory_equal(pt, msg, sizeof(msg));
	noise_aead_seal(kb.send, 0, NULL, 0, msg, sizeof(msg), ct);
	assert_int_equal(noise_aead_open(ka.recv, 0, NULL, 0, ct, sizeof(ct), pt), 0);
	assert_int_equal(noise_aead_open(ka.recv, 1, NULL, 0, ct, sizeof(ct), pt), -EBADMSG);
}

/* What an attacker who knows the receiver's public key can do: recompute
 * mac1 (tunnel_proto.h) over a modified message, so the Noise layer itself
 * must catch the change. */
static void remac(uint8_t *msg, size_t len, const uint8_t pub[NOISE_KEY_LEN])
{
	uint8_t key[32];
	crypto_generichash_state st;

	crypto_generichash_init(&st, NULL, 0, sizeof(key));
	crypto_generichash_update(&st, (const uint8_t *)TUNNEL_MAC1_LABEL, strlen(TUNNEL_MAC1_LABEL));
	crypto_generichash_update(&st, pub, NOISE_KEY_LEN);
	crypto_generichash_final(&st, key, sizeof(key));
	crypto_generichash(msg + len - TUNNEL_MAC_LEN, TUNNEL_MAC_LEN, msg, len - TUNNEL_MAC_LEN, key, sizeof(key));
}

static void test_tamper_initiation(void **state)
{
	struct fixture *f = *state;
	uint8_t init[TUNNEL_INITIATION_LEN], bad[TUNNEL_INITIATION_LEN];
	struct noise_handshake hs;
	struct noise_peer *who;
	uint32_t ridx;
	size_t n;

	assert_int_equal(noise_create_initiation(&f->a.local, &f->a.peer, 1, 0, 1000, init, sizeof(init), &n), 0);
	for (size_t i = 0; i < n; i++) {
		if (i >= 4 && i < 8)
			continue; /* sender index is not authenticated by design (like WireGuard) */
		memcpy(bad, init, n);
		bad[i] ^= 0x01;
		int rc = noise_consume_initiation(&f->b.local, bad, n, NULL, 0, lookup_one, &f->b.peer, &who, &hs, &ridx);
		assert_true(rc == -EINVAL || rc == -EBADMSG);
		if (i >= n - TUNNEL_MAC_LEN)
			continue;
		remac(bad, n, f->kb.pub);
		rc = noise_consume_initiation(&f->b.local, bad, n, NULL, 0, lookup_one, &f->b.peer, &who, &hs, &ridx);
		assert_true(rc == -EINVAL || rc == -EBADMSG);
	}
	assert_int_equal(f->b.local.rx_dropped_auth, n - 8 - TUNNEL_MAC_LEN);
	assert_int_equal(noise_consume_initiation(&f->b.local, init, n - 1, NULL, 0, lookup_one, &f->b.peer, &who, &hs,
						  &ridx), -EINVAL);
	/* the untouched one still works */
	assert_int_equal(noise_consume_initiation(&f->b.local, init, n, NULL, 0, lookup_one, &f->b.peer, &who, &hs, &ridx),
			 0);
	noise_handshake_wipe(&hs);
}

static void test_tamper_response(void **state)
{
	struct fixture *f = *state;
	uint8_t init[TUNNEL_INITIATION_LEN], resp[TUNNEL_RESPONSE_LEN], bad[TUNNEL_RESPONSE_LEN];
	struct noise_handshake hs;
	struct noise_peer *who;
	struct noise_keys ka, kb;
	uint32_t ridx;
	size_t n;

	assert_int_equal(noise_create_initiation(&f->a.local, &f->a.peer, 7, 0, 1000, init, sizeof(init), &n), 0);
	assert_int_equal(noise_consume_initiation(&f->b.local, init, n, NULL, 0, lookup_one, &f->b.peer, &who, &hs, &ridx),
			 0);
	assert_int_equal(noise_create_response(&f->b.local, who, &hs, 9, ridx, resp, sizeof(resp), &n, &kb), 0);
	for (size_t i = 0; i < n; i++) {
		if (i >= 4 && i < 8)
			continue; /* sender index: not authenticated */
		memcpy(bad, resp, n);
		bad[i] ^= 0x80;
		int rc = noise_consume_response(&f->a.local, &f->a.peer, bad, n, &ka);
		assert_true(rc == -EINVAL || rc == -EBADMSG);
		if (i < n - TUNNEL_MAC_LEN) {
			remac(bad, n, f->ka.pub);
			rc = noise_consume_response(&f->a.local, &f->a.peer, bad, n, &ka);
			assert_true(rc == -EINVAL || rc == -EBADMSG || rc == -ESTALE);
		}
		/* a forged response must not cancel the pending handshake */
		assert_int_equal(f->a.peer.state, NOISE_PEER_INIT_SENT);
	}
	assert_int_equal(noise_consume_response(&f->a.local, &f->a.peer, resp, n, &ka), 0);
	assert_memory_equal(ka.send, kb.recv, 32);
	/* a second copy of the response finds nothing pending */
	assert_int_equal(noise_consume_response(&f->a.local, &f->a.peer, resp, n, &ka), -ESTALE);
}

static struct noise_peer *lookup_none(void *ctx, const uint8_t pub[NOISE_KEY_LEN])
{
	(void)ctx;
	(void)pub;
	return NULL;
}

/* A lookup that returns a peer regardless of the key it is asked about. */
static struct noise_peer *lookup_any(void *ctx, const uint8_t pub[NOISE_KEY_LEN])
{
	(void)pub;
	return ctx;
}

static void test_wrong_static_key(void **state)
{
	struct fixture *f = *state;
	struct noise_keypair mallory;
	struct noise_local ml;
	struct noise_peer mp; /* mallory's view of b */
	uint8_t init[TUNNEL_INITIATION_LEN];
	struct noise_handshake hs;
	struct noise_peer *who = NULL;
	uint32_t ridx;
	size_t n;

	assert_int_equal(noise_keypair_generate(&mallory), 0);
	noise_local_init(&ml, &mallory, 0);
	noise_peer_init(&mp, f->kb.pub);
	assert_int_equal(noise_create_initiation(&ml, &mp, 3, 0, 5000, init, sizeof(init), &n), 0);
	/* b only knows a */
	assert_int_equal(noise_consume_initiation(&f->b.local, init, n, NULL, 0, lookup_one, &f->b.peer, &who, &hs, &ridx),
			 -ENOENT);
	assert_int_equal(noise_consume_initiation(&f->b.local, init, n, NULL, 10, lookup_none, NULL, &who, &hs, &ridx),
			 -ENOENT);
	/* even a sloppy lookup cannot admit a key that is not the peer's */
	assert_int_equal(noise_consume_initiation(&f->b.local, init, n, NULL, 20, lookup_any, &f->b.peer, &who, &hs, &ridx),
			 -ENOENT);
	assert_null(who);
	assert_int_equal(f->b.local.rx_dropped_unknown, 3);

	/* an initiation for someone else's static key fails mac1 / decryption */
	noise_peer_init(&mp, mallory.pub);
	noise_peer_init(&f->a.peer, mallory.pub);
	assert_int_equal(noise_create_initiation(&f->a.local, &f->a.peer, 3, 0, 5000, init, sizeof(init), &n), 0);
	assert_int_equal(noise_consume_initiation(&f->b.local, init, n, NULL, 30, lookup_one, &f->b.peer, &who, &hs, &ridx),
			 -EBADMSG);
}

static void test_replayed_initiation(void **state)
{
	struct fixture *f = *state;
	uint8_t init[TUNNEL_INITIATION_LEN], old[TUNNEL_INITIATION_LEN];
	struct noise_handshake hs;
	struct noise_peer *who;
	uint32_t ridx;
	size_t n;
	const uint64_t t0 = 1700000000123456789ull;

	assert_int_equal(noise_create_initiation(&f->a.local, &f->a.peer, 1, 0, t0, init, sizeof(init), &n), 0);
	memcpy(old, init, n);
	assert_int_equal(noise_consume_initiation(&f->b.local, init, n, NULL, 0, lookup_one, &f->b.peer, &who, &hs, &ridx),
			 0);
	noise_handshake_wipe(&hs);
	/* the same bytes later: timestamp not newer */
	assert_int_equal(noise_consume_initiation(&f->b.local, old, n, NULL, 60000, lookup_one, &f->b.peer, &who, &hs,
						  &ridx), -EALREADY);
	/* a fresh initiation with a newer wall clock passes */
	assert_int_equal(noise_create_initiation(&f->a.local, &f->a.peer, 2, 60000, t0 + 1, init, sizeof(init), &n), 0);
	assert_int_equal(noise_consume_initiation(&f->b.local, init, n, NULL, 60000, lookup_one, &f->b.peer, &who, &hs,
						  &ridx), 0);
	noise_handshake_wipe(&hs);
	/* ... and an older wall clock (a clock stepped back, or a replay) does not */
	assert_int_equal(noise_create_initiation(&f->a.local, &f->a.peer, 3, 120000, t0, init, sizeof(init), &n), 0);
	assert_int_equal(noise_consume_initiation(&f->b.local, init, n, NULL, 120000, lookup_one, &f->b.peer, &who, &hs,
						  &ridx), -EALREADY);
	assert_int_equal(f->b.local.rx_dropped_replay, 2);
}

static void test_initiation_rate_limits(void **state)
{
	struct fixture *f = *state;
	uint8_t init[TUNNEL_INITIATION_LEN];
	struct noise_handshake hs;
	struct noise_peer *who;
	uint32_t ridx;
	size_t n;

	/* our own initiations: one per NOISE_REKEY_TIMEOUT_MS */
	assert_int_equal(noise_create_initiation(&f->a.local, &f->a.peer, 1, 100, 1000, init, sizeof(init), &n), 0);
	assert_int_equal(noise_create_initiation(&f->a.local, &f->a.peer, 2, 100 + NOISE_REKEY_TIMEOUT_MS - 1, 2000,
						 init, sizeof(init), &n), -EAGAIN);
	assert_int_equal(noise_create_initiation(&f->a.local, &f->a.peer, 2, 100 + NOISE_REKEY_TIMEOUT_MS, 2000, init,
						 sizeof(init), &n), 0);

	/* incoming, per peer */
	assert_int_equal(noise_consume_initiation(&f->b.local, init, n, NULL, 200, lookup_one, &f->b.peer, &who, &hs, &ridx),
			 0);
	noise_handshake_wipe(&hs);
	f->a.peer.init_tx_seen = false; /* let a send again at once */
	assert_int_equal(noise_create_initiation(&f->a.local, &f->a.peer, 3, 300, 3000, init, sizeof(init), &n), 0);
	assert_int_equal(noise_consume_initiation(&f->b.local, init, n, NULL, 300, lookup_one, &f->b.peer, &who, &hs, &ridx),
			 -EBUSY);

	/* global bucket: drain it, then even valid initiations are refused
	 * before any Diffie-Hellman */
	noise_bucket_init(&f->b.local.init_bucket, 1, 2, 1000000);
	assert_true(noise_bucket_take(&f->b.local.init_bucket, 1000000));
	assert_true(noise_bucket_take(&f->b.local.init_bucket, 1000000));
	f->a.peer.init_tx_seen = false;
	assert_int_equal(noise_create_initiation(&f->a.local, &f->a.peer, 4, 1000000, 4000, init, sizeof(init), &n), 0);
	assert_int_equal(noise_consume_initiation(&f->b.local, init, n, NULL, 1000000, lookup_one, &f->b.peer, &who, &hs,
						  &ridx), -EBUSY);
	/* one second refills one token */
	assert_int_equal(noise_consume_initiation(&f->b.local, init, n, NULL, 1001000, lookup_one, &f->b.peer, &who, &hs,
						  &ridx), 0);
	noise_handshake_wipe(&hs);
}

static void test_bucket(void **state)
{
	(void)state;
	struct noise_bucket b;
	int ok = 0;

	noise_bucket_init(&b, 10, 5, 0);
	for (int i = 0; i < 20; i++)
		ok += noise_bucket_take(&b, 0);
	assert_int_equal(ok, 5);
	ok = 0;
	for (int i = 0; i < 20; i++)
		ok += noise_bucket_take(&b, 500); /* +5 tokens after 500 ms at 10/s */
	assert_int_equal(ok, 5);
	/* a long pause refills only up to burst, without overflow */
	ok = 0;
	for (int i = 0; i < 20; i++)
		ok += noise_bucket_take(&b, UINT64_MAX / 2);
	assert_int_equal(ok, 5);
	/* huge rate and burst, long pause: still capped at burst */
	noise_bucket_init(&b, UINT32_MAX, 3, 0);
	for (int i = 0; i < 3; i++)
		assert_true(noise_bucket_take(&b, 0));
	assert_false(noise_bucket_take(&b, 0));
	ok = 0;
	for (int i = 0; i < 10; i++)
		ok += noise_bucket_take(&b, UINT64_MAX - 1);
	assert_int_equal(ok, 3);
	/* zero rate never refills */
	noise_bucket_init(&b, 0, 1, 0);
	assert_true(noise_bucket_take(&b, 0));
	assert_false(noise_bucket_take(&b, 1000000));
}

static void test_tai64n_order(void **state)
{
	(void)state;
	uint8_t a[12], b[12];

	noise_tai64n(a, 1000000000ull * 5 + 999999999);
	noise_tai64n(b, 1000000000ull * 6);
	assert_true(memcmp(a, b, 12) < 0);
	assert_int_equal(a[0], 0x40); /* TAI64 label 2^62 + s */
	assert_int_equal(a[7], 5);
	noise_tai64n(b, 1000000000ull * 5 + 999999998);
	assert_true(memcmp(b, a, 12) < 0);
}

static void test_low_order_point_rejected(void **state)
{
	struct fixture *f = *state;
	struct noise_handshake hs;
	uint8_t msg[TUNNEL_NOISE_MSG1_LEN] = { 0 }, pay[16];
	size_t n;

	/* an all-zero ephemeral gives a zero shared secret */
	noise_ik_init(&hs, false, (const uint8_t *)"x", 1, &f->kb, NULL);
	assert_int_equal(noise_ik_read_msg1(&hs, msg, sizeof(msg), pay, sizeof(pay), &n), -EBADMSG);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cacophony_vector),
		cmocka_unit_test(test_hmac_blake2b),
		cmocka_unit_test(test_hkdf_chain),
		cmocka_unit_test_setup(test_handshake_and_data, setup),
		cmocka_unit_test_setup(test_tamper_initiation, setup),
		cmocka_unit_test_setup(test_tamper_response, setup),
		cmocka_unit_test_setup(test_wrong_static_key, setup),
		cmocka_unit_test_setup(test_replayed_initiation, setup),
		cmocka_unit_test_setup(test_initiation_rate_limits, setup),
		cmocka_unit_test(test_bucket),
		cmocka_unit_test(test_tai64n_order),
		cmocka_unit_test_setup(test_low_order_point_rejected, setup),
	};
	if (noise_init() != 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
