/* turn_guess: online password guessing against a TURN server, from one
 * source IP, as an attacker would do it (issue "a relay that resists
 * abuse", item 6). Used by tests/net/turnserver_guess.sh and
 * bench/turnserver_guess.
 *
 * 1. Opens -k UDP sockets to the server (the kernel spreads their ports
 *    over the server's workers) and gets a nonce on each with an Allocate
 *    without credentials.
 * 2. Sends Allocates for -u with wrong passwords ("wrong-pw-N") round robin
 *    over the sockets, as fast as it can (or at -r per second), for -t
 *    seconds or -n guesses. With -R K and -w, the right password goes out
 *    once K guesses were sent, as soon as the next 401 answer arrives: a
 *    401 means the server just checked a guess, so a limiter (if any) has
 *    just spent a token, the worst moment for the right one.
 * 3. Waits up to -W seconds for the last answers.
 * Every answer is read as it comes. Prints "key=value" lines: guesses
 * sent, the send rate, answers (401 / success / other), whether the right
 * password was accepted and when (seconds after the first guess).
 * How many guesses the server really checked is its own counter
 * (auth_fail, SIGUSR1), which the scripts read. */
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "addr.h"
#include "stun_auth.h"
#include "stun_msg.h"
#include "stun_proto.h"
#include "bench_clock.h"

enum { MAX_SOCKS = 64, BUF = 1500 };

struct guesser {
	int fd[MAX_SOCKS];
	char nonce[MAX_SOCKS][256];
	int k;
	char realm[256];
	const char *user, *right;
	uint64_t t0_ns;
	/* answers */
	uint64_t a401, aok, aother;
	bool right_ok, right_sent;
	double right_at_s;
	uint8_t right_tid[STUN_TID_LEN];
	bool right_pending;
	unsigned long right_after;  /* -R: guesses before the right one may go */
	unsigned long sent;
};

static int attr_str(const struct stun_msg *m, uint16_t type, char *out, size_t cap)
{
	const struct stun_attr *a = stun_msg_find(m, type);
	if (!a || a->len >= cap)
		return -1;
	memcpy(out, stun_attr_value(m, a), a->len);
	out[a->len] = '\0';
	return 0;
}

static int error_code(const struct stun_msg *m)
{
	const struct stun_attr *a = stun_msg_find(m, STUN_ATTR_ERROR_CODE);
	const char *reason;
	size_t rlen;
	int code = 0;
	if (!a || stun_attr_get_error(m, a, &code, &reason, &rlen) < 0)
		return -1;
	return code;
}

/* An Allocate, with credentials when pass is not NULL. */
static int build(struct guesser *g, int i, const char *pass, uint8_t *tid_out, uint8_t *buf)
{
	struct stun_builder b;
	uint8_t tid[STUN_TID_LEN];
	stun_tid_random(tid);
	stun_build_init(&b, buf, BUF, TURN_METHOD_ALLOCATE, STUN_CLASS_REQUEST, tid);
	stun_build_u8(&b, TURN_ATTR_REQUESTED_TRANSPORT, TURN_TRANSPORT_UDP);
	if (pass) {
		uint8_t key[STUN_KEY_MD5_LEN];
		stun_build_attr(&b, STUN_ATTR_USERNAME, g->user, strlen(g->user));
		stun_build_attr(&b, STUN_ATTR_REALM, g->realm, strlen(g->realm));
		stun_build_attr(&b, STUN_ATTR_NONCE, g->nonce[i], strlen(g->nonce[i]));
		stun_key_md5(g->user, g->realm, pass, key);
		stun_build_integrity(&b, key, sizeof(key));
	}
	if (tid_out)
		memcpy(tid_out, tid, STUN_TID_LEN);
	return stun_build_finish(&b);
}

static void send_right(struct guesser *g, int i);

static void on_answer(struct guesser *g, int i, const uint8_t *buf, size_t len)
{
	struct stun_msg m;
	if (stun_msg_parse(&m, buf, len) < 0)
		return;
	bool is_right = g->right_pending && memcmp(m.tid, g->right_tid, STUN_TID_LEN) == 0;
	if (m.cls == STUN_CLASS_SUCCESS) {
		g->aok++;
		if (is_right && !g->right_ok) {
			g->right_ok = true;
			g->right_at_s = (double)(bench_mono_ns() - g->t0_ns) / 1e9;
		}
	} else if (error_code(&m) == 401) {
		g->a401++;
		attr_str(&m, STUN_ATTR_NONCE, g->nonce[i], sizeof(g->nonce[i]));
		if (g->right && g->right_after && !g->right_sent && g->sent >= g->right_after)
			send_right(g, i);
	} else {
		g->aother++;
		if (error_code(&m) == 438)
			attr_str(&m, STUN_ATTR_NONCE, g->nonce[i], sizeof(g->nonce[i]));
	}
	if (is_right)
		g->right_pending = false;
}

static void drain(struct guesser *g)
{
	uint8_t buf[BUF];
	for (int i = 0; i < g->k; i++) {
		ssize_t n;
		while ((n = recv(g->fd[i], buf, sizeof(buf), MSG_DONTWAIT)) > 0)
			on_answer(g, i, buf, (size_t)n);
	}
}

/* The nonce and realm of each socket, from an Allocate without credentials. */
static int get_nonces(struct guesser *g)
{
	uint8_t buf[BUF];
	for (int i = 0; i < g->k; i++) {
		bool got = false;
		for (int attempt = 0; attempt < 5 && !got; attempt++) {
			int n = build(g, i, NULL, NULL, buf);
			if (n < 0 || send(g->fd[i], buf, (size_t)n, 0) < 0)
				return -1;
			struct pollfd p = { g->fd[i], POLLIN, 0 };
			if (poll(&p, 1, 1000) <= 0)
				continue;
			ssize_t r = recv(g->fd[i], buf, sizeof(buf), 0);
			struct stun_msg m;
			if (r > 0 && stun_msg_parse(&m, buf, (size_t)r) == 0 && error_code(&m) == 401 &&
			    attr_str(&m, STUN_ATTR_NONCE, g->nonce[i], sizeof(g->nonce[i])) == 0 &&
			    attr_str(&m, STUN_ATTR_REALM, g->realm, sizeof(g->realm)) == 0)
				got = true;
		}
		if (!got) {
			fprintf(stderr, "turn_guess: no 401 with a nonce on socket %d\n", i);
			return -1;
		}
	}
	return 0;
}

static void send_right(struct guesser *g, int i)
{
	uint8_t buf[BUF];
	int n = build(g, i, g->right, g->right_tid, buf);
	g->right_pending = g->right_sent = true;
	if (n > 0 && send(g->fd[i], buf, (size_t)n, 0) < 0 && errno != EAGAIN)
		perror("send");
}

static void usage(void)
{
	fprintf(stderr,
		"usage: turn_guess -u USER [-w RIGHT] [-R K] [-k SOCKETS] [-t SECONDS | -n GUESSES]\n"
		"                  [-r PER_SECOND] [-W WAIT_S] [-p PORT] SERVER_IP\n");
	exit(2);
}

int main(int argc, char **argv)
{
	static struct guesser g;
	const char *port = "3478";
	double seconds = 0, rate = 0, wait_s = 2;
	unsigned long limit = 0;
	int c;

	g.k = 4;
	while ((c = getopt(argc, argv, "u:w:R:k:t:n:r:W:p:")) != -1) {
		switch (c) {
		case 'u': g.user = optarg; break;
		case 'w': g.right = optarg; break;
		case 'R': g.right_after = strtoul(optarg, NULL, 10); break;
		case 'k': g.k = atoi(optarg); break;
		case 't': seconds = atof(optarg); break;
		case 'n': limit = strtoul(optarg, NULL, 10); break;
		case 'r': rate = atof(optarg); break;
		case 'W': wait_s = atof(optarg); break;
		case 'p': port = optarg; break;
		default: usage();
		}
	}
	if (optind != argc - 1 || !g.user || g.k < 1 || g.k > MAX_SOCKS ||
	    (seconds <= 0 && limit == 0) || (g.right_after && !g.right))
		usage();
	struct sockaddr_storage srv;
	if (addr_parse(argv[optind], (uint16_t)atoi(port), &srv) < 0) {
		fprintf(stderr, "turn_guess: bad server address %s\n", argv[optind]);
		return 2;
	}
	for (int i = 0; i < g.k; i++) {
		g.fd[i] = socket(srv.ss_family, SOCK_DGRAM, 0);
		if (g.fd[i] < 0 ||
		    connect(g.fd[i], (struct sockaddr *)&srv, addr_len((struct sockaddr *)&srv)) < 0) {
			perror("socket");
			return 1;
		}
	}
	if (get_nonces(&g) < 0)
		return 1;

	uint8_t buf[BUF];
	char pw[64];
	g.t0_ns = bench_mono_ns();
	uint64_t end_ns = seconds > 0 ? g.t0_ns + (uint64_t)(seconds * 1e9) : UINT64_MAX;
	while ((limit == 0 || g.sent < limit) && bench_mono_ns() < end_ns) {
		int i = (int)(g.sent % (unsigned long)g.k);
		snprintf(pw, sizeof(pw), "wrong-pw-%lu", g.sent);
		int n = build(&g, i, pw, NULL, buf);
		if (n > 0 && send(g.fd[i], buf, (size_t)n, 0) < 0 && errno != EAGAIN &&
		    errno != ECONNREFUSED)
			perror("send");
		g.sent++;
		if (g.sent % 64 == 0 || rate > 0)
			drain(&g);
		if (rate > 0) {
			uint64_t due = g.t0_ns + (uint64_t)((double)g.sent / rate * 1e9);
			while (bench_mono_ns() < due) {
				struct timespec ts = { 0, 200000 };
				nanosleep(&ts, NULL);
				drain(&g);
			}
		}
	}
	double elapsed = (double)(bench_mono_ns() - g.t0_ns) / 1e9;
	uint64_t wait_end = bench_mono_ns() + (uint64_t)(wait_s * 1e9);
	while (bench_mono_ns() < wait_end) {
		struct timespec ts = { 0, 1000000 };
		nanosleep(&ts, NULL);
		drain(&g);
	}
	unsigned long sent = g.sent;
	printf("guesses_sent=%lu\n", sent);
	printf("elapsed_s=%.3f\n", elapsed);
	printf("send_rate=%.0f\n", elapsed > 0 ? (double)sent / elapsed : 0.0);
	printf("answers_401=%llu\nanswers_ok=%llu\nanswers_other=%llu\n",
	       (unsigned long long)g.a401, (unsigned long long)g.aok,
	       (unsigned long long)g.aother);
	if (g.right && g.right_after) {
		printf("right=%s\n", !g.right_sent ? "not-sent" : g.right_ok ? "accepted" : "refused");
		if (g.right_ok)
			printf("right_after_s=%.3f\n", g.right_at_s);
	}
	for (int i = 0; i < g.k; i++)
		close(g.fd[i]);
	return 0;
}
