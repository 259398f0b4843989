/* Publishing a block of 64-bit counters from the one thread that owns them
 * to any number of readers, without locks: a sequence lock. The writer
 * never waits (a reader cannot stall a packet-processing thread); a reader
 * retries the copy while a publish is under way, so what it gets is one
 * consistent snapshot. Every word is an _Atomic uint64_t accessed with
 * relaxed loads and stores ordered by fences (the C11 form of a seqlock,
 * H. Boehm, "Can seqlocks get along with programming language memory
 * models?", 2012), so no access is a data race and none can tear. On
 * x86-64 these compile to plain moves. */
#ifndef IPOP_STATS_PUB_H
#define IPOP_STATS_PUB_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct stats_pub {
	atomic_uint seq;        /* odd while a publish is under way */
	size_t n;               /* words */
	_Atomic uint64_t *v;
};

/* n words, all 0. Returns 0 or -ENOMEM. */
int stats_pub_init(struct stats_pub *p, size_t n);
void stats_pub_free(struct stats_pub *p);
/* Writer only (one thread): copies n words from src (any object made of
 * uint64_t fields, size n * 8). */
void stats_pub_write(struct stats_pub *p, const void *src);
/* Any thread: copies the last published words into dst. Returns false
 * only when a consistent copy could not be had after many tries (a writer
 * publishing without pause); dst then holds words each read whole. */
bool stats_pub_read(struct stats_pub *p, void *dst);

#endif
