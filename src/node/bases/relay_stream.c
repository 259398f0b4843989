/* TCP/TLS to the TURN server (see relay_stream.h). Everything is
 * non-blocking; the socket is registered on the data thread's event loop
 * with relay_stream.c's own handler. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "log.h"
#include "bases.h"
#include "relay_stream.h"

enum { STREAM_IN_CAP = 64 * 1024 };

int relay_stream_init(struct bases *b)
{
	struct relay *r = &b->relay;

	r->out = malloc(RELAY_STREAM_OUT_MAX);
	r->in = malloc(STREAM_IN_CAP);
	return r->out && r->in ? 0 : -ENOMEM;
}

void relay_stream_free(struct bases *b)
{
	relay_stream_close(b);
	free(b->relay.out);
	free(b->relay.in);
	b->relay.out = b->relay.in = NULL;
}

static void on_stream(void *ctx, uint32_t events, uint64_t now_ms);

static void ep_set(struct bases *b, uint32_t mask)
{
	struct relay *r = &b->relay;

	if (r->ep_mask == mask)
		return;
	int rc = r->ep_mask ? evloop_mod(b->loop, r->fd, mask) : evloop_add(b->loop, r->fd, mask, on_stream, b);
	if (rc == 0)
		r->ep_mask = mask;
	else
		log_warn("relay: cannot watch the stream socket: %s", strerror(-rc));
}

void relay_stream_close(struct bases *b)
{
	struct relay *r = &b->relay;

	if (r->ssl)
		SSL_free(r->ssl);
	if (r->ssl_ctx)
		SSL_CTX_free(r->ssl_ctx);
	r->ssl = NULL;
	r->ssl_ctx = NULL;
	if (r->fd >= 0) {
		if (r->ep_mask)
			evloop_del(b->loop, r->fd);
		close(r->fd);
	}
	r->fd = -1;
	r->ep_mask = 0;
	r->connected = r->tls_done = r->broken = false;
	r->out_start = r->out_len = 0;
}

static bool is_ip_literal(const char *h)
{
	struct in6_addr a;
	return inet_pton(AF_INET, h, &a) == 1 || inet_pton(AF_INET6, h, &a) == 1;
}

static int tls_setup(struct bases *b, const char *ca_file, const char *host)
{
	struct relay *r = &b->relay;
	char ip[INET_ADDRSTRLEN];

	r->ssl_ctx = SSL_CTX_new(TLS_client_method());
	if (!r->ssl_ctx)
		return -ENOMEM;
	SSL_CTX_set_min_proto_version(r->ssl_ctx, TLS1_2_VERSION);
	SSL_CTX_set_verify(r->ssl_ctx, SSL_VERIFY_PEER, NULL);
	if (ca_file ? SSL_CTX_load_verify_locations(r->ssl_ctx, ca_file, NULL) != 1
		    : SSL_CTX_set_default_verify_paths(r->ssl_ctx) != 1) {
		log_warn("relay: cannot load CA certificates%s%s", ca_file ? " from " : "", ca_file ? ca_file : "");
		return -EINVAL;
	}
	r->ssl = SSL_new(r->ssl_ctx);
	if (!r->ssl || SSL_set_fd(r->ssl, r->fd) != 1)
		return -ENOMEM;
	SSL_set_mode(r->ssl, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	if (!host)
		host = inet_ntop(AF_INET, &r->server.sin_addr, ip, sizeof(ip));
	if (is_ip_literal(host)) {
		X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(r->ssl), host);
	} else {
		SSL_set_tlsext_host_name(r->ssl, host);
		SSL_set1_host(r->ssl, host);
	}
	SSL_set_connect_state(r->ssl);
	return 0;
}

int relay_stream_open(struct bases *b, const char *ca_file, const char *host)
{
	struct relay *r = &b->relay;
	int one = 1, rc;

	relay_stream_close(b);
	r->stream_gen++;
	r->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (r->fd < 0)
		return -errno;
	setsockopt(r->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(r->fd, (struct sockaddr *)&r->server, sizeof(r->server)) < 0 && errno != EINPROGRESS) {
		rc = -errno;
		log_warn("relay: connect to %s: %s", r->server_name, strerror(-rc));
		relay_stream_close(b);
		return rc;
	}
	if (r->transport == NODE_TURN_TLS && (rc = tls_setup(b, ca_file, host)) < 0) {
		relay_stream_close(b);
		return rc;
	}
	ep_set(b, EPOLLIN | EPOLLOUT);
	return 0;
}

static void flush_out(struct bases *b)
{
	struct relay *r = &b->relay;

	while (r->out_start < r->out_len && !r->broken) {
		size_t k = r->out_len - r->out_start;
		ssize_t w;
		if (r->ssl) {
			int rc = SSL_write(r->ssl, r->out + r->out_start, (int)k);
			if (rc <= 0) {
				int e = SSL_get_error(r->ssl, rc);
				if (e != SSL_ERROR_WANT_WRITE && e != SSL_ERROR_WANT_READ)
					r->broken = true;
				break;
			}
			w = rc;
		} else {
			w = send(r->fd, r->out + r->out_start, k, MSG_NOSIGNAL | MSG_DONTWAIT);
			if (w < 0) {
				if (errno != EAGAIN && errno != EINTR)
					r->broken = true;
				break;
			}
		}
		r->out_start += (size_t)w;
	}
	if (r->out_start == r->out_len)
		r->out_start = r->out_len = 0;
	if (r->fd >= 0)
		ep_set(b, EPOLLIN | (r->out_len ? EPOLLOUT : 0));
}

int relay_stream_write(struct bases *b, const uint8_t *buf, size_t len)
{
	struct relay *r = &b->relay;

	if (r->fd < 0 || r->broken)
		return -ENOTCONN;
	if (r->out_start && r->out_len + len > RELAY_STREAM_OUT_MAX) {
		memmove(r->out, r->out + r->out_start, r->out_len - r->out_start);
		r->out_len -= r->out_start;
		r->out_start = 0;
	}
	if (r->out_len + len > RELAY_STREAM_OUT_MAX)
		return -ENOBUFS;
	memcpy(r->out + r->out_len, buf, len);
	r->out_len += len;
	if (r->connected && (!r->ssl || r->tls_done))
		flush_out(b);
	return 0;
}

static const char *ssl_why(struct bases *b, char *buf, size_t cap)
{
	long v = b->relay.ssl ? SSL_get_verify_result(b->relay.ssl) : X509_V_OK;
	unsigned long e = ERR_get_error();

	if (v != X509_V_OK)
		snprintf(buf, cap, "certificate: %s", X509_verify_cert_error_string(v));
	else if (e)
		ERR_error_string_n(e, buf, cap);
	else
		snprintf(buf, cap, "connection closed");
	ERR_clear_error();
	return buf;
}

/* Connect and TLS progress; true once TURN can run. */
static bool establish(struct bases *b, uint64_t now_ms)
{
	struct relay *r = &b->relay;
	char why[160], msg[200];

	if (!r->connected) {
		int err = 0;
		socklen_t sl = sizeof(err);
		getsockopt(r->fd, SOL_SOCKET, SO_ERROR, &err, &sl);
		if (err) {
			snprintf(msg, sizeof(msg), "connect: %s", strerror(err));
			relay_stream_failed(b, now_ms, msg);
			return false;
		}
		r->connected = true;
		if (!r->ssl) {
			relay_stream_ready(b, now_ms);
			return true;
		}
	}
	if (r->ssl && !r->tls_done) {
		int rc = SSL_do_handshake(r->ssl);
		if (rc == 1) {
			r->tls_done = true;
			log_info("relay: TLS with %s established (%s, certificate verified)", r->server_name,
				 SSL_get_version(r->ssl));
			relay_stream_ready(b, now_ms);
			return true;
		}
		int e = SSL_get_error(r->ssl, rc);
		if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
			ep_set(b, EPOLLIN | (e == SSL_ERROR_WANT_WRITE ? EPOLLOUT : 0));
			return false;
		}
		snprintf(msg, sizeof(msg), "TLS handshake: %s", ssl_why(b, why, sizeof(why)));
		relay_stream_failed(b, now_ms, msg);
		return false;
	}
	return true;
}

static void read_in(struct bases *b, uint64_t now_ms)
{
	struct relay *r = &b->relay;
	unsigned gen = r->stream_gen;
	char why[160];

	for (int rounds = 0; rounds < 16 && r->fd >= 0 && gen == r->stream_gen; rounds++) {
		ssize_t k;
		if (r->ssl) {
			int rc = SSL_read(r->ssl, r->in, STREAM_IN_CAP);
			if (rc <= 0) {
				int e = SSL_get_error(r->ssl, rc);
				if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
					return;
				relay_stream_failed(b, now_ms, ssl_why(b, why, sizeof(why)));
				return;
			}
			k = rc;
		} else {
			k = recv(r->fd, r->in, STREAM_IN_CAP, MSG_DONTWAIT);
			if (k < 0 && (errno == EAGAIN || errno == EINTR))
				return;
			if (k <= 0) {
				relay_stream_failed(b, now_ms, k == 0 ? "connection closed by the server"
								   : strerror(errno));
				return;
			}
		}
		relay_feed(b, r->in, (size_t)k, now_ms);
	}
}

static void on_stream(void *ctx, uint32_t events, uint64_t now_ms)
{
	struct bases *b = ctx;
	struct relay *r = &b->relay;
	unsigned gen = r->stream_gen;

	if (r->fd < 0)
		return;
	if (!r->connected || (r->ssl && !r->tls_done)) {
		if (!establish(b, now_ms) || gen != r->stream_gen || r->fd < 0)
			return;
	}
	if (events & (EPOLLIN | EPOLLHUP | EPOLLERR))
		read_in(b, now_ms);
	if (gen == r->stream_gen && r->fd >= 0)
		flush_out(b);
}
