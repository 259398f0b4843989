/* Datagrams the kernel dropped because a UDP socket's receive queue was
 * full, counted per worker. With SO_RXQ_OVFL on a socket the kernel
 * attaches the socket's cumulative drop count (a 32-bit counter) to a
 * received datagram whenever the count is not zero; nothing is added
 * while no datagram was ever dropped, so the data path pays nothing then.
 * A datagram carries the count as it was when the datagram was queued,
 * so drops show up with the next datagram queued after them. */
#ifndef IPOP_TURN_RXQ_H
#define IPOP_TURN_RXQ_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

/* Turns SO_RXQ_OVFL on for fd; false where the kernel refuses. */
bool turn_rxq_enable(int fd);
/* The drops since the count last seen on this socket (*seen, 0 for a new
 * socket), from mh's control data; 0 when it carries no count. */
uint32_t turn_rxq_new_drops(struct msghdr *mh, uint32_t *seen);

#endif
