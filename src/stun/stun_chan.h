/* ChannelData framing (RFC 8656 12.4) and stream framing of STUN/ChannelData
 * over TCP and TLS. */
#ifndef IPOP_STUN_CHAN_H
#define IPOP_STUN_CHAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "stun_proto.h"

/* A channel number a peer may use: the RFC 5766 range (see stun_proto.h). */
static inline bool turn_channel_valid(uint16_t chan)
{
	return chan >= TURN_CHANNEL_MIN && chan <= TURN_CHANNEL_MAX_ACCEPT;
}

/* true when the first byte says ChannelData (64-127, RFC 5766 range). */
static inline bool stun_is_channel_data(const uint8_t *buf, size_t len)
{
	return len >= 1 && buf[0] >= 0x40 && buf[0] <= 0x7F;
}

/* Parses one ChannelData message. Over UDP the datagram may carry padding
 * after the data; len may exceed 4 + data length. Returns 0 or -EBADMSG. */
int stun_chan_parse(const uint8_t *buf, size_t len, uint16_t *chan,
		    const uint8_t **data, uint16_t *dlen);

/* Writes the 4-byte header. Returns the total frame length: 4 + dlen, and
 * over a stream rounded up to 4 (the caller zeroes the padding bytes,
 * stun_chan_pad_len tells how many). */
size_t stun_chan_header(uint8_t hdr[STUN_CHANNEL_HEADER_LEN], uint16_t chan, uint16_t dlen,
			bool stream);
static inline size_t stun_chan_pad_len(uint16_t dlen, bool stream)
{
	return stream ? (4 - (dlen & 3)) & 3 : 0;
}

/* Stream framing: given the bytes received so far, the length of the first
 * frame (STUN message, or padded ChannelData), 0 if more bytes are needed
 * to tell, or -EBADMSG if the stream is not STUN/ChannelData. */
long stun_stream_frame_len(const uint8_t *buf, size_t avail);

#endif
