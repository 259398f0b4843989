/* A 64-bit mixing function (the MurmurHash3 finalizer) for hash tables
 * keyed by addresses or indices: every input bit affects every output bit. */
#ifndef IPOP_HASH_H
#define IPOP_HASH_H

#include <stdint.h>

static inline uint64_t hash_mix64(uint64_t h)
{
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ULL;
	h ^= h >> 33;
	return h;
}

#endif
