/* The relay's protocol core driven through its public API with a fake
 * clock and a fake struct turn_io that records every send and hands out
 * relay addresses. Client messages are built with the STUN builder. */
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "addr.h"
#include "log.h"
#include "stun_auth.h"
#include "stun_chan.h"
#include "stun_msg.h"
#include "stun_nonce.h"
#include "turn_accounts.h"
#include "turn_alloc.h" /* turn_shared_total, turn_shared_self */
#include "turn_authlimit.h"
#include "turn_conf.h"
#include "turn_self.h"
#include "udp_gro.h"
#include "turn_server.h"

/* ---- fake io ---- */

enum { MAX_SENT = 64, MAX_RELAYS = 64, SENT_CAP = 2048, MAX_HOLDS = 16 };

struct sent {
	uint8_t buf[SENT_CAP];
	size_t len;
	int iovcnt;
	struct sockaddr_storage to; /* peer, or the client for to_client */
	void *relay;
	void *stream;
	struct sockaddr_storage from; /* to_client_from: the source asked for */
};

struct fake_relay {
	int id;
	bool open;
	bool df;
	struct sockaddr_storage addr;
};

/* A port held for a reservation (turn_io port_hold). */
struct fake_hold {
	bool open;
	struct sockaddr_storage addr;
};

struct fake {
	struct sent client[MAX_SENT], peer[MAX_SENT];
	unsigned nclient, npeer;
	struct fake_relay relays[MAX_RELAYS];
	unsigned nrelays, nclosed;
	uint16_t next_port;
	int open_err;
	struct fake_hold holds[MAX_HOLDS];
	unsigned nholds;
	int hold_err;
};

static struct fake F;
/* The owner the server handed to relay_open, which the worker passes back
 * with every peer datagram. */
static struct turn_alloc *g_owner[MAX_RELAYS];

static void record(struct sent *s, const struct iovec *iov, int iovcnt)
{
	s->len = 0;
	s->iovcnt = iovcnt;
	for (int i = 0; i < iovcnt; i++) {
		assert_true(s->len + iov[i].iov_len <= SENT_CAP);
		memcpy(s->buf + s->len, iov[i].iov_base, iov[i].iov_len);
		s->len += iov[i].iov_len;
	}
}

static int fake_open(void *ctx, struct turn_alloc *owner, int family,
		     struct sockaddr_storage *bound, void **relay)
{
	(void)ctx;
	if (F.open_err)
		return F.open_err;
	assert_true(F.nrelays < MAX_RELAYS);
	struct fake_relay *r = &F.relays[F.nrelays];
	char buf[64];
	snprintf(buf, sizeof(buf), family == AF_INET6 ? "[2001:db8::1]:%u" : "203.0.113.1:%u",
		 F.next_port++);
	assert_int_equal(addr_parse(buf, 0, &r->addr), 0);
	g_owner[F.nrelays] = owner;
	r->id = (int)F.nrelays++;
	r->open = true;
	*bound = r->addr;
	*relay = r;
	return 0;
}

static void fake_close(void *ctx, void *relay)
{
	(void)ctx;
	struct fake_relay *r = relay;
	assert_true(r->open);
	r->open = false;
	F.nclosed++;
}

static void fake_to_peer(void *ctx, void *relay, const struct sockaddr *peer,
			 const struct iovec *iov, int iovcnt)
{
	(void)ctx;
	assert_true(F.npeer < MAX_SENT);
	struct sent *s = &F.peer[F.npeer++];
	record(s, iov, iovcnt);
	memcpy(&s->to, peer, addr_len(peer));
	s->relay = relay;
	assert_true(((struct fake_relay *)relay)->open);
}

static void fake_to_client(void *ctx, const struct turn_conn *conn, const struct iovec *iov,
			   int iovcnt)
{
	(void)ctx;
	struct sent *s = &F.client[F.nclient++ % MAX_SENT]; /* a ring: garbage floods it */
	record(s, iov, iovcnt);
	s->to = conn->client;
	s->stream = conn->stream;
}

static const struct turn_io IO = {
	.ctx = &F, .relay_open = fake_open, .relay_close = fake_close,
	.to_peer = fake_to_peer, .to_client = fake_to_client,
};

/* The optional hooks: port reservations, DF, RFC 5780 sends. */
static int fake_hold(void *ctx, const struct sockaddr *addr, void **hold)
{
	(void)ctx;
	if (F.hold_err)
		return F.hold_err;
	assert_true(F.nholds < MAX_HOLDS);
	struct fake_hold *h = &F.holds[F.nholds++];
	memcpy(&h->addr, addr, addr_len(addr));
	h->open = true;
	*hold = h;
	return 0;
}

static void fake_release(void *hold)
{
	struct fake_hold *h = hold;
	assert_true(h->open);
	h->open = false;
}

static int fake_adopt(void *ctx, struct turn_alloc *owner, void *hold,
		      struct sockaddr_storage *bound, void **relay)
{
	struct fake_hold *h = hold;
	(void)ctx;
	assert_true(h->open);
	h->open = false;
	assert_true(F.nrelays < MAX_RELAYS);
	struct fake_relay *r = &F.relays[F.nrelays];
	r->addr = h->addr;
	g_owner[F.nrelays] = owner;
	r->id = (int)F.nrelays++;
	r->open = true;
	*bound = r->addr;
	*relay = r;
	return 0;
}

static int fake_df(void *ctx, void *relay)
{
	(void)ctx;
	((struct fake_relay *)relay)->df = true;
	return 0;
}

static void fake_to_client_from(void *ctx, const struct turn_conn *conn,
				const struct sockaddr *from, const struct iovec *iov, int iovcnt)
{
	fake_to_client(ctx, conn, iov, iovcnt);
	struct sent *s = &F.client[(F.nclient - 1) % MAX_SENT];
	memcpy(&s->from, from, addr_len(from));
}

static const struct turn_io IO_FULL = {
	.ctx = &F, .relay_open = fake_open, .relay_close = fake_close,
	.to_peer = fake_to_peer, .to_client = fake_to_client,
	.port_hold = fake_hold, .port_release = fake_release, .relay_adopt = fake_adopt,
	.relay_dont_fragment = fake_df, .to_client_from = fake_to_client_from,
};

static const struct turn_io *g_io = &IO;

/* ---- fixture ---- */

static const uint8_t NONCE_KEY[] = "0123456789abcdef0123456789abcdef";

struct fx {
	struct turn_conf conf;
	struct turn_accounts *acc;
	struct turn_shared *shared;
	struct turn_server *srv;
	uint64_t now_ms;
	int64_t now_unix;
	struct turn_conn conn; /* the default client */
};

static struct sockaddr_storage sa(const char *s)
{
	struct sockaddr_storage ss;
	assert_int_equal(addr_parse(s, 0, &ss), 0);
	return ss;
}

static struct turn_conn udp_conn(const char *client)
{
	struct turn_conn c;
	memset(&c, 0, sizeof(c));
	c.proto = TURN_PROTO_UDP;
	c.fd = 3;
	c.client = sa(client);
	c.local = sa("198.51.100.1:3478");
	return c;
}

static void conf_init(struct turn_conf *c)
{
	memset(c, 0, sizeof(*c));
	c->realm = "ipop";
	c->software = "ipop-turnserver test";
	c->account_method = TURN_ACCOUNT_NONE;
	c->n_users = 2;
	c->users[0] = (struct turn_user){ "alice", "secret" };
	c->users[1] = (struct turn_user){ "bob", "hunter2" };
	c->n_relay = 2;
	c->relay[0] = sa("203.0.113.1");
	c->relay[1] = sa("2001:db8::1");
	c->min_port = 49152;
	c->max_port = 65535;
	c->max_client = 100;
	c->max_relay_per_username = 10;
	c->allocation_lifetime = 3600;
}

static void fx_start(struct fx *f)
{
	f->acc = turn_accounts_new(&f->conf);
	assert_non_null(f->acc);
	f->shared = turn_shared_new(&f->conf);
	assert_non_null(f->shared);
	f->srv = turn_server_new(&f->conf, f->acc, f->shared, NONCE_KEY, sizeof(NONCE_KEY) - 1, g_io);
	assert_non_null(f->srv);
}

static int setup(void **state)
{
	g_io = &IO;
	struct fx *f = calloc(1, sizeof(*f));
	memset(&F, 0, sizeof(F));
	F.next_port = 50000;
	conf_init(&f->conf);
	f->now_ms = 1000000;
	f->now_unix = 1700000000;
	f->conn = udp_conn("192.0.2.10:40000");
	fx_start(f);
	*state = f;
	return 0;
}

/* The same with every optional turn_io hook, as the real worker has. */
static int setup_full(void **state)
{
	setup(state);
	struct fx *f = *state;
	turn_server_free(f->srv);
	g_io = &IO_FULL;
	f->srv = turn_server_new(&f->conf, f->acc, f->shared, NONCE_KEY, sizeof(NONCE_KEY) - 1, g_io);
	assert_non_null(f->srv);
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	turn_server_free(f->srv);
	/* Freeing the server closes every relay it opened. */
	for (unsigned i = 0; i < F.nrelays; i++)
		assert_false(F.relays[i].open);
	turn_shared_free(f->shared);
	/* ... and freeing the shared state every port still held. */
	for (unsigned i = 0; i < F.nholds; i++)
		assert_false(F.holds[i].open);
	turn_accounts_free(f->acc);
	free(f);
	return 0;
}

static void advance(struct fx *f, uint64_t ms)
{
	f->now_ms += ms;
	f->now_unix += (int64_t)(ms / 1000);
}

/* ---- building client messages ---- */

struct req {
	uint16_t method;
	uint16_t cls;         /* 0 = request */
	uint8_t tid[STUN_TID_LEN];
	int transport;        /* -1: no REQUESTED-TRANSPORT */
	int family;           /* 0: no REQUESTED-ADDRESS-FAMILY, else the STUN value */
	long lifetime;        /* -1: no LIFETIME */
	const char *peer, *peer2;
	uint16_t chan;
	int even_port;        /* -1: none, else the flag byte */
	bool dont_fragment;
	const uint8_t *token;  /* RESERVATION-TOKEN, 8 bytes */
	int change;           /* -1: no CHANGE-REQUEST, else its flags */
	uint16_t unknown_attr;
	const uint8_t *data;
	size_t dlen;
	const char *user, *pass, *nonce;
	bool fingerprint;
	bool sha256;          /* MESSAGE-INTEGRITY-SHA256 instead of MESSAGE-INTEGRITY */
};

static struct req req_new(uint16_t method)
{
	struct req r;
	memset(&r, 0, sizeof(r));
	r.method = method;
	r.transport = method == TURN_METHOD_ALLOCATE ? TURN_TRANSPORT_UDP : -1;
	r.lifetime = -1;
	r.even_port = -1;
	r.change = -1;
	stun_tid_random(r.tid);
	return r;
}

static size_t build(const struct req *r, uint8_t *buf, size_t cap)
{
	struct stun_builder b;
	stun_build_init(&b, buf, cap, r->method, r->cls, r->tid);
	if (r->transport >= 0)
		stun_build_u8(&b, TURN_ATTR_REQUESTED_TRANSPORT, (uint8_t)r->transport);
	if (r->family)
		stun_build_u8(&b, TURN_ATTR_REQUESTED_ADDRESS_FAMILY, (uint8_t)r->family);
	if (r->lifetime >= 0)
		stun_build_u32(&b, TURN_ATTR_LIFETIME, (uint32_t)r->lifetime);
	if (r->chan)
		stun_build_channel(&b, r->chan);
	if (r->peer) {
		struct sockaddr_storage p = sa(r->peer);
		stun_build_addr(&b, TURN_ATTR_XOR_PEER_ADDRESS, (struct sockaddr *)&p);
	}
	if (r->peer2) {
		struct sockaddr_storage p = sa(r->peer2);
		stun_build_addr(&b, TURN_ATTR_XOR_PEER_ADDRESS, (struct sockaddr *)&p);
	}
	if (r->even_port >= 0)
		stun_build_u8(&b, TURN_ATTR_EVEN_PORT, (uint8_t)r->even_port);
	if (r->dont_fragment)
		stun_build_flag(&b, TURN_ATTR_DONT_FRAGMENT);
	if (r->token)
		stun_build_attr(&b, TURN_ATTR_RESERVATION_TOKEN, r->token, 8);
	if (r->change >= 0)
		stun_build_u32(&b, STUN_ATTR_CHANGE_REQUEST, (uint32_t)r->change);
	if (r->unknown_attr)
		stun_build_u32(&b, r->unknown_attr, 0);
	if (r->data)
		stun_build_attr(&b, TURN_ATTR_DATA, r->data, r->dlen);
	if (r->user) {
		uint8_t key[STUN_KEY_MD5_LEN];
		stun_build_attr(&b, STUN_ATTR_USERNAME, r->user, strlen(r->user));
		stun_build_attr(&b, STUN_ATTR_REALM, "ipop", 4);
		stun_build_attr(&b, STUN_ATTR_NONCE, r->nonce, strlen(r->nonce));
		stun_key_md5(r->user, "ipop", r->pass, key);
		if (r->sha256)
			stun_build_integrity_sha256(&b, key, sizeof(key));
		else
			stun_build_integrity(&b, key, sizeof(key));
	}
	if (r->fingerprint)
		stun_build_fingerprint(&b);
	int n = stun_build_finish(&b);
	assert_true(n > 0);
	return (size_t)n;
}

static void send_from(struct fx *f, const struct turn_conn *c, const struct req *r)
{
	uint8_t buf[1500];
	size_t n = build(r, buf, sizeof(buf));
	turn_server_on_client(f->srv, c, buf, n, f->now_ms, f->now_unix);
}

/* The last message sent to a client, parsed. */
static struct stun_msg last_reply(void)
{
	struct stun_msg m;
	assert_true(F.nclient > 0);
	struct sent *s = &F.client[(F.nclient - 1) % MAX_SENT];
	assert_int_equal(stun_msg_parse(&m, s->buf, s->len), 0);
	return m;
}

static int reply_code(const struct stun_msg *m)
{
	if (m->cls == STUN_CLASS_SUCCESS)
		return 0;
	assert_int_equal(m->cls, STUN_CLASS_ERROR);
	const struct stun_attr *a = stun_msg_find(m, STUN_ATTR_ERROR_CODE);
	assert_non_null(a);
	int code;
	const char *reason;
	size_t rlen;
	assert_int_equal(stun_attr_get_error(m, a, &code, &reason, &rlen), 0);
	return code;
}

/* Sends r from c and returns the answer's code (0 = success). */
static int transact(struct fx *f, const struct turn_conn *c, const struct req *r)
{
	unsigned before = F.nclient;
	send_from(f, c, r);
	assert_int_equal(F.nclient, before + 1);
	struct stun_msg m = last_reply();
	assert_memory_equal(m.tid, r->tid, STUN_TID_LEN);
	return reply_code(&m);
}

static char g_nonce[STUN_NONCE_MAX + 1];

/* Gets a nonce the way a client does: a request without credentials. */
static const char *fetch_nonce(struct fx *f, const struct turn_conn *c)
{
	struct req r = req_new(TURN_METHOD_ALLOCATE);
	assert_int_equal(transact(f, c, &r), 401);
	struct stun_msg m = last_reply();
	const struct stun_attr *n = stun_msg_find(&m, STUN_ATTR_NONCE);
	assert_non_null(n);
	assert_true(n->len <= STUN_NONCE_MAX);
	memcpy(g_nonce, stun_attr_value(&m, n), n->len);
	g_nonce[n->len] = '\0';
	return g_nonce;
}

static struct req authed(struct fx *f, const struct turn_conn *c, uint16_t method,
			 const char *user, const char *pass)
{
	struct req r = req_new(method);
	r.user = user;
	r.pass = pass;
	r.nonce = fetch_nonce(f, c);
	return r;
}

/* Full 401 -> Allocate flow for alice; returns the relay address. */
static struct sockaddr_storage allocate(struct fx *f, const struct turn_conn *c)
{
	struct req r = authed(f, c, TURN_METHOD_ALLOCATE, "alice", "secret");
	assert_int_equal(transact(f, c, &r), 0);
	struct stun_msg m = last_reply();
	struct sockaddr_storage relay;
	const struct stun_attr *ra = stun_msg_find(&m, TURN_ATTR_XOR_RELAYED_ADDRESS);
	assert_non_null(ra);
	assert_int_equal(stun_attr_get_addr(&m, ra, &relay), 0);
	return relay;
}

static int create_perm(struct fx *f, const char *peer)
{
	struct req r = authed(f, &f->conn, TURN_METHOD_CREATE_PERMISSION, "alice", "secret");
	r.peer = peer;
	return transact(f, &f->conn, &r);
}

static int channel_bind(struct fx *f, uint16_t chan, const char *peer)
{
	struct req r = authed(f, &f->conn, TURN_METHOD_CHANNEL_BIND, "alice", "secret");
	r.chan = chan;
	r.peer = peer;
	return transact(f, &f->conn, &r);
}

static void send_ind(struct fx *f, const char *peer, const uint8_t *data, size_t len)
{
	struct req r = req_new(TURN_METHOD_SEND);
	r.cls = STUN_CLASS_INDICATION;
	r.peer = peer;
	r.data = data;
	r.dlen = len;
	send_from(f, &f->conn, &r);
}

static void from_peer(struct fx *f, unsigned relay_idx, const char *peer, const uint8_t *data,
		      size_t len)
{
	struct sockaddr_storage p = sa(peer);
	turn_server_on_peer(f->srv, g_owner[relay_idx], (struct sockaddr *)&p, data, len, f->now_ms);
}

/* ---- tests ---- */

static void test_binding(void **state)
{
	struct fx *f = *state;
	struct req r = req_new(STUN_METHOD_BINDING);
	assert_int_equal(transact(f, &f->conn, &r), 0);
	struct stun_msg m = last_reply();
	struct sockaddr_storage got;
	const struct stun_attr *x = stun_msg_find(&m, STUN_ATTR_XOR_MAPPED_ADDRESS);
	assert_non_null(x);
	assert_int_equal(stun_attr_get_addr(&m, x, &got), 0);
	assert_true(addr_equal((struct sockaddr *)&got, (struct sockaddr *)&f->conn.client));
	/* A bare 20-byte request gets no extras: the answer stays small. */
	assert_null(stun_msg_find(&m, STUN_ATTR_SOFTWARE));
	assert_true(F.client[0].len <= 2 * 20);

	/* A bigger request with FINGERPRINT gets MAPPED-ADDRESS, SOFTWARE and
	 * a FINGERPRINT back. */
	r = req_new(STUN_METHOD_BINDING);
	r.fingerprint = true;
	r.lifetime = 0; /* padding the request with a harmless attribute */
	r.peer = "198.51.100.77:1";
	assert_int_equal(transact(f, &f->conn, &r), 0);
	m = last_reply();
	assert_true(m.fp >= 0);
	assert_true(stun_check_fingerprint(&m));
	const struct stun_attr *ma = stun_msg_find(&m, STUN_ATTR_MAPPED_ADDRESS);
	assert_non_null(ma);
	assert_int_equal(stun_attr_get_addr(&m, ma, &got), 0);
	assert_true(addr_equal((struct sockaddr *)&got, (struct sockaddr *)&f->conn.client));
	assert_non_null(stun_msg_find(&m, STUN_ATTR_SOFTWARE));
	assert_int_equal(turn_server_stats(f->srv)->allocs_active, 0);
}

static void test_allocate_flow(void **state)
{
	struct fx *f = *state;
	struct req r = req_new(TURN_METHOD_ALLOCATE);
	r.fingerprint = true;
	assert_int_equal(transact(f, &f->conn, &r), 401);
	struct stun_msg m = last_reply();
	assert_non_null(stun_msg_find(&m, STUN_ATTR_REALM));
	assert_non_null(stun_msg_find(&m, STUN_ATTR_NONCE));
	assert_true(m.mi < 0);
	assert_int_equal(F.nrelays, 0);

	r = authed(f, &f->conn, TURN_METHOD_ALLOCATE, "alice", "secret");
	r.fingerprint = true;
	assert_int_equal(transact(f, &f->conn, &r), 0);
	m = last_reply();
	uint8_t key[STUN_KEY_MD5_LEN];
	stun_key_md5("alice", "ipop", "secret", key);
	assert_int_equal(stun_check_integrity(&m, key, sizeof(key)), 0);
	assert_true(m.fp >= 0 && stun_check_fingerprint(&m));

	struct sockaddr_storage got;
	const struct stun_attr *ra = stun_msg_find(&m, TURN_ATTR_XOR_RELAYED_ADDRESS);
	assert_non_null(ra);
	assert_int_equal(stun_attr_get_addr(&m, ra, &got), 0);
	assert_int_equal(F.nrelays, 1);
	assert_true(addr_equal((struct sockaddr *)&got, (struct sockaddr *)&F.relays[0].addr));
	const struct stun_attr *xm = stun_msg_find(&m, STUN_ATTR_XOR_MAPPED_ADDRESS);
	assert_non_null(xm);
	assert_int_equal(stun_attr_get_addr(&m, xm, &got), 0);
	assert_true(addr_equal((struct sockaddr *)&got, (struct sockaddr *)&f->conn.client));
	uint32_t lt;
	assert_int_equal(stun_attr_get_u32(&m, stun_msg_find(&m, TURN_ATTR_LIFETIME), &lt), 0);
	assert_int_equal(lt, TURN_DEFAULT_LIFETIME);
	const struct turn_stats *st = turn_server_stats(f->srv);
	assert_int_equal(st->allocs_active, 1);
	assert_int_equal(st->allocs_created, 1);
}

static uint32_t granted_lifetime(struct fx *f, const char *client, long asked)
{
	struct turn_conn c = udp_conn(client);
	struct req r = authed(f, &c, TURN_METHOD_ALLOCATE, "alice", "secret");
	r.lifetime = asked;
	assert_int_equal(transact(f, &c, &r), 0);
	struct stun_msg m = last_reply();
	uint32_t lt;
	assert_int_equal(stun_attr_get_u32(&m, stun_msg_find(&m, TURN_ATTR_LIFETIME), &lt), 0);
	return lt;
}

static void test_lifetime_rules(void **state)
{
	struct fx *f = *state;
	assert_int_equal(granted_lifetime(f, "192.0.2.10:1", 10), 600);
	assert_int_equal(granted_lifetime(f, "192.0.2.10:2", 1200), 1200);
	assert_int_equal(granted_lifetime(f, "192.0.2.10:3", 100000), 3600);
	f->conf.allocation_lifetime = 900;
	assert_int_equal(granted_lifetime(f, "192.0.2.10:4", 1000), 900);
}

static void test_wrong_password(void **state)
{
	struct fx *f = *state;
	struct req r = authed(f, &f->conn, TURN_METHOD_ALLOCATE, "alice", "wrong");
	assert_int_equal(transact(f, &f->conn, &r), 401);
	struct stun_msg m = last_reply();
	assert_non_null(stun_msg_find(&m, STUN_ATTR_NONCE));
	r = authed(f, &f->conn, TURN_METHOD_ALLOCATE, "mallory", "secret");
	assert_int_equal(transact(f, &f->conn, &r), 401);
	assert_int_equal(F.nrelays, 0);
	assert_int_equal(turn_server_stats(f->srv)->auth_fail, 2);
	assert_int_equal(turn_server_stats(f->srv)->allocs_active, 0);
}

static void test_stale_nonce(void **state)
{
	struct fx *f = *state;
	struct req r = authed(f, &f->conn, TURN_METHOD_ALLOCATE, "alice", "secret");
	advance(f, 601 * 1000);
	assert_int_equal(transact(f, &f->conn, &r), 438);
	struct stun_msg m = last_reply();
	const struct stun_attr *n = stun_msg_find(&m, STUN_ATTR_NONCE);
	assert_non_null(n);
	assert_non_null(stun_msg_find(&m, STUN_ATTR_REALM));
	/* The fresh nonce from the 438 works. */
	char fresh[STUN_NONCE_MAX + 1];
	memcpy(fresh, stun_attr_value(&m, n), n->len);
	fresh[n->len] = '\0';
	assert_string_not_equal(fresh, r.nonce);
	r.nonce = fresh;
	stun_tid_random(r.tid);
	assert_int_equal(transact(f, &f->conn, &r), 0);
	/* A forged nonce is no better than a stale one. */
	struct turn_conn c2 = udp_conn("192.0.2.11:1");
	r.nonce = "obMatJos2AAAA0000000000000000.AAAAAAAAAAAAAAAA";
	stun_tid_random(r.tid);
	assert_int_equal(transact(f, &c2, &r), 438);
}

static void test_mismatch_and_retransmission(void **state)
{
	struct fx *f = *state;
	struct req r = authed(f, &f->conn, TURN_METHOD_ALLOCATE, "alice", "secret");
	assert_int_equal(transact(f, &f->conn, &r), 0);
	struct sent first = F.client[F.nclient - 1];
	/* The same transaction again: the same answer, no second relay. */
	assert_int_equal(transact(f, &f->conn, &r), 0);
	assert_int_equal(F.nrelays, 1);
	struct stun_msg m = last_reply();
	struct stun_msg m0;
	assert_int_equal(stun_msg_parse(&m0, first.buf, first.len), 0);
	struct sockaddr_storage a0, a1;
	stun_attr_get_addr(&m0, stun_msg_find(&m0, TURN_ATTR_XOR_RELAYED_ADDRESS), &a0);
	stun_attr_get_addr(&m, stun_msg_find(&m, TURN_ATTR_XOR_RELAYED_ADDRESS), &a1);
	assert_true(addr_equal((struct sockaddr *)&a0, (struct sockaddr *)&a1));
	/* A new transaction on the same 5-tuple: 437. */
	stun_tid_random(r.tid);
	assert_int_equal(transact(f, &f->conn, &r), 437);
	assert_int_equal(F.nrelays, 1);
	/* Refresh from a 5-tuple without allocation: 437. */
	struct turn_conn other = udp_conn("192.0.2.99:5");
	struct req rr = authed(f, &other, TURN_METHOD_REFRESH, "alice", "secret");
	assert_int_equal(transact(f, &other, &rr), 437);
}

static void test_wrong_credentials(void **state)
{
	struct fx *f = *state;
	allocate(f, &f->conn);
	struct req r = authed(f, &f->conn, TURN_METHOD_REFRESH, "bob", "hunter2");
	assert_int_equal(transact(f, &f->conn, &r), 441);
	struct stun_msg m = last_reply();
	/* Authenticated errors carry integrity. */
	uint8_t key[STUN_KEY_MD5_LEN];
	stun_key_md5("bob", "ipop", "hunter2", key);
	assert_int_equal(stun_check_integrity(&m, key, sizeof(key)), 0);
	r = authed(f, &f->conn, TURN_METHOD_CREATE_PERMISSION, "bob", "hunter2");
	r.peer = "198.51.100.20:1";
	assert_int_equal(transact(f, &f->conn, &r), 441);
}

static void test_transport_and_family(void **state)
{
	struct fx *f = *state;
	struct req r = authed(f, &f->conn, TURN_METHOD_ALLOCATE, "alice", "secret");
	r.transport = TURN_TRANSPORT_TCP;
	assert_int_equal(transact(f, &f->conn, &r), 442);
	r = authed(f, &f->conn, TURN_METHOD_ALLOCATE, "alice", "secret");
	r.family = 3;
	assert_int_equal(transact(f, &f->conn, &r), 440);
	/* Without REQUESTED-TRANSPORT: 400, even before authentication. */
	r = authed(f, &f->conn, TURN_METHOD_ALLOCATE, "alice", "secret");
	r.transport = -1;
	assert_int_equal(transact(f, &f->conn, &r), 400);
	assert_int_equal(F.nrelays, 0);

	/* No IPv6 relay configured: 440 for IPv6, IPv4 still works. */
	f->conf.n_relay = 1;
	r = authed(f, &f->conn, TURN_METHOD_ALLOCATE, "alice", "secret");
	r.family = STUN_FAMILY_IPV6;
	assert_int_equal(transact(f, &f->conn, &r), 440);
	/* The relay layer refusing the family also gives 440. */
	F.open_err = -EAFNOSUPPORT;
	r = authed(f, &f->conn, TURN_METHOD_ALLOCATE, "alice", "secret");
	assert_int_equal(transact(f, &f->conn, &r), 440);
	F.open_err = -EADDRINUSE;
	r = authed(f, &f->conn, TURN_METHOD_ALLOCATE, "alice", "secret");
	assert_int_equal(transact(f, &f->conn, &r), 508);
	F.open_err = 0;
	assert_int_equal(turn_server_stats(f->srv)->allocs_active, 0);
	r = authed(f, &f->conn, TURN_METHOD_ALLOCATE, "alice", "secret");
	assert_int_equal(transact(f, &f->conn, &r), 0);
}

static void test_forbidden_peers(void **state)
{
	struct fx *f = *state;
	allocate(f, &f->conn);
	assert_int_equal(create_perm(f, "127.0.0.1:5000"), 403);
	assert_int_equal(create_perm(f, "0.0.0.0:5000"), 403);
	assert_int_equal(channel_bind(f, 0x4000, "127.0.0.1:5000"), 403);
	/* An IPv6 peer on an IPv4 relay: 443. */
	assert_int_equal(create_perm(f, "[2001:db8::5]:5000"), 443);
	assert_int_equal(create_perm(f, "198.51.100.20:5000"), 0);

	/* An IPv6 allocation refuses the IPv4-mapped loopback. */
	struct turn_conn c6 = udp_conn("[2001:db8:1::10]:4000");
	struct req r = authed(f, &c6, TURN_METHOD_ALLOCATE, "alice", "secret");
	r.family = STUN_FAMILY_IPV6;
	assert_int_equal(transact(f, &c6, &r), 0);
	r = authed(f, &c6, TURN_METHOD_CREATE_PERMISSION, "alice", "secret");
	r.peer = "[::ffff:127.0.0.1]:5000";
	assert_int_equal(transact(f, &c6, &r), 403);
	/* All or none: one bad peer refuses the whole request. */
	r = authed(f, &c6, TURN_METHOD_CREATE_PERMISSION, "alice", "secret");
	r.peer = "[2001:db8::20]:1";
	r.peer2 = "[::1]:1";
	assert_int_equal(transact(f, &c6, &r), 403);
	assert_true(turn_server_stats(f->srv)->dropped_policy >= 5);
}

static void test_quota(void **state)
{
	struct fx *f = *state;
	f->conf.max_relay_per_username = 2;
	turn_server_free(f->srv);
	turn_shared_free(f->shared);
	turn_accounts_free(f->acc);
	fx_start(f);
	struct turn_conn c1 = udp_conn("192.0.2.10:1"), c2 = udp_conn("192.0.2.10:2"),
			 c3 = udp_conn("192.0.2.10:3");
	allocate(f, &c1);
	allocate(f, &c2);
	struct req r = authed(f, &c3, TURN_METHOD_ALLOCATE, "alice", "secret");
	assert_int_equal(transact(f, &c3, &r), 486);
	/* bob has his own quota. */
	r = authed(f, &c3, TURN_METHOD_ALLOCATE, "bob", "hunter2");
	assert_int_equal(transact(f, &c3, &r), 0);
	/* Deleting one of alice's frees a slot. */
	r = authed(f, &c1, TURN_METHOD_REFRESH, "alice", "secret");
	r.lifetime = 0;
	assert_int_equal(transact(f, &c1, &r), 0);
	r = authed(f, &c1, TURN_METHOD_ALLOCATE, "alice", "secret");
	assert_int_equal(transact(f, &c1, &r), 0);
}

static void test_capacity(void **state)
{
	struct fx *f = *state;
	f->conf.max_client = 1;
	turn_server_free(f->srv);
	turn_shared_free(f->shared);
	turn_accounts_free(f->acc);
	fx_start(f);
	allocate(f, &f->conn);
	struct turn_conn c2 = udp_conn("192.0.2.50:2");
	struct req r = authed(f, &c2, TURN_METHOD_ALLOCATE, "bob", "hunter2");
	assert_int_equal(transact(f, &c2, &r), 508);
	assert_int_equal(F.nrelays, 1);
}

static const uint8_t PAYLOAD[] = "hello, peer";

static void test_permission_lifetime(void **state)
{
	struct fx *f = *state;
	allocate(f, &f->conn);
	assert_int_equal(create_perm(f, "198.51.100.20:7000"), 0);
	uint64_t t0 = f->now_ms;
	/* No permission for another IP. */
	send_ind(f, "198.51.100.21:7000", PAYLOAD, sizeof(PAYLOAD));
	assert_int_equal(F.npeer, 0);
	/* Any port of the permitted IP; sending does not refresh. */
	send_ind(f, "198.51.100.20:9", PAYLOAD, sizeof(PAYLOAD));
	assert_int_equal(F.npeer, 1);
	f->now_ms = t0 + 299999;
	send_ind(f, "198.51.100.20:7000", PAYLOAD, sizeof(PAYLOAD));
	assert_int_equal(F.npeer, 2);
	from_peer(f, 0, "198.51.100.20:7000", PAYLOAD, sizeof(PAYLOAD));
	unsigned to_client = F.nclient;
	f->now_ms = t0 + 300000;
	send_ind(f, "198.51.100.20:7000", PAYLOAD, sizeof(PAYLOAD));
	assert_int_equal(F.npeer, 2);
	from_peer(f, 0, "198.51.100.20:7000", PAYLOAD, sizeof(PAYLOAD));
	assert_int_equal(F.nclient, to_client);
	assert_true(turn_server_stats(f->srv)->dropped_no_perm >= 3);
	/* CreatePermission refreshes. */
	assert_int_equal(create_perm(f, "198.51.100.20:1"), 0);
	send_ind(f, "198.51.100.20:7000", PAYLOAD, sizeof(PAYLOAD));
	assert_int_equal(F.npeer, 3);
}

static void test_send_and_data_indication(void **state)
{
	struct fx *f = *state;
	allocate(f, &f->conn);
	assert_int_equal(create_perm(f, "198.51.100.20:7000"), 0);
	send_ind(f, "198.51.100.20:7000", PAYLOAD, sizeof(PAYLOAD));
	assert_int_equal(F.npeer, 1);
	assert_int_equal(F.peer[0].len, sizeof(PAYLOAD));
	assert_memory_equal(F.peer[0].buf, PAYLOAD, sizeof(PAYLOAD));
	struct sockaddr_storage want = sa("198.51.100.20:7000");
	assert_true(addr_equal((struct sockaddr *)&F.peer[0].to, (struct sockaddr *)&want));
	assert_ptr_equal(F.peer[0].relay, &F.relays[0]);

	/* Peer -> client: a Data indication, payload passed by reference. */
	const uint8_t odd[5] = { 1, 2, 3, 4, 5 };
	unsigned n0 = F.nclient;
	from_peer(f, 0, "198.51.100.20:7001", odd, sizeof(odd));
	assert_int_equal(F.nclient, n0 + 1);
	struct sent *s = &F.client[n0];
	assert_int_equal(s->iovcnt, 3); /* header, payload, padding */
	struct stun_msg m = last_reply();
	assert_int_equal(m.method, TURN_METHOD_DATA);
	assert_int_equal(m.cls, STUN_CLASS_INDICATION);
	struct sockaddr_storage p;
	assert_int_equal(stun_attr_get_addr(&m, stun_msg_find(&m, TURN_ATTR_XOR_PEER_ADDRESS), &p), 0);
	struct sockaddr_storage wantp = sa("198.51.100.20:7001");
	assert_true(addr_equal((struct sockaddr *)&p, (struct sockaddr *)&wantp));
	const struct stun_attr *d = stun_msg_find(&m, TURN_ATTR_DATA);
	assert_non_null(d);
	assert_int_equal(d->len, sizeof(odd));
	assert_memory_equal(stun_attr_value(&m, d), odd, sizeof(odd));
	assert_int_equal(turn_server_stats(f->srv)->relayed_to_client, 1);
	assert_int_equal(turn_server_stats(f->srv)->relayed_to_peer, 1);
	/* A Send without DATA is dropped silently. */
	unsigned np = F.npeer, nc = F.nclient;
	send_ind(f, "198.51.100.20:7000", NULL, 0);
	assert_int_equal(F.npeer, np);
	assert_int_equal(F.nclient, nc);
}

static void test_channels(void **state)
{
	struct fx *f = *state;
	allocate(f, &f->conn);
	assert_int_equal(channel_bind(f, 0x3FFF, "198.51.100.20:7000"), 400);
	assert_int_equal(channel_bind(f, 0x4000, "198.51.100.20:7000"), 0);
	assert_int_equal(channel_bind(f, 0x4000, "198.51.100.20:7000"), 0); /* refresh */
	assert_int_equal(channel_bind(f, 0x4000, "198.51.100.21:7000"), 400);
	assert_int_equal(channel_bind(f, 0x4001, "198.51.100.20:7000"), 400);
	assert_int_equal(channel_bind(f, 0x8000, "198.51.100.30:7000"), 400);
	/* RFC 5766 numbers above 0x4FFF are accepted for older clients. */
	assert_int_equal(channel_bind(f, 0x7ABC, "198.51.100.30:7000"), 0);
	uint8_t old[4 + 2] = { 0x7A, 0xBC, 0x00, 0x02, 'h', 'i' };
	turn_server_on_client(f->srv, &f->conn, old, sizeof(old), f->now_ms, f->now_unix);
	assert_int_equal(F.npeer, 1);
	assert_memory_equal(F.peer[0].buf, "hi", 2);
	F.npeer = 0;

	/* Client -> peer over the channel (UDP may carry trailing padding). */
	uint8_t cd[4 + 12] = { 0x40, 0x00, 0x00, 0x0b };
	memcpy(cd + 4, PAYLOAD, 11);
	turn_server_on_client(f->srv, &f->conn, cd, sizeof(cd), f->now_ms, f->now_unix);
	assert_int_equal(F.npeer, 1);
	assert_int_equal(F.peer[0].len, 11);
	assert_memory_equal(F.peer[0].buf, PAYLOAD, 11);
	struct sockaddr_storage want = sa("198.51.100.20:7000");
	assert_true(addr_equal((struct sockaddr *)&F.peer[0].to, (struct sockaddr *)&want));
	/* An unbound channel goes nowhere. */
	cd[1] = 0x05;
	turn_server_on_client(f->srv, &f->conn, cd, sizeof(cd), f->now_ms, f->now_unix);
	assert_int_equal(F.npeer, 1);

	/* Peer -> client: ChannelData, unpadded over UDP. */
	unsigned n0 = F.nclient;
	from_peer(f, 0, "198.51.100.20:7000", PAYLOAD, 11);
	assert_int_equal(F.nclient, n0 + 1);
	struct sent *s = &F.client[n0];
	assert_int_equal(s->len, 4 + 11);
	uint16_t chan, dlen;
	const uint8_t *data;
	assert_int_equal(stun_chan_parse(s->buf, s->len, &chan, &data, &dlen), 0);
	assert_int_equal(chan, 0x4000);
	assert_int_equal(dlen, 11);
	assert_memory_equal(data, PAYLOAD, 11);
	/* Another port of the same IP has permission but no channel: Data
	 * indication. */
	from_peer(f, 0, "198.51.100.20:7002", PAYLOAD, 11);
	struct stun_msg m = last_reply();
	assert_int_equal(m.method, TURN_METHOD_DATA);

	/* The channel binding expires after 600 s; the permission it installed
	 * after 300 s. */
	f->now_ms += 300 * 1000;
	n0 = F.nclient;
	from_peer(f, 0, "198.51.100.20:7000", PAYLOAD, 11);
	assert_int_equal(F.nclient, n0);
	assert_int_equal(channel_bind(f, 0x4000, "198.51.100.20:7000"), 0);
	n0 = F.nclient;
	from_peer(f, 0, "198.51.100.20:7000", PAYLOAD, 11);
	assert_int_equal(F.nclient, n0 + 1);
	/* Channels past expiry stop relaying. */
	f->now_ms += 600 * 1000;
	cd[1] = 0x00;
	turn_server_on_client(f->srv, &f->conn, cd, sizeof(cd), f->now_ms, f->now_unix);
	assert_int_equal(F.npeer, 1);
}

/* Feeds a received message to the core as the worker does: a GRO train
 * (seg > 0) datagram by datagram. */
static void client_msg(struct fx *f, const uint8_t *buf, size_t len, size_t seg)
{
	struct udp_gro_iter it;
	const uint8_t *p;
	size_t n;
	udp_gro_iter_init(&it, buf, len, seg);
	while (udp_gro_next(&it, &p, &n))
		turn_server_on_client(f->srv, &f->conn, p, n, f->now_ms, f->now_unix);
}

static void put_cd(uint8_t *p, uint16_t chan, uint8_t fill, uint16_t dlen)
{
	p[0] = (uint8_t)(chan >> 8);
	p[1] = (uint8_t)chan;
	p[2] = (uint8_t)(dlen >> 8);
	p[3] = (uint8_t)dlen;
	memset(p + 4, fill, dlen);
}

/* A GRO train of 20-byte datagrams from the client: channels 0x4000 and
 * 0x4001 mixed, a malformed ChannelData (length beyond the datagram) and
 * a STUN Binding request in the middle, a shorter last datagram. Every
 * datagram is judged on its own: the good ones reach their peers byte for
 * byte, the Binding is answered, the bad one alone is dropped. */
static void test_gro_train_from_client(void **state)
{
	struct fx *f = *state;
	allocate(f, &f->conn);
	assert_int_equal(channel_bind(f, 0x4000, "198.51.100.20:7000"), 0);
	assert_int_equal(channel_bind(f, 0x4001, "198.51.100.21:7001"), 0);
	F.npeer = 0;
	unsigned n0 = F.nclient;

	enum { SEG = 20 };
	uint8_t train[5 * SEG + 9];
	put_cd(train + 0 * SEG, 0x4000, 'a', 16);
	put_cd(train + 1 * SEG, 0x4001, 'b', 16);
	put_cd(train + 2 * SEG, 0x4000, 'x', 16);
	train[2 * SEG + 2] = 0x00, train[2 * SEG + 3] = 0xFF; /* longer than the datagram */
	struct req r = req_new(STUN_METHOD_BINDING);
	assert_int_equal(build(&r, train + 3 * SEG, SEG), SEG);
	put_cd(train + 4 * SEG, 0x4000, 'c', 16);
	put_cd(train + 5 * SEG, 0x4001, 'd', 5);
	client_msg(f, train, sizeof(train), SEG);

	assert_int_equal(F.npeer, 4);
	const struct { const char *to; char fill; size_t len; } want[] = {
		{ "198.51.100.20:7000", 'a', 16 }, { "198.51.100.21:7001", 'b', 16 },
		{ "198.51.100.20:7000", 'c', 16 }, { "198.51.100.21:7001", 'd', 5 },
	};
	for (unsigned i = 0; i < 4; i++) {
		uint8_t exp[16];
		memset(exp, want[i].fill, sizeof(exp));
		assert_int_equal(F.peer[i].len, want[i].len);
		assert_memory_equal(F.peer[i].buf, exp, want[i].len);
		struct sockaddr_storage to = sa(want[i].to);
		assert_true(addr_equal((struct sockaddr *)&F.peer[i].to, (struct sockaddr *)&to));
	}
	assert_int_equal(F.nclient, n0 + 1); /* the Binding answer, nothing else */
	struct stun_msg m = last_reply();
	assert_int_equal(m.cls, STUN_CLASS_SUCCESS);
	assert_int_equal(m.method, STUN_METHOD_BINDING);
}

/* A GRO train from a peer on the relay: each datagram becomes its own
 * ChannelData to the client with the exact payload, the last shorter one
 * too; a train from a peer without permission relays nothing. */
static void test_gro_train_from_peer(void **state)
{
	struct fx *f = *state;
	allocate(f, &f->conn);
	assert_int_equal(channel_bind(f, 0x4000, "198.51.100.20:7000"), 0);
	enum { SEG = 100 };
	uint8_t train[3 * SEG + 7];
	for (size_t i = 0; i < sizeof(train); i++)
		train[i] = (uint8_t)(i * 7 + 1);
	struct sockaddr_storage p = sa("198.51.100.20:7000");
	struct udp_gro_iter it;
	const uint8_t *d;
	size_t n;

	unsigned n0 = F.nclient;
	udp_gro_iter_init(&it, train, sizeof(train), SEG);
	while (udp_gro_next(&it, &d, &n))
		turn_server_on_peer(f->srv, g_owner[0], (struct sockaddr *)&p, d, n, f->now_ms);
	assert_int_equal(F.nclient, n0 + 4);
	for (unsigned i = 0; i < 4; i++) {
		struct sent *s = &F.client[n0 + i];
		uint16_t chan, dlen;
		const uint8_t *data;
		size_t want = i < 3 ? SEG : 7;
		assert_int_equal(s->len, 4 + want);
		assert_int_equal(stun_chan_parse(s->buf, s->len, &chan, &data, &dlen), 0);
		assert_int_equal(chan, 0x4000);
		assert_int_equal(dlen, want);
		assert_memory_equal(data, train + i * SEG, want);
	}
	struct sockaddr_storage q = sa("198.51.100.99:7000");
	n0 = F.nclient;
	udp_gro_iter_init(&it, train, sizeof(train), SEG);
	while (udp_gro_next(&it, &d, &n))
		turn_server_on_peer(f->srv, g_owner[0], (struct sockaddr *)&q, d, n, f->now_ms);
	assert_int_equal(F.nclient, n0);
}

static void test_tcp_channel_padding_and_close(void **state)
{
	struct fx *f = *state;
	int handle;
	struct turn_conn t = udp_conn("192.0.2.30:5555");
	t.proto = TURN_PROTO_TCP;
	t.fd = -1;
	t.stream = &handle;
	allocate(f, &t);
	struct req r = authed(f, &t, TURN_METHOD_CHANNEL_BIND, "alice", "secret");
	r.chan = 0x4ABC;
	r.peer = "198.51.100.20:7000";
	assert_int_equal(transact(f, &t, &r), 0);
	unsigned n0 = F.nclient;
	from_peer(f, 0, "198.51.100.20:7000", PAYLOAD, 11);
	struct sent *s = &F.client[n0];
	assert_int_equal(s->len, 16); /* padded to 4 over a stream */
	assert_ptr_equal(s->stream, &handle);
	assert_int_equal(s->buf[15], 0);
	/* The connection going away takes the allocation. */
	turn_server_conn_closed(f->srv, &handle);
	assert_false(F.relays[0].open);
	assert_int_equal(turn_server_stats(f->srv)->allocs_active, 0);
}

static void test_refresh_zero_deletes(void **state)
{
	struct fx *f = *state;
	allocate(f, &f->conn);
	assert_int_equal(create_perm(f, "198.51.100.20:7000"), 0);
	struct req r = authed(f, &f->conn, TURN_METHOD_REFRESH, "alice", "secret");
	r.lifetime = 1800;
	assert_int_equal(transact(f, &f->conn, &r), 0);
	struct stun_msg m = last_reply();
	uint32_t lt;
	assert_int_equal(stun_attr_get_u32(&m, stun_msg_find(&m, TURN_ATTR_LIFETIME), &lt), 0);
	assert_int_equal(lt, 1800);
	r = authed(f, &f->conn, TURN_METHOD_REFRESH, "alice", "secret");
	r.lifetime = 0;
	assert_int_equal(transact(f, &f->conn, &r), 0);
	assert_false(F.relays[0].open);
	assert_int_equal(turn_server_stats(f->srv)->allocs_active, 0);
	send_ind(f, "198.51.100.20:7000", PAYLOAD, sizeof(PAYLOAD));
	assert_int_equal(F.npeer, 0);
	/* And the 5-tuple is free again. */
	allocate(f, &f->conn);
	assert_int_equal(F.nrelays, 2);
}

static void test_expiry_closes_relay(void **state)
{
	struct fx *f = *state;
	assert_int_equal(turn_server_tick(f->srv, f->now_ms), UINT64_MAX);
	allocate(f, &f->conn);
	uint64_t dl = turn_server_tick(f->srv, f->now_ms);
	assert_true(dl > f->now_ms && dl != UINT64_MAX);
	f->now_ms += 599 * 1000;
	turn_server_tick(f->srv, f->now_ms);
	assert_true(F.relays[0].open);
	assert_int_equal(turn_shared_total(f->shared), 1);
	f->now_ms += 1000;
	for (int i = 0; i < 100 && turn_server_tick(f->srv, f->now_ms) <= f->now_ms; i++)
		;
	assert_false(F.relays[0].open);
	assert_int_equal(F.nclosed, 1);
	const struct turn_stats *st = turn_server_stats(f->srv);
	assert_int_equal(st->allocs_expired, 1);
	assert_int_equal(turn_shared_total(f->shared), 0); /* the quota is given back */
	assert_int_equal(st->allocs_active, 0);
	assert_int_equal(turn_server_tick(f->srv, f->now_ms + 5000), UINT64_MAX);
}

static void test_garbage_creates_nothing(void **state)
{
	struct fx *f = *state;
	uint8_t buf[600];
	srand(7);
	for (int i = 0; i < 2000; i++) {
		size_t n = (size_t)(rand() % (int)sizeof(buf));
		for (size_t j = 0; j < n; j++)
			buf[j] = (uint8_t)rand();
		if (i % 2 && n >= 20) { /* make half of them look like STUN */
			buf[0] &= 0x3F;
			buf[4] = 0x21, buf[5] = 0x12, buf[6] = 0xA4, buf[7] = 0x42;
			n &= ~(size_t)3;
			buf[2] = (uint8_t)((n - 20) >> 8);
			buf[3] = (uint8_t)(n - 20);
		}
		turn_server_on_client(f->srv, &f->conn, buf, n, f->now_ms, f->now_unix);
		f->now_ms += 1000; /* keep the rate limiter out of the way */
	}
	assert_int_equal(F.nrelays, 0);
	assert_int_equal(turn_server_stats(f->srv)->allocs_active, 0);
	assert_true(turn_server_stats(f->srv)->bad_in > 0);
	/* A malformed request (attribute overrunning the message) gets 400. */
	uint8_t bad[24] = { 0x00, 0x03, 0x00, 0x04, 0x21, 0x12, 0xA4, 0x42 };
	bad[20] = 0x00, bad[21] = 0x19, bad[22] = 0x00, bad[23] = 0x08;
	unsigned n0 = F.nclient;
	turn_server_on_client(f->srv, &f->conn, bad, sizeof(bad), f->now_ms, f->now_unix);
	assert_int_equal(F.nclient, n0 + 1);
	struct stun_msg m = last_reply();
	assert_int_equal(reply_code(&m), 400);
	/* Not STUN at all: no answer. */
	uint8_t junk[8] = { 0xFF, 1, 2, 3, 4, 5, 6, 7 };
	turn_server_on_client(f->srv, &f->conn, junk, sizeof(junk), f->now_ms, f->now_unix);
	assert_int_equal(F.nclient, n0 + 1);
}

static void test_401_is_small(void **state)
{
	struct fx *f = *state;
	struct req r = req_new(TURN_METHOD_ALLOCATE);
	uint8_t buf[64];
	size_t n = build(&r, buf, sizeof(buf));
	assert_int_equal(n, 28); /* the smallest valid Allocate */
	turn_server_on_client(f->srv, &f->conn, buf, n, f->now_ms, f->now_unix);
	assert_int_equal(F.nclient, 1);
	struct stun_msg m = last_reply();
	assert_int_equal(reply_code(&m), 401);
	assert_null(stun_msg_find(&m, STUN_ATTR_SOFTWARE));
	assert_true(F.client[0].len <= 4 * n);
	/* A bare Refresh is the smallest request that can draw a 401. */
	r = req_new(TURN_METHOD_REFRESH);
	n = build(&r, buf, sizeof(buf));
	assert_int_equal(transact(f, &f->conn, &r), 401);
	assert_true(F.client[1].len <= 5 * n);
	/* A bare Allocate (no REQUESTED-TRANSPORT) draws only a 400. */
	r = req_new(TURN_METHOD_ALLOCATE);
	r.transport = -1;
	n = build(&r, buf, sizeof(buf));
	assert_int_equal(transact(f, &f->conn, &r), 400);
	assert_true(F.client[2].len <= 2 * n);
}

static void test_401_rate_limited(void **state)
{
	struct fx *f = *state;
	struct turn_conn spoofed = udp_conn("192.0.2.66:1000");
	struct req r = req_new(TURN_METHOD_ALLOCATE);
	for (int i = 0; i < 2000; i++) {
		spoofed.client = sa(i % 2 ? "192.0.2.66:1000" : "192.0.2.66:2000");
		send_from(f, &spoofed, &r);
	}
	unsigned answered = F.nclient;
	assert_true(answered >= 20 && answered <= 400);
	assert_int_equal(turn_server_stats(f->srv)->rate_limited, 2000 - answered);
	/* Another source is unaffected. */
	assert_int_equal(transact(f, &f->conn, &r), 401);
	/* The victim's bucket refills with time. */
	f->now_ms += 2000;
	unsigned before = F.nclient;
	send_from(f, &spoofed, &r);
	assert_int_equal(F.nclient, before + 1);
	assert_int_equal(F.nrelays, 0);
}

static void test_unknown_attributes(void **state)
{
	struct fx *f = *state;
	struct req r = authed(f, &f->conn, TURN_METHOD_ALLOCATE, "alice", "secret");
	r.unknown_attr = 0x7777;
	assert_int_equal(transact(f, &f->conn, &r), 420);
	struct stun_msg m = last_reply();
	const struct stun_attr *u = stun_msg_find(&m, STUN_ATTR_UNKNOWN_ATTRIBUTES);
	assert_non_null(u);
	assert_int_equal(u->len, 2);
	assert_int_equal(stun_attr_value(&m, u)[0], 0x77);
	/* DONT-FRAGMENT is unsupported: 420 listing it. */
	r = authed(f, &f->conn, TURN_METHOD_ALLOCATE, "alice", "secret");
	r.dont_fragment = true;
	assert_int_equal(transact(f, &f->conn, &r), 420);
	m = last_reply();
	u = stun_msg_find(&m, STUN_ATTR_UNKNOWN_ATTRIBUTES);
	assert_non_null(u);
	assert_int_equal(stun_attr_value(&m, u)[1], TURN_ATTR_DONT_FRAGMENT);
	/* Unknown comprehension-optional attributes are ignored. */
	r = authed(f, &f->conn, TURN_METHOD_ALLOCATE, "alice", "secret");
	r.unknown_attr = 0x8777;
	assert_int_equal(transact(f, &f->conn, &r), 0);
}

static void test_even_port(void **state)
{
	struct fx *f = *state;
	F.next_port = 50001; /* the fake's next port is odd */
	struct req r = authed(f, &f->conn, TURN_METHOD_ALLOCATE, "alice", "secret");
	r.even_port = 0;
	assert_int_equal(transact(f, &f->conn, &r), 0);
	struct stun_msg m = last_reply();
	struct sockaddr_storage relay;
	stun_attr_get_addr(&m, stun_msg_find(&m, TURN_ATTR_XOR_RELAYED_ADDRESS), &relay);
	assert_int_equal(addr_port((struct sockaddr *)&relay) % 2, 0);
	/* The odd one was given back. */
	assert_int_equal(F.nrelays, 2);
	assert_false(F.relays[0].open);
	assert_true(F.relays[1].open);
	/* Reserving the next port is not offered. */
	struct turn_conn c2 = udp_conn("192.0.2.10:2");
	r = authed(f, &c2, TURN_METHOD_ALLOCATE, "alice", "secret");
	r.even_port = 0x80;
	assert_int_equal(transact(f, &c2, &r), 508);
}

static void test_bandwidth_limit(void **state)
{
	struct fx *f = *state;
	f->conf.bandwidth_per_allocation = 1; /* 1 KB/s: a 3000-byte burst */
	allocate(f, &f->conn);
	assert_int_equal(create_perm(f, "198.51.100.20:7000"), 0);
	uint8_t big[1000] = { 0 };
	for (int i = 0; i < 10; i++)
		send_ind(f, "198.51.100.20:7000", big, sizeof(big));
	assert_int_equal(F.npeer, 3);
	assert_int_equal(turn_server_stats(f->srv)->dropped_bw, 7);
}

static void test_integrity_sha256(void **state)
{
	struct fx *f = *state;
	struct req r = authed(f, &f->conn, TURN_METHOD_ALLOCATE, "alice", "secret");
	r.sha256 = true;
	assert_int_equal(transact(f, &f->conn, &r), 0);
	struct stun_msg m = last_reply();
	assert_true(m.mi >= 0);
	assert_true(m.mi256 >= 0);
	uint8_t key[STUN_KEY_MD5_LEN];
	stun_key_md5("alice", "ipop", "secret", key);
	assert_int_equal(stun_check_integrity(&m, key, sizeof(key)), 0);
	/* A wrong SHA-256 integrity fails like a wrong SHA-1 one. */
	struct turn_conn c2 = udp_conn("192.0.2.10:2");
	r = authed(f, &c2, TURN_METHOD_ALLOCATE, "alice", "nope");
	r.sha256 = true;
	assert_int_equal(transact(f, &c2, &r), 401);
}

static void test_account_states(void **state)
{
	struct fx *f = *state;
	char path[] = "/tmp/test_turn_server_accts.XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	FILE *fp = fdopen(fd, "w");
	fputs("carol:pw:ipop:restricted\ndave:pw:ipop:refused\n", fp);
	fclose(fp);
	f->conf.account_method = TURN_ACCOUNT_FILE;
	f->conf.account_file = path;
	f->conf.restricted_bandwidth = 1; /* KB/s */
	turn_server_free(f->srv);
	turn_shared_free(f->shared);
	turn_accounts_free(f->acc);
	fx_start(f);
	unlink(path);

	struct turn_conn c2 = udp_conn("192.0.2.10:2");
	struct req r = authed(f, &c2, TURN_METHOD_ALLOCATE, "dave", "pw");
	assert_int_equal(transact(f, &c2, &r), 401);
	r = authed(f, &f->conn, TURN_METHOD_ALLOCATE, "carol", "pw");
	assert_int_equal(transact(f, &f->conn, &r), 0);
	r = authed(f, &f->conn, TURN_METHOD_CREATE_PERMISSION, "carol", "pw");
	r.peer = "198.51.100.20:1";
	assert_int_equal(transact(f, &f->conn, &r), 0);
	uint8_t big[1000] = { 0 };
	for (int i = 0; i < 10; i++)
		send_ind(f, "198.51.100.20:7000", big, sizeof(big));
	assert_int_equal(F.npeer, 3);
	/* alice is not restricted (bandwidth_per_allocation 0 = unlimited). */
	struct turn_conn c3 = udp_conn("192.0.2.10:3");
	allocate(f, &c3);
	r = authed(f, &c3, TURN_METHOD_CREATE_PERMISSION, "alice", "secret");
	r.peer = "198.51.100.20:1";
	assert_int_equal(transact(f, &c3, &r), 0);
	for (int i = 0; i < 10; i++) {
		struct req s = req_new(TURN_METHOD_SEND);
		s.cls = STUN_CLASS_INDICATION;
		s.peer = "198.51.100.20:7000";
		s.data = big;
		s.dlen = sizeof(big);
		send_from(f, &c3, &s);
	}
	assert_int_equal(F.npeer, 13);
}

static void test_tcp_client_channel_data(void **state)
{
	struct fx *f = *state;
	int handle;
	struct turn_conn t = udp_conn("192.0.2.30:5555");
	t.proto = TURN_PROTO_TLS;
	t.stream = &handle;
	allocate(f, &t);
	struct req r = authed(f, &t, TURN_METHOD_CHANNEL_BIND, "alice", "secret");
	r.chan = 0x4001;
	r.peer = "198.51.100.20:7000";
	assert_int_equal(transact(f, &t, &r), 0);
	/* A padded frame as the stream layer hands it over. */
	uint8_t cd[8] = { 0x40, 0x01, 0x00, 0x03, 'a', 'b', 'c', 0 };
	turn_server_on_client(f->srv, &t, cd, sizeof(cd), f->now_ms, f->now_unix);
	assert_int_equal(F.npeer, 1);
	assert_int_equal(F.peer[0].len, 3);
	assert_memory_equal(F.peer[0].buf, "abc", 3);
	/* The same bytes from a UDP 5-tuple with no allocation go nowhere. */
	turn_server_on_client(f->srv, &f->conn, cd, sizeof(cd), f->now_ms, f->now_unix);
	assert_int_equal(F.npeer, 1);
}

static void test_ipv6_data_paths(void **state)
{
	struct fx *f = *state;
	struct turn_conn c6 = udp_conn("[2001:db8:1::10]:4000");
	struct req r = authed(f, &c6, TURN_METHOD_ALLOCATE, "alice", "secret");
	r.family = STUN_FAMILY_IPV6;
	assert_int_equal(transact(f, &c6, &r), 0);
	r = authed(f, &c6, TURN_METHOD_CREATE_PERMISSION, "alice", "secret");
	r.peer = "[2001:db8:2::20]:7000";
	assert_int_equal(transact(f, &c6, &r), 0);
	/* Data indication with a 20-byte XOR-PEER-ADDRESS. */
	const uint8_t pl[4] = { 9, 8, 7, 6 };
	unsigned n0 = F.nclient;
	from_peer(f, 0, "[2001:db8:2::20]:7000", pl, sizeof(pl));
	assert_int_equal(F.nclient, n0 + 1);
	assert_int_equal(F.client[n0].iovcnt, 2); /* no padding needed */
	struct stun_msg m = last_reply();
	struct sockaddr_storage p, want = sa("[2001:db8:2::20]:7000");
	assert_int_equal(stun_attr_get_addr(&m, stun_msg_find(&m, TURN_ATTR_XOR_PEER_ADDRESS), &p), 0);
	assert_true(addr_equal((struct sockaddr *)&p, (struct sockaddr *)&want));
	/* Send towards it; an IPv4 peer on this allocation is dropped. */
	struct req sreq = req_new(TURN_METHOD_SEND);
	sreq.cls = STUN_CLASS_INDICATION;
	sreq.peer = "[2001:db8:2::20]:7001";
	sreq.data = pl;
	sreq.dlen = sizeof(pl);
	send_from(f, &c6, &sreq);
	assert_int_equal(F.npeer, 1);
	sreq.peer = "198.51.100.20:1";
	send_from(f, &c6, &sreq);
	assert_int_equal(F.npeer, 1);
}


/* ---- classic STUN, RFC 5780, reservations, DONT-FRAGMENT ---- */

/* An RFC 3489 Binding request: no magic cookie, a 16-byte id. */
static size_t classic_req(uint8_t *buf, uint16_t type, int change, uint16_t extra_attr)
{
	size_t n = 20;
	memset(buf, 0, 64);
	buf[0] = (uint8_t)(type >> 8);
	buf[1] = (uint8_t)type;
	for (int i = 4; i < 20; i++)
		buf[i] = (uint8_t)(0xA0 + i); /* never the cookie */
	if (change >= 0) {
		uint8_t a[8] = { 0x00, 0x03, 0x00, 0x04, 0, 0, 0, (uint8_t)change };
		memcpy(buf + n, a, 8);
		n += 8;
	}
	if (extra_attr) {
		uint8_t a[12] = { (uint8_t)(extra_attr >> 8), (uint8_t)extra_attr, 0x00, 0x08, 0, 1 };
		memcpy(buf + n, a, 12);
		n += 12;
	}
	buf[3] = (uint8_t)(n - 20);
	return n;
}

static void test_classic_binding(void **state)
{
	struct fx *f = *state;
	uint8_t req[64];
	size_t n = classic_req(req, 0x0001, 0, 0); /* stun(1) sends CHANGE-REQUEST 0 */
	assert_false(stun_is_message(req, n));
	assert_true(stun_is_classic(req, n));
	turn_server_on_client(f->srv, &f->conn, req, n, f->now_ms, f->now_unix);
	assert_int_equal(F.nclient, 1);
	struct sent *s = &F.client[0];
	struct stun_msg m;
	assert_int_equal(stun_msg_parse_classic(&m, s->buf, s->len), 0);
	assert_int_equal(m.method, STUN_METHOD_BINDING);
	assert_int_equal(m.cls, STUN_CLASS_SUCCESS);
	assert_memory_equal(s->buf + 4, req + 4, 16); /* the whole 128-bit id */
	const struct stun_attr *ma = stun_msg_find(&m, STUN_ATTR_MAPPED_ADDRESS);
	assert_non_null(ma);
	struct sockaddr_storage got;
	assert_int_equal(stun_attr_get_addr(&m, ma, &got), 0);
	assert_true(addr_equal((struct sockaddr *)&got, (struct sockaddr *)&f->conn.client));
	assert_null(stun_msg_find(&m, STUN_ATTR_XOR_MAPPED_ADDRESS));
	assert_null(stun_msg_find(&m, STUN_ATTR_CHANGED_ADDRESS)); /* no second address */
	assert_int_equal(s->len, 32); /* header + MAPPED-ADDRESS: no amplification */

	/* A change asked of a server without a second address: silence (a
	 * classic client reads any answer as "got through"). */
	n = classic_req(req, 0x0001, STUN_CHANGE_IP | STUN_CHANGE_PORT, 0);
	turn_server_on_client(f->srv, &f->conn, req, n, f->now_ms, f->now_unix);
	assert_int_equal(F.nclient, 1);
	/* RESPONSE-ADDRESS (a reflector) is not honoured: 420 naming it. */
	n = classic_req(req, 0x0001, -1, STUN_ATTR_RESPONSE_ADDRESS);
	turn_server_on_client(f->srv, &f->conn, req, n, f->now_ms, f->now_unix);
	assert_int_equal(F.nclient, 2);
	assert_int_equal(stun_msg_parse_classic(&m, F.client[1].buf, F.client[1].len), 0);
	assert_int_equal(m.cls, STUN_CLASS_ERROR);
	assert_non_null(stun_msg_find(&m, STUN_ATTR_UNKNOWN_ATTRIBUTES));
	/* Anything but a classic Binding request is dropped; over TCP too. */
	n = classic_req(req, 0x0002, -1, 0); /* Shared Secret */
	turn_server_on_client(f->srv, &f->conn, req, n, f->now_ms, f->now_unix);
	n = classic_req(req, 0x0101, -1, 0); /* a response */
	turn_server_on_client(f->srv, &f->conn, req, n, f->now_ms, f->now_unix);
	struct turn_conn tcp = f->conn;
	tcp.proto = TURN_PROTO_TCP;
	n = classic_req(req, 0x0001, -1, 0);
	turn_server_on_client(f->srv, &tcp, req, n, f->now_ms, f->now_unix);
	assert_int_equal(F.nclient, 2);
	assert_int_equal(F.nrelays, 0);
}

static void alt_conf(struct fx *f)
{
	f->conf.udp_port = 3478;
	f->conf.alt_udp_port = 3479;
	f->conf.n_alt = 1;
	f->conf.alt_primary[0] = sa("198.51.100.1");
	f->conf.alt_listen[0] = sa("198.51.100.2");
}

static struct sockaddr_storage attr_addr(const struct stun_msg *m, uint16_t type)
{
	struct sockaddr_storage a;
	const struct stun_attr *at = stun_msg_find(m, type);
	assert_non_null(at);
	assert_int_equal(stun_attr_get_addr(m, at, &a), 0);
	return a;
}

static void assert_addr(const struct sockaddr_storage *a, const char *want)
{
	struct sockaddr_storage w = sa(want);
	assert_true(addr_equal((const struct sockaddr *)a, (const struct sockaddr *)&w));
}

static void test_rfc5780(void **state)
{
	struct fx *f = *state;
	alt_conf(f);
	/* Plain Binding on the primary address: RESPONSE-ORIGIN is where it
	 * came, OTHER-ADDRESS differs in IP and port. */
	struct req r = req_new(STUN_METHOD_BINDING);
	assert_int_equal(transact(f, &f->conn, &r), 0);
	struct stun_msg m = last_reply();
	struct sockaddr_storage a = attr_addr(&m, STUN_ATTR_RESPONSE_ORIGIN);
	assert_addr(&a, "198.51.100.1:3478");
	a = attr_addr(&m, STUN_ATTR_OTHER_ADDRESS);
	assert_addr(&a, "198.51.100.2:3479");
	assert_int_equal(F.client[0].from.ss_family, AF_UNSPEC); /* sent the usual way */
	assert_true(F.client[0].len <= 56); /* 20-byte request: header + three addresses */

	/* CHANGE-REQUEST: the answer leaves from the changed address. */
	static const struct { int flags; const char *from; } cases[] = {
		{ STUN_CHANGE_IP | STUN_CHANGE_PORT, "198.51.100.2:3479" },
		{ STUN_CHANGE_PORT, "198.51.100.1:3479" },
		{ STUN_CHANGE_IP, "198.51.100.2:3478" },
	};
	for (unsigned i = 0; i < 3; i++) {
		r = req_new(STUN_METHOD_BINDING);
		r.change = cases[i].flags;
		assert_int_equal(transact(f, &f->conn, &r), 0);
		struct sent *s = &F.client[(F.nclient - 1) % MAX_SENT];
		assert_addr(&s->from, cases[i].from);
		m = last_reply();
		a = attr_addr(&m, STUN_ATTR_RESPONSE_ORIGIN);
		assert_addr(&a, cases[i].from);
	}
	/* A request to the alternate address and port: OTHER-ADDRESS is the
	 * primary pair. */
	struct turn_conn alt = f->conn;
	alt.local = sa("198.51.100.2:3479");
	r = req_new(STUN_METHOD_BINDING);
	assert_int_equal(transact(f, &alt, &r), 0);
	m = last_reply();
	a = attr_addr(&m, STUN_ATTR_OTHER_ADDRESS);
	assert_addr(&a, "198.51.100.1:3478");
	/* Classic clients get the RFC 3489 names of the same addresses, within
	 * twice their request: a bare 20-byte one gets MAPPED-ADDRESS alone. */
	uint8_t req[64];
	size_t n = classic_req(req, 0x0001, -1, 0);
	unsigned before = F.nclient;
	turn_server_on_client(f->srv, &f->conn, req, n, f->now_ms, f->now_unix);
	assert_int_equal(F.nclient, before + 1);
	assert_int_equal(F.client[before % MAX_SENT].len, 32);
	n = classic_req(req, 0x0001, STUN_CHANGE_PORT, 0);
	before = F.nclient;
	turn_server_on_client(f->srv, &f->conn, req, n, f->now_ms, f->now_unix);
	assert_int_equal(F.nclient, before + 1);
	struct sent *s = &F.client[before % MAX_SENT];
	assert_addr(&s->from, "198.51.100.1:3479");
	assert_int_equal(s->len, 2 * n); /* 28 -> 56 */
	assert_int_equal(stun_msg_parse_classic(&m, s->buf, s->len), 0);
	a = attr_addr(&m, STUN_ATTR_CHANGED_ADDRESS);
	assert_addr(&a, "198.51.100.2:3479");
	a = attr_addr(&m, STUN_ATTR_SOURCE_ADDRESS);
	assert_addr(&a, "198.51.100.1:3479");
	/* A malformed CHANGE-REQUEST: 400. */
	uint8_t bad[64];
	struct stun_builder b;
	uint8_t tid[STUN_TID_LEN] = { 1 };
	stun_build_init(&b, bad, sizeof(bad), STUN_METHOD_BINDING, STUN_CLASS_REQUEST, tid);
	stun_build_attr(&b, STUN_ATTR_CHANGE_REQUEST, "\0\0", 2);
	n = (size_t)stun_build_finish(&b);
	turn_server_on_client(f->srv, &f->conn, bad, n, f->now_ms, f->now_unix);
	m = last_reply();
	assert_int_equal(reply_code(&m), 400);
	/* Over TCP nothing can be sent from elsewhere: 420, no RFC 5780 pair. */
	struct turn_conn tcp = f->conn;
	tcp.proto = TURN_PROTO_TCP;
	r = req_new(STUN_METHOD_BINDING);
	r.change = STUN_CHANGE_IP;
	assert_int_equal(transact(f, &tcp, &r), 420);
	r = req_new(STUN_METHOD_BINDING);
	assert_int_equal(transact(f, &tcp, &r), 0);
	m = last_reply();
	assert_null(stun_msg_find(&m, STUN_ATTR_OTHER_ADDRESS));
}

static void test_change_request_without_alt(void **state)
{
	struct fx *f = *state;
	struct req r = req_new(STUN_METHOD_BINDING);
	r.change = STUN_CHANGE_IP | STUN_CHANGE_PORT;
	assert_int_equal(transact(f, &f->conn, &r), 420);
	struct stun_msg m = last_reply();
	const struct stun_attr *u = stun_msg_find(&m, STUN_ATTR_UNKNOWN_ATTRIBUTES);
	assert_non_null(u);
	assert_int_equal(stun_attr_value(&m, u)[1], STUN_ATTR_CHANGE_REQUEST);
	/* No change asked: nothing to refuse. */
	r = req_new(STUN_METHOD_BINDING);
	r.change = 0;
	assert_int_equal(transact(f, &f->conn, &r), 0);
	m = last_reply();
	assert_null(stun_msg_find(&m, STUN_ATTR_OTHER_ADDRESS));
	assert_null(stun_msg_find(&m, STUN_ATTR_RESPONSE_ORIGIN));
}

static struct sockaddr_storage relayed(void)
{
	struct stun_msg m = last_reply();
	return attr_addr(&m, TURN_ATTR_XOR_RELAYED_ADDRESS);
}

static void test_even_port_reservation(void **state)
{
	struct fx *f = *state;
	F.next_port = 50001; /* odd first: the core must skip it */
	struct req r = authed(f, &f->conn, TURN_METHOD_ALLOCATE, "alice", "secret");
	r.even_port = 0x80;
	assert_int_equal(transact(f, &f->conn, &r), 0);
	struct stun_msg m = last_reply();
	const struct stun_attr *ta = stun_msg_find(&m, TURN_ATTR_RESERVATION_TOKEN);
	assert_non_null(ta);
	assert_int_equal(ta->len, 8);
	uint8_t token[8];
	memcpy(token, stun_attr_value(&m, ta), 8);
	struct sockaddr_storage rtp = relayed();
	uint16_t port = addr_port((struct sockaddr *)&rtp);
	assert_int_equal(port % 2, 0);
	assert_int_equal(F.nholds, 1);
	assert_true(F.holds[0].open);
	assert_int_equal(addr_port((struct sockaddr *)&F.holds[0].addr), port + 1);
	assert_true(addr_equal_ip((struct sockaddr *)&F.holds[0].addr, (struct sockaddr *)&rtp));
	/* Its retransmission gets the same token. */
	assert_int_equal(transact(f, &f->conn, &r), 0);
	m = last_reply();
	ta = stun_msg_find(&m, TURN_ATTR_RESERVATION_TOKEN);
	assert_non_null(ta);
	assert_memory_equal(stun_attr_value(&m, ta), token, 8);

	/* Another client presents the token: port + 1 on the same address. */
	struct turn_conn c2 = udp_conn("192.0.2.10:2");
	r = authed(f, &c2, TURN_METHOD_ALLOCATE, "alice", "secret");
	r.token = token;
	assert_int_equal(transact(f, &c2, &r), 0);
	struct sockaddr_storage rtcp = relayed();
	assert_int_equal(addr_port((struct sockaddr *)&rtcp), port + 1);
	assert_true(addr_equal_ip((struct sockaddr *)&rtcp, (struct sockaddr *)&rtp));
	assert_false(F.holds[0].open); /* adopted */
	/* A token works once; unknown tokens get 508; with EVEN-PORT or
	 * REQUESTED-ADDRESS-FAMILY, 400. */
	struct turn_conn c3 = udp_conn("192.0.2.10:3");
	r = authed(f, &c3, TURN_METHOD_ALLOCATE, "alice", "secret");
	r.token = token;
	assert_int_equal(transact(f, &c3, &r), 508);
	static const uint8_t other[8] = { 9, 9, 9, 9, 9, 9, 9, 9 };
	r = authed(f, &c3, TURN_METHOD_ALLOCATE, "alice", "secret");
	r.token = other;
	assert_int_equal(transact(f, &c3, &r), 508);
	r = authed(f, &c3, TURN_METHOD_ALLOCATE, "alice", "secret");
	r.token = other;
	r.even_port = 0;
	assert_int_equal(transact(f, &c3, &r), 400);
	r = authed(f, &c3, TURN_METHOD_ALLOCATE, "alice", "secret");
	r.token = other;
	r.family = STUN_FAMILY_IPV4;
	assert_int_equal(transact(f, &c3, &r), 400);
	assert_int_equal(turn_shared_total(f->shared), 2);
}

static void test_reservation_expires(void **state)
{
	struct fx *f = *state;
	F.next_port = 50000;
	struct req r = authed(f, &f->conn, TURN_METHOD_ALLOCATE, "alice", "secret");
	r.even_port = 0x80;
	assert_int_equal(transact(f, &f->conn, &r), 0);
	struct stun_msg m = last_reply();
	uint8_t token[8];
	memcpy(token, stun_attr_value(&m, stun_msg_find(&m, TURN_ATTR_RESERVATION_TOKEN)), 8);
	assert_true(F.holds[0].open);
	/* Held for 30 s: the sweep keeps it at 29 s, releases it at 31 s. */
	advance(f, 29000);
	turn_server_tick(f->srv, f->now_ms);
	assert_true(F.holds[0].open);
	advance(f, 2000);
	turn_server_tick(f->srv, f->now_ms);
	assert_false(F.holds[0].open);
	struct turn_conn c2 = udp_conn("192.0.2.10:2");
	r = authed(f, &c2, TURN_METHOD_ALLOCATE, "alice", "secret");
	r.token = token;
	assert_int_equal(transact(f, &c2, &r), 508);
	/* A port+1 that cannot be held: the core looks for another pair. */
	F.hold_err = -EADDRINUSE;
	struct turn_conn c3 = udp_conn("192.0.2.10:3");
	r = authed(f, &c3, TURN_METHOD_ALLOCATE, "alice", "secret");
	r.even_port = 0x80;
	assert_int_equal(transact(f, &c3, &r), 508);
	F.hold_err = 0;
}

static void test_dont_fragment(void **state)
{
	struct fx *f = *state;
	struct req r = authed(f, &f->conn, TURN_METHOD_ALLOCATE, "alice", "secret");
	r.dont_fragment = true;
	assert_int_equal(transact(f, &f->conn, &r), 0);
	assert_true(F.relays[0].df);
	/* A Send indication with DONT-FRAGMENT on an allocation without DF
	 * sets it, and is relayed. */
	struct turn_conn c2 = udp_conn("192.0.2.10:2");
	r = authed(f, &c2, TURN_METHOD_ALLOCATE, "alice", "secret");
	assert_int_equal(transact(f, &c2, &r), 0);
	assert_false(F.relays[1].df);
	r = authed(f, &c2, TURN_METHOD_CREATE_PERMISSION, "alice", "secret");
	r.peer = "198.51.100.20:1";
	assert_int_equal(transact(f, &c2, &r), 0);
	struct req sreq = req_new(TURN_METHOD_SEND);
	sreq.cls = STUN_CLASS_INDICATION;
	sreq.peer = "198.51.100.20:1";
	sreq.data = (const uint8_t *)"x";
	sreq.dlen = 1;
	sreq.dont_fragment = true;
	send_from(f, &c2, &sreq);
	assert_int_equal(F.npeer, 1);
	assert_true(F.relays[1].df);
}

static unsigned err_slot(int code)
{
	for (unsigned i = 0; i < TURN_STATS_NERR; i++)
		if (turn_stats_err_code(i) == code)
			return i;
	fail_msg("no err_sent slot for %d", code);
	return 0;
}

/* The counters behind the Prometheus metrics (turn_metrics.c): Binding
 * requests, answers and errors, error responses by code, refused peers
 * by reason, traffic to and from clients and peers in packets and bytes
 * as they were on the wire, relayed payload bytes, allocations by
 * transport. */
static void test_metrics_counters(void **state)
{
	struct fx *f = *state;
	const struct turn_stats *st = turn_server_stats(f->srv);
	uint8_t buf[1500];

	struct req r = req_new(STUN_METHOD_BINDING);
	size_t n = build(&r, buf, sizeof(buf));
	turn_server_on_client(f->srv, &f->conn, buf, n, f->now_ms, f->now_unix);
	assert_int_equal(st->binding_req, 1);
	assert_int_equal(st->binding_ok, 1);
	assert_int_equal(st->client_in, 1);
	assert_int_equal(st->client_in_bytes, n);
	assert_int_equal(st->client_out, 1);
	assert_int_equal(st->client_out_bytes, F.client[0].len);
	r = req_new(STUN_METHOD_BINDING);
	r.unknown_attr = 0x7777; /* comprehension-required, unknown: 420 */
	send_from(f, &f->conn, &r);
	assert_int_equal(st->binding_req, 2);
	assert_int_equal(st->binding_ok, 1);
	assert_int_equal(st->binding_err, 1);
	assert_int_equal(st->err_sent[err_slot(420)], 1);

	allocate(f, &f->conn); /* a 401 first, then the Allocate */
	assert_int_equal(st->err_sent[err_slot(401)], 1);
	assert_int_equal(st->allocs_by_proto[TURN_PROTO_UDP], 1);
	assert_int_equal(st->allocs_by_proto[TURN_PROTO_TCP], 0);

	f->conf.n_denied = 1;
	f->conf.denied[0] = (struct turn_addr_rule){ .addr = sa("198.51.100.99"), .prefix = 32 };
	assert_int_equal(create_perm(f, "127.0.0.1:7000"), 403);
	assert_int_equal(create_perm(f, "198.51.100.99:7000"), 403);
	assert_int_equal(st->dropped_policy, 2);
	assert_int_equal(st->policy_special, 1);
	assert_int_equal(st->err_sent[err_slot(403)], 2);
	assert_int_equal(st->err_sent[err_slot(401)], 3); /* each create_perm fetched a nonce */

	assert_int_equal(create_perm(f, "192.0.2.77:7000"), 0);
	uint64_t out0 = st->client_out_bytes, in0 = st->client_in;
	send_ind(f, "192.0.2.77:7000", PAYLOAD, sizeof(PAYLOAD));
	assert_int_equal(st->relayed_to_peer, 1);
	assert_int_equal(st->relayed_to_peer_bytes, sizeof(PAYLOAD));
	assert_int_equal(st->client_in, in0 + 1);
	const uint8_t five[5] = { 1, 2, 3, 4, 5 };
	unsigned c0 = F.nclient;
	from_peer(f, 0, "192.0.2.77:7000", five, sizeof(five));
	from_peer(f, 0, "192.0.2.78:7000", five, sizeof(five)); /* no permission: dropped */
	assert_int_equal(F.nclient, c0 + 1);
	assert_int_equal(st->peer_in, 2);
	assert_int_equal(st->peer_in_bytes, 10);
	assert_int_equal(st->relayed_to_client, 1);
	assert_int_equal(st->relayed_to_client_bytes, 5);
	assert_int_equal(st->client_out_bytes, out0 + F.client[c0].len);
	assert_int_equal(F.client[c0].len, 20 + 12 + 4 + 5 + 3); /* Data indication as sent */

	struct req z = authed(f, &f->conn, TURN_METHOD_REFRESH, "alice", "secret");
	z.lifetime = 0;
	assert_int_equal(transact(f, &f->conn, &z), 0);
	assert_int_equal(st->allocs_by_proto[TURN_PROTO_UDP], 0);
	assert_int_equal(st->allocs_active, 0);
}

/* ---- guessing, self-relay, private peers ---- */

static unsigned g_allocs_before;

/* An Allocate with these credentials from c, on the nonce c was given. */
static int try_password(struct fx *f, const struct turn_conn *c, const char *user,
			const char *pass, const char *nonce)
{
	struct req r = req_new(TURN_METHOD_ALLOCATE);
	r.user = user;
	r.pass = pass;
	r.nonce = nonce;
	return transact(f, c, &r);
}

/* Guessing from one source: a burst of wrong passwords is checked (401),
 * then even the right one is dropped unanswered without being checked,
 * until the bucket refills. Another user from that source and the same
 * user from another source are served meanwhile. */
static void test_guessing_slowed(void **state)
{
	struct fx *f = *state;
	char nonce[STUN_NONCE_MAX + 1];
	snprintf(nonce, sizeof(nonce), "%s", fetch_nonce(f, &f->conn));
	char pw[32];
	for (int i = 0; i < TURN_AUTHLIMIT_PAIR_BURST; i++) {
		snprintf(pw, sizeof(pw), "guess%d", i);
		assert_int_equal(try_password(f, &f->conn, "alice", pw, nonce), 401);
	}
	unsigned answers = F.nclient;
	for (int i = 0; i < 1000; i++) {
		snprintf(pw, sizeof(pw), "more%d", i);
		struct req r = req_new(TURN_METHOD_ALLOCATE);
		r.user = "alice";
		r.pass = pw;
		r.nonce = nonce;
		send_from(f, &f->conn, &r);
	}
	assert_int_equal(F.nclient, answers); /* held back: no answer at all */
	const struct turn_stats *st = turn_server_stats(f->srv);
	assert_int_equal(st->auth_fail, TURN_AUTHLIMIT_PAIR_BURST);
	assert_int_equal(st->auth_limited, 1000);
	assert_int_equal(st->rate_limited, 0); /* the 401 budget of the source is intact */
	/* the right password now: not even looked at */
	struct req right = req_new(TURN_METHOD_ALLOCATE);
	right.user = "alice";
	right.pass = "secret";
	right.nonce = nonce;
	send_from(f, &f->conn, &right);
	assert_int_equal(F.nclient, answers);
	assert_int_equal(st->auth_limited, 1001);
	assert_int_equal(F.nrelays, 0);

	/* bob on the same IP (another port), alice from another IP */
	struct turn_conn bob = udp_conn("192.0.2.10:40001"), alice2 = udp_conn("203.0.113.50:1");
	struct req r = authed(f, &bob, TURN_METHOD_ALLOCATE, "bob", "hunter2");
	assert_int_equal(transact(f, &bob, &r), 0);
	r = authed(f, &alice2, TURN_METHOD_ALLOCATE, "alice", "secret");
	assert_int_equal(transact(f, &alice2, &r), 0);

	/* a second later the attacker has PAIR_RATE more checks; the right
	 * password goes through when it is one of them */
	advance(f, 1000);
	assert_int_equal(try_password(f, &f->conn, "alice", "secret", nonce), 0);
	assert_int_equal(st->auth_fail, TURN_AUTHLIMIT_PAIR_BURST);
}

/* A source that sprays many usernames empties its own bucket: new users
 * from it wait, but an allocation it already holds keeps refreshing. */
static void test_guessing_spares_live_allocations(void **state)
{
	struct fx *f = *state;
	allocate(f, &f->conn);
	struct turn_conn att = udp_conn("192.0.2.10:50000");
	char nonce[STUN_NONCE_MAX + 1], user[32];
	snprintf(nonce, sizeof(nonce), "%s", fetch_nonce(f, &att));
	for (int i = 0; i < 100; i++) {
		snprintf(user, sizeof(user), "user%d", i);
		struct req g = req_new(TURN_METHOD_ALLOCATE);
		g.user = user;
		g.pass = "x";
		g.nonce = nonce;
		send_from(f, &att, &g);
	}
	assert_int_equal(turn_server_stats(f->srv)->auth_fail, TURN_AUTHLIMIT_IP_BURST);
	struct turn_conn newc = udp_conn("192.0.2.10:40002");
	struct req r = authed(f, &newc, TURN_METHOD_ALLOCATE, "bob", "hunter2");
	unsigned answers = F.nclient;
	send_from(f, &newc, &r); /* this source is held back */
	assert_int_equal(F.nclient, answers);
	r = authed(f, &f->conn, TURN_METHOD_REFRESH, "alice", "secret");
	assert_int_equal(transact(f, &f->conn, &r), 0); /* its allocation is not */
	assert_int_equal(create_perm(f, "198.51.100.20:1"), 0);
}

/* Failures and held-back attempts are warned about, rate-limited, with the
 * username made printable and never a password or key. */
static void test_guessing_logged_without_secrets(void **state)
{
	struct fx *f = *state;
	char nonce[STUN_NONCE_MAX + 1];
	snprintf(nonce, sizeof(nonce), "%s", fetch_nonce(f, &f->conn));
	fflush(stderr);
	int saved = dup(2);
	FILE *tmp = tmpfile();
	assert_non_null(tmp);
	assert_true(dup2(fileno(tmp), 2) >= 0);
	log_set_level(LOG_LVL_DEBUG);
	for (int i = 0; i < 300; i++) {
		struct req r = req_new(TURN_METHOD_ALLOCATE);
		r.user = i % 2 ? "alice" : "ev\nil'user";
		r.pass = i == 299 ? "secret" : "Sup3rSecretGuess";
		r.nonce = nonce;
		send_from(f, &f->conn, &r);
	}
	log_set_level(LOG_LVL_WARN);
	fflush(stderr);
	assert_true(dup2(saved, 2) >= 0);
	close(saved);
	long len = ftell(tmp);
	rewind(tmp);
	char *out = calloc(1, (size_t)len + 1);
	assert_int_equal(fread(out, 1, (size_t)len, tmp), (size_t)len);
	fclose(tmp);
	assert_non_null(strstr(out, "authentication failed: user 'alice' from 192.0.2.10:40000"));
	assert_non_null(strstr(out, "too many failed authentications for this source and "
				    "username, not checked"));
	assert_non_null(strstr(out, "user 'ev?il?user'")); /* no forged line, no quote */
	assert_null(strstr(out, "Sup3rSecretGuess"));
	assert_null(strstr(out, "secret"));
	unsigned warns = 0;
	for (const char *p = out; (p = strstr(p, " from 192.0.2.10:40000 ")); p++)
		warns++;
	assert_int_equal(warns, 10); /* 300 attempts: 5 lines of each kind, the rest counted */
	free(out);
}

/* This server's own addresses: a relay address is reachable only on the
 * ports of live allocations (relay to relay), never on the listening port
 * (an allocation through an allocation); any other host address never. */
static void test_self_relay_refused(void **state)
{
	struct fx *f = *state;
	struct sockaddr_storage r1 = allocate(f, &f->conn);
	struct turn_conn c2 = udp_conn("198.51.100.9:1");
	struct sockaddr_storage r2 = allocate(f, &c2);
	char r2s[ADDR_STRLEN], r1s[ADDR_STRLEN];
	addr_format((struct sockaddr *)&r2, true, r2s);
	addr_format((struct sockaddr *)&r1, true, r1s);
	assert_true(strncmp(r2s, "203.0.113.1:", 12) == 0);

	/* a permission covers the relay IP: the ports are checked per send */
	assert_int_equal(create_perm(f, "203.0.113.1:3478"), 0);
	assert_int_equal(channel_bind(f, 0x4000, "203.0.113.1:3478"), 403);
	assert_int_equal(channel_bind(f, 0x4001, r2s), 0);
	unsigned np = F.npeer;
	uint64_t pol = turn_server_stats(f->srv)->dropped_policy;
	send_ind(f, "203.0.113.1:3478", PAYLOAD, sizeof(PAYLOAD));
	assert_int_equal(F.npeer, np);
	assert_int_equal(turn_server_stats(f->srv)->dropped_policy, pol + 1);
	send_ind(f, r2s, PAYLOAD, sizeof(PAYLOAD));
	assert_int_equal(F.npeer, np + 1);
	uint8_t cd[4 + 4] = { 0x40, 0x01, 0x00, 0x04, 'd', 'a', 't', 'a' };
	turn_server_on_client(f->srv, &f->conn, cd, sizeof(cd), f->now_ms, f->now_unix);
	assert_int_equal(F.npeer, np + 2);
	/* the other allocation goes away: its port is the host's again */
	struct req r = authed(f, &c2, TURN_METHOD_REFRESH, "alice", "secret");
	r.lifetime = 0;
	assert_int_equal(transact(f, &c2, &r), 0);
	turn_server_on_client(f->srv, &f->conn, cd, sizeof(cd), f->now_ms, f->now_unix);
	send_ind(f, r2s, PAYLOAD, sizeof(PAYLOAD));
	assert_int_equal(F.npeer, np + 2);

	/* another address of the host (main adds the interfaces): refused */
	struct sockaddr_storage host = sa("198.51.100.99");
	assert_int_equal(turn_self_add(turn_shared_self(f->shared), (struct sockaddr *)&host), 0);
	assert_int_equal(create_perm(f, "198.51.100.99:53"), 403);
	assert_int_equal(channel_bind(f, 0x4002, "198.51.100.99:53"), 403);
	(void)r1s;
}

/* Private ranges are refused unless allowed_address names them; a denied
 * port is refused on every Send, not only when the permission was made. */
static void test_private_peers_and_ports(void **state)
{
	struct fx *f = *state;
	allocate(f, &f->conn);
	assert_int_equal(create_perm(f, "10.0.0.5:7000"), 403);
	assert_int_equal(create_perm(f, "192.168.1.5:7000"), 403);
	assert_int_equal(create_perm(f, "100.64.0.5:7000"), 403);
	f->conf.n_allowed = 1;
	f->conf.allowed[0] = (struct turn_addr_rule){ .addr = sa("10.0.0.0"), .prefix = 8 };
	assert_int_equal(create_perm(f, "10.0.0.5:7000"), 0);
	assert_int_equal(create_perm(f, "192.168.1.5:7000"), 403);

	f->conf.n_denied = 1;
	f->conf.denied[0] = (struct turn_addr_rule){ .addr = sa("198.51.100.20"), .prefix = 32,
						     .port = 53 };
	assert_int_equal(create_perm(f, "198.51.100.20:7000"), 0);
	unsigned np = F.npeer;
	send_ind(f, "198.51.100.20:53", PAYLOAD, sizeof(PAYLOAD));
	assert_int_equal(F.npeer, np);
	send_ind(f, "198.51.100.20:7000", PAYLOAD, sizeof(PAYLOAD));
	assert_int_equal(F.npeer, np + 1);
	(void)g_allocs_before;
}

int main(void)
{
	log_init("test_turn_server", LOG_LVL_WARN, false);
	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
		T(test_binding),
		T(test_allocate_flow),
		T(test_lifetime_rules),
		T(test_wrong_password),
		T(test_stale_nonce),
		T(test_mismatch_and_retransmission),
		T(test_wrong_credentials),
		T(test_transport_and_family),
		T(test_forbidden_peers),
		T(test_quota),
		T(test_capacity),
		T(test_permission_lifetime),
		T(test_send_and_data_indication),
		T(test_channels),
		T(test_gro_train_from_client),
		T(test_gro_train_from_peer),
		T(test_tcp_channel_padding_and_close),
		T(test_refresh_zero_deletes),
		T(test_expiry_closes_relay),
		T(test_garbage_creates_nothing),
		T(test_401_is_small),
		T(test_401_rate_limited),
		T(test_unknown_attributes),
		T(test_even_port),
		T(test_bandwidth_limit),
		T(test_integrity_sha256),
		T(test_account_states),
		T(test_tcp_client_channel_data),
		T(test_ipv6_data_paths),
		T(test_classic_binding),
		T(test_change_request_without_alt),
		cmocka_unit_test_setup_teardown(test_rfc5780, setup_full, teardown),
		cmocka_unit_test_setup_teardown(test_even_port_reservation, setup_full, teardown),
		cmocka_unit_test_setup_teardown(test_reservation_expires, setup_full, teardown),
		cmocka_unit_test_setup_teardown(test_dont_fragment, setup_full, teardown),
		T(test_metrics_counters),
		T(test_guessing_slowed),
		T(test_guessing_spares_live_allocations),
		T(test_guessing_logged_without_secrets),
		T(test_self_relay_refused),
		T(test_private_peers_and_ports),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
