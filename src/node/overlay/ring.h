/* The group's ring: every member has a position, the first 64 bits of its
 * node id (a hash of its key, so positions are uniform), and distances are
 * measured clockwise. Pure functions. */
#ifndef IPOP_RING_H
#define IPOP_RING_H

#include <stddef.h>
#include <stdint.h>

typedef uint64_t ring_pos;

/* The position of a node id (its first 8 bytes, big-endian). */
ring_pos ring_pos_of(const uint8_t *id, size_t len);

/* Clockwise distance from a to b (0 when equal). */
static inline uint64_t ring_dist(ring_pos a, ring_pos b)
{
	return b - a; /* modulo 2^64 */
}

/* Index of the first position at or after pos in sorted[0..n) (n > 0),
 * wrapping to 0 past the end. */
size_t ring_successor(const ring_pos *sorted, size_t n, ring_pos pos);

/* Greedy routing: among cand[0..n), the position closest before dst
 * (clockwise), i.e. the one that leaves the shortest clockwise distance to
 * dst, if it is shorter than from's own; -1 when none makes progress.
 * A candidate equal to dst wins. */
int ring_closest_preceding(const ring_pos *cand, size_t n, ring_pos from, ring_pos dst);

#endif
