/* Splitting received UDP GRO trains: the iterator cuts a message into its
 * datagrams byte for byte (the last may be shorter), a message without
 * UDP_GRO is one datagram, and over real loopback sockets a UDP_SEGMENT
 * train sent to a socket with UDP_GRO on arrives as one message whose
 * datagrams come back exactly as sent. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "udp_gro.h"

static unsigned split(const uint8_t *buf, size_t len, size_t seg, const uint8_t **p, size_t *n,
		      unsigned max)
{
	struct udp_gro_iter it;
	unsigned k = 0;
	udp_gro_iter_init(&it, buf, len, seg);
	while (k < max && udp_gro_next(&it, &p[k], &n[k]))
		k++;
	const uint8_t *x;
	size_t y;
	assert_false(udp_gro_next(&it, &x, &y)); /* stays exhausted */
	return k;
}

static void test_iter(void **state)
{
	(void)state;
	uint8_t buf[1000] = { 0 };
	const uint8_t *p[16];
	size_t n[16];

	/* 3 full datagrams and a short one, in place, in order. */
	assert_int_equal(split(buf, 3 * 300 + 17, 300, p, n, 16), 4);
	for (unsigned i = 0; i < 3; i++) {
		assert_ptr_equal(p[i], buf + i * 300);
		assert_int_equal(n[i], 300);
	}
	assert_ptr_equal(p[3], buf + 900);
	assert_int_equal(n[3], 17);
	/* Exact multiple: no empty tail. */
	assert_int_equal(split(buf, 1000, 250, p, n, 16), 4);
	assert_int_equal(n[3], 250);
	/* No UDP_GRO: one datagram, even an empty one. */
	assert_int_equal(split(buf, 999, 0, p, n, 16), 1);
	assert_int_equal(n[0], 999);
	assert_int_equal(split(buf, 0, 0, p, n, 16), 1);
	assert_int_equal(n[0], 0);
	/* A "train" no longer than its segment size is one datagram. */
	assert_int_equal(split(buf, 500, 500, p, n, 16), 1);
	assert_int_equal(split(buf, 400, 500, p, n, 16), 1);
	assert_int_equal(n[0], 400);
}

static void test_segment_size_cmsg(void **state)
{
	(void)state;
	union {
		uint8_t b[CMSG_SPACE(sizeof(struct in_pktinfo)) + CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} cb;
	struct msghdr mh = { .msg_control = cb.b, .msg_controllen = sizeof(cb.b) };
	memset(&cb, 0, sizeof(cb));
	struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
	c->cmsg_level = IPPROTO_IP;
	c->cmsg_type = IP_PKTINFO;
	c->cmsg_len = CMSG_LEN(sizeof(struct in_pktinfo));
	c = CMSG_NXTHDR(&mh, c);
	assert_non_null(c);
	c->cmsg_level = IPPROTO_UDP;
	c->cmsg_type = UDP_GRO;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	int v = 1372;
	memcpy(CMSG_DATA(c), &v, sizeof(v));
	assert_int_equal(udp_gro_segment_size(&mh), 1372);
	v = -1; /* nonsense from a kernel would be one datagram */
	memcpy(CMSG_DATA(c), &v, sizeof(v));
	assert_int_equal(udp_gro_segment_size(&mh), 0);
	mh.msg_controllen = CMSG_SPACE(sizeof(struct in_pktinfo)); /* pktinfo only */
	assert_int_equal(udp_gro_segment_size(&mh), 0);
	mh.msg_controllen = 0;
	assert_int_equal(udp_gro_segment_size(&mh), 0);
}

static int udp_socket(struct sockaddr_in *bound)
{
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t sl = sizeof(a);
	struct timeval tv = { 10, 0 }; /* only waited out when a datagram is missing */
	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &sl), 0);
	(void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	*bound = a;
	return fd;
}

/* Sends a UDP_SEGMENT train of len bytes cut at seg. */
static void send_train(int fd, const struct sockaddr_in *to, const uint8_t *buf, size_t len,
		       uint16_t seg)
{
	union {
		uint8_t b[CMSG_SPACE(sizeof(uint16_t))];
		struct cmsghdr align;
	} cb;
	struct iovec iov = { (void *)buf, len };
	struct msghdr mh = { .msg_name = (void *)to, .msg_namelen = sizeof(*to), .msg_iov = &iov,
			     .msg_iovlen = 1, .msg_control = cb.b, .msg_controllen = sizeof(cb.b) };
	memset(&cb, 0, sizeof(cb));
	struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
	c->cmsg_level = SOL_UDP;
	c->cmsg_type = UDP_SEGMENT;
	c->cmsg_len = CMSG_LEN(sizeof(seg));
	memcpy(CMSG_DATA(c), &seg, sizeof(seg));
	assert_int_equal(sendmsg(fd, &mh, 0), (ssize_t)len);
}

static void test_loopback_train(void **state)
{
	(void)state;
	struct sockaddr_in txa, rxa;
	int tx = udp_socket(&txa), rx = udp_socket(&rxa);
	if (!udp_gro_enable(rx))
		skip(); /* a kernel without UDP_GRO: the worker falls back the same way */
	enum { SEG = 1200, LEN = 5 * SEG + 333 };
	static uint8_t out[LEN], in[UDP_GRO_MSG_MAX];
	for (size_t i = 0; i < LEN; i++)
		out[i] = (uint8_t)(i * 31 + i / SEG);
	send_train(tx, &rxa, out, LEN, SEG);

	/* The datagrams may come as one train or several (the kernel decides);
	 * put together they are exactly what was sent, each cut at SEG. */
	size_t got = 0;
	unsigned dgrams = 0, trains = 0;
	while (got < LEN) {
		union {
			uint8_t b[256];
			struct cmsghdr align;
		} cb;
		struct iovec iov = { in, sizeof(in) };
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cb.b,
				     .msg_controllen = sizeof(cb.b) };
		ssize_t n = recvmsg(rx, &mh, 0);
		assert_true(n > 0);
		assert_false(mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC));
		struct udp_gro_iter it;
		const uint8_t *p;
		size_t len;
		if (udp_gro_segment_size(&mh) > 0)
			trains++;
		udp_gro_iter_init(&it, in, (size_t)n, udp_gro_segment_size(&mh));
		while (udp_gro_next(&it, &p, &len)) {
			size_t want = LEN - got < SEG ? LEN - got : SEG;
			assert_int_equal(len, want);
			assert_memory_equal(p, out + got, len);
			got += len;
			dgrams++;
		}
	}
	assert_int_equal(got, LEN);
	assert_int_equal(dgrams, 6);
	assert_true(trains > 0); /* GRO took effect: not six plain datagrams */
	close(tx);
	close(rx);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_iter),
		cmocka_unit_test(test_segment_size_cmsg),
		cmocka_unit_test(test_loopback_train),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
