/* One TCP or TLS client connection of the relay: non-blocking handshake,
 * framing of STUN and ChannelData (RFC 8656 section 12.5), a bounded read
 * buffer and a bounded write queue. It does not know epoll: the worker
 * calls turn_stream_on_event on every readiness event (edge-triggered,
 * registered for EPOLLIN | EPOLLOUT | EPOLLRDHUP) and closes the stream
 * when that returns an error.
 *
 * Write queues hold memory only while they hold bytes (a queue that
 * drains gives its buffer back), and all of them together draw on one
 * budget shared by the workers: past it no queue grows, frames are
 * dropped as UDP would drop them, and the worker closes the connections
 * that hold more than their share (turn_stream_shed), the slowest readers
 * first. */
#ifndef IPOP_TURN_STREAM_H
#define IPOP_TURN_STREAM_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include <openssl/ssl.h>

enum {
	/* The largest frame a client may send: a STUN message or ChannelData
	 * with room for a 1500-byte payload several times over. Larger frames
	 * close the connection. */
	TURN_STREAM_MAX_FRAME = 8192,
	TURN_STREAM_RBUF = TURN_STREAM_MAX_FRAME + 4096,
	/* Bytes queued towards a client that reads too slowly; frames that do
	 * not fit are dropped whole (as UDP would), never cut. */
	TURN_STREAM_WQ_MAX = 256 * 1024,
};

struct turn_stream_stats {
	uint64_t frames_in, frames_out, bytes_in, bytes_out;
	uint64_t dropped_wq;   /* frames dropped because the write queue was full */
	uint64_t bad_framing;  /* connections closed for framing errors / oversize frames */
	uint64_t tls_failed;   /* failed TLS handshakes */
};

/* The memory of the write queues of all connections (all workers). */
struct turn_stream_budget {
	atomic_size_t used;            /* bytes of queue buffers allocated */
	size_t cap;                    /* 0 = unlimited */
	atomic_uint_least64_t refused; /* growths refused, ever */
};

struct turn_stream;

/* Called for every complete frame. The stream stays valid during the call,
 * even if a send on it fails. */
typedef void (*turn_stream_frame_fn)(void *ctx, const uint8_t *frame, size_t len);

/* Takes ownership of fd (non-blocking, connected). tls NULL = plain TCP.
 * stats is shared by the worker's streams (not thread-safe); budget, when
 * not NULL, by every stream of the process. */
struct turn_stream *turn_stream_new(int fd, SSL_CTX *tls, struct turn_stream_stats *stats,
				    struct turn_stream_budget *budget);
/* Closes the fd and frees everything. */
void turn_stream_free(struct turn_stream *st);
int turn_stream_fd(const struct turn_stream *st);
/* true once the TLS handshake is done (always for TCP). */
int turn_stream_ready(const struct turn_stream *st);

/* Drives the handshake, reads every available byte and hands complete
 * frames to fn, then flushes the write queue. Returns 0 to keep the
 * connection, or -errno to close it (-ECONNRESET on EOF, -EBADMSG on a
 * framing error, -EPROTO for TLS failures). */
int turn_stream_on_event(struct turn_stream *st, turn_stream_frame_fn fn, void *ctx);

/* Queues one whole frame and writes what the socket takes. Returns 0,
 * -ENOBUFS when dropped (queue full), or -EPIPE when the connection has
 * failed (the next turn_stream_on_event reports it). */
int turn_stream_send(struct turn_stream *st, const struct iovec *iov, int iovcnt);

/* Bytes of write-queue memory the stream holds now. */
size_t turn_stream_queued(const struct turn_stream *st);
/* Under memory pressure (the budget refused a growth since *seen, or is
 * more than 3/4 used), the most queue memory one of nconns connections may
 * hold before it is dropped as a slow reader: the budget's fair share.
 * SIZE_MAX when there is no pressure. Updates *seen. */
size_t turn_stream_shed_above(struct turn_stream_budget *b, unsigned nconns, uint64_t *seen);

/* A server TLS context (TLS 1.2 or newer) from PEM files. NULL on error,
 * after logging why. */
SSL_CTX *turn_stream_tls_ctx_new(const char *cert_file, const char *key_file);

#endif
