/* IP prefixes ("10.77.0.0/24", "fd00:77::/64") of either family: parsing
 * with the reason a text is refused, canonical form (host bits zero),
 * containment and overlap. Shared by the config (routes, accept_routes),
 * the signalling codec (advertised routes) and the prefix table of the data
 * path, so all three agree on what a prefix is. Pure functions. */
#ifndef IPOP_IP_PREFIX_H
#define IPOP_IP_PREFIX_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum {
	/* "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255/128" + NUL fits */
	IP_PREFIX_STRLEN = INET6_ADDRSTRLEN + 4,
};

struct ip_prefix {
	uint8_t family;   /* AF_INET or AF_INET6 */
	uint8_t len;      /* 0..32 or 0..128 */
	uint8_t addr[16]; /* network order; IPv4 in addr[0..3], the rest zero */
};

/* Bits in an address of family (32 or 128; 0 for anything else). */
unsigned ip_prefix_bits(int family);

/* Parses "ADDRESS/LEN" (the length is required, decimal, no leading zero).
 * Host bits must be zero: "10.77.0.1/24" is refused with a reason that the
 * caller can complete with the canonical form (ip_prefix_masked). Returns
 * NULL, or why s is not a prefix (then *p holds what was read, masked, when
 * only the host bits were wrong: *host_bits is set). host_bits may be NULL. */
const char *ip_prefix_parse(const char *s, struct ip_prefix *p, bool *host_bits);

/* "10.77.0.0/24" / "fd00:77::/64" (inet_ntop's form). Returns buf. */
const char *ip_prefix_format(const struct ip_prefix *p, char buf[IP_PREFIX_STRLEN]);

/* A prefix of one address (/32 or /128). */
void ip_prefix_from_addr(struct ip_prefix *p, int family, const void *addr);

/* Clears the host bits (and, for IPv4, addr[4..15]). */
void ip_prefix_mask(struct ip_prefix *p);
/* Host bits are zero and the length fits the family. */
bool ip_prefix_is_canonical(const struct ip_prefix *p);

bool ip_prefix_equal(const struct ip_prefix *a, const struct ip_prefix *b);
/* The first len bits of addr (family's size) equal p's. */
bool ip_prefix_has_addr(const struct ip_prefix *p, int family, const void *addr);
/* outer covers inner entirely: same family, outer->len <= inner->len and
 * inner's network lies in outer. */
bool ip_prefix_contains(const struct ip_prefix *outer, const struct ip_prefix *inner);
/* One contains the other (prefixes never partially overlap). */
bool ip_prefix_overlaps(const struct ip_prefix *a, const struct ip_prefix *b);

/* NULL when the prefix may be routed through the overlay, else why not:
 * the default route (/0), or a range that never leaves a host or link
 * (loopback, link-local, multicast, unspecified, IPv4-mapped, 0.0.0.0/8,
 * limited broadcast). A route may not reach into those ranges either. */
const char *ip_prefix_unroutable(const struct ip_prefix *p);

/* NULL when addr (family) can be a node's overlay address, else why not:
 * the same ranges as ip_prefix_unroutable, for one address. */
const char *ip_addr_unusable(int family, const void *addr);

/* One address of either family, for tables that hold both (the owners of
 * overlay addresses, ipopctl). Compare with ip_addr_equal: the unused
 * bytes are zero. */
struct ip_addr {
	uint8_t family;   /* AF_INET or AF_INET6 */
	uint8_t addr[16]; /* network order; IPv4 in addr[0..3], the rest zero */
};

struct ip_addr ip_addr_of(int family, const void *addr);
/* Either family's text form (inet_pton's); false when s is neither. */
bool ip_addr_parse(struct ip_addr *a, const char *s);
/* inet_ntop's form. Returns buf. */
const char *ip_addr_format(const struct ip_addr *a, char buf[INET6_ADDRSTRLEN]);
bool ip_addr_equal(const struct ip_addr *a, const struct ip_addr *b);

#endif
