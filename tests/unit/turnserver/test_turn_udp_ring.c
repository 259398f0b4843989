/* The worker's io_uring loop ring over real loopback sockets, no
 * namespace: datagrams received by a multishot recvmsg arrive as events
 * with their bytes, source and control data (a UDP GRO train's segment
 * size); when the provided buffers run out the request ends with
 * -ENOBUFS, nothing is lost, and started again it delivers the rest;
 * queued sends go out with the wait, post nothing when they succeed and
 * their error when they fail; a one-shot poll reports readiness; events
 * that arrive during a synchronous send are kept for the next wait. */
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
#include <netinet/udp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "turn_udp_ring.h"
#include "udp_gro.h"

enum { TAG_A = 0x1000, TAG_POLL = 0x2000, NBUFS = 4, PAYLOAD = 4096 };

struct lab {
	struct turn_udp_ring *r;
	int a, b;                 /* a receives through the ring, b sends to it */
	struct sockaddr_in a_addr, b_addr;
};

static int udp_socket(struct sockaddr_in *bound)
{
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t sl = sizeof(a);

	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &sl), 0);
	*bound = a;
	return fd;
}

static int setup(void **state)
{
	struct lab *l = calloc(1, sizeof(*l));
	assert_non_null(l);
	l->a = udp_socket(&l->a_addr);
	l->b = udp_socket(&l->b_addr);
	l->r = turn_udp_ring_new_loop(64, NBUFS, PAYLOAD);
	*state = l;
	return 0;
}

static int teardown(void **state)
{
	struct lab *l = *state;
	turn_udp_ring_free(l->r);
	close(l->a);
	close(l->b);
	free(l);
	return 0;
}

#define NEED_RING(l)                                                                   \
	do {                                                                           \
		if (!(l)->r) {                                                         \
			print_message("SKIP: no io_uring loop ring on this kernel\n"); \
			skip();                                                        \
		}                                                                      \
	} while (0)

static void send_b(struct lab *l, size_t len, uint8_t tag)
{
	uint8_t buf[PAYLOAD];
	memset(buf, tag, len);
	assert_int_equal(sendto(l->b, buf, len, 0, (struct sockaddr *)&l->a_addr, sizeof(l->a_addr)),
			 (ssize_t)len);
}

/* Waits (up to 2 s in all) until n events are there. */
static unsigned wait_n(struct lab *l, struct turn_udp_ring_ev *ev, unsigned n)
{
	unsigned got = 0;
	for (int tries = 0; tries < 20 && got < n; tries++) {
		int k = turn_udp_ring_wait(l->r, 100, ev + got, n - got);
		assert_true(k >= 0);
		got += (unsigned)k;
	}
	return got;
}

/* Checks event e is datagram (len, tag) from b, and gives its buffer back. */
static void expect_datagram(struct lab *l, const struct turn_udp_ring_ev *e, size_t len, uint8_t tag)
{
	struct turn_udp_ring_msg m;

	assert_int_equal(e->tag, TAG_A);
	assert_true(e->flags & TURN_UDP_RING_BUF);
	assert_true(turn_udp_ring_msg(l->r, e, &m));
	assert_int_equal(m.len, len);
	assert_false(m.truncated);
	for (size_t i = 0; i < len; i++)
		assert_int_equal(m.data[i], tag);
	const struct sockaddr_in *from = (const struct sockaddr_in *)m.from;
	assert_int_equal(from->sin_family, AF_INET);
	assert_int_equal(from->sin_port, l->b_addr.sin_port);
	turn_udp_ring_put(l->r, e);
}

static void test_recv_multishot(void **state)
{
	struct lab *l = *state;
	struct turn_udp_ring_ev ev[8];

	NEED_RING(l);
	assert_int_equal(turn_udp_ring_recv_start(l->r, l->a, TAG_A), 0);
	assert_int_equal(turn_udp_ring_wait(l->r, 0, ev, 8), 0); /* armed, nothing yet */
	for (int round = 0; round < 3; round++) { /* more than NBUFS in all: buffers come back */
		send_b(l, 100, 1);
		send_b(l, 1, 2);
		send_b(l, 3000, 3);
		assert_int_equal(wait_n(l, ev, 3), 3);
		expect_datagram(l, &ev[0], 100, 1);
		expect_datagram(l, &ev[1], 1, 2);
		expect_datagram(l, &ev[2], 3000, 3);
		for (int i = 0; i < 3; i++)
			assert_true(ev[i].flags & TURN_UDP_RING_MORE);
	}
	/* longer than a buffer: cut, and said so */
	uint8_t big[PAYLOAD + 100];
	memset(big, 4, sizeof(big));
	assert_int_equal(sendto(l->b, big, sizeof(big), 0, (struct sockaddr *)&l->a_addr,
				sizeof(l->a_addr)), (ssize_t)sizeof(big));
	assert_int_equal(wait_n(l, ev, 1), 1);
	struct turn_udp_ring_msg m;
	assert_true(turn_udp_ring_msg(l->r, &ev[0], &m));
	assert_true(m.truncated);
	turn_udp_ring_put(l->r, &ev[0]);
}

/* The buffers run out: the request ends with -ENOBUFS after NBUFS
 * datagrams; the others wait in the socket and come once it is started
 * again with the buffers back. */
static void test_buffers_run_out(void **state)
{
	struct lab *l = *state;
	struct turn_udp_ring_ev ev[16];

	NEED_RING(l);
	assert_int_equal(turn_udp_ring_recv_start(l->r, l->a, TAG_A), 0);
	assert_int_equal(turn_udp_ring_wait(l->r, 0, ev, 16), 0);
	for (int i = 0; i < NBUFS + 3; i++)
		send_b(l, 50, (uint8_t)(i + 1));
	unsigned got = wait_n(l, ev, NBUFS + 1);
	assert_int_equal(got, NBUFS + 1);
	for (int i = 0; i < NBUFS; i++)
		expect_datagram(l, &ev[i], 50, (uint8_t)(i + 1));
	assert_int_equal(ev[NBUFS].tag, TAG_A);
	assert_int_equal(ev[NBUFS].res, -ENOBUFS);
	assert_false(ev[NBUFS].flags & (TURN_UDP_RING_MORE | TURN_UDP_RING_BUF));
	assert_int_equal(turn_udp_ring_recv_start(l->r, l->a, TAG_A), 0);
	assert_int_equal(wait_n(l, ev, 3), 3);
	for (int i = 0; i < 3; i++)
		expect_datagram(l, &ev[i], 50, (uint8_t)(NBUFS + i + 1));
}

/* A GSO train from b arrives at a (UDP_GRO on) as one message; its
 * control data carries the segment size for udp_gro. */
static void test_gro_train_control(void **state)
{
	struct lab *l = *state;
	struct turn_udp_ring_ev ev[4];
	struct turn_udp_ring_msg m;
	uint8_t buf[3 * 500];
	char cbuf[CMSG_SPACE(sizeof(uint16_t))];
	uint16_t seg = 500;

	NEED_RING(l);
	if (!udp_gro_enable(l->a)) {
		print_message("SKIP: no UDP_GRO here\n");
		skip();
	}
	assert_int_equal(turn_udp_ring_recv_start(l->r, l->a, TAG_A), 0);
	memset(buf, 5, sizeof(buf));
	memset(cbuf, 0, sizeof(cbuf));
	struct iovec iov = { buf, sizeof(buf) };
	struct msghdr mh = { .msg_name = &l->a_addr, .msg_namelen = sizeof(l->a_addr),
			     .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
			     .msg_controllen = sizeof(cbuf) };
	struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
	c->cmsg_level = SOL_UDP;
	c->cmsg_type = UDP_SEGMENT;
	c->cmsg_len = CMSG_LEN(sizeof(seg));
	memcpy(CMSG_DATA(c), &seg, sizeof(seg));
	assert_int_equal(sendmsg(l->b, &mh, 0), (ssize_t)sizeof(buf));
	assert_int_equal(wait_n(l, ev, 1), 1);
	assert_true(turn_udp_ring_msg(l->r, &ev[0], &m));
	assert_int_equal(m.len, sizeof(buf));
	assert_int_equal(udp_gro_segment_size(&m.mh), 500);
	turn_udp_ring_put(l->r, &ev[0]);
}

/* Queued sends leave with the wait: a success posts no event, a failure
 * writes its error into its slot. */
static void test_queued_sends(void **state)
{
	struct lab *l = *state;
	struct turn_udp_ring_ev ev[4];
	uint8_t payload[3][20];
	struct iovec iov[3];
	struct mmsghdr mm[3];
	int fd[3], res[3] = { 99, 99, 99 };

	NEED_RING(l);
	memset(mm, 0, sizeof(mm));
	for (int i = 0; i < 3; i++) {
		memset(payload[i], i + 1, sizeof(payload[i]));
		iov[i] = (struct iovec){ payload[i], sizeof(payload[i]) };
		mm[i].msg_hdr.msg_iov = &iov[i];
		mm[i].msg_hdr.msg_iovlen = 1;
		mm[i].msg_hdr.msg_name = &l->a_addr;
		mm[i].msg_hdr.msg_namelen = sizeof(l->a_addr);
		fd[i] = l->b;
	}
	mm[1].msg_hdr.msg_name = NULL; /* b is not connected: EDESTADDRREQ */
	mm[1].msg_hdr.msg_namelen = 0;
	assert_int_equal(turn_udp_ring_queue_send(l->r, fd, mm, 3, res), 0);
	uint8_t got[64];
	assert_int_equal(recv(l->a, got, sizeof(got), MSG_DONTWAIT), -1); /* not yet */
	assert_int_equal(turn_udp_ring_wait(l->r, 0, ev, 4), 0);
	assert_int_equal(res[0], 0);
	assert_int_equal(res[1], -EDESTADDRREQ);
	assert_int_equal(res[2], 0);
	assert_int_equal(recv(l->a, got, sizeof(got), MSG_DONTWAIT), 20);
	assert_int_equal(got[0], 1);
	assert_int_equal(recv(l->a, got, sizeof(got), MSG_DONTWAIT), 20);
	assert_int_equal(got[0], 3);
	assert_int_equal(recv(l->a, got, sizeof(got), MSG_DONTWAIT), -1);
}

/* A one-shot poll completes once with the readiness, and at once when
 * started on a socket that is already readable. */
static void test_poll_once(void **state)
{
	struct lab *l = *state;
	struct turn_udp_ring_ev ev[4];

	NEED_RING(l);
	assert_int_equal(turn_udp_ring_poll_start(l->r, l->a, TAG_POLL), 0);
	assert_int_equal(turn_udp_ring_wait(l->r, 0, ev, 4), 0);
	send_b(l, 10, 1);
	assert_int_equal(wait_n(l, ev, 1), 1);
	assert_int_equal(ev[0].tag, TAG_POLL);
	assert_true(ev[0].res & POLLIN);
	assert_false(ev[0].flags & TURN_UDP_RING_MORE);
	assert_int_equal(turn_udp_ring_poll_start(l->r, l->a, TAG_POLL), 0); /* still readable */
	assert_int_equal(wait_n(l, ev, 1), 1);
	assert_int_equal(ev[0].tag, TAG_POLL);
}

/* A synchronous send (a flush in the middle of an iteration) takes the
 * events that arrive with it aside; the next wait hands them over. */
static void test_sync_send_keeps_events(void **state)
{
	struct lab *l = *state;
	struct turn_udp_ring_ev ev[4];
	uint8_t payload[10];
	struct iovec iov = { payload, sizeof(payload) };
	struct mmsghdr mm[1];
	int fd[1] = { l->b }, res[1];

	NEED_RING(l);
	assert_int_equal(turn_udp_ring_recv_start(l->r, l->a, TAG_A), 0);
	assert_int_equal(turn_udp_ring_wait(l->r, 0, ev, 4), 0);
	send_b(l, 30, 7); /* arrives at a */
	memset(mm, 0, sizeof(mm));
	memset(payload, 8, sizeof(payload));
	mm[0].msg_hdr = (struct msghdr){ .msg_name = &l->a_addr, .msg_namelen = sizeof(l->a_addr),
					 .msg_iov = &iov, .msg_iovlen = 1 };
	/* the send's wait runs the receive's completion too */
	assert_int_equal(turn_udp_ring_send(l->r, fd, mm, 1, res), 0);
	assert_int_equal(res[0], (int)sizeof(payload));
	assert_int_equal(wait_n(l, ev, 2), 2);
	expect_datagram(l, &ev[0], 30, 7);
	expect_datagram(l, &ev[1], 10, 8);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_recv_multishot, setup, teardown),
		cmocka_unit_test_setup_teardown(test_buffers_run_out, setup, teardown),
		cmocka_unit_test_setup_teardown(test_gro_train_control, setup, teardown),
		cmocka_unit_test_setup_teardown(test_queued_sends, setup, teardown),
		cmocka_unit_test_setup_teardown(test_poll_once, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sync_send_keeps_events, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
