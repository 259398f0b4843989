/* The worker's UDP send batch over real loopback sockets: datagrams keep
 * their boundaries, order and destination whether they leave one by one or
 * merged into UDP GSO runs, and the merge rules (same socket, destination,
 * source and length; the last may be shorter) hold; the same with the
 * sockets' messages submitted together through io_uring. And a run of
 * datagrams over the path MTU: the kernel refuses it as GSO (EMSGSIZE on
 * recent kernels, EINVAL on older ones) but sends each one fragmented.
 * All of it again through a worker's loop ring, where a flush is only
 * queued and goes out with the ring's next wait (turn_udp_tx_flush_deferred,
 * turn_udp_ring_wait, turn_udp_tx_complete), as the io_uring loop does. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "turn_udp_ring.h"
#include "turn_udp_tx.h"

struct lab {
	int tx_fd[2];                     /* senders */
	int rx_fd[2];                     /* receivers */
	struct sockaddr_in rx_addr[2];
	struct turn_udp_tx_stats st;
	struct turn_udp_tx *tx;
	struct turn_udp_ring *ring;       /* a loop ring: flushes are deferred */
};

/* What the worker does at the end of an iteration and at its next wait. */
static void tx_flush(struct turn_udp_tx *tx, struct turn_udp_ring *ring)
{
	struct turn_udp_ring_ev ev[4];

	if (!ring) {
		turn_udp_tx_flush(tx);
		return;
	}
	turn_udp_tx_flush_deferred(tx);
	/* nothing else is armed: no event, only the sends completed */
	assert_int_equal(turn_udp_ring_wait(ring, 0, ev, 4), 0);
	turn_udp_tx_complete(tx);
}

static void flush(struct lab *l)
{
	tx_flush(l->tx, l->ring);
}

static int udp_socket(struct sockaddr_in *bound)
{
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t sl = sizeof(a);
	int buf = 1 << 20;
	struct timeval tv = { 10, 0 }; /* only waited out when a datagram is missing */

	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &sl), 0);
	(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buf, sizeof(buf));
	(void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (bound)
		*bound = a;
	return fd;
}

static int setup_gso(void **state, int gso)
{
	struct lab *l = calloc(1, sizeof(*l));
	assert_non_null(l);
	for (int i = 0; i < 2; i++) {
		l->tx_fd[i] = udp_socket(NULL);
		l->rx_fd[i] = udp_socket(&l->rx_addr[i]);
	}
	l->tx = turn_udp_tx_new(&l->st, gso);
	assert_non_null(l->tx);
	*state = l;
	return 0;
}

static int setup(void **state) { return setup_gso(state, TURN_UDP_TX_GSO); }
static int setup_nogso(void **state) { return setup_gso(state, 0); }
/* flushes to several sockets go out with one io_uring call */
static int setup_ring(void **state) { return setup_gso(state, TURN_UDP_TX_GSO | TURN_UDP_TX_RING); }

/* the worker's loop ring; NULL where the kernel has none (tests skip) */
static struct turn_udp_ring *loop_ring(void)
{
	struct turn_udp_ring *r = turn_udp_ring_new_loop(128, 4, 2048);
	if (!r)
		print_message("SKIP: no io_uring loop ring on this kernel\n");
	return r;
}

static int setup_loop(void **state)
{
	setup_gso(state, TURN_UDP_TX_GSO | TURN_UDP_TX_RING);
	struct lab *l = *state;
	l->ring = loop_ring();
	if (l->ring)
		turn_udp_tx_use_ring(l->tx, l->ring);
	return 0;
}

#define NEED_RING(l)       \
	do {               \
		if (!(l)->ring) \
			skip(); \
	} while (0)

static int teardown(void **state)
{
	struct lab *l = *state;
	for (int i = 0; i < 2; i++) {
		close(l->tx_fd[i]);
		close(l->rx_fd[i]);
	}
	turn_udp_tx_free(l->tx);
	turn_udp_ring_free(l->ring);
	free(l);
	return 0;
}

/* Queues a datagram of len bytes, each byte tag; split over two iovecs
 * like the relay's header + payload. */
static void push(struct lab *l, int from, int to, size_t len, uint8_t tag)
{
	uint8_t buf[TURN_UDP_TX_SLOT + 8];
	memset(buf, tag, len);
	size_t h = len < 4 ? len : 4;
	struct iovec iov[2] = { { buf, h }, { buf + h, len - h } };
	turn_udp_tx_push(l->tx, l->tx_fd[from], (struct sockaddr *)&l->rx_addr[to], NULL, iov, 2);
}

/* Receives one datagram on receiver `at` and checks its length and bytes. */
static void expect(struct lab *l, int at, size_t len, uint8_t tag)
{
	uint8_t buf[TURN_UDP_TX_SLOT + 8];
	ssize_t n = recv(l->rx_fd[at], buf, sizeof(buf), 0);
	assert_int_equal(n, (ssize_t)len);
	for (size_t i = 0; i < len; i++)
		assert_int_equal(buf[i], tag);
}

static void expect_nothing(struct lab *l, int at)
{
	uint8_t b;
	assert_int_equal(recv(l->rx_fd[at], &b, 1, MSG_DONTWAIT), -1);
}

static void test_run_keeps_boundaries(void **state)
{
	struct lab *l = *state;
	/* 10 x 100 bytes, then a shorter last one: one GSO run */
	for (int i = 0; i < 10; i++)
		push(l, 0, 0, 100, (uint8_t)(i + 1));
	push(l, 0, 0, 37, 11);
	assert_int_equal(turn_udp_tx_pending(l->tx), 11);
	flush(l);
	assert_int_equal(turn_udp_tx_pending(l->tx), 0);
	for (int i = 0; i < 10; i++)
		expect(l, 0, 100, (uint8_t)(i + 1));
	expect(l, 0, 37, 11);
	expect_nothing(l, 0);
	assert_int_equal(l->st.out, 11);
	assert_int_equal(l->st.send_failed, 0);
	/* loopback takes UDP GSO (Linux >= 4.18): the run left as one message */
	assert_int_equal(l->st.gso_msgs, 1);
	assert_int_equal(l->st.gso_fallbacks, 0);
}

static void test_mixed_destinations_and_sizes(void **state)
{
	struct lab *l = *state;
	/* interleaved sockets and destinations; a longer datagram after a run
	 * and one after a short one start new messages */
	push(l, 0, 0, 200, 1);
	push(l, 1, 1, 50, 2);
	push(l, 0, 0, 200, 3);
	push(l, 0, 1, 200, 4);  /* other destination */
	push(l, 0, 0, 200, 5);
	push(l, 0, 0, 300, 6);  /* longer: new message */
	push(l, 0, 0, 100, 7);  /* shorter: last segment of 6's run */
	push(l, 0, 0, 100, 8);  /* the run ended: new message */
	push(l, 1, 1, 50, 9);
	push(l, 1, 0, 0, 10);   /* empty datagram */
	flush(l);
	expect(l, 0, 200, 1);
	expect(l, 0, 200, 3);
	expect(l, 0, 200, 5);
	expect(l, 0, 300, 6);
	expect(l, 0, 100, 7);
	expect(l, 0, 100, 8);
	expect(l, 0, 0, 10);
	expect_nothing(l, 0);
	/* order is kept per sending socket: socket 0's datagrams go first */
	expect(l, 1, 200, 4);
	expect(l, 1, 50, 2);
	expect(l, 1, 50, 9);
	expect_nothing(l, 1);
	assert_int_equal(l->st.out, 10);
	/* messages: socket 0: [1 3] [4] [5] [6 7] (a shorter datagram ends a
	 * run) [8]; socket 1: [2 9] [10] (empty datagrams never join): three
	 * GSO runs */
	assert_int_equal(l->st.gso_msgs, 3);
}

static void test_full_batch_flushes(void **state)
{
	struct lab *l = *state;
	unsigned total = TURN_UDP_TX_BATCH + 5;
	for (unsigned i = 0; i < total; i++)
		push(l, 0, 0, 64, (uint8_t)i);
	assert_int_equal(turn_udp_tx_pending(l->tx), 5);
	flush(l);
	for (unsigned i = 0; i < total; i++)
		expect(l, 0, 64, (uint8_t)i);
	assert_int_equal(l->st.out, total);
}

static void test_too_big_dropped(void **state)
{
	struct lab *l = *state;
	push(l, 0, 0, TURN_UDP_TX_SLOT + 1, 1);
	push(l, 0, 0, 10, 2);
	flush(l);
	expect(l, 0, 10, 2);
	expect_nothing(l, 0);
	assert_int_equal(l->st.too_big, 1);
	assert_int_equal(l->st.out, 1);
}

/* A socket with UDP checksums off (SO_NO_CHECK) makes the kernel refuse
 * GSO with EINVAL, like a length over the path MTU: the run is sent again
 * datagram by datagram, and runs that long are not merged any more. */
static void test_refused_gso_falls_back(void **state)
{
	struct lab *l = *state;
	int one = 1;
	assert_int_equal(setsockopt(l->tx_fd[0], SOL_SOCKET, SO_NO_CHECK, &one, sizeof(one)), 0);
	for (int i = 0; i < 6; i++)
		push(l, 0, 0, 120, (uint8_t)(i + 1));
	flush(l);
	for (int i = 0; i < 6; i++)
		expect(l, 0, 120, (uint8_t)(i + 1));
	expect_nothing(l, 0);
	assert_int_equal(l->st.out, 6);
	assert_int_equal(l->st.gso_fallbacks, 1);
	assert_int_equal(l->st.gso_msgs, 0);
	assert_int_equal(l->st.send_failed, 0);
	/* The same length again: sent one by one, no second refusal. */
	for (int i = 0; i < 4; i++)
		push(l, 0, 0, 120, (uint8_t)(i + 10));
	flush(l);
	for (int i = 0; i < 4; i++)
		expect(l, 0, 120, (uint8_t)(i + 10));
	assert_int_equal(l->st.gso_fallbacks, 1);
	assert_int_equal(l->st.out, 10);
	/* Shorter runs still merge (on a socket that takes GSO). */
	for (int i = 0; i < 4; i++)
		push(l, 1, 1, 60, (uint8_t)(i + 20));
	flush(l);
	for (int i = 0; i < 4; i++)
		expect(l, 1, 60, (uint8_t)(i + 20));
	assert_int_equal(l->st.gso_msgs, 1);
}

/* A wildcard socket sends from the address the client asked (IP_PKTINFO)
 * and a run keeps that source: the control data carries both. */
static void test_run_with_source_address(void **state)
{
	struct lab *l = *state;
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in any = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_ANY) };
	struct sockaddr_storage src;
	struct sockaddr_in *s4 = (struct sockaddr_in *)&src;
	uint8_t buf[256];

	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&any, sizeof(any)), 0);
	memset(&src, 0, sizeof(src));
	s4->sin_family = AF_INET;
	s4->sin_addr.s_addr = htonl(0x7f000002); /* 127.0.0.2 */
	for (int i = 0; i < 5; i++) {
		memset(buf, i + 1, 80);
		struct iovec iov = { buf, i == 4 ? 30 : 80 };
		turn_udp_tx_push(l->tx, fd, (struct sockaddr *)&l->rx_addr[0], &src, &iov, 1);
	}
	flush(l);
	for (int i = 0; i < 5; i++) {
		struct sockaddr_in from;
		socklen_t fl = sizeof(from);
		ssize_t n = recvfrom(l->rx_fd[0], buf, sizeof(buf), 0, (struct sockaddr *)&from, &fl);
		assert_int_equal(n, i == 4 ? 30 : 80);
		assert_int_equal(buf[0], i + 1);
		assert_int_equal(ntohl(from.sin_addr.s_addr), 0x7f000002);
	}
	assert_int_equal(l->st.gso_msgs, 1);
	assert_int_equal(l->st.out, 5);
	close(fd);
}

static void test_without_gso(void **state)
{
	struct lab *l = *state;
	for (int i = 0; i < 5; i++)
		push(l, 0, 0, 100, (uint8_t)i);
	flush(l);
	for (int i = 0; i < 5; i++)
		expect(l, 0, 100, (uint8_t)i);
	assert_int_equal(l->st.out, 5);
	assert_int_equal(l->st.gso_msgs, 0);
}

/* With the ring: one call for the flush to two sockets, and a message the
 * kernel refuses (a closed socket) costs only itself. */
static void test_ring_one_call(void **state)
{
	struct lab *l = *state;
	int gone = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	uint8_t b = 7;
	struct iovec iov = { &b, 1 };

	assert_true(gone >= 0);
	close(gone); /* a number no socket has: EBADF */
	push(l, 0, 0, 100, 1);
	turn_udp_tx_push(l->tx, gone, (struct sockaddr *)&l->rx_addr[0], NULL, &iov, 1);
	push(l, 1, 1, 100, 2);
	push(l, 0, 0, 100, 3);
	flush(l);
	expect(l, 0, 100, 1);
	expect(l, 0, 100, 3);
	expect_nothing(l, 0);
	expect(l, 1, 100, 2);
	expect_nothing(l, 1);
	assert_int_equal(l->st.out, 3);
	assert_int_equal(l->st.send_failed, 1);
	assert_int_equal(l->st.gso_msgs, 1);
	if (l->st.ring_calls == 0) { /* the same datagrams went by sendmmsg */
		print_message("SKIP ring_calls: no io_uring on this kernel (or kernel.io_uring_disabled)\n");
		skip();
	}
	assert_int_equal(l->st.ring_calls, 1);
	/* one socket only: sendmmsg, no ring call */
	push(l, 0, 0, 50, 4);
	flush(l);
	expect(l, 0, 50, 4);
	assert_int_equal(l->st.ring_calls, 1);
}

/* With the loop ring every flush, even to one socket, is queued and sent
 * by the wait: one ring call each; a refused message costs only itself,
 * and its failure is counted once the wait has completed it. */
static void test_loop_deferred(void **state)
{
	struct lab *l = *state;
	int gone = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	uint8_t b = 7;
	struct iovec iov = { &b, 1 };

	NEED_RING(l);
	assert_true(gone >= 0);
	close(gone); /* EBADF */
	push(l, 0, 0, 100, 1);
	turn_udp_tx_push(l->tx, gone, (struct sockaddr *)&l->rx_addr[0], NULL, &iov, 1);
	push(l, 1, 1, 100, 2);
	push(l, 0, 0, 100, 3);
	turn_udp_tx_flush_deferred(l->tx);
	expect_nothing(l, 0); /* queued, not sent */
	assert_int_equal(l->st.out, 4); /* counted until the failure is known */
	struct turn_udp_ring_ev ev[4];
	assert_int_equal(turn_udp_ring_wait(l->ring, 0, ev, 4), 0);
	turn_udp_tx_complete(l->tx);
	expect(l, 0, 100, 1);
	expect(l, 0, 100, 3);
	expect_nothing(l, 0);
	expect(l, 1, 100, 2);
	assert_int_equal(l->st.out, 3);
	assert_int_equal(l->st.send_failed, 1);
	assert_int_equal(l->st.gso_msgs, 1);
	assert_int_equal(l->st.ring_calls, 1);
	push(l, 0, 0, 50, 4);
	flush(l);
	expect(l, 0, 50, 4);
	assert_int_equal(l->st.ring_calls, 2);
}

/* Datagrams longer than the path MTU, without DF: two of them from one
 * socket to one destination merge into a run, which the kernel refuses as
 * GSO (the segment is over the MTU: EMSGSIZE since about 6.x, EINVAL
 * before) yet sends fragmented one by one. Both must arrive, from both
 * sockets (two sockets: the ring's path too). IPv6 on ::1 with IPV6_MTU
 * 1280 makes the small path MTU without a namespace. This is the loss
 * turnserver_uclient saw with 1600-byte payloads (2 of 10). */
static void over_mtu_runs(int flags, bool loop)
{
	struct sockaddr_in6 a = { .sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT };
	socklen_t sl = sizeof(a);
	struct turn_udp_tx_stats st = { 0 };
	struct timeval tv = { 10, 0 };
	int mtu = 1280, rx = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0), tx_fd[2];
	uint8_t buf[TURN_UDP_TX_SLOT];

	assert_true(rx >= 0);
	if (bind(rx, (struct sockaddr *)&a, sizeof(a)) < 0) {
		close(rx);
		print_message("SKIP over-MTU runs: no IPv6 loopback here\n");
		skip();
	}
	assert_int_equal(getsockname(rx, (struct sockaddr *)&a, &sl), 0);
	(void)setsockopt(rx, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	struct turn_udp_tx *tx = turn_udp_tx_new(&st, flags);
	assert_non_null(tx);
	struct turn_udp_ring *ring = loop ? loop_ring() : NULL;
	if (loop && !ring) {
		turn_udp_tx_free(tx);
		close(rx);
		skip();
	}
	if (ring)
		turn_udp_tx_use_ring(tx, ring);
	for (int s = 0; s < 2; s++) {
		struct sockaddr_in6 b = { .sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT };
		tx_fd[s] = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		assert_true(tx_fd[s] >= 0);
		assert_int_equal(bind(tx_fd[s], (struct sockaddr *)&b, sizeof(b)), 0);
		assert_int_equal(setsockopt(tx_fd[s], IPPROTO_IPV6, IPV6_MTU, &mtu, sizeof(mtu)), 0);
	}
	for (int i = 0; i < 4; i++) {
		memset(buf, i + 1, 1600);
		struct iovec iov = { buf, 1600 };
		turn_udp_tx_push(tx, tx_fd[i % 2], (struct sockaddr *)&a, NULL, &iov, 1);
	}
	tx_flush(tx, ring);
	assert_int_equal(st.send_failed, 0);
	assert_int_equal(st.out, 4);
	assert_true(st.gso_fallbacks >= 1);
	unsigned seen = 0;
	for (int i = 0; i < 4; i++) {
		ssize_t n = recv(rx, buf, sizeof(buf), 0);
		assert_int_equal(n, 1600);
		assert_true(buf[0] >= 1 && buf[0] <= 4 && buf[1599] == buf[0]);
		seen |= 1u << buf[0];
	}
	assert_int_equal(seen, 0x1e);
	/* the next such run is not merged: no second refusal */
	for (int i = 0; i < 2; i++) {
		memset(buf, 9, 1600);
		struct iovec iov = { buf, 1600 };
		turn_udp_tx_push(tx, tx_fd[0], (struct sockaddr *)&a, NULL, &iov, 1);
	}
	uint64_t fb = st.gso_fallbacks;
	tx_flush(tx, ring);
	assert_int_equal(st.gso_fallbacks, fb);
	assert_int_equal(st.out, 6);
	for (int i = 0; i < 2; i++)
		assert_int_equal(recv(rx, buf, sizeof(buf), 0), 1600);
	turn_udp_tx_free(tx);
	turn_udp_ring_free(ring);
	close(tx_fd[0]);
	close(tx_fd[1]);
	close(rx);
}

static void test_over_mtu_runs(void **state)
{
	(void)state;
	over_mtu_runs(TURN_UDP_TX_GSO, false);
}

static void test_over_mtu_runs_ring(void **state)
{
	(void)state;
	over_mtu_runs(TURN_UDP_TX_GSO | TURN_UDP_TX_RING, false);
}

static void test_over_mtu_runs_loop(void **state)
{
	(void)state;
	over_mtu_runs(TURN_UDP_TX_GSO | TURN_UDP_TX_RING, true);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_run_keeps_boundaries, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mixed_destinations_and_sizes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_full_batch_flushes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_too_big_dropped, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refused_gso_falls_back, setup, teardown),
		cmocka_unit_test_setup_teardown(test_run_with_source_address, setup, teardown),
		cmocka_unit_test_setup_teardown(test_without_gso, setup_nogso, teardown),
		cmocka_unit_test_setup_teardown(test_ring_one_call, setup_ring, teardown),
		cmocka_unit_test_setup_teardown(test_mixed_destinations_and_sizes, setup_ring, teardown),
		cmocka_unit_test_setup_teardown(test_refused_gso_falls_back, setup_ring, teardown),
		cmocka_unit_test_setup_teardown(test_run_with_source_address, setup_ring, teardown),
		cmocka_unit_test(test_over_mtu_runs),
		cmocka_unit_test(test_over_mtu_runs_ring),
		cmocka_unit_test_setup_teardown(test_loop_deferred, setup_loop, teardown),
		cmocka_unit_test_setup_teardown(test_run_keeps_boundaries, setup_loop, teardown),
		cmocka_unit_test_setup_teardown(test_mixed_destinations_and_sizes, setup_loop, teardown),
		cmocka_unit_test_setup_teardown(test_full_batch_flushes, setup_loop, teardown),
		cmocka_unit_test_setup_teardown(test_refused_gso_falls_back, setup_loop, teardown),
		cmocka_unit_test_setup_teardown(test_run_with_source_address, setup_loop, teardown),
		cmocka_unit_test(test_over_mtu_runs_loop),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
