/* Receive-queue drops over real loopback sockets: nothing is reported
 * while nothing was dropped; after a burst into a tiny receive buffer the
 * next datagram queued carries the drop count, and it is counted once
 * (the following datagrams add nothing new). */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "turn_rxq.h"

static int bound_udp(struct sockaddr_in *a)
{
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	socklen_t sl = sizeof(*a);
	assert_true(fd >= 0);
	*a = (struct sockaddr_in){ .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	assert_int_equal(bind(fd, (struct sockaddr *)a, sizeof(*a)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)a, &sl), 0);
	return fd;
}

/* Receives one datagram (non-blocking) and returns the new drops. */
static int recv_drops(int fd, uint32_t *seen, uint32_t *drops)
{
	uint8_t data[2048], cbuf[64];
	struct iovec iov = { data, sizeof(data) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
			     .msg_controllen = sizeof(cbuf) };
	if (recvmsg(fd, &mh, MSG_DONTWAIT) < 0)
		return -1;
	*drops = turn_rxq_new_drops(&mh, seen);
	return 0;
}

static void test_drops_counted_once(void **state)
{
	struct sockaddr_in ra, sa;
	int rx = bound_udp(&ra), tx = bound_udp(&sa);
	int small = 1; /* the kernel rounds it up to its minimum */
	uint32_t seen = 0, d = 0, total = 0;
	uint8_t pkt[1000] = { 0 };
	(void)state;

	if (!turn_rxq_enable(rx))
		skip();
	assert_int_equal(sendto(tx, pkt, 10, 0, (struct sockaddr *)&ra, sizeof(ra)), 10);
	assert_int_equal(recv_drops(rx, &seen, &d), 0);
	assert_int_equal(d, 0); /* nothing dropped yet: no count at all */
	assert_int_equal(seen, 0);

	setsockopt(rx, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
	for (int i = 0; i < 200; i++)
		(void)sendto(tx, pkt, sizeof(pkt), 0, (struct sockaddr *)&ra, sizeof(ra));
	/* what was queued before the drops carries the old count */
	while (recv_drops(rx, &seen, &d) == 0)
		total += d;
	/* the next datagram queued carries the drops */
	assert_int_equal(sendto(tx, pkt, 10, 0, (struct sockaddr *)&ra, sizeof(ra)), 10);
	assert_int_equal(recv_drops(rx, &seen, &d), 0);
	total += d;
	assert_true(total > 0);
	assert_true(total < 200);
	assert_int_equal(seen, total);

	/* one more, nothing dropped meanwhile: counted once only */
	assert_int_equal(sendto(tx, pkt, 10, 0, (struct sockaddr *)&ra, sizeof(ra)), 10);
	assert_int_equal(recv_drops(rx, &seen, &d), 0);
	assert_int_equal(d, 0);
	assert_int_equal(seen, total);
	close(rx);
	close(tx);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_drops_counted_once),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
