/* ipopctl netcheck's probes (see netcheck_probe.h). The STUN transactions
 * are the sans-IO stun_client's; this file moves their bytes. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "addr.h"
#include "netcheck_probe.h"
#include "stun_client.h"
#include "stun_proto.h"

static uint64_t now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static socklen_t sa_len(const struct sockaddr_storage *ss)
{
	return ss->ss_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
}

/* The source address the kernel picks towards dst, with the probe port. */
static void local_towards(int fd, const struct sockaddr_storage *dst, struct sockaddr_storage *local)
{
	struct sockaddr_storage mine;
	socklen_t sl = sizeof(mine);
	int t = socket(dst->ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	memset(local, 0, sizeof(*local));
	if (getsockname(fd, (struct sockaddr *)&mine, &sl) < 0)
		return;
	*local = mine;
	if (t < 0)
		return;
	sl = sizeof(*local);
	if (connect(t, (const struct sockaddr *)dst, sa_len(dst)) == 0 &&
	    getsockname(t, (struct sockaddr *)local, &sl) == 0) {
		if (local->ss_family == AF_INET)
			((struct sockaddr_in *)local)->sin_port = ((struct sockaddr_in *)&mine)->sin_port;
	}
	close(t);
}

static void udp_flush(int fd, struct stun_client *cl, struct netcheck_stun *s, unsigned n, uint64_t *sent_at)
{
	uint8_t buf[STUN_CLIENT_MSG_MAX];
	int len;

	for (unsigned i = 0; i < n; i++) {
		while ((len = stun_client_poll_transmit(&cl[i], buf, sizeof(buf))) > 0) {
			if (!sent_at[i])
				sent_at[i] = now_us();
			if (sendto(fd, buf, (size_t)len, 0, (struct sockaddr *)&s[i].server, sa_len(&s[i].server)) < 0)
				snprintf(s[i].error, sizeof(s[i].error), "send: %s", strerror(errno));
		}
	}
}

static void udp_input(int fd, struct stun_client *cl, struct netcheck_stun *s, unsigned n, const uint64_t *sent_at)
{
	uint8_t buf[1500];
	struct sockaddr_storage from;
	socklen_t fl = sizeof(from);
	ssize_t r = recvfrom(fd, buf, sizeof(buf), MSG_DONTWAIT, (struct sockaddr *)&from, &fl);

	if (r <= 0)
		return;
	for (unsigned i = 0; i < n; i++) {
		if (s[i].answered || !addr_equal((struct sockaddr *)&from, (struct sockaddr *)&s[i].server))
			continue;
		if (stun_client_input(&cl[i], buf, (size_t)r, now_us() / 1000) != 0)
			return;
		if (stun_client_state(&cl[i]) == STUN_CLIENT_DONE) {
			s[i].answered = true;
			memcpy(&s[i].mapped, stun_client_mapped(&cl[i]), sizeof(s[i].mapped));
			s[i].other = cl[i].other;
			s[i].rtt_us = (uint32_t)(now_us() - sent_at[i]);
		} else {
			snprintf(s[i].error, sizeof(s[i].error), "STUN error %d", cl[i].error);
		}
		return;
	}
}

int netcheck_probe_udp(struct netcheck_stun *s, unsigned n, struct sockaddr_storage *local)
{
	struct stun_client cl[NETCHECK_MAX_STUN];
	uint64_t sent_at[NETCHECK_MAX_STUN] = { 0 };
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -errno;
	if (n > NETCHECK_MAX_STUN)
		n = NETCHECK_MAX_STUN;
	struct sockaddr_in any = { .sin_family = AF_INET };
	if (bind(fd, (struct sockaddr *)&any, sizeof(any)) < 0) {
		int e = -errno;
		close(fd);
		return e;
	}
	uint64_t t0 = now_us() / 1000, end = t0 + NETCHECK_TIMEOUT_MS;
	for (unsigned i = 0; i < n; i++) {
		stun_client_init(&cl[i], false, 0);
		stun_client_start(&cl[i], t0);
	}
	if (n)
		local_towards(fd, &s[0].server, local);
	for (;;) {
		uint64_t now = now_us() / 1000, next = end;
		bool pending = false;
		for (unsigned i = 0; i < n; i++) {
			if (stun_client_state(&cl[i]) != STUN_CLIENT_RUNNING)
				continue;
			if (now >= stun_client_timeout(&cl[i]))
				stun_client_handle_timeout(&cl[i], now);
			if (stun_client_state(&cl[i]) == STUN_CLIENT_RUNNING) {
				pending = true;
				if (stun_client_timeout(&cl[i]) < next)
					next = stun_client_timeout(&cl[i]);
			}
		}
		udp_flush(fd, cl, s, n, sent_at);
		if (!pending || now >= end)
			break;
		struct pollfd p = { .fd = fd, .events = POLLIN };
		if (poll(&p, 1, (int)(next > now ? next - now : 0)) > 0)
			udp_input(fd, cl, s, n, sent_at);
	}
	for (unsigned i = 0; i < n; i++)
		if (!s[i].answered && !s[i].error[0])
			snprintf(s[i].error, sizeof(s[i].error), "no answer within %d ms", NETCHECK_TIMEOUT_MS);
	close(fd);
	return 0;
}

/* ---- streams ---- */

static int tcp_connect(const struct sockaddr_storage *dst, char *err, size_t cap)
{
	int fd = socket(dst->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(err, cap, "socket: %s", strerror(errno));
		return -1;
	}
	if (connect(fd, (const struct sockaddr *)dst, sa_len(dst)) < 0 && errno != EINPROGRESS) {
		snprintf(err, cap, "connect: %s", strerror(errno));
		close(fd);
		return -1;
	}
	struct pollfd p = { .fd = fd, .events = POLLOUT };
	int soerr = 0;
	socklen_t sl = sizeof(soerr);
	if (poll(&p, 1, NETCHECK_TIMEOUT_MS) <= 0) {
		snprintf(err, cap, "TCP connect timed out");
		close(fd);
		return -1;
	}
	getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl);
	if (soerr) {
		snprintf(err, cap, "TCP connect: %s", strerror(soerr));
		close(fd);
		return -1;
	}
	/* blocking from here, bounded by socket timeouts */
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
	struct timeval tv = { .tv_sec = NETCHECK_TIMEOUT_MS / 1000, .tv_usec = (NETCHECK_TIMEOUT_MS % 1000) * 1000 };
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	return fd;
}

struct stream {
	int fd;
	SSL *ssl;
};

static int s_write(struct stream *st, const uint8_t *b, size_t n)
{
	if (st->ssl)
		return SSL_write(st->ssl, b, (int)n) == (int)n ? 0 : -1;
	return write(st->fd, b, n) == (ssize_t)n ? 0 : -1;
}

static int s_read_full(struct stream *st, uint8_t *b, size_t n)
{
	size_t got = 0;
	while (got < n) {
		int r = st->ssl ? SSL_read(st->ssl, b + got, (int)(n - got)) : (int)read(st->fd, b + got, n - got);
		if (r <= 0)
			return -1;
		got += (size_t)r;
	}
	return 0;
}

static SSL *tls_open(int fd, const struct netcheck_relay *r, char *err, size_t cap)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	SSL *ssl = NULL;
	struct in6_addr ip;

	if (!ctx)
		goto fail;
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	if (r->ca_file ? SSL_CTX_load_verify_locations(ctx, r->ca_file, NULL) != 1
		       : SSL_CTX_set_default_verify_paths(ctx) != 1) {
		snprintf(err, cap, "cannot load CA %s", r->ca_file ? r->ca_file : "store");
		SSL_CTX_free(ctx);
		return NULL;
	}
	ssl = SSL_new(ctx);
	SSL_CTX_free(ctx); /* the SSL keeps a reference */
	if (!ssl)
		goto fail;
	bool literal = inet_pton(AF_INET, r->host, &ip) == 1 || inet_pton(AF_INET6, r->host, &ip) == 1;
	if (literal) {
		X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), r->host);
	} else {
		SSL_set_tlsext_host_name(ssl, r->host);
		SSL_set1_host(ssl, r->host);
	}
	SSL_set_fd(ssl, fd);
	if (SSL_connect(ssl) == 1)
		return ssl;
	long v = SSL_get_verify_result(ssl);
	if (v != X509_V_OK)
		snprintf(err, cap, "TLS: certificate not accepted: %s", X509_verify_cert_error_string(v));
	else
		snprintf(err, cap, "TLS handshake failed: %s", ERR_reason_error_string(ERR_peek_last_error())
									   ? ERR_reason_error_string(ERR_peek_last_error())
									   : "connection closed");
	SSL_free(ssl);
	return NULL;
fail:
	snprintf(err, cap, "TLS setup failed");
	SSL_free(ssl);
	return NULL;
}

/* One Binding over the stream: the request, then one whole response. */
static int stream_binding(struct stream *st, struct netcheck_relay *r)
{
	struct stun_client cl;
	uint8_t buf[STUN_CLIENT_MSG_MAX + 512];
	uint64_t now = now_us() / 1000;

	stun_client_init(&cl, true, 0);
	stun_client_start(&cl, now);
	int len = stun_client_poll_transmit(&cl, buf, sizeof(buf));
	if (len <= 0 || s_write(st, buf, (size_t)len) < 0) {
		snprintf(r->error, sizeof(r->error), "cannot send the STUN request");
		return -1;
	}
	if (s_read_full(st, buf, STUN_HEADER_LEN) < 0) {
		snprintf(r->error, sizeof(r->error), "no STUN answer on the stream");
		return -1;
	}
	size_t body = (size_t)buf[2] << 8 | buf[3];
	if (body > sizeof(buf) - STUN_HEADER_LEN || s_read_full(st, buf + STUN_HEADER_LEN, body) < 0) {
		snprintf(r->error, sizeof(r->error), "bad STUN answer on the stream");
		return -1;
	}
	if (stun_client_input(&cl, buf, STUN_HEADER_LEN + body, now_us() / 1000) != 0 ||
	    stun_client_state(&cl) != STUN_CLIENT_DONE) {
		snprintf(r->error, sizeof(r->error), "STUN answer refused (%d)", cl.error);
		return -1;
	}
	memcpy(&r->mapped, stun_client_mapped(&cl), sizeof(r->mapped));
	return 0;
}

void netcheck_probe_stream(struct netcheck_relay *r)
{
	uint64_t t0 = now_us();
	struct stream st = { -1, NULL };

	r->ok = false;
	st.fd = tcp_connect(&r->server, r->error, sizeof(r->error));
	if (st.fd < 0)
		return;
	if (r->tls && !(st.ssl = tls_open(st.fd, r, r->error, sizeof(r->error)))) {
		close(st.fd);
		return;
	}
	if (stream_binding(&st, r) == 0) {
		r->ok = true;
		r->rtt_us = (uint32_t)(now_us() - t0);
	}
	if (st.ssl) {
		SSL_shutdown(st.ssl);
		SSL_free(st.ssl);
	}
	close(st.fd);
}

/* ---- RFC 5780 ---- */

/* One Binding of the RFC 5780 tests: from socket fds[sock] to dst, with
 * CHANGE-REQUEST flags; the answer is matched by transaction id, whatever
 * address it comes from (that is the point of a change). */
struct txn {
	unsigned sock;
	struct sockaddr_storage dst;
	struct stun_client cl;
};

static void txn_input(int fd, unsigned sock, struct txn *t, unsigned n)
{
	uint8_t buf[1500];
	ssize_t r = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);

	if (r <= 0)
		return;
	for (unsigned i = 0; i < n; i++)
		if (t[i].sock == sock && stun_client_state(&t[i].cl) == STUN_CLIENT_RUNNING &&
		    stun_client_input(&t[i].cl, buf, (size_t)r, now_us() / 1000) == 0)
			return;
}

/* Runs the transactions together until all are answered or budget_ms
 * passed: a test whose answer is filtered out waits the whole budget. */
static void run_txns(const int *fds, unsigned nfds, struct txn *t, unsigned n, uint64_t budget_ms)
{
	uint8_t buf[STUN_CLIENT_MSG_MAX];
	uint64_t t0 = now_us() / 1000, end = t0 + budget_ms;

	for (unsigned i = 0; i < n; i++) {
		uint8_t change = t[i].cl.change;
		stun_client_init(&t[i].cl, false, 0);
		t[i].cl.change = change;
		stun_client_start(&t[i].cl, t0);
	}
	for (;;) {
		uint64_t now = now_us() / 1000, next = end;
		bool pending = false;
		for (unsigned i = 0; i < n; i++) {
			struct stun_client *c = &t[i].cl;
			if (stun_client_state(c) == STUN_CLIENT_RUNNING && now >= stun_client_timeout(c))
				stun_client_handle_timeout(c, now);
			if (stun_client_state(c) != STUN_CLIENT_RUNNING)
				continue;
			pending = true;
			int len;
			while ((len = stun_client_poll_transmit(c, buf, sizeof(buf))) > 0)
				(void)sendto(fds[t[i].sock], buf, (size_t)len, 0,
					     (const struct sockaddr *)&t[i].dst, sa_len(&t[i].dst));
			if (stun_client_timeout(c) < next)
				next = stun_client_timeout(c);
		}
		if (!pending || now >= end)
			return;
		struct pollfd p[2];
		for (unsigned k = 0; k < nfds; k++)
			p[k] = (struct pollfd){ .fd = fds[k], .events = POLLIN };
		if (poll(p, nfds, (int)(next > now ? next - now : 0)) <= 0)
			continue;
		for (unsigned k = 0; k < nfds; k++)
			if (p[k].revents & POLLIN)
				txn_input(fds[k], k, t, n);
	}
}

static bool txn_done(const struct txn *t)
{
	return stun_client_state(&t->cl) == STUN_CLIENT_DONE;
}

static int udp_socket(void)
{
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in any = { .sin_family = AF_INET };

	if (fd >= 0 && bind(fd, (struct sockaddr *)&any, sizeof(any)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

int netcheck_probe_5780(const struct sockaddr_storage *server, struct netcheck_5780 *d)
{
	int fds[2] = { udp_socket(), udp_socket() };
	struct txn t[4];

	memset(d, 0, sizeof(*d));
	d->server = *server;
	if (fds[0] < 0 || fds[1] < 0 || server->ss_family != AF_INET) {
		int e = fds[0] < 0 || fds[1] < 0 ? -errno : -EAFNOSUPPORT;
		if (fds[0] >= 0)
			close(fds[0]);
		if (fds[1] >= 0)
			close(fds[1]);
		return e;
	}
	local_towards(fds[0], server, &d->local);
	/* Test I from both sockets: the mapping, and OTHER-ADDRESS. */
	memset(t, 0, sizeof(t));
	for (unsigned i = 0; i < 2; i++)
		t[i] = (struct txn){ .sock = i, .dst = *server };
	run_txns(fds, 2, t, 2, NETCHECK_TIMEOUT_MS);
	if (txn_done(&t[0]) && t[0].cl.other.ss_family == server->ss_family) {
		d->map_ok[0] = true;
		d->mapped[0] = t[0].cl.mapped;
		d->other = t[0].cl.other;
	}
	d->filt_ran = txn_done(&t[1]) && d->map_ok[0];
	if (d->map_ok[0]) {
		/* Mapping II and III, filtering II and III, all at once. */
		memset(t, 0, sizeof(t));
		t[0] = (struct txn){ .sock = 0, .dst = d->other };
		addr_set_port((struct sockaddr *)&t[0].dst, addr_port((const struct sockaddr *)server));
		t[1] = (struct txn){ .sock = 0, .dst = d->other };
		t[2] = (struct txn){ .sock = 1, .dst = *server };
		t[2].cl.change = STUN_CHANGE_IP | STUN_CHANGE_PORT;
		t[3] = (struct txn){ .sock = 1, .dst = *server };
		t[3].cl.change = STUN_CHANGE_PORT;
		run_txns(fds, 2, t, d->filt_ran ? 4 : 2, NETCHECK_TIMEOUT_MS);
		for (unsigned i = 0; i < 2; i++) {
			d->map_ok[i + 1] = txn_done(&t[i]);
			d->mapped[i + 1] = t[i].cl.mapped;
		}
		d->filt_both = txn_done(&t[2]);
		d->filt_port = txn_done(&t[3]);
	}
	close(fds[0]);
	close(fds[1]);
	return 0;
}
