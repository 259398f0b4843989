/* Cryptokey routing table of ipopd: virtual IPv4 address -> link. The data
 * thread owns it (no locking). Open addressing with linear probing over a
 * power-of-two table sized for LINKS_MAX, so a lookup per packet is a
 * hash and a probe or two; deletions use backward-shift so no tombstones
 * pile up. */
#ifndef IPOP_ROUTING_H
#define IPOP_ROUTING_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>

struct link;

enum { ROUTING_SLOTS = 512 }; /* >= 2 * LINKS_MAX, power of two */

struct routing_slot {
	uint32_t ip; /* network order; 0 = empty (0.0.0.0 is never a peer) */
	struct link *link;
};

struct routing {
	struct routing_slot slots[ROUTING_SLOTS];
	unsigned n;
	uint64_t no_route; /* packets for an address without a link */
};

void routing_init(struct routing *r);
/* -EEXIST when another link holds ip, -ENOSPC when full, -EINVAL for 0. */
int routing_add(struct routing *r, struct in_addr ip, struct link *p);
/* Removes ip only if it maps to p. */
void routing_del(struct routing *r, struct in_addr ip, const struct link *p);
struct link *routing_lookup(const struct routing *r, struct in_addr ip);

#endif
