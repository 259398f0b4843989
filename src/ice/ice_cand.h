/* ICE candidates: the struct, priority and foundation (RFC 8445 5.1.2,
 * 5.1.1.3), and the text form the signalling carries (RFC 8839 5.1 syntax,
 * UDP only, without the "candidate:" prefix). */
#ifndef IPOP_ICE_CAND_H
#define IPOP_ICE_CAND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "addr.h"
#include "ice_proto.h"

enum ice_cand_type { ICE_CAND_HOST = 0, ICE_CAND_SRFLX, ICE_CAND_PRFLX, ICE_CAND_RELAY };

/* One candidate. For a local candidate, base_id names the daemon's path the
 * candidate sends from (a UDP socket index, a TURN allocation...): the
 * agent never interprets it, it only hands it back in transmits, so a
 * relayed candidate is just a candidate whose base sends through TURN.
 * rel_addr is the base address for srflx/prflx and the mapped address for
 * relay ("raddr" in SDP); for host it equals addr. */
struct ice_cand {
	enum ice_cand_type type;
	uint16_t component;
	uint32_t priority;
	uint32_t base_id;
	union addr_ip addr;     /* IPv4 or IPv6 (addr.h): 28 bytes, not 128 */
	union addr_ip rel_addr;
	char foundation[ICE_FOUNDATION_MAX + 1];
};

uint8_t ice_type_pref(enum ice_cand_type t);
const char *ice_cand_type_name(enum ice_cand_type t);
/* 2^24 * type pref + 2^8 * local pref + (256 - component). */
uint32_t ice_cand_priority(enum ice_cand_type t, uint16_t local_pref, uint16_t component);

/* Fills a local candidate: priority from type and local_pref, component 1,
 * foundation from type, base IP and server (NULL for host/prflx).
 * rel may be NULL for host. Returns 0 or -EINVAL (family mismatch). */
int ice_cand_init(struct ice_cand *c, enum ice_cand_type t, const struct sockaddr *addr,
		  const struct sockaddr *rel, uint32_t base_id, uint16_t local_pref,
		  const struct sockaddr *server);
/* Same type, base IP, server IP and transport give the same foundation:
 * a short hex hash of those, so it can be recomputed anywhere. */
void ice_cand_foundation(struct ice_cand *c, const struct sockaddr *server);

/* "<foundation> <component> udp <priority> <ip> <port> typ <type>
 * [raddr <ip> rport <port>]". Returns the length, or -ENOSPC. */
int ice_cand_format(const struct ice_cand *c, char *buf, size_t cap);
/* Parses that form (an optional leading "candidate:" is accepted, as are
 * unknown trailing extension pairs). Only UDP. base_id is set to 0.
 * Returns 0 or -EINVAL. */
int ice_cand_parse(const char *s, struct ice_cand *c);

bool ice_cand_same_family(const struct ice_cand *a, const struct ice_cand *b);

#endif
