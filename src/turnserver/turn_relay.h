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

/* A non-blocking UDP socket bound to exactly addr (port included): the
 * port an EVEN-PORT R=1 reservation holds. Returns the fd or -errno. */
int turn_relay_bind_at(const struct sockaddr_storage *addr);

/* DF on every datagram of fd from now on (RFC 8656 DONT-FRAGMENT):
 * IP_MTU_DISCOVER = IP_PMTUDISC_DO, or IPV6_DONTFRAG. 0 or -errno. */
int turn_relay_set_df(int fd, int family);

#endif
