/* Who owns which overlay address (group mode), IPv4 and IPv6 alike: an
 * address belongs to the member (bare JID) whose link with it first came
 * up, and stays theirs across restarts, while they are offline, and
 * whoever claims it first afterwards. A claim is also refused when it is
 * no usable address of the overlay: loopback, multicast, link-local,
 * unspecified, IPv4-mapped, 0.0.0.0/8 (ip_addr_unusable), outside the
 * subnet this node has for its family (ip4/ip4_mask, ip6/ip6_mask), the
 * subnet's network or broadcast address (IPv4) or subnet-router anycast
 * address (IPv6), or this node's own.
 *
 * An operator map ("address_map_file": "JID ADDRESS" lines, either family)
 * makes it strict: mapped addresses belong to their JIDs from the start,
 * and a claim that is not in the map is refused.
 *
 * A node without ip6 has no IPv6 subnet: it judges no IPv6 claim (its
 * caller does not ask), and keeps the IPv6 lines of a shared map and of
 * its trust file that are usable at all, so they are there when it gets
 * an ip6.
 *
 * Sans-IO: the daemon loads the map, and persists learned owners through
 * owners_format_line / owners_parse_line. Bounded: OWNERS_PER_MEMBER
 * learned addresses per member, both families together (its least
 * recently seen is released when it gets another), OWNERS_MAX in all. */
#ifndef IPOP_OWNERS_H
#define IPOP_OWNERS_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ip_prefix.h"

enum {
	OWNERS_MAX = 4096,
	OWNERS_PER_MEMBER = 32, /* 16 devices with ip4 and ip6 */
	OWNERS_WHY_LEN = 160,
};

struct owner {
	struct ip_addr addr;
	char *bare;     /* lower case */
	int64_t seen_s; /* wall clock: the member's link with it was last up */
	bool mapped;    /* from the operator's map */
};

struct owners {
	struct owner *o;
	size_t n, cap;
	bool dirty;          /* learned entries changed since the last save */
	bool strict;         /* a map is loaded: only mapped claims */
	/* [0] IPv4, [1] IPv6: this node's address and the overlay subnet
	 * (family 0 when this node has no address of that family) */
	struct ip_addr self[2];
	struct ip_prefix net[2];
};

/* ip4/mask: this node's IPv4 address and subnet. */
void owners_init(struct owners *t, struct in_addr ip4, unsigned mask);
/* This node's ip6/ip6_mask: IPv6 claims are judged from now on. */
void owners_set_ip6(struct owners *t, const struct in6_addr *ip6, unsigned mask);
/* This node has an overlay subnet of family (AF_INET, AF_INET6). */
bool owners_has_family(const struct owners *t, int family);
void owners_free(struct owners *t);
const struct owner *owners_find(const struct owners *t, struct ip_addr a);
/* NULL when the member bare may use a as its address, else why not,
 * written to buf ("fd00::2 belongs to bob@example.test"). */
const char *owners_refusal(const struct owners *t, struct ip_addr a, const char *bare, char *buf, size_t cap);
/* The member's link with a came up: a is theirs from now on (or, already
 * theirs, seen again). 0, -EPERM when someone else owns it or the map does
 * not give it to them, -ENOMEM. */
int owners_note(struct owners *t, struct ip_addr a, const char *bare, int64_t now_s);
/* Releases learned addresses of a member (bare JID) or one address (IPv4
 * or IPv6); mapped ones stay. Returns how many went. */
size_t owners_forget(struct owners *t, const char *what);

/* The operator's map, one line: "JID ADDRESS" (a bare JID, an address of
 * the subnet). NULL, or why the line is refused. Makes the table strict. */
const char *owners_map_line(struct owners *t, const char *line);

/* Persistence of learned owners: "owner <address> <bare JID> <seen unix
 * s>", the address IPv4 or (since IPv6 ownership) IPv6. */
int owners_format_line(const struct owner *o, char *buf, size_t cap);
/* NULL, or why the line (without "owner ") is refused. */
const char *owners_parse_line(struct owners *t, const char *rest);

#endif
