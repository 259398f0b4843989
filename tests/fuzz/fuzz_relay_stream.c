/* libFuzzer harness for the node's end of a TCP/TLS TURN connection
 * (bases/relay.c, relay_stream.c): the bytes the server sends, cut into
 * arbitrary reads, go through relay_feed as they would after recv() or
 * SSL_read: stream reassembly in the TURN client, the relay's handling of
 * its events (allocation, refusals, redirects, relayed data handed to the
 * receive path), and the failover that follows a bad stream. The input is
 * reads with a 2-byte length prefix; a STUN-looking frame at the start of
 * a read gets an outstanding transaction id, so the answer handlers run.
 * No traffic leaves: connect() is replaced (it never connects), and the
 * only TURN server in the configuration is on loopback. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "bases.h"
#include "evloop.h"
#include "node_conf.h"
#include "relay_stream.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(x)                 \
	do {                     \
		if (!(x))        \
			abort(); \
	} while (0)

/* Replaces libc's for this program: a "connecting" socket that never is. */
int connect(int fd, const struct sockaddr *sa, socklen_t len)
{
	(void)fd;
	(void)sa;
	(void)len;
	errno = EINPROGRESS;
	return -1;
}

static void on_relayed(void *ctx, uint32_t base_id, const struct sockaddr_in *from, uint8_t *buf, size_t len,
		       size_t cap, uint64_t now_ms)
{
	(void)ctx;
	(void)now_ms;
	CHECK(link_base_is_relay(base_id) && from->sin_family == AF_INET && len > 0 && len <= cap);
	buf[0] ^= buf[len - 1]; /* the receive path opens in place: writable */
}

static struct evloop loop;
static struct node_conf conf;

static void setup_once(void)
{
	static bool done;
	if (done)
		return;
	done = true;
	CHECK(evloop_init(&loop) == 0);
	conf.n_turn = 1;
	conf.turn[0].host = (char *)"127.0.0.1";
	conf.turn[0].port = 3478;
	conf.turn[0].transport = NODE_TURN_TCP;
	conf.turn[0].user = (char *)"u";
	conf.turn[0].pass = (char *)"p";
}

static void steer_tid(const struct turn_client *c, uint8_t *msg, size_t len)
{
	if (len < 20 || msg[0] > 1)
		return;
	for (unsigned i = 0; i < TURN_CLIENT_MAX_TX; i++)
		if (c->tx[i].used) {
			memcpy(msg + 8, c->tx[i].tid, 12);
			return;
		}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct bases b;
	uint8_t buf[4096];
	uint64_t now = 1000;

	setup_once();
	memset(&b, 0, sizeof(b));
	b.conf = &conf;
	b.loop = &loop;
	b.slot_cap = 1600;
	b.udp_fd = b.nl_fd = -1;
	b.ops.relayed = on_relayed;
	CHECK(relay_init(&b) == 0);
	relay_start(&b, now);          /* a TCP attempt: "connecting" */
	relay_stream_ready(&b, now);   /* connected: the Allocate goes out */
	while (size >= 2 && b.relay.fd >= 0) {
		size_t n = (size_t)data[0] << 8 | data[1];
		data += 2, size -= 2;
		if (n > size)
			n = size;
		if (n > sizeof(buf))
			n = sizeof(buf);
		memcpy(buf, data, n);
		data += n, size -= n;
		if (b.relay.tc_on)
			steer_tid(&b.relay.tc, buf, n);
		relay_feed(&b, buf, n, now += 5);
	}
	relay_free(&b);
	return 0;
}
