/* xmpp_probe: logs in with the node's XMPP signalling module and prints
 * what it sees, one line per event, for the namespace lab:
 *   up JID / down JID / msg JID BODY / state NAME
 * Usage: xmpp_probe JID PASSWORD HOST|- PORT RESOURCE TLS(required|optional|off)
 *                   CAFILE|- SECONDS [SEND_BODY]
 * HOST "-": the domain's SRV records, as a node without "xmpp_host".
 * With SEND_BODY it sends that body to every peer that comes up.
 * It runs for SECONDS, or until the file named by $XMPP_PROBE_STOP exists:
 * a test stops it once it saw what it waits for, so a busy machine only
 * makes the run longer, not shorter than the events it needs. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "xmpp_signal.h"

static struct xmpp_sig *sig;
static const char *send_body;

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void on_peer(void *ctx, enum roster_event ev, const char *jid)
{
	(void)ctx;
	printf("%s %s\n", ev == ROSTER_PEER_UP ? "up" : "down", jid);
	if (ev == ROSTER_PEER_UP && send_body)
		printf("send %s %d\n", jid, xmpp_sig_send(sig, jid, send_body));
	fflush(stdout);
}

static void on_message(void *ctx, const char *jid, const char *body, size_t len)
{
	(void)ctx;
	printf("msg %s %.*s\n", jid, (int)len, body);
	fflush(stdout);
}

static void on_state(void *ctx, enum xmpp_sig_state st)
{
	(void)ctx;
	printf("state %s\n", xmpp_sig_state_name(st));
	fflush(stdout);
}

int main(int argc, char **argv)
{
	if (argc < 9) {
		fprintf(stderr, "usage: xmpp_probe JID PASS HOST|- PORT RESOURCE TLS CAFILE|- SECONDS [BODY]\n");
		return 2;
	}
	log_init("xmpp_probe", getenv("DEBUG") ? LOG_LVL_DEBUG : LOG_LVL_INFO, false);
	struct xmpp_sig_conf c = {
		.jid = argv[1], .password = argv[2],
		.port = (uint16_t)atoi(argv[4]), .resource = argv[5],
		.tls = strcmp(argv[6], "off") == 0 ? XMPP_TLS_OFF
		       : strcmp(argv[6], "optional") == 0 ? XMPP_TLS_OPTIONAL : XMPP_TLS_REQUIRED,
		.tls_verify = true,
		.ca_file = strcmp(argv[7], "-") ? argv[7] : NULL,
		/* The lab server is never lost here; a busy machine may answer
		 * a ping late, which must not look like an outage. */
		.ping_interval_s = 10, .ping_timeout_s = 30,
	};
	if (strcmp(argv[3], "-") != 0) {
		snprintf(c.servers[0].host, sizeof(c.servers[0].host), "%s", argv[3]);
		c.n_servers = 1;
	}
	send_body = argc > 9 ? argv[9] : NULL;
	struct xmpp_sig_ops ops = { NULL, on_peer, on_message, on_state, NULL, NULL };
	sig = xmpp_sig_new(&c, &ops);
	if (!sig)
		return 1;
	uint64_t end = now_ms() + (uint64_t)atoi(argv[8]) * 1000;
	const char *stop = getenv("XMPP_PROBE_STOP");
	while (now_ms() < end && !(stop && access(stop, F_OK) == 0))
		xmpp_sig_run(sig, now_ms(), 50);
	xmpp_sig_free(sig);
	return 0;
}
