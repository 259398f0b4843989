/* Reconnect backoff: exponential, capped, jittered by +-25%. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <netinet/in.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "xmpp_signal.h"

static void test_backoff_grows_and_caps(void **state)
{
	(void)state;
	const uint32_t mid = 0x80000000u; /* no jitter */
	assert_int_equal(xmpp_backoff_ms(0, mid), 1000);
	assert_int_equal(xmpp_backoff_ms(1, mid), 2000);
	assert_int_equal(xmpp_backoff_ms(5, mid), 32000);
	assert_int_equal(xmpp_backoff_ms(6, mid), 60000);
	assert_int_equal(xmpp_backoff_ms(40, mid), 60000);
}

static void test_backoff_jitter_bounds(void **state)
{
	(void)state;
	assert_int_equal(xmpp_backoff_ms(2, 0), 3000);             /* 4000 - 25% */
	assert_true(xmpp_backoff_ms(2, UINT32_MAX) < 5000);        /* 4000 + 25% */
	assert_true(xmpp_backoff_ms(2, UINT32_MAX) > 4990);
	assert_true(xmpp_backoff_ms(3, 12345) != xmpp_backoff_ms(3, 0xdeadbeef));
	assert_string_equal(xmpp_sig_state_name(XMPP_SIG_ONLINE), "online");
}

/* Stanzas through the live handlers: who the roster lets link, whose
 * messages reach the daemon, which roster pushes count. */
struct seen {
	int up, down, revoked, msgs;
	char last_msg_from[128];
};

static void on_peer(void *ctx, enum roster_event ev, const char *full)
{
	struct seen *s = ctx;
	(void)full;
	s->up += ev == ROSTER_PEER_UP;
	s->down += ev == ROSTER_PEER_DOWN;
	s->revoked += ev == ROSTER_PEER_REVOKED;
}

static void on_msg(void *ctx, const char *full, const char *body, size_t len)
{
	struct seen *s = ctx;
	(void)body;
	(void)len;
	s->msgs++;
	snprintf(s->last_msg_from, sizeof(s->last_msg_from), "%s", full);
}

#define BOB "bob@example.test/ipop-00000000000000000000000000000000000000b0"
#define MAL "mallory@example.test/ipop-1111111111111111111111111111111111111111"

static void test_stanzas(void **state)
{
	(void)state;
	struct seen seen = { 0 };
	struct xmpp_sig_conf conf = {
		.jid = "alice@example.test", .password = "pw",
		.servers = { { .host = "127.0.0.1", .port = 5222 } }, .n_servers = 1, .port = 5222,
		.resource = "ipop-0000000000000000000000000000000000000001",
	};
	struct xmpp_sig_ops ops = { .ctx = &seen, .peer = on_peer, .message = on_msg };
	struct xmpp_sig *s = xmpp_sig_new(&conf, &ops);
	assert_non_null(s);
	assert_int_equal(xmpp_sig_stanza_text(s, "<iq type='result' id='roster1'><query xmlns='jabber:iq:roster'>"
						  "<item jid='bob@example.test' subscription='both'/></query></iq>"),
			 0);
	/* a roster push from another account is not believed */
	assert_int_equal(xmpp_sig_stanza_text(s, "<iq type='set' from='mallory@example.test/x' id='p'>"
						  "<query xmlns='jabber:iq:roster'><item jid='mallory@example.test' "
						  "subscription='both'/></query></iq>"),
			 0);
	assert_int_equal(xmpp_sig_stanza_text(s, "<presence from='" BOB "'/>"), 0);
	assert_int_equal(xmpp_sig_stanza_text(s, "<presence from='" MAL "'/>"), 0);
	assert_int_equal(seen.up, 1);
	assert_int_equal(xmpp_sig_stanza_text(s, "<message from='" MAL "'><ipop xmlns='urn:ipop:signal:1'>x</ipop>"
						  "</message>"),
			 0);
	assert_int_equal(seen.msgs, 0);
	assert_int_equal(xmpp_sig_stanza_text(s, "<message from='" BOB "'><ipop xmlns='urn:ipop:signal:1'>{}</ipop>"
						  "</message>"),
			 0);
	assert_int_equal(seen.msgs, 1);
	assert_string_equal(seen.last_msg_from, BOB);
	/* the subscription goes: the link ends */
	assert_int_equal(xmpp_sig_stanza_text(s, "<iq type='set' id='p2'><query xmlns='jabber:iq:roster'>"
						  "<item jid='bob@example.test' subscription='remove'/></query></iq>"),
			 0);
	assert_int_equal(seen.revoked, 1);
	assert_int_equal(xmpp_sig_stanza_text(s, "not xml"), -EINVAL);
	xmpp_sig_free(s);
}

/* A server that sends a stream error and keeps TCP open (neither
 * </stream:stream> nor a close): libstrophe 0.12 only records the error,
 * so the session must log out by itself, and its poll must run at
 * libstrophe's pace (XMPP_SIG_POLL_MS) meanwhile, not sleep until the
 * next keepalive ping. Driven over loopback against a scripted server in
 * this thread; the clock given to xmpp_sig_run stays fixed, so the
 * keepalive never fires here. */
struct fake_srv {
	int lfd, fd;
	char in[8192];
	size_t len;
};

static void srv_send(struct fake_srv *f, const char *text)
{
	assert_int_equal(write(f->fd, text, strlen(text)), (ssize_t)strlen(text));
}

/* Runs the session and reads what it sent until `want` has arrived
 * (consumed with everything before it); false after many rounds. */
static bool pump_until(struct xmpp_sig *s, struct fake_srv *f, uint64_t now, const char *want)
{
	for (int i = 0; i < 400; i++) {
		char *hit = f->len ? strstr(f->in, want) : NULL;
		if (hit) {
			size_t used = (size_t)(hit - f->in) + strlen(want);
			memmove(f->in, f->in + used, f->len - used + 1);
			f->len -= used;
			return true;
		}
		short ev;
		uint64_t wake;
		struct pollfd p[2] = { { .fd = xmpp_sig_poll(s, &ev, &wake), .events = ev },
				       { .fd = f->fd >= 0 ? f->fd : f->lfd, .events = POLLIN } };
		poll(p, 2, 50);
		xmpp_sig_run(s, now, 0);
		if (f->fd < 0) {
			f->fd = accept4(f->lfd, NULL, NULL, SOCK_NONBLOCK);
			continue;
		}
		ssize_t n = read(f->fd, f->in + f->len, sizeof(f->in) - 1 - f->len);
		if (n > 0)
			f->len += (size_t)n;
		f->in[f->len] = 0;
	}
	return false;
}

#define SRV_HDR "<?xml version='1.0'?><stream:stream xmlns='jabber:client' " \
		"xmlns:stream='http://etherx.jabber.org/streams' id='s1' from='example.test' version='1.0'>"

static void test_stream_error_logs_out(void **state)
{
	(void)state;
	struct fake_srv f = { .fd = -1 };
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t al = sizeof(a);
	f.lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	assert_true(f.lfd >= 0);
	assert_int_equal(bind(f.lfd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(f.lfd, 1), 0);
	assert_int_equal(getsockname(f.lfd, (struct sockaddr *)&a, &al), 0);

	struct xmpp_sig_conf conf = {
		.jid = "alice@example.test", .password = "pw", .tls = XMPP_TLS_OFF,
		.servers = { { .host = "127.0.0.1", .port = ntohs(a.sin_port) } }, .n_servers = 1,
		.resource = "ipop-0000000000000000000000000000000000000001",
	};
	struct xmpp_sig_ops ops = { 0 };
	struct xmpp_sig *s = xmpp_sig_new(&conf, &ops);
	assert_non_null(s);
	const uint64_t now = 1000000;
	short ev;
	uint64_t wake;

	assert_true(pump_until(s, &f, now, "<stream:stream"));
	srv_send(&f, SRV_HDR "<stream:features><mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>"
			     "<mechanism>PLAIN</mechanism></mechanisms></stream:features>");
	assert_true(pump_until(s, &f, now, "</auth>"));
	srv_send(&f, "<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>");
	assert_true(pump_until(s, &f, now, "<stream:stream"));
	srv_send(&f, SRV_HDR "<stream:features><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></stream:features>");
	assert_true(pump_until(s, &f, now, "<iq id=\"_xmpp_bind1\""));
	srv_send(&f, "<iq type='result' id='_xmpp_bind1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'>"
		     "<jid>alice@example.test/ipop-0000000000000000000000000000000000000001</jid></bind></iq>");
	assert_true(pump_until(s, &f, now, "<presence"));
	assert_int_equal(xmpp_sig_state(s), XMPP_SIG_ONLINE);
	/* logged in: asleep until the keepalive ping */
	assert_true(xmpp_sig_poll(s, &ev, &wake) >= 0);
	assert_int_equal(wake, now + 15000);

	srv_send(&f, "<stream:error><undefined-condition xmlns='urn:ietf:params:xml:ns:xmpp-streams'/>"
		     "</stream:error>");
	/* the session closes its stream at once and waits for libstrophe's
	 * cleanup at XMPP_SIG_POLL_MS, not at the ping */
	assert_true(pump_until(s, &f, now, "</stream:stream>"));
	assert_int_equal(xmpp_sig_state(s), XMPP_SIG_ONLINE);
	assert_true(xmpp_sig_poll(s, &ev, &wake) >= 0);
	assert_int_equal(wake, now + XMPP_SIG_POLL_MS);
	/* the server never closes; libstrophe's cleanup timer (2 s) ends it */
	for (int i = 0; i < 400 && xmpp_sig_state(s) != XMPP_SIG_OFFLINE; i++)
		pump_until(s, &f, now, "\x01never");
	assert_int_equal(xmpp_sig_state(s), XMPP_SIG_OFFLINE);
	close(f.fd);
	close(f.lfd);
	xmpp_sig_free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_backoff_grows_and_caps),
		cmocka_unit_test(test_backoff_jitter_bounds),
		cmocka_unit_test(test_stanzas),
		cmocka_unit_test(test_stream_error_logs_out),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
