/* hs_flood: a flood of valid-looking Noise initiations at one node, for the
 * namespace lab and bench/node_flood. Each is made with a random static
 * key (unknown to the target) and carries a valid mac1 for the target's
 * public key, so without cookies every one costs the target two
 * Diffie-Hellmans before it finds the key unknown.
 *   hs_flood TARGET_IP PORT TARGET_KEY_B64 RATE SECONDS [SOCKETS [SRC_IP N]]
 * Sends RATE datagrams per second for SECONDS, round-robin from SOCKETS
 * UDP sockets (default 64, each its own source port; bound in turn to the
 * N addresses from SRC_IP on, which the caller gave its interface), and
 * counts the cookie replies that come back. Prints one summary line at the end (or
 * on SIGTERM). */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "noise.h"

enum { MSGS = 64, MAX_SOCKS = 1024, BURST = 8 /* datagrams per sendmmsg, from one port */ };

static volatile sig_atomic_t stop;

static void on_term(int sig)
{
	(void)sig;
	stop = 1;
}

static uint64_t now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

static int make_msgs(const uint8_t target[NOISE_KEY_LEN], uint8_t msgs[MSGS][TUNNEL_INITIATION_LEN])
{
	for (int i = 0; i < MSGS; i++) {
		struct noise_keypair kp;
		static struct noise_local l;
		struct noise_peer p;
		size_t n;
		if (noise_keypair_generate(&kp) != 0)
			return -1;
		noise_local_init(&l, &kp, 0);
		noise_peer_init(&p, target);
		if (noise_create_initiation(&l, &p, randombytes_random(), 0, (uint64_t)time(NULL) * 1000000000ull,
					    msgs[i], TUNNEL_INITIATION_LEN, &n) != 0 ||
		    n != TUNNEL_INITIATION_LEN)
			return -1;
		noise_peer_wipe(&p);
	}
	return 0;
}

static unsigned drain(const int *fd, int nfd)
{
	uint8_t buf[256];
	unsigned c = 0;
	for (int i = 0; i < nfd; i++)
		for (;;) {
			ssize_t r = recv(fd[i], buf, sizeof(buf), MSG_DONTWAIT);
			if (r <= 0)
				break;
			c += r == TUNNEL_COOKIE_REPLY_LEN && buf[0] == TUNNEL_MSG_COOKIE_REPLY;
		}
	return c;
}

int main(int argc, char **argv)
{
	static uint8_t msgs[MSGS][TUNNEL_INITIATION_LEN];
	static int fd[MAX_SOCKS];
	uint8_t target[NOISE_KEY_LEN];
	struct sockaddr_in dst = { .sin_family = AF_INET };
	size_t got;

	if (argc < 6 || noise_init() != 0) {
		fprintf(stderr, "usage: hs_flood TARGET_IP PORT TARGET_KEY_B64 RATE SECONDS [SOCKETS]\n");
		return 2;
	}
	long rate = atol(argv[4]), secs = atol(argv[5]);
	int nfd = argc > 6 ? atoi(argv[6]) : 64;
	if (inet_pton(AF_INET, argv[1], &dst.sin_addr) != 1 || atoi(argv[2]) <= 0 || rate <= 0 || secs <= 0 ||
	    nfd <= 0 || nfd > MAX_SOCKS ||
	    sodium_base642bin(target, sizeof(target), argv[3], strlen(argv[3]), NULL, &got, NULL,
			      sodium_base64_VARIANT_ORIGINAL) != 0 ||
	    got != sizeof(target)) {
		fprintf(stderr, "hs_flood: bad argument\n");
		return 2;
	}
	dst.sin_port = htons((uint16_t)atoi(argv[2]));
	struct in_addr src0 = { 0 };
	int nsrc = argc > 8 ? atoi(argv[8]) : 0;
	if (argc > 8 && (inet_pton(AF_INET, argv[7], &src0) != 1 || nsrc <= 0 || nsrc > 256)) {
		fprintf(stderr, "hs_flood: bad source addresses\n");
		return 2;
	}
	if (make_msgs(target, msgs) != 0)
		return 1;
	for (int i = 0; i < nfd; i++) {
		fd[i] = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		struct sockaddr_in me = { .sin_family = AF_INET };
		me.sin_addr.s_addr = nsrc ? htonl(ntohl(src0.s_addr) + (uint32_t)(i % nsrc)) : 0;
		if (fd[i] < 0 || bind(fd[i], (struct sockaddr *)&me, sizeof(me)) < 0 ||
		    connect(fd[i], (struct sockaddr *)&dst, sizeof(dst)) < 0) {
			perror("hs_flood: socket");
			return 1;
		}
	}
	static struct mmsghdr mm[BURST];
	static struct iovec iov[BURST];
	uint64_t t0 = now_us(), end = t0 + (uint64_t)secs * 1000000, last_drain = t0;
	uint64_t sent = 0, errors = 0, cookies = 0;
	unsigned next = 0;
	signal(SIGTERM, on_term);
	signal(SIGINT, on_term);
	for (uint64_t now = t0; now < end && !stop; now = now_us()) {
		uint64_t due = (now - t0) * (uint64_t)rate / 1000000;
		while (sent < due) {
			unsigned k = due - sent < BURST ? (unsigned)(due - sent) : BURST;
			for (unsigned j = 0; j < k; j++) {
				iov[j].iov_base = msgs[(sent + j) % MSGS];
				iov[j].iov_len = TUNNEL_INITIATION_LEN;
				memset(&mm[j], 0, sizeof(mm[j]));
				mm[j].msg_hdr.msg_iov = &iov[j];
				mm[j].msg_hdr.msg_iovlen = 1;
			}
			int r = sendmmsg(fd[next++ % (unsigned)nfd], mm, k, MSG_DONTWAIT);
			errors += r < 0 ? k : k - (unsigned)r;
			sent += k;
		}
		if (now - last_drain > 20000) {
			cookies += drain(fd, nfd);
			last_drain = now;
		}
		usleep(1000);
	}
	usleep(200000);
	cookies += drain(fd, nfd);
	double dt = (double)(now_us() - t0) / 1e6;
	printf("hs_flood: sent %llu initiations in %.1f s (%.0f/s) from %d ports on %d address(es), %llu send errors, "
	       "%llu cookie replies back\n",
	       (unsigned long long)sent, dt, (double)sent / dt, nfd, nsrc ? nsrc : 1, (unsigned long long)errors,
	       (unsigned long long)cookies);
	return 0;
}
