/* Reading the addresses of an IP packet from the TUN or from a tunnel,
 * after checking that its header is whole. Pure functions. */
#ifndef IPOP_IP_PKT_H
#define IPOP_IP_PKT_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>

/* The IPv4 destination / source of pkt, or false when it is not a
 * well-formed IPv4 packet (the caller counts and drops it). */
bool ip_pkt_dst4(const unsigned char *pkt, size_t len, struct in_addr *dst);
bool ip_pkt_src4(const unsigned char *pkt, size_t len, struct in_addr *src);

#endif
