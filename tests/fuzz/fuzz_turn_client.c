/* Feeds server bytes to the sans-IO TURN client over UDP (length-prefixed
 * datagrams) or TCP (a byte stream cut anywhere). STUN-looking datagrams
 * get the transaction id of an outstanding request so the fuzzer reaches
 * the response handlers, not only the "unknown transaction" check. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "addr.h"
#include "turn_client.h"

static void drain(struct turn_client *c)
{
	uint8_t out[2048];
	struct turn_client_event ev;
	while (turn_client_poll_transmit(c, out, sizeof(out)) > 0)
		;
	while (turn_client_poll_event(c, &ev))
		if (ev.type == TURN_EV_DATA && ev.len)
			(void)ev.data[ev.len - 1]; /* the payload must be readable */
}

static void steer_tid(const struct turn_client *c, uint8_t *msg, size_t len)
{
	if (len < STUN_HEADER_LEN || msg[0] > 1)
		return;
	for (unsigned i = 0; i < TURN_CLIENT_MAX_TX; i++)
		if (c->tx[i].used) {
			memcpy(msg + 8, c->tx[i].tid, STUN_TID_LEN);
			return;
		}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	struct turn_client_config cfg = { .username = "user", .password = "pass" };
	addr_parse("192.0.2.1:3478", 3478, &cfg.server);
	cfg.transport = data[0] & 1 ? TURN_CLIENT_TCP : TURN_CLIENT_UDP;
	struct turn_client c;
	if (turn_client_init(&c, &cfg) != 0)
		return 0;
	uint64_t now = 1000;
	struct sockaddr_storage peer;
	addr_parse("198.51.100.7:5000", 0, &peer);
	turn_client_start(&c, now);
	drain(&c);
	data++, size--;
	uint8_t buf[4096];
	while (size >= 2) {
		size_t n = (size_t)data[0] << 8 | data[1];
		data += 2, size -= 2;
		if (n > size)
			n = size;
		if (n > sizeof(buf))
			n = sizeof(buf);
		memcpy(buf, data, n);
		if (cfg.transport == TURN_CLIENT_UDP)
			steer_tid(&c, buf, n);
		turn_client_input(&c, buf, n, now);
		data += n, size -= n;
		now += 700;
		turn_client_handle_timeout(&c, now);
		if (turn_client_state(&c) == TURN_CLIENT_ALLOCATED) {
			turn_client_create_permission(&c, (struct sockaddr *)&peer, now);
			turn_client_bind_channel(&c, (struct sockaddr *)&peer, now);
			uint8_t out[256];
			turn_client_send(&c, (struct sockaddr *)&peer, (const uint8_t *)"x", 1, out, sizeof(out));
		}
		drain(&c);
	}
	turn_client_free(&c);
	return 0;
}
