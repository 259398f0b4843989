/* SocialVPN: which address each friend has in this node's own subnet.
 * Keyed by bare JID; an address, once given, stays with the friend across
 * disconnects and restarts (the map is saved to a file the node owns).
 * Pins (config "social_map", or a hand-written "social_pin_file") fix an
 * address and win over saved entries. New friends get the first free host
 * address counting up from our own address + 1, wrapping inside the
 * subnet, never the network, broadcast or our own address.
 *
 * File format, one friend per line, '#' starts a comment:
 *     bob@example.org 172.31.0.101
 * Control path only (a lookup is linear); the data path keeps the result
 * in the peer. */
#ifndef IPOP_SOCIAL_MAP_H
#define IPOP_SOCIAL_MAP_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

enum { SOCIAL_MAP_MAX = 4096 }; /* entries a file may hold */

struct social_map_entry {
	char *bare;
	struct in_addr ip4;
	bool pinned;
};

struct social_map {
	uint32_t own, mask; /* host order */
	struct social_map_entry *e;
	size_t n, cap;
};

void social_map_init(struct social_map *m, struct in_addr own, unsigned prefix);
void social_map_free(struct social_map *m);
/* NULL, or why ip cannot be a friend's address in this subnet. */
const char *social_map_check_addr(const struct social_map *m, struct in_addr ip);
/* Fixes bare -> ip. -EINVAL: bad address; -EEXIST: ip pinned to another
 * JID (a saved, unpinned holder of ip loses it and is re-assigned later). */
int social_map_pin(struct social_map *m, const char *bare, struct in_addr ip);
/* Reads a map file: pinned entries (a pin file) or saved ones. A missing
 * file is not an error (returns 0). Bad lines are reported on diag as
 * "PATH:LINE: reason" and skipped; returns how many, or -errno. */
int social_map_load(struct social_map *m, const char *path, bool pinned, FILE *diag);
/* Writes every entry to path atomically (path.tmp + rename). 0 or -errno. */
int social_map_save(const struct social_map *m, const char *path);
const struct social_map_entry *social_map_find(const struct social_map *m, const char *bare);
const struct social_map_entry *social_map_by_addr(const struct social_map *m, struct in_addr ip);
/* The friend's address, assigning the next free one if it has none:
 * 1 when assigned now (save the map), 0 when it already had one, -ENOSPC
 * when the subnet is full, -ENOMEM. */
int social_map_assign(struct social_map *m, const char *bare, struct in_addr *out);

#endif
