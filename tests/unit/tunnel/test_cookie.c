/* The cookie under load (cookie.h, noise.h): a responder whose bucket ran
 * dry answers initiations without a valid mac2 with a cookie reply; the
 * initiator's second try with mac2 is answered; a cookie works only for
 * the source it was made for and until the secret changes; replies are
 * bound to the initiation they answer; a source with cookies is still
 * limited. Next to each: the benign case. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <arpa/inet.h>
#include <cmocka.h>

#include "cookie.h"
#include "noise.h"

struct fixture {
	struct noise_local a, b; /* a initiates to b */
	struct noise_peer a_sees_b, b_sees_a;
	struct noise_keypair ka, kb;
	struct cookie_src src, other_port, other_ip;
	uint64_t wall;
};

static struct noise_peer *lookup(void *ctx, const uint8_t pub[NOISE_KEY_LEN])
{
	struct noise_peer *p = ctx;
	return memcmp(p->remote_static, pub, NOISE_KEY_LEN) == 0 ? p : NULL;
}

static int setup(void **state)
{
	static struct fixture f;
	struct in_addr ip;

	memset(&f, 0, sizeof(f));
	assert_int_equal(noise_init(), 0);
	assert_int_equal(noise_keypair_generate(&f.ka), 0);
	assert_int_equal(noise_keypair_generate(&f.kb), 0);
	noise_local_init(&f.a, &f.ka, 0);
	noise_local_init(&f.b, &f.kb, 0);
	noise_peer_init(&f.a_sees_b, f.kb.pub);
	noise_peer_init(&f.b_sees_a, f.ka.pub);
	inet_pton(AF_INET, "198.51.100.7", &ip);
	cookie_src_ipv4(&f.src, &ip, htons(4000));
	cookie_src_ipv4(&f.other_port, &ip, htons(4001));
	inet_pton(AF_INET, "198.51.100.8", &ip);
	cookie_src_ipv4(&f.other_ip, &ip, htons(4000));
	f.wall = 1700000000000000000ull;
	*state = &f;
	return 0;
}

/* b's bucket is empty: b is under load from now on (for a second). */
static void overload(struct fixture *f, uint64_t now)
{
	noise_bucket_init(&f->b.init_bucket, NOISE_INIT_RX_RATE_PER_S, NOISE_INIT_RX_BURST, now);
	f->b.init_bucket.tokens_milli = 0;
}

/* a's initiation (a fresh one each time) into buf. */
static size_t initiate(struct fixture *f, uint64_t now, uint8_t *buf)
{
	size_t n;
	f->a_sees_b.init_tx_seen = false; /* no rekey pause between tries */
	f->wall += 1000000;
	assert_int_equal(noise_create_initiation(&f->a, &f->a_sees_b, 0x01020304, now, f->wall, buf,
						 TUNNEL_INITIATION_MAC2_LEN, &n), 0);
	return n;
}

static int consume(struct fixture *f, const uint8_t *buf, size_t n, const struct cookie_src *src, uint64_t now)
{
	struct noise_handshake hs;
	struct noise_peer *who = NULL;
	uint32_t ridx;
	int rc = noise_consume_initiation(&f->b, buf, n, src, now, lookup, &f->b_sees_a, &who, &hs, &ridx);
	if (rc == 0) {
		assert_ptr_equal(who, &f->b_sees_a);
		f->b_sees_a.init_rx_seen = false; /* no per-peer pause between tries */
	}
	noise_handshake_wipe(&hs);
	return rc;
}

static void test_not_under_load(void **state)
{
	struct fixture *f = *state;
	uint8_t buf[TUNNEL_INITIATION_MAC2_LEN];
	uint64_t now = 1000;

	size_t n = initiate(f, now, buf);
	assert_int_equal(n, TUNNEL_INITIATION_LEN); /* no cookie: no mac2 */
	assert_int_equal(consume(f, buf, n, &f->src, now), 0);
	assert_false(noise_local_under_load(&f->b, now));
	assert_int_equal(f->b.rx_cookie_replies, 0);
}

static void test_cookie_round_trip(void **state)
{
	struct fixture *f = *state;
	uint8_t buf[TUNNEL_INITIATION_MAC2_LEN], reply[TUNNEL_COOKIE_REPLY_LEN];
	uint64_t now = 5000;

	overload(f, now);
	size_t n = initiate(f, now, buf);
	/* the attacker's view: a valid mac1 is not enough under load */
	assert_int_equal(consume(f, buf, n, &f->src, now), -EAGAIN);
	assert_true(noise_local_under_load(&f->b, now));
	assert_int_equal(f->b.rx_cookie_replies, 1);
	noise_create_cookie_reply(&f->b, buf, &f->src, now, reply);
	assert_int_equal(reply[0], TUNNEL_MSG_COOKIE_REPLY);
	assert_int_equal(tunnel_get_le32(reply + 4), 0x01020304);

	/* the initiator takes it and sends the same initiation with mac2 */
	assert_int_equal(noise_consume_cookie_reply(&f->a_sees_b, reply, sizeof(reply), now + 1), 0);
	assert_true(cookie_maker_fresh(&f->a_sees_b.cookie, now + 1));
	noise_initiation_add_mac2(&f->a_sees_b, buf, &n, sizeof(buf), now + 1);
	assert_int_equal(n, TUNNEL_INITIATION_MAC2_LEN);
	assert_int_equal(consume(f, buf, n, &f->src, now + 2), 0);
	assert_int_equal(f->b.rx_mac2_ok, 1);

	/* the cookie is bound to the address and port it was made for */
	assert_int_equal(consume(f, buf, n, &f->other_port, now + 3), -EAGAIN);
	assert_int_equal(consume(f, buf, n, &f->other_ip, now + 3), -EAGAIN);

	/* new initiations carry mac2 by themselves while the cookie is fresh */
	n = initiate(f, now + 10, buf);
	assert_int_equal(n, TUNNEL_INITIATION_MAC2_LEN);
	assert_int_equal(consume(f, buf, n, &f->src, now + 10), 0);

	/* ...until it is too old to use: back to the plain form */
	uint64_t later = now + 1 + COOKIE_SECRET_MAX_AGE_MS - COOKIE_LATENCY_MS;
	assert_false(cookie_maker_fresh(&f->a_sees_b.cookie, later));
	n = initiate(f, later, buf);
	assert_int_equal(n, TUNNEL_INITIATION_LEN);
}

/* The responder's secret changes every 2 minutes: an old cookie no longer
 * gives a valid mac2 (the initiator gets a new one). */
static void test_secret_rotates(void **state)
{
	struct fixture *f = *state;
	uint8_t buf[TUNNEL_INITIATION_MAC2_LEN], reply[TUNNEL_COOKIE_REPLY_LEN];
	uint64_t now = 1000000;

	overload(f, now);
	size_t n = initiate(f, now, buf);
	assert_int_equal(consume(f, buf, n, &f->src, now), -EAGAIN);
	noise_create_cookie_reply(&f->b, buf, &f->src, now, reply);
	assert_int_equal(noise_consume_cookie_reply(&f->a_sees_b, reply, sizeof(reply), now), 0);
	noise_initiation_add_mac2(&f->a_sees_b, buf, &n, sizeof(buf), now);
	uint64_t t = now + COOKIE_SECRET_MAX_AGE_MS;
	overload(f, t);
	assert_int_equal(consume(f, buf, n, &f->src, t), -EAGAIN);
}

/* A reply must answer our pending initiation: another index, another
 * initiation's mac1 (a forged or replayed reply) or bad bytes are refused,
 * and the pending handshake is untouched. */
static void test_reply_bound_to_initiation(void **state)
{
	struct fixture *f = *state;
	uint8_t buf[TUNNEL_INITIATION_MAC2_LEN], old[TUNNEL_INITIATION_MAC2_LEN], reply[TUNNEL_COOKIE_REPLY_LEN];
	uint64_t now = 9000;

	overload(f, now);
	size_t n = initiate(f, now, old);
	noise_create_cookie_reply(&f->b, old, &f->src, now, reply);
	n = initiate(f, now + 1, buf); /* a newer initiation: another mac1 */
	assert_int_equal(noise_consume_cookie_reply(&f->a_sees_b, reply, sizeof(reply), now + 1), -EBADMSG);
	assert_false(f->a_sees_b.cookie.have_cookie);
	assert_int_equal(f->a_sees_b.state, NOISE_PEER_INIT_SENT);

	noise_create_cookie_reply(&f->b, buf, &f->src, now, reply);
	uint8_t bad[TUNNEL_COOKIE_REPLY_LEN];
	memcpy(bad, reply, sizeof(bad));
	bad[40] ^= 1;
	assert_int_equal(noise_consume_cookie_reply(&f->a_sees_b, bad, sizeof(bad), now + 1), -EBADMSG);
	memcpy(bad, reply, sizeof(bad));
	tunnel_put_le32(bad + 4, 0x0badf00d);
	assert_int_equal(noise_consume_cookie_reply(&f->a_sees_b, bad, sizeof(bad), now + 1), -ESTALE);
	assert_int_equal(noise_consume_cookie_reply(&f->a_sees_b, reply, sizeof(reply) - 1, now + 1), -EINVAL);
	memcpy(bad, reply, sizeof(bad));
	bad[2] = 1;
	assert_int_equal(noise_consume_cookie_reply(&f->a_sees_b, bad, sizeof(bad), now + 1), -EINVAL);
	/* another node's reply (its key) does not decrypt either */
	struct noise_local c;
	struct noise_keypair kc;
	assert_int_equal(noise_keypair_generate(&kc), 0);
	noise_local_init(&c, &kc, 0);
	noise_create_cookie_reply(&c, buf, &f->src, now, bad);
	assert_int_equal(noise_consume_cookie_reply(&f->a_sees_b, bad, sizeof(bad), now + 1), -EBADMSG);
	/* the right one still works */
	assert_int_equal(noise_consume_cookie_reply(&f->a_sees_b, reply, sizeof(reply), now + 1), 0);
	(void)n;
}

/* A source that holds a cookie (a member flooding from its own address)
 * still gets only COOKIE_SRC_BURST answers at once, then the rate; other
 * sources are not held back by it. */
static void test_source_limited(void **state)
{
	struct fixture *f = *state;
	uint8_t buf[TUNNEL_INITIATION_MAC2_LEN], reply[TUNNEL_COOKIE_REPLY_LEN];
	uint64_t now = 50000;

	overload(f, now);
	size_t n = initiate(f, now, buf);
	assert_int_equal(consume(f, buf, n, &f->src, now), -EAGAIN);
	noise_create_cookie_reply(&f->b, buf, &f->src, now, reply);
	assert_int_equal(noise_consume_cookie_reply(&f->a_sees_b, reply, sizeof(reply), now), 0);
	unsigned ok = 0, busy = 0;
	for (int i = 0; i < 3 * COOKIE_SRC_BURST; i++) {
		n = initiate(f, now, buf);
		int rc = consume(f, buf, n, &f->src, now);
		ok += rc == 0;
		busy += rc == -EBUSY;
	}
	assert_int_equal(ok, COOKIE_SRC_BURST);
	assert_int_equal(busy, 2 * COOKIE_SRC_BURST);
	/* a tenth of a second later: one more (10 per second) */
	n = initiate(f, now + 100, buf);
	assert_int_equal(consume(f, buf, n, &f->src, now + 100), 0);

	/* another source, with its own cookie, is answered */
	struct noise_peer c_sees_b;
	noise_peer_init(&c_sees_b, f->kb.pub);
	n = initiate(f, now + 100, buf);
	assert_int_equal(consume(f, buf, n, &f->other_ip, now + 100), -EAGAIN);
	noise_create_cookie_reply(&f->b, buf, &f->other_ip, now + 100, reply);
	assert_int_equal(noise_consume_cookie_reply(&f->a_sees_b, reply, sizeof(reply), now + 100), 0);
	noise_initiation_add_mac2(&f->a_sees_b, buf, &n, sizeof(buf), now + 100);
	assert_int_equal(consume(f, buf, n, &f->other_ip, now + 100), 0);
}

/* A flood from one address gets COOKIE_REPLY_BURST cookie replies at
 * once, then COOKIE_REPLY_RATE_PER_S: the rest is dropped after a hash;
 * a member at another address gets its cookie meanwhile. */
static void test_replies_limited_per_source(void **state)
{
	struct fixture *f = *state;
	uint8_t buf[TUNNEL_INITIATION_MAC2_LEN];
	uint64_t now = 60000;
	unsigned cookie = 0, busy = 0;

	overload(f, now);
	size_t n = initiate(f, now, buf);
	for (int i = 0; i < 3 * COOKIE_REPLY_BURST; i++) {
		int rc = consume(f, buf, n, &f->src, now);
		cookie += rc == -EAGAIN;
		busy += rc == -EBUSY;
	}
	assert_int_equal(cookie, COOKIE_REPLY_BURST);
	assert_int_equal(busy, 2 * COOKIE_REPLY_BURST);
	assert_int_equal(consume(f, buf, n, &f->other_port, now), -EBUSY); /* by address, not port */
	assert_int_equal(consume(f, buf, n, &f->other_ip, now), -EAGAIN);
	/* 50 ms later: one more for the flooding address (20 per second) */
	assert_int_equal(consume(f, buf, n, &f->src, now + 50), -EAGAIN);
	assert_int_equal(consume(f, buf, n, &f->src, now + 50), -EBUSY);
}

/* With cookies off (IPOP_COOKIE=0, the old behaviour) an initiation under
 * load is dropped unless it gets a token; no cookie reply is asked for. */
static void test_cookies_off(void **state)
{
	struct fixture *f = *state;
	uint8_t buf[TUNNEL_INITIATION_MAC2_LEN];
	uint64_t now = 70000;

	f->b.cookies = false;
	overload(f, now);
	size_t n = initiate(f, now, buf);
	assert_int_equal(consume(f, buf, n, &f->src, now), -EBUSY);
	assert_int_equal(f->b.rx_cookie_replies, 0);
	/* one token after 5 ms at 200/s */
	assert_int_equal(consume(f, buf, n, &f->src, now + 5), 0);
	f->b.cookies = true;
}

/* The load lasts NOISE_LOAD_HOLD_MS after the bucket last ran dry, and
 * ends once initiations find tokens again. */
static void test_load_ends(void **state)
{
	struct fixture *f = *state;
	uint8_t buf[TUNNEL_INITIATION_MAC2_LEN];
	uint64_t now = 90000;

	overload(f, now);
	size_t n = initiate(f, now, buf);
	assert_int_equal(consume(f, buf, n, &f->src, now), -EAGAIN);
	assert_true(noise_local_under_load(&f->b, now + NOISE_LOAD_HOLD_MS - 1));
	assert_false(noise_local_under_load(&f->b, now + NOISE_LOAD_HOLD_MS));
	f->a_sees_b.cookie.have_cookie = false;
	n = initiate(f, now + NOISE_LOAD_HOLD_MS, buf);
	assert_int_equal(n, TUNNEL_INITIATION_LEN);
	assert_int_equal(consume(f, buf, n, &f->src, now + NOISE_LOAD_HOLD_MS), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_not_under_load, setup),
		cmocka_unit_test_setup(test_cookie_round_trip, setup),
		cmocka_unit_test_setup(test_secret_rotates, setup),
		cmocka_unit_test_setup(test_reply_bound_to_initiation, setup),
		cmocka_unit_test_setup(test_source_limited, setup),
		cmocka_unit_test_setup(test_replies_limited_per_source, setup),
		cmocka_unit_test_setup(test_cookies_off, setup),
		cmocka_unit_test_setup(test_load_ends, setup),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
