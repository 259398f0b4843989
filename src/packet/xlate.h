/* SocialVPN address translation, sans I/O: rewrites one IPv4 packet in
 * place between this node's address space and a friend's. Social mode is
 * IPv4-only (docs/ipv6.md says why): an IPv6 packet is refused untouched
 * with XLATE_IPV6, for the caller to count and drop.
 *
 * Every user owns an address space (often the same 172.31.0.0/24, with the
 * same 172.31.0.100 for themselves). On the wire between two nodes a packet
 * carries each node's OWN address: sender's own as source, receiver's own
 * as destination. Each side translates its half:
 *   - out (TUN -> link): the destination, the friend's address in our space
 *     ("mapped"), becomes the friend's own address;
 *   - in (link -> TUN): the source, the friend's own address, becomes the
 *     mapped one.
 * An ICMP error quotes the packet it is about, whose addresses run the other
 * way, so the quoted source (out) or quoted destination (in) is rewritten
 * the same way.
 *
 * Checksums are updated incrementally (RFC 1624, HC' = ~(~HC + ~m + m')):
 * the IPv4 header; TCP and UDP through their pseudo-header (a zero UDP
 * checksum means "none" and stays zero); ICMP for whatever changes inside
 * a quoted header (quoted IP checksum, quoted TCP/UDP checksum when the
 * quote reaches it). Fragments: every fragment gets the new IP addresses;
 * only the first (offset 0) carries the transport header, so only it has
 * its transport checksum updated. No allocation: bytes in, bytes out.
 *
 * A packet that cannot be translated completely is left as a failure code
 * and must be dropped; it may have been partly rewritten, so it is never
 * to be forwarded. */
#ifndef IPOP_XLATE_H
#define IPOP_XLATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Addresses in network byte order (struct in_addr.s_addr). */
struct xlate_pair {
	uint32_t local;       /* this node's own address */
	uint32_t peer_own;    /* the friend's own address (in its space) */
	uint32_t peer_mapped; /* the friend's address in our space */
};

enum xlate_result {
	XLATE_OK = 0,
	XLATE_BAD_HEADER,   /* not IPv4, bad header or total length */
	XLATE_WRONG_ADDR,   /* an address is not the one this link translates */
	XLATE_TRUNCATED,    /* first fragment or ICMP quote too short to fix */
	XLATE_UNSUPPORTED,  /* ICMP redirect, UDP-Lite, DCCP: cannot be fixed */
	XLATE_IPV6,         /* an IPv6 packet: social mode is IPv4-only (docs/ipv6.md) */
	XLATE_NRESULTS,
};

/* TUN -> link: src must be local, dst peer_mapped (becomes peer_own). */
enum xlate_result xlate_out(uint8_t *pkt, size_t len, const struct xlate_pair *x);
/* link -> TUN: src must be peer_own (becomes peer_mapped), dst local. */
enum xlate_result xlate_in(uint8_t *pkt, size_t len, const struct xlate_pair *x);
const char *xlate_result_name(enum xlate_result r);

/* Broadcast and multicast (only with "social_broadcast"). On the wire
 * they carry the sender's own address and 255.255.255.255 or the
 * multicast group, so the receiver's subnet does not matter.
 * xlate_is_bcast: the destination is 255.255.255.255, subnet_bcast (our
 * subnet's broadcast, network order) or in 224.0.0.0/4.
 * xlate_bcast_out: src must be local; a subnet broadcast becomes
 * 255.255.255.255 (checksums fixed), the others stay.
 * xlate_bcast_in: dst must be 255.255.255.255 or multicast; src peer_own
 * becomes peer_mapped. */
bool xlate_is_bcast(const uint8_t *pkt, size_t len, uint32_t subnet_bcast);
enum xlate_result xlate_bcast_out(uint8_t *pkt, size_t len, uint32_t local, uint32_t subnet_bcast);
enum xlate_result xlate_bcast_in(uint8_t *pkt, size_t len, const struct xlate_pair *x);

/* One's complement checksum helpers (exposed for the tests). */
uint16_t xlate_csum(const uint8_t *p, size_t len, uint32_t seed);
/* RFC 1624 eqn. 3 for a 32-bit field changing from old to new (both in
 * the same byte order as they sit in the packet, read big-endian). */
uint16_t xlate_csum_adj32(uint16_t hc, uint32_t old_be, uint32_t new_be);

#endif
