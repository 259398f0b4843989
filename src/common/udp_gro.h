/* Receiving UDP GRO trains (ipopd's socket and the relay's). With UDP_GRO
 * on a socket the kernel hands over a GSO train from one source (nodes
 * send tunnel packets and ChannelData as UDP_SEGMENT trains) as ONE
 * message: datagrams of gso_size bytes back to back, the last possibly
 * shorter, with the size in a UDP_GRO control message. Without it the
 * kernel cuts every train into separate skbs before the socket. Each
 * datagram of a train is then handled on its own, exactly as if it had
 * come alone, so a bad one cannot spoil its neighbours. */
#ifndef IPOP_UDP_GRO_H
#define IPOP_UDP_GRO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

enum {
	UDP_GRO_MSG_MAX = 65536, /* bytes of one received message (a whole train) */
};

/* The datagram size the kernel put in mh's UDP_GRO control message, or 0
 * when the message is a single datagram. */
size_t udp_gro_segment_size(struct msghdr *mh);

/* Walks the datagrams of a received message of len bytes. seg is
 * udp_gro_segment_size(); 0 (or >= len) means one datagram, which may be
 * empty. */
struct udp_gro_iter {
	const uint8_t *p;
	size_t left, seg;
	bool single, done;
};

void udp_gro_iter_init(struct udp_gro_iter *it, const uint8_t *buf, size_t len, size_t seg);
/* The next datagram in *p / *len; false when there is none left. */
bool udp_gro_next(struct udp_gro_iter *it, const uint8_t **p, size_t *len);

/* Turns UDP_GRO on for fd (best effort: false where the kernel lacks it,
 * and the socket then receives datagrams one by one as before). */
bool udp_gro_enable(int fd);

#endif
