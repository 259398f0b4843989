/* ChannelData framing (RFC 8656 12.4/12.5) and stream framing (RFC 8489 6.2.2). */
#include "stun_chan.h"

#include <errno.h>

static size_t pad4(size_t n)
{
	return (n + 3) & ~(size_t)3;
}

/* Over UDP the sender may pad the datagram to a multiple of 4, so up to 3
 * bytes may follow the data. More than that is not ChannelData from a
 * conforming sender, so it is rejected rather than silently cut. */
int stun_chan_parse(const uint8_t *buf, size_t len, uint16_t *chan,
		    const uint8_t **data, uint16_t *dlen)
{
	if (len < STUN_CHANNEL_HEADER_LEN)
		return -EBADMSG;
	uint16_t c = (uint16_t)((buf[0] << 8) | buf[1]);
	uint16_t n = (uint16_t)((buf[2] << 8) | buf[3]);
	size_t need = STUN_CHANNEL_HEADER_LEN + (size_t)n;
	if (!turn_channel_valid(c) || len < need || len > pad4(need))
		return -EBADMSG;
	*chan = c;
	*data = buf + STUN_CHANNEL_HEADER_LEN;
	*dlen = n;
	return 0;
}

size_t stun_chan_header(uint8_t hdr[STUN_CHANNEL_HEADER_LEN], uint16_t chan, uint16_t dlen,
			bool stream)
{
	hdr[0] = (uint8_t)(chan >> 8);
	hdr[1] = (uint8_t)chan;
	hdr[2] = (uint8_t)(dlen >> 8);
	hdr[3] = (uint8_t)dlen;
	return STUN_CHANNEL_HEADER_LEN + (size_t)dlen + stun_chan_pad_len(dlen, stream);
}

/* Over TCP/TLS ChannelData is always padded to 4 (RFC 8656 12.5), and a
 * STUN message is 20 + its length field. Anything else means the peer is
 * not speaking STUN/TURN and the connection should be closed. */
long stun_stream_frame_len(const uint8_t *buf, size_t avail)
{
	if (avail < 4)
		return 0;
	uint16_t n = (uint16_t)((buf[2] << 8) | buf[3]);
	if ((buf[0] & 0xC0) == 0) {
		if ((n & 3) != 0)
			return -EBADMSG;
		if (avail >= 8 && !(buf[4] == 0x21 && buf[5] == 0x12 && buf[6] == 0xA4 &&
				    buf[7] == 0x42))
			return -EBADMSG;
		return (long)STUN_HEADER_LEN + n;
	}
	if (stun_is_channel_data(buf, avail))
		return (long)pad4(STUN_CHANNEL_HEADER_LEN + (size_t)n);
	return -EBADMSG;
}
