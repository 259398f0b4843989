/* TCP stream reassembly and write queue of turn_stream (RFC 8656 12.5
 * framing), over a socketpair with small socket buffers. The input is a
 * program of operations on the client end:
 *   op % 4 == 0: write the next (len byte + 1) input bytes, then let the
 *                stream read;
 *   op % 4 == 1: the server sends a frame of (2 bytes) length, in one or
 *                two iovecs;
 *   op % 4 == 2: the client reads up to (len byte * 64) bytes, then the
 *                stream flushes;
 *   op % 4 == 3: the client closes its write side.
 * Every frame handed up must be one whole, well-formed frame of at most
 * TURN_STREAM_MAX_FRAME bytes; the queues must stay within their budget;
 * the stream must never be used after it reported an error. */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "turn_stream.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void on_frame(void *ctx, const uint8_t *f, size_t len)
{
	size_t *frames = ctx;
	size_t want;
	if (len < 4 || len > TURN_STREAM_MAX_FRAME)
		abort();
	if (f[0] >= 0x40 && f[0] <= 0x7F) /* ChannelData, padded over TCP */
		want = 4 + (((size_t)(f[2] << 8 | f[3]) + 3) & ~(size_t)3);
	else if ((f[0] & 0xC0) == 0) /* STUN */
		want = 20 + (size_t)(f[2] << 8 | f[3]);
	else
		abort();
	if (want != len)
		abort();
	volatile uint8_t sum = 0;
	for (size_t i = 0; i < len; i++) /* ASan sees any overread */
		sum ^= f[i];
	(void)sum;
	(*frames)++;
}

static int small_buffers(int fd)
{
	int sz = 4096;
	if (setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz)) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz)) < 0)
		return -1;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t out[TURN_STREAM_MAX_FRAME];
	static uint8_t sink[16384];
	struct turn_stream_stats stats = { 0 };
	struct turn_stream_budget budget = { .cap = 64 * 1024 };
	int sv[2];
	size_t frames = 0;

	atomic_init(&budget.used, 0);
	atomic_init(&budget.refused, 0);
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0 || small_buffers(sv[0]) < 0 ||
	    small_buffers(sv[1]) < 0 || fcntl(sv[0], F_SETFL, O_NONBLOCK) < 0 ||
	    fcntl(sv[1], F_SETFL, O_NONBLOCK) < 0)
		abort();
	struct turn_stream *st = turn_stream_new(sv[0], NULL, &stats, &budget);
	if (!st)
		abort();
	int client = sv[1];
	bool dead = false;
	size_t i = 0;
	while (i < size && !dead) {
		uint8_t op = data[i++];
		int err = 0;
		switch (op % 4) {
		case 0: {
			size_t n = i < size ? (size_t)data[i++] + 1 : 0;
			if (n > size - i)
				n = size - i;
			if (n && send(client, data + i, n, MSG_NOSIGNAL) < 0 && errno != EAGAIN)
				dead = true;
			i += n;
			err = turn_stream_on_event(st, on_frame, &frames);
			break;
		}
		case 1: {
			size_t len = i + 1 < size ? (size_t)(data[i] << 8 | data[i + 1]) : 20;
			i += 2;
			if (len > sizeof(out))
				len = sizeof(out);
			memset(out, (int)op, len);
			size_t cut = len / 3;
			struct iovec iov[2] = { { out, cut }, { out + cut, len - cut } };
			int rc = turn_stream_send(st, iov, op & 4 ? 2 : 1);
			if (rc != 0 && rc != -ENOBUFS && rc != -EPIPE)
				abort();
			break;
		}
		case 2: {
			size_t n = i < size ? (size_t)data[i++] * 64 + 1 : 1;
			if (n > sizeof(sink))
				n = sizeof(sink);
			(void)!recv(client, sink, n, MSG_DONTWAIT);
			err = turn_stream_on_event(st, on_frame, &frames);
			break;
		}
		case 3:
			shutdown(client, SHUT_WR);
			err = turn_stream_on_event(st, on_frame, &frames);
			break;
		}
		if (err < 0)
			dead = true; /* the worker closes it now */
		if (atomic_load(&budget.used) > budget.cap ||
		    turn_stream_queued(st) > TURN_STREAM_WQ_MAX)
			abort();
	}
	if (frames != stats.frames_in)
		abort();
	turn_stream_free(st);
	if (atomic_load(&budget.used) != 0) /* every queue byte given back */
		abort();
	close(client);
	return 0;
}
