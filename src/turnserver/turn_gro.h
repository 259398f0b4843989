/* Receiving UDP GRO trains on the relay's sockets. With UDP_GRO on a
 * socket the kernel hands over a GSO train from one source (a node sends
 * ChannelData as UDP_SEGMENT trains) as ONE message: datagrams of
 * gso_size bytes back to back, the last possibly shorter, with the size
 * in a UDP_GRO control message. Without it the kernel cuts every train
 * into separate skbs before the socket, which was most of the relayed
 * path's receive cost. Each datagram of a train is then handed to the
 * sans-IO core on its own, exactly as if it had come alone, so a bad one
 * cannot spoil its neighbours. */
#ifndef IPOP_TURN_GRO_H
#define IPOP_TURN_GRO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

enum {
	TURN_GRO_MSG_MAX = 65536, /* bytes of one received message (a whole train) */
};

/* The datagram size the kernel put in mh's UDP_GRO control message, or 0
 * when the message is a single datagram. */
size_t turn_gro_segment_size(struct msghdr *mh);

/* Walks the datagrams of a received message of len bytes. seg is
 * turn_gro_segment_size(); 0 (or >= len) means one datagram, which may be
 * empty. */
struct turn_gro_iter {
	const uint8_t *p;
	size_t left, seg;
	bool single, done;
};

void turn_gro_iter_init(struct turn_gro_iter *it, const uint8_t *buf, size_t len, size_t seg);
/* The next datagram in *p / *len; false when there is none left. */
bool turn_gro_next(struct turn_gro_iter *it, const uint8_t **p, size_t *len);

/* Turns UDP_GRO on for fd (best effort: false where the kernel lacks it,
 * and the socket then receives datagrams one by one as before).
 * IPOP_TURN_GRO=0 in the environment leaves it off (for A/B benches). */
bool turn_gro_enable(int fd);

#endif
