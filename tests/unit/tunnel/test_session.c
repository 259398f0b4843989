/* Sessions and the data path between two in-memory nodes with a fake
 * clock: handshake, batched seal/open both ways, confirmation of the
 * responder's keypair, tampering, replays, nonces, rekey deadlines, the old
 * keypair during a switch, keepalives, and the strict packet parser. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <errno.h>

#include "session.h"
#include "tunnel_packet.h"

enum { BUFSZ = 2048 };

struct node {
	struct noise_local local;
	struct session_peer peer;
	uint32_t next_index;
};

struct fixture {
	struct node a, b;
	uint64_t wall_ns;
};

static struct noise_peer *lookup(void *ctx, const uint8_t pub[NOISE_KEY_LEN])
{
	struct session_peer *p = ctx;
	return memcmp(p->noise.remote_static, pub, NOISE_KEY_LEN) == 0 ? &p->noise : NULL;
}

static int setup(void **state)
{
	static struct fixture f;
	struct noise_keypair ka, kb;

	memset(&f, 0, sizeof(f));
	assert_int_equal(noise_keypair_generate(&ka), 0);
	assert_int_equal(noise_keypair_generate(&kb), 0);
	noise_local_init(&f.a.local, &ka, 0);
	noise_local_init(&f.b.local, &kb, 0);
	session_peer_init(&f.a.peer, kb.pub);
	session_peer_init(&f.b.peer, ka.pub);
	f.a.next_index = 0xa0000000;
	f.b.next_index = 0xb0000000;
	f.wall_ns = 1700000000000000000ull;
	*state = &f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	session_peer_wipe(&f->a.peer);
	session_peer_wipe(&f->b.peer);
	return 0;
}

/* Handshake from `from` to `to` at `now`; returns 0 when both hold keys. */
static int handshake(struct fixture *f, struct node *from, struct node *to, uint64_t now)
{
	uint8_t init[TUNNEL_INITIATION_LEN], resp[TUNNEL_RESPONSE_LEN];
	struct session_peer *who = NULL;
	size_t n, m;
	int rc;

	f->wall_ns += 1000000;
	rc = session_initiate(&from->local, &from->peer, from->next_index++, now, f->wall_ns, init, sizeof(init), &n);
	if (rc != 0)
		return rc;
	rc = session_respond(&to->local, init, n, NULL, now, lookup, &to->peer, to->next_index++, resp, sizeof(resp), &m,
			     &who);
	if (rc != 0)
		return rc;
	assert_ptr_equal(who, &to->peer);
	return session_handle_response(&from->local, &from->peer, resp, m, now);
}

struct pkt {
	uint8_t mem[BUFSZ];
};

static void fill(struct tunnel_buf *b, struct pkt *p, size_t len, uint8_t tag)
{
	b->data = p->mem;
	b->cap = sizeof(p->mem);
	b->len = len;
	memset(p->mem + TUNNEL_DATA_HEADER_LEN, tag, len);
}

/* Seals one payload on `from`, opens it on `to`; returns open's err. */
static int send_one(struct node *from, struct node *to, size_t len, uint8_t tag, uint64_t now)
{
	struct pkt p;
	struct tunnel_buf b;

	fill(&b, &p, len, tag);
	int rc = tunnel_seal_batch(&from->peer, &b, 1, now, NULL);
	if (rc < 0)
		return rc;
	assert_int_equal(rc, 1);
	assert_int_equal(b.len, len + TUNNEL_DATA_OVERHEAD);
	tunnel_open_batch(&to->peer, &b, 1, now);
	if (b.err == 0) {
		assert_int_equal(b.len, len);
		for (size_t i = 0; i < len; i++)
			assert_int_equal(p.mem[TUNNEL_DATA_HEADER_LEN + i], tag);
	}
	return b.err;
}

static void test_handshake_confirm_and_data(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(handshake(f, &f->a, &f->b, 1000), 0);
	assert_true(f->a.peer.current.valid);
	assert_true(f->b.peer.next.valid);
	assert_false(f->b.peer.current.valid);
	/* the responder may not send before the initiator proves it has keys */
	assert_int_equal(send_one(&f->b, &f->a, 10, 1, 1000), -ENOKEY);
	uint64_t d;
	assert_true(session_tick(&f->a.peer, 1000, &d) & SESSION_ACT_KEEPALIVE);
	assert_int_equal(send_one(&f->a, &f->b, 0, 0, 1001), 0); /* keepalive */
	assert_true(f->b.peer.current.valid);
	assert_false(f->b.peer.next.valid);
	assert_false(session_tick(&f->a.peer, 1001, &d) & SESSION_ACT_KEEPALIVE);
	assert_int_equal(send_one(&f->b, &f->a, 1400, 0x42, 1002), 0);
	assert_int_equal(send_one(&f->a, &f->b, 1, 0x43, 1003), 0);
	assert_int_equal(f->a.peer.current.local_index, f->b.peer.current.remote_index);
	assert_int_equal(f->b.peer.current.local_index, f->a.peer.current.remote_index);
}

static void confirm(struct fixture *f, uint64_t now)
{
	assert_int_equal(handshake(f, &f->a, &f->b, now), 0);
	assert_int_equal(send_one(&f->a, &f->b, 0, 0, now), 0);
}

static void test_batch(void **state)
{
	struct fixture *f = *state;
	enum { N = 16 };
	static struct pkt p[N];
	struct tunnel_buf b[N];
	bool want = true;

	confirm(f, 0);
	for (size_t i = 0; i < N; i++)
		fill(&b[i], &p[i], i * 50, (uint8_t)i);
	b[5].cap = TUNNEL_DATA_OVERHEAD + b[5].len - 1; /* no room for the tag */
	assert_int_equal(tunnel_seal_batch(&f->a.peer, b, N, 10, &want), N - 1);
	assert_false(want);
	assert_int_equal(b[5].err, -ENOBUFS);
	for (size_t i = 0; i < N; i++)
		if (i != 5)
			assert_int_equal(tunnel_get_le64(p[i].mem + 8), i < 5 ? 1 + i : i); /* keepalive used 0 */
	p[9].mem[TUNNEL_DATA_HEADER_LEN + 3] ^= 1;
	b[5].len = 3; /* garbage in the failed slot */
	assert_int_equal(tunnel_open_batch(&f->b.peer, b, N, 11), N - 2);
	assert_int_equal(b[9].err, -EBADMSG);
	assert_int_equal(b[5].err, -EINVAL);
	for (size_t i = 0; i < N; i++) {
		if (i == 5 || i == 9)
			continue;
		assert_int_equal(b[i].err, 0);
		assert_int_equal(b[i].len, i * 50);
		for (size_t j = 0; j < b[i].len; j++)
			assert_int_equal(p[i].mem[TUNNEL_DATA_HEADER_LEN + j], i);
	}
	assert_int_equal(f->b.peer.rx_dropped_auth, 1);
}

static void test_tamper_data(void **state)
{
	struct fixture *f = *state;
	struct pkt p, q;
	struct tunnel_buf b;

	confirm(f, 0);
	fill(&b, &p, 100, 0x77);
	assert_int_equal(tunnel_seal_batch(&f->a.peer, &b, 1, 1, NULL), 1);
	size_t len = b.len;
	for (size_t i = 0; i < len; i++) {
		for (int bit = 0; bit < 8; bit += 7) {
			memcpy(q.mem, p.mem, len);
			q.mem[i] ^= (uint8_t)(1u << bit);
			struct tunnel_buf t = { q.mem, len, sizeof(q.mem), 0 };
			assert_int_equal(tunnel_open_batch(&f->b.peer, &t, 1, 2), 0);
			assert_true(t.err == -EBADMSG || t.err == -EINVAL || t.err == -ENOKEY || t.err == -EALREADY);
		}
	}
	/* truncated */
	memcpy(q.mem, p.mem, len);
	struct tunnel_buf t = { q.mem, len - 1, sizeof(q.mem), 0 };
	assert_int_equal(tunnel_open_batch(&f->b.peer, &t, 1, 2), 0);
	/* the genuine packet still opens, exactly once */
	memcpy(q.mem, p.mem, len);
	struct tunnel_buf ok = { q.mem, len, sizeof(q.mem), 0 };
	assert_int_equal(tunnel_open_batch(&f->b.peer, &ok, 1, 2), 1);
	memcpy(q.mem, p.mem, len);
	struct tunnel_buf again = { q.mem, len, sizeof(q.mem), 0 };
	assert_int_equal(tunnel_open_batch(&f->b.peer, &again, 1, 2), 0);
	assert_int_equal(again.err, -EALREADY);
}

static void test_nonce_never_repeats(void **state)
{
	struct fixture *f = *state;
	struct pkt p;
	struct tunnel_buf b;
	uint64_t prev = 0;

	confirm(f, 0);
	for (int i = 0; i < 3000; i++) {
		fill(&b, &p, 8, 0);
		assert_int_equal(tunnel_seal_batch(&f->a.peer, &b, 1, 5, NULL), 1);
		uint64_t c = tunnel_get_le64(p.mem + 8);
		assert_true(c > prev);
		prev = c;
	}
	/* the counter stops before it could wrap; the keypair is then dead */
	f->a.peer.current.send_counter = SESSION_REJECT_AFTER_MESSAGES - 1;
	bool want = false;
	fill(&b, &p, 8, 0);
	assert_int_equal(tunnel_seal_batch(&f->a.peer, &b, 1, 5, &want), 1);
	assert_true(want);
	assert_int_equal(tunnel_get_le64(p.mem + 8), SESSION_REJECT_AFTER_MESSAGES - 1);
	struct tunnel_buf two[2];
	struct pkt p2[2];
	fill(&two[0], &p2[0], 8, 0);
	fill(&two[1], &p2[1], 8, 0);
	assert_int_equal(tunnel_seal_batch(&f->a.peer, two, 2, 5, &want), -ENOKEY);
	assert_int_equal(two[0].err, -ENOKEY);
	assert_int_equal(two[1].err, -ENOKEY);
}

static void test_rekey_after_messages(void **state)
{
	struct fixture *f = *state;
	struct pkt p;
	struct tunnel_buf b;
	bool want = true;

	confirm(f, 0);
	fill(&b, &p, 8, 0);
	assert_int_equal(tunnel_seal_batch(&f->a.peer, &b, 1, 5, &want), 1);
	assert_false(want);
	f->a.peer.current.send_counter = SESSION_REKEY_AFTER_MESSAGES - 1;
	fill(&b, &p, 8, 0);
	assert_int_equal(tunnel_seal_batch(&f->a.peer, &b, 1, 5, &want), 1);
	assert_true(want);
	uint64_t d;
	assert_true(session_tick(&f->a.peer, 6, &d) & SESSION_ACT_INITIATE);
}

static void test_rekey_deadlines(void **state)
{
	struct fixture *f = *state;
	uint64_t d;
	int act;

	confirm(f, 0);
	assert_int_equal(send_one(&f->b, &f->a, 10, 1, 0), 0);
	/* initiator (a): rekey at REKEY_AFTER_TIME */
	act = session_tick(&f->a.peer, 1000, &d);
	assert_false(act & SESSION_ACT_INITIATE);
	assert_true(d <= SESSION_REKEY_AFTER_TIME_MS);
	assert_false(session_wants_rekey(&f->a.peer, SESSION_REKEY_AFTER_TIME_MS - 1));
	assert_true(session_wants_rekey(&f->a.peer, SESSION_REKEY_AFTER_TIME_MS));
	assert_int_equal(send_one(&f->a, &f->b, 10, 1, 100000), 0); /* keep it active */
	assert_int_equal(send_one(&f->b, &f->a, 10, 1, 100000), 0);
	act = session_tick(&f->a.peer, 110000, &d);
	assert_false(act & SESSION_ACT_INITIATE);
	assert_int_equal(d, SESSION_REKEY_AFTER_TIME_MS);
	assert_true(session_tick(&f->a.peer, SESSION_REKEY_AFTER_TIME_MS, &d) & SESSION_ACT_INITIATE);
	/* responder (b): only close to the reject time */
	assert_false(session_wants_rekey(&f->b.peer, SESSION_REKEY_AFTER_TIME_MS));
	assert_false(session_tick(&f->b.peer, SESSION_RESPONDER_REKEY_MS - 1, &d) & SESSION_ACT_INITIATE);
	assert_true(session_wants_rekey(&f->b.peer, SESSION_RESPONDER_REKEY_MS));
	/* past REJECT_AFTER_TIME nothing is sent or accepted on it */
	assert_int_equal(send_one(&f->a, &f->b, 10, 1, SESSION_REJECT_AFTER_TIME_MS - 1), 0);
	assert_int_equal(send_one(&f->a, &f->b, 10, 1, SESSION_REJECT_AFTER_TIME_MS), -ENOKEY);
	assert_int_equal(send_one(&f->b, &f->a, 10, 1, SESSION_REJECT_AFTER_TIME_MS), -ENOKEY);
	session_tick(&f->a.peer, SESSION_REJECT_AFTER_TIME_MS, &d);
	assert_false(f->a.peer.current.valid);
}

static void test_idle_does_not_rekey(void **state)
{
	struct fixture *f = *state;
	uint64_t d;

	confirm(f, 0);
	/* last traffic at 0: by 130 s the peer counts as idle */
	assert_false(session_tick(&f->a.peer, 130000, &d) & SESSION_ACT_INITIATE);
	assert_true(session_wants_rekey(&f->a.peer, 130000));
	assert_int_equal(d, SESSION_REJECT_AFTER_TIME_MS);
}

static void test_old_session_during_switch(void **state)
{
	struct fixture *f = *state;
	enum { N = 4 };
	static struct pkt old[N], fresh;
	struct tunnel_buf b[N], fb;

	confirm(f, 0);
	assert_int_equal(send_one(&f->b, &f->a, 1, 1, 0), 0);
	uint32_t old_a = f->a.peer.current.local_index, old_b = f->b.peer.current.local_index;
	/* b sends packets on the old keypair that are still in flight ... */
	for (int i = 0; i < N; i++)
		fill(&b[i], &old[i], 20, (uint8_t)(0x10 + i));
	assert_int_equal(tunnel_seal_batch(&f->b.peer, b, N, 130000, NULL), N);
	/* ... while a rekeys (a initiates again) */
	assert_int_equal(handshake(f, &f->a, &f->b, 130000), 0);
	assert_int_equal(f->a.peer.previous.local_index, old_a);
	assert_true(f->a.peer.current.local_index != old_a);
	/* b still sends on the old one until a's first packet confirms */
	assert_int_equal(f->b.peer.current.local_index, old_b);
	fill(&fb, &fresh, 5, 0x99);
	assert_int_equal(tunnel_seal_batch(&f->a.peer, &fb, 1, 130001, NULL), 1);
	assert_int_equal(tunnel_open_batch(&f->b.peer, &fb, 1, 130001), 1);
	assert_int_equal(f->b.peer.previous.local_index, old_b);
	assert_true(f->b.peer.current.local_index != old_b);
	/* the in-flight packets open on a's previous keypair */
	assert_int_equal(tunnel_open_batch(&f->a.peer, b, N, 130002), N);
	for (int i = 0; i < N; i++)
		assert_int_equal(old[i].mem[TUNNEL_DATA_HEADER_LEN], 0x10 + i);
	/* and b now sends on the new one */
	assert_int_equal(send_one(&f->b, &f->a, 3, 3, 130003), 0);
	assert_int_equal(f->b.peer.current.send_counter, 1);
	/* the previous keypair dies at its own reject time */
	assert_ptr_equal(session_recv_keypair(&f->a.peer, old_a, SESSION_REJECT_AFTER_TIME_MS - 1),
			 &f->a.peer.previous);
	assert_null(session_recv_keypair(&f->a.peer, old_a, SESSION_REJECT_AFTER_TIME_MS));
	assert_true(session_owns_index(&f->a.peer, old_a));
	uint64_t d;
	session_tick(&f->a.peer, SESSION_REJECT_AFTER_TIME_MS, &d);
	assert_false(session_owns_index(&f->a.peer, old_a));
	assert_true(session_owns_index(&f->a.peer, f->a.peer.current.local_index));
}

static void test_handshake_retry_and_give_up(void **state)
{
	struct fixture *f = *state;
	uint8_t init[TUNNEL_INITIATION_LEN];
	size_t n;
	uint64_t d, t = 0;

	assert_int_equal(session_initiate(&f->a.local, &f->a.peer, 1, t, f->wall_ns, init, sizeof(init), &n), 0);
	assert_false(session_tick(&f->a.peer, t + 4999, &d) & SESSION_ACT_INITIATE);
	assert_int_equal(d, NOISE_REKEY_TIMEOUT_MS);
	/* lost: retry every REKEY_TIMEOUT ... */
	for (t = NOISE_REKEY_TIMEOUT_MS; t < SESSION_REKEY_ATTEMPT_TIME_MS; t += NOISE_REKEY_TIMEOUT_MS) {
		assert_true(session_tick(&f->a.peer, t, &d) & SESSION_ACT_INITIATE);
		assert_int_equal(session_initiate(&f->a.local, &f->a.peer, (uint32_t)t, t, f->wall_ns + t, init,
						  sizeof(init), &n), 0);
	}
	/* ... until the attempt time is up */
	assert_false(session_tick(&f->a.peer, SESSION_REKEY_ATTEMPT_TIME_MS, &d) & SESSION_ACT_INITIATE);
	assert_int_equal(f->a.peer.noise.state, NOISE_PEER_IDLE);
	assert_int_equal(d, UINT64_MAX);
}

static void test_passive_keepalive(void **state)
{
	struct fixture *f = *state;
	uint64_t d;

	confirm(f, 0);
	assert_int_equal(send_one(&f->b, &f->a, 50, 1, 1000), 0);
	assert_false(session_tick(&f->a.peer, 1000, &d) & SESSION_ACT_KEEPALIVE);
	assert_int_equal(d, 1000 + SESSION_KEEPALIVE_TIMEOUT_MS);
	assert_true(session_tick(&f->a.peer, 1000 + SESSION_KEEPALIVE_TIMEOUT_MS, &d) & SESSION_ACT_KEEPALIVE);
	assert_int_equal(send_one(&f->a, &f->b, 0, 0, 11000), 0);
	/* a keepalive owes no keepalive back */
	assert_false(session_tick(&f->b.peer, 30000, &d) & SESSION_ACT_KEEPALIVE);
	assert_false(session_tick(&f->a.peer, 30000, &d) & SESSION_ACT_KEEPALIVE);
}

static void test_unknown_index(void **state)
{
	struct fixture *f = *state;
	struct pkt p;
	struct tunnel_buf b;

	confirm(f, 0);
	fill(&b, &p, 8, 0);
	assert_int_equal(tunnel_seal_batch(&f->a.peer, &b, 1, 1, NULL), 1);
	tunnel_put_le32(p.mem + 4, 0xdeadbeef);
	assert_int_equal(tunnel_open_batch(&f->b.peer, &b, 1, 1), 0);
	assert_int_equal(b.err, -ENOKEY);
	assert_int_equal(f->b.peer.rx_dropped_nokey, 1);
}

static void test_parse(void **state)
{
	(void)state;
	static uint8_t buf[TUNNEL_MAX_PAYLOAD + TUNNEL_DATA_MIN_LEN + 1];
	struct tunnel_packet tp;

	memset(buf, 0, sizeof(buf));
	buf[0] = TUNNEL_MSG_INITIATION;
	tunnel_put_le32(buf + 4, 0x01020304);
	assert_int_equal(tunnel_packet_parse(buf, TUNNEL_INITIATION_LEN, &tp), 0);
	assert_int_equal(tp.type, TUNNEL_MSG_INITIATION);
	assert_int_equal(tp.sender_index, 0x01020304);
	assert_int_equal(tunnel_packet_parse(buf, TUNNEL_INITIATION_LEN - 1, &tp), -EINVAL);
	assert_int_equal(tunnel_packet_parse(buf, TUNNEL_INITIATION_LEN + 1, &tp), -EINVAL);
	buf[2] = 1;
	assert_int_equal(tunnel_packet_parse(buf, TUNNEL_INITIATION_LEN, &tp), -EINVAL);
	buf[2] = 0;

	buf[0] = TUNNEL_MSG_RESPONSE;
	tunnel_put_le32(buf + 8, 0xa0b0c0d0);
	assert_int_equal(tunnel_packet_parse(buf, TUNNEL_RESPONSE_LEN, &tp), 0);
	assert_int_equal(tp.receiver_index, 0xa0b0c0d0);
	assert_int_equal(tunnel_packet_parse(buf, TUNNEL_RESPONSE_LEN + 1, &tp), -EINVAL);

	buf[0] = TUNNEL_MSG_DATA;
	tunnel_put_le64(buf + 8, 0x1122334455667788ull);
	assert_int_equal(tunnel_packet_parse(buf, TUNNEL_DATA_MIN_LEN, &tp), 0);
	assert_int_equal(tp.counter, 0x1122334455667788ull);
	assert_int_equal(tp.payload_len, 0);
	assert_int_equal(tunnel_packet_parse(buf, TUNNEL_DATA_MIN_LEN - 1, &tp), -EINVAL);
	assert_int_equal(tunnel_packet_parse(buf, TUNNEL_DATA_MIN_LEN + TUNNEL_MAX_PAYLOAD, &tp), 0);
	assert_int_equal(tp.payload_len, TUNNEL_MAX_PAYLOAD);
	assert_int_equal(tunnel_packet_parse(buf, sizeof(buf), &tp), -EINVAL);

	buf[0] = TUNNEL_MSG_PROBE;
	assert_int_equal(tunnel_packet_parse(buf, 64, &tp), -EPROTONOSUPPORT);
	buf[0] = 0x00; /* STUN */
	assert_false(tunnel_packet_is_tunnel(buf, 20));
	assert_int_equal(tunnel_packet_parse(buf, 20, &tp), -EINVAL);
	buf[0] = 0x40; /* TURN ChannelData */
	assert_int_equal(tunnel_packet_parse(buf, 20, &tp), -EINVAL);
	assert_int_equal(tunnel_packet_parse(buf, 0, &tp), -EINVAL);
	buf[0] = TUNNEL_MSG_DATA;
	assert_int_equal(tunnel_packet_parse(buf, 3, &tp), -EINVAL);
}

static void test_oversize_payload(void **state)
{
	struct fixture *f = *state;
	struct pkt p;
	struct tunnel_buf b;

	confirm(f, 0);
	fill(&b, &p, 0, 0);
	b.len = TUNNEL_MAX_PAYLOAD + 1;
	b.cap = SIZE_MAX;
	assert_int_equal(tunnel_seal_batch(&f->a.peer, &b, 1, 1, NULL), 0);
	assert_int_equal(b.err, -EMSGSIZE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_handshake_confirm_and_data, setup, teardown),
		cmocka_unit_test_setup_teardown(test_batch, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tamper_data, setup, teardown),
		cmocka_unit_test_setup_teardown(test_nonce_never_repeats, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rekey_after_messages, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rekey_deadlines, setup, teardown),
		cmocka_unit_test_setup_teardown(test_idle_does_not_rekey, setup, teardown),
		cmocka_unit_test_setup_teardown(test_old_session_during_switch, setup, teardown),
		cmocka_unit_test_setup_teardown(test_handshake_retry_and_give_up, setup, teardown),
		cmocka_unit_test_setup_teardown(test_passive_keepalive, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unknown_index, setup, teardown),
		cmocka_unit_test(test_parse),
		cmocka_unit_test_setup_teardown(test_oversize_payload, setup, teardown),
	};
	if (noise_init() != 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
