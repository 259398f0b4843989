/* sig_flood: one member's throw-away resources, for the namespace lab
 * (tests/net/node_trust.sh). N connections of one account, each with a
 * fresh key and its resource "ipop-<its node id>", send one hello (with
 * that key and an address ADDR_BASE + i) to TARGET and never send
 * presence; they stay logged in for SECONDS.
 *   sig_flood JID PASSWORD HOST PORT CAFILE TARGET_FULL_JID TARGET_ID N ADDR_BASE SECONDS
 * Prints "sent RESOURCE" per hello and "done N" at the end. */
#include <arpa/inet.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strophe.h>
#include <time.h>

#include "noise.h"
#include "signal_msg.h"

enum { FLOOD_MAX = 256 };

struct one {
	xmpp_conn_t *conn;
	char body[SIGNAL_MSG_MAX + 1];
	bool sent;
};

static const char *target;
static unsigned nsent;
static uint64_t t0;

static uint64_t now_ms(void);
static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void on_conn(xmpp_conn_t *conn, xmpp_conn_event_t ev, int err, xmpp_stream_error_t *se, void *ud)
{
	struct one *o = ud;
	(void)se;
	if (ev != XMPP_CONN_CONNECT) {
		fprintf(stderr, "sig_flood: connection failed or closed (event %d, error %d)\n", ev, err);
		return;
	}
	if (o->sent)
		return;
	xmpp_ctx_t *ctx = xmpp_conn_get_context(conn);
	xmpp_stanza_t *msg = xmpp_message_new(ctx, "normal", target, NULL);
	xmpp_stanza_t *el = xmpp_stanza_new(ctx), *text = xmpp_stanza_new(ctx);
	xmpp_stanza_set_name(el, "ipop");
	xmpp_stanza_set_ns(el, "urn:ipop:signal:1");
	xmpp_stanza_set_text(text, o->body);
	xmpp_stanza_add_child(el, text);
	xmpp_stanza_add_child(msg, el);
	xmpp_send(conn, msg); /* and no presence, ever */
	xmpp_stanza_release(text);
	xmpp_stanza_release(el);
	xmpp_stanza_release(msg);
	o->sent = true;
	printf("sent %s after %llu ms\n", xmpp_conn_get_bound_jid(conn), (unsigned long long)(now_ms() - t0));
	fflush(stdout);
	nsent++;
}

/* A hello from a fresh key's node id, announcing that key and addr. */
static int make_hello(struct one *o, const uint8_t to[SIGNAL_ID_LEN], struct in_addr addr, char *res, size_t cap)
{
	struct noise_keypair kp;
	struct signal_msg m;
	char hex[2 * SIGNAL_ID_LEN + 1];

	if (noise_keypair_generate(&kp) != 0)
		return -1;
	memset(&m, 0, sizeof(m));
	m.kind = SIGNAL_HELLO;
	crypto_generichash(m.from, SIGNAL_ID_LEN, kp.pub, sizeof(kp.pub), NULL, 0);
	m.has_to = m.has_key = m.has_ip4 = true;
	memcpy(m.to, to, SIGNAL_ID_LEN);
	memcpy(m.key, kp.pub, sizeof(m.key));
	m.ip4 = addr;
	sodium_bin2hex(hex, sizeof(hex), m.from, SIGNAL_ID_LEN);
	snprintf(res, cap, "ipop-%s", hex);
	int n = signal_msg_encode(&m, o->body, sizeof(o->body));
	return n < 0 ? -1 : 0;
}

int main(int argc, char **argv)
{
	if (argc != 11 || noise_init() != 0) {
		fprintf(stderr, "usage: sig_flood JID PASSWORD HOST PORT CAFILE TARGET_FULL_JID TARGET_ID N "
				"ADDR_BASE SECONDS\n");
		return 2;
	}
	unsigned n = (unsigned)atoi(argv[8]);
	uint8_t to[SIGNAL_ID_LEN];
	size_t got;
	struct in_addr base;
	if (n == 0 || n > FLOOD_MAX || sodium_hex2bin(to, sizeof(to), argv[7], strlen(argv[7]), NULL, &got, NULL) != 0 ||
	    got != sizeof(to) || inet_pton(AF_INET, argv[9], &base) != 1) {
		fprintf(stderr, "sig_flood: bad argument\n");
		return 2;
	}
	target = argv[6];
	t0 = now_ms();
	xmpp_initialize();
	xmpp_log_t *logger = xmpp_get_default_logger(getenv("DEBUG") ? XMPP_LEVEL_DEBUG : XMPP_LEVEL_WARN);
	xmpp_ctx_t *ctx = xmpp_ctx_new(NULL, logger);
	static struct one ones[FLOOD_MAX];
	for (unsigned i = 0; i < n; i++) {
		char res[64], jid[1024];
		struct in_addr a = { htonl(ntohl(base.s_addr) + i) };
		if (make_hello(&ones[i], to, a, res, sizeof(res)) != 0)
			return 1;
		snprintf(jid, sizeof(jid), "%s/%s", argv[1], res);
		ones[i].conn = xmpp_conn_new(ctx);
		xmpp_conn_set_flags(ones[i].conn, XMPP_CONN_FLAG_MANDATORY_TLS);
		xmpp_conn_set_jid(ones[i].conn, jid);
		xmpp_conn_set_pass(ones[i].conn, argv[2]);
		if (strcmp(argv[5], "-") != 0)
			xmpp_conn_set_cafile(ones[i].conn, argv[5]);
		if (xmpp_connect_client(ones[i].conn, argv[3], (unsigned short)atoi(argv[4]), on_conn, &ones[i]) !=
		    XMPP_EOK)
			fprintf(stderr, "sig_flood: connect %u failed\n", i);
	}
	uint64_t end = now_ms() + (uint64_t)atoi(argv[10]) * 1000;
	while (now_ms() < end)
		xmpp_run_once(ctx, 50);
	printf("done %u\n", nsent);
	fflush(stdout);
	for (unsigned i = 0; i < n; i++) {
		xmpp_disconnect(ones[i].conn);
		xmpp_conn_release(ones[i].conn);
	}
	xmpp_ctx_free(ctx);
	xmpp_shutdown();
	return nsent == n ? 0 : 1;
}
