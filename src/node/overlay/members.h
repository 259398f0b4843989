/* The group's members as the overlay sees them: every ipop resource that
 * is online in the roster, its node id and ring position, and what its
 * presence said (overlay addresses, static key). The overlay takes the
 * sorted positions; the data path finds a member by address (a packet for
 * a member without a link) or by key (a handshake through the overlay).
 * Plain tables, no I/O. */
#ifndef IPOP_MEMBERS_H
#define IPOP_MEMBERS_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "overlay.h"

enum { MEMBER_KEY_LEN = 32 };

struct member {
	char *jid;                  /* full: user@domain/ipop-<id> */
	uint8_t id[OVERLAY_ID_LEN];
	ring_pos pos;
	bool has_ip4;
	struct in_addr ip4;
	bool has_ip6;               /* a dual-stack member */
	struct in6_addr ip6;
	bool has_key;
	uint8_t key[MEMBER_KEY_LEN];
};

struct members {
	struct member *m;
	size_t n, cap;
	struct ov_member *sorted; /* the same members by position, for the overlay */
	size_t nsorted, capsorted;
	bool dirty;               /* sorted needs rebuilding */
	unsigned gen;             /* bumped on every change */
};

void members_init(struct members *ms);
void members_free(struct members *ms);
/* An ipop resource came online (id from its resource) or went away. */
int members_up(struct members *ms, const char *jid, const uint8_t id[OVERLAY_ID_LEN]);
void members_down(struct members *ms, const char *jid);
/* Its presence named its overlay addresses and/or key (NULL: not said). */
void members_info(struct members *ms, const char *jid, const struct in_addr *ip4, const struct in6_addr *ip6,
		  const uint8_t *key);

const struct member *members_by_jid(const struct members *ms, const char *jid);
const struct member *members_by_id(const struct members *ms, const uint8_t id[OVERLAY_ID_LEN]);
const struct member *members_by_ip4(const struct members *ms, struct in_addr ip4);
const struct member *members_by_ip6(const struct members *ms, const struct in6_addr *ip6);
const struct member *members_by_key(const struct members *ms, const uint8_t key[MEMBER_KEY_LEN]);
/* Online members sorted by position (rebuilt when they changed). */
const struct ov_member *members_sorted(struct members *ms, size_t *n);

#endif
