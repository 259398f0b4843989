/* libFuzzer harness for ChannelData parsing and TCP/TLS stream framing:
 * the input is treated both as one datagram and as a byte stream. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "stun_chan.h"
#include "stun_msg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(x)                     \
	do {                         \
		if (!(x))            \
			abort();     \
	} while (0)

static void datagram(const uint8_t *data, size_t size)
{
	const uint8_t *payload;
	uint16_t chan, dlen;
	uint8_t hdr[STUN_CHANNEL_HEADER_LEN];

	if (stun_chan_parse(data, size, &chan, &payload, &dlen) < 0)
		return;
	CHECK(turn_channel_valid(chan));
	CHECK(stun_is_channel_data(data, size));
	CHECK(payload == data + STUN_CHANNEL_HEADER_LEN);
	CHECK(STUN_CHANNEL_HEADER_LEN + (size_t)dlen <= size);
	CHECK(size - STUN_CHANNEL_HEADER_LEN - dlen <= 3);
	/* The header we would write for it is the one we read. */
	size_t total = stun_chan_header(hdr, chan, dlen, true);
	CHECK(memcmp(hdr, data, sizeof(hdr)) == 0);
	CHECK(total % 4 == 0 && total >= size);
	/* Over a stream the same bytes frame to the padded length. */
	CHECK(stun_stream_frame_len(data, size) == (long)total);
}

static void stream(const uint8_t *data, size_t size)
{
	size_t pos = 0;

	while (pos < size) {
		long f = stun_stream_frame_len(data + pos, size - pos);
		if (f == 0) {
			CHECK(size - pos < 4);
			break;
		}
		if (f < 0)
			break;
		CHECK(f >= STUN_CHANNEL_HEADER_LEN && f % 4 == 0 && f <= STUN_MAX_MSG_LEN + 1);
		if ((size_t)f > size - pos)
			break; /* the caller would wait for more */
		const uint8_t *p = data + pos;
		if (stun_is_channel_data(p, (size_t)f)) {
			const uint8_t *payload;
			uint16_t chan, dlen;
			CHECK(stun_chan_parse(p, (size_t)f, &chan, &payload, &dlen) == 0);
		} else {
			struct stun_msg m;
			CHECK(f >= STUN_HEADER_LEN);
			(void)stun_msg_parse(&m, p, (size_t)f);
		}
		pos += (size_t)f;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	datagram(data, size);
	stream(data, size);
	return 0;
}
