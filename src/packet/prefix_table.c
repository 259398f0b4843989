/* Longest-prefix match for cryptokey routing, see prefix_table.h. */
#include "prefix_table.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "hash.h"

static struct prefix_lens *lens_of(struct prefix_table *t, int family)
{
	return family == AF_INET ? &t->lens4 : &t->lens6;
}

/* Hash of (family, length, masked key): every bit of the key matters. */
static unsigned slot_of(const struct prefix_table *t, uint8_t family, uint8_t len, const uint8_t key[16])
{
	uint64_t w0, w1;
	memcpy(&w0, key, 8);
	memcpy(&w1, key + 8, 8);
	uint64_t h = hash_mix64(w0 ^ ((uint64_t)family << 8 | len));
	if (family == AF_INET6)
		h = hash_mix64(h ^ w1);
	return (unsigned)h & t->mask;
}

/* addr (family's size) masked to len bits, in a zeroed 16-byte key. */
static void make_key(uint8_t key[16], int family, const void *addr, unsigned len)
{
	unsigned whole = len / 8;
	memset(key, 0, 16);
	memcpy(key, addr, whole);
	if (len % 8)
		key[whole] = (uint8_t)(((const uint8_t *)addr)[whole] & (0xff00 >> (len % 8)));
	(void)family;
}

static bool slot_is(const struct prefix_slot *s, uint8_t family, uint8_t len, const uint8_t key[16])
{
	return s->family == family && s->len == len && memcmp(s->key, key, 16) == 0;
}

/* The slot holding (family, len, key), or the empty slot ending its probe
 * chain. The table is never full (at most half), so this ends. */
static struct prefix_slot *find(const struct prefix_table *t, uint8_t family, uint8_t len, const uint8_t key[16])
{
	unsigned i = slot_of(t, family, len, key);
	while (t->slots[i].family && !slot_is(&t->slots[i], family, len, key))
		i = (i + 1) & t->mask;
	return &t->slots[i];
}

/* Slots for n entries at most half full: a power of two, at least 4. */
unsigned prefix_table_slots_for(unsigned n)
{
	unsigned slots = 4;
	while (slots < 2 * n)
		slots <<= 1;
	return slots;
}

int prefix_table_init(struct prefix_table *t, unsigned max)
{
	memset(t, 0, sizeof(*t));
	if (max == 0 || max > PREFIX_TABLE_MAX)
		return -EINVAL;
	unsigned slots = prefix_table_slots_for(max < PREFIX_TABLE_FIRST ? max : PREFIX_TABLE_FIRST);
	t->slots = calloc(slots, sizeof(*t->slots));
	if (!t->slots)
		return -ENOMEM;
	t->mask = slots - 1;
	t->max = max;
	return 0;
}

/* Twice the slots, every entry rehashed into them: on an insert that
 * would make the table more than half full (never on a lookup). */
static int grow(struct prefix_table *t)
{
	unsigned old_n = t->mask + 1, slots = 2 * old_n;
	struct prefix_slot *old = t->slots, *fresh = calloc(slots, sizeof(*fresh));
	if (!fresh)
		return -ENOMEM;
	t->slots = fresh;
	t->mask = slots - 1;
	for (unsigned i = 0; i < old_n; i++)
		if (old[i].family)
			*find(t, old[i].family, old[i].len, old[i].key) = old[i];
	free(old);
	return 0;
}

void prefix_table_free(struct prefix_table *t)
{
	free(t->slots);
	memset(t, 0, sizeof(*t));
}

/* Keeps order[] = lengths with a non-zero count, longest first. */
static void lens_rebuild(struct prefix_lens *l)
{
	l->n = 0;
	for (int len = 128; len >= 0; len--)
		if (l->count[len])
			l->order[l->n++] = (uint8_t)len;
}

static void lens_add(struct prefix_lens *l, unsigned len, int delta)
{
	bool was = l->count[len] != 0;
	l->count[len] = (uint32_t)((int64_t)l->count[len] + delta);
	if (was != (l->count[len] != 0))
		lens_rebuild(l);
}

int prefix_table_insert(struct prefix_table *t, const struct ip_prefix *p, void *owner)
{
	if (!owner || !t->slots || !ip_prefix_is_canonical(p))
		return -EINVAL;
	struct prefix_slot *s = find(t, p->family, p->len, p->addr);
	if (s->family)
		return s->owner == owner ? 0 : -EEXIST;
	if (t->n >= t->max)
		return -ENOSPC;
	if (2 * (t->n + 1) > t->mask + 1) {
		int rc = grow(t);
		if (rc < 0)
			return rc;
		s = find(t, p->family, p->len, p->addr);
	}
	s->family = p->family;
	s->len = p->len;
	memcpy(s->key, p->addr, 16);
	s->owner = owner;
	t->n++;
	lens_add(lens_of(t, p->family), p->len, +1);
	return 0;
}

/* Backward-shift deletion of slot i: later members of its probe chain move
 * up so that no chain is broken and no tombstone is left. */
static void delete_slot(struct prefix_table *t, unsigned i)
{
	unsigned hole = i;
	lens_add(lens_of(t, t->slots[i].family), t->slots[i].len, -1);
	for (unsigned j = (i + 1) & t->mask; t->slots[j].family; j = (j + 1) & t->mask) {
		const struct prefix_slot *s = &t->slots[j];
		unsigned home = slot_of(t, s->family, s->len, s->key);
		/* s may fill the hole when its home is not in (hole, j]. */
		bool movable = j > hole ? (home <= hole || home > j) : (home <= hole && home > j);
		if (movable) {
			t->slots[hole] = t->slots[j];
			hole = j;
		}
	}
	memset(&t->slots[hole], 0, sizeof(t->slots[hole]));
	t->n--;
}

int prefix_table_remove(struct prefix_table *t, const struct ip_prefix *p, const void *owner)
{
	if (!t->slots || !ip_prefix_is_canonical(p))
		return -ENOENT;
	struct prefix_slot *s = find(t, p->family, p->len, p->addr);
	if (!s->family || s->owner != owner)
		return -ENOENT;
	delete_slot(t, (unsigned)(s - t->slots));
	return 0;
}

unsigned prefix_table_remove_owner(struct prefix_table *t, const void *owner)
{
	unsigned removed = 0;
	if (!t->slots)
		return 0;
	/* Deleting slot i may shift a later entry of its chain into i (or
	 * into a later hole), never into a slot already passed that is not
	 * part of a chain wrapping round the end, and those were examined:
	 * so look at slot i again after a deletion and one pass sees all. */
	for (unsigned i = 0; i <= t->mask;) {
		if (t->slots[i].family && t->slots[i].owner == owner) {
			delete_slot(t, i);
			removed++;
		} else {
			i++;
		}
	}
	return removed;
}

void *prefix_table_lookup(const struct prefix_table *t, int family, const void *addr)
{
	const struct prefix_lens *l = family == AF_INET ? &t->lens4 : family == AF_INET6 ? &t->lens6 : NULL;
	uint8_t key[16];
	if (!l || !t->slots)
		return NULL;
	for (unsigned k = 0; k < l->n; k++) {
		make_key(key, family, addr, l->order[k]);
		const struct prefix_slot *s = find(t, (uint8_t)family, l->order[k], key);
		if (s->family)
			return s->owner;
	}
	return NULL;
}

void *prefix_table_get(const struct prefix_table *t, const struct ip_prefix *p)
{
	if (!t->slots || !ip_prefix_is_canonical(p))
		return NULL;
	const struct prefix_slot *s = find(t, p->family, p->len, p->addr);
	return s->family ? s->owner : NULL;
}

void *prefix_table_overlap(const struct prefix_table *t, const struct ip_prefix *p, const void *except,
			   struct ip_prefix *which)
{
	for (unsigned i = 0; t->slots && i <= t->mask; i++) {
		const struct prefix_slot *s = &t->slots[i];
		struct ip_prefix q = { .family = s->family, .len = s->len };
		if (!s->family || s->owner == except)
			continue;
		memcpy(q.addr, s->key, 16);
		if (ip_prefix_overlaps(&q, p)) {
			if (which)
				*which = q;
			return s->owner;
		}
	}
	return NULL;
}

unsigned prefix_table_count(const struct prefix_table *t)
{
	return t->n;
}
