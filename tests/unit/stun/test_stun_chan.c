/* ChannelData parsing and TCP/TLS stream framing. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "stun_chan.h"
#include "stun_msg.h"

static void test_parse_ok(void **state)
{
	uint8_t buf[64];
	const uint8_t *data;
	uint16_t chan, dlen;
	(void)state;

	size_t n = stun_chan_header(buf, 0x4001, 5, false);
	assert_int_equal(n, 9);
	memcpy(buf + 4, "hello", 5);
	assert_true(stun_is_channel_data(buf, n));
	assert_int_equal(stun_chan_parse(buf, n, &chan, &data, &dlen), 0);
	assert_int_equal(chan, 0x4001);
	assert_int_equal(dlen, 5);
	assert_ptr_equal(data, buf + 4);
	assert_memory_equal(data, "hello", 5);

	/* UDP datagram padded to 4: still 5 bytes of data. */
	memset(buf + 9, 0, 3);
	assert_int_equal(stun_chan_parse(buf, 12, &chan, &data, &dlen), 0);
	assert_int_equal(dlen, 5);

	/* Edges of the channel range and empty data. */
	stun_chan_header(buf, TURN_CHANNEL_MIN, 0, false);
	assert_int_equal(stun_chan_parse(buf, 4, &chan, &data, &dlen), 0);
	assert_int_equal(chan, 0x4000);
	assert_int_equal(dlen, 0);
	stun_chan_header(buf, TURN_CHANNEL_MAX, 0, false);
	assert_int_equal(stun_chan_parse(buf, 4, &chan, &data, &dlen), 0);
	assert_int_equal(chan, 0x4fff);
}

static void test_parse_bad(void **state)
{
	uint8_t buf[64] = { 0 };
	const uint8_t *data;
	uint16_t chan = 0, dlen = 0;
	(void)state;

	stun_chan_header(buf, 0x4001, 5, false);
	for (size_t n = 0; n < 9; n++)
		assert_int_equal(stun_chan_parse(buf, n, &chan, &data, &dlen), -EBADMSG);
	/* More than padding after the data. */
	assert_int_equal(stun_chan_parse(buf, 13, &chan, &data, &dlen), -EBADMSG);
	/* Outside 0x4000-0x7FFF (the RFC 5766 range is accepted). */
	stun_chan_header(buf, 0x3fff, 0, false);
	assert_int_equal(stun_chan_parse(buf, 4, &chan, &data, &dlen), -EBADMSG);
	stun_chan_header(buf, 0x8000, 0, false);
	assert_int_equal(stun_chan_parse(buf, 4, &chan, &data, &dlen), -EBADMSG);
	assert_false(stun_is_channel_data(buf, 4));
	stun_chan_header(buf, 0x7fff, 0, false);
	assert_int_equal(stun_chan_parse(buf, 4, &chan, &data, &dlen), 0);
	assert_int_equal(chan, 0x7fff);
	assert_true(stun_is_channel_data(buf, 4));
	chan = 0;
	/* Length claiming more than the datagram holds. */
	stun_chan_header(buf, 0x4000, 0xffff, false);
	assert_int_equal(stun_chan_parse(buf, sizeof(buf), &chan, &data, &dlen), -EBADMSG);
	assert_int_equal(chan, 0);
	assert_int_equal(dlen, 0);
}

static void test_header_stream_pad(void **state)
{
	uint8_t hdr[4];
	(void)state;

	for (uint16_t d = 0; d < 16; d++) {
		size_t udp = stun_chan_header(hdr, 0x4abc, d, false);
		size_t tcp = stun_chan_header(hdr, 0x4abc, d, true);
		assert_int_equal(udp, 4u + d);
		assert_int_equal(tcp % 4, 0);
		assert_int_equal(tcp, udp + stun_chan_pad_len(d, true));
		assert_true(tcp - udp <= 3);
		assert_int_equal(stun_chan_pad_len(d, false), 0);
	}
	assert_int_equal(stun_chan_header(hdr, 0x4abc, 0xffff, true), 4 + 0xffff + 1);
	assert_memory_equal(hdr, "\x4a\xbc\xff\xff", 4);
}

static void test_stream_frames(void **state)
{
	uint8_t buf[128], tid[STUN_TID_LEN] = { 1 };
	struct stun_builder b;
	(void)state;

	stun_build_init(&b, buf, sizeof(buf), STUN_METHOD_BINDING, STUN_CLASS_REQUEST, tid);
	stun_build_u32(&b, TURN_ATTR_LIFETIME, 1);
	int n = stun_build_finish(&b);
	for (size_t k = 0; k < 4; k++)
		assert_int_equal(stun_stream_frame_len(buf, k), 0);
	for (size_t k = 4; k <= (size_t)n; k++)
		assert_int_equal(stun_stream_frame_len(buf, k), n);

	/* Bad cookie is caught once visible; a length not a multiple of 4 at once. */
	buf[6] ^= 1;
	assert_int_equal(stun_stream_frame_len(buf, 7), n);
	assert_int_equal(stun_stream_frame_len(buf, 8), -EBADMSG);
	buf[6] ^= 1;
	buf[3] = 5;
	assert_int_equal(stun_stream_frame_len(buf, 4), -EBADMSG);

	/* ChannelData is padded over streams. */
	stun_chan_header(buf, 0x4001, 5, true);
	assert_int_equal(stun_stream_frame_len(buf, 4), 12);
	stun_chan_header(buf, 0x4001, 8, true);
	assert_int_equal(stun_stream_frame_len(buf, 4), 12);
	stun_chan_header(buf, 0x4fff, 0xffff, true);
	assert_int_equal(stun_stream_frame_len(buf, 4), 4 + 0x10000);

	/* Not STUN/ChannelData (RTP, TLS records, garbage), or STUN-looking
	 * bytes with a zero cookie. */
	static const uint8_t firsts[] = { 0x80, 0xff, 0x16, 0x3f };
	for (size_t i = 0; i < sizeof(firsts); i++) {
		memset(buf, 0, 8);
		buf[0] = firsts[i];
		assert_int_equal(stun_stream_frame_len(buf, 8), -EBADMSG);
	}
}

/* A stream of back-to-back frames is split exactly. */
static void test_stream_split(void **state)
{
	uint8_t s[256], tid[STUN_TID_LEN] = { 2 };
	size_t pos = 0, total;
	struct stun_builder b;
	(void)state;

	pos += stun_chan_header(s, 0x4002, 3, true);
	memcpy(s + 4, "xyz\0", 4);
	stun_build_init(&b, s + pos, sizeof(s) - pos, TURN_METHOD_REFRESH, STUN_CLASS_REQUEST, tid);
	stun_build_attr(&b, STUN_ATTR_SOFTWARE, "abc", 3);
	pos += (size_t)stun_build_finish(&b);
	pos += stun_chan_header(s + pos, 0x4003, 0, true);
	total = pos;

	size_t want[] = { 8, 28, 4 }, i = 0;
	for (pos = 0; pos < total; i++) {
		long f = stun_stream_frame_len(s + pos, total - pos);
		assert_true(i < 3);
		assert_int_equal(f, want[i]);
		pos += (size_t)f;
	}
	assert_int_equal(i, 3);
	assert_int_equal(pos, total);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_ok),
		cmocka_unit_test(test_parse_bad),
		cmocka_unit_test(test_header_stream_pad),
		cmocka_unit_test(test_stream_frames),
		cmocka_unit_test(test_stream_split),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
