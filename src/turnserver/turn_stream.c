#include "turn_stream.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>

#include "log.h"
#include "stun_chan.h"

enum { WQ_INITIAL = 4096 };

struct turn_stream {
	int fd;
	struct turn_stream_budget *budget;
	SSL *ssl;             /* NULL for plain TCP */
	bool handshake_done;
	int failed;           /* sticky -errno once the connection broke */
	struct turn_stream_stats *stats;
	/* write queue: bytes [wq_head, wq_tail) of wq are still to send */
	uint8_t *wq;
	size_t wq_cap, wq_head, wq_tail;
	size_t rlen;
	uint8_t rbuf[TURN_STREAM_RBUF];
};

static bool budget_get(struct turn_stream_budget *b, size_t n)
{
	if (!b || n == 0)
		return true;
	size_t before = atomic_fetch_add_explicit(&b->used, n, memory_order_relaxed);
	if (b->cap && before + n > b->cap) {
		atomic_fetch_sub_explicit(&b->used, n, memory_order_relaxed);
		atomic_fetch_add_explicit(&b->refused, 1, memory_order_relaxed);
		return false;
	}
	return true;
}

static void budget_put(struct turn_stream_budget *b, size_t n)
{
	if (b && n)
		atomic_fetch_sub_explicit(&b->used, n, memory_order_relaxed);
}

struct turn_stream *turn_stream_new(int fd, SSL_CTX *tls, struct turn_stream_stats *stats,
				    struct turn_stream_budget *budget)
{
	struct turn_stream *st = calloc(1, sizeof(*st));

	if (!st)
		return NULL;
	st->fd = fd;
	st->budget = budget;
	st->stats = stats;
	st->handshake_done = tls == NULL;
	if (tls) {
		st->ssl = SSL_new(tls);
		if (!st->ssl || SSL_set_fd(st->ssl, fd) != 1) {
			SSL_free(st->ssl);
			free(st);
			return NULL;
		}
		SSL_set_accept_state(st->ssl);
	}
	return st;
}

void turn_stream_free(struct turn_stream *st)
{
	if (!st)
		return;
	if (st->ssl) {
		if (st->handshake_done && !st->failed)
			(void)SSL_shutdown(st->ssl); /* best effort close_notify, never waits */
		SSL_free(st->ssl);
	}
	close(st->fd);
	budget_put(st->budget, st->wq_cap);
	free(st->wq);
	free(st);
}

int turn_stream_fd(const struct turn_stream *st) { return st->fd; }
int turn_stream_ready(const struct turn_stream *st) { return st->handshake_done; }

static size_t wq_len(const struct turn_stream *st) { return st->wq_tail - st->wq_head; }

size_t turn_stream_queued(const struct turn_stream *st) { return st->wq_cap; }

size_t turn_stream_shed_above(struct turn_stream_budget *b, unsigned nconns, uint64_t *seen)
{
	if (!b || !b->cap)
		return SIZE_MAX;
	uint64_t refused = atomic_load_explicit(&b->refused, memory_order_relaxed);
	size_t used = atomic_load_explicit(&b->used, memory_order_relaxed);
	bool pressure = refused != *seen || used > b->cap / 4 * 3;
	*seen = refused;
	if (!pressure)
		return SIZE_MAX;
	/* Everyone at or below the share fits in the budget together. */
	return b->cap / (nconns ? nconns : 1);
}

/* An empty queue gives its memory back to the budget. */
static void wq_release(struct turn_stream *st)
{
	budget_put(st->budget, st->wq_cap);
	free(st->wq);
	st->wq = NULL;
	st->wq_cap = st->wq_head = st->wq_tail = 0;
}

/* Makes room for n more bytes; false when the queue would exceed its cap. */
static bool wq_reserve(struct turn_stream *st, size_t n)
{
	size_t used = wq_len(st);

	if (used + n > TURN_STREAM_WQ_MAX)
		return false;
	if (st->wq_tail + n <= st->wq_cap)
		return true;
	if (st->wq_head) {
		memmove(st->wq, st->wq + st->wq_head, used);
		st->wq_head = 0;
		st->wq_tail = used;
		if (used + n <= st->wq_cap)
			return true;
	}
	size_t cap = st->wq_cap ? st->wq_cap : WQ_INITIAL;
	while (cap < used + n)
		cap *= 2;
	if (cap > TURN_STREAM_WQ_MAX)
		cap = TURN_STREAM_WQ_MAX;
	if (!budget_get(st->budget, cap - st->wq_cap))
		return false;
	uint8_t *p = realloc(st->wq, cap);
	if (!p) {
		budget_put(st->budget, cap - st->wq_cap);
		return false;
	}
	st->wq = p;
	st->wq_cap = cap;
	return true;
}

static void wq_append(struct turn_stream *st, const struct iovec *iov, int iovcnt, size_t skip)
{
	for (int i = 0; i < iovcnt; i++) {
		size_t len = iov[i].iov_len;
		const uint8_t *base = iov[i].iov_base;
		if (skip >= len) {
			skip -= len;
			continue;
		}
		memcpy(st->wq + st->wq_tail, base + skip, len - skip);
		st->wq_tail += len - skip;
		skip = 0;
	}
}

static int ssl_fail(struct turn_stream *st, int ret)
{
	int e = SSL_get_error(st->ssl, ret);

	if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
		return -EAGAIN;
	if (e == SSL_ERROR_ZERO_RETURN)
		return -ECONNRESET;
	if (e == SSL_ERROR_SYSCALL && errno && errno != EAGAIN)
		return -errno;
	ERR_clear_error();
	return -EPROTO;
}

/* Writes queued bytes until the socket would block. */
static int wq_flush(struct turn_stream *st)
{
	while (wq_len(st) > 0) {
		const uint8_t *p = st->wq + st->wq_head;
		size_t n = wq_len(st);
		ssize_t w;

		if (st->ssl) {
			int r = SSL_write(st->ssl, p, n > INT32_MAX ? INT32_MAX : (int)n);
			if (r <= 0) {
				int err = ssl_fail(st, r);
				return err == -EAGAIN ? 0 : err;
			}
			w = r;
		} else {
			w = send(st->fd, p, n, MSG_NOSIGNAL);
			if (w < 0)
				return errno == EAGAIN || errno == EINTR ? 0 : -errno;
		}
		st->wq_head += (size_t)w;
		st->stats->bytes_out += (uint64_t)w;
	}
	wq_release(st);
	return 0;
}

int turn_stream_send(struct turn_stream *st, const struct iovec *iov, int iovcnt)
{
	size_t total = 0, done = 0;

	if (st->failed)
		return -EPIPE;
	for (int i = 0; i < iovcnt; i++)
		total += iov[i].iov_len;
	/* Plain TCP with nothing queued: write straight from the caller's
	 * buffers, and queue only what the socket did not take. */
	if (!st->ssl && wq_len(st) == 0) {
		struct msghdr mh = { .msg_iov = (struct iovec *)iov, .msg_iovlen = (size_t)iovcnt };
		ssize_t w = sendmsg(st->fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (w < 0 && errno != EAGAIN && errno != EINTR) {
			st->failed = -errno;
			return -EPIPE;
		}
		done = w > 0 ? (size_t)w : 0;
		st->stats->bytes_out += done;
		if (done == total) {
			st->stats->frames_out++;
			return 0;
		}
	}
	if (!wq_reserve(st, total - done)) {
		/* A partly written frame must still be finished, or the stream
		 * loses its framing; only frames not yet started are dropped. */
		if (done == 0) {
			st->stats->dropped_wq++;
			return -ENOBUFS;
		}
		st->failed = -ENOBUFS;
		return -EPIPE;
	}
	wq_append(st, iov, iovcnt, done);
	st->stats->frames_out++;
	if (!st->handshake_done)
		return 0;
	int err = wq_flush(st);
	if (err < 0) {
		st->failed = err;
		return -EPIPE;
	}
	return 0;
}

static ssize_t stream_read(struct turn_stream *st, uint8_t *buf, size_t len)
{
	if (st->ssl) {
		int r = SSL_read(st->ssl, buf, len > INT32_MAX ? INT32_MAX : (int)len);
		return r > 0 ? r : ssl_fail(st, r);
	}
	ssize_t r = recv(st->fd, buf, len, 0);
	if (r == 0)
		return -ECONNRESET;
	if (r < 0)
		return errno == EINTR ? -EAGAIN : -errno;
	return r;
}

/* Hands every complete frame at the start of rbuf to fn and keeps the rest. */
static int deliver_frames(struct turn_stream *st, turn_stream_frame_fn fn, void *ctx)
{
	size_t off = 0;

	while (off < st->rlen) {
		long n = stun_stream_frame_len(st->rbuf + off, st->rlen - off);
		if (n < 0 || n > TURN_STREAM_MAX_FRAME) {
			st->stats->bad_framing++;
			return -EBADMSG;
		}
		if (n == 0 || (size_t)n > st->rlen - off)
			break;
		st->stats->frames_in++;
		fn(ctx, st->rbuf + off, (size_t)n);
		off += (size_t)n;
	}
	if (off) {
		memmove(st->rbuf, st->rbuf + off, st->rlen - off);
		st->rlen -= off;
	}
	return 0;
}

static int handshake(struct turn_stream *st)
{
	int r = SSL_do_handshake(st->ssl);

	if (r == 1) {
		st->handshake_done = true;
		return 0;
	}
	int err = ssl_fail(st, r);
	if (err != -EAGAIN)
		st->stats->tls_failed++;
	return err;
}

int turn_stream_on_event(struct turn_stream *st, turn_stream_frame_fn fn, void *ctx)
{
	int err;

	if (st->failed)
		return st->failed;
	if (!st->handshake_done) {
		err = handshake(st);
		if (err == -EAGAIN)
			return 0;
		if (err < 0)
			return err;
	}
	/* Edge-triggered: read until the socket (and TLS) has nothing more.
	 * A partial frame is always shorter than TURN_STREAM_MAX_FRAME, so
	 * there is room left in rbuf after deliver_frames. */
	for (;;) {
		ssize_t r = stream_read(st, st->rbuf + st->rlen, sizeof(st->rbuf) - st->rlen);
		if (r == -EAGAIN)
			break;
		if (r < 0)
			return r;
		st->rlen += (size_t)r;
		st->stats->bytes_in += (uint64_t)r;
		err = deliver_frames(st, fn, ctx);
		if (err < 0)
			return err;
		if (st->failed)
			return st->failed;
	}
	err = wq_flush(st);
	if (err < 0)
		st->failed = err;
	return err;
}

SSL_CTX *turn_stream_tls_ctx_new(const char *cert_file, const char *key_file)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());

	if (!ctx)
		return NULL;
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
				      SSL_MODE_RELEASE_BUFFERS);
	if (!cert_file || !key_file) {
		log_error("tls: cert_file and private_key_file are required");
		goto fail;
	}
	if (SSL_CTX_use_certificate_chain_file(ctx, cert_file) != 1) {
		log_error("tls: cannot load certificate %s", cert_file);
		goto fail;
	}
	if (SSL_CTX_use_PrivateKey_file(ctx, key_file, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1) {
		log_error("tls: cannot load private key %s (or it does not match the certificate)",
			  key_file);
		goto fail;
	}
	return ctx;
fail:
	ERR_clear_error();
	SSL_CTX_free(ctx);
	return NULL;
}
