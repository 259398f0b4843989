/* Virtual address -> link table (see routing.h). */
#include "routing.h"

#include <errno.h>
#include <string.h>

static unsigned slot_of(uint32_t ip)
{
	/* Fibonacci hashing: overlay addresses differ in the low bits. */
	return (unsigned)((ip * UINT32_C(2654435769)) >> 23) & (ROUTING_SLOTS - 1); /* the top 9 bits */
}

void routing_init(struct routing *r)
{
	memset(r, 0, sizeof(*r));
}

int routing_add(struct routing *r, struct in_addr ip, struct link *p)
{
	uint32_t key = ip.s_addr;

	if (key == 0 || !p)
		return -EINVAL;
	for (unsigned i = slot_of(key), k = 0; k < ROUTING_SLOTS; k++, i = (i + 1) & (ROUTING_SLOTS - 1)) {
		struct routing_slot *s = &r->slots[i];
		if (s->ip == key) {
			if (s->link == p)
				return 0;
			return -EEXIST;
		}
		if (s->ip == 0) {
			if (r->n >= ROUTING_SLOTS / 2)
				return -ENOSPC;
			s->ip = key;
			s->link = p;
			r->n++;
			return 0;
		}
	}
	return -ENOSPC;
}

void routing_del(struct routing *r, struct in_addr ip, const struct link *p)
{
	uint32_t key = ip.s_addr;
	unsigned i = slot_of(key);

	for (unsigned k = 0; k < ROUTING_SLOTS; k++, i = (i + 1) & (ROUTING_SLOTS - 1)) {
		if (r->slots[i].ip == 0)
			return;
		if (r->slots[i].ip == key)
			break;
	}
	if (r->slots[i].ip != key || r->slots[i].link != p)
		return;
	/* Backward-shift deletion keeps every probe chain unbroken. */
	unsigned hole = i;
	for (unsigned j = (i + 1) & (ROUTING_SLOTS - 1); r->slots[j].ip != 0; j = (j + 1) & (ROUTING_SLOTS - 1)) {
		unsigned home = slot_of(r->slots[j].ip);
		bool movable = (j > hole) ? (home <= hole || home > j) : (home <= hole && home > j);
		if (movable) {
			r->slots[hole] = r->slots[j];
			hole = j;
		}
	}
	r->slots[hole].ip = 0;
	r->slots[hole].link = NULL;
	r->n--;
}

struct link *routing_lookup(const struct routing *r, struct in_addr ip)
{
	uint32_t key = ip.s_addr;

	for (unsigned i = slot_of(key), k = 0; k < ROUTING_SLOTS; k++, i = (i + 1) & (ROUTING_SLOTS - 1)) {
		if (r->slots[i].ip == key)
			return key ? r->slots[i].link : NULL;
		if (r->slots[i].ip == 0)
			return NULL;
	}
	return NULL;
}
