/* The group's ring (see ring.h). */
#include "ring.h"

ring_pos ring_pos_of(const uint8_t *id, size_t len)
{
	ring_pos p = 0;

	for (size_t i = 0; i < 8; i++)
		p = p << 8 | (i < len ? id[i] : 0);
	return p;
}

size_t ring_successor(const ring_pos *sorted, size_t n, ring_pos pos)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (sorted[mid] < pos)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo == n ? 0 : lo;
}

int ring_closest_preceding(const ring_pos *cand, size_t n, ring_pos from, ring_pos dst)
{
	uint64_t best = ring_dist(from, dst);
	int who = -1;

	for (size_t i = 0; i < n; i++) {
		uint64_t d = ring_dist(cand[i], dst);
		if (d < best) {
			best = d;
			who = (int)i;
		}
	}
	return who;
}
