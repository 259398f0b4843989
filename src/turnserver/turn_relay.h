/* Relay sockets: one UDP socket per allocation, bound on a relay address
 * with a port from the configured range. */
#ifndef IPOP_TURN_RELAY_H
#define IPOP_TURN_RELAY_H

#include <stdint.h>
#include <sys/socket.h>

struct turn_conf;

/* Picks the first relay address of `family` from conf (relay_address, or
 * the listen addresses when none is configured). Returns 0 or -EAFNOSUPPORT. */
int turn_relay_pick_address(const struct turn_conf *conf, int family,
			    struct sockaddr_storage *out);

/* Opens a non-blocking UDP socket bound to `base` (port ignored) with a port
 * in [min_port, max_port]: walks the even ports from a random start, then
 * the odd ones, skipping ports in use. Returns the fd and fills *bound, or -errno
 * (-EADDRINUSE when every port is taken). */
int turn_relay_bind(const struct sockaddr_storage *base, uint16_t min_port, uint16_t max_port,
		    struct sockaddr_storage *bound);

#endif
