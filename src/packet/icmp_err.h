/* ICMP errors the node writes to its own TUN about a packet it read there
 * and cannot forward: ICMPv6 Packet Too Big and Destination Unreachable
 * (RFC 4443), ICMPv4 Destination Unreachable with "fragmentation needed"
 * (RFC 792, RFC 1191). Sans I/O: the invoking packet in, the error out.
 *
 * The builders apply the rules on which packets never get an error
 * (RFC 4443 2.4(e), RFC 1122 3.2.2): another ICMP error (or redirect), a
 * packet from an unspecified, multicast or (IPv4) broadcast source, a
 * multicast or broadcast destination (except Packet Too Big, which RFC 4443
 * allows for multicast), a later fragment, a malformed packet; they
 * return 0 then. Rate limiting (RFC 4443 2.4(f), RFC 1812 4.3.2.8) is the
 * caller's, with icmp_err_limit below.
 *
 * The source address is the caller's choice. The node's overlay address is
 * the natural one, except for the node's own packets: Linux drops an IPv4
 * packet that arrives with one of its own addresses as source (a martian,
 * unless accept_local), so an error about a packet the node's host sent
 * itself should come from the invoking packet's destination instead
 * (docs/ipv6.md). */
#ifndef IPOP_ICMP_ERR_H
#define IPOP_ICMP_ERR_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum {
	ICMP_ERR_V6_MAX = 1280, /* an ICMPv6 error never exceeds the IPv6 minimum MTU */
	ICMP_ERR_V4_MAX = 576,  /* RFC 1812 4.3.2.3: at most 576 bytes */
	ICMP_ERR_HOP_LIMIT = 64,
	ICMP6_DST_UNREACH = 1,
	ICMP6_PACKET_TOO_BIG = 2,
	ICMP6_UNREACH_NOROUTE = 0,
	ICMP6_UNREACH_ADMIN = 1,
	ICMP6_UNREACH_ADDR = 3,
	ICMP4_DST_UNREACH = 3,
	ICMP4_UNREACH_HOST = 1,
	ICMP4_UNREACH_NEEDFRAG = 4,
	ICMP4_UNREACH_ADMIN = 13,
};

/* An ICMPv6 error of type/code with the 32-bit field param (the MTU for
 * Packet Too Big, 0 for Destination Unreachable) from src to the invoking
 * packet's source, quoting as much of pkt as keeps the error within 1280
 * bytes, checksummed with the IPv6 pseudo-header. Written to out (cap
 * bytes, ICMP_ERR_V6_MAX is always enough). Returns its length, or 0 when
 * no error may or can be sent (see above, or cap too small). */
size_t icmp6_error(uint8_t *out, size_t cap, const struct in6_addr *src, uint8_t type, uint8_t code, uint32_t param,
		   const uint8_t *pkt, size_t len);
/* Packet Too Big (RFC 4443 3.2) announcing mtu (at least 1280). */
size_t icmp6_packet_too_big(uint8_t *out, size_t cap, const struct in6_addr *src, unsigned mtu, const uint8_t *pkt,
			    size_t len);

/* An ICMPv4 error of type/code (for "fragmentation needed" the next-hop
 * MTU goes in the low 16 bits of param, RFC 1191; else 0) from src to the
 * invoking packet's source, quoting its header and as much of the rest as
 * keeps the error within 576 bytes. Returns its length or 0, as above. */
size_t icmp4_error(uint8_t *out, size_t cap, struct in_addr src, uint8_t type, uint8_t code, uint32_t param,
		   const uint8_t *pkt, size_t len);
/* "Fragmentation needed and DF set" (type 3 code 4) with mtu; 0 for a
 * packet without DF (it may be fragmented) and as above. */
size_t icmp4_frag_needed(uint8_t *out, size_t cap, struct in_addr src, unsigned mtu, const uint8_t *pkt,
			 size_t len);

/* For a packet of either family longer than mtu: Packet Too Big (IPv6) or
 * fragmentation needed (IPv4 with DF) from src4 / src6, or 0 (shorter
 * than mtu, IPv4 without DF, no error allowed, or no source of that
 * family: NULL). The node never fragments: an IPv4 packet without DF that
 * is too big is the caller's to drop or let the underlay fragment. */
size_t icmp_err_too_big(uint8_t *out, size_t cap, const struct in_addr *src4, const struct in6_addr *src6,
			unsigned mtu, const uint8_t *pkt, size_t len);

/* A token bucket for the errors a node sends: at most burst at once and
 * rate per second on average. Time comes in; nothing is read from a
 * clock. */
struct icmp_err_limit {
	uint64_t last_ms;
	uint64_t tokens_milli; /* thousandths of a token */
	unsigned rate, burst;
};

void icmp_err_limit_init(struct icmp_err_limit *l, unsigned rate_per_s, unsigned burst, uint64_t now_ms);
/* true (and one token spent) when an error may be sent at now_ms. */
bool icmp_err_limit_take(struct icmp_err_limit *l, uint64_t now_ms);

#endif
