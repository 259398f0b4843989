/* Drives the relay core with an allocation already in place (permission
 * and channel 0x4000 toward 198.51.100.20:7000), then feeds fuzzer bytes as
 * client messages, peer datagrams and clock steps. Each record of the input
 * is: kind (1 byte), length (2 bytes), bytes. kind bit 0: from the peer side;
 * bit 1: which peer; bit 2: advance the clock; bit 3: run the timer sweep;
 * bit 6: the bytes are a GRO train of ((kind & 0x3F) * 8 + 4)-byte datagrams.
 * The first input byte picks UDP or TCP for the client. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "log.h"
#include "stun_auth.h"
#include "stun_msg.h"
#include "stun_nonce.h"
#include "turn_accounts.h"
#include "turn_conf.h"
#include "udp_gro.h"
#include "turn_server.h"

static const uint8_t NONCE_KEY[] = "k";
static const char *const PEER_A = "198.51.100.20:7000";
static const char *const PEER_B = "198.51.100.21:1";

static struct turn_alloc *owner;
static int relay_token;
static uint16_t next_port = 50000;

static int io_relay_open(void *ctx, struct turn_alloc *o, int family, struct sockaddr_storage *bound,
			 void **relay)
{
	(void)ctx;
	char buf[64];
	snprintf(buf, sizeof(buf), family == AF_INET6 ? "[2001:db8::1]:%u" : "203.0.113.1:%u",
		 next_port++);
	addr_parse(buf, 0, bound);
	*relay = &relay_token;
	owner = o;
	return 0;
}

static void io_relay_close(void *ctx, void *relay)
{
	(void)ctx;
	(void)relay;
	owner = NULL;
}

/* Reads every byte handed out, so ASan sees any out-of-bounds iovec. */
static void touch(const struct iovec *iov, int n)
{
	volatile uint8_t sum = 0;
	for (int i = 0; i < n; i++)
		for (size_t j = 0; j < iov[i].iov_len; j++)
			sum ^= ((const uint8_t *)iov[i].iov_base)[j];
	(void)sum;
}

static void io_to_peer(void *ctx, void *relay, const struct sockaddr *peer, const struct iovec *iov,
		       int n)
{
	(void)ctx;
	(void)relay;
	(void)peer;
	touch(iov, n);
}

static uint8_t last_token[8];
static bool have_token;

/* Remembers the RESERVATION-TOKEN of an Allocate answer. */
static void note_token(const struct iovec *iov, int n)
{
	struct stun_msg m;
	const struct stun_attr *a;
	if (n == 1 && stun_msg_parse(&m, iov[0].iov_base, iov[0].iov_len) == 0 &&
	    (a = stun_msg_find(&m, TURN_ATTR_RESERVATION_TOKEN)) && a->len == 8) {
		memcpy(last_token, stun_attr_value(&m, a), 8);
		have_token = true;
	}
}

static void io_to_client(void *ctx, const struct turn_conn *conn, const struct iovec *iov, int n)
{
	note_token(iov, n);
	(void)ctx;
	(void)conn;
	touch(iov, n);
}

/* The optional hooks, as the worker has them: port reservations (a held
 * port is a heap int, so leaks and double releases show), DF, and RFC 5780
 * answers from another address. */
static int io_port_hold(void *ctx, const struct sockaddr *addr, void **hold)
{
	(void)ctx;
	(void)addr;
	int *h = malloc(sizeof(*h));
	if (!h)
		return -ENOMEM;
	*h = 1;
	*hold = h;
	return 0;
}

static void io_port_release(void *hold)
{
	free(hold);
}

static int io_relay_adopt(void *ctx, struct turn_alloc *o, void *hold,
			  struct sockaddr_storage *bound, void **relay)
{
	free(hold);
	return io_relay_open(ctx, o, AF_INET, bound, relay);
}

static int io_relay_df(void *ctx, void *relay)
{
	(void)ctx;
	(void)relay;
	return 0;
}

static void io_to_client_from(void *ctx, const struct turn_conn *conn, const struct sockaddr *from,
			      const struct iovec *iov, int n)
{
	(void)from;
	io_to_client(ctx, conn, iov, n);
}

static const struct turn_io IO = {
	NULL, io_relay_open, io_relay_close, io_to_peer, io_to_client, io_port_hold,
	io_port_release, io_relay_adopt, io_relay_df, io_to_client_from,
};
static struct turn_conf conf;
static struct turn_accounts *accounts;
static struct turn_shared *shared;

enum { REQ_EVEN_RESERVE = 1, REQ_TOKEN = 2, REQ_DF = 4 };

static void authed_request(struct turn_server *s, const struct turn_conn *c, uint16_t method,
			   uint64_t now, unsigned extra)
{
	uint8_t buf[512], tid[STUN_TID_LEN] = { 1 }, key[STUN_KEY_MD5_LEN];
	char nonce[STUN_NONCE_MAX];
	struct stun_builder b;
	struct sockaddr_storage peer;
	size_t nl = stun_nonce_make(NONCE_KEY, 1, now / 1000, 600, (const struct sockaddr *)&c->client,
				    nonce);
	stun_build_init(&b, buf, sizeof(buf), method, STUN_CLASS_REQUEST, tid);
	if (method == TURN_METHOD_ALLOCATE)
		stun_build_u8(&b, TURN_ATTR_REQUESTED_TRANSPORT, TURN_TRANSPORT_UDP);
	if (extra & REQ_EVEN_RESERVE)
		stun_build_u8(&b, TURN_ATTR_EVEN_PORT, 0x80);
	if ((extra & REQ_TOKEN) && have_token)
		stun_build_attr(&b, TURN_ATTR_RESERVATION_TOKEN, last_token, 8);
	if (extra & REQ_DF)
		stun_build_flag(&b, TURN_ATTR_DONT_FRAGMENT);
	addr_parse(PEER_A, 0, &peer);
	if (method == TURN_METHOD_CREATE_PERMISSION || method == TURN_METHOD_CHANNEL_BIND)
		stun_build_addr(&b, TURN_ATTR_XOR_PEER_ADDRESS, (struct sockaddr *)&peer);
	if (method == TURN_METHOD_CHANNEL_BIND)
		stun_build_channel(&b, TURN_CHANNEL_MIN);
	stun_build_attr(&b, STUN_ATTR_USERNAME, "alice", 5);
	stun_build_attr(&b, STUN_ATTR_REALM, "ipop", 4);
	stun_build_attr(&b, STUN_ATTR_NONCE, nonce, nl);
	stun_key_md5("alice", "ipop", "secret", key);
	stun_build_integrity(&b, key, sizeof(key));
	int n = stun_build_finish(&b);
	if (n > 0)
		turn_server_on_client(s, c, buf, (size_t)n, now, (int64_t)(now / 1000));
}

static void setup_once(void)
{
	if (accounts)
		return;
	log_init("fuzz", LOG_LVL_ERROR, false);
	conf.realm = "ipop";
	conf.n_users = 1;
	conf.users[0] = (struct turn_user){ "alice", "secret" };
	conf.account_method = TURN_ACCOUNT_NONE;
	conf.max_client = 100;
	conf.max_relay_per_username = 100;
	conf.allocation_lifetime = 3600;
	/* RFC 5780: the harness's local address has a second one */
	conf.udp_port = 3478;
	conf.alt_udp_port = 3479;
	conf.n_alt = 1;
	addr_parse("192.0.2.2", 0, &conf.alt_primary[0]);
	addr_parse("192.0.2.3", 0, &conf.alt_listen[0]);
	accounts = turn_accounts_new(&conf);
	shared = turn_shared_new(&conf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	setup_once();
	owner = NULL;
	struct turn_server *s = turn_server_new(&conf, accounts, shared, NONCE_KEY, 1, &IO);
	struct turn_conn c;
	memset(&c, 0, sizeof(c));
	addr_parse("192.0.2.1:1000", 0, &c.client);
	addr_parse("192.0.2.2:3478", 0, &c.local);
	if (size && (data[0] & 1)) {
		c.proto = TURN_PROTO_TCP;
		c.stream = &c;
	}
	uint64_t now = 1000000;
	/* Bit 1: an RTP/RTCP pair (EVEN-PORT R=1, then its token from a
	 * second client) with DONT-FRAGMENT, as turnutils_uclient allocates. */
	bool pair = size && (data[0] & 2);
	have_token = false;
	authed_request(s, &c, TURN_METHOD_ALLOCATE, now, pair ? REQ_EVEN_RESERVE | REQ_DF : 0);
	if (pair) {
		struct turn_alloc *first = owner; /* peers keep talking to the first */
		struct turn_conn c2 = c;
		addr_parse("192.0.2.1:1001", 0, &c2.client);
		c2.stream = c.stream ? &c2 : NULL;
		authed_request(s, &c2, TURN_METHOD_ALLOCATE, now, REQ_TOKEN);
		turn_server_conn_closed(s, c2.stream);
		owner = first;
	}
	authed_request(s, &c, TURN_METHOD_CREATE_PERMISSION, now, 0);
	authed_request(s, &c, TURN_METHOD_CHANNEL_BIND, now, 0);
	for (size_t pos = 1; pos + 3 <= size;) {
		uint8_t kind = data[pos];
		size_t len = (size_t)data[pos + 1] << 8 | data[pos + 2];
		pos += 3;
		if (len > size - pos)
			len = size - pos;
		struct sockaddr_storage peer;
		addr_parse(kind & 2 ? PEER_A : PEER_B, 0, &peer);
		/* Bit 6: the chunk is a GRO train, cut as the worker cuts it. */
		struct udp_gro_iter it;
		const uint8_t *d;
		size_t n;
		udp_gro_iter_init(&it, data + pos, len, kind & 0x40 ? (size_t)(kind & 0x3F) * 8 + 4 : 0);
		while (udp_gro_next(&it, &d, &n)) {
			if (kind & 1) {
				if (owner)
					turn_server_on_peer(s, owner, (struct sockaddr *)&peer, d, n, now);
			} else {
				turn_server_on_client(s, &c, d, n, now, (int64_t)(now / 1000));
			}
		}
		if (kind & 4)
			now += 10000ull * (kind >> 3);
		if (kind & 8)
			turn_server_tick(s, now);
		pos += len;
	}
	turn_server_free(s);
	return 0;
}
