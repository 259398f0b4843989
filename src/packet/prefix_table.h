/* Cryptokey routing for both families ("allowed IPs", after WireGuard's
 * allowedips): a table of IPv4 and IPv6 prefixes, each owned by an opaque
 * pointer (a peer), with longest-prefix match. The data path asks it twice
 * per packet:
 *   - TUN -> link: which owner does the destination belong to (which link);
 *   - link -> TUN: does the inner source belong to the peer the packet came
 *     from (lookup(src) == that peer), else the packet is dropped.
 * A peer's own overlay addresses (/32, /128) and the routes it advertised
 * and was authorised for all go in here under that peer.
 *
 * Layout: one open-addressing hash table (linear probing, backward-shift
 * deletion, at most half full) keyed by (family, length, masked address),
 * plus, per family, the list of prefix lengths present, longest first. A
 * lookup masks the address to each present length in turn and probes once
 * per length until a hit: the first hit is the longest match. The
 * table starts with room for PREFIX_TABLE_FIRST entries and doubles (all
 * entries rehashed) on the insert that would make it more than half full,
 * up to room for the max given to prefix_table_init; it never shrinks.
 * Inserts come with links and routes, never with packets, so nothing is
 * allocated per packet; and a node pays for the entries it has held, not
 * for the most it could hold (ipopd's max is 4608 entries: 512 KB of
 * slots, where 32 links need 4 KB; docs/benchmarks.md, "Where an ipopd's
 * RSS goes").
 *
 * Cost (tests/unit/test_prefix_table.c prints it: gcc -O2, the fastest of
 * 7 rounds of 400k lookups on the shared 2-core lab machine, 64 peers
 * with a /32 and a /128, 16 of them with a /24 and a /64): 8-30 ns when a
 * peer's own /32 or /128 matches (one probe), 25-70 ns for an address in a
 * routed /24 or /64 (a miss at the longer length first). Every distinct
 * length present and longer than the match costs one more probe. The
 * number of distinct lengths is bounded by what the node's own config
 * authorises (accept_routes), never by what a peer sends. */
#ifndef IPOP_PREFIX_TABLE_H
#define IPOP_PREFIX_TABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ip_prefix.h"

enum {
	PREFIX_TABLE_MAX = 1 << 16, /* entries prefix_table_init accepts at most */
	PREFIX_TABLE_FIRST = 16,    /* entries the first allocation has room for */
};

struct prefix_slot {
	uint8_t family; /* 0: empty */
	uint8_t len;
	uint8_t key[16]; /* masked to len */
	void *owner;
};

struct prefix_lens {
	uint32_t count[129]; /* entries per length */
	uint8_t order[129];  /* lengths present, longest first */
	unsigned n;          /* how many of order[] are valid */
};

struct prefix_table {
	struct prefix_slot *slots;
	unsigned mask; /* slots - 1 (a power of two minus one) */
	unsigned n, max;
	struct prefix_lens lens4, lens6;
};

/* Holds up to max entries (1 .. PREFIX_TABLE_MAX), growing as they come.
 * Returns 0, -EINVAL or -ENOMEM. */
int prefix_table_init(struct prefix_table *t, unsigned max);
/* The slots a table needs for n entries (a power of two >= 2n, >= 4). */
unsigned prefix_table_slots_for(unsigned n);
void prefix_table_free(struct prefix_table *t);

/* Adds p (canonical: host bits zero) for owner. 0 when added or when owner
 * already holds exactly p; -EEXIST when another owner holds exactly p (use
 * prefix_table_overlap first to refuse overlaps as well); -ENOSPC when the
 * table holds max entries; -ENOMEM when it cannot grow; -EINVAL for a bad
 * prefix or a NULL owner. */
int prefix_table_insert(struct prefix_table *t, const struct ip_prefix *p, void *owner);
/* Removes p if owner holds it: 0, else -ENOENT. */
int prefix_table_remove(struct prefix_table *t, const struct ip_prefix *p, const void *owner);
/* Removes every prefix of owner; returns how many. Walks the whole table:
 * for link teardown, not per packet. */
unsigned prefix_table_remove_owner(struct prefix_table *t, const void *owner);

/* The owner of the longest prefix containing addr (4 or 16 bytes, network
 * order, of family AF_INET / AF_INET6), or NULL. Per packet: no
 * allocation, no locking (the caller's thread owns the table). */
void *prefix_table_lookup(const struct prefix_table *t, int family, const void *addr);
/* The owner of exactly p, or NULL. */
void *prefix_table_get(const struct prefix_table *t, const struct ip_prefix *p);
/* An entry overlapping p (containing it or inside it) whose owner is not
 * except: returns its owner and copies the entry's prefix to *which (if
 * not NULL), or NULL when there is none. Walks the whole table. */
void *prefix_table_overlap(const struct prefix_table *t, const struct ip_prefix *p, const void *except,
			   struct ip_prefix *which);

/* Entries held. */
unsigned prefix_table_count(const struct prefix_table *t);

#endif
