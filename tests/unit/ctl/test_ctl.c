/* The control socket end to end: a fake daemon behind ctl_server, spoken
 * to by ctl_client and by ipopctl's subcommands, plus the dispatcher and
 * formatters on their own. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "addr.h"
#include "ctl_cli.h"
#include "ip_prefix.h"
#include "ctl_client.h"
#include "ctl_json.h"
#include "ctl_proto.h"
#include "ctl_server.h"

#define FAKE_NOW 1700000000
#define NODE_ID "0123456789abcdef0123456789abcdef01234567"

/* ---- a fake daemon ---- */

struct fake {
	int status_rc, peers_rc;
	int npeers;
	bool bad_jid; /* peer 0's JID: unterminated, invalid UTF-8 */
	unsigned status_calls, peers_calls;
	unsigned peers_max[4]; /* the max of the first calls to peers */
};

static int fake_status(void *ctx, struct ctl_node_status *st)
{
	struct fake *f = ctx;
	f->status_calls++;
	if (f->status_rc)
		return f->status_rc;
	snprintf(st->jid, sizeof(st->jid), "alice@example.org/ipop-%s", NODE_ID);
	snprintf(st->node_id, sizeof(st->node_id), "%s", NODE_ID);
	snprintf(st->interface, sizeof(st->interface), "ipop0");
	inet_pton(AF_INET, "172.31.0.100", &st->ip4);
	st->ip4_mask = 24;
	st->mtu = 1280;
	st->xmpp = CTL_XMPP_ONLINE;
	addr_parse("203.0.113.5:40000", 0, &st->public_addr);
	addr_parse("192.0.2.1:50000", 0, &st->relay_addr);
	addr_parse("192.0.2.1:443", 0, &st->relay_server);
	snprintf(st->relay_transport, sizeof(st->relay_transport), "tls");
	st->has_ip6 = true;
	inet_pton(AF_INET6, "fd00::100", &st->ip6);
	st->ip6_mask = 64;
	st->n_routes = 2;
	assert_null(ip_prefix_parse("10.99.0.0/24", &st->routes[0], NULL));
	assert_null(ip_prefix_parse("fd00:99::/64", &st->routes[1], NULL));
	st->peers_up = 1;
	st->peers_total = (unsigned)f->npeers;
	st->uptime_s = 77;
	st->drop_no_route = 4;
	return 0;
}

static void fake_peer(int i, struct ctl_peer_status *p)
{
	snprintf(p->jid, sizeof(p->jid), "peer%d@example.org/ipop-%s", i, NODE_ID);
	snprintf(p->node_id, sizeof(p->node_id), "%s", NODE_ID);
	p->ip4.s_addr = htonl(0xac1f0000u + 101 + (unsigned)i); /* 172.31.0.101 + i */
	p->state = CTL_PEER_DOWN;
}

static int fake_peers(void *ctx, struct ctl_peer_status *arr, unsigned max)
{
	struct fake *f = ctx;
	if (f->peers_calls < 4)
		f->peers_max[f->peers_calls] = max;
	f->peers_calls++;
	if (f->peers_rc)
		return f->peers_rc;
	for (int i = 0; i < f->npeers && (unsigned)i < max; i++)
		fake_peer(i, &arr[i]);
	if (f->npeers > 0 && max > 0) {
		struct ctl_peer_status *p = &arr[0];
		snprintf(p->jid, sizeof(p->jid), "bob@example.org/ipop-%s", NODE_ID);
		p->state = CTL_PEER_UP;
		p->path = CTL_PATH_DIRECT;
		p->local_type = CTL_CAND_HOST;
		p->remote_type = CTL_CAND_SRFLX;
		addr_parse("198.51.100.7:4000", 0, &p->endpoint);
		p->has_rtt = true;
		p->rtt_us = 12345;
		p->rtt_last_us = 12001;
		p->rtt_min_us = 11800;
		p->rtt_age_ms = 3200;
		p->rx_bytes = 1536;
		p->tx_bytes = 10u << 20;
		p->last_handshake = FAKE_NOW - 12;
		/* dual-stack, routing a LAN, and one route refused */
		p->has_ip6 = true;
		inet_pton(AF_INET6, "fd00::101", &p->ip6);
		p->n_routes = 2;
		assert_null(ip_prefix_parse("10.77.0.0/24", &p->routes[0], NULL));
		assert_null(ip_prefix_parse("fd00:77::/64", &p->routes[1], NULL));
		p->n_refused = 1;
		assert_null(ip_prefix_parse("10.0.0.0/8", &p->refused[0].prefix, NULL));
		snprintf(p->refused[0].why, sizeof(p->refused[0].why),
			 "10.0.0.0/8 is not authorised for bob@example.org (\"accept_routes\")");
		snprintf(p->key, sizeof(p->key), "hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmo=");
		if (f->bad_jid) {
			memset(p->jid, 'a', sizeof(p->jid));
			p->jid[3] = (char)0xff;
		}
	}
	if (f->npeers > 1 && max > 1) {
		struct ctl_peer_status *p = &arr[1];
		snprintf(p->jid, sizeof(p->jid), "carol@example.org/ipop-%s", NODE_ID);
		p->state = CTL_PEER_CHECKING;
		snprintf(p->why_not_direct, sizeof(p->why_not_direct), "no server-reflexive candidate");
		snprintf(p->trust_refused, sizeof(p->trust_refused), "172.31.0.2 belongs to bob@example.org");
	}
	if (f->npeers > 2 && max > 2) {
		struct ctl_peer_status *p = &arr[2];
		p->state = CTL_PEER_UP;
		p->path = CTL_PATH_RELAY;
		p->local_type = CTL_CAND_RELAY;
		p->remote_type = CTL_CAND_HOST;
		addr_parse("192.0.2.9:5000", 0, &p->endpoint);
		addr_parse("203.0.113.1:3478", 0, &p->relay);
	}
	return f->npeers;
}

static const struct ctl_ops fake_ops = { .status = fake_status, .peers = fake_peers };

/* ---- helpers ---- */

static json_t *parse_reply(const char *s, size_t len)
{
	assert_non_null(s);
	assert_true(len > 0);
	assert_int_equal(s[len - 1], '\n');
	assert_null(memchr(s, '\n', len - 1)); /* exactly one line */
	json_error_t je;
	json_t *j = json_loadb(s, len, 0, &je);
	assert_non_null(j);
	assert_true(json_is_object(j));
	assert_int_equal(json_integer_value(json_object_get(j, "version")), CTL_PROTO_VERSION);
	return j;
}

/* Dispatches req and returns the parsed reply envelope. */
static json_t *dispatch(const struct ctl_ops *ops, struct fake *f, const char *req, size_t len,
			int *is_error)
{
	size_t out_len = 0;
	char *s = ctl_json_dispatch(ops, f, req, len, &out_len, is_error);
	json_t *j = parse_reply(s, out_len);
	free(s);
	return j;
}

static uint64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

struct tmp {
	char dir[64];
	char path[128];
};

static void tmp_make(struct tmp *t)
{
	snprintf(t->dir, sizeof(t->dir), "/tmp/test_ctl.XXXXXX");
	assert_non_null(mkdtemp(t->dir));
	/* A missing last directory level is created by the server. */
	snprintf(t->path, sizeof(t->path), "%s/run/ctl.sock", t->dir);
}

static void tmp_clean(struct tmp *t)
{
	char p[160];
	unlink(t->path);
	snprintf(p, sizeof(p), "%s/run", t->dir);
	rmdir(p);
	rmdir(t->dir);
}

/* The server running on its own thread, as ipopd's loop would. */
struct srv_thread {
	struct ctl_server *s;
	atomic_bool stop;
	pthread_t th;
};

static void *srv_loop(void *arg)
{
	struct srv_thread *t = arg;
	while (!atomic_load(&t->stop)) {
		struct pollfd p = { .fd = ctl_server_fd(t->s), .events = POLLIN };
		poll(&p, 1, 10);
		ctl_server_handle(t->s, mono_ms());
	}
	return NULL;
}

static void srv_start(struct srv_thread *t, struct ctl_server *s)
{
	t->s = s;
	atomic_store(&t->stop, false);
	assert_int_equal(pthread_create(&t->th, NULL, srv_loop, t), 0);
}

static void srv_stop(struct srv_thread *t)
{
	atomic_store(&t->stop, true);
	pthread_join(t->th, NULL);
}

static void sun_set(struct sockaddr_un *sun, const char *path)
{
	memset(sun, 0, sizeof(*sun));
	sun->sun_family = AF_UNIX;
	size_t n = strlen(path);
	assert_true(n < sizeof(sun->sun_path));
	memcpy(sun->sun_path, path, n);
}

static int raw_connect(const char *path)
{
	struct sockaddr_un sun;
	sun_set(&sun, path);
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_true(fd >= 0);
	assert_int_equal(connect(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	return fd;
}

/* Reads the client side to EOF while driving the server on this thread;
 * returns the malloc'd reply. */
static char *pump_reply(struct ctl_server *s, int fd, size_t *len)
{
	size_t cap = 1 << 16, n = 0;
	char *buf = malloc(cap);
	assert_non_null(buf);
	assert_int_equal(fcntl(fd, F_SETFL, O_NONBLOCK), 0);
	for (int iter = 0; iter < 100000; iter++) {
		ctl_server_handle(s, 0);
		if (n + 1 == cap) {
			cap *= 2;
			buf = realloc(buf, cap);
			assert_non_null(buf);
		}
		ssize_t r = recv(fd, buf + n, cap - n - 1, 0);
		if (r == 0) {
			buf[n] = '\0';
			*len = n;
			return buf;
		}
		if (r > 0)
			n += (size_t)r;
		else
			assert_int_equal(errno, EAGAIN);
	}
	fail_msg("no EOF from the server");
	return NULL;
}

static const char *const required_peer_keys[] = {
	"jid", "ip4", "state", "path", "local_type", "remote_type", "endpoint", "relay", "rtt_ms",
	"rtt_us", "rtt_last_us", "rtt_min_us", "rtt_age_ms", "rx_bytes", "tx_bytes", "last_handshake", "why_not_direct",
};

/* ---- dispatcher ---- */

static void test_dispatch_status(void **state)
{
	(void)state;
	struct fake f = { .npeers = 2 };
	int is_error = -1;
	json_t *j = dispatch(&fake_ops, &f, "status", 6, &is_error);
	assert_int_equal(is_error, 0);
	assert_null(json_object_get(j, "error"));
	json_t *r = json_object_get(j, "result");
	assert_true(json_is_object(r));
	char jid[128];
	snprintf(jid, sizeof(jid), "alice@example.org/ipop-%s", NODE_ID);
	assert_string_equal(ctl_jstr(r, "jid"), jid);
	assert_string_equal(ctl_jstr(r, "node_id"), NODE_ID);
	assert_string_equal(ctl_jstr(r, "ip4"), "172.31.0.100");
	assert_string_equal(ctl_jstr(r, "xmpp"), "online");
	assert_string_equal(ctl_jstr(r, "public"), "203.0.113.5:40000");
	const json_t *rel = json_object_get(r, "relay");
	assert_true(json_is_object(rel));
	assert_string_equal(ctl_jstr(rel, "address"), "192.0.2.1:50000");
	assert_string_equal(ctl_jstr(rel, "server"), "192.0.2.1:443");
	assert_string_equal(ctl_jstr(rel, "transport"), "tls");
	assert_string_equal(ctl_jstr(r, "interface"), "ipop0");
	assert_string_equal(ctl_jstr(r, "mode"), "group");
	assert_int_equal(ctl_jint(r, "peers_up", -1), 1);
	assert_int_equal(ctl_jint(r, "peers_total", -1), 2);
	assert_int_equal(ctl_jint(json_object_get(r, "drops"), "no_route", -1), 4);
	assert_int_equal(f.status_calls, 1);
	json_decref(j);

	/* No srflx address yet: public is null, not "". */
	struct ctl_node_status st;
	memset(&st, 0, sizeof(st));
	st.xmpp = CTL_XMPP_CONNECTING;
	json_t *o = ctl_json_node_status(&st);
	assert_non_null(o);
	assert_true(json_is_null(json_object_get(o, "public")));
	assert_true(json_is_null(json_object_get(o, "relay")));
	assert_true(json_is_null(json_object_get(o, "jid")));
	assert_string_equal(ctl_jstr(o, "xmpp"), "connecting");
	json_decref(o);
}

static void test_dispatch_peers(void **state)
{
	(void)state;
	struct fake f = { .npeers = 3 };
	int is_error = -1;
	json_t *j = dispatch(&fake_ops, &f, "peers\r", 6, &is_error);
	assert_int_equal(is_error, 0);
	assert_null(json_object_get(j, "truncated"));
	json_t *list = json_object_get(j, "result");
	assert_true(json_is_array(list));
	assert_int_equal(json_array_size(list), 3);
	for (size_t i = 0; i < 3; i++) {
		json_t *p = json_array_get(list, i);
		for (size_t k = 0; k < sizeof(required_peer_keys) / sizeof(required_peer_keys[0]); k++)
			assert_non_null(json_object_get(p, required_peer_keys[k]));
	}
	json_t *bob = json_array_get(list, 0);
	assert_string_equal(ctl_jstr(bob, "state"), "up");
	assert_string_equal(ctl_jstr(bob, "path"), "direct");
	assert_string_equal(ctl_jstr(bob, "local_type"), "host");
	assert_string_equal(ctl_jstr(bob, "remote_type"), "srflx");
	assert_string_equal(ctl_jstr(bob, "endpoint"), "198.51.100.7:4000");
	assert_string_equal(ctl_jstr(bob, "ip4"), "172.31.0.101");
	assert_true(json_is_null(json_object_get(bob, "relay")));
	assert_true(json_is_null(json_object_get(bob, "why_not_direct")));
	assert_float_equal(ctl_jnum(bob, "rtt_ms", -1), 12.345, 1e-9);
	assert_int_equal(ctl_jint(bob, "rtt_us", -1), 12345);
	assert_int_equal(ctl_jint(bob, "rtt_last_us", -1), 12001);
	assert_int_equal(ctl_jint(bob, "rtt_min_us", -1), 11800);
	assert_int_equal(ctl_jint(bob, "rtt_age_ms", -1), 3200);
	assert_int_equal(ctl_jint(bob, "rx_bytes", -1), 1536);
	assert_int_equal(ctl_jint(bob, "tx_bytes", -1), 10 << 20);
	assert_int_equal(ctl_jint(bob, "last_handshake", -1), FAKE_NOW - 12);
	assert_string_equal(ctl_jstr(bob, "key"), "hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmo=");
	assert_true(json_is_null(json_object_get(bob, "trust_refused")));

	json_t *carol = json_array_get(list, 1);
	assert_string_equal(ctl_jstr(carol, "state"), "checking");
	assert_string_equal(ctl_jstr(carol, "why_not_direct"), "no server-reflexive candidate");
	assert_string_equal(ctl_jstr(carol, "trust_refused"), "172.31.0.2 belongs to bob@example.org");
	const char *nulls[] = { "path", "local_type", "remote_type", "endpoint", "relay", "rtt_ms",
				"rtt_us", "rtt_last_us", "rtt_min_us", "rtt_age_ms", "last_handshake" };
	for (size_t k = 0; k < sizeof(nulls) / sizeof(nulls[0]); k++)
		assert_true(json_is_null(json_object_get(carol, nulls[k])));

	json_t *relayed = json_array_get(list, 2);
	assert_string_equal(ctl_jstr(relayed, "path"), "relay");
	assert_string_equal(ctl_jstr(relayed, "relay"), "203.0.113.1:3478");
	assert_string_equal(ctl_jstr(relayed, "ip4"), "172.31.0.103");
	json_decref(j);
}

static void test_dispatch_malformed(void **state)
{
	(void)state;
	static char longreq[CTL_MAX_REQUEST + 8];
	memset(longreq, 'a', sizeof(longreq));
	const struct {
		const char *req;
		size_t len;
		const char *expect; /* substring of the error */
	} cases[] = {
		{ "", 0, "empty" },
		{ " status", 7, "empty word" },
		{ "status ", 7, "empty word" },
		{ "peers  x", 8, "empty word" },
		{ "sta\ttus", 7, "printable" },
		{ "status\0x", 8, "printable" },
		{ "\x80\x81", 2, "printable" },
		{ "nosuch", 6, "unknown command" },
		{ "STATUS", 6, "unknown command" },
		{ "status extra", 12, "wrong number" },
		{ "peers a b c d e f g h i", 23, "too many" },
		{ longreq, sizeof(longreq), "too long" },
		{ longreq, CTL_MAX_REQUEST, "too long" },
	};
	struct fake f = { .npeers = 1 };
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int is_error = 0;
		json_t *j = dispatch(&fake_ops, &f, cases[i].req, cases[i].len, &is_error);
		assert_int_equal(is_error, 1);
		assert_null(json_object_get(j, "result"));
		const char *e = ctl_jstr(j, "error");
		assert_non_null(e);
		if (!strstr(e, cases[i].expect))
			fail_msg("case %zu: error \"%s\" lacks \"%s\"", i, e, cases[i].expect);
		json_decref(j);
	}
	/* None of them reached the daemon. */
	assert_int_equal(f.status_calls + f.peers_calls, 0);

	/* The longest legal request is still parsed (and refused as a command). */
	int is_error = 0;
	json_t *j = dispatch(&fake_ops, &f, longreq, CTL_MAX_REQUEST - 1, &is_error);
	assert_non_null(strstr(ctl_jstr(j, "error"), "unknown command"));
	json_decref(j);
}

static void test_dispatch_op_failures(void **state)
{
	(void)state;
	struct fake f = { .npeers = 1, .status_rc = -EIO, .peers_rc = -ENOMEM };
	int is_error = 0;
	json_t *j = dispatch(&fake_ops, &f, "status", 6, &is_error);
	assert_int_equal(is_error, 1);
	assert_non_null(strstr(ctl_jstr(j, "error"), strerror(EIO)));
	json_decref(j);
	j = dispatch(&fake_ops, &f, "peers", 5, &is_error);
	assert_int_equal(is_error, 1);
	assert_non_null(strstr(ctl_jstr(j, "error"), strerror(ENOMEM)));
	json_decref(j);

	/* An older daemon without some op answers "not supported". */
	const struct ctl_ops status_only = { .status = fake_status };
	f.status_rc = 0;
	j = dispatch(&status_only, &f, "peers", 5, &is_error);
	assert_int_equal(is_error, 1);
	assert_non_null(strstr(ctl_jstr(j, "error"), "not supported"));
	json_decref(j);
}

static void test_dispatch_truncated(void **state)
{
	(void)state;
	struct fake f = { .npeers = CTL_MAX_PEERS + 5 };
	int is_error = 1;
	json_t *j = dispatch(&fake_ops, &f, "peers", 5, &is_error);
	assert_int_equal(is_error, 0);
	assert_true(json_is_true(json_object_get(j, "truncated")));
	assert_int_equal(json_array_size(json_object_get(j, "result")), CTL_MAX_PEERS);
	/* the first array was the small one, the second as large as allowed */
	assert_int_equal(f.peers_calls, 2);
	assert_int_equal(f.peers_max[0], CTL_LIST_FIRST);
	assert_int_equal(f.peers_max[1], CTL_MAX_PEERS);
	json_decref(j);
}

/* A list's array is sized to the records there are: a small first one,
 * then exactly as many as the daemon reported, never CTL_MAX_PEERS for a
 * few (those arrays stayed resident in the daemon's heap). */
static void test_dispatch_list_sized(void **state)
{
	(void)state;
	int is_error = 1;
	struct fake few = { .npeers = 3 };
	json_t *j = dispatch(&fake_ops, &few, "peers", 5, &is_error);
	assert_int_equal(is_error, 0);
	assert_int_equal(json_array_size(json_object_get(j, "result")), 3);
	assert_int_equal(few.peers_calls, 1);
	assert_int_equal(few.peers_max[0], CTL_LIST_FIRST);
	json_decref(j);

	struct fake exact = { .npeers = CTL_LIST_FIRST };
	j = dispatch(&fake_ops, &exact, "peers", 5, &is_error);
	assert_int_equal(json_array_size(json_object_get(j, "result")), CTL_LIST_FIRST);
	assert_int_equal(exact.peers_calls, 1);
	json_decref(j);

	struct fake many = { .npeers = 200 };
	j = dispatch(&fake_ops, &many, "peers", 5, &is_error);
	assert_int_equal(is_error, 0);
	assert_null(json_object_get(j, "truncated"));
	json_t *list = json_object_get(j, "result");
	assert_int_equal(json_array_size(list), 200);
	assert_int_equal(many.peers_calls, 2);
	assert_int_equal(many.peers_max[0], CTL_LIST_FIRST);
	assert_int_equal(many.peers_max[1], 200);
	/* the records of the second fill are the ones listed */
	assert_string_equal(ctl_jstr(json_array_get(list, 1), "jid"), "carol@example.org/ipop-" NODE_ID);
	json_decref(j);
}

/* Daemon strings are bounded and made valid JSON whatever they hold. */
static void test_json_untrusted_strings(void **state)
{
	(void)state;
	struct fake f = { .npeers = 1, .bad_jid = true };
	int is_error = 1;
	json_t *j = dispatch(&fake_ops, &f, "peers", 5, &is_error);
	assert_int_equal(is_error, 0);
	const char *jid = ctl_jstr(json_array_get(json_object_get(j, "result"), 0), "jid");
	assert_non_null(jid);
	assert_int_equal(strlen(jid), CTL_JID_LEN - 1);
	assert_int_equal(jid[3], '?');
	json_decref(j);

	/* Unknown enum values map to safe names rather than garbage. */
	assert_string_equal(ctl_peer_state_name((enum ctl_peer_state)99), "down");
	assert_null(ctl_path_name((enum ctl_path)99));
	assert_null(ctl_cand_type_name(CTL_CAND_NONE));
	assert_string_equal(ctl_cand_type_name(CTL_CAND_PRFLX), "prflx");
}

/* ---- the socket server ---- */

static void test_server_roundtrip(void **state)
{
	(void)state;
	struct tmp t;
	tmp_make(&t);
	struct fake f = { .npeers = 2 };
	struct ctl_server *s = ctl_server_new(t.path, &fake_ops, &f);
	assert_non_null(s);
	struct stat sb;
	assert_int_equal(stat(t.path, &sb), 0);
	assert_true(S_ISSOCK(sb.st_mode));
	assert_int_equal(sb.st_mode & 07777, CTL_SOCKET_MODE);

	struct srv_thread th;
	srv_start(&th, s);
	char err[CTL_CALL_ERRLEN];
	json_t *r = NULL;
	int trunc = -1;
	assert_int_equal(ctl_client_call(t.path, "status", &r, &trunc, err, sizeof(err)), 0);
	assert_int_equal(trunc, 0);
	assert_string_equal(ctl_jstr(r, "node_id"), NODE_ID);
	json_decref(r);
	assert_int_equal(ctl_client_call(t.path, "peers", &r, NULL, err, sizeof(err)), 0);
	assert_int_equal(json_array_size(r), 2);
	json_decref(r);
	assert_int_equal(ctl_client_call(t.path, "bogus", &r, NULL, err, sizeof(err)), -EREMOTEIO);
	assert_null(r);
	assert_non_null(strstr(err, "unknown command"));
	srv_stop(&th);

	struct ctl_server_stats st;
	ctl_server_get_stats(s, &st);
	assert_int_equal(st.requests, 3);
	assert_int_equal(st.errors, 1);
	assert_int_equal(st.clients, 0);
	ctl_server_free(s);
	assert_int_equal(stat(t.path, &sb), -1); /* the socket is removed */
	tmp_clean(&t);
}

static void test_server_oversized_request(void **state)
{
	(void)state;
	struct tmp t;
	tmp_make(&t);
	struct fake f = { .npeers = 1 };
	struct ctl_server *s = ctl_server_new(t.path, &fake_ops, &f);
	assert_non_null(s);
	int fd = raw_connect(t.path);
	char big[3 * CTL_MAX_REQUEST];
	memset(big, 'x', sizeof(big));
	assert_int_equal(send(fd, big, sizeof(big), 0), (ssize_t)sizeof(big));
	size_t len;
	char *reply = pump_reply(s, fd, &len);
	json_t *j = parse_reply(reply, len);
	assert_non_null(strstr(ctl_jstr(j, "error"), "too long"));
	assert_int_equal(f.status_calls + f.peers_calls, 0);
	json_decref(j);
	free(reply);
	close(fd);
	ctl_server_free(s);
	tmp_clean(&t);
}

/* A reply far bigger than the socket buffer is sent in pieces while the
 * server keeps returning to its caller. */
static void test_server_big_reply_never_blocks(void **state)
{
	(void)state;
	struct tmp t;
	tmp_make(&t);
	struct fake f = { .npeers = CTL_MAX_PEERS };
	struct ctl_server *s = ctl_server_new(t.path, &fake_ops, &f);
	assert_non_null(s);
	int fd = raw_connect(t.path);
	assert_int_equal(send(fd, "peers\n", 6, 0), 6);
	/* The client reads nothing yet: these calls must return. */
	for (int i = 0; i < 5; i++)
		ctl_server_handle(s, 0);
	struct ctl_server_stats st;
	ctl_server_get_stats(s, &st);
	assert_int_equal(st.requests, 1);
	assert_int_equal(st.clients, 1); /* still sending */
	size_t len;
	char *reply = pump_reply(s, fd, &len);
	assert_true(len > 300000);
	json_t *j = parse_reply(reply, len);
	assert_int_equal(json_array_size(json_object_get(j, "result")), CTL_MAX_PEERS);
	json_decref(j);
	free(reply);
	close(fd);
	ctl_server_free(s);
	tmp_clean(&t);
}

static void test_server_timeout_and_half_close(void **state)
{
	(void)state;
	struct tmp t;
	tmp_make(&t);
	struct fake f = { .npeers = 1 };
	struct ctl_server *s = ctl_server_new(t.path, &fake_ops, &f);
	assert_non_null(s);
	assert_true(ctl_server_next_deadline(s) == UINT64_MAX);

	/* A client that never sends is dropped at its deadline, not before. */
	int idle = raw_connect(t.path);
	ctl_server_handle(s, 1000);
	assert_true(ctl_server_next_deadline(s) == 1000 + CTL_CLIENT_TIMEOUT_MS);
	ctl_server_handle(s, 1000 + CTL_CLIENT_TIMEOUT_MS - 1);
	struct ctl_server_stats st;
	ctl_server_get_stats(s, &st);
	assert_int_equal(st.clients, 1);
	ctl_server_handle(s, 1000 + CTL_CLIENT_TIMEOUT_MS);
	ctl_server_get_stats(s, &st);
	assert_int_equal(st.clients, 0);
	assert_int_equal(st.timeouts, 1);
	char c;
	assert_int_equal(recv(idle, &c, 1, 0), 0); /* EOF */
	close(idle);

	/* "status" without a newline, then EOF, is a complete request. */
	int fd = raw_connect(t.path);
	assert_int_equal(send(fd, "status", 6, 0), 6);
	assert_int_equal(shutdown(fd, SHUT_WR), 0);
	size_t len;
	char *reply = pump_reply(s, fd, &len);
	json_t *j = parse_reply(reply, len);
	assert_string_equal(ctl_jstr(json_object_get(j, "result"), "ip4"), "172.31.0.100");
	json_decref(j);
	free(reply);
	close(fd);
	ctl_server_free(s);
	tmp_clean(&t);
}

/* More clients than slots wait in the backlog and are served later. */
static void test_server_client_limit(void **state)
{
	(void)state;
	struct tmp t;
	tmp_make(&t);
	struct fake f = { .npeers = 1 };
	struct ctl_server *s = ctl_server_new(t.path, &fake_ops, &f);
	assert_non_null(s);
	/* The server takes 16; the listen backlog holds the rest (a blocking
	 * connect would wait beyond it). */
	enum { N = 24 };
	int idle[N];
	for (int i = 0; i < N; i++) {
		idle[i] = raw_connect(t.path);
		ctl_server_handle(s, 0);
	}
	struct ctl_server_stats st;
	ctl_server_get_stats(s, &st);
	unsigned cap = st.clients;
	assert_true(cap >= 1 && cap < N);
	/* Another client has to wait, but is not turned away. */
	int late = raw_connect(t.path);
	assert_int_equal(send(late, "status\n", 7, 0), 7);
	for (int i = 0; i < 3; i++)
		ctl_server_handle(s, 0);
	ctl_server_get_stats(s, &st);
	assert_int_equal(st.clients, cap);
	assert_int_equal(st.requests, 0);
	for (int i = 0; i < N; i++)
		close(idle[i]);
	size_t len;
	char *reply = pump_reply(s, late, &len);
	json_t *j = parse_reply(reply, len);
	assert_non_null(json_object_get(j, "result"));
	json_decref(j);
	free(reply);
	close(late);
	ctl_server_get_stats(s, &st);
	assert_int_equal(st.requests, 1);
	assert_int_equal(st.dropped, 0);
	ctl_server_free(s);
	tmp_clean(&t);
}

static void test_server_socket_file_safety(void **state)
{
	(void)state;
	struct tmp t;
	tmp_make(&t);
	char run[128];
	snprintf(run, sizeof(run), "%s/run", t.dir);
	assert_int_equal(mkdir(run, 0755), 0);

	/* A stale socket (bound, then its owner died) is replaced. */
	int old = socket(AF_UNIX, SOCK_STREAM, 0);
	struct sockaddr_un sun;
	sun_set(&sun, t.path);
	assert_int_equal(bind(old, (struct sockaddr *)&sun, sizeof(sun)), 0);
	close(old);
	struct fake f = { .npeers = 1 };
	struct ctl_server *s = ctl_server_new(t.path, &fake_ops, &f);
	assert_non_null(s);

	/* A live one is not taken over, and the failure leaves it in place. */
	errno = 0;
	assert_null(ctl_server_new(t.path, &fake_ops, &f));
	assert_int_equal(errno, EADDRINUSE);
	int fd = raw_connect(t.path);
	assert_int_equal(send(fd, "status\n", 7, 0), 7);
	size_t len;
	char *reply = pump_reply(s, fd, &len);
	json_t *j = parse_reply(reply, len);
	assert_non_null(json_object_get(j, "result"));
	json_decref(j);
	free(reply);
	close(fd);
	ctl_server_free(s);

	/* Something that is not a socket is never deleted. */
	FILE *fp = fopen(t.path, "w");
	assert_non_null(fp);
	fputs("precious", fp);
	fclose(fp);
	errno = 0;
	assert_null(ctl_server_new(t.path, &fake_ops, &f));
	assert_int_equal(errno, EEXIST);
	struct stat sb;
	assert_int_equal(stat(t.path, &sb), 0);
	assert_true(S_ISREG(sb.st_mode));
	assert_int_equal(sb.st_size, 8);

	/* Paths that do not fit sun_path are refused. */
	char longpath[200];
	memset(longpath, 'p', sizeof(longpath) - 1);
	longpath[0] = '/';
	longpath[sizeof(longpath) - 1] = '\0';
	errno = 0;
	assert_null(ctl_server_new(longpath, &fake_ops, &f));
	assert_int_equal(errno, ENAMETOOLONG);
	tmp_clean(&t);
}

struct bad_daemon {
	int lfd;
	const char *reply;
	char path[160];
};

static void *bad_daemon_run(void *arg)
{
	struct bad_daemon *d = arg;
	int c = accept(d->lfd, NULL, NULL);
	char buf[64];
	if (c >= 0 && recv(c, buf, sizeof(buf), 0) > 0 && send(c, d->reply, strlen(d->reply), 0) < 0)
		perror("bad_daemon send");
	if (c >= 0)
		close(c);
	return NULL;
}

static void test_client_errors(void **state)
{
	(void)state;
	struct tmp t;
	tmp_make(&t);
	char err[CTL_CALL_ERRLEN];
	json_t *r = (json_t *)1;
	assert_int_equal(ctl_client_call(t.path, "status", &r, NULL, err, sizeof(err)), -ENOENT);
	assert_null(r);
	assert_non_null(strstr(err, "cannot connect to "));
	assert_non_null(strstr(err, t.path));
	assert_non_null(strstr(err, "is ipopd running? use -s PATH"));

	/* A "daemon" that answers garbage or another version. */
	const char *const bad[] = { "not json\n", "{\"version\":99,\"result\":1}\n",
				    "{\"version\":1}\n", "[1]\n" };
	const int want[] = { -EBADMSG, -EPROTO, -EBADMSG, -EBADMSG };
	for (size_t i = 0; i < 4; i++) {
		struct bad_daemon d = { .reply = bad[i] };
		snprintf(d.path, sizeof(d.path), "%s/fake%zu.sock", t.dir, i);
		d.lfd = socket(AF_UNIX, SOCK_STREAM, 0);
		struct sockaddr_un sun;
		sun_set(&sun, d.path);
		assert_int_equal(bind(d.lfd, (struct sockaddr *)&sun, sizeof(sun)), 0);
		assert_int_equal(listen(d.lfd, 1), 0);
		pthread_t th;
		assert_int_equal(pthread_create(&th, NULL, bad_daemon_run, &d), 0);
		r = NULL;
		assert_int_equal(ctl_client_call(d.path, "status", &r, NULL, err, sizeof(err)), want[i]);
		assert_null(r);
		assert_true(strlen(err) > 0);
		pthread_join(th, NULL);
		close(d.lfd);
		unlink(d.path);
	}
	tmp_clean(&t);
}

/* ---- ipopctl's subcommands ---- */

struct capture {
	char *out, *err;
	size_t out_len, err_len;
};

static void cli_init(struct ctl_cli *c, struct capture *cap, const char *path, bool json, bool color)
{
	memset(cap, 0, sizeof(*cap));
	c->socket = path;
	c->json = json;
	c->color = color;
	c->now = FAKE_NOW;
	c->out = open_memstream(&cap->out, &cap->out_len);
	c->err = open_memstream(&cap->err, &cap->err_len);
	assert_non_null(c->out);
	assert_non_null(c->err);
}

static void cli_done(struct ctl_cli *c, struct capture *cap)
{
	fclose(c->out);
	fclose(c->err);
	(void)cap;
}

static void cli_free(struct capture *cap)
{
	free(cap->out);
	free(cap->err);
}

/* Column of needle in the line of text that contains it. */
static long column_of(const char *text, const char *needle)
{
	const char *p = strstr(text, needle);
	assert_non_null(p);
	const char *line = p;
	while (line > text && line[-1] != '\n')
		line--;
	return p - line;
}

static void strip_ansi(char *s)
{
	char *w = s;
	for (const char *r = s; *r;) {
		if (*r == '\033') {
			while (*r && *r != 'm')
				r++;
			if (*r)
				r++;
			continue;
		}
		*w++ = *r++;
	}
	*w = '\0';
}

static void test_cli_peers(void **state)
{
	(void)state;
	struct tmp t;
	tmp_make(&t);
	struct fake f = { .npeers = 3 };
	struct ctl_server *s = ctl_server_new(t.path, &fake_ops, &f);
	assert_non_null(s);
	struct srv_thread th;
	srv_start(&th, s);
	char *argv[] = { (char *)"peers", NULL };

	struct ctl_cli c;
	struct capture cap;
	cli_init(&c, &cap, t.path, false, false);
	assert_int_equal(ctl_cmd_peers(&c, 1, argv), CTL_EXIT_OK);
	cli_done(&c, &cap);
	const char *o = cap.out;
	assert_non_null(strstr(o, "bob@example.org/ipop-01234567 "));
	assert_null(strstr(o, NODE_ID)); /* resources are shortened */
	assert_non_null(strstr(o, "direct host->srflx 198.51.100.7:4000"));
	assert_non_null(strstr(o, "relay relay->host 192.0.2.9:5000 via 203.0.113.1:3478"));
	assert_non_null(strstr(o, "12s ago"));
	assert_non_null(strstr(o, "1.50 KiB"));
	assert_non_null(strstr(o, "10.0 MiB"));
	assert_non_null(strstr(o, "12.35 ms (3s ago)"));
	assert_non_null(strstr(o, "not direct: no server-reflexive candidate"));
	assert_non_null(strstr(o, "\n  refused: 172.31.0.2 belongs to bob@example.org\n"));
	assert_non_null(strstr(o, " hSDwCYkw... "));
	assert_int_equal(column_of(o, "KEY"), column_of(o, "hSDwCYkw..."));
	assert_non_null(strstr(o, "172.31.0.101 fd00::101 "));
	assert_non_null(strstr(o, "\n  routes: 10.77.0.0/24 fd00:77::/64\n"));
	assert_non_null(strstr(o, "\n  route refused: 10.0.0.0/8: 10.0.0.0/8 is not authorised for bob@example.org "
				  "(\"accept_routes\")\n"));
	assert_null(strstr(o, "\033[")); /* no colour when asked for none */
	/* Aligned: every address starts in the ADDRESS column. */
	long col = column_of(o, "ADDRESS");
	assert_int_equal(column_of(o, "172.31.0.101"), col);
	assert_int_equal(column_of(o, "172.31.0.102"), col);
	assert_int_equal(column_of(o, "172.31.0.103"), col);
	assert_int_equal(column_of(o, "RX "), column_of(o, "1.50 KiB"));
	assert_int_equal(cap.err_len, 0);
	cli_free(&cap);

	cli_init(&c, &cap, t.path, false, true);
	assert_int_equal(ctl_cmd_peers(&c, 1, argv), CTL_EXIT_OK);
	cli_done(&c, &cap);
	assert_non_null(strstr(cap.out, "\033[32mup\033[0m"));
	/* Colour codes do not count as width: still aligned without them. */
	strip_ansi(cap.out);
	assert_int_equal(column_of(cap.out, "172.31.0.102"), column_of(cap.out, "ADDRESS"));
	assert_int_equal(column_of(cap.out, "10.0 MiB"), column_of(cap.out, "TX "));
	cli_free(&cap);

	cli_init(&c, &cap, t.path, true, false);
	assert_int_equal(ctl_cmd_peers(&c, 1, argv), CTL_EXIT_OK);
	cli_done(&c, &cap);
	json_error_t je;
	json_t *arr = json_loads(cap.out, 0, &je);
	assert_true(json_is_array(arr));
	assert_int_equal(json_array_size(arr), 3);
	assert_string_equal(ctl_jstr(json_array_get(arr, 0), "path"), "direct");
	const json_t *bob = json_array_get(arr, 0), *carol = json_array_get(arr, 1);
	assert_string_equal(ctl_jstr(bob, "ip6"), "fd00::101");
	const json_t *rt = json_object_get(bob, "routes"), *rf = json_object_get(bob, "routes_refused");
	assert_int_equal(json_array_size(rt), 2);
	assert_string_equal(json_string_value(json_array_get(rt, 1)), "fd00:77::/64");
	assert_int_equal(json_array_size(rf), 1);
	assert_string_equal(ctl_jstr(json_array_get(rf, 0), "prefix"), "10.0.0.0/8");
	assert_non_null(strstr(ctl_jstr(json_array_get(rf, 0), "why"), "not authorised"));
	/* an IPv4-only peer: null and empty lists, not missing members */
	assert_true(json_is_null(json_object_get(carol, "ip6")));
	assert_int_equal(json_array_size(json_object_get(carol, "routes")), 0);
	assert_true(json_is_array(json_object_get(carol, "routes_refused")));
	json_decref(arr);
	cli_free(&cap);

	char *argv2[] = { (char *)"peers", (char *)"extra", NULL };
	cli_init(&c, &cap, t.path, false, false);
	assert_int_equal(ctl_cmd_peers(&c, 2, argv2), CTL_EXIT_USAGE);
	cli_done(&c, &cap);
	assert_non_null(strstr(cap.err, "unexpected argument 'extra'"));
	cli_free(&cap);

	srv_stop(&th);
	ctl_server_free(s);
	tmp_clean(&t);
}

static void test_cli_status(void **state)
{
	(void)state;
	struct tmp t;
	tmp_make(&t);
	struct fake f = { .npeers = 2 };
	struct ctl_server *s = ctl_server_new(t.path, &fake_ops, &f);
	assert_non_null(s);
	struct srv_thread th;
	srv_start(&th, s);
	char *argv[] = { (char *)"status", NULL };

	struct ctl_cli c;
	struct capture cap;
	cli_init(&c, &cap, t.path, false, false);
	assert_int_equal(ctl_cmd_status(&c, 1, argv), CTL_EXIT_OK);
	cli_done(&c, &cap);
	assert_non_null(strstr(cap.out, "interface: ipop0"));
	assert_non_null(strstr(cap.out, "172.31.0.100/24, fd00::100/64 (mtu 1280"));
	assert_non_null(strstr(cap.out, "routes:   10.99.0.0/24 fd00:99::/64\n"));
	assert_non_null(strstr(cap.out, "online"));
	assert_non_null(strstr(cap.out, "203.0.113.5:40000"));
	assert_non_null(strstr(cap.out, "1 up of 2"));
	assert_non_null(strstr(cap.out, NODE_ID));
	cli_free(&cap);

	cli_init(&c, &cap, t.path, true, false);
	assert_int_equal(ctl_cmd_status(&c, 1, argv), CTL_EXIT_OK);
	cli_done(&c, &cap);
	json_error_t je;
	json_t *o = json_loads(cap.out, 0, &je);
	assert_true(json_is_object(o));
	assert_string_equal(ctl_jstr(o, "xmpp"), "online");
	assert_string_equal(ctl_jstr(o, "ip6"), "fd00::100");
	assert_int_equal(ctl_jint(o, "ip6_mask", 0), 64);
	assert_int_equal(json_array_size(json_object_get(o, "routes")), 2);
	assert_int_equal(ctl_jint(json_object_get(o, "drops"), "link_local", -1), 0);
	assert_int_equal(ctl_jint(json_object_get(o, "drops"), "too_big", -1), 0);
	json_decref(o);
	cli_free(&cap);

	/* The daemon's error becomes exit status 1 with its message. */
	f.status_rc = -EIO;
	cli_init(&c, &cap, t.path, false, false);
	assert_int_equal(ctl_cmd_status(&c, 1, argv), CTL_EXIT_FAIL);
	cli_done(&c, &cap);
	assert_non_null(strstr(cap.err, "ipopctl: status: "));
	assert_int_equal(cap.out_len, 0);
	cli_free(&cap);
	srv_stop(&th);
	ctl_server_free(s);

	/* No daemon: exit status 3 and the hint. */
	cli_init(&c, &cap, t.path, false, false);
	assert_int_equal(ctl_cmd_status(&c, 1, argv), CTL_EXIT_UNREACHABLE);
	cli_done(&c, &cap);
	assert_non_null(strstr(cap.err, "ipopctl: cannot connect to "));
	assert_non_null(strstr(cap.err, "(is ipopd running? use -s PATH)"));
	cli_free(&cap);
	tmp_clean(&t);
}

static void test_fmt(void **state)
{
	(void)state;
	char b[CTL_FMT_LEN];
	assert_string_equal(ctl_fmt_bytes(0, b), "0 B");
	assert_string_equal(ctl_fmt_bytes(1023, b), "1023 B");
	assert_string_equal(ctl_fmt_bytes(1536, b), "1.50 KiB");
	assert_string_equal(ctl_fmt_bytes(10u << 20, b), "10.0 MiB");
	assert_string_equal(ctl_fmt_bytes(500ull << 30, b), "500 GiB");
	assert_string_equal(ctl_fmt_bytes(UINT64_MAX, b), "16.0 EiB");
	assert_string_equal(ctl_fmt_ago(0, FAKE_NOW, b), "never");
	assert_string_equal(ctl_fmt_ago(FAKE_NOW + 3, FAKE_NOW, b), "now");
	assert_string_equal(ctl_fmt_ago(FAKE_NOW - 12, FAKE_NOW, b), "12s ago");
	assert_string_equal(ctl_fmt_ago(FAKE_NOW - 62, FAKE_NOW, b), "1m 2s ago");
	assert_string_equal(ctl_fmt_ago(FAKE_NOW - 3700, FAKE_NOW, b), "1h 1m ago");
	assert_string_equal(ctl_fmt_ago(FAKE_NOW - 90000, FAKE_NOW, b), "1d 1h ago");
	assert_string_equal(ctl_fmt_rtt(-1, b), "-");
	assert_string_equal(ctl_fmt_rtt(0.423, b), "0.423 ms");
	assert_string_equal(ctl_fmt_rtt(0.0421, b), "0.042 ms");
	assert_string_equal(ctl_fmt_rtt(12.345, b), "12.35 ms"); /* 12.345 is 12.3449999... in binary */
	assert_string_equal(ctl_fmt_rtt(250, b), "250.0 ms");
	char j[64];
	assert_string_equal(ctl_fmt_jid("bob@x/ipop-" NODE_ID, j, sizeof(j)), "bob@x/ipop-01234567");
	assert_string_equal(ctl_fmt_jid("bob@x/laptop", j, sizeof(j)), "bob@x/laptop");
	assert_int_equal(ctl_fmt_width("h\xc3\xa9llo"), 5);
}

/* ---- friends, friend add|accept|remove ---- */

struct fake_fr {
	int last_cmd;
	char last_jid[64];
};

static int fr_list(void *ctx, struct ctl_friend_status *arr, unsigned max)
{
	(void)ctx;
	if (max < 2)
		return 2;
	snprintf(arr[0].jid, sizeof(arr[0].jid), "bob@example.org");
	arr[0].ip4.s_addr = htonl(0xac1f0065u);
	snprintf(arr[0].subscription, sizeof(arr[0].subscription), "both");
	arr[0].online = true;
	arr[0].state = CTL_PEER_UP;
	arr[0].path = CTL_PATH_DIRECT;
	snprintf(arr[1].jid, sizeof(arr[1].jid), "dave@example.org");
	snprintf(arr[1].subscription, sizeof(arr[1].subscription), "none");
	arr[1].request = true;
	return 2;
}

static int fr_cmd(void *ctx, enum ctl_friend_cmd cmd, const char *jid, char *err, size_t errlen)
{
	struct fake_fr *f = ctx;
	if (strchr(jid, '@') == NULL) {
		snprintf(err, errlen, "friend: not a bare JID");
		return -EINVAL;
	}
	f->last_cmd = (int)cmd;
	snprintf(f->last_jid, sizeof(f->last_jid), "%s", jid);
	return 0;
}

static void test_dispatch_friends(void **state)
{
	(void)state;
	static const struct ctl_ops ops = { .friends = fr_list, .friend_cmd = fr_cmd };
	struct fake_fr f = { -1, "" };
	int is_err;
	size_t n;
	char *s = ctl_json_dispatch(&ops, &f, "friends", 7, &n, &is_err);
	json_t *j = parse_reply(s, n);
	free(s);
	assert_int_equal(is_err, 0);
	json_t *r = json_object_get(j, "result");
	assert_int_equal(json_array_size(r), 2);
	json_t *bob = json_array_get(r, 0), *dave = json_array_get(r, 1);
	assert_string_equal(json_string_value(json_object_get(bob, "ip4")), "172.31.0.101");
	assert_true(json_is_true(json_object_get(bob, "mutual")));
	assert_string_equal(json_string_value(json_object_get(bob, "state")), "up");
	assert_string_equal(json_string_value(json_object_get(bob, "path")), "direct");
	assert_true(json_is_null(json_object_get(dave, "ip4")));
	assert_true(json_is_true(json_object_get(dave, "request")));
	assert_true(json_is_null(json_object_get(dave, "state")));
	json_decref(j);

	static const char *const ok[] = { "friend add a@b", "friend accept a@b", "friend remove a@b" };
	for (int i = 0; i < 3; i++) {
		s = ctl_json_dispatch(&ops, &f, ok[i], strlen(ok[i]), &n, &is_err);
		j = parse_reply(s, n);
		free(s);
		assert_int_equal(is_err, 0);
		assert_int_equal(f.last_cmd, i);
		assert_string_equal(f.last_jid, "a@b");
		json_decref(j);
	}
	static const char *const bad[] = { "friend add", "friend poke a@b", "friend add nobody", "friend add a@b c" };
	for (int i = 0; i < 4; i++) {
		s = ctl_json_dispatch(&ops, &f, bad[i], strlen(bad[i]), &n, &is_err);
		j = parse_reply(s, n);
		free(s);
		assert_int_equal(is_err, 1);
		assert_true(json_is_string(json_object_get(j, "error")));
		json_decref(j);
	}
	/* a caller SO_PEERCRED does not trust may list but not change */
	f.last_cmd = -1;
	s = ctl_json_dispatch_as(&ops, &f, "friend add a@b", 14, false, &n, &is_err);
	j = parse_reply(s, n);
	free(s);
	assert_int_equal(is_err, 1);
	assert_non_null(strstr(json_string_value(json_object_get(j, "error")), "permission denied"));
	assert_int_equal(f.last_cmd, -1);
	json_decref(j);
	s = ctl_json_dispatch_as(&ops, &f, "friends", 7, false, &n, &is_err);
	j = parse_reply(s, n);
	free(s);
	assert_int_equal(is_err, 0);
	json_decref(j);
	/* a daemon without the ops */
	static const struct ctl_ops none = { 0 };
	s = ctl_json_dispatch(&none, &f, "friends", 7, &n, &is_err);
	j = parse_reply(s, n);
	free(s);
	assert_int_equal(is_err, 1);
	json_decref(j);
}

/* ---- pins, pin forget ---- */

static int pn_list(void *ctx, struct ctl_pin *arr, unsigned max)
{
	(void)ctx;
	if (max < 1)
		return 1;
	snprintf(arr[0].node_id, sizeof(arr[0].node_id), "%040d", 7);
	snprintf(arr[0].key, sizeof(arr[0].key), "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=");
	snprintf(arr[0].jid, sizeof(arr[0].jid), "bob@example.org");
	arr[0].seen = 1700000000;
	return 1;
}

static int ow_list(void *ctx, struct ctl_owner *arr, unsigned max)
{
	(void)ctx;
	if (max < 2)
		return 2;
	arr[0].addr = ip_addr_of(AF_INET, &(struct in_addr){ htonl(0xac1f0002u) });
	snprintf(arr[0].jid, sizeof(arr[0].jid), "bob@example.org");
	arr[0].seen = 1700000000;
	assert_true(ip_addr_parse(&arr[1].addr, "fd00::9"));
	snprintf(arr[1].jid, sizeof(arr[1].jid), "carol@example.org");
	arr[1].mapped = true;
	return 2;
}

static int pn_forget(void *ctx, const char *what, unsigned *np, unsigned *no, char *err, size_t errlen)
{
	struct fake_fr *f = ctx;
	if (!strchr(what, '@')) {
		snprintf(err, errlen, "pin: not a JID");
		return -EINVAL;
	}
	snprintf(f->last_jid, sizeof(f->last_jid), "%s", what);
	*np = 2;
	*no = 1;
	return 0;
}

static void test_dispatch_pins(void **state)
{
	(void)state;
	static const struct ctl_ops ops = { .pins = pn_list, .owners = ow_list, .pin_forget = pn_forget };
	struct fake_fr f = { -1, "" };
	int is_err;
	size_t n;
	char *s = ctl_json_dispatch_as(&ops, &f, "pins", 4, false, &n, &is_err); /* reading needs no rights */
	json_t *j = parse_reply(s, n);
	free(s);
	assert_int_equal(is_err, 0);
	json_t *r = json_object_get(j, "result"), *p = json_array_get(json_object_get(r, "pins"), 0);
	assert_string_equal(json_string_value(json_object_get(p, "jid")), "bob@example.org");
	assert_int_equal(json_string_length(json_object_get(p, "node_id")), 40);
	assert_int_equal(json_string_length(json_object_get(p, "key")), 44);
	assert_int_equal(json_integer_value(json_object_get(p, "seen")), 1700000000);
	json_t *o = json_object_get(r, "owners");
	assert_int_equal(json_array_size(o), 2);
	assert_string_equal(json_string_value(json_object_get(json_array_get(o, 0), "ip4")), "172.31.0.2");
	assert_true(json_is_null(json_object_get(json_array_get(o, 0), "ip6")));
	assert_string_equal(json_string_value(json_object_get(json_array_get(o, 1), "ip6")), "fd00::9");
	assert_true(json_is_null(json_object_get(json_array_get(o, 1), "ip4")));
	assert_true(json_is_true(json_object_get(json_array_get(o, 1), "mapped")));
	assert_true(json_is_null(json_object_get(json_array_get(o, 1), "seen")));
	json_decref(j);

	s = ctl_json_dispatch_as(&ops, &f, "pin forget bob@example.org", 26, true, &n, &is_err);
	j = parse_reply(s, n);
	free(s);
	assert_int_equal(is_err, 0);
	assert_string_equal(f.last_jid, "bob@example.org");
	r = json_object_get(j, "result");
	assert_int_equal(json_integer_value(json_object_get(r, "pins")), 2);
	assert_int_equal(json_integer_value(json_object_get(r, "owners")), 1);
	json_decref(j);
	/* changing state takes SO_PEERCRED's trust, like friend */
	f.last_jid[0] = '\0';
	s = ctl_json_dispatch_as(&ops, &f, "pin forget bob@example.org", 26, false, &n, &is_err);
	j = parse_reply(s, n);
	free(s);
	assert_int_equal(is_err, 1);
	assert_non_null(strstr(json_string_value(json_object_get(j, "error")), "permission denied"));
	assert_string_equal(f.last_jid, "");
	json_decref(j);
	static const char *const bad[] = { "pin forget", "pin drop bob@x", "pin forget nobody", "pins x" };
	for (int i = 0; i < 4; i++) {
		s = ctl_json_dispatch(&ops, &f, bad[i], strlen(bad[i]), &n, &is_err);
		j = parse_reply(s, n);
		free(s);
		assert_int_equal(is_err, 1);
		json_decref(j);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dispatch_pins),
		cmocka_unit_test(test_dispatch_status),
		cmocka_unit_test(test_dispatch_peers),
		cmocka_unit_test(test_dispatch_friends),
		cmocka_unit_test(test_dispatch_malformed),
		cmocka_unit_test(test_dispatch_op_failures),
		cmocka_unit_test(test_dispatch_truncated),
		cmocka_unit_test(test_dispatch_list_sized),
		cmocka_unit_test(test_json_untrusted_strings),
		cmocka_unit_test(test_server_roundtrip),
		cmocka_unit_test(test_server_oversized_request),
		cmocka_unit_test(test_server_big_reply_never_blocks),
		cmocka_unit_test(test_server_timeout_and_half_close),
		cmocka_unit_test(test_server_client_limit),
		cmocka_unit_test(test_server_socket_file_safety),
		cmocka_unit_test(test_client_errors),
		cmocka_unit_test(test_cli_peers),
		cmocka_unit_test(test_cli_status),
		cmocka_unit_test(test_fmt),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
