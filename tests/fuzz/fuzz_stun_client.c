/* libFuzzer harness for what a STUN server answers the node: the Binding
 * client (stun_client.c) that gathering (the server-reflexive candidate,
 * gather.c) and ipopctl netcheck use, over UDP (one datagram each) and over
 * a stream (one whole frame each), with RFC 5780 CHANGE-REQUEST; then, as
 * netcheck does, the answers are classified (netcheck.c). Inputs are
 * datagrams with a 2-byte length prefix; the first byte picks the
 * transport and the change flags. A STUN-looking datagram gets the
 * client's transaction id, so the answer parsers are reached. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "netcheck.h"
#include "stun_client.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(x)                 \
	do {                     \
		if (!(x))        \
			abort(); \
	} while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct stun_client c;
	struct netcheck_stun res[2];
	uint8_t out[STUN_CLIENT_MSG_MAX], buf[2048];
	uint64_t now = 1000;

	if (size < 1)
		return 0;
	memset(res, 0, sizeof(res));
	stun_client_init(&c, data[0] & 1, 0);
	c.change = (data[0] >> 1) & 6;
	CHECK(stun_client_start(&c, now) == 0);
	CHECK(stun_client_poll_transmit(&c, out, sizeof(out)) > 0);
	addr_parse("192.0.2.1:3478", 0, &res[0].server);
	data++, size--;
	while (size >= 2 && stun_client_state(&c) == STUN_CLIENT_RUNNING) {
		size_t n = (size_t)data[0] << 8 | data[1];
		data += 2, size -= 2;
		if (n > size)
			n = size;
		if (n > sizeof(buf))
			n = sizeof(buf);
		memcpy(buf, data, n);
		data += n, size -= n;
		if (n >= 20 && buf[0] < 2)
			memcpy(buf + 8, c.tid, STUN_TID_LEN);
		int rc = stun_client_input(&c, buf, n, now += 10);
		CHECK(rc == 0 || rc == -ENOENT || rc == -EBADMSG);
		if (rc == 0)
			CHECK(stun_client_state(&c) == STUN_CLIENT_DONE || stun_client_state(&c) == STUN_CLIENT_FAILED);
	}
	if (stun_client_state(&c) == STUN_CLIENT_DONE) {
		const struct sockaddr *m = stun_client_mapped(&c);
		CHECK(m->sa_family == AF_INET || m->sa_family == AF_INET6);
		res[0].answered = true;
		memcpy(&res[0].mapped, m, addr_len(m));
		res[0].other = c.other;
		res[1] = res[0];
		addr_parse("198.51.100.1:3478", 0, &res[1].server);
	}
	struct sockaddr_storage local;
	struct netcheck_result r;
	addr_parse("10.0.0.2:40000", 0, &local);
	netcheck_classify((struct sockaddr *)&local, res, 2, &r);
	CHECK(r.answered <= r.asked && r.asked == 2);
	stun_client_handle_timeout(&c, now + 60000);
	return 0;
}
