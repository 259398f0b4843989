/* Reading the addresses of an IP packet from the TUN or from a tunnel,
 * after checking that its header is whole. Pure functions, both families.
 *
 * "Well-formed" means: IPv4 with 20 <= IHL*4 <= total length <= len;
 * IPv6 with 40 + payload length <= len and a payload length other than 0
 * (a jumbogram, which a TUN with a 64 KB MTU never carries). Bytes after
 * the length the header gives are ignored, as a receiving stack does. */
#ifndef IPOP_IP_PKT_H
#define IPOP_IP_PKT_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum {
	IP_PKT_IP4_MIN = 20,
	IP_PKT_IP6_HDR = 40,
	IP_PKT_IP6_MAX_EXT = 8, /* extension headers ip_pkt_l4 walks at most */
};

/* The IPv4 destination / source of pkt, or false when it is not a
 * well-formed IPv4 packet (the caller counts and drops it). */
bool ip_pkt_dst4(const unsigned char *pkt, size_t len, struct in_addr *dst);
bool ip_pkt_src4(const unsigned char *pkt, size_t len, struct in_addr *src);
/* The same for IPv6. */
bool ip_pkt_dst6(const unsigned char *pkt, size_t len, struct in6_addr *dst);
bool ip_pkt_src6(const unsigned char *pkt, size_t len, struct in6_addr *src);

/* 4 or 6 for a well-formed IPv4 / IPv6 packet, else 0. */
int ip_pkt_version(const unsigned char *pkt, size_t len);
/* The packet's length according to its header (IPv4 total length, IPv6
 * 40 + payload length); 0 when not well-formed. */
size_t ip_pkt_len(const unsigned char *pkt, size_t len);

/* Where the destination / source address sits in a well-formed packet (4 or
 * 16 bytes, network order), with *family AF_INET or AF_INET6: what
 * prefix_table_lookup takes, without a copy. NULL when not well-formed. */
const unsigned char *ip_pkt_dst(const unsigned char *pkt, size_t len, int *family);
const unsigned char *ip_pkt_src(const unsigned char *pkt, size_t len, int *family);

/* The transport header of a well-formed packet. IPv6 extension headers
 * (hop-by-hop, routing, destination options, fragment) are skipped, at
 * most IP_PKT_IP6_MAX_EXT of them, and must fit the payload length. */
struct ip_pkt_l4 {
	uint8_t proto;  /* IPPROTO_TCP, IPPROTO_UDP, IPPROTO_ICMPV6, ... */
	size_t off;     /* where its header starts */
	size_t end;     /* the packet's length by its header */
	bool fragment;  /* part of a fragmented packet (IPv4 MF/offset, IPv6 fragment header) */
	bool later;     /* a fragment other than the first: no transport header at off */
	bool routing;   /* IPv6 routing header present: the pseudo-header's
			   destination is the final one, not the header's */
};
/* false when pkt is not well-formed or its extension headers are not. */
bool ip_pkt_l4(const unsigned char *pkt, size_t len, struct ip_pkt_l4 *l4);

/* IPv6 packets that must stay on the TUN's link and never cross the
 * overlay: a link-local (fe80::/10) source or destination, a multicast
 * destination (ff00::/8: router solicitations, MLD, mDNS), or a Neighbor
 * Discovery message (ICMPv6 133-137). Linux sends such packets on a TUN
 * by itself (docs/ipv6.md); the node drops them quietly, in both
 * directions. false for anything else, IPv4 included. */
bool ip_pkt_link_scope6(const unsigned char *pkt, size_t len);

#endif
