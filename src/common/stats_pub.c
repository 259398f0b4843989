#include "stats_pub.h"

#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>

enum { READ_TRIES = 1000 };

int stats_pub_init(struct stats_pub *p, size_t n)
{
	atomic_init(&p->seq, 0);
	p->n = n;
	p->v = calloc(n ? n : 1, sizeof(*p->v));
	if (!p->v)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		atomic_init(&p->v[i], 0);
	return 0;
}

void stats_pub_free(struct stats_pub *p)
{
	free(p->v);
	p->v = NULL;
	p->n = 0;
}

void stats_pub_write(struct stats_pub *p, const void *src)
{
	const unsigned char *s = src;
	unsigned seq = atomic_load_explicit(&p->seq, memory_order_relaxed);

	atomic_store_explicit(&p->seq, seq + 1, memory_order_relaxed);
	/* the odd count is visible before any new word */
	atomic_thread_fence(memory_order_release);
	for (size_t i = 0; i < p->n; i++) {
		uint64_t w;
		memcpy(&w, s + i * sizeof(w), sizeof(w));
		atomic_store_explicit(&p->v[i], w, memory_order_relaxed);
	}
	atomic_store_explicit(&p->seq, seq + 2, memory_order_release);
}

static void copy_out(struct stats_pub *p, void *dst)
{
	unsigned char *d = dst;
	for (size_t i = 0; i < p->n; i++) {
		uint64_t w = atomic_load_explicit(&p->v[i], memory_order_relaxed);
		memcpy(d + i * sizeof(w), &w, sizeof(w));
	}
}

bool stats_pub_read(struct stats_pub *p, void *dst)
{
	for (int tries = 0; tries < READ_TRIES; tries++) {
		unsigned s0 = atomic_load_explicit(&p->seq, memory_order_acquire);
		if (s0 & 1) {
			sched_yield();
			continue;
		}
		copy_out(p, dst);
		/* the words are read before the count is checked again */
		atomic_thread_fence(memory_order_acquire);
		if (atomic_load_explicit(&p->seq, memory_order_relaxed) == s0)
			return true;
	}
	copy_out(p, dst);
	return false;
}
