/* TCP framing, bounds and the write queue of turn_stream, over a local
 * socketpair (the plain-TCP code path; TLS is covered by the lab). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "turn_stream.h"

struct got {
	unsigned n;
	size_t len[64];
	uint8_t first[64];
};

static void on_frame(void *ctx, const uint8_t *frame, size_t len)
{
	struct got *g = ctx;
	assert_true(g->n < 64);
	g->len[g->n] = len;
	g->first[g->n] = frame[0];
	g->n++;
}

struct pair {
	int peer; /* the "client" end, blocking */
	struct turn_stream *st;
	struct turn_stream_stats stats;
};

static int setup(void **state)
{
	struct pair *p = calloc(1, sizeof(*p));
	int sv[2];
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	assert_int_equal(fcntl(sv[0], F_SETFL, O_NONBLOCK), 0);
	p->peer = sv[1];
	p->st = turn_stream_new(sv[0], NULL, &p->stats, NULL);
	assert_non_null(p->st);
	assert_true(turn_stream_ready(p->st));
	*state = p;
	return 0;
}

static int teardown(void **state)
{
	struct pair *p = *state;
	turn_stream_free(p->st);
	close(p->peer);
	free(p);
	return 0;
}

/* A STUN header with a body of blen bytes (blen a multiple of 4). */
static size_t stun_frame(uint8_t *buf, uint16_t blen, uint8_t tag)
{
	memset(buf, 0, 20u + blen);
	buf[1] = 0x01; /* Binding request */
	buf[2] = (uint8_t)(blen >> 8);
	buf[3] = (uint8_t)blen;
	buf[4] = 0x21; buf[5] = 0x12; buf[6] = 0xA4; buf[7] = 0x42;
	buf[8] = tag;
	return 20u + blen;
}

static size_t chan_frame(uint8_t *buf, uint16_t chan, uint16_t dlen)
{
	size_t padded = 4u + ((dlen + 3u) & ~3u);
	memset(buf, 0xAB, padded);
	buf[0] = (uint8_t)(chan >> 8);
	buf[1] = (uint8_t)chan;
	buf[2] = (uint8_t)(dlen >> 8);
	buf[3] = (uint8_t)dlen;
	return padded;
}

static void write_all(int fd, const uint8_t *b, size_t n)
{
	assert_int_equal(write(fd, b, n), (ssize_t)n);
}

static void test_frames_split_anywhere(void **state)
{
	struct pair *p = *state;
	uint8_t buf[512];
	size_t n = 0;
	n += stun_frame(buf + n, 8, 1);
	n += chan_frame(buf + n, 0x4001, 5);   /* padded to 12 */
	n += chan_frame(buf + n, 0x7ffe, 3);   /* RFC 5766 range, padded to 8 */
	n += stun_frame(buf + n, 0, 2);
	/* Every split point: the frames come out whole, in order, once. */
	for (size_t cut = 1; cut < n; cut++) {
		struct got g = { 0 };
		write_all(p->peer, buf, cut);
		assert_int_equal(turn_stream_on_event(p->st, on_frame, &g), 0);
		write_all(p->peer, buf + cut, n - cut);
		assert_int_equal(turn_stream_on_event(p->st, on_frame, &g), 0);
		assert_int_equal(g.n, 4);
		assert_int_equal(g.len[0], 28);
		assert_int_equal(g.len[1], 12);
		assert_int_equal(g.first[2], 0x7f);
		assert_int_equal(g.len[2], 8);
		assert_int_equal(g.len[3], 20);
	}
	assert_int_equal(p->stats.bad_framing, 0);
}

static void test_garbage_closes(void **state)
{
	struct pair *p = *state;
	struct got g = { 0 };
	const uint8_t http[] = "GET / HTTP/1.1\r\n\r\n";
	write_all(p->peer, http, sizeof(http) - 1);
	assert_int_equal(turn_stream_on_event(p->st, on_frame, &g), -EBADMSG);
	assert_int_equal(g.n, 0);
	assert_int_equal(p->stats.bad_framing, 1);
}

static void test_oversize_frame_closes(void **state)
{
	struct pair *p = *state;
	struct got g = { 0 };
	uint8_t hdr[20];
	stun_frame(hdr, 0, 0);
	hdr[2] = (uint8_t)((TURN_STREAM_MAX_FRAME + 4) >> 8);
	hdr[3] = (uint8_t)(TURN_STREAM_MAX_FRAME + 4);
	write_all(p->peer, hdr, sizeof(hdr));
	assert_int_equal(turn_stream_on_event(p->st, on_frame, &g), -EBADMSG);
	assert_int_equal(g.n, 0);
}

static void test_eof(void **state)
{
	struct pair *p = *state;
	struct got g = { 0 };
	uint8_t buf[64];
	size_t n = stun_frame(buf, 4, 9);
	write_all(p->peer, buf, n);
	shutdown(p->peer, SHUT_WR);
	assert_int_equal(turn_stream_on_event(p->st, on_frame, &g), -ECONNRESET);
	assert_int_equal(g.n, 1); /* the frame before EOF still counts */
}

/* The client does not read: frames queue up to the cap, then whole frames
 * are dropped; nothing already started is ever cut. */
static void test_write_queue_bounded(void **state)
{
	struct pair *p = *state;
	uint8_t frame[1000];
	unsigned sent = 0, dropped = 0;
	for (unsigned i = 0; i < 2000; i++) {
		memset(frame, 0, sizeof(frame));
		frame[0] = 0x40;
		frame[2] = (uint8_t)((sizeof(frame) - 4) >> 8);
		frame[3] = (uint8_t)(sizeof(frame) - 4);
		frame[4] = (uint8_t)sent;
		struct iovec iov[2] = { { frame, 4 }, { frame + 4, sizeof(frame) - 4 } };
		int rc = turn_stream_send(p->st, iov, 2);
		if (rc == 0)
			sent++;
		else {
			assert_int_equal(rc, -ENOBUFS);
			dropped++;
		}
	}
	assert_true(dropped > 0);
	assert_int_equal(p->stats.dropped_wq, dropped);
	assert_true(sent > TURN_STREAM_WQ_MAX / sizeof(frame));
	/* Drain: the client reads exactly `sent` whole frames, numbered in order. */
	struct got g = { 0 };
	uint8_t rx[1000];
	for (unsigned k = 0; k < sent; k++) {
		size_t have = 0;
		while (have < sizeof(rx)) {
			assert_int_equal(turn_stream_on_event(p->st, on_frame, &g), 0);
			ssize_t r = recv(p->peer, rx + have, sizeof(rx) - have, MSG_DONTWAIT);
			if (r > 0)
				have += (size_t)r;
		}
		assert_int_equal(rx[0], 0x40);
		assert_int_equal(rx[4], (uint8_t)k);
	}
	assert_int_equal(recv(p->peer, rx, 1, MSG_DONTWAIT), -1);
}

static void test_send_after_peer_closed(void **state)
{
	struct pair *p = *state;
	uint8_t b[20];
	stun_frame(b, 0, 0);
	close(p->peer);
	p->peer = open("/dev/null", O_RDONLY);
	struct iovec iov = { b, sizeof(b) };
	int rc = 0;
	for (int i = 0; i < 3 && rc == 0; i++)
		rc = turn_stream_send(p->st, &iov, 1);
	assert_int_equal(rc, -EPIPE);
}

static struct turn_stream *stream_pair(int *peer, struct turn_stream_stats *stats,
				       struct turn_stream_budget *b)
{
	int sv[2];
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	assert_int_equal(fcntl(sv[0], F_SETFL, O_NONBLOCK), 0);
	*peer = sv[1];
	struct turn_stream *st = turn_stream_new(sv[0], NULL, stats, b);
	assert_non_null(st);
	return st;
}

static int send_chan(struct turn_stream *st, size_t len)
{
	uint8_t frame[1200];
	assert_true(len <= sizeof(frame));
	chan_frame(frame, 0x4000, (uint16_t)(len - 4));
	struct iovec iov = { frame, len };
	return turn_stream_send(st, &iov, 1);
}

/* Queues of all streams draw on one budget: past it no queue grows
 * (frames dropped, never memory), the budget reports pressure and the
 * share above which a stream is a slow reader to drop; a queue that
 * drains gives its memory back. */
static void test_budget_and_slow_readers(void **state)
{
	(void)state;
	struct turn_stream_stats stats = { 0 };
	struct turn_stream_budget b = { .cap = 192 * 1024 };
	atomic_init(&b.used, 0);
	atomic_init(&b.refused, 0);
	int peer[3];
	struct turn_stream *st[3];
	for (int i = 0; i < 3; i++)
		st[i] = stream_pair(&peer[i], &stats, &b);
	uint64_t seen = 0;
	assert_int_equal(turn_stream_shed_above(&b, 3, &seen), SIZE_MAX); /* no pressure */

	/* two clients never read; the third reads everything */
	unsigned dropped = 0;
	for (int i = 0; i < 2000; i++) {
		for (int k = 0; k < 2; k++)
			dropped += send_chan(st[k], 1000) == -ENOBUFS;
		assert_int_equal(send_chan(st[2], 1000), 0);
		uint8_t sink[4096];
		while (recv(peer[2], sink, sizeof(sink), MSG_DONTWAIT) > 0)
			;
		assert_int_equal(turn_stream_on_event(st[2], on_frame, &(struct got){ 0 }), 0);
		assert_true(atomic_load(&b.used) <= b.cap);
	}
	assert_true(dropped > 0);
	assert_true(atomic_load(&b.refused) > 0);
	assert_int_equal(turn_stream_queued(st[2]), 0); /* drained: holds nothing */
	size_t share = turn_stream_shed_above(&b, 3, &seen);
	assert_int_equal(share, b.cap / 3);
	assert_true(turn_stream_queued(st[0]) > share || turn_stream_queued(st[1]) > share);
	assert_true(turn_stream_queued(st[2]) <= share);
	/* the slow readers go: the budget is free again, pressure is over */
	turn_stream_free(st[0]);
	turn_stream_free(st[1]);
	assert_int_equal(atomic_load(&b.used), 0);
	assert_int_equal(turn_stream_shed_above(&b, 1, &seen), SIZE_MAX);
	assert_int_equal(send_chan(st[2], 1000), 0);
	turn_stream_free(st[2]);
	for (int i = 0; i < 3; i++)
		close(peer[i]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_frames_split_anywhere, setup, teardown),
		cmocka_unit_test_setup_teardown(test_garbage_closes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_oversize_frame_closes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_eof, setup, teardown),
		cmocka_unit_test_setup_teardown(test_write_queue_bounded, setup, teardown),
		cmocka_unit_test_setup_teardown(test_send_after_peer_closed, setup, teardown),
		cmocka_unit_test(test_budget_and_slow_readers),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
