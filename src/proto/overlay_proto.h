/* The overlay frame: how a packet for a member without a direct link
 * travels the group hop by hop. A frame is the payload of an ordinary
 * tunnel data packet between two linked members (so every hop is
 * authenticated: cryptokey routing holds per hop), and carries an end-to-
 * end tunnel packet (handshake or data) of the two endpoints' own Noise
 * session: a member that forwards sees only that ciphertext.
 *
 *   tunnel data packet (hop keys):  header 16 | payload ... | tag 16
 *   payload = frame:  type 0x01 | ttl | flags | hops
 *                     | dst position (8, big-endian) | src position (8)
 *                     | end-to-end tunnel packet (endpoint keys)
 *
 * The first byte tells a frame from an IP packet (versions 4 and 6). A hop
 * forwards to its linked member closest before dst on the ring, with ttl
 * one less; ttl 0 is dropped. hops counts the links crossed: the sender
 * writes 1 and each forwarder adds one, so the destination learns how far
 * the source is (ipopctl members). flags are 0. Positions are the first 8 bytes of node ids
 * (node/overlay/ring.h). */
#ifndef IPOP_OVERLAY_PROTO_H
#define IPOP_OVERLAY_PROTO_H

#include <stdint.h>

enum {
	OVERLAY_FRAME_TYPE = 0x01,
	OVERLAY_FRAME_HDR_LEN = 20,
	OVERLAY_FRAME_OFF_TTL = 1,
	OVERLAY_FRAME_OFF_HOPS = 3,
	OVERLAY_FRAME_OFF_DST = 4,
	OVERLAY_FRAME_OFF_SRC = 12,
	/* bytes a frame adds to a datagram: the hop's tunnel header and tag
	 * and the frame header (the inner packet has its own header and tag) */
	OVERLAY_OVERHEAD = 16 + OVERLAY_FRAME_HDR_LEN + 16,
};

struct overlay_frame_hdr {
	uint8_t type;
	uint8_t ttl;
	uint8_t flags;
	uint8_t hops;
	uint8_t dst[8];
	uint8_t src[8];
};
_Static_assert(sizeof(struct overlay_frame_hdr) == OVERLAY_FRAME_HDR_LEN, "overlay frame header size");

#endif
