/* turn_probe: one allocation through turn_client, end to end. It allocates,
 * installs a permission, sends through a Send indication, binds a channel,
 * sends ChannelData, expects every payload echoed back by the peer (e.g.
 * turnutils_peer), deletes the allocation and prints what happened.
 * Exit status 0 only when every echo came back. Used by the interop tests. */
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "addr.h"
#include "turn_client.h"
#include "bench_clock.h"

struct probe {
	struct turn_client c;
	int fd;
	bool verbose;
	struct sockaddr_storage peer;
	/* what the events said */
	bool allocated, failed, perm_ok, perm_failed, chan_ok, chan_failed, closed, redirected;
	int fail_code;
	char expect[128];       /* payload we wait to see echoed */
	size_t expect_len;
	bool got_echo;
	uint16_t echo_channel;
	unsigned resends;       /* echo payloads sent again after ECHO_RESEND_MS */
	uint8_t io[70000];
};

static int write_all(int fd, const uint8_t *p, size_t n)
{
	while (n > 0) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += w, n -= (size_t)w;
	}
	return 0;
}

static void flush(struct probe *pr)
{
	int n;
	uint8_t buf[TURN_CLIENT_TX_BUF];
	while ((n = turn_client_poll_transmit(&pr->c, buf, sizeof(buf))) > 0)
		if (write_all(pr->fd, buf, (size_t)n) < 0)
			perror("send");
}

static void on_event(struct probe *pr, const struct turn_client_event *ev)
{
	char a[ADDR_STRLEN];
	if (pr->verbose)
		fprintf(stderr, "event %s code %d addr %s\n", turn_client_event_name(ev->type), ev->code,
			addr_format((const struct sockaddr *)&ev->addr, true, a));
	switch (ev->type) {
	case TURN_EV_ALLOCATED:
		pr->allocated = true;
		break;
	case TURN_EV_FAILED:
		pr->failed = true;
		pr->fail_code = ev->code;
		break;
	case TURN_EV_REDIRECT:
		pr->redirected = true;
		printf("redirect to %s\n", addr_format((const struct sockaddr *)&ev->addr, true, a));
		break;
	case TURN_EV_PERMISSION:
		if (ev->code == 0)
			pr->perm_ok = true;
		else
			pr->perm_failed = true, pr->fail_code = ev->code;
		break;
	case TURN_EV_CHANNEL:
		if (ev->code == 0)
			pr->chan_ok = true;
		else
			pr->chan_failed = true, pr->fail_code = ev->code;
		break;
	case TURN_EV_CLOSED:
		pr->closed = true;
		break;
	case TURN_EV_DATA:
		if (addr_equal((const struct sockaddr *)&ev->addr, (const struct sockaddr *)&pr->peer) &&
		    ev->len == pr->expect_len && !memcmp(ev->data, pr->expect, ev->len)) {
			pr->got_echo = true;
			pr->echo_channel = ev->channel;
		}
		break;
	default:
		break;
	}
}

static void drain_events(struct probe *pr)
{
	struct turn_client_event ev;
	while (turn_client_poll_event(&pr->c, &ev))
		on_event(pr, &ev);
}

/* Runs the loop until *flag (or a failure) or the deadline. */
static bool run_until(struct probe *pr, const bool *flag, uint64_t deadline)
{
	for (;;) {
		flush(pr);
		drain_events(pr);
		if (*flag)
			return true;
		if (pr->failed || pr->redirected)
			return false;
		uint64_t now = bench_mono_ms();
		if (now >= deadline)
			return false;
		uint64_t next = turn_client_timeout(&pr->c);
		if (next > deadline)
			next = deadline;
		int wait = next > now ? (int)(next - now) : 0;
		struct pollfd p = { .fd = pr->fd, .events = POLLIN };
		int r = poll(&p, 1, wait);
		now = bench_mono_ms();
		if (r > 0) {
			ssize_t n = recv(pr->fd, pr->io, sizeof(pr->io), 0);
			if (n == 0 || (n < 0 && errno != EINTR && errno != ECONNREFUSED)) {
				fprintf(stderr, "connection to the server lost\n");
				return false;
			}
			if (n > 0 && turn_client_input(&pr->c, pr->io, (size_t)n, now) == -EPROTO) {
				fprintf(stderr, "stream from the server is not STUN\n");
				return false;
			}
			drain_events(pr); /* DATA points into io */
		}
		turn_client_handle_timeout(&pr->c, now);
	}
}

enum { ECHO_RESEND_MS = 2000 };

/* Sends one payload to the peer through the relay and waits for its echo.
 * A datagram may be lost (on a busy machine a socket buffer overflows), so
 * the same payload goes again every ECHO_RESEND_MS until the echo comes or
 * timeout_ms is over: only an echo that never comes fails. */
static bool echo(struct probe *pr, int i, const char *kind, uint64_t timeout_ms)
{
	uint8_t out[256];
	uint64_t end = bench_mono_ms() + timeout_ms;
	pr->expect_len = (size_t)snprintf(pr->expect, sizeof(pr->expect), "turn_probe %s %d", kind, i);
	pr->got_echo = false;
	for (unsigned k = 0;; k++) {
		int n = turn_client_send(&pr->c, (struct sockaddr *)&pr->peer, (const uint8_t *)pr->expect,
					 pr->expect_len, out, sizeof(out));
		if (n < 0 || write_all(pr->fd, out, (size_t)n) < 0)
			return false;
		pr->resends += k > 0;
		uint64_t until = bench_mono_ms() + ECHO_RESEND_MS;
		if (run_until(pr, &pr->got_echo, until < end ? until : end))
			return true;
		if (pr->failed || pr->redirected || bench_mono_ms() >= end)
			return false;
	}
}

static void usage(void)
{
	fprintf(stderr,
		"usage: turn_probe -s SERVER[:PORT] -u USER -w PASS -p PEER:PORT [-T udp|tcp]\n"
		"                  [-n CHANNEL_MESSAGES] [-t TIMEOUT_S] [-v]\n");
	exit(2);
}

static int connect_server(const struct sockaddr_storage *srv, bool tcp)
{
	int fd = socket(srv->ss_family, tcp ? SOCK_STREAM : SOCK_DGRAM, 0);
	if (fd < 0 || connect(fd, (const struct sockaddr *)srv, addr_len((const struct sockaddr *)srv)) < 0) {
		perror("connect");
		exit(1);
	}
	return fd;
}

int main(int argc, char **argv)
{
	static struct probe pr;
	struct turn_client_config cfg = { 0 };
	const char *server = NULL, *peer = NULL;
	int count = 3, timeout_s = 10, opt;
	bool tcp = false;
	char a[ADDR_STRLEN], b[ADDR_STRLEN];

	while ((opt = getopt(argc, argv, "s:u:w:p:T:n:t:v")) != -1) {
		switch (opt) {
		case 's': server = optarg; break;
		case 'u': cfg.username = optarg; break;
		case 'w': cfg.password = optarg; break;
		case 'p': peer = optarg; break;
		case 'T': tcp = !strcmp(optarg, "tcp"); break;
		case 'n': count = atoi(optarg); break;
		case 't': timeout_s = atoi(optarg); break;
		case 'v': pr.verbose = true; break;
		default: usage();
		}
	}
	if (!server || !peer || !cfg.username || !cfg.password || count < 1 || timeout_s < 1)
		usage();
	if (addr_parse(server, 3478, &cfg.server) || addr_parse(peer, 0, &pr.peer)) {
		fprintf(stderr, "bad address\n");
		return 2;
	}
	cfg.transport = tcp ? TURN_CLIENT_TCP : TURN_CLIENT_UDP;
	cfg.family = pr.peer.ss_family;
	if (turn_client_init(&pr.c, &cfg) < 0) {
		fprintf(stderr, "bad client configuration\n");
		return 2;
	}
	pr.fd = connect_server(&cfg.server, tcp);
	uint64_t tmo = (uint64_t)timeout_s * 1000;
	int ok = 0, want = 0;

	turn_client_start(&pr.c, bench_mono_ms());
	if (!run_until(&pr, &pr.allocated, bench_mono_ms() + 45000)) {
		printf("allocate failed (code %d, state %s)\n", pr.fail_code,
		       turn_client_state_name(turn_client_state(&pr.c)));
		return 1;
	}
	printf("allocated relayed=%s mapped=%s lifetime=%u transport=%s\n",
	       addr_format(turn_client_relayed(&pr.c), true, a), addr_format(turn_client_mapped(&pr.c), true, b),
	       pr.c.lifetime, tcp ? "tcp" : "udp");

	turn_client_create_permission(&pr.c, (struct sockaddr *)&pr.peer, bench_mono_ms());
	if (!run_until(&pr, &pr.perm_ok, bench_mono_ms() + tmo) || pr.perm_failed) {
		printf("permission failed (code %d)\n", pr.fail_code);
		return 1;
	}
	printf("permission ok peer=%s\n", addr_format((struct sockaddr *)&pr.peer, true, a));

	want++;
	if (echo(&pr, 0, "send-indication", tmo)) {
		ok++;
		printf("send-indication echo ok\n");
	} else {
		printf("send-indication echo MISSING\n");
	}

	turn_client_bind_channel(&pr.c, (struct sockaddr *)&pr.peer, bench_mono_ms());
	if (!run_until(&pr, &pr.chan_ok, bench_mono_ms() + tmo) || pr.chan_failed) {
		printf("channel bind failed (code %d)\n", pr.fail_code);
		return 1;
	}
	printf("channel 0x%04x bound\n", turn_client_channel(&pr.c, (struct sockaddr *)&pr.peer));
	int chan_ok = 0;
	for (int i = 0; i < count; i++) {
		want++;
		if (echo(&pr, i, "channel-data", tmo) && pr.echo_channel != 0) {
			ok++;
			chan_ok++;
		}
	}
	printf("channel-data echo %d/%d\n", chan_ok, count);

	turn_client_close(&pr.c, bench_mono_ms());
	run_until(&pr, &pr.closed, bench_mono_ms() + 5000);
	printf("close %s\n", pr.closed ? "ok" : "no answer");
	printf("stats rx_bad=%llu retransmits=%llu echo_resends=%u\n", (unsigned long long)pr.c.stats.rx_bad,
	       (unsigned long long)pr.c.stats.retransmits, pr.resends);
	printf("result %s %d/%d echoes\n", ok == want ? "PASS" : "FAIL", ok, want);
	turn_client_free(&pr.c);
	close(pr.fd);
	return ok == want ? 0 : 1;
}
