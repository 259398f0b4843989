/* Who owns which overlay address (group mode): an address belongs to the
 * member (bare JID) whose link with it first came up, and stays theirs
 * across restarts, while they are offline, and whoever claims it first
 * afterwards. A claim is also refused when it is no usable address of the
 * overlay subnet (outside ip4/ip4_mask, its network or broadcast address,
 * loopback, multicast, 0.0.0.0/8) or this node's own.
 *
 * An operator map ("address_map_file": "JID ADDRESS" lines) makes it
 * strict: mapped addresses belong to their JIDs from the start, and a
 * claim that is not in the map is refused.
 *
 * Sans-IO: the daemon loads the map, and persists learned owners through
 * owners_format_line / owners_parse_line. Bounded: OWNERS_PER_MEMBER
 * learned addresses per member (its least recently seen is released when
 * it gets another), OWNERS_MAX in all. */
#ifndef IPOP_OWNERS_H
#define IPOP_OWNERS_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum {
	OWNERS_MAX = 4096,
	OWNERS_PER_MEMBER = 16,
	OWNERS_WHY_LEN = 160,
};

struct owner {
	struct in_addr ip4;
	char *bare;     /* lower case */
	int64_t seen_s; /* wall clock: the member's link with it was last up */
	bool mapped;    /* from the operator's map */
};

struct owners {
	struct owner *o;
	size_t n, cap;
	bool dirty;          /* learned entries changed since the last save */
	bool strict;         /* a map is loaded: only mapped claims */
	struct in_addr self; /* this node's ip4 */
	unsigned mask;       /* and its prefix length: the overlay subnet */
};

void owners_init(struct owners *t, struct in_addr self, unsigned mask);
void owners_free(struct owners *t);
const struct owner *owners_find(const struct owners *t, struct in_addr ip4);
/* NULL when the member bare may use ip4 as its address, else why not,
 * written to buf ("172.31.0.2 belongs to bob@example.test"). */
const char *owners_refusal(const struct owners *t, struct in_addr ip4, const char *bare, char *buf, size_t cap);
/* The member's link with ip4 came up: ip4 is theirs from now on (or,
 * already theirs, seen again). 0, -EPERM when someone else owns it or the
 * map does not give it to them, -ENOMEM. */
int owners_note(struct owners *t, struct in_addr ip4, const char *bare, int64_t now_s);
/* Releases learned addresses of a member (bare JID) or one address (dotted
 * IPv4); mapped ones stay. Returns how many went. */
size_t owners_forget(struct owners *t, const char *what);

/* The operator's map, one line: "JID ADDRESS" (a bare JID, an address of
 * the subnet). NULL, or why the line is refused. Makes the table strict. */
const char *owners_map_line(struct owners *t, const char *line);

/* Persistence of learned owners: "owner <ip4> <bare JID> <seen unix s>". */
int owners_format_line(const struct owner *o, char *buf, size_t cap);
/* NULL, or why the line (without "owner ") is refused. */
const char *owners_parse_line(struct owners *t, const char *rest);

#endif
