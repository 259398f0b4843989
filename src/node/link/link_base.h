/* Base ids: where a link's datagrams leave from. The ICE agent treats them
 * as opaque; the node gives them meaning, and the link core only needs to
 * tell the kinds apart (roaming follows host paths only; a relay base
 * marks a relayed path). */
#ifndef IPOP_LINK_BASE_H
#define IPOP_LINK_BASE_H

#include <stdbool.h>
#include <stdint.h>

enum {
	/* 0 .. LINK_MAX_HOSTS-1: the host addresses of the node's UDP socket */
	LINK_MAX_HOSTS = 8,
	/* >= this: a TURN allocation (LINK_RELAY_BASE + generation) */
	LINK_RELAY_BASE = 0x10000,
};
/* The UDP socket with the kernel's choice of source address (STUN and
 * TURN servers). */
#define LINK_BASE_ANY UINT32_MAX
/* Through the group's overlay, hop by hop (node/overlay): the link has no
 * path of its own to the peer; its packets ride in overlay frames. */
#define LINK_BASE_OVERLAY (UINT32_MAX - 1)

static inline bool link_base_is_relay(uint32_t base_id)
{
	return base_id >= LINK_RELAY_BASE && base_id < LINK_BASE_OVERLAY;
}

#endif
