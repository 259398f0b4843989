/* libFuzzer harness for the tunnel probes a link receives (rtt.c): the
 * input is the opened payload of a data packet (it authenticated, but the
 * peer may send anything), split at its first byte into two payloads so
 * that pings and pongs can follow each other. Whatever comes, the link
 * answers at most one pong per ping, takes a sample only for the ping it
 * sent, and never reads outside the payload. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "links.h"
#include "log.h"
#include "rtt.h"
#include "tunnel_packet.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(x)                 \
	do {                     \
		if (!(x))        \
			abort(); \
	} while (0)

static const char JID[] = "bob@example.test/ipop-0101010101010101010101010101010101010101";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct links t;
	static bool init;
	uint8_t id[SIGNAL_ID_LEN], buf[256];
	struct link_tx tx;

	if (!init) {
		log_set_level(LOG_LVL_ERROR);
		links_init(&t);
		t.env.slot_cap = 1600;
		init = true;
	}
	if (!size)
		return 0;
	memset(id, 1, sizeof(id));
	struct link *l = link_new(&t, JID, id, 1000);
	CHECK(l);
	/* a ping in flight, so that a pong may match it */
	l->rtt.seq = 7;
	l->rtt.sent_us = 1000000;
	l->rtt.have_path = l->have_path = true;
	/* two payloads in buffers of their exact sizes (ASan sees any over-read) */
	size_t n = size - 1, cut = data[0] % (n + 1);
	uint8_t *a = malloc(cut + 1), *b = malloc(n - cut + 1);
	CHECK(a && b);
	memcpy(a, data + 1, cut);
	memcpy(b, data + 1 + cut, n - cut);
	if (link_probe_is(a, cut))
		link_probe_rx(l, a, cut, 1000500);
	if (link_probe_is(b, n - cut))
		link_probe_rx(l, b, n - cut, 1001000);
	CHECK(l->rtt.est.samples <= 1);
	CHECK(!l->rtt.est.samples || l->rtt.est.last_us == 500 || l->rtt.est.last_us == 1000);
	/* no keys: nothing can be sealed, and nothing is left half-done */
	CHECK(!link_poll_probe(l, &tx, buf, sizeof(buf), 1002000));
	CHECK(!l->rtt.pong_owed);
	free(a);
	free(b);
	t.ndirty = 0;
	link_free(l);
	return 0;
}
