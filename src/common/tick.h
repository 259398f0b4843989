/* A node's periodic timers share one wakeup when they fire on the same
 * grid: the links' session ticks, ICE consent checks and keepalives
 * (ice_agent.c), RTT probes, the STUN refresh, the
 * overlay's plan and traffic accounting all run on whole seconds of the
 * monotonic clock (TICK_GRID_MS), so an idle node wakes once a second for
 * all of them instead of once for each, at its own phase. */
#ifndef IPOP_TICK_H
#define IPOP_TICK_H

#include <stdint.h>

enum { TICK_GRID_MS = 1000 };

/* The first grid point strictly after now_ms. */
static inline uint64_t tick_next(uint64_t now_ms)
{
	return (now_ms / TICK_GRID_MS + 1) * TICK_GRID_MS;
}

/* The grid point at or after now_ms (now_ms itself when it is one). */
static inline uint64_t tick_ceil(uint64_t now_ms)
{
	return (now_ms + TICK_GRID_MS - 1) / TICK_GRID_MS * TICK_GRID_MS;
}

/* The grid point at or before now_ms (when the current tick began). */
static inline uint64_t tick_start(uint64_t now_ms)
{
	return now_ms - now_ms % TICK_GRID_MS;
}

#endif
