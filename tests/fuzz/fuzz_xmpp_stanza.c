/* libFuzzer harness for XMPP stanza handling (xmpp_signal.c with its
 * roster, xmpp_roster.c): the input is a sequence of stanzas separated by
 * NUL bytes, each parsed by libstrophe and handed to the same handlers a
 * live connection uses (roster results and pushes, presence, subscription
 * requests, ipop messages), as alice@example.test/ipop-...; what reaches
 * the daemon's callbacks must be well-formed: peer events for ipop
 * resources only, messages only from peers the roster allows, bodies no
 * longer than XMPP_SIGNAL_MAX_BODY. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "xmpp_roster.h"
#include "xmpp_signal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(x)                 \
	do {                     \
		if (!(x))        \
			abort(); \
	} while (0)

static void on_peer(void *ctx, enum roster_event ev, const char *full)
{
	(void)ctx;
	CHECK(ev == ROSTER_PEER_UP || ev == ROSTER_PEER_DOWN || ev == ROSTER_PEER_REVOKED);
	CHECK(jid_is_ipop_resource(full));
	CHECK(strlen(full) < XMPP_JID_MAX);
}

static void on_message(void *ctx, const char *full, const char *body, size_t len)
{
	(void)ctx;
	CHECK(jid_is_ipop_resource(full));
	CHECK(len <= XMPP_SIGNAL_MAX_BODY && strlen(body) == len);
}

static void on_friend(void *ctx, enum xmpp_friend_ev ev, const char *bare, enum roster_sub sub, bool ask)
{
	(void)ctx;
	(void)sub;
	(void)ask;
	CHECK(ev == XMPP_FRIEND_RESET || strlen(bare) < XMPP_JID_MAX);
}

static void on_info(void *ctx, const char *full, const struct signal_presence *p)
{
	(void)ctx;
	(void)p;
	CHECK(strlen(full) < XMPP_JID_MAX);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char *const accept[] = { (char *)"*@example.test" };
	struct xmpp_sig_conf conf = {
		.jid = "alice@example.test",
		.password = "pw",
		.servers = { { .host = "127.0.0.1", .port = 5222 } },
		.n_servers = 1,
		.port = 5222,
		.resource = "ipop-0000000000000000000000000000000000000001",
		.auto_accept = accept,
		.n_auto_accept = 1,
	};
	struct xmpp_sig_ops ops = { .peer = on_peer, .message = on_message, .friend = on_friend, .info = on_info };
	struct xmpp_sig *s = xmpp_sig_new(&conf, &ops);
	if (!s || size > 1 << 16)
		goto out;
	char *text = malloc(size + 1);
	if (!text)
		goto out;
	memcpy(text, data, size);
	text[size] = '\0';
	for (char *p = text; p < text + size;) {
		size_t n = strlen(p);
		if (n)
			xmpp_sig_stanza_text(s, p);
		p += n + 1;
	}
	free(text);
out:
	xmpp_sig_free(s);
	return 0;
}
