/* Per-source-IP token buckets for answers to unauthenticated requests (401,
 * 438, 400 ...), so the relay cannot be used to flood a spoofed victim.
 * The table is fixed-size and allocated once: sources are hashed onto
 * slots without storing the address, so colliding sources share a bucket
 * (at worst an innocent client waits for its retransmission) and no packet
 * ever creates state. IPv6 sources are keyed by their /64, since one host
 * usually owns a whole /64. */
#ifndef IPOP_TURN_RATELIMIT_H
#define IPOP_TURN_RATELIMIT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

struct turn_rl_slot {
	uint64_t last_ms;
	uint32_t milli_tokens; /* tokens x 1000, so refill needs no floats */
	uint32_t pad;
};

struct turn_ratelimit {
	struct turn_rl_slot *slots;
	uint32_t mask;     /* nslots - 1 */
	uint32_t rate;     /* tokens per second */
	uint32_t burst;    /* bucket size in tokens */
	uint64_t seed;
};

/* nslots is rounded up to a power of two. Returns 0 or -ENOMEM/-EINVAL. */
int turn_ratelimit_init(struct turn_ratelimit *rl, uint32_t nslots, uint32_t rate_per_s,
			uint32_t burst, uint64_t seed);
void turn_ratelimit_free(struct turn_ratelimit *rl);
/* Takes one token from the source's bucket; false when it is empty. */
bool turn_ratelimit_allow(struct turn_ratelimit *rl, const struct sockaddr *src, uint64_t now_ms);

#endif
